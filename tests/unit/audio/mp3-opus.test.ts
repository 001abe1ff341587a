/**
 * MP3 -> Opus (Mp3ToOpus) and the hub's audio bridge for MP3 publishers: tones and SNR through the whole chain,
 * sample-exact Opus timestamps over a long run, junk input, and an MP3 FLV publisher giving WebRTC viewers Opus.
 */
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type HubSubscriber, type PublisherInfo, StreamHub } from "../../../lib/hub/stream-hub.ts";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { Log, type LogLevel, LogSink } from "../../../lib/log/logger.ts";
import { decodeMp3, mp3FrameSpans } from "../../../lib/media/audio/mp3-decoder.ts";
import { OpusDecoder } from "../../../lib/media/audio/opus.ts";
import { Resampler } from "../../../lib/media/audio/resampler.ts";
import { Mp3ToOpus } from "../../../lib/media/audio/transcoder.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import { parseMpegAudioHeader } from "../../../lib/media/mp3.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { AudioBridge } from "../../../lib/services/audio-bridge/bridge.ts";
import { TranscoderPool } from "../../../lib/services/audio-bridge/pool.ts";
import { clip } from "../../helpers/media.ts";
import { rng } from "../media/util.ts";
import { bestLag, peakFrequency, snrDb } from "./util.ts";
import { tempDir } from "../../helpers/temp.ts";

const dir = tempDir("srs-mp3o-");
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-v", "error", "-y", ...args]);
}

/** The frames of an MP3 file as MediaPackets with FLV-rounded millisecond timestamps from `t0`. */
function mp3Packets(file: string, t0 = 0, loops = 1): MediaPacket[] {
  const bytes = new Uint8Array(readFileSync(file));
  const spans = mp3FrameSpans(bytes);
  const out: MediaPacket[] = [];
  let samples = 0;
  for (let l = 0; l < loops; l++) {
    for (const [s, e] of spans) {
      const data = bytes.subarray(s, e);
      const h = parseMpegAudioHeader(data)!;
      const dts = t0 + Math.round((samples * 1000) / h.sampleRate);
      out.push({ kind: "audio", codec: "mp3", dts, pts: dts, keyframe: false, config: false, data });
      samples += h.samplesPerFrame;
    }
  }
  return out;
}

/** Opus packets -> 48 kHz planar PCM with our (opusscript) decoder. */
function decodeOpus(packets: MediaPacket[], channels: 1 | 2): Float32Array[] {
  const dec = new OpusDecoder({ channels });
  const frames = packets.filter((p) => !p.config);
  const pcm = Array.from({ length: channels }, () => new Float32Array(frames.length * 960));
  let n = 0;
  for (const p of frames) {
    const r = dec.decode(p.data);
    for (let c = 0; c < channels; c++) pcm[c]!.set(r.pcm[c]!.subarray(0, r.samples), n);
    n += r.samples;
  }
  dec.close();
  return pcm.map((c) => c.subarray(0, n));
}

