/**
 * Audio bridge quality tests: our AAC decoder against FFmpeg, our AAC encoder decoded by FFmpeg, the full
 * AAC -> Opus -> AAC round trip, fuzzing of both decoders, and hour-long timestamp accuracy of the transcoders.
 */
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { adtsToAudioSpecificConfig, buildAudioSpecificConfig, parseAdtsHeader } from "../../../lib/media/aac.ts";
import { AacDecoder } from "../../../lib/media/audio/aac-decoder.ts";
import { AacEncoder } from "../../../lib/media/audio/aac-encoder.ts";
import { SCF_BOOK, SPECTRUM_BOOKS } from "../../../lib/media/audio/aac-tables.ts";
import { Mdct } from "../../../lib/media/audio/mdct.ts";
import { OpusDecoder, OpusEncoder, opusPacketSamples } from "../../../lib/media/audio/opus.ts";
import { Resampler } from "../../../lib/media/audio/resampler.ts";
import { AacToOpus, OpusToAac } from "../../../lib/media/audio/transcoder.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { rng } from "../media/util.ts";
import { bestLag, channel, clipAudio, ffmpegDecode, peakFrequency, rms, snrDb, toAdts } from "./util.ts";
import { tempDir } from "../../helpers/temp.ts";

/** Decode raw AAC frames with our decoder into planar arrays (first two channels). */
function ourDecode(asc: Uint8Array, frames: Uint8Array[]): { l: Float32Array; r: Float32Array; bad: number } {
  const dec = new AacDecoder(asc);
  const l = new Float32Array(frames.length * 1024);
  const r = new Float32Array(frames.length * 1024);
  let bad = 0;
  frames.forEach((f, i) => {
    const o = dec.decode(f);
    if (!o.ok) bad++;
    l.set(o.pcm[0]!, i * 1024);
    r.set(o.pcm[Math.min(1, o.pcm.length - 1)]!, i * 1024);
  });
  return { l, r, bad };
}

/** Lag of a stereo pair against a reference pair, by the summed normalized cross-correlation of both channels. */
function stereoLag(refL: Float32Array, refR: Float32Array, l: Float32Array, r: Float32Array, lo: number, hi: number): number {
  let best = lo;
  let bestScore = -Infinity;
  for (let lag = lo; lag <= hi; lag++) {
    let c = 0;
    let e = 0;
    for (let i = 20000; i < 60000; i++) {
      const j = i + lag;
      if (j < 0 || j >= l.length) continue;
      c += refL[i]! * l[j]! + refR[i]! * r[j]!;
      e += l[j]! * l[j]! + r[j]! * r[j]!;
    }
    const s = e > 0 ? c / Math.sqrt(e) : -Infinity;
    if (s > bestScore) {
      bestScore = s;
      best = lag;
    }
  }
  return best;
}

function adtsFrames(file: Uint8Array): { asc: Uint8Array; frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  let asc: Uint8Array | undefined;
  for (let off = 0; off < file.length;) {
    const h = parseAdtsHeader(file, off);
    if (!h) throw new Error(`bad ADTS at ${off}`);
    asc ??= adtsToAudioSpecificConfig(h);
    frames.push(file.subarray(off + h.headerLength, off + h.frameLength));
    off += h.frameLength;
  }
  return { asc: asc!, frames };
}

/** An ADTS stream by FFmpeg's AAC encoder of noise + tone + clicks with the given tools. */
function ffmpegAac(tools: string[]): string {
  const dir = tempDir("srs-aac-");
  const p = join(dir, "t.aac");
  const src = "anoisesrc=color=pink:amplitude=0.3:duration=4:sample_rate=44100:seed=7,volume=0.5[n];" +
    "sine=f=660:d=4:sample_rate=44100[s];aevalsrc=if(lt(mod(t\\,0.5)\\,0.01)\\,0.8*sin(2*PI*3000*t)\\,0):d=4:s=44100[c];" +
    "[n][s][c]amix=inputs=3,aformat=channel_layouts=mono[m];[m]asplit[a][b];[b]adelay=7[bd];[a][bd]amerge=inputs=2";
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", src, "-c:a", "aac", "-b:a", "48k", ...tools, "-f", "adts", p]);
  return p;
}

