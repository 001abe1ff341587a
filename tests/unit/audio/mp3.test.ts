/**
 * The MP3 decoder (mpg123-decoder, libmpg123 in WebAssembly, behind lib/media/audio/mp3-decoder.ts): its output
 * frame by frame against FFmpeg's decoder on clips made by libmp3lame (MPEG-1 stereo/mono/joint stereo at
 * 32/44.1/48 kHz, MPEG-2 LSF at 22.05 kHz, MPEG-2.5 at 8 and 11.025 kHz, transients that switch to short blocks),
 * exactly one frame's samples per frame (timestamps depend on it), MP2 too, and fuzzing.
 */
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { decodeMp3, Mp3Decoder, mp3FrameSpans } from "../../../lib/media/audio/mp3-decoder.ts";
import { parseMpegAudioHeader } from "../../../lib/media/mp3.ts";
import { rng } from "../media/util.ts";
import { bestLag, channel, ffmpegDecode, peakFrequency, rms } from "./util.ts";
import { tempDir } from "../../helpers/temp.ts";

const dir = tempDir("srs-mp3-");
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

/** An MP3 file made by FFmpeg/libmp3lame from lavfi sources; returns its path. */
function makeMp3(name: string, inputs: string[], args: string[], codec = "libmp3lame"): string {
  const out = join(dir, `${name}.mp3`);
  const ins = inputs.flatMap((i) => ["-f", "lavfi", "-i", i]);
  execFileSync("ffmpeg", ["-v", "error", "-y", ...ins, ...args, "-c:a", codec, "-f", codec === "mp2" ? "mp2" : "mp3", out]);
  return out;
}

const sine = (f: number, rate: number, d = 5): string => `sine=frequency=${f}:sample_rate=${rate}:duration=${d}`;
/** Clicks and noise bursts on low tones: the encoder switches to short blocks around each. */
const transients = (rate: number): string =>
  `aevalsrc=exprs='0.8*sin(2*PI*3000*t)*lt(mod(t\\,0.3)\\,0.004)+0.2*sin(2*PI*300*t)|` +
  `0.5*random(0)*lt(mod(t+0.1\\,0.37)\\,0.01)+0.1*sin(2*PI*500*t)':s=${rate}:d=5`;

interface Clip {
  name: string;
  path: () => string;
  rate: number;
  channels: number;
  /** Expected dominant tone per channel (0: not checked). */
  tones: number[];
  /** RMS difference allowed from FFmpeg's output (default 1e-6). */
  tolerance?: number;
}

const clips: Clip[] = [
  {
    name: "stereo 44.1 kHz 128k (1000 Hz / 440 Hz)", rate: 44100, channels: 2, tones: [1000, 440],
    path: () => makeMp3("st", [sine(1000, 44100), sine(440, 44100)], ["-filter_complex", "amerge", "-b:a", "128k"]),
  },
  {
    name: "mono 44.1 kHz 64k", rate: 44100, channels: 1, tones: [1000],
    path: () => makeMp3("mono", [sine(1000, 44100)], ["-b:a", "64k"]),
  },
  {
    name: "stereo 48 kHz 192k", rate: 48000, channels: 2, tones: [1000, 440],
    path: () => makeMp3("st48", [sine(1000, 48000), sine(440, 48000)], ["-filter_complex", "amerge", "-b:a", "192k"]),
  },
  {
    name: "MPEG-2 LSF stereo 22.05 kHz 64k", rate: 22050, channels: 2, tones: [1000, 440],
    path: () => makeMp3("lsf", [sine(1000, 22050), sine(440, 22050)], ["-filter_complex", "amerge", "-b:a", "64k"]),
  },
  {
    // nearly identical channels (tone + the same noise): LAME codes (almost) every frame mid/side
    name: "joint stereo (M/S) 44.1 kHz 64k", rate: 44100, channels: 2, tones: [660, 660],
    path: () => makeMp3("joint", [
      "aevalsrc=exprs='0.5*sin(2*PI*660*t)+0.1*random(0)|0.5*sin(2*PI*660*t)+0.1*random(0)+0.01*sin(2*PI*5000*t)':s=44100:d=5",
    ], ["-b:a", "64k", "-joint_stereo", "1"]),
  },
  {
    name: "transients, short blocks, 48 kHz 160k", rate: 48000, channels: 2, tones: [0, 0],
    path: () => makeMp3("tr48", [transients(48000)], ["-b:a", "160k"]),
  },
  {
    name: "transients, short blocks, MPEG-2 LSF 22.05 kHz 48k", rate: 22050, channels: 2, tones: [0, 0],
    path: () => makeMp3("tr22", [transients(22050)], ["-b:a", "48k"]),
  },
  {
    name: "32 kHz stereo 48k", rate: 32000, channels: 2, tones: [1000, 440],
    path: () => makeMp3("st32", [sine(1000, 32000), sine(440, 32000)], ["-filter_complex", "amerge", "-b:a", "48k"]),
  },
  {
    name: "MPEG-2.5 11.025 kHz mono 24k", rate: 11025, channels: 1, tones: [1000],
    path: () => makeMp3("m11", [sine(1000, 11025)], ["-b:a", "24k"]),
  },
  {
    name: "MPEG-2.5 8 kHz stereo 16k (transients)", rate: 8000, channels: 2, tones: [0, 0],
    path: () => makeMp3("tr8", [transients(8000)], ["-b:a", "16k"]),
  },
  {
    // FFmpeg's MP2 decoder is fixed-point: ~1e-5 from libmpg123's float output (still > 90 dB SNR)
    name: "MPEG-1 Layer II (MP2) stereo 48 kHz 192k", rate: 48000, channels: 2, tones: [1000, 440], tolerance: 1e-4,
    path: () => makeMp3("mp2", [sine(1000, 48000), sine(440, 48000)], ["-filter_complex", "amerge", "-b:a", "192k"], "mp2"),
  },
];

