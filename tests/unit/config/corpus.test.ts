/**
 * SRS's own config files (trunk/conf/*.conf) must behave as under `srs -t -c conf/FILE`: every file passes except
 * exactly full.conf (is_full), hls.edge.conf and nginx.proxy.conf (nginx configs) and include.vhost.conf (a fragment
 * without `listen`).
 *
 * SRS runs from its trunk directory, and include paths are relative to the working directory: conf/include.conf says
 * `include ./conf/include.vhost.conf;`. The corpus directory here is not called `conf`, so we recreate SRS's layout:
 * a temporary "trunk" dir with the corpus copied to `trunk/conf/`, and load `conf/FILE` with cwd = trunk.
 */
import { expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, checkConfigFile, loadConfig } from "../../../lib/config/index.ts";
import { describeWithCorpus } from "../../helpers/srs-conf-corpus.ts";
import { tempDir } from "../../helpers/temp.ts";

const EXPECTED_FAILURES = new Set(["full.conf", "hls.edge.conf", "nginx.proxy.conf", "include.vhost.conf"]);

describeWithCorpus("corpus: SRS trunk/conf", ({ dir, files }) => {
  const trunk = tempDir("srs-trunk-");
  cpSync(dir, join(trunk, "conf"), { recursive: true });

  test("corpus complete", () => {
    expect(files.length).toBeGreaterThanOrEqual(100);
    for (const f of EXPECTED_FAILURES) expect(files).toContain(f);
  });

  for (const f of files) {
    const shouldFail = EXPECTED_FAILURES.has(f);
    test(`${f} ${shouldFail ? "fails" : "passes"} srs -t`, () => {
      const r = checkConfigFile(`conf/${f}`, trunk, {});
      if (shouldFail) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error).toBeInstanceOf(ConfigError);
      } else {
        if (!r.ok) throw r.error;
        expect(r.ok).toBe(true);
      }
    });
  }

  test("the expected failures fail for SRS's reasons", () => {
    const reason = (f: string) => {
      const r = checkConfigFile(`conf/${f}`, trunk, {});
      return r.ok ? "ok" : r.error.message;
    };
    expect(reason("full.conf")).toContain("never use full.conf");
    expect(reason("hls.edge.conf")).toContain("illegal directive worker_processes");
    expect(reason("include.vhost.conf")).toContain("listen requires params");
    expect(reason("nginx.proxy.conf")).toMatch(/conf\/nginx\.proxy\.conf:\d+: /);
  });

  test("include.conf pulls in include.vhost.conf", () => {
    const cfg = loadConfig({ file: "conf/include.conf", cwd: trunk, env: {} });
    expect(cfg.vhosts()).toContain("include.srs.com");
    expect(cfg.vhost("include.srs.com")!.hls.enabled).toBe(true);
    const vhost = cfg.root.children.find((c) => c.name === "vhost")!;
    expect(vhost.file.endsWith("include.vhost.conf")).toBe(true);
  });

  test("compatible.conf: legacy directives read through accessors", () => {
    const cfg = loadConfig({ file: "conf/compatible.conf", cwd: trunk, env: {} });
    const v = cfg.vhost()!;
    expect(cfg.httpServer().enabled).toBe(true);
    expect(v.httpStatic).toEqual({ enabled: true, mount: "[vhost]/hls", dir: "./objs/nginx/html/hls" });
    expect(v.refer.play).toEqual(["github.com", "github.io"]);
    expect(v.publish.normalTimeout).toBe(7000);
    expect(v.cluster.origin).toEqual(["127.0.0.1:1935", "localhost:1935"]);
    expect(v.forward.destination).toEqual(["127.0.0.1:1936", "127.0.0.1:1937"]);
    expect(v.play).toMatchObject({ atc: true, gopCache: false, queueLength: 10, mwLatency: 100, sendMinInterval: 10 });
  });

  test("a few corpus values", () => {
    const edge = loadConfig({ file: "conf/edge.conf", cwd: trunk, env: {} });
    expect(edge.vhost()!.cluster.isEdge).toBe(true);
    const srt = loadConfig({ file: "conf/srt.conf", cwd: trunk, env: {} });
    expect(srt.srtServer().enabled).toBe(true);
    const ipv46 = loadConfig({ file: "conf/console.ipv46.conf", cwd: trunk, env: {} });
    expect(ipv46.listen()).toEqual(["1935", "[::]:1935"]);
  });
});