describe("AAC tables and transforms", () => {
  test("every Huffman codebook is a complete prefix code (Kraft sum 1, no codeword a prefix of another)", () => {
    for (const [name, book] of [["scf", SCF_BOOK], ...SPECTRUM_BOOKS.slice(1).map((b, i) => [`book${i + 1}`, b] as const)] as const) {
      let kraft = 0;
      const seen = new Set<string>();
      const words: string[] = [];
      for (let i = 0; i < book.len.length; i++) {
        kraft += 2 ** -book.len[i]!;
        words.push(book.code[i]!.toString(2).padStart(book.len[i]!, "0"));
      }
      expect({ name, kraft }).toEqual({ name, kraft: 1 });
      words.sort();
      for (let i = 1; i < words.length; i++) expect(words[i]!.startsWith(words[i - 1]!)).toBe(false);
      for (const w of words) seen.add(w);
      expect(seen.size).toBe(book.len.length);
    }
    expect(SCF_BOOK.len.length).toBe(121);
    expect(SPECTRUM_BOOKS.map((b) => b.len.length)).toEqual([0, 81, 81, 81, 81, 81, 81, 64, 64, 169, 169, 289]);
  });

  test("MDCT/IMDCT match the direct definitions", () => {
    for (const N of [256, 2048]) {
      const md = new Mdct(N);
      const M = N / 2;
      const n0 = (N / 2 + 1) / 2;
      const X = new Float32Array(M).map((_, i) => Math.sin(i * 1.7) + (i % 7) * 0.1);
      const y = new Float64Array(N);
      md.inverse(X, 0, y, 0, 1);
      let err = 0;
      for (let n = 0; n < N; n += 7) {
        let s = 0;
        for (let k = 0; k < M; k++) s += X[k]! * Math.cos(((2 * Math.PI) / N) * (n + n0) * (k + 0.5));
        err = Math.max(err, Math.abs(s - y[n]!));
      }
      expect(err).toBeLessThan(1e-6);
    }
  });

  test("resampler 44.1 <-> 48 kHz: > 80 dB SNR on tones, exact sample counts, state across odd chunk sizes", () => {
    for (const [a, b] of [[44100, 48000], [48000, 44100]] as const) {
      const r = new Resampler(a, b, 2);
      const x = new Float32Array(a);
      for (let i = 0; i < a; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / a);
      const out = [new Float32Array(b + 64), new Float32Array(b + 64)];
      let got = 0;
      for (let off = 0, step = 1; off < a; off += step, step = (step * 7) % 997 + 1) {
        got += r.process([x, x], Math.min(step, a - off), out, got, off);
      }
      expect(got).toBeGreaterThan(b - 40);
      let e = 0;
      let s = 0;
      for (let i = 1000; i < got - 100; i++) {
        const ref = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / b);
        e += (out[1]![i]! - ref) ** 2;
        s += ref * ref;
      }
      expect(10 * Math.log10(s / e)).toBeGreaterThan(80);
    }
  });
});

