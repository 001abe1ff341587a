/**
 * RTMP end to end: real FFmpeg publishers and players (and our RtmpClient) against the real server
 * (`bun main.ts` on free loopback ports). Every child process is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { demuxFlv, type FlvTag } from "../../lib/formats/flv.ts";
import type { Amf0Object } from "../../lib/formats/amf0.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { ChunkWriter } from "../../lib/protocols/rtmp/chunk-writer.ts";
import { commandMessage, dataName } from "../../lib/protocols/rtmp/commands.ts";
import { ClientHandshake } from "../../lib/protocols/rtmp/handshake.ts";
import {
  CSID_OVER_CONNECTION2,
  MSG_AMF0_DATA,
  MSG_AUDIO,
  MSG_VIDEO,
  type RtmpMessage,
} from "../../lib/protocols/rtmp/messages.ts";
import { clip } from "../helpers/media.ts";
import { type Proc, publish, type RunningServer, run, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

const children: Proc[] = [];
const servers: RunningServer[] = [];
const clients: RtmpClient[] = [];
const sockets: Socket[] = [];
const work = tempDir("srs-ts-rtmp-e2e-");

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const s of sockets) s.destroy();
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
  rmSync(work, { recursive: true, force: true });
});

async function server(env: Record<string, string> = {}): Promise<RunningServer> {
  const s = await startServer({ env });
  servers.push(s);
  return s;
}

function ffPublish(clipName: "clip.flv" | "clip-main.flv", url: string): Proc {
  // -loglevel error from the helper; publishers loop until killed.
  const p = publish(clip(clipName), url);
  children.push(p);
  return p;
}

function spawnTracked(cmd: string, args: string[], timeoutMs: number): Proc {
  const p = run(cmd, args, { timeoutMs });
  children.push(p);
  return p;
}

let playSeq = 0;
/**
 * Plays `url` with ffmpeg for `seconds` of media, decoding video (`-progress` gives the frame count).
 * Loglevel warning so that DTS and decode problems show up in the log.
 */
async function play(url: string, seconds: number): Promise<{ frames: number; log: string; code: number | null }> {
  const prog = join(work, `play-${++playSeq}.txt`);
  const p = spawnTracked("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "warning", "-rw_timeout", "8000000", "-i", url,
    "-t", String(seconds), "-map", "0:v:0", "-f", "null", "-progress", prog, "-",
  ], seconds * 1000 + 20000);
  const code = await p.done;
  let text = "";
  try {
    text = readFileSync(prog, "utf8");
  } catch {
    // no progress file: 0 frames
  }
  const frames = [...text.matchAll(/^frame=(\d+)/gm)].map((m) => Number(m[1]));
  return { frames: frames.length ? frames[frames.length - 1]! : 0, log: p.output(), code };
}

/** Problems a clean play must not show. */
function expectCleanPlay(log: string): void {
  expect(log).not.toMatch(/non monoton/i);
  expect(log).not.toMatch(/error while decoding|decode_slice|Invalid data|corrupt|missing picture|no frame!/i);
}

interface Stream {
  codec_name: string;
  codec_type: string;
  profile?: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
}

async function probe(url: string): Promise<Stream[]> {
  const p = spawnTracked("ffprobe", ["-v", "error", "-rw_timeout", "8000000", "-show_streams", "-of", "json", url], 20000);
  const code = await p.done;
  if (code !== 0) throw new Error(`ffprobe ${url} exited ${code}: ${p.output()}`);
  const out = p.output();
  return (JSON.parse(out.slice(out.indexOf("{"))) as { streams: Stream[] }).streams;
}

