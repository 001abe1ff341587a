/**
 * SRT end to end against the real server (`bun main.ts`) with real clients: ffmpeg (libsrt) and
 * srt-live-transmit publish MPEG-TS over SRT and play it back over SRT, RTMP, HTTP-FLV, HTTP-TS and HLS; the API
 * lists SRT clients; an on_publish hook refuses an SRT publisher; a second publisher of a stream is refused.
 * Every child process is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { clip } from "../helpers/media.ts";
import { playFrames, type Proc, probeStreams, publish, type RunningServer, run, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

const children: Proc[] = [];
const work = tempDir("srs-ts-srt-e2e-");

function track(p: Proc): Proc {
  children.push(p);
  return p;
}

async function waitFor(srv: RunningServer, cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${srv.output().slice(-4000)}`);
    await Bun.sleep(50);
  }
}

function srtUrl(srv: RunningServer, streamId: string): string {
  return `srt://127.0.0.1:${srv.srt}?streamid=${streamId}`;
}

/** ffmpeg publishing a TS clip over SRT in real time (looped unless `once`). */
function srtPublish(file: string, url: string, once = false): Proc {
  return track(run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-re", ...(once ? [] : ["-stream_loop", "-1"]), "-i", file,
    "-c", "copy", "-f", "mpegts", url,
  ]));
}

/** A shell pipeline (for srt-live-transmit fed by or feeding ffmpeg); killed as a process group. */
function shell(cmd: string): Proc {
  const proc = spawn("bash", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const p: Proc = {
    proc,
    output: () => out,
    done,
    kill: () => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        // gone
      }
    },
  };
  return track(p);
}

type Obj = Record<string, unknown>;