describe("AAC decoder vs FFmpeg", () => {
  test("clip.flv (AAC-LC 44.1 kHz stereo): within 1e-7 RMS of FFmpeg's decode (README: 1.2e-8), sample-aligned", () => {
    const { asc, frames } = clipAudio();
    const ours = ourDecode(asc, frames.map((f) => f.data));
    expect(ours.bad).toBe(0);
    const ff = ffmpegDecode(toAdts(asc, frames.map((f) => f.data)).length ? { data: toAdts(asc, frames.map((f) => f.data)), format: "aac" } : "", 2);
    const fl = channel(ff, 2, 0);
    const fr = channel(ff, 2, 1);
    // FFmpeg outputs the priming frame too: same start, same length, lag 0
    expect(fl.length).toBe(ours.l.length);
    expect(bestLag(fl, ours.l, -2048, 2048)).toBe(0);
    const eL = rms(fl, ours.l, 0, fl.length);
    const eR = rms(fr, ours.r, 0, fr.length);
    console.log(`decoder vs FFmpeg (clip.flv): RMS L ${eL.toExponential(2)}, R ${eR.toExponential(2)}`);
    // measured 1.2e-8 (float rounding: FFmpeg's float decoder vs our float64 pipeline), as the README says
    expect(eL).toBeLessThan(1e-7);
    expect(eR).toBeLessThan(1e-7);
  });

  test("FFmpeg encoder with TNS, M/S, intensity stereo (short windows on clicks): within 1e-7 RMS", () => {
    const p = ffmpegAac(["-aac_pns", "0", "-aac_is", "1", "-aac_ms", "1", "-aac_tns", "1"]);
    try {
      const { asc, frames } = adtsFrames(new Uint8Array(readFileSync(p)));
      const ours = ourDecode(asc, frames);
      expect(ours.bad).toBe(0);
      const ff = ffmpegDecode(p, 2);
      const eL = rms(channel(ff, 2, 0), ours.l, 0, ours.l.length);
      const eR = rms(channel(ff, 2, 1), ours.r, 0, ours.r.length);
      console.log(`decoder vs FFmpeg (TNS/MS/IS): RMS L ${eL.toExponential(2)}, R ${eR.toExponential(2)}`);
      // measured 4.8e-9
      expect(eL).toBeLessThan(1e-7);
      expect(eR).toBeLessThan(1e-7);
    } finally {
      rmSync(join(p, ".."), { recursive: true, force: true });
    }
  });

  test("FFmpeg encoder with PNS: same energy as FFmpeg's decode (noise bands are random by design)", () => {
    const p = ffmpegAac(["-aac_pns", "1", "-aac_is", "1", "-aac_ms", "1", "-aac_tns", "1"]);
    try {
      const { asc, frames } = adtsFrames(new Uint8Array(readFileSync(p)));
      const ours = ourDecode(asc, frames);
      expect(ours.bad).toBe(0);
      const fl = channel(ffmpegDecode(p, 2), 2, 0);
      let a = 0;
      let b = 0;
      for (let i = 0; i < fl.length; i++) {
        a += ours.l[i]! ** 2;
        b += fl[i]! ** 2;
      }
      console.log(`decoder vs FFmpeg (PNS): energy ratio ${(a / b).toFixed(4)}, RMS diff ${rms(fl, ours.l, 0, fl.length).toExponential(2)}`);
      expect(Math.abs(a / b - 1)).toBeLessThan(0.05);
      expect(snrDb(fl, ours.l, 0, 0, fl.length)).toBeGreaterThan(10);
    } finally {
      rmSync(join(p, ".."), { recursive: true, force: true });
    }
  });
});

describe("AAC encoder, decoded by FFmpeg", () => {
  for (const [rate, bitrate] of [[44100, 96000], [48000, 64000], [44100, 48000]] as const) {
    test(`${rate} Hz stereo at ${bitrate / 1000} kbps: 1 kHz / 440 Hz kept, SNR >= 20 dB, bitrate on target`, () => {
      const n = rate * 4;
      const L = new Float32Array(n);
      const R = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        L[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate);
        R[i] = 0.4 * Math.sin((2 * Math.PI * 440 * i) / rate);
      }
      const enc = new AacEncoder({ sampleRate: rate, channels: 2, bitrate });
      const frames: Uint8Array[] = [];
      for (let off = 0; off + 1024 <= n; off += 1024) frames.push(enc.encode([L, R], off));
      const bytes = frames.reduce((s, f) => s + f.length, 0);
      const kbps = (bytes * 8) / ((frames.length * 1024) / rate) / 1000;
      expect(kbps).toBeLessThan((bitrate / 1000) * 1.1);
      const ff = ffmpegDecode({ data: toAdts(enc.config, frames), format: "aac" }, 2);
      const fl = channel(ff, 2, 0);
      const fr = channel(ff, 2, 1);
      expect(fl.length).toBe(frames.length * 1024);
      expect(Math.abs(peakFrequency(fl, rate, 20000) - 1000)).toBeLessThan(3);
      expect(Math.abs(peakFrequency(fr, rate, 20000) - 440)).toBeLessThan(3);
      const lag = stereoLag(L, R, fl, fr, 0, 2048);
      expect(lag).toBe(enc.delay);
      const sL = snrDb(L, fl, lag, 4096, n - 8192);
      const sR = snrDb(R, fr, lag, 4096, n - 8192);
      console.log(`encoder ${rate}/${bitrate}: ${kbps.toFixed(1)} kbps, SNR L ${sL.toFixed(1)} dB, R ${sR.toFixed(1)} dB`);
      expect(sL).toBeGreaterThanOrEqual(20);
      expect(sR).toBeGreaterThanOrEqual(20);
      // and our own decoder agrees with FFmpeg's on our stream
      const ours = ourDecode(enc.config, frames);
      expect(ours.bad).toBe(0);
      expect(rms(fl, ours.l, 0, fl.length)).toBeLessThan(2e-7); // measured 4.5e-8 to 4.8e-8
    });
  }

  test("mono 48 kHz, silence, full-scale square wave and NaN input all produce valid frames", () => {
    const enc = new AacEncoder({ sampleRate: 48000, channels: 1, bitrate: 64000 });
    const x = new Float32Array(1024 * 30);
    for (let i = 0; i < x.length; i++) {
      const f = Math.floor(i / 1024);
      x[i] = f < 10 ? 0 : f < 20 ? (Math.floor(i / 50) % 2 ? 1 : -1) : f === 25 ? NaN : 0.3 * Math.sin(i / 10);
    }
    const frames: Uint8Array[] = [];
    for (let off = 0; off < x.length; off += 1024) frames.push(enc.encode([x], off));
    const ff = ffmpegDecode({ data: toAdts(enc.config, frames), format: "aac" }, 1);
    expect(ff.length).toBe(x.length);
    for (const v of ff) expect(Number.isFinite(v)).toBe(true);
    expect(ourDecode(enc.config, frames).bad).toBe(0);
  });
});