describe("MP3 -> Opus", () => {
  for (const [name, rate, bitrate] of [["44.1 kHz MPEG-1", 44100, "128k"], ["22.05 kHz MPEG-2 LSF", 22050, "64k"]] as const) {
    test(`stereo ${name} 1000/440 Hz through Mp3ToOpus: tones kept, SNR >= 30 dB, Opus timestamps exact`, async () => {
      const file = join(dir, `st${rate}.mp3`);
      ffmpeg(["-f", "lavfi", "-i", `sine=frequency=1000:sample_rate=${rate}:duration=5`, "-f", "lavfi", "-i",
        `sine=frequency=440:sample_rate=${rate}:duration=5`, "-filter_complex", "amerge", "-c:a", "libmp3lame", "-b:a", bitrate, file]);
      const t0 = 5000;
      const input = mp3Packets(file, t0);
      const m2o = await Mp3ToOpus.create({ bitrate: 96000 });
      const out: MediaPacket[] = [];
      for (const p of input) out.push(...m2o.push(p));
      m2o.close();
      expect(m2o.stats.decodeErrors).toBe(0);
      expect(m2o.stats.resyncs).toBe(0);
      expect(out[0]!.config).toBe(true);
      expect(out[0]!.data[9]).toBe(2); // OpusHead channels
      const frames = out.filter((p) => !p.config);
      expect(frames[0]!.dts).toBe(t0);
      frames.forEach((p, j) => expect(p.dts).toBe(t0 + 20 * j));
      const inMs = (input.length * (rate === 44100 ? 1152 : 576) * 1000) / rate;
      expect(frames.length).toBeGreaterThanOrEqual(Math.floor(inMs / 20) - 2);

      const [l, r] = decodeOpus(out, 2) as [Float32Array, Float32Array];
      expect(Math.abs(peakFrequency(l, 48000, 48000) - 1000)).toBeLessThan(3);
      expect(Math.abs(peakFrequency(r, 48000, 48000) - 440)).toBeLessThan(3);
      // reference: the MP3 as decoded (matches FFmpeg to ~1e-7, mp3.test.ts), resampled to 48 kHz the same way
      const mp3 = await decodeMp3(new Uint8Array(readFileSync(file)));
      const rs = new Resampler(rate, 48000, 2);
      const ref = [new Float32Array(rs.maxOutput(mp3.pcm[0]!.length)), new Float32Array(rs.maxOutput(mp3.pcm[0]!.length))];
      const n = rs.process(mp3.pcm, mp3.pcm[0]!.length, ref, 0);
      const [rl, rr] = ref.map((c) => c.subarray(0, n)) as [Float32Array, Float32Array];
      // the only delay left is the Opus decoder's look-ahead (312 samples): the Opus timestamps are exact
      const lag = bestLag(rl, l, 0, 2000, 0, 8192);
      expect(lag).toBe(312);
      const len = Math.min(rl.length, l.length - lag) - 9600;
      const sL = snrDb(rl, l, lag, 4800, len - 4800);
      const sR = snrDb(rr, r, lag, 4800, len - 4800);
      console.log(`MP3 ${name} -> Opus 96k: lag ${lag} samples at 48 kHz (Opus look-ahead), SNR L ${sL.toFixed(1)} dB, R ${sR.toFixed(1)} dB`);
      // README: ~33 dB (measured 32.7 to 34.7)
      expect(sL).toBeGreaterThanOrEqual(30);
      expect(sR).toBeGreaterThanOrEqual(30);
    });
  }

  test("10 minutes of MP3 frames (FLV-rounded ms) -> Opus packets exactly 20 ms apart; a gap is concealed, a jump resyncs", async () => {
    const file = join(dir, "silence22.mp3");
    ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "20", "-c:a", "libmp3lame", "-b:a", "32k", file]);
    const t0 = 1000;
    const frames = mp3Packets(file, t0, 30); // 30 x 20 s = 10 min
    const m2o = await Mp3ToOpus.create({ channels: 1, bitrate: 24000, complexity: 0 });
    let prev = -1;
    let maxDev = 0;
    let count = 0;
    let last: MediaPacket | undefined;
    for (const p of frames) {
      for (const o of m2o.push(p)) {
        if (o.config) continue;
        if (prev >= 0) maxDev = Math.max(maxDev, Math.abs(o.dts - prev - 20));
        prev = o.dts;
        last = o;
        count++;
      }
    }
    expect(m2o.stats.resyncs).toBe(0);
    expect(m2o.stats.concealed).toBe(0);
    expect(maxDev).toBe(0);
    expect(last!.dts).toBe(t0 + (count - 1) * 20);
    const inMs = (frames.length * 576 * 1000) / 22050;
    expect(Math.abs(count * 20 - inMs)).toBeLessThan(21);
    console.log(`Mp3ToOpus 10 min: ${count} packets, last dts ${last!.dts}, input end ${(t0 + inMs).toFixed(1)} ms`);

    // a gap of 3 frames: concealed, the timeline stays continuous
    const end = frames.at(-1)!.dts;
    const gapDts = end + Math.round((4 * 576 * 1000) / 22050);
    const more = m2o.push({ ...frames[5]!, dts: gapDts, pts: gapDts });
    expect(m2o.stats.concealed).toBe(3);
    for (const o of more) expect((o.dts - t0) % 20).toBe(0);
    // a jump of a minute: resync at the new packet
    const jump = gapDts + 60_000;
    const after: MediaPacket[] = [];
    for (let k = 0; k < 20; k++) after.push(...m2o.push({ ...frames[5 + k]!, dts: jump + Math.round((k * 576 * 1000) / 22050), pts: jump }));
    expect(m2o.stats.resyncs).toBe(1);
    expect(after.filter((p) => !p.config)[0]!.dts).toBe(jump);
    m2o.close();
  }, 120_000);

  test("junk, other codecs, multi-frame packets and a rate change mid-stream", async () => {
    const rand = rng(7);
    const m2o = await Mp3ToOpus.create();
    const junk: MediaPacket = { kind: "audio", codec: "mp3", dts: 0, pts: 0, keyframe: false, config: false, data: new Uint8Array(0) };
    for (let k = 0; k < 200; k++) {
      const data = new Uint8Array(Math.floor(rand() * 800));
      for (let i = 0; i < data.length; i++) data[i] = rand() < 0.1 ? 0xff : Math.floor(rand() * 256);
      expect(() => m2o.push({ ...junk, data, dts: k * 26, pts: k * 26 })).not.toThrow();
    }
    expect(m2o.push({ ...junk, codec: "aac" })).toEqual([]);
    expect(m2o.push({ ...junk, kind: "video", codec: "h264" })).toEqual([]);
    m2o.close();

    // packets of 3 frames each; then a switch from 44.1 kHz stereo to 22.05 kHz mono
    const a = join(dir, "a.mp3");
    const b = join(dir, "b.mp3");
    ffmpeg(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100:duration=2", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", a]);
    ffmpeg(["-f", "lavfi", "-i", "sine=frequency=500:sample_rate=22050:duration=2", "-c:a", "libmp3lame", "-b:a", "32k", b]);
    const pa = mp3Packets(a, 0);
    const grouped: MediaPacket[] = [];
    for (let i = 0; i + 3 <= pa.length; i += 3) {
      const data = new Uint8Array(pa[i]!.data.length + pa[i + 1]!.data.length + pa[i + 2]!.data.length);
      data.set(pa[i]!.data);
      data.set(pa[i + 1]!.data, pa[i]!.data.length);
      data.set(pa[i + 2]!.data, pa[i]!.data.length + pa[i + 1]!.data.length);
      grouped.push({ ...pa[i]!, data });
    }
    const pb = mp3Packets(b, pa.at(-1)!.dts + 26);
    const tx = await Mp3ToOpus.create();
    const out: MediaPacket[] = [];
    for (const p of [...grouped, ...pb]) out.push(...tx.push(p));
    tx.close();
    const heads = out.filter((p) => p.config);
    expect(heads.map((p) => p.data[9])).toEqual([2, 1]); // stereo, then mono
    expect(tx.stats.resyncs).toBe(1);
    expect(tx.stats.concealed).toBe(0);
    const first = out.filter((p) => !p.config && p.dts < pb[0]!.dts);
    first.forEach((p, j) => expect(p.dts).toBe(20 * j)); // 3 frames a packet: the frames' own times
    expect(first.length).toBeGreaterThan(90);
  });
});

