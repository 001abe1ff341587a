/**
 * Honest config: directives SRS accepts but srs-ts does not implement are still accepted, and named with file:line
 * and "not implemented in srs-ts" (unimplemented.ts), one line per directive with repeated vhost ones grouped.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG_TEXT, loadConfig, UNIMPLEMENTED, unimplementedDirectives } from "../../../lib/config/index.ts";
import { ROOT_SPEC, type Spec } from "../../../lib/config/schema.ts";

const REPO = join(import.meta.dir, "../../..");

function lines(text: string, env: Record<string, string> = {}): string[] {
  return unimplementedDirectives(loadConfig({ text, file: "t.conf", env })).map((u) => u.text);
}

function specOf(path: string): Spec | undefined {
  let spec: Spec | undefined = ROOT_SPEC;
  for (const p of path.split(".")) {
    if (spec === undefined || typeof spec === "string") return undefined;
    spec = Object.hasOwn(spec.children, p) ? spec.children[p] : undefined;
  }
  return spec;
}

describe("unimplemented directives", () => {
  test("every rule names a directive the schema accepts, blocks as blocks and settings as settings", () => {
    for (const r of UNIMPLEMENTED) {
      const spec = specOf(r.path);
      expect({ path: r.path, known: spec !== undefined }).toEqual({ path: r.path, known: true });
      const isBlock = typeof spec === "object";
      expect({ path: r.path, isBlock }).toEqual({ path: r.path, isBlock: r.kind !== "leaf" });
    }
  });

  test("the shipped configs use none", () => {
    expect(lines(DEFAULT_CONFIG_TEXT)).toEqual([]);
    expect(lines(readFileSync(join(REPO, "conf/srs.conf"), "utf8"))).toEqual([]);
  });

  test("a feature block is named with file:line when enabled, not when disabled", () => {
    const on = lines("listen 1935;\nvhost v {\n  dash {\n    enabled on;\n  }\n}\n");
    expect(on).toEqual(["t.conf:3: vhost.dash (vhost v): not implemented in srs-ts, ignored: MPEG-DASH output"]);
    expect(lines("listen 1935;\nvhost v {\n  dash { enabled off; }\n  ingest x { enabled off; }\n}\n")).toEqual([]);
    const ing = lines("listen 1935;\nvhost v {\n  ingest cam1 { enabled on; input { type stream; url rtsp://x; } }\n}\n");
    expect(ing).toHaveLength(1);
    expect(ing[0]).toStartWith("t.conf:3: vhost.ingest cam1 (vhost v): not implemented in srs-ts");
  });

  test("a setting is named when its value changes something, and only inside an enabled block", () => {
    expect(lines("listen 1935;\nvhost v { hls { enabled on;\n hls_keys on; } }\n")).toEqual([
      "t.conf:3: vhost.hls.hls_keys on (vhost v): not implemented in srs-ts, ignored: HLS encryption (AES-128 keys)",
    ]);
    expect(lines("listen 1935;\nvhost v { hls { enabled off; hls_keys on; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { hls { enabled on; hls_keys off; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { rtc { enabled on; dtls_role passive; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { rtc { enabled on; dtls_role active; } }\n")[0]).toContain("vhost.rtc.dtls_role active");
    expect(lines("listen 1935;\nvhost v { play { atc on; } }\n")[0]).toContain("vhost.play.atc on");
    expect(lines("listen 1935;\nheartbeat { enabled on; url http://x/; }\n")[0]).toStartWith("t.conf:2: heartbeat:");
  });

  test("the same directive in several vhosts is one line naming every vhost and place", () => {
    const text = "listen 1935;\n" +
      "vhost a { exec { enabled on; publish ffmpeg; } }\n" +
      "vhost b { exec { enabled on; publish ffmpeg; } }\n" +
      "vhost c { exec { enabled on; publish ffmpeg; } }\n";
    expect(lines(text)).toEqual([
      "t.conf:2: vhost.exec (vhosts a, b, c): not implemented in srs-ts, ignored: exec on publish; also at t.conf:3, t.conf:4",
    ]);
  });

  test("an edge says loudly, first, that it runs as an origin and names the unused origin", () => {
    const out = lines("listen 1935;\nvhost v {\n  dash { enabled on; }\n  cluster {\n    mode remote;\n    origin 10.0.0.1:1935 10.0.0.2;\n  }\n}\n");
    expect(out).toHaveLength(2);
    expect(out[0]).toStartWith("t.conf:5: vhost.cluster.mode remote (vhost v): NOT IMPLEMENTED in srs-ts");
    expect(out[0]).toContain("RUNS AS AN ORIGIN");
    expect(out[0]).toContain("origin 10.0.0.1:1935 10.0.0.2 is not used");
    expect(out[1]).toContain("vhost.dash");
    expect(lines("listen 1935;\nvhost v { cluster { mode local; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { cluster { mode local; origin_cluster on; coworkers 127.0.0.1:9091; } }\n")[0])
      .toContain("vhost.cluster.origin_cluster on (vhost v): NOT IMPLEMENTED in srs-ts");
  });

  test("an included file is named by its own path and line", () => {
    const dir = mkdtempSync(join(tmpdir(), "srs-unimpl-"));
    writeFileSync(join(dir, "v.conf"), "vhost v {\n  hds { enabled on; }\n}\n");
    writeFileSync(join(dir, "main.conf"), "listen 1935;\ninclude v.conf;\n");
    const cfg = loadConfig({ file: join(dir, "main.conf"), cwd: dir, env: {} });
    const u = unimplementedDirectives(cfg);
    expect(u.map((x) => `${x.file}:${x.line}`)).toEqual([`${join(dir, "v.conf")}:2`]);
  });

  test("env overrides are named by their variable; env turning a feature off silences the file's line", () => {
    const base = "listen 1935;\nvhost v { hls { enabled on; } }\n";
    expect(lines(base, { SRS_VHOST_HLS_HLS_KEYS: "on" })).toEqual([
      "env SRS_VHOST_HLS_HLS_KEYS=on: vhost.hls.hls_keys (every vhost): not implemented in srs-ts, ignored: HLS encryption (AES-128 keys)",
    ]);
    expect(lines("listen 1935;\nvhost v {}\n", { SRS_VHOST_HLS_HLS_KEYS: "on" })).toEqual([]); // hls is off
    expect(lines(base, { SRS_VHOST_DASH_ENABLED: "on", SRS_HEARTBEAT_ENABLED: "on" }).map((l) => l.split(":")[0])).toEqual([
      "env SRS_HEARTBEAT_ENABLED=on",
      "env SRS_VHOST_DASH_ENABLED=on",
    ]);
    expect(lines("listen 1935;\nvhost v { dash { enabled on; } }\n", { SRS_VHOST_DASH_ENABLED: "off" })).toEqual([]);
    // SRS has no env for cluster: only the file counts.
    expect(lines("listen 1935;\nvhost v {}\n", { SRS_VHOST_CLUSTER_MODE: "remote" })).toEqual([]);
  });
});
