/**
 * Probe for tests/e2e/audio-arm64.test.ts: runs the in-process audio codecs inside a compiled executable (any
 * target) and prints JSON measurements. No FFmpeg here: tones are generated, and quality is measured by fitting
 * a sine to the output (SNR = tone energy / everything else) and finding its frequency.
 *
 *   ./probe [file.mp3]   -> {"arch", "aac", "aacOpusAac", "mp3", "mp3Opus", "mp3CpuPercent"}
 * Each codec entry: {"freq": [left Hz, right Hz], "snr": [left dB, right dB]}; the tones are 1000 Hz left, 440 Hz
 * right (the MP3 file is expected to carry the same).
 */
import { readFileSync } from "node:fs";
import { AacDecoder } from "../../lib/media/audio/aac-decoder.ts";
import { AacEncoder } from "../../lib/media/audio/aac-encoder.ts";
import { decodeMp3, mp3FrameSpans } from "../../lib/media/audio/mp3-decoder.ts";
import { OpusDecoder } from "../../lib/media/audio/opus.ts";
import { AacToOpus, Mp3ToOpus, OpusToAac } from "../../lib/media/audio/transcoder.ts";
import { parseMpegAudioHeader } from "../../lib/media/mp3.ts";
import type { MediaPacket } from "../../lib/media/packet.ts";

/** Power of x at frequency f (Goertzel over x[start, start + len)). */
function power(x: Float32Array, rate: number, f: number, start: number, len: number): number {
  const w = (2 * Math.PI * f) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < len; i++) {
    const win = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / len);
    const s0 = x[start + i]! * win + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/** Dominant frequency in 50..5000 Hz: 10 Hz scan, then 0.05 Hz refinement around the peak. */
function frequency(x: Float32Array, rate: number, start: number, len: number): number {
  let best = 50;
  let bestP = -1;
  for (let f = 50; f <= 5000; f += 10) {
    const p = power(x, rate, f, start, len);
    if (p > bestP) [best, bestP] = [f, p];
  }
  let fine = best;
  bestP = -1;
  for (let f = best - 10; f <= best + 10; f += 0.05) {
    const p = power(x, rate, f, start, len);
    if (p > bestP) [fine, bestP] = [f, p];
  }
  return Math.round(fine * 100) / 100;
}

/** SNR (dB) of a least-squares sine fit (a cos + b sin + dc) at frequency f over x[start, start + len). */
function sineSnr(x: Float32Array, rate: number, f: number, start: number, len: number): number {
  const w = (2 * Math.PI * f) / rate;
  let cc = 0, ss = 0, cs = 0, xc = 0, xs = 0, sum = 0;
  for (let i = 0; i < len; i++) {
    const c = Math.cos(w * i);
    const s = Math.sin(w * i);
    const v = x[start + i]!;
    cc += c * c; ss += s * s; cs += c * s; xc += v * c; xs += v * s; sum += v;
  }
  const det = cc * ss - cs * cs;
  const a = (xc * ss - xs * cs) / det;
  const b = (xs * cc - xc * cs) / det;
  const dc = sum / len;
  let sig = 0;
  let err = 0;
  for (let i = 0; i < len; i++) {
    const fit = a * Math.cos(w * i) + b * Math.sin(w * i);
    const v = x[start + i]! - dc;
    sig += fit * fit;
    err += (v - fit) * (v - fit);
  }
  return Math.round(10 * Math.log10(sig / Math.max(err, 1e-30)) * 10) / 10;
}

interface Measure {
  freq: number[];
  snr: number[];
}

function measure(ch: Float32Array[], rate: number): Measure {
  const len = 8192;
  const start = Math.floor(ch[0]!.length / 2) - len / 2; // the middle: away from codec start-up
  const freq = ch.map((x) => frequency(x, rate, start, len));
  return { freq, snr: ch.map((x, i) => sineSnr(x, rate, freq[i]!, start, len)) };
}

/** Two seconds of 1000 Hz left / 440 Hz right at `rate`, amplitude 0.5. */
function tones(rate: number, seconds: number): Float32Array[] {
  const n = rate * seconds;
  const l = new Float32Array(n);
  const r = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    l[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate);
    r[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate);
  }
  return [l, r];
}

