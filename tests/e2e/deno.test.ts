/**
 * The same code under Deno: `deno run -A main.ts` (node_modules/.bin/deno, npm packages from node_modules as
 * deno.json's "nodeModulesDir": "manual" says, no lockfile written, nothing fetched).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { VERSION } from "../../lib/version.ts";
import { tempDir } from "../helpers/temp.ts";

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

function deno(args: string[], cwd = REPO, env: Record<string, string> = {}) {
  if (!existsSync(DENO)) throw new Error(`${DENO} is missing: run npm ci`);
  return spawnSync(DENO, args, {
    cwd,
    encoding: "utf8",
    timeout: 100_000,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", ...env },
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
      dir = tempDir("srs-deno-");
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
    const dir = tempDir("srs-deno-");
    try {
      writeFileSync(join(dir, "broken.conf"), "listen 1935;\nvhost __defaultVhost__ {\n");
      const r = deno(["run", "-A", "main.ts", "-t", "-c", join(dir, "broken.conf")]);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});

describe("daemon on under Deno", () => {
  test("the background process runs the server (run -A main.ts); one that cannot start makes the parent fail", async () => {
    const { freePort, waitPort } = await import("../helpers/server.ts");
    const dir = tempDir("srs-deno-daemon-");
    const port = await freePort();
    const conf = join(dir, "srs.conf");
    writeFileSync(conf, `listen 127.0.0.1:${port};\ndaemon on;\npid ${dir}/srs.pid;\nsrs_log_tank file;\n` +
      `srs_log_file ${dir}/srs.log;\nhttp_api { enabled off; }\nhttp_server { enabled off; }\nvhost __defaultVhost__ {}\n`);
    const env = { SRS_DAEMON: "", SRS_PID: "", SRS_LOG_TANK: "", SRS_LOG_FILE: "" };
    let pid = 0;
    try {
      const r = deno(["run", "-A", "main.ts", "-c", conf], REPO, env);
      expect({ status: r.status, out: r.stdout + r.stderr }).toMatchObject({ status: 0 });
      expect(r.stdout).toContain("running in the background");
      pid = Number(readFileSync(join(dir, "srs.pid"), "utf8").trim());
      expect(pid).toBeGreaterThan(0);
      await waitPort(port, 10000); // the daemon serves RTMP
      expect(readFileSync(join(dir, "srs.log"), "utf8")).toContain("server started");
      // A second one cannot start (the pid file names a running server): the parent says so and fails.
      const again = deno(["run", "-A", "main.ts", "-c", conf], REPO, env);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain("failed to start");
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 50 && existsSync(join(dir, "srs.pid")); i++) await Bun.sleep(100);
      expect(existsSync(join(dir, "srs.pid"))).toBe(false);
      pid = 0;
    } finally {
      if (pid) process.kill(pid, "SIGKILL");
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
    const dir = tempDir("srs-deno-cwd-");
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

describe("WebRTC under Deno", () => {
  test("a werift WHEP viewer plays an RTMP stream: our RTP sender over node:dgram (no sendmmsg path), our SRTP in Deno's node:crypto", async () => {
    const { startServer, publish, freePort, rtcEnv } = await import("../helpers/server.ts");
    const { clip } = await import("../helpers/media.ts");
    const { whepViewer } = await import("../helpers/whep.ts");
    const s = await startServer({ command: [DENO, "run", "-A", join(REPO, "main.ts")], env: rtcEnv(await freePort()) });
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/denortc"));
    try {
      await Bun.sleep(2500);
      const v = await whepViewer(s.api, "denortc");
      await Bun.sleep(4000);
      await v.pc.close();
      expect(v.packets()).toBeGreaterThan(200); // ~100 video packets/s
      expect(s.output()).toContain("werift released");
    } finally {
      pub.kill();
      expect(await s.stop()).toBe(0);
    }
  }, SLOW);
});

describe("reload under Deno", () => {
  test("SIGHUP moves the RTMP port: the new port serves, the old one is closed, the player on it goes on", async () => {
    const { freePort, publish, run, startServer } = await import("../helpers/server.ts");
    const { clip } = await import("../helpers/media.ts");
    const [p1, p2, api] = [await freePort(), await freePort(), await freePort()];
    const conf = (rtmp: number) => `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
vhost __defaultVhost__ { }
`;
    const s = await startServer({
      command: [DENO, "run", "-A", join(REPO, "main.ts")],
      config: conf(p1),
      env: { SRS_LISTEN: "", SRS_HTTP_API_LISTEN: "" },
      ports: { rtmp: p1, api },
    });
    const pub = publish(clip("clip.flv"), `rtmp://127.0.0.1:${p1}/live/deno`);
    const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rw_timeout", "15000000", "-i", `rtmp://127.0.0.1:${p1}/live/deno`,
      "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"], { timeoutMs: 90000 });
    const frames = () => (player.output().match(/^0,/gm) ?? []).length;
    const until = async (what: string, f: () => boolean | Promise<boolean>) => {
      for (let i = 0; !(await f()); i++) {
        if (i > 300) throw new Error(`timeout waiting for ${what}: ${s.output().slice(-2000)}`);
        await Bun.sleep(50);
      }
    };
    const answers = (port: number) => new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1", () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    });
    try {
      await until("the player's frames", () => frames() > 25);
      writeFileSync(join(s.dir, "srs.conf"), conf(p2));
      s.proc.kill("SIGHUP");
      await until("reload ok", () => s.output().includes("reload ok"));
      expect(s.output()).toContain("reload: listen applied");
      expect(await answers(p1)).toBe(false);
      const atReload = frames();
      await until("frames after the reload", () => frames() > atReload + 50);
      expect(player.proc.exitCode).toBeNull();
      const r = run("ffprobe", ["-v", "error", "-rw_timeout", "8000000", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
        `rtmp://127.0.0.1:${p2}/live/deno`], { timeoutMs: 20000 });
      await r.done;
      expect(r.output().trim().split("\n").sort()).toEqual(["aac", "h264"]);
    } finally {
      pub.kill();
      player.kill();
      expect(await s.stop()).toBe(0);
    }
  }, SLOW);
});

describe("workers under Deno", () => {
  test("workers 2: both workers share the ports (--unstable-net for reusePort), players on either worker decode", async () => {
    const { startServer, publish, playFrames } = await import("../helpers/server.ts");
    const { clip } = await import("../helpers/media.ts");
    const { count, waitFor } = await import("../helpers/wait.ts");
    const s = await startServer({ command: [DENO, "run", "-A", join(REPO, "main.ts")], env: { SRS_WORKERS: "2" } });
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/denow"));
    try {
      await waitFor("both workers started", () => count(s.output(), "server started") >= 2, 60000, s);
      await waitFor("the publisher is live", () => /rtmp fmle-publish|publish .*live\/denow/.test(s.output()), 20000, s);
      await Bun.sleep(1500);
      // Ten players over RTMP and HTTP-FLV: the kernel spreads them (all ten on the owner: 1 in 1024).
      const plays = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        playFrames(i % 2 ? s.httpUrl("/live/denow.flv") : s.rtmpUrl("/live/denow"), 2)));
      for (const p of plays) expect(p.video).toBeGreaterThan(20);
      expect(s.output()).toMatch(/edge pull .*playing from origin 127\.0\.0\.1:/);
    } finally {
      pub.kill();
      expect(await s.stop()).toBe(0);
    }
  }, SLOW);
});