describe("MP3 decoder against FFmpeg", () => {
  for (const c of clips) {
    test(c.name, async () => {
      const file = c.path();
      const bytes = new Uint8Array(readFileSync(file));
      const dec = await Mp3Decoder.create();
      const spans = mp3FrameSpans(bytes);
      const ours: Float32Array[] = [];
      for (let ch = 0; ch < c.channels; ch++) ours.push(new Float32Array(spans.length * 1152));
      let n = 0;
      for (const [s, e] of spans) {
        const frame = bytes.subarray(s, e);
        const r = dec.decodeFrame(frame);
        expect(r.channels).toBe(c.channels);
        expect(r.samples).toBe(parseMpegAudioHeader(frame, 0)!.samplesPerFrame); // one frame's worth, always
        for (let ch = 0; ch < c.channels; ch++) ours[ch]!.set(r.pcm[ch]!.subarray(0, r.samples), n);
        n += r.samples;
      }
      expect(dec.errors).toBe(0);
      expect(dec.sampleRate).toBe(c.rate);
      const ref = ffmpegDecode(file, c.channels);
      const lines: string[] = [];
      for (let ch = 0; ch < c.channels; ch++) {
        const r = channel(ref, c.channels, ch);
        // FFmpeg drops the encoder + decoder delay (576 + 529) and the LAME "Info" frame, which we decode as a
        // frame of silence: align by correlation over the start of FFmpeg's output (the onset makes the lag of a
        // pure tone unambiguous)
        const lag = bestLag(r, ours[ch]!, 0, 4000, 0, 8192);
        const len = Math.min(r.length, n - lag) - 1024;
        const e = rms(r, ours[ch]!, 0, len, lag);
        let peak = 0;
        for (let i = 0; i < len; i++) peak = Math.max(peak, Math.abs(r[i]! - ours[ch]![i + lag]!));
        let energy = 0;
        for (let i = 0; i < len; i++) energy += r[i]! * r[i]!;
        lines.push(`ch${ch}: lag ${lag}, RMS diff ${e.toExponential(2)}, max ${peak.toExponential(2)}, signal RMS ${Math.sqrt(energy / len).toFixed(3)}`);
        expect(energy / len).toBeGreaterThan(1e-4);
        // README: within 3e-7 RMS (measured 5e-8 to 3e-7: float rounding, FFmpeg vs libmpg123)
        expect(e).toBeLessThan(c.tolerance ?? 5e-7);
        if (c.tones[ch]) expect(Math.abs(peakFrequency(ours[ch]!, c.rate, lag + 4096) - c.tones[ch]!)).toBeLessThan(3);
        for (let i = 0; i < n; i++) if (!Number.isFinite(ours[ch]![i]!)) throw new Error("non-finite sample");
      }
      console.log(`${c.name}: ${spans.length} frames; ${lines.join("; ")}`);
      dec.free();
    });
  }

  test("the joint-stereo clip really is coded mid/side", () => {
    const bytes = new Uint8Array(readFileSync(join(dir, "joint.mp3")));
    const ms = mp3FrameSpans(bytes).filter(([s]) => (bytes[s + 3]! >> 6) === 1 && ((bytes[s + 3]! >> 4) & 2) !== 0);
    expect(ms.length).toBeGreaterThan(100);
  });

  test("decodeMp3 (whole files): an ID3v2 tag in front is skipped", async () => {
    const file = join(dir, "st.mp3");
    const raw = new Uint8Array(readFileSync(file));
    const id3 = new Uint8Array(10 + 300);
    id3.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 2, 44]); // size 300 (syncsafe)
    id3.fill(0xff, 10);
    const tagged = new Uint8Array(id3.length + raw.length);
    tagged.set(id3);
    tagged.set(raw, id3.length);
    const a = await decodeMp3(raw);
    const b = await decodeMp3(tagged);
    expect(a.frames).toBeGreaterThan(100);
    expect(b.frames).toBe(a.frames);
    expect(b.errors).toBe(0);
    expect(rms(a.pcm[0]!, b.pcm[0]!, 0, a.pcm[0]!.length)).toBe(0);
  });
});

