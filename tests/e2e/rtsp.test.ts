/**
 * RTSP end to end against the real server (`bun main.ts`) with real clients, FFmpeg on both sides:
 *  - play: a stream published over RTMP (H.264 + AAC) played over RTSP with `-rtsp_transport tcp` and `udp`
 *    (codecs by ffprobe, decoded frames counted per stream); the API lists the player as rtsp-play with its
 *    transport;
 *  - publish: FFmpeg `-f rtsp` over TCP and UDP (H.264 + AAC), played over RTMP and HTTP-FLV; H.265, Opus and
 *    G.711 (PCMA) published over RTSP and played back over RTSP; a second publisher of a stream is refused;
 *  - hooks: on_publish/on_play see the URL's query, a refusal reaches the client; Basic/Digest auth;
 *  - reload: the listener moves (SIGHUP), a playing client goes on; bad bytes never take the server down;
 *  - the same server under Deno (its node:net/dgram sockets) publishes and plays; under workers 2 both workers
 *    take RTSP players;
 *  - camera pull (vhost rtsp_pull): GStreamer's RTSP server (tests/fixtures/rtsp-camera.py, not ours) asking for
 *    Digest; the pulled stream plays over RTMP; the camera restarts and the pull comes back; reload removes it.
 * Every child process is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:net";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { freePort, type Proc, probeStreams, publish, reloadConfig, run, type RunningServer, startServer } from "../helpers/server.ts";
import { serverConf } from "../helpers/conf.ts";
import { hookRecorder, hooksConf } from "../helpers/hooks.ts";
import { tempDir } from "../helpers/temp.ts";
import { waitFor } from "../helpers/wait.ts";

const children: Proc[] = [];
const work = tempDir("srs-ts-rtsp-e2e-");

function track(p: Proc): Proc {
  children.push(p);
  return p;
}

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  rmSync(work, { recursive: true, force: true });
});

const FLV = "http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }";

function rtspConf(extra = "", vhost = FLV): string {
  return serverConf(vhost, `rtsp_server { enabled on; listen 8554; ${extra} }`);
}

async function start(config: string): Promise<{ srv: RunningServer; rtsp: number }> {
  const rtsp = await freePort();
  const srv = await startServer({ config, env: { SRS_RTSP_SERVER_LISTEN: `127.0.0.1:${rtsp}` } });
  return { srv, rtsp };
}

/** One server for a describe block: started before its tests (then `ready` runs), stopped after them. */
function suiteServer(ready?: (s: { srv: RunningServer; rtsp: number }) => Promise<void>): { srv: RunningServer; rtsp: number } {
  const s = {} as { srv: RunningServer; rtsp: number };
  beforeAll(async () => {
    Object.assign(s, await start(rtspConf()));
    await ready?.(s);
  });
  afterAll(() => s.srv.stop());
  return s;
}

/**
 * Plays a URL with FFmpeg for `seconds` and counts the frames it decoded per stream (framecrc lines by stream
 * index): what a viewer gets. `input` options go before -i (e.g. -rtsp_transport udp).
 */
async function decode(url: string, seconds: number, input: string[] = []): Promise<{ video: number; audio: number; log: string }> {
  const p = run("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "error", ...input, "-i", url, "-t", String(seconds), "-map", "0", "-f", "framecrc", "-"], { timeoutMs: 30000 });
  await p.done;
  const out = p.output();
  const probe = [...out.matchAll(/^(\d+),/gm)].map((m) => Number(m[1]));
  // framecrc numbers streams in input order; our RTSP SDP lists video first, RTMP/FLV too for these clips.
  return { video: probe.filter((i) => i === 0).length, audio: probe.filter((i) => i === 1).length, log: out };
}

async function clients(srv: RunningServer): Promise<Record<string, unknown>[]> {
  const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/?count=100`);
  return ((await r.json()) as { clients: Record<string, unknown>[] }).clients;
}

/** FFmpeg publishing over RTSP in real time (looped), copying or with the given codec options. */
function rtspPublish(file: string, url: string, transport: "tcp" | "udp", codec: string[] = ["-c", "copy"]): Proc {
  return track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", file, ...codec,
    "-f", "rtsp", "-rtsp_transport", transport, url]));
}

async function live(srv: RunningServer, name: string): Promise<void> {
  await waitFor(`stream ${name} live`, async () => {
    const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/streams/?count=100`);
    const j = (await r.json()) as { streams: { name: string; publish: { active: boolean }; video: unknown }[] };
    return j.streams.some((s) => s.name === name && s.publish.active && s.video);
  }, 15000, srv);
  await Bun.sleep(500);
}

