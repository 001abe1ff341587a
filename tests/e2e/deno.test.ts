/**
 * The same code under Deno: `deno run -A main.ts` (node_modules/.bin/deno, npm packages from node_modules as
 * deno.json's "nodeModulesDir": "manual" says, no lockfile written, nothing fetched).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { VERSION } from "../../lib/version.ts";

const REPO = resolve(import.meta.dir, "../..");
const DENO = join(REPO, "node_modules/.bin/deno");
const SLOW = 120_000; // the first run of a graph type-strips every module

const SMALL_CONFIG = `listen 1935;
max_connections 1000;
daemon off;
srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./objs/nginx/html; }
vhost __defaultVhost__ { }
`;

function deno(args: string[], cwd = REPO) {
  if (!existsSync(DENO)) throw new Error(`${DENO} is missing: run npm ci`);
  return spawnSync(DENO, args, {
    cwd,
    encoding: "utf8",
    timeout: 100_000,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
  });
}

describe("deno run -A main.ts", () => {
  test("-v prints the version and writes no lockfile", () => {
    const hadLock = existsSync(join(REPO, "deno.lock"));
    const r = deno(["run", "-A", "main.ts", "-v"]);
    expect({ status: r.status, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({ status: 0, stdout: VERSION, stderr: "" });
    if (!hadLock) expect(existsSync(join(REPO, "deno.lock"))).toBe(false);
  }, SLOW);

  test("-t -c conf/srs.conf is valid (a small config of our own while conf/srs.conf is absent)", () => {
    let dir: string | undefined;
    let conf = join(REPO, "conf/srs.conf");
    if (!existsSync(conf)) {
      dir = mkdtempSync(join(tmpdir(), "srs-deno-"));
      conf = join(dir, "srs.conf");
      writeFileSync(conf, SMALL_CONFIG);
    }
    try {
      const r = deno(["run", "-A", "main.ts", "-t", "-c", conf]);
      expect({ status: r.status, output: r.stdout + r.stderr }).toMatchObject({ status: 0 });
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);

  test("-t -c on a broken config exits non-zero", () => {
    const dir = mkdtempSync(join(tmpdir(), "srs-deno-"));
    try {
      writeFileSync(join(dir, "broken.conf"), "listen 1935;\nvhost __defaultVhost__ {\n");
      const r = deno(["run", "-A", "main.ts", "-t", "-c", join(dir, "broken.conf")]);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});

describe("lib/runtime under Deno", () => {
  test("npm packages resolve from node_modules, and assets are read from the repository", () => {
    const code = `
      import { parse } from "yaml";
      import { Hono } from "hono";
      import { getAsset, assetsEmbedded } from "./lib/runtime/assets.ts";
      import { runtimeName, isCompiledBinary } from "./lib/runtime/platform.ts";
      console.log(JSON.stringify({ yaml: parse("a: 1").a, hono: typeof Hono, home: getAsset("www/index.html")?.length,
        embedded: assetsEmbedded(), runtime: runtimeName(), compiled: isCompiledBinary() }));`;
    const r = deno(["eval", "--ext=ts", code]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      yaml: 1,
      hono: "function",
      home: readFileSync(join(REPO, "www/index.html")).length,
      embedded: false,
      runtime: "deno",
      compiled: false,
    });
  }, SLOW);

  test("the asset location does not depend on the cwd", () => {
    const dir = mkdtempSync(join(tmpdir(), "srs-deno-cwd-"));
    try {
      const mod = JSON.stringify(`file://${join(REPO, "lib/runtime/assets.ts")}`);
      const r = deno(["eval", "--ext=ts", `const a = await import(${mod}); console.log(a.listAssets("www/").join(","));`], dir);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split(",")).toContain("www/index.html");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});

describe("the whole server under Deno", () => {
  test("RTMP publish in, HTTP-FLV and RTMP out, API answers", async () => {
    const { startServer, publish, probeStreams, playFrames } = await import("../helpers/server.ts");
    const { clip } = await import("../helpers/media.ts");
    const s = await startServer({ command: [DENO, "run", "-A", join(REPO, "main.ts")] });
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/deno"));
    try {
      await Bun.sleep(2500);
      const streams = await probeStreams(s.httpUrl("/live/deno.flv"));
      expect(streams.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
      const r = await playFrames(s.rtmpUrl("/live/deno"), 3);
      expect(r.video).toBeGreaterThanOrEqual(60);
      const api = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/`)).json()) as { streams: { url: string }[] };
      expect(api.streams.some((x) => x.url === "/live/deno")).toBe(true);
    } finally {
      pub.kill();
      expect(await s.stop()).toBe(0);
    }
  }, SLOW);
});