describe("MP3 decoder fuzzing", () => {
  function finite(pcm: Float32Array[], channels: number, n: number): boolean {
    for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) if (!Number.isFinite(pcm[c]![i]!)) return false;
    return true;
  }

  test("random bytes, bit flips, truncation, frames out of order: no throw, no NaN, one frame's samples each", async () => {
    const rand = rng(99);
    const started = performance.now();
    let concealed = 0;
    for (const name of ["st", "lsf", "tr48", "joint", "mono"]) {
      const bytes = new Uint8Array(readFileSync(join(dir, `${name}.mp3`)));
      const spans = mp3FrameSpans(bytes);
      const dec = await Mp3Decoder.create();
      for (let round = 0; round < 3; round++) {
        for (const [s, e] of spans) {
          const f = bytes.slice(s, e);
          const kind = Math.floor(rand() * 5);
          if (kind === 1) for (let k = 0; k < 1 + rand() * 20; k++) f[4 + Math.floor(rand() * (f.length - 4))]! ^= 1 << Math.floor(rand() * 8);
          if (kind === 2) f.set(f.subarray(0, 4)); // header only changes nothing; below: side info scrambled
          if (kind === 2) for (let i = 4; i < Math.min(f.length, 40); i++) f[i] = Math.floor(rand() * 256);
          const input = kind === 3 ? f.subarray(0, Math.floor(rand() * f.length)) : f;
          const r = dec.decodeFrame(input);
          if (!r.ok) concealed++;
          if (input.length >= 4) expect(r.samples).toBe(parseMpegAudioHeader(f, 0)!.samplesPerFrame);
          expect(finite(r.pcm, r.channels, r.samples)).toBe(true);
        }
      }
      // random bytes, random headers
      for (let k = 0; k < 300; k++) {
        const f = new Uint8Array(Math.floor(rand() * 1500));
        for (let i = 0; i < f.length; i++) f[i] = Math.floor(rand() * 256);
        if (f.length >= 4 && rand() < 0.7) f.set(bytes.subarray(spans[5]![0], spans[5]![0] + 4)); // a valid header
        const r = dec.decodeFrame(f);
        expect(finite(r.pcm, r.channels, r.samples)).toBe(true);
      }
      const c = dec.concealFrame();
      expect(c.ok).toBe(false);
      expect(finite(c.pcm, c.channels, c.samples)).toBe(true);
      expect(dec.errors).toBeGreaterThan(0);
      // the stream splitter on garbage
      const junk = new Uint8Array(20000);
      for (let i = 0; i < junk.length; i++) junk[i] = rand() < 0.2 ? 0xff : Math.floor(rand() * 256);
      for (const [s, e] of mp3FrameSpans(junk)) expect(e).toBeGreaterThan(s);
      expect((await decodeMp3(junk)).pcm.every((p) => p.every(Number.isFinite))).toBe(true);
      dec.free();
    }
    const ms = performance.now() - started;
    console.log(`MP3 fuzz: ${concealed} frames concealed, ${ms.toFixed(0)} ms`);
    expect(concealed).toBeGreaterThan(100); // the truncated ones at least
  }, 60_000);

  test("a decoder recovers after corruption: clean frames decode exactly again once the reservoir refills", async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, "st.mp3")));
    const spans = mp3FrameSpans(bytes);
    const clean = await Mp3Decoder.create();
    const hurt = await Mp3Decoder.create();
    let diff = 0;
    spans.forEach(([s, e], i) => {
      const f = bytes.subarray(s, e);
      const a = clean.decodeFrame(f);
      const bad = f.slice();
      if (i === 50) bad.fill(0x55, 10);
      const b = hurt.decodeFrame(i === 50 ? bad : f);
      if (i > 60) for (let j = 0; j < a.samples; j++) diff = Math.max(diff, Math.abs(a.pcm[0]![j]! - b.pcm[0]![j]!));
    });
    expect(diff).toBeLessThan(1e-6);
  });
});
