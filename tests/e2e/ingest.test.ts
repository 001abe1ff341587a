/**
 * Ingest end to end with real FFmpeg: a file (read once per run with -re, restarted at its end), an HTTP-FLV URL
 * served by a second srs-ts, and an RTSP camera simulated by GStreamer's RTSP server (tests/fixtures/
 * rtsp-camera.py: gst-rtsp-server through python3-gi, H.264 + AAC); a source that goes away and comes back, and
 * a missing FFmpeg, are retried with back-off and said in the log. Then what keeps it running: an FFmpeg killed
 * with SIGKILL is restarted and the stream resumes; a reload that removes the ingest ends its FFmpeg within a
 * second; a server killed with SIGKILL leaves no FFmpeg behind, and a graceful quit does not wait for the ingest.
 * Under `workers 2` the ingest runs once, in worker 1, and a worker killed with SIGKILL takes its FFmpeg with it.
 * The same ingest runs under `deno run -A main.ts`.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { alive, ffmpegPids, processes } from "../helpers/processes.ts";
import { freePort, playFrames, probeStreams, publish, reloadConfig, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const { servers, track, cleanup } = cleanupAfterAll();

const conf = (vhostBody: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; }
vhost __defaultVhost__ {
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  ${vhostBody}
}
`;

const fileIngest = (file: string) => `ingest file1 {
    enabled on;
    input { type file; url ${file}; }
    ffmpeg ./objs/ffmpeg/bin/ffmpeg;
    engine { enabled off; output rtmp://127.0.0.1:[port]/live/file1?vhost=[vhost]; }
  }`;

describe("ingest a file", () => {
  test("published at [port], copied, logged to ff_log_dir, restarted when the file ends; kill -9 restarts it; reload removes it", async () => {
    const s = await startServer({ config: conf(fileIngest(clip("clip.flv"))) });
    servers.push(s);
    // SRS's bundled FFmpeg path is absent here: the one on PATH is used, and the log says so.
    await waitFor("ingest running", async () => (await processes(s)).some((p) => p.state === "running"), 10000, s);
    expect(s.output()).toContain("(SRS's bundled FFmpeg) is absent, using");
    const [p] = await processes(s);
    expect(p!.kind).toBe("ingest");
    expect(p!.cmdline).toContain(`-re -i ${clip("clip.flv")} -vcodec copy -acodec copy -f flv -y rtmp://127.0.0.1:${s.rtmp}/live/file1`);
    const got = await playFrames(s.rtmpUrl("/live/file1"), 3);
    expect(got.video).toBeGreaterThan(50);
    const log = join(s.dir, "objs/ffmpeg-ingest-__defaultVhost__-live-file1.log");
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, "utf8")).toContain("Input #0, flv");

    // The 10 s clip ends; the ingest starts it again (SRS: within its 3 s cycle).
    await waitFor("a restart at the end of the file", async () => (await processes(s))[0]!.restarts >= 1, 20000, s);
    expect((await processes(s))[0]!.last_exit).toBe("exit code 0");

    // kill -9 the FFmpeg: a new one publishes again within 10 s and players get frames.
    const before = (await processes(s))[0]!;
    process.kill(before.pid!, "SIGKILL");
    const killedAt = Date.now();
    await waitFor("a new ingest FFmpeg", async () => {
      const [q] = await processes(s);
      return q!.state === "running" && q!.pid !== before.pid;
    }, 10000, s);
    const restartMs = Date.now() - killedAt;
    console.log(`ingest FFmpeg restarted ${restartMs} ms after SIGKILL`);
    expect((await processes(s))[0]!.last_exit).toBe("killed by SIGKILL");
    const again = await playFrames(s.rtmpUrl("/live/file1"), 2);
    expect(again.video).toBeGreaterThan(25);

    // A reload without the ingest: its FFmpeg is gone within a second.
    const pid = (await processes(s))[0]!.pid!;
    expect(alive(pid)).toBe(true);
    const t0 = Date.now();
    await reloadConfig(s, conf(""));
    await waitFor("the ingest FFmpeg gone", () => !alive(pid), 1000, s);
    console.log(`reload removed the ingest: FFmpeg gone ${Date.now() - t0} ms after SIGHUP`);
    expect(await processes(s)).toEqual([]);
    expect(s.output()).toContain("reload: vhost __defaultVhost__ ingest applied (stopped __defaultVhost__/file1)");
  }, 90000);

  test("a server killed with SIGKILL leaves no FFmpeg behind; SIGTERM neither", async () => {
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      const s = await startServer({ config: conf(fileIngest(clip("clip.flv"))) });
      servers.push(s);
      await waitFor("ingest running", async () => (await processes(s)).some((p) => p.state === "running"), 10000, s);
      const pid = (await processes(s))[0]!.pid!;
      await s.stop(signal);
      await waitFor(`no FFmpeg after ${signal} of the server`, () => !alive(pid), 2000, s);
      expect(ffmpegPids(`rtmp://127.0.0.1:${s.rtmp}/`)).toEqual([]);
    }
  }, 60000);
});

describe("a missing FFmpeg", () => {
  test("is said in the log and the API, and retried with back-off", async () => {
    const s = await startServer({ config: conf(fileIngest(clip("clip.flv")).replace("./objs/ffmpeg/bin/ffmpeg", "/opt/no-such/ffmpeg")) });
    servers.push(s);
    await waitFor("two failed starts", () => s.output().includes("retry in 2s"), 10000, s);
    expect(s.output()).toContain("ingest __defaultVhost__/file1: cannot run /opt/no-such/ffmpeg: /opt/no-such/ffmpeg does not exist or is not executable; retry in 1s");
    const [p] = await processes(s);
    expect(p).toMatchObject({ state: "waiting", starts: 0, last_exit: "not started: /opt/no-such/ffmpeg does not exist or is not executable" });
  }, 30000);
});

describe("ingest and a graceful quit", () => {
  test("SIGQUIT: the ingest stops with the listeners, so its session does not hold the wait for sessions", async () => {
    const s = await startServer({ config: conf(fileIngest(clip("clip.flv"))).replace("daemon off;", "daemon off; grace_start_wait 100; grace_final_wait 8000;") });
    servers.push(s);
    await waitFor("ingest publishing", async () => (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams`).then((r) => r.json()) as { streams: unknown[] }).streams.length > 0, 10000, s);
    const pid = (await processes(s))[0]!.pid!;
    const t0 = Date.now();
    await s.stop("SIGQUIT");
    const took = Date.now() - t0;
    console.log(`graceful quit with an ingest: ${took} ms (grace_start_wait 100, grace_final_wait 8000)`);
    expect(took).toBeLessThan(4000);
    expect(alive(pid)).toBe(false);
  }, 30000);
});

describe("ingest a stream", () => {
  test("an HTTP-FLV URL served by a second srs-ts", async () => {
    const b = await startServer({ config: conf("") });
    servers.push(b);
    const srcPub = track(publish(clip("clip.flv"), b.rtmpUrl("/live/src")));
    await waitFor("source on B", async () => (await fetch(`http://127.0.0.1:${b.api}/api/v1/streams`).then((r) => r.json()) as { streams: unknown[] }).streams.length > 0, 10000, b);
    const a = await startServer({
      config: conf(`ingest relay {
    enabled on;
    input { type stream; url ${b.httpUrl("/live/src.flv")}; }
    ffmpeg ffmpeg;
    engine { enabled on; vcodec copy; acodec copy; output rtmp://127.0.0.1:[port]/live/relay; }
  }`),
    });
    servers.push(a);
    const streams = await waitForStreams(a.rtmpUrl("/live/relay"));
    expect(streams.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
    expect(streams.find((x) => x.codec_type === "video")).toMatchObject({ width: 640, height: 360 });
    expect((await playFrames(a.httpUrl("/live/relay.flv"), 2)).video).toBeGreaterThan(25);

    // The source goes away: the FFmpeg's failures are logged with its last lines and retried with back-off;
    // when the source is back, the relay is too.
    const first = (await processes(a))[0]!;
    srcPub.kill();
    await waitFor("a failed restart logged with its output", () => /ingest __defaultVhost__\/relay: exited at once \(exit code \d+\) after [\d.]+s; last output: .*(404|Not Found|Server returned)/.test(a.output()), 20000, a);
    await waitFor("a second failure with a longer delay", () => /exited at once[^\n]*retry in 2s/.test(a.output()), 20000, a);
    expect((await processes(a))[0]!.state).toBe("waiting");
    track(publish(clip("clip.flv"), b.rtmpUrl("/live/src")));
    await waitFor("the relay back", async () => (await processes(a))[0]!.state === "running" && (await processes(a))[0]!.pid !== first.pid, 30000, a);
    expect((await waitForStreams(a.rtmpUrl("/live/relay"))).length).toBe(2);
  }, 90000);

  test("an RTSP camera (GStreamer's RTSP server), over TCP as ingest.rtsp.conf", async () => {
    const port = await freePort();
    const cam = spawn(existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3", [join(REPO_ROOT, "tests/fixtures/rtsp-camera.py"), String(port)], { stdio: ["ignore", "pipe", "pipe"] });
    cleanup.push(() => cam.kill("SIGKILL"));
    let camOut = "";
    cam.stdout!.on("data", (d: Buffer) => (camOut += d.toString()));
    cam.stderr!.on("data", (d: Buffer) => (camOut += d.toString()));
    await waitFor("the RTSP camera", () => camOut.includes("ready"), 10000, { output: () => camOut });
    const a = await startServer({
      config: conf(`ingest camera {
    enabled on;
    input { type stream; url rtsp://127.0.0.1:${port}/cam; }
    ffmpeg ./objs/ffmpeg/bin/ffmpeg;
    engine { enabled on; perfile { rtsp_transport tcp; } vcodec copy; acodec copy; output rtmp://127.0.0.1:[port]/live/camera?vhost=[vhost]; }
  }`),
    });
    servers.push(a);
    const streams = await waitForStreams(a.rtmpUrl("/live/camera"));
    expect(streams.find((x) => x.codec_type === "video")).toMatchObject({ codec_name: "h264", width: 320, height: 240 });
    expect(streams.find((x) => x.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
    expect((await playFrames(a.rtmpUrl("/live/camera"), 2)).video).toBeGreaterThan(20);
    const [p] = await processes(a);
    expect(p!.cmdline).toContain(`-rtsp_transport tcp -i rtsp://127.0.0.1:${port}/cam`);
  }, 60000);
});

/** ffprobe until the stream is there (the ingest FFmpeg takes a moment to connect and publish). */
async function waitForStreams(url: string): Promise<Awaited<ReturnType<typeof probeStreams>>> {
  const end = Date.now() + 20000;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const s = await probeStreams(url, 10000);
      if (s.length >= 2) return s;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(500);
  }
  throw new Error(`no stream at ${url}: ${String(last)}`);
}