function expectClipStreams(streams: Stream[], profile?: string): void {
  // Exactly video + audio: no "data" stream from an unrewritten @setDataFrame.
  expect(streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"]);
  const v = streams.find((s) => s.codec_type === "video")!;
  const a = streams.find((s) => s.codec_type === "audio")!;
  expect(v.codec_name).toBe("h264");
  expect([v.width, v.height]).toEqual([640, 360]);
  expect(a.codec_name).toBe("aac");
  expect(a.sample_rate).toBe("44100");
  expect(a.channels).toBe(2);
  if (profile) expect(v.profile).toBe(profile);
}

/** Polls until `cond` holds, failing after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Waits until a stream can be probed (its publisher is up and has sent sequence headers). */
async function waitLive(s: RunningServer, path: string): Promise<void> {
  const end = Date.now() + 15000;
  for (;;) {
    const c = await RtmpClient.connect(s.rtmpUrl(path), { timeoutMs: 5000 });
    clients.push(c);
    await c.play();
    const got = await firstMessages(c, 1, 3000);
    c.destroy();
    if (got.some((m) => m.type === MSG_VIDEO)) return;
    if (Date.now() > end) throw new Error(`${path} not live after 15 s`);
    await Bun.sleep(200);
  }
}

/** The first messages a playing RtmpClient receives: until `videoFrames` non-config video frames or `ms`. */
async function firstMessages(c: RtmpClient, videoFrames: number, ms: number): Promise<RtmpMessage[]> {
  const got: RtmpMessage[] = [];
  let frames = 0;
  const it = c.messages();
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), left))),
    ]);
    clearTimeout(timer);
    if (r === "timeout" || r.done) break;
    // The payload may be a view of a socket buffer: copy what we keep.
    got.push({ ...r.value, payload: r.value.payload.slice() });
    if (r.value.type === MSG_VIDEO && !isVideoConfig(r.value.payload) && ++frames >= videoFrames) break;
  }
  void it.return(undefined);
  return got;
}

function isVideoConfig(b: Uint8Array): boolean {
  return (b[0]! & 0x0f) === 7 && b[1] === 0;
}
function isVideoKey(b: Uint8Array): boolean {
  return b[0]! >> 4 === 1 && (b[0]! & 0x0f) === 7 && b[1] === 1;
}
function isAudioConfig(b: Uint8Array): boolean {
  return b[0]! >> 4 === 10 && b[1] === 0;
}
function isConfigTag(t: FlvTag): boolean {
  return t.type === 18 || (t.type === 9 && isVideoConfig(t.data)) || (t.type === 8 && isAudioConfig(t.data));
}

/**
 * Publishes the tags of an FLV file through an RtmpClient at real-time pace, looping (sequence headers and
 * metadata sent once) until stopped.
 */
