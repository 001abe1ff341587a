/**
 * Enhanced RTMP HEVC end to end. Debian's FFmpeg 5.1 cannot put HEVC in FLV, so our own RtmpClient publishes
 * the HEVC clip (demuxed from clip-hevc.ts) as enhanced-RTMP 'hvc1' messages; then
 *  - an RTMP player (our client) receives enhanced-RTMP HEVC with the sequence header first, and
 *  - FFmpeg decodes the same stream as HEVC over HTTP-TS (a format FFmpeg 5.1 reads; HLS + an HTTP .ts mount
 *    on one vhost is a config conflict in SRS, and HEVC over HLS is covered by the SRT tests).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { demuxTs } from "../../lib/formats/mpegts-demux.ts";
import { flvVideoToPacket, packetToFlvBody } from "../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../lib/media/packet.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { clip } from "../helpers/media.ts";
import { probeStreams, run, type RunningServer, startServer } from "../helpers/server.ts";

let s: RunningServer;
let publisher: RtmpClient | undefined;
let stop = false;

/** Publishes the packets in real time, looping, until `stop`. */
async function publishLoop(c: RtmpClient, pkts: MediaPacket[]): Promise<void> {
  const clipMs = pkts[pkts.length - 1]!.dts + 40;
  const t0 = Date.now();
  for (let loop = 0; !stop; loop++) {
    for (const p of pkts) {
      if (stop) return;
      if (loop > 0 && p.config) continue;
      const ts = p.dts + loop * clipMs;
      const wait = t0 + ts - Date.now();
      if (wait > 0) await Bun.sleep(wait);
      const at = { ...p, dts: ts, pts: p.pts + loop * clipMs };
      c.sendMedia(p.kind === "video" ? "video" : "audio", ts, packetToFlvBody(at));
    }
  }
}

beforeAll(async () => {
  s = await startServer({
    config: `listen 1935;
http_server { enabled on; listen 8080; }
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].ts; }
    hls { enabled off; }
}
`,
  });
  const pkts = demuxTs(new Uint8Array(readFileSync(clip("clip-hevc.ts"))));
  expect(pkts.some((p) => p.codec === "h265" && p.config)).toBe(true);
  publisher = await RtmpClient.connect(s.rtmpUrl("/live/hevc"));
  await publisher.publish("hevc");
  void publishLoop(publisher, pkts);
  await Bun.sleep(2500);
});

afterAll(async () => {
  stop = true;
  publisher?.close();
  await s?.stop();
});

describe("enhanced RTMP HEVC", () => {
  test("an RTMP player gets the hvc1 sequence header, then an HEVC keyframe", async () => {
    const player = await RtmpClient.connect(s.rtmpUrl("/live/hevc"));
    await player.play("hevc");
    const got: MediaPacket[] = [];
    for await (const m of player.messages()) {
      if (m.type !== 9) continue;
      const p = flvVideoToPacket(m.payload, m.timestamp);
      if (p) got.push(p);
      if (got.length >= 3) break;
    }
    player.close();
    expect(got[0]!.codec).toBe("h265");
    expect(got[0]!.config).toBe(true);
    expect(got[1]!.keyframe).toBe(true);
  }, 20000);

  test("FFmpeg decodes it as HEVC 640x360 over HTTP-TS", async () => {
    const streams = await probeStreams(s.httpUrl("/live/hevc.ts"));
    const v = streams.find((x) => x.codec_type === "video");
    expect(v?.codec_name).toBe("hevc");
    expect(v?.width).toBe(640);
    expect(streams.find((x) => x.codec_type === "audio")?.codec_name).toBe("aac");
    const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.httpUrl("/live/hevc.ts"), "-t", "3",
      "-map", "0:v:0", "-f", "null", "-progress", "pipe:1", "-"], { timeoutMs: 20000 });
    await p.done;
    const frames = [...p.output().matchAll(/^frame=(\d+)/gm)].map((m) => Number(m[1]));
    expect(frames.at(-1) ?? 0).toBeGreaterThanOrEqual(60);
  }, 30000);

});