/** Growable planar collector. */
function collect(): { push(pcm: Float32Array[], n: number): void; out(): Float32Array[] } {
  const parts: Float32Array[][] = [];
  return {
    push(pcm, n) {
      parts.push([pcm[0]!.slice(0, n), pcm[Math.min(1, pcm.length - 1)]!.slice(0, n)]);
    },
    out() {
      const total = parts.reduce((a, p) => a + p[0]!.length, 0);
      const res = [new Float32Array(total), new Float32Array(total)];
      let o = 0;
      for (const p of parts) {
        res[0]!.set(p[0]!, o);
        res[1]!.set(p[1]!, o);
        o += p[0]!.length;
      }
      return res;
    },
  };
}

// 1. AAC encode -> decode, 44.1 kHz stereo 96 kbps
const rate = 44100;
const src = tones(rate, 2);
const enc = new AacEncoder({ sampleRate: rate, channels: 2, bitrate: 96000 });
const aacFrames: Uint8Array[] = [];
for (let o = 0; o + 1024 <= src[0]!.length; o += 1024) aacFrames.push(enc.encode([src[0]!.subarray(o), src[1]!.subarray(o)]));
const dec = new AacDecoder(enc.config);
const aacOut = collect();
for (const f of aacFrames) {
  const r = dec.decode(f);
  aacOut.push(r.pcm, 1024);
}
const aac = measure(aacOut.out(), rate);

// 2. AAC -> Opus -> AAC through the transcoders (opusscript's WebAssembly loaded from the executable)
const a2o = new AacToOpus({ bitrate: 96000 });
const o2a = new OpusToAac({ bitrate: 128000, sampleRate: 44100 });
const cfg: MediaPacket = { kind: "audio", codec: "aac", dts: 0, pts: 0, keyframe: false, config: true, data: enc.config };
const opus: MediaPacket[] = [...a2o.push(cfg)];
aacFrames.forEach((data, k) => {
  const dts = Math.round((k * 1024 * 1000) / rate);
  opus.push(...a2o.push({ kind: "audio", codec: "aac", dts, pts: dts, keyframe: false, config: false, data }));
});
const back: MediaPacket[] = [];
for (const p of opus) back.push(...o2a.push(p));
const dec2 = new AacDecoder(back.find((p) => p.config)!.data);
const rtOut = collect();
for (const p of back) if (!p.config) rtOut.push(dec2.decode(p.data).pcm, 1024);
const aacOpusAac = measure(rtOut.out(), rate);
a2o.close();
o2a.close();

// 3. MP3 decode and MP3 -> Opus of the file given
let mp3: Measure | undefined;
let mp3Opus: Measure | undefined;
let mp3CpuPercent: number | undefined;
let mp3Errors: number | undefined;
const file = process.argv[2];
if (file) {
  const bytes = new Uint8Array(readFileSync(file));
  const t0 = performance.now();
  const d = await decodeMp3(bytes);
  const ms = performance.now() - t0;
  mp3CpuPercent = Math.round((ms / ((d.pcm[0]!.length / d.sampleRate) * 1000)) * 10000) / 100;
  mp3Errors = d.errors;
  mp3 = measure(d.pcm.length > 1 ? d.pcm : [d.pcm[0]!, d.pcm[0]!], d.sampleRate);
  const m2o = await Mp3ToOpus.create({ bitrate: 96000 });
  const od = new OpusDecoder({ channels: 2 });
  const oOut = collect();
  let samples = 0;
  for (const [s, e] of mp3FrameSpans(bytes)) {
    const data = bytes.subarray(s, e);
    const h = parseMpegAudioHeader(data)!;
    const dts = Math.round((samples * 1000) / h.sampleRate);
    samples += h.samplesPerFrame;
    for (const p of m2o.push({ kind: "audio", codec: "mp3", dts, pts: dts, keyframe: false, config: false, data })) {
      if (p.config) continue;
      const r = od.decode(p.data);
      oOut.push(r.pcm, r.samples);
    }
  }
  m2o.close();
  od.close();
  mp3Opus = measure(oOut.out(), 48000);
}

console.log(JSON.stringify({ arch: process.arch, aac, aacOpusAac, mp3, mp3Opus, mp3Errors, mp3CpuPercent }));