function pacedPublish(c: RtmpClient, tags: FlvTag[]): { stop(): Promise<void>; sent(): number } {
  let stopped = false;
  let sent = 0;
  const loopMs = tags[tags.length - 1]!.timestamp + 40;
  const done = (async () => {
    const t0 = performance.now();
    for (let loop = 0; !stopped; loop++) {
      for (const t of tags) {
        if (stopped) break;
        if (loop > 0 && isConfigTag(t)) continue;
        const ts = t.timestamp + loop * loopMs;
        const wait = t0 + ts - performance.now();
        if (wait > 2) await Bun.sleep(wait);
        const kind = t.type === 8 ? "audio" : t.type === 9 ? "video" : "data";
        if (!c.sendMedia(kind, ts, t.data)) await c.drain();
        sent++;
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
    sent: () => sent,
  };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/**
 * A player that handshakes, connects and plays over a raw socket, then stops reading (socket paused): the
 * server's writes to it back up.
 */
async function stalledPlayer(port: number, app: string, stream: string): Promise<{ socket: Socket; received(): number }> {
  const socket = netConnect({ host: "127.0.0.1", port });
  sockets.push(socket);
  let received = 0;
  const hs = new ClientHandshake({ complex: false });
  const ready = new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.on("data", (d: Buffer) => {
      received += d.byteLength;
      if (received > 3073 + 64 * 1024) return;
      try {
        const step = hs.feed(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        if (step.send) socket.write(step.send);
        if (step.done) resolve();
      } catch {
        // after the handshake: bytes of the play, ignored
      }
    });
  });
  await new Promise<void>((res) => socket.once("connect", () => res()));
  socket.write(hs.start());
  await ready;
  const w = new ChunkWriter();
  socket.write(w.write(commandMessage(["connect", 1, { app, tcUrl: `rtmp://127.0.0.1:${port}/${app}` }])));
  socket.write(w.write(commandMessage(["createStream", 2, null])));
  socket.write(w.write(commandMessage(["play", 0, null, stream, -2], 1, CSID_OVER_CONNECTION2)));
  await Bun.sleep(300);
  socket.pause();
  return { socket, received: () => received };
}

// ---------------------------------------------------------------------------------------------------------------

describe("rtmp e2e: FFmpeg publisher, FFmpeg/RtmpClient players", () => {
  let s: RunningServer;

  beforeAll(async () => {
    s = await server({ SRS_VHOST_PUBLISH_FIRSTPKT_TIMEOUT: "2000" });
    ffPublish("clip.flv", s.rtmpUrl("/live/s"));
    await waitLive(s, "/live/s");
  });

  test("plays h264 640x360 + aac 44100 stereo, no data stream; 6 s of frames decode cleanly", async () => {
    expectClipStreams(await probe(s.rtmpUrl("/live/s")), "Constrained Baseline");
    const r = await play(s.rtmpUrl("/live/s"), 6);
    expect(r.code).toBe(0);
    expect(r.frames).toBeGreaterThanOrEqual(140);
    expectCleanPlay(r.log);
  }, 40000);

  test("URL forms: ?vhost=&token= and the FMLE app?vhost=/stream form play the same stream", async () => {
    const port = s.rtmp;
    const forms = [
      `rtmp://127.0.0.1:${port}/live/s?vhost=__defaultVhost__&token=x`,
      `rtmp://127.0.0.1:${port}/live?vhost=__defaultVhost__/s`,
    ];
    for (const url of forms) expectClipStreams(await probe(url), "Constrained Baseline");
    // And an RtmpClient with a query sees the live stream (a keyframe at once, from the GOP cache).
    const c = await RtmpClient.connect(forms[0]!, { timeoutMs: 5000 });
    clients.push(c);
    await c.play();
    const got = await firstMessages(c, 1, 3000);
    c.destroy();
    expect(got.filter((m) => m.type === MSG_VIDEO && isVideoKey(m.payload)).length).toBe(1);
  }, 60000);

  test("GOP cache: a player joining mid-stream gets metadata, sequence headers, then a keyframe at once", async () => {
    const c = await RtmpClient.connect(s.rtmpUrl("/live/s"), { timeoutMs: 5000 });
    clients.push(c);
    const t0 = Date.now();
    await c.play();
    const got = await firstMessages(c, 3, 5000);
    const elapsed = Date.now() - t0;
    c.destroy();
    const video = got.filter((m) => m.type === MSG_VIDEO);
    expect(video.length).toBeGreaterThanOrEqual(4);
    expect(isVideoConfig(video[0]!.payload)).toBe(true);
    expect(isVideoKey(video[1]!.payload)).toBe(true);
    // Metadata (after play's |RtmpSampleAccess) comes before any media, as onMetaData (never @setDataFrame).
    const names = got.filter((m) => m.type === MSG_AMF0_DATA).map((m) => dataName(m.payload));
    expect(names).toEqual(["|RtmpSampleAccess", "onMetaData"]);
    const meta = got.findIndex((m) => m.type === MSG_AMF0_DATA && dataName(m.payload) === "onMetaData");
    expect(got.findIndex((m) => m.type === MSG_VIDEO || m.type === MSG_AUDIO)).toBeGreaterThan(meta);
    const audio = got.filter((m) => m.type === MSG_AUDIO);
    expect(audio.length).toBeGreaterThan(0);
    expect(isAudioConfig(audio[0]!.payload)).toBe(true);
    // From the cache: the GOP is replayed at once (no waiting up to 2 s for the next keyframe, merged writes
    // every 350 ms).
    expect(elapsed).toBeLessThan(1500);
    // Timestamps of the replay are monotonic.
    for (let i = 1; i < video.length; i++) expect(video[i]!.timestamp).toBeGreaterThanOrEqual(video[i - 1]!.timestamp);
  }, 20000);

  test("duplicate publisher refused (ffmpeg and RtmpClient); the first keeps going", async () => {
    const dup = spawnTracked("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.flv"), "-c", "copy", "-f", "flv", s.rtmpUrl("/live/s"),
    ], 20000);
    const code = await dup.done;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull(); // exited by itself, not killed by the timeout

    const c = await RtmpClient.connect(s.rtmpUrl("/live/s"), { timeoutMs: 5000 });
    clients.push(c);
    const err = await c.publish().then(() => null, (e: Error) => e);
    expect(err?.message).toContain("NetStream.Publish.BadName");
    c.destroy();
    expect(s.output()).toMatch(/publish refused: stream __defaultVhost__\/live\/s is busy/);

    const r = await play(s.rtmpUrl("/live/s"), 2);
    expect(r.frames).toBeGreaterThanOrEqual(45);
    expectCleanPlay(r.log);
  }, 60000);

  test("B-frames: composition offsets of the source survive, pts != dts, dts monotonic", async () => {
    ffPublish("clip-main.flv", s.rtmpUrl("/live/main"));
    await waitLive(s, "/live/main");
    const fields = ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,dts", "-of", "csv=p=0"];
    const src = spawnTracked("ffprobe", [...fields, clip("clip-main.flv")], 20000);
    expect(await src.done).toBe(0);
    const played = spawnTracked("ffprobe", [...fields, "-rw_timeout", "8000000", "-read_intervals", "%+4", s.rtmpUrl("/live/main")], 25000);
    expect(await played.done).toBe(0);
    const parse = (out: string) =>
      out.trim().split("\n").filter((l) => /^\d+,\d+/.test(l)).map((l) => l.split(",").map(Number) as [number, number]);
    const srcPk = parse(src.output());
    const playPk = parse(played.output());
    expect(playPk.length).toBeGreaterThanOrEqual(75);
    const offsets = (pk: [number, number][]) => new Set(pk.map(([pts, dts]) => pts - dts));
    const srcOffsets = offsets(srcPk);
    const playOffsets = offsets(playPk);
    expect(srcOffsets.size).toBeGreaterThan(1);
    expect(playPk.some(([pts, dts]) => pts !== dts)).toBe(true);
    expect([...playOffsets].sort((a, b) => a - b)).toEqual([...srcOffsets].sort((a, b) => a - b));
    for (let i = 1; i < playPk.length; i++) expect(playPk[i]![1]).toBeGreaterThan(playPk[i - 1]![1]);
    expectClipStreams(await probe(s.rtmpUrl("/live/main")), "Main");
  }, 60000);

  test("two streams at once, each with its own content", async () => {
    // live/s (baseline) and live/main (Main, B-frames) both run now; add live/a and live/b with distinct clips.
    const a = ffPublish("clip.flv", s.rtmpUrl("/live/a"));
    const b = ffPublish("clip-main.flv", s.rtmpUrl("/live/b"));
    await Promise.all([waitLive(s, "/live/a"), waitLive(s, "/live/b")]);
    const [pa, pb] = await Promise.all([probe(s.rtmpUrl("/live/a")), probe(s.rtmpUrl("/live/b"))]);
    expectClipStreams(pa, "Constrained Baseline");
    expectClipStreams(pb, "Main");
    const [ra, rb] = await Promise.all([play(s.rtmpUrl("/live/a"), 3), play(s.rtmpUrl("/live/b"), 3)]);
    expect(ra.frames).toBeGreaterThanOrEqual(70);
    expect(rb.frames).toBeGreaterThanOrEqual(70);
    expectCleanPlay(ra.log);
    expectCleanPlay(rb.log);
    a.kill();
    b.kill();
    await Promise.all([a.done, b.done]);
  }, 60000);

  test("players are told: UnpublishNotify when the publisher leaves, PublishNotify + new headers on republish; republish plays", async () => {
    const url = s.rtmpUrl("/live/r");
    const pub1 = ffPublish("clip.flv", url);
    await waitLive(s, "/live/r");
    const c = await RtmpClient.connect(url, { timeoutMs: 5000 });
    clients.push(c);
    const statuses: { code: string; at: number }[] = [];
    c.onStatus = (info: Amf0Object) => statuses.push({ code: String(info.code), at: Date.now() });
    const msgs: { m: RtmpMessage; at: number }[] = [];
    c.onMessage = (m) => msgs.push({ m: { ...m, payload: m.payload.slice() }, at: Date.now() });
    await c.play();
    await until(() => msgs.some((x) => x.m.type === MSG_VIDEO && isVideoKey(x.m.payload)), 5000, "first keyframe");

    pub1.kill();
    await pub1.done;
    await until(() => statuses.some((x) => x.code === "NetStream.Play.UnpublishNotify"), 5000, "UnpublishNotify");
    const unpublishedAt = statuses.find((x) => x.code === "NetStream.Play.UnpublishNotify")!.at;

    const pub2 = ffPublish("clip.flv", url);
    await until(() => statuses.some((x) => x.code === "NetStream.Play.PublishNotify"), 10000, "PublishNotify");
    const republishedAt = statuses.find((x) => x.code === "NetStream.Play.PublishNotify")!.at;
    expect(republishedAt).toBeGreaterThanOrEqual(unpublishedAt);
    await until(
      () => msgs.some((x) => x.at >= republishedAt && x.m.type === MSG_VIDEO && isVideoKey(x.m.payload)),
      5000,
      "keyframe after republish",
    );
    const after = msgs.filter((x) => x.at >= republishedAt).map((x) => x.m);
    const firstVideo = after.find((m) => m.type === MSG_VIDEO)!;
    expect(isVideoConfig(firstVideo.payload)).toBe(true);
    expect(after.some((m) => m.type === MSG_AUDIO && isAudioConfig(m.payload))).toBe(true);
    c.destroy();

    // A fresh ffmpeg player of the republished stream.
    const r = await play(url, 2);
    expect(r.frames).toBeGreaterThanOrEqual(45);
    expectCleanPlay(r.log);
    pub2.kill();
    await pub2.done;
  }, 60000);

  test("publish timeout: a publisher that sends nothing is closed after firstpkt_timeout (2 s)", async () => {
    const c = await RtmpClient.connect(s.rtmpUrl("/live/idle"), { timeoutMs: 5000 });
    clients.push(c);
    await c.publish();
    const t0 = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      c.closed.then(() => true),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(false), 8000))),
    ]);
    clearTimeout(timer);
    const elapsed = Date.now() - t0;
    expect(closed).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(5000);
    expect(s.output()).toMatch(/rtmp publish timeout: no media for \d+ms \(limit 2000ms\)/);
    // The stream is free again.
    const c2 = await RtmpClient.connect(s.rtmpUrl("/live/idle"), { timeoutMs: 5000 });
    clients.push(c2);
    await c2.publish();
    c2.destroy();
  }, 20000);

  test("a stalled player does not slow the publisher or other players; server memory stays bounded", async () => {
    const pid = s.proc.pid!;
    const stalled = await Promise.all([0, 1, 2].map(() => stalledPlayer(s.rtmp, "live", "s")));
    const rssBefore = rssMb(pid);
    let maxRss = rssBefore;
    const sampler = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, rssMb(pid));
      } catch {
        // server gone: the test fails below
      }
    }, 250);
    const r = await play(s.rtmpUrl("/live/s"), 6);
    clearInterval(sampler);
    expect(r.frames).toBeGreaterThanOrEqual(140);
    expectCleanPlay(r.log);
    expect(maxRss).toBeLessThan(200);
    // The stalled sockets really stopped reading: at most what arrived before the pause.
    const got = stalled.map((x) => x.received());
    await Bun.sleep(500);
    expect(stalled.map((x) => x.received())).toEqual(got);
    for (const x of stalled) x.socket.destroy();
    expect(s.proc.exitCode).toBeNull();
  }, 40000);
});