describe("RTSP play of an RTMP stream (H.264 + AAC)", () => {
  const suite = suiteServer(async ({ srv }) => {
    track(publish(clip("clip.flv"), srv.rtmpUrl("/live/cam")));
    await live(srv, "cam");
  });

  test("ffprobe sees H.264 and AAC (44.1 kHz stereo) over TCP", async () => {
    const s = await probeStreams(`rtsp://127.0.0.1:${suite.rtsp}/live/cam`);
    expect(s.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
    const v = s.find((x) => x.codec_type === "video")!;
    expect([v.width, v.height]).toEqual([640, 360]);
    expect(s.find((x) => x.codec_type === "audio")!.sample_rate).toBe("44100");
  }, 30000);

  for (const transport of ["tcp", "udp"] as const) {
    test(`ffmpeg decodes 3 s of video and audio over ${transport}`, async () => {
      const url = `rtsp://127.0.0.1:${suite.rtsp}/live/cam`;
      const seen = (async () => {
        await waitFor("the rtsp player in the API", async () => (await clients(suite.srv)).some((c) => c.type === "rtsp-play" && c.transport === transport), 15000, suite.srv);
        return true;
      })();
      const r = await decode(url, 3, ["-rtsp_transport", transport]);
      expect(await seen).toBe(true);
      expect(r.video).toBeGreaterThanOrEqual(70); // 25 fps
      expect(r.audio).toBeGreaterThanOrEqual(120); // 44.1 kHz / 1024
    }, 40000);
  }

  test("players at once share the output's batches; one joining later decodes as well", async () => {
    const url = `rtsp://127.0.0.1:${suite.rtsp}/live/cam`;
    const first = [decode(url, 4, ["-rtsp_transport", "tcp"]), decode(url, 4, ["-rtsp_transport", "tcp"])];
    await Bun.sleep(1500);
    const late = decode(url, 3, ["-rtsp_transport", "tcp"]);
    for (const r of [...(await Promise.all(first)), await late]) {
      expect(r.video).toBeGreaterThanOrEqual(70);
      expect(r.audio).toBeGreaterThanOrEqual(120);
    }
  }, 40000);

  test("an unknown stream is 404; garbage on the port closes that connection only", async () => {
    const p = run("ffprobe", ["-v", "error", `rtsp://127.0.0.1:${suite.rtsp}/live/nothing`], { timeoutMs: 15000 });
    expect(await p.done).not.toBe(0);
    expect(p.output()).toContain("404");
    const sock = connect(suite.rtsp, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    let answer = "";
    sock.on("data", (d) => (answer += d.toString()));
    sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
    await new Promise((r) => sock.once("close", r));
    expect(answer).toStartWith("RTSP/1.0 400");
    const s = await probeStreams(`rtsp://127.0.0.1:${suite.rtsp}/live/cam`);
    expect(s).toHaveLength(2);
  }, 30000);
});

describe("RTSP publish from FFmpeg", () => {
  const suite = suiteServer();

  for (const transport of ["tcp", "udp"] as const) {
    test(`H.264 + AAC over ${transport}, played over RTMP and HTTP-FLV; the API lists rtsp-publish`, async () => {
      const name = `pub${transport}`;
      const pub = rtspPublish(clip("clip.flv"), `rtsp://127.0.0.1:${suite.rtsp}/live/${name}`, transport);
      await live(suite.srv, name);
      const cs = await clients(suite.srv);
      expect(cs.some((c) => c.type === "rtsp-publish" && c.transport === transport && c.name === name)).toBe(true);
      const rtmp = await decode(suite.srv.rtmpUrl(`/live/${name}`), 3);
      expect(rtmp.video).toBeGreaterThanOrEqual(70);
      expect(rtmp.audio).toBeGreaterThanOrEqual(120);
      const flv = await decode(suite.srv.httpUrl(`/live/${name}.flv`), 2);
      expect(flv.video).toBeGreaterThanOrEqual(45);
      expect(flv.audio).toBeGreaterThanOrEqual(80);
      pub.kill();
      await pub.done;
    }, 60000);
  }

  test("H.264 Main with B-frames: decode times are rebuilt, RTMP players see them in order", async () => {
    const pub = rtspPublish(clip("clip-main.flv"), `rtsp://127.0.0.1:${suite.rtsp}/live/bframes`, "tcp");
    await live(suite.srv, "bframes");
    const p = run("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "warning", "-i", suite.srv.rtmpUrl("/live/bframes"), "-t", "3", "-map", "0", "-f", "framecrc", "-"], { timeoutMs: 30000 });
    await p.done;
    expect(p.output()).not.toContain("out of order");
    expect(p.output()).not.toContain("non monoton");
    expect([...p.output().matchAll(/^0,/gm)].length).toBeGreaterThanOrEqual(70);
    pub.kill();
  }, 60000);

  test("a second publisher of the stream is refused, the first goes on", async () => {
    const first = rtspPublish(clip("clip.flv"), `rtsp://127.0.0.1:${suite.rtsp}/live/busy`, "tcp");
    await live(suite.srv, "busy");
    const second = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.flv"), "-c", "copy", "-f", "rtsp", `rtsp://127.0.0.1:${suite.rtsp}/live/busy`], { timeoutMs: 20000 });
    expect(await second.done).not.toBe(0);
    expect(suite.srv.output()).toContain("rtsp publish refused");
    const r = await decode(suite.srv.rtmpUrl("/live/busy"), 1);
    expect(r.video).toBeGreaterThan(10);
    first.kill();
  }, 60000);

  test("H.265 published over RTSP plays back over RTSP (hevc decoded)", async () => {
    // FFmpeg's RTSP muxer needs AAC's global header, which ADTS in TS does not give: the audio is encoded again.
    const pub = rtspPublish(clip("clip-hevc.ts"), `rtsp://127.0.0.1:${suite.rtsp}/live/hevc`, "tcp", ["-c:v", "copy", "-c:a", "aac"]);
    await live(suite.srv, "hevc");
    const s = await probeStreams(`rtsp://127.0.0.1:${suite.rtsp}/live/hevc`);
    expect(s.find((x) => x.codec_type === "video")?.codec_name).toBe("hevc");
    const r = await decode(`rtsp://127.0.0.1:${suite.rtsp}/live/hevc`, 2, ["-rtsp_transport", "tcp"]);
    expect(r.video).toBeGreaterThanOrEqual(40);
    pub.kill();
  }, 60000);

  for (const [codec, args, name] of [["opus", ["-c:a", "libopus", "-ar", "48000"], "opus"], ["pcm_alaw", ["-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1"], "pcma"]] as const) {
    test(`${codec} audio published over RTSP plays back over RTSP`, async () => {
      const pub = rtspPublish(clip("clip.flv"), `rtsp://127.0.0.1:${suite.rtsp}/live/${name}`, "udp", ["-c:v", "copy", ...args]);
      await live(suite.srv, name);
      const s = await probeStreams(`rtsp://127.0.0.1:${suite.rtsp}/live/${name}`);
      expect(s.map((x) => x.codec_name).sort()).toEqual([codec, "h264"].sort());
      const r = await decode(`rtsp://127.0.0.1:${suite.rtsp}/live/${name}`, 2, ["-rtsp_transport", "tcp"]);
      expect(r.video).toBeGreaterThanOrEqual(40);
      expect(r.audio).toBeGreaterThanOrEqual(codec === "opus" ? 80 : 10);
      pub.kill();
    }, 60000);
  }
});

describe("GStreamer: rtspclientsink publishes (H.264 + MP4A-LATM AAC), rtspsrc plays", () => {
  const suite = suiteServer();

  /** GStreamer publishing test patterns over RTSP. */
  function gstPublish(url: string, transport: "tcp" | "udp"): Proc {
    return track(run("gst-launch-1.0", ["-q",
      "videotestsrc", "is-live=true", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!", "x264enc", "tune=zerolatency", "key-int-max=25", "!", "h264parse", "!", "queue", "!", "s.sink_0",
      "audiotestsrc", "is-live=true", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!", "queue", "!", "s.sink_1",
      "rtspclientsink", "name=s", `location=${url}`, `protocols=${transport}`]));
  }

  /** GStreamer playing for `seconds`: decoded video and audio buffers (fakesink v and a). */
  async function gstPlay(url: string, transport: "tcp" | "udp", seconds: number): Promise<{ video: number; audio: number; log: string }> {
    const p = run("gst-launch-1.0", ["-v", "rtspsrc", `location=${url}`, `protocols=${transport}`, "name=src",
      "src.", "!", "rtph264depay", "!", "h264parse", "!", "avdec_h264", "!", "fakesink", "name=v", "silent=false",
      "src.", "!", "rtpmp4gdepay", "!", "aacparse", "!", "avdec_aac", "!", "fakesink", "name=a", "silent=false"], { timeoutMs: seconds * 1000 });
    await p.done;
    const out = p.output();
    return { video: [...out.matchAll(/\/GstFakeSink:v: last-message = chain/g)].length, audio: [...out.matchAll(/\/GstFakeSink:a: last-message = chain/g)].length, log: out.slice(-2000) };
  }

  for (const transport of ["tcp", "udp"] as const) {
    test(`publish over ${transport}: FFmpeg decodes it over RTMP; GStreamer plays it back over ${transport}`, async () => {
      const name = `gst${transport}`;
      const pub = gstPublish(`rtsp://127.0.0.1:${suite.rtsp}/live/${name}`, transport);
      await live(suite.srv, name);
      expect(suite.srv.output()).toContain(`rtsp publish __defaultVhost__/live/${name} over ${transport}, tracks aac+h264`);
      const r = await decode(suite.srv.rtmpUrl(`/live/${name}`), 3);
      expect(r.video + r.audio).toBeGreaterThanOrEqual(180); // 3 s: 75 video frames + 129 AAC frames (stream order may vary)
      const s = await probeStreams(suite.srv.rtmpUrl(`/live/${name}`));
      expect(s.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
      const g = await gstPlay(`rtsp://127.0.0.1:${suite.rtsp}/live/${name}`, transport, 5);
      expect(g.video).toBeGreaterThanOrEqual(50);
      expect(g.audio).toBeGreaterThanOrEqual(50);
      pub.kill();
    }, 60000);
  }
});

describe("RTSP hooks and auth", () => {
  test("on_publish and on_play get the query; a refused play gets 403", async () => {
    const hooks = hookRecorder((hit) => Response.json({ code: String(hit.body.param ?? "").includes("deny") ? 1 : 0 }));
    const { srv, rtsp } = await start(rtspConf("", `${FLV}\n${hooksConf(`${hooks.base}/hook`, ["on_publish", "on_play"])}`));
    try {
      const pub = rtspPublish(clip("clip.flv"), `rtsp://127.0.0.1:${rtsp}/live/h?token=pub1`, "tcp");
      await live(srv, "h");
      expect(hooks.of("on_publish").some((h) => h.body.param === "?token=pub1" && h.body.stream === "h")).toBe(true);
      const s = await probeStreams(`rtsp://127.0.0.1:${rtsp}/live/h?token=play1`);
      expect(s).toHaveLength(2);
      expect(hooks.of("on_play").some((h) => h.body.param === "?token=play1")).toBe(true);
      const refused = run("ffprobe", ["-v", "error", `rtsp://127.0.0.1:${rtsp}/live/h?token=deny`], { timeoutMs: 15000 });
      expect(await refused.done).not.toBe(0);
      expect(refused.output()).toContain("403");
      pub.kill();
    } finally {
      hooks.close();
      await srv.stop();
    }
  }, 60000);

  test("vhost rtsp { enabled off; }: that vhost's streams are 404 over RTSP, RTMP still plays them", async () => {
    const { srv, rtsp } = await start(rtspConf("", `${FLV}\nrtsp { enabled off; }`));
    try {
      track(publish(clip("clip.flv"), srv.rtmpUrl("/live/off")));
      await live(srv, "off");
      const p = run("ffprobe", ["-v", "error", `rtsp://127.0.0.1:${rtsp}/live/off`], { timeoutMs: 15000 });
      expect(await p.done).not.toBe(0);
      expect(p.output()).toContain("404");
      expect(srv.output()).toContain("(rtsp { enabled off; })");
      expect((await decode(srv.rtmpUrl("/live/off"), 1)).video).toBeGreaterThan(10);
    } finally {
      await srv.stop();
    }
  }, 60000);

  test("auth on: no credentials get 401, FFmpeg's Digest answer and a Basic header get in", async () => {
    const { srv, rtsp } = await start(rtspConf("auth { enabled on; username admin; password s3cret; }"));
    try {
      const pub = rtspPublish(clip("clip.flv"), `rtsp://admin:s3cret@127.0.0.1:${rtsp}/live/a`, "tcp");
      await live(srv, "a");
      const no = run("ffprobe", ["-v", "error", `rtsp://127.0.0.1:${rtsp}/live/a`], { timeoutMs: 15000 });
      expect(await no.done).not.toBe(0);
      expect(no.output()).toContain("401");
      const bad = run("ffprobe", ["-v", "error", `rtsp://admin:wrong@127.0.0.1:${rtsp}/live/a`], { timeoutMs: 15000 });
      expect(await bad.done).not.toBe(0);
      const s = await probeStreams(`rtsp://admin:s3cret@127.0.0.1:${rtsp}/live/a`);
      expect(s).toHaveLength(2);
      // Basic, by hand
      const sock = connect(rtsp, "127.0.0.1");
      await new Promise((r) => sock.once("connect", r));
      let answer = "";
      sock.on("data", (d) => (answer += d.toString()));
      sock.write(`DESCRIBE rtsp://127.0.0.1:${rtsp}/live/a RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic ${Buffer.from("admin:s3cret").toString("base64")}\r\n\r\n`);
      await waitFor("DESCRIBE answer", () => answer.includes("m=audio"), 10000, srv);
      expect(answer).toStartWith("RTSP/1.0 200 OK");
      sock.destroy();
      pub.kill();
    } finally {
      await srv.stop();
    }
  }, 60000);
});

describe("RTSP reload and quit", () => {
  test("SIGHUP moves the listener; the player on the old port goes on; disabled refuses; quit ends sessions", async () => {
    const rtsp = await freePort();
    const rtsp2 = await freePort();
    const conf = (port: number, on = "on") => serverConf(FLV, `rtsp_server { enabled ${on}; listen 127.0.0.1:${port}; }`);
    const srv = await startServer({ config: conf(rtsp) });
    try {
      track(publish(clip("clip.flv"), srv.rtmpUrl("/live/r")));
      await live(srv, "r");
      const player = track(run("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", `rtsp://127.0.0.1:${rtsp}/live/r`, "-t", "8", "-map", "0", "-f", "framecrc", "-"], { timeoutMs: 30000 }));
      await waitFor("the player", async () => (await clients(srv)).some((c) => c.type === "rtsp-play"), 15000, srv);
      await reloadConfig(srv, conf(rtsp2));
      expect(srv.output()).toContain(`listening on tcp ${rtsp2}`);
      const moved = await probeStreams(`rtsp://127.0.0.1:${rtsp2}/live/r`);
      expect(moved).toHaveLength(2);
      const old = run("ffprobe", ["-v", "error", "-timeout", "3000000", `rtsp://127.0.0.1:${rtsp}/live/r`], { timeoutMs: 15000 });
      expect(await old.done).not.toBe(0);
      expect(await player.done).toBe(0);
      const frames = [...player.output().matchAll(/^0,/gm)].length;
      expect(frames).toBeGreaterThanOrEqual(180); // 8 s at 25 fps across the reload
      await reloadConfig(srv, conf(rtsp2, "off"));
      const off = run("ffprobe", ["-v", "error", "-timeout", "3000000", `rtsp://127.0.0.1:${rtsp2}/live/r`], { timeoutMs: 15000 });
      expect(await off.done).not.toBe(0);
      await reloadConfig(srv, conf(rtsp2));
      const p2 = track(run("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "error", "-i", `rtsp://127.0.0.1:${rtsp2}/live/r`, "-map", "0", "-f", "null", "-"]));
      await waitFor("the player", async () => (await clients(srv)).some((c) => c.type === "rtsp-play"), 15000, srv);
      const t0 = Date.now();
      expect(await srv.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      await p2.done;
    } finally {
      await srv.stop();
    }
  }, 90000);
});

describe("RTSP camera pull (rtsp_pull), against GStreamer's RTSP server with Digest", () => {
  const PY = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const camera = (port: number) => track(run(PY, [join(REPO_ROOT, "tests/fixtures/rtsp-camera.py"), String(port), "admin", "pw1"]));

  test("pulls H.264 + AAC, plays over RTMP; reconnects after the camera restarts; reload without the block stops it", async () => {
    const camPort = await freePort();
    let cam = camera(camPort);
    await waitFor("the camera", () => cam.output().includes("ready"), 10000, cam);
    const pull = `rtsp_pull cam1 { enabled on; url rtsp://admin:pw1@127.0.0.1:${camPort}/cam; stream live/cam1; }`;
    const { srv } = await start(rtspConf("", `${FLV}\n${pull}`));
    try {
      await live(srv, "cam1");
      const s = await probeStreams(srv.rtmpUrl("/live/cam1"));
      expect(s.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
      const r = await decode(srv.rtmpUrl("/live/cam1"), 3);
      expect(r.video + r.audio).toBeGreaterThanOrEqual(180);
      // the camera goes away and comes back on the same port
      cam.kill();
      await cam.done;
      await waitFor("the pull to notice", () => srv.output().includes("unpublished __defaultVhost__/live/cam1"), 20000, srv);
      cam = camera(camPort);
      await waitFor("the camera again", () => cam.output().includes("ready"), 10000, cam);
      await waitFor("the pull again", () => (srv.output().match(/rtsp pull cam1: rtsp:\/\/127.0.0.1:\d+\/cam ->/g) ?? []).length >= 2, 30000, srv);
      await live(srv, "cam1");
      const again = await decode(srv.rtmpUrl("/live/cam1"), 2);
      expect(again.video + again.audio).toBeGreaterThanOrEqual(120);
      await reloadConfig(srv, rtspConf("", FLV));
      await waitFor("the pull stopped", () => (srv.output().match(/unpublished __defaultVhost__\/live\/cam1/g) ?? []).length >= 2, 10000, srv);
      expect(srv.output()).toContain("reload: vhost __defaultVhost__ rtsp_pull applied (pulls: 0 started, 1 stopped)");
    } finally {
      cam.kill();
      await srv.stop();
    }
  }, 120000);

  test("over UDP (transport udp): the camera sends RTP to our ports, plays over RTSP; the API lists the pull, hooks see it", async () => {
    const camPort = await freePort();
    const cam = camera(camPort);
    await waitFor("the camera", () => cam.output().includes("ready"), 10000, cam);
    const pull = `rtsp_pull cam2 { enabled on; url rtsp://admin:pw1@127.0.0.1:${camPort}/cam; stream live/cam2; transport udp; }`;
    const hooks = hookRecorder();
    const { srv, rtsp } = await start(rtspConf("", `${FLV}\n${pull}\n${hooksConf(`${hooks.base}/hook`, ["on_publish", "on_unpublish"])}`));
    try {
      await live(srv, "cam2");
      expect(srv.output()).toContain("-> __defaultVhost__/live/cam2 over udp, tracks h264+aac");
      expect(hooks.of("on_publish").some((h) => h.body.stream === "cam2" && h.body.app === "live")).toBe(true);
      expect((await clients(srv)).some((c) => c.type === "rtsp-pull" && c.transport === "udp" && c.name === "cam2")).toBe(true);
      const r = await decode(`rtsp://127.0.0.1:${rtsp}/live/cam2`, 3, ["-rtsp_transport", "tcp"]);
      expect(r.video).toBeGreaterThanOrEqual(70);
      expect(r.audio).toBeGreaterThanOrEqual(120);
      await srv.stop();
      expect(hooks.of("on_unpublish").some((h) => h.body.stream === "cam2")).toBe(true);
    } finally {
      cam.kill();
      hooks.close();
      await srv.stop();
    }
  }, 60000);
});

describe("RTSP under Deno (node:net / node:dgram sockets)", () => {
  test("FFmpeg publishes over UDP, plays back over TCP and UDP", async () => {
    const DENO = join(REPO_ROOT, "node_modules/.bin/deno");
    const rtsp = await freePort();
    const srv = await startServer({
      config: rtspConf(),
      command: [DENO, "run", "-A", join(REPO_ROOT, "main.ts")],
      env: { SRS_RTSP_SERVER_LISTEN: `127.0.0.1:${rtsp}`, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
    });
    try {
      const pub = rtspPublish(clip("clip.flv"), `rtsp://127.0.0.1:${rtsp}/live/deno`, "udp");
      await live(srv, "deno");
      for (const transport of ["tcp", "udp"]) {
        const r = await decode(`rtsp://127.0.0.1:${rtsp}/live/deno`, 3, ["-rtsp_transport", transport]);
        expect(r.video).toBeGreaterThanOrEqual(70);
        expect(r.audio).toBeGreaterThanOrEqual(120);
      }
      pub.kill();
    } finally {
      await srv.stop();
    }
  }, 90000);
});

describe("RTSP under workers 2", () => {
  test("both workers take RTSP players (SO_REUSEPORT); the worker without the stream pulls it on demand", async () => {
    const rtsp = await freePort();
    const srv = await startServer({ config: serverConf("", `workers 2; rtsp_server { enabled on; listen 127.0.0.1:${rtsp}; }`) });
    try {
      track(publish(clip("clip.flv"), srv.rtmpUrl("/live/w")));
      await waitFor("worker 2", () => srv.output().includes("worker 2/2"), 15000, srv);
      await Bun.sleep(1500);
      // 10 connections: all on one worker by chance would be 2 x 2^-10
      for (let i = 0; i < 10; i++) {
        const r = await decode(`rtsp://127.0.0.1:${rtsp}/live/w`, 1, ["-rtsp_transport", "tcp"]);
        expect(r.video).toBeGreaterThanOrEqual(20);
      }
      // the connections went to both workers: one of them played a copy pulled from the other
      expect(srv.output()).toContain("publish start by worker-pull");
    } finally {
      await srv.stop();
    }
  }, 90000);
});