async function clients(srv: RunningServer): Promise<Obj[]> {
  const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/?count=100`);
  return ((await r.json()) as { clients: Obj[] }).clients;
}

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  rmSync(work, { recursive: true, force: true });
});

describe("SRT <-> RTMP/HTTP-FLV/SRT (H.264 + AAC)", () => {
  let srv: RunningServer;
  let hookServer: ReturnType<typeof Bun.serve>;
  const hookCalls: { action: string; stream: string; client_id: string; param?: string }[] = [];

  beforeAll(async () => {
    hookServer = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const body = (await req.json()) as { action: string; stream: string; client_id: string; param?: string };
        hookCalls.push(body);
        return Response.json({ code: body.stream === "denied" ? 403 : 0 });
      },
    });
    const hook = `http://127.0.0.1:${hookServer.port}/hook`;
    srv = await startServer({
      config: `
listen 1935;
daemon off;
srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
srt_server { enabled on; listen 10080; }
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    srt { enabled on; srt_to_rtmp on; }
    http_hooks { enabled on; on_publish ${hook}; on_unpublish ${hook}; on_play ${hook}; on_stop ${hook}; }
}
vhost srtonly.test { srt { enabled on; srt_to_rtmp off; } }
vhost nosrt.test { }
`,
      env: { SRS_SRT_SERVER_ENABLED: "on" },
    });
    await waitFor(srv, () => srv.output().includes("srt server listening"), 5000, "srt listener");
    srtPublish(clip("clip.ts"), srtUrl(srv, "#!::r=live/s,m=publish,token=abc"));
    track(publish(clip("clip.flv"), srv.rtmpUrl("/live/r")));
    await waitFor(srv, () => (srv.output().match(/publish start by/g) ?? []).length >= 2, 15000, "2 publishers");
    await Bun.sleep(1500); // a GOP in the cache
  }, 30000);

  afterAll(async () => {
    await srv?.stop("SIGKILL");
    hookServer?.stop(true);
  });

  test("the SRT publisher is bridged: RTMP plays h264 + aac, >= 140 frames in 6 s", async () => {
    const streams = await probeStreams(srv.rtmpUrl("/live/s"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const v = streams.find((s) => s.codec_type === "video")!;
    expect([v.width, v.height]).toEqual([640, 360]);
    const f = await playFrames(srv.rtmpUrl("/live/s"), 6);
    expect(f.video).toBeGreaterThanOrEqual(140);
    expect(srv.output()).toContain("srt publish __defaultVhost__/live/s?token=abc started, bridged to rtmp");
  }, 40000);

  test("HTTP-FLV plays the SRT publisher", async () => {
    const streams = await probeStreams(srv.httpUrl("/live/s.flv"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const f = await playFrames(srv.httpUrl("/live/s.flv"), 6);
    expect(f.video).toBeGreaterThanOrEqual(140);
  }, 40000);

  test("SRT plays the SRT publisher (ffmpeg m=request), and the API lists srt-publish/srt-play", async () => {
    const url = srtUrl(srv, "#!::r=live/s,m=request");
    const playing = playFrames(url, 6);
    await waitFor(srv, () => srv.output().includes("srt play __defaultVhost__/live/s started"), 10000, "srt player");
    const list = await clients(srv);
    const pub = list.find((c) => c.type === "srt-publish");
    const play = list.find((c) => c.type === "srt-play");
    expect(pub).toBeDefined();
    expect(play).toBeDefined();
    expect(pub!.publish).toBe(true);
    expect(play!.publish).toBe(false);
    expect(pub!.ip).toBe("127.0.0.1");
    expect(pub!.url).toBe("/live/s");
    // the publisher's SRT statistics (its RTT feeds the stream's health)
    const one = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/${pub!.id}`)).json()) as { client: { srt?: { rtt_ms: number } } };
    expect(typeof one.client.srt?.rtt_ms).toBe("number");
    const streams = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/streams/`)).json()) as { streams: { url: string; health?: { publisher_rtt_ms?: number } }[] };
    expect(typeof streams.streams.find((x) => x.url === "/live/s")?.health?.publisher_rtt_ms).toBe("number");
    const f = await playing;
    expect(f.video).toBeGreaterThanOrEqual(140);
  }, 40000);

  test("an RTMP publisher plays over SRT", async () => {
    const streams = await probeStreams(srtUrl(srv, "#!::r=live/r,m=request"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const f = await playFrames(srtUrl(srv, "#!::r=live/r"), 6);
    expect(f.video).toBeGreaterThanOrEqual(140);
  }, 40000);

  test("srt-live-transmit publishes (caller) and plays", async () => {
    shell(`ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i ${clip("clip.ts")} -c copy -f mpegts - | ` +
      `srt-live-transmit -q file://con '${srtUrl(srv, "#!::r=live/slt,m=publish")}'`);
    await waitFor(srv, () => srv.output().includes("srt publish __defaultVhost__/live/slt started"), 10000, "slt publisher");
    const streams = await probeStreams(srv.rtmpUrl("/live/slt"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const out = join(work, "slt.ts");
    const player = shell(`srt-live-transmit -q '${srtUrl(srv, "#!::r=live/s,m=request")}' file://con > ${out}`);
    await Bun.sleep(5000);
    player.kill();
    await player.done;
    expect(statSync(out).size).toBeGreaterThan(100_000);
    const got = await probeStreams(out);
    expect(got.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
  }, 40000);

  test("an on_publish hook refusing the stream refuses the SRT publisher at the handshake", async () => {
    const p = srtPublish(clip("clip.ts"), srtUrl(srv, "#!::r=live/denied,m=publish"), true);
    const code = await Promise.race([p.done, Bun.sleep(10000).then(() => "hung")]);
    expect(code).not.toBe("hung");
    expect(code).not.toBe(0);
    expect(srv.output()).toContain("srt publish live/denied refused");
    expect(hookCalls.some((c) => c.action === "on_publish" && c.stream === "denied")).toBe(true);
    expect((await clients(srv)).some((c) => (c.url as string) === "/live/denied")).toBe(false);
  }, 20000);

  test("a second SRT publisher of the same stream is refused; the first keeps going", async () => {
    const p = srtPublish(clip("clip.ts"), srtUrl(srv, "#!::r=live/s,m=publish"), true);
    const code = await Promise.race([p.done, Bun.sleep(10000).then(() => "hung")]);
    expect(code).not.toBe("hung");
    expect(code).not.toBe(0);
    expect(srv.output()).toMatch(/srt publish refused: stream __defaultVhost__\/live\/s is busy/);
    const f = await playFrames(srv.rtmpUrl("/live/s"), 2);
    expect(f.video).toBeGreaterThanOrEqual(40);
  }, 30000);

  test("srt_to_rtmp off: the TS is relayed to SRT players only (vhost named by h=)", async () => {
    srtPublish(clip("clip.ts"), srtUrl(srv, "#!::h=srtonly.test,r=live/o,m=publish"));
    await waitFor(srv, () => srv.output().includes("srt publish srtonly.test/live/o?vhost=srtonly.test started, srt only"), 10000, "relay publisher");
    const f = await playFrames(srtUrl(srv, "#!::h=srtonly.test,r=live/o,m=request"), 6);
    expect(f.video).toBeGreaterThanOrEqual(90);
    expect(srv.output()).toContain("started (srt relay of");
  }, 30000);

  test("a vhost without srt enabled refuses the caller", async () => {
    const p = srtPublish(clip("clip.ts"), srtUrl(srv, "#!::h=nosrt.test,r=live/x,m=publish"), true);
    const code = await Promise.race([p.done, Bun.sleep(10000).then(() => "hung")]);
    expect(code).not.toBe("hung");
    expect(code).not.toBe(0);
    expect(srv.output()).toContain("srt not enabled on vhost nosrt.test");
  }, 20000);

  test("hooks saw the SRT clients with their params; unpublish on close", async () => {
    const pub = hookCalls.find((c) => c.action === "on_publish" && c.stream === "s");
    expect(pub?.param).toBe("?token=abc");
    expect(hookCalls.some((c) => c.action === "on_play" && c.stream === "s")).toBe(true);
    expect(hookCalls.some((c) => c.action === "on_stop" && c.stream === "s")).toBe(true);
  });
});

describe("HEVC over SRT -> HLS and HTTP-TS", () => {
  let srv: RunningServer;

  beforeAll(async () => {
    srv = await startServer({
      env: {
        SRS_SRT_SERVER_ENABLED: "on",
        SRS_VHOST_SRT_ENABLED: "on",
        SRS_VHOST_HLS_ENABLED: "on",
        SRS_VHOST_HLS_HLS_FRAGMENT: "2",
        SRS_VHOST_HLS_HLS_PATH: "./hls",
        SRS_VHOST_HTTP_REMUX_ENABLED: "on",
        SRS_VHOST_HTTP_REMUX_MOUNT: "[vhost]/[app]/[stream].ts",
        SRS_HTTP_SERVER_DIR: "./hls",
      },
    });
    srtPublish(clip("clip-hevc.ts"), srtUrl(srv, "#!::r=live/s,m=publish"));
    await waitFor(srv, () => srv.output().includes("srt publish __defaultVhost__/live/s started"), 15000, "hevc publisher");
  }, 30000);

  afterAll(async () => {
    await srv?.stop("SIGKILL");
  });

  test("HTTP-TS /live/s.ts decodes as hevc + aac", async () => {
    await Bun.sleep(1500);
    const streams = await probeStreams(srv.httpUrl("/live/s.ts"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "hevc"]);
    const f = await playFrames(srv.httpUrl("/live/s.ts"), 4);
    expect(f.video).toBeGreaterThanOrEqual(90);
  }, 40000);

  test("HLS segments are hevc", async () => {
    const m3u8 = join(srv.dir, "hls/live/s.m3u8");
    await waitFor(srv, () => {
      try {
        return statSync(m3u8).size > 0;
      } catch {
        return false;
      }
    }, 15000, "hls playlist");
    const streams = await probeStreams(m3u8);
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "hevc"]);
  }, 30000);
});