describe("AAC -> Opus -> AAC round trip", () => {
  test("clip.flv through AacToOpus and OpusToAac (44.1 kHz): tones kept, SNR >= 28 dB, timestamps aligned", () => {
    const { asc, frames } = clipAudio();
    const a2o = new AacToOpus({ bitrate: 96000 });
    const o2a = new OpusToAac({ bitrate: 128000, sampleRate: 44100 });
    const cfg: MediaPacket = { kind: "audio", codec: "aac", dts: frames[0]!.dts, pts: frames[0]!.dts, keyframe: false, config: true, data: asc };
    const opus: MediaPacket[] = [];
    for (const p of [cfg, ...frames]) opus.push(...a2o.push(p));
    const aac: MediaPacket[] = [];
    for (const p of opus) aac.push(...o2a.push(p));
    a2o.close();
    o2a.close();
    expect(opus[0]!.config).toBe(true);
    expect(aac[0]!.config).toBe(true);
    const aacFrames = aac.filter((p) => !p.config);
    expect(a2o.stats.decodeErrors + o2a.stats.decodeErrors).toBe(0);
    // The output timeline starts where the input does (first AAC frame at the input's first dts)
    expect(aacFrames[0]!.dts).toBe(frames[0]!.dts);
    const src = ourDecode(asc, frames.map((f) => f.data));
    const ff = ffmpegDecode({ data: toAdts(aac[0]!.data, aacFrames.map((p) => p.data)), format: "aac" }, 2);
    const fl = channel(ff, 2, 0);
    const fr = channel(ff, 2, 1);
    expect(Math.abs(peakFrequency(fl, 44100, 20000) - 1000)).toBeLessThan(3);
    expect(Math.abs(peakFrequency(fr, 44100, 20000) - 440)).toBeLessThan(3);
    // libopus's look-ahead (312 samples at 48 kHz) is removed by OpusToAac's pre-skip, so no delay is left.
    // (The two tones repeat together every 1102.5 samples: the search stays within half of that.)
    const lag = stereoLag(src.l, src.r, fl, fr, -500, 500);
    expect(Math.abs(lag)).toBeLessThanOrEqual(1);
    const len = Math.min(src.l.length, fl.length - lag) - 8192;
    const sL = snrDb(src.l, fl, lag, 8192, len - 8192);
    const sR = snrDb(src.r, fr, lag, 8192, len - 8192);
    console.log(`round trip AAC->Opus->AAC: lag ${lag} samples, SNR L ${sL.toFixed(1)} dB, R ${sR.toFixed(1)} dB`);
    // README: 30–34 dB (measured L 34.0, R 30.4)
    expect(sL).toBeGreaterThanOrEqual(28);
    expect(sR).toBeGreaterThanOrEqual(28);
  });
});

