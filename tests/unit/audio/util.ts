/** Helpers for the audio bridge tests: AAC frames from the test clips, FFmpeg decoding, signal measurements. */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import { buildAdtsHeader, parseAudioSpecificConfig } from "../../../lib/media/aac.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";
import type { ClipName } from "../../helpers/media.ts";
import { tempDir } from "../../helpers/temp.ts";

/** The audio packets of an FLV clip: the AAC config packet and the raw frames. */
export function clipAudio(name: ClipName = "clip.flv"): { asc: Uint8Array; frames: MediaPacket[] } {
  const file = new Uint8Array(readFileSync(clip(name)));
  const { tags } = demuxFlv(file);
  let asc: Uint8Array | undefined;
  const frames: MediaPacket[] = [];
  for (const t of tags) {
    if (t.type !== 8) continue;
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (!p || p.codec !== "aac") continue;
    if (p.config) asc = p.data;
    else frames.push(p);
  }
  if (!asc) throw new Error(`${name}: no AAC sequence header`);
  return { asc, frames };
}

/** Raw AAC frames + ASC -> ADTS byte stream. */
export function toAdts(asc: Uint8Array, frames: Uint8Array[]): Uint8Array {
  const cfg = parseAudioSpecificConfig(asc);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const f of frames) {
    const h = buildAdtsHeader(cfg, f.length);
    parts.push(h, f);
    total += h.length + f.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** FFmpeg-decoded interleaved float PCM of a file or of bytes in a given input format. */
export function ffmpegDecode(input: string | { data: Uint8Array; format: string }, channels: number, extra: string[] = []): Float32Array {
  const dir = tempDir("srs-audio-");
  try {
    let args: string[];
    if (typeof input === "string") {
      args = ["-i", input];
    } else {
      const p = join(dir, `in.${input.format}`);
      writeFileSync(p, input.data);
      args = ["-f", input.format, "-i", p];
    }
    const out = execFileSync("ffmpeg", ["-v", "error", ...args, "-vn", ...extra, "-ac", String(channels), "-f", "f32le", "-acodec", "pcm_f32le", "-"], {
      maxBuffer: 512 << 20,
    });
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    return new Float32Array(bytes.slice().buffer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Interleaved -> one channel. */
export function channel(inter: Float32Array, channels: number, c: number): Float32Array {
  const n = Math.floor(inter.length / channels);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = inter[i * channels + c]!;
  return out;
}

/** Dominant frequency (Hz) of a signal by a Hann-windowed DFT scan with parabolic refinement over 20..20000 Hz. */
export function peakFrequency(x: Float32Array, sampleRate: number, start = 0, len = 8192): number {
  const n = Math.min(len, x.length - start);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = x[start + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  // power spectrum via a real DFT on bins of interest (n up to 8192: use FFT)
  const size = 1 << Math.ceil(Math.log2(n));
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  re.set(w);
  fft(re, im);
  let best = 1;
  let bestP = 0;
  const lo = Math.max(1, Math.floor((20 * size) / sampleRate));
  const hi = Math.min(size / 2 - 1, Math.floor((20000 * size) / sampleRate));
  const pw = (k: number): number => re[k]! * re[k]! + im[k]! * im[k]!;
  for (let k = lo; k <= hi; k++) {
    const p = pw(k);
    if (p > bestP) {
      bestP = p;
      best = k;
    }
  }
  const a = Math.log(pw(best - 1) + 1e-30);
  const b = Math.log(pw(best) + 1e-30);
  const c = Math.log(pw(best + 1) + 1e-30);
  const d = (a - c) / (2 * (a - 2 * b + c));
  return ((best + (Number.isFinite(d) ? d : 0)) * sampleRate) / size;
}

function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const c = Math.cos(ang * k);
        const s = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b]! * c - im[b]! * s;
        const xi = re[b]! * s + im[b]! * c;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/**
 * The lag (in samples, `test` relative to `ref`) maximizing the normalized cross-correlation over [minLag, maxLag],
 * evaluated on a window of `len` samples from `start` of ref.
 */
export function bestLag(ref: Float32Array, test: Float32Array, minLag: number, maxLag: number, start = 4096, len = 8192): number {
  let best = 0;
  let bestC = -Infinity;
  for (let lag = minLag; lag <= maxLag; lag++) {
    let c = 0;
    let e = 0;
    for (let i = start; i < start + len; i++) {
      const j = i + lag;
      if (j < 0 || j >= test.length || i >= ref.length) continue;
      c += ref[i]! * test[j]!;
      e += test[j]! * test[j]!;
    }
    const score = e > 0 ? c / Math.sqrt(e) : -Infinity;
    if (score > bestC) {
      bestC = score;
      best = lag;
    }
  }
  return best;
}

/**
 * SNR (dB) of `test` against `ref` with `test` shifted by `lag`, over [start, start+len), after a least-squares
 * gain match (so a small level difference from resampling filters is not counted as noise).
 */
export function snrDb(ref: Float32Array, test: Float32Array, lag: number, start: number, len: number): number {
  let rr = 0;
  let rt = 0;
  let tt = 0;
  for (let i = start; i < start + len; i++) {
    const r = ref[i]!;
    const t = test[i + lag] ?? 0;
    rr += r * r;
    rt += r * t;
    tt += t * t;
  }
  const g = tt > 0 ? rt / tt : 1;
  let noise = 0;
  for (let i = start; i < start + len; i++) {
    const d = ref[i]! - g * (test[i + lag] ?? 0);
    noise += d * d;
  }
  return 10 * Math.log10(rr / Math.max(noise, 1e-30));
}

export function rms(a: Float32Array, b: Float32Array, start: number, len: number, lag = 0): number {
  let s = 0;
  for (let i = start; i < start + len; i++) {
    const d = a[i]! - (b[i + lag] ?? 0);
    s += d * d;
  }
  return Math.sqrt(s / len);
}
