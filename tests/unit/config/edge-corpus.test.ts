/**
 * SRS's edge configs load as SRS runs them: the cluster block is read (mode remote, origins, token_traverse,
 * vhost transform) and nothing about the edge is reported as unimplemented any more.
 */
import { expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, unimplementedDirectives } from "../../../lib/config/index.ts";
import { describeWithCorpus } from "../../helpers/srs-conf-corpus.ts";
import { tempDir } from "../../helpers/temp.ts";

const EDGES = [
  "edge.conf",
  "edge2.conf",
  "edge.token.traverse.conf",
  "http.flv.live.edge1.conf",
  "http.flv.live.edge2.conf",
  "origin.cluster.edge.conf",
  "transform.edge.conf",
  "go-oryx-edge.conf",
  "go-oryx-edge2.conf",
];

describeWithCorpus("corpus: SRS edge configs", ({ dir, files }) => {
  const trunk = tempDir("srs-trunk-edge-");
  cpSync(dir, join(trunk, "conf"), { recursive: true });
  const load = (f: string) => loadConfig({ file: `conf/${f}`, cwd: trunk, env: {} });

  for (const f of EDGES.filter((x) => files.includes(x))) {
    test(`${f}: an edge, no cluster line among the unimplemented`, () => {
      const cfg = load(f);
      const edges = cfg.vhosts().filter((v) => cfg.vhost(v)?.cluster.isEdge);
      expect(edges.length).toBeGreaterThan(0);
      for (const v of edges) expect(cfg.vhost(v)!.cluster.origin.length).toBeGreaterThan(0);
      const lines = unimplementedDirectives(cfg).filter((u) => u.path.startsWith("vhost.cluster"));
      expect(lines.map((u) => u.text)).toEqual([]);
    });
  }

  test("values SRS's edges rely on", () => {
    expect(load("edge.conf").vhost()!.cluster).toMatchObject({ isEdge: true, origin: ["127.0.0.1:19350"], protocol: "rtmp" });
    expect(load("edge.token.traverse.conf").vhost()!.cluster.tokenTraverse).toBe(true);
    expect(load("http.flv.live.edge1.conf").vhost()!.cluster.origin).toEqual(["127.0.0.1"]);
    expect(load("origin.cluster.edge.conf").vhost()!.cluster.origin).toEqual(["127.0.0.1:19351", "127.0.0.1:19350"]);
    expect(load("edge.conf").vhost()!.cluster.debugSrsUpnode).toBe(true);
  });

  test("hls.edge.conf is an nginx config (the HLS edge is nginx in front of an origin), not an SRS one", () => {
    expect(() => load("hls.edge.conf")).toThrow(/worker_processes/);
  });
});