describe("fuzzing", () => {
  function finite(pcm: Float32Array[], n = 1024): boolean {
    for (const ch of pcm) for (let i = 0; i < n; i++) if (!Number.isFinite(ch[i]!)) return false;
    return true;
  }

  test("AAC decoder: bit flips, truncation, random bytes, wrong ASCs: no throw, no NaN, bounded time", () => {
    const { asc, frames } = clipAudio();
    const rand = rng(1234);
    const started = performance.now();
    const ascs = [asc, buildAudioSpecificConfig({ objectType: 2, sampleRate: 48000, channels: 1 }),
      buildAudioSpecificConfig({ objectType: 2, sampleRate: 8000, channels: 6 }), new Uint8Array([0x12]), new Uint8Array([0xff, 0xff]),
      new Uint8Array([0x2b, 0x92, 0x08, 0x00]), new Uint8Array([0x11, 0x80, 0x00]), new Uint8Array(0)];
    let concealed = 0;
    let total = 0;
    for (const a of ascs) {
      const dec = new AacDecoder(a);
      expect(dec.channels).toBeGreaterThan(0);
      for (let i = 0; i < 400; i++) {
        const src = frames[i % frames.length]!.data;
        let f: Uint8Array;
        const mode = i % 4;
        if (mode === 0) {
          f = src.slice();
          for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) f[Math.floor(rand() * f.length)]! ^= 1 << Math.floor(rand() * 8);
        } else if (mode === 1) {
          f = src.subarray(0, Math.floor(rand() * src.length));
        } else if (mode === 2) {
          f = new Uint8Array(Math.floor(rand() * 800)).map(() => Math.floor(rand() * 256));
        } else {
          f = src;
        }
        const r = dec.decode(f);
        total++;
        if (!r.ok) concealed++;
        expect(r.pcm.length).toBe(dec.channels);
        expect(finite(r.pcm)).toBe(true);
      }
    }
    const ms = performance.now() - started;
    console.log(`AAC fuzz: ${total} frames, ${concealed} concealed, ${ms.toFixed(0)} ms`);
    expect(concealed).toBeGreaterThan(0);
    expect(ms).toBeLessThan(20000);
  });

  test("Opus decoder: random packets, odd TOC codes, empty and lost packets: no throw, no NaN, bounded", () => {
    const dec = new OpusDecoder({ channels: 2 });
    const enc = new OpusEncoder({ channels: 2, bitrate: 64000 });
    const pcm = [new Float32Array(960).map((_, i) => Math.sin(i / 7)), new Float32Array(960)];
    const good = enc.encode(pcm, 0, 960)!;
    const rand = rng(99);
    const started = performance.now();
    for (let i = 0; i < 2000; i++) {
      let p: Uint8Array | null;
      const mode = i % 5;
      if (mode === 0) p = new Uint8Array(Math.floor(rand() * 300)).map(() => Math.floor(rand() * 256));
      else if (mode === 1) p = Uint8Array.of(Math.floor(rand() * 256) | 3, Math.floor(rand() * 256), 0xff, 0xff);
      else if (mode === 2) p = i % 10 === 2 ? null : new Uint8Array(0);
      else if (mode === 3) {
        p = good.slice();
        p[1 + Math.floor(rand() * (p.length - 1))]! ^= 0x55;
      } else p = good;
      const r = dec.decode(p);
      // an intact packet after all that garbage still decodes to its 20 ms; nothing ever exceeds Opus's 120 ms
      if (mode === 4) expect(r.samples).toBe(960);
      expect(Number.isInteger(r.samples) && r.samples >= 0 && r.samples <= 5760).toBe(true);
      expect(finite(r.pcm, r.samples)).toBe(true);
    }
    expect(opusPacketSamples(new Uint8Array(0))).toBe(0);
    expect(opusPacketSamples(Uint8Array.of(0xfc))).toBe(960);
    expect(performance.now() - started).toBeLessThan(20000);
    enc.close();
    dec.close();
  });

  test("transcoders survive junk packets and odd orders", () => {
    const a2o = new AacToOpus();
    const o2a = new OpusToAac();
    const rand = rng(5);
    const junk = (): Uint8Array => new Uint8Array(Math.floor(rand() * 200)).map(() => Math.floor(rand() * 256));
    for (let i = 0; i < 300; i++) {
      const dts = Math.floor(rand() * 100000);
      const config = rand() < 0.1;
      a2o.push({ kind: "audio", codec: "aac", dts, pts: dts, keyframe: false, config, data: config && rand() < 0.5 ? new Uint8Array([0x12, 0x10]) : junk() });
      o2a.push({ kind: "audio", codec: "opus", dts, pts: dts, keyframe: false, config, data: junk() });
    }
    a2o.close();
    o2a.close();
  });
});