describe("rtmp e2e: chunk size 128 both ways", () => {
  test("RtmpClient publishing with 128-byte chunks to a server sending 128-byte chunks; players decode", async () => {
    const s = await server({ SRS_CHUNK_SIZE: "128" });
    const { tags } = demuxFlv(new Uint8Array(readFileSync(clip("clip.flv"))));
    const pubClient = await RtmpClient.connect(s.rtmpUrl("/live/c128"), { chunkSize: 128, timeoutMs: 5000 });
    clients.push(pubClient);
    await pubClient.publish();
    const pub = pacedPublish(pubClient, tags);
    try {
      await waitLive(s, "/live/c128");
      // Our client as a player sees the server's Set Chunk Size 128 and reassembles the messages.
      const c = await RtmpClient.connect(s.rtmpUrl("/live/c128"), { timeoutMs: 5000 });
      clients.push(c);
      await c.play();
      const got = await firstMessages(c, 10, 5000);
      c.destroy();
      expect((c as unknown as { reader: { chunkSize: number } }).reader.chunkSize).toBe(128);
      const video = got.filter((m) => m.type === MSG_VIDEO);
      expect(isVideoConfig(video[0]!.payload)).toBe(true);
      expect(isVideoKey(video[1]!.payload)).toBe(true);
      // Byte-identical frames: the keyframe we got is one of the clip's keyframes.
      const srcKeys = tags.filter((t) => t.type === 9 && isVideoKey(t.data));
      expect(srcKeys.some((t) => Buffer.compare(Buffer.from(t.data), Buffer.from(video[1]!.payload)) === 0)).toBe(true);

      expectClipStreams(await probe(s.rtmpUrl("/live/c128")), "Constrained Baseline");
      const r = await play(s.rtmpUrl("/live/c128"), 4);
      expect(r.code).toBe(0);
      expect(r.frames).toBeGreaterThanOrEqual(90);
      expectCleanPlay(r.log);
      expect(pub.sent()).toBeGreaterThan(100);
    } finally {
      await pub.stop();
      pubClient.destroy();
    }
  }, 60000);
});

describe("rtmp e2e: gop_cache off", () => {
  test("a player joining mid-stream still starts with sequence headers then a keyframe (it waits for one)", async () => {
    const s = await server({ SRS_VHOST_PLAY_GOP_CACHE: "off" });
    ffPublish("clip.flv", s.rtmpUrl("/live/nogop"));
    await waitLive(s, "/live/nogop");
    // Join at a few points of the GOP (2 s): whatever the phase, the first frame is a keyframe.
    for (const delay of [0, 700, 700]) {
      await Bun.sleep(delay);
      const c = await RtmpClient.connect(s.rtmpUrl("/live/nogop"), { timeoutMs: 5000 });
      clients.push(c);
      await c.play();
      const got = await firstMessages(c, 2, 5000);
      c.destroy();
      const video = got.filter((m) => m.type === MSG_VIDEO);
      expect(video.length).toBeGreaterThanOrEqual(3);
      expect(isVideoConfig(video[0]!.payload)).toBe(true);
      expect(isVideoKey(video[1]!.payload)).toBe(true);
    }
    const r = await play(s.rtmpUrl("/live/nogop"), 3);
    expect(r.frames).toBeGreaterThanOrEqual(70);
    expectCleanPlay(r.log);
  }, 60000);
});