describe("audio bridge: MP3 publisher", () => {
  class Capture extends LogSink {
    lines: string[] = [];
    override write(level: LogLevel, _cid: string, msg: string): void {
      this.lines.push(`${level} ${msg}`);
    }
  }

  test("an RTMP/FLV publisher with MP3 audio: Opus rendition while a viewer wants it, logged as bridged", async () => {
    const flv = join(dir, "mp3.flv");
    ffmpeg(["-i", clip("clip.flv"), "-c:v", "copy", "-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k", "-f", "flv", flv]);
    const { tags } = demuxFlv(new Uint8Array(readFileSync(flv)));
    const pkts = tags.map((t) => flvTagToPacket(t.type, t.timestamp, t.data)).filter((p): p is MediaPacket => p !== null);
    const mp3In = pkts.filter((p) => p.kind === "audio" && p.codec === "mp3");
    expect(mp3In.length).toBeGreaterThan(100);

    const sink = new Capture();
    const log = new Log(sink, "test0001");
    const hub = new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "m" }, {
      gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "full",
    }, log, "vid-test");
    const pub: PublisherInfo = { clientId: "c1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };
    hub.startPublish(pub);
    const pool = new TranscoderPool(log, { size: 1 });
    const bridge = new AudioBridge(hub, { direction: "aac->opus", bitrate: 64000 }, pool, log);
    bridge.start();
    const back = new AudioBridge(hub, { direction: "opus->aac", bitrate: 96000 }, pool, log);
    back.start();
    const got: MediaPacket[] = [];
    const rec: HubSubscriber = { onPacket: (p) => void got.push(p), onUnpublish: () => {} };
    hub.attach(rec, false);
    const half = Math.floor(pkts.length / 2);
    for (const p of pkts.slice(0, 50)) hub.publish(p);
    expect(bridge.running).toBe(false); // nobody wants Opus yet
    hub.wantAudio("opus", +1);
    for (const p of pkts.slice(50, half)) hub.publish(p);
    expect(bridge.running).toBe(true);
    expect(bridge.source).toBe("mp3");
    await bridge.flush(); // the worker's answers are in the hub
    const opus = got.filter((p) => p.kind === "audio" && p.codec === "opus");
    expect(opus[0]!.config).toBe(true);
    expect(opus[0]!.derived).toBe(true);
    const frames = opus.filter((p) => !p.config);
    expect(frames.length).toBeGreaterThan(50);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.dts - frames[i - 1]!.dts).toBe(20);
    expect(back.framesIn).toBe(0);
    expect(sink.lines.some((l) => l.startsWith("info ") && l.includes("audio bridged mp3→opus"))).toBe(true);
    expect(sink.lines.some((l) => l.includes("not available"))).toBe(false);
    // the Opus decodes to the clip's tones (1000 Hz left, 440 Hz right)
    const [l, r] = decodeOpus(frames, 2) as [Float32Array, Float32Array];
    expect(Math.abs(peakFrequency(l, 48000, 9600) - 1000)).toBeLessThan(5);
    expect(Math.abs(peakFrequency(r, 48000, 9600) - 440)).toBeLessThan(5);
    // the last viewer leaves: idle
    hub.wantAudio("opus", -1);
    expect(bridge.running).toBe(false);
    console.log(`MP3 bridge: ${bridge.summary()}`);
    bridge.close();
    back.close();
    pool.close();
  });
});