describe("timestamps over one hour", () => {
  test("AacToOpus: 1 h of AAC frames at FLV-rounded ms timestamps -> Opus packets exactly 20 ms apart, final within 1 ms", () => {
    // a silent stereo AAC-LC 44.1 kHz frame from our encoder (decoding it is cheap)
    const enc = new AacEncoder({ sampleRate: 44100, channels: 2, bitrate: 96000 });
    const silent = enc.encode([new Float32Array(1024), new Float32Array(1024)]);
    const a2o = new AacToOpus({ channels: 1, bitrate: 24000, complexity: 0 });
    const t0 = 1000;
    a2o.push({ kind: "audio", codec: "aac", dts: t0, pts: t0, keyframe: false, config: true, data: enc.config });
    const frames = Math.ceil((3600 * 44100) / 1024);
    let last: MediaPacket | undefined;
    let count = 0;
    let prev = -1;
    let maxDev = 0;
    for (let k = 0; k < frames; k++) {
      const dts = t0 + Math.round((k * 1024 * 1000) / 44100); // what FLV carries
      for (const p of a2o.push({ kind: "audio", codec: "aac", dts, pts: dts, keyframe: false, config: false, data: silent })) {
        if (p.config) continue;
        if (prev >= 0) maxDev = Math.max(maxDev, Math.abs(p.dts - prev - 20));
        prev = p.dts;
        last = p;
        count++;
      }
    }
    a2o.close();
    expect(a2o.stats.resyncs).toBe(0);
    expect(a2o.stats.concealed).toBe(0);
    const exact = t0 + (count - 1) * 20; // packet j starts at sample 960 j of 48 kHz
    console.log(`AacToOpus 1 h: ${count} packets, last dts ${last!.dts} (exact ${exact}), input end ${t0 + (frames * 1024 * 1000) / 44100} ms`);
    expect(Math.abs(last!.dts - exact)).toBeLessThanOrEqual(1);
    expect(maxDev).toBe(0);
    // all input audio came out except what the resampler's look-ahead holds back (< 1 packet)
    expect(Math.abs(count * 20 - (frames * 1024 * 1000) / 44100)).toBeLessThan(21);
  }, 120_000);

  test("OpusToAac: 1 h of 20 ms Opus packets -> AAC frame timestamps from sample counts, final within 1 ms", () => {
    const oenc = new OpusEncoder({ channels: 1, bitrate: 16000, complexity: 0 });
    const silent = oenc.encode([new Float32Array(960)], 0, 960)!;
    oenc.close();
    const o2a = new OpusToAac({ sampleRate: 44100, channels: 1, bitrate: 64000 });
    const t0 = 5;
    const packets = 3600 * 50;
    let last: MediaPacket | undefined;
    let count = 0;
    for (let j = 0; j < packets; j++) {
      const dts = t0 + j * 20;
      for (const p of o2a.push({ kind: "audio", codec: "opus", dts, pts: dts, keyframe: false, config: false, data: silent })) {
        if (p.config) continue;
        last = p;
        count++;
      }
    }
    o2a.close();
    expect(o2a.stats.resyncs).toBe(0);
    const exact = t0 + ((count - 1) * 1024 * 1000) / 44100;
    console.log(`OpusToAac 1 h: ${count} frames, last dts ${last!.dts} (exact ${exact.toFixed(3)})`);
    expect(Math.abs(last!.dts - exact)).toBeLessThanOrEqual(1);
    expect(Math.abs((count * 1024 * 1000) / 44100 - packets * 20)).toBeLessThan(50);
  }, 120_000);

  test("gaps: a few lost packets are concealed keeping the timeline; a big jump restarts it", () => {
    const { asc, frames } = clipAudio();
    const a2o = new AacToOpus();
    a2o.push({ kind: "audio", codec: "aac", dts: 0, pts: 0, keyframe: false, config: true, data: asc });
    const out: MediaPacket[] = [];
    frames.slice(0, 100).forEach((f, i) => {
      if (i >= 40 && i < 43) return; // 3 frames lost
      out.push(...a2o.push(i >= 80 ? { ...f, dts: f.dts + 60000, pts: f.pts + 60000 } : f));
    });
    expect(a2o.stats.concealed).toBe(3);
    expect(a2o.stats.resyncs).toBe(1);
    const before = out.filter((p) => p.dts < 60000);
    for (let i = 1; i < before.length; i++) expect(before[i]!.dts - before[i - 1]!.dts).toBe(20);
    const after = out.filter((p) => p.dts >= 60000);
    expect(after[0]!.dts).toBe(frames[80]!.dts + 60000);
    a2o.close();
  });
});