describe("ingest under workers 2", () => {
  test("one FFmpeg per ingest (worker 1), listed once by the merged API; kill -9 of that worker leaves no FFmpeg and the new worker 1 ingests again", async () => {
    const s = await startServer({ config: conf(fileIngest(clip("clip.flv"))).replace("daemon off;", "daemon off; workers 2;") });
    servers.push(s);
    await waitFor("ingest running", async () => (await processes(s)).some((p) => p.state === "running"), 15000, s);
    const procs = await processes(s) as (Awaited<ReturnType<typeof processes>>[number] & { worker?: number })[];
    expect(procs.map((p) => [p.kind, p.worker])).toEqual([["ingest", 1]]);
    expect(ffmpegPids(`rtmp://127.0.0.1:${s.rtmp}/live/file1`)).toEqual([procs[0]!.pid!]);
    expect((await playFrames(s.rtmpUrl("/live/file1"), 2)).video).toBeGreaterThan(25);
    const w1 = Number(/worker 1\/2: pid=(\d+)/.exec(s.output())![1]);
    process.kill(w1, "SIGKILL");
    await waitFor("the dead worker's FFmpeg gone", () => !alive(procs[0]!.pid!), 2000, s);
    await waitFor("a new ingest FFmpeg", () => ffmpegPids(`rtmp://127.0.0.1:${s.rtmp}/live/file1`).length === 1, 15000, s);
    expect(ffmpegPids(`rtmp://127.0.0.1:${s.rtmp}/live/file1`)).not.toContain(procs[0]!.pid!);
    expect((await playFrames(s.rtmpUrl("/live/file1"), 2)).video).toBeGreaterThan(25);
  }, 60000);
});

describe("ingest under Deno", () => {
  test("deno run -A main.ts runs the ingest FFmpeg; SIGTERM leaves none", async () => {
    const deno = join(REPO_ROOT, "node_modules/.bin/deno");
    const s = await startServer({ config: conf(fileIngest(clip("clip.flv"))), command: [deno, "run", "-A", join(REPO_ROOT, "main.ts")], env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
    servers.push(s);
    await waitFor("ingest running", async () => (await processes(s)).some((p) => p.state === "running"), 20000, s);
    expect((await playFrames(s.rtmpUrl("/live/file1"), 2)).video).toBeGreaterThan(25);
    const pid = (await processes(s))[0]!.pid!;
    await s.stop("SIGTERM");
    await waitFor("no FFmpeg after SIGTERM", () => !alive(pid), 3000, s);
  }, 120000);
});
