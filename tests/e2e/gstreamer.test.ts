/**
 * GStreamer as a publisher (flvmux ! rtmp2sink) and as a player (rtmp2src / souphttpsrc ! flvdemux), FFmpeg as
 * the other player. GStreamer stamps its onMetaData with the stream's running time; FFmpeg's FLV demuxer reads a
 * script tag with a non-zero timestamp as a data stream ("Subtitle: text"), so every player must get the
 * metadata at timestamp 0 and see exactly the published H.264 + AAC, whether it joined before the publisher
 * (the metadata as it goes by live) or after (the start-up replay).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { FLV_TAG_SCRIPT, FlvDemuxer } from "../../lib/formats/flv.ts";
import { type Proc, run, type RunningServer, startServer } from "../helpers/server.ts";

const children: Proc[] = [];
let srv: RunningServer;
/** An RTMP player that waited for the stream (HTTP-FLV answers 404 until the stream is published). */
let early: Promise<ProbeResult | Error>;

const CONFIG = `
listen 1935;
daemon off;
srs_log_tank console;
http_server { enabled on; listen 8080; }
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;

interface ProbeResult {
  streams: { codec_type: string; codec_name: string; nb_read_frames?: string }[];
  log: string;
}

function track(p: Proc): Proc {
  children.push(p);
  return p;
}

/** ffprobe decoding the first `seconds` of a live URL: every stream with its decoded frame count. */
async function probeDecoded(url: string, seconds = 3): Promise<ProbeResult> {
  const p = track(run("ffprobe", [
    "-v", "error", "-rw_timeout", "15000000", "-count_frames", "-read_intervals", `%+${seconds}`,
    "-show_entries", "stream=codec_type,codec_name,nb_read_frames", "-of", "json", url,
  ], { timeoutMs: 25000 }));
  const code = await p.done;
  const out = p.output();
  if (code !== 0) throw new Error(`ffprobe ${url} exited ${code}: ${out}`);
  const j = JSON.parse(out.slice(out.indexOf("{"))) as { streams: ProbeResult["streams"] };
  return { streams: j.streams, log: out };
}

function expectH264Aac(r: ProbeResult): void {
  // Exactly two streams: no "Subtitle: text" / data stream made from the metadata.
  expect(r.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(["audio:aac", "video:h264"]);
  for (const s of r.streams) expect(Number(s.nb_read_frames)).toBeGreaterThan(10);
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${srv?.output().slice(-3000)}`);
    await Bun.sleep(50);
  }
}

/** A GStreamer player: decodes video and audio for `ms` and counts the decoded buffers each sink got. */
async function gstPlay(source: string[], ms: number): Promise<{ video: number; audio: number; log: string }> {
  const p = track(run("gst-launch-1.0", [
    "-v", ...source, "!", "flvdemux", "name=d",
    "d.video", "!", "queue", "!", "h264parse", "!", "avdec_h264", "!", "fakesink", "name=vs", "silent=false", "sync=false",
    "d.audio", "!", "queue", "!", "aacparse", "!", "avdec_aac", "!", "fakesink", "name=as", "silent=false", "sync=false",
  ], { timeoutMs: ms }));
  await p.done;
  const log = p.output();
  const count = (sink: string) => log.split(`(${sink}:sink)`).length - 1;
  return { video: count("vs"), audio: count("as"), log: log.slice(-2000) };
}

beforeAll(async () => {
  // A missing tool is a failure, never a skip (Debian: gstreamer1.0-tools, -plugins-good/-bad/-ugly, -libav).
  const probe = spawnSync("gst-inspect-1.0", ["rtmp2sink"], { encoding: "utf8" });
  if (probe.status !== 0) throw new Error(`GStreamer with rtmp2sink is required: ${probe.error?.message ?? probe.stderr}`);
  srv = await startServer({ config: CONFIG });
  // A player that waits for the stream: it gets the metadata live, as the publisher sends it.
  early = probeDecoded(srv.rtmpUrl("/live/s")).catch((e: Error) => e);
  await waitFor(() => srv.output().includes("waiting for publisher"), 10000, "the waiting player");
  track(run("gst-launch-1.0", [
    "-q", "videotestsrc", "is-live=true", "!", "video/x-raw,width=640,height=360,framerate=25/1", "!",
    "x264enc", "speed-preset=veryfast", "tune=zerolatency", "key-int-max=50", "!", "h264parse", "!",
    "flvmux", "name=m", "streamable=true", "!", "rtmp2sink", `location=${srv.rtmpUrl("/live/s")}`,
    "audiotestsrc", "is-live=true", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!", "m.",
  ]));
  await waitFor(() => srv.output().includes("publish start by"), 15000, "the GStreamer publisher");
});

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  await srv?.stop("SIGKILL");
});

describe("GStreamer publishes (flvmux ! rtmp2sink)", () => {
  test("an FFmpeg player that waited for the stream sees exactly H.264 + AAC and decodes both", async () => {
    const r = await early;
    if (r instanceof Error) throw r;
    expectH264Aac(r);
  }, 40000);

  test("FFmpeg players joining later (start-up replay) see exactly H.264 + AAC, over RTMP and HTTP-FLV", async () => {
    await Bun.sleep(2500); // the publisher's running time (and its metadata's timestamp) is well past 0
    const [r, f] = await Promise.all([probeDecoded(srv.rtmpUrl("/live/s")), probeDecoded(srv.httpUrl("/live/s.flv"))]);
    expectH264Aac(r);
    expectH264Aac(f);
  }, 40000);

  test("the HTTP-FLV onMetaData tag is at timestamp 0", async () => {
    const res = await fetch(srv.httpUrl("/live/s.flv"));
    const reader = res.body!.getReader();
    const demux = new FlvDemuxer();
    const tags = [];
    let media = 0;
    while (media < 20) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const t of demux.push(value)) {
        tags.push(t);
        if (t.type !== FLV_TAG_SCRIPT) media++;
      }
    }
    await reader.cancel();
    // The start-up replay begins with the metadata; rtmp2sink may send updated metadata while playing, which
    // goes out live: every script tag, first or later, must be at 0 (FFmpeg takes any other as a data stream).
    expect(tags[0]!.type).toBe(FLV_TAG_SCRIPT);
    const scripts = tags.filter((t) => t.type === FLV_TAG_SCRIPT);
    expect(scripts.map((t) => t.timestamp)).toEqual(scripts.map(() => 0));
    // ... while the media it precedes is well into the stream's running time.
    expect(Math.max(...tags.map((t) => t.timestamp))).toBeGreaterThan(1000);
  }, 20000);

  test("GStreamer players (rtmp2src, souphttpsrc ! flvdemux) decode video and audio", async () => {
    const [r, f] = await Promise.all([
      gstPlay(["rtmp2src", `location=${srv.rtmpUrl("/live/s")}`], 5000),
      gstPlay(["souphttpsrc", `location=${srv.httpUrl("/live/s.flv")}`], 5000),
    ]);
    for (const x of [r, f]) {
      expect(x.video, x.log).toBeGreaterThan(25);
      expect(x.audio, x.log).toBeGreaterThan(40);
    }
  }, 20000);
});
