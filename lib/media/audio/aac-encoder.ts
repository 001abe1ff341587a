/**
 * AAC-LC encoder (ISO/IEC 14496-3 subpart 4): planar Float32 PCM (mono or stereo, any AAC sampling rate, 44.1 and
 * 48 kHz in practice) -> raw_data_block frames of 1024 samples + the AudioSpecificConfig.
 *
 * Tools: long blocks only (ONLY_LONG_SEQUENCE, sine window; no window switching, so sharp transients may pre-echo),
 * MDCT (4.6.11 with the forward scaling that the spec's IMDCT inverts), per-band M/S stereo decision in a CPE with
 * a common window, a band-energy noise allocation (constant noise-to-signal ratio per band with a high-frequency
 * tilt and a bitrate-dependent low-pass), a rate loop (bisection of that ratio against the exact bit count), a bit
 * reservoir, the spectral Huffman codebooks 1..11 with escapes (cheapest of the two books allowed by each band's
 * largest value), sections as runs of equal codebooks, DPCM Huffman scalefactors.
 *
 * Timing: frame k (k = 0, 1, ...) decodes to input samples [(k - 1) * 1024, k * 1024): the stream starts with 1024
 * samples of encoder delay (the usual AAC priming), which `delay` reports.
 */
import { buildAudioSpecificConfig } from "../aac.ts";
import { BOOK_DIM, BOOK_MOD, BOOK_UNSIGNED, SAMPLE_RATES, SCF_BOOK, SPECTRUM_BOOKS, swbInfo, windowRisingHalf } from "./aac-tables.ts";
import { Mdct } from "./mdct.ts";

export interface AacEncoderOptions {
  sampleRate: number;
  channels: 1 | 2;
  /** Target bitrate in bits per second (all channels); 48000..128000 recommended. Default 96000 (stereo), 64000 (mono). */
  bitrate?: number;
  /** Per-band M/S stereo decisions (default true). */
  midSide?: boolean;
  /** Audio bandwidth in Hz (default: chosen from the bitrate per channel). */
  bandwidth?: number;
}

class BitWriter {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  reset(): void {
    this.buf.fill(0, 0, (this.pos + 7) >> 3);
    this.pos = 0;
  }
  write(value: number, n: number): void {
    // n <= 32; written MSB first, bit by bit in chunks of the current byte
    while (n > 0) {
      const bitInByte = this.pos & 7;
      const room = 8 - bitInByte;
      const take = n < room ? n : room;
      const chunk = (value >>> (n - take)) & ((1 << take) - 1);
      this.buf[this.pos >> 3]! |= chunk << (room - take);
      this.pos += take;
      n -= take;
    }
  }
  align(): void {
    this.pos = (this.pos + 7) & ~7;
  }
}

/** Cost in bits of each codeword index of each book, including sign bits (escapes excluded). */
const COST: Uint8Array[] = SPECTRUM_BOOKS.map((b, book) => {
  const c = new Uint8Array(b.len.length);
  if (book === 0) return c;
  const dim = BOOK_DIM[book]!;
  const mod = BOOK_MOD[book]!;
  const unsigned = BOOK_UNSIGNED[book]!;
  const off = unsigned ? 0 : (mod - 1) >> 1;
  for (let i = 0; i < c.length; i++) {
    let nz = 0;
    if (unsigned) {
      if (dim === 4) {
        nz = (((i / 27) | 0) ? 1 : 0) + ((((i / 9) | 0) % 3) ? 1 : 0) + ((((i / 3) | 0) % 3) ? 1 : 0) + (i % 3 ? 1 : 0);
      } else {
        nz = (((i / mod) | 0) - off ? 1 : 0) + ((i % mod) - off ? 1 : 0);
      }
    }
    c[i] = b.len[i]! + nz;
  }
  return c;
});

/** Largest absolute value codable by each book. */
const BOOK_MAX = [0, 1, 1, 2, 2, 4, 4, 7, 7, 12, 12, 8191];

function escapeBits(v: number): number {
  if (v < 16) return 0;
  const n = 31 - Math.clz32(v) - 4; // v in [2^(n+4), 2^(n+5))
  return 2 * n + 5;
}

/** Codeword index of values at q[k..] for a book. */
function tupleIndex(q: Int32Array, k: number, book: number): number {
  switch (book) {
    case 1:
    case 2:
      return (q[k]! + 1) * 27 + (q[k + 1]! + 1) * 9 + (q[k + 2]! + 1) * 3 + (q[k + 3]! + 1);
    case 3:
    case 4:
      return Math.abs(q[k]!) * 27 + Math.abs(q[k + 1]!) * 9 + Math.abs(q[k + 2]!) * 3 + Math.abs(q[k + 3]!);
    case 5:
    case 6:
      return (q[k]! + 4) * 9 + (q[k + 1]! + 4);
    case 7:
    case 8:
      return Math.abs(q[k]!) * 8 + Math.abs(q[k + 1]!);
    case 9:
    case 10:
      return Math.abs(q[k]!) * 13 + Math.abs(q[k + 1]!);
    default:
      return Math.min(Math.abs(q[k]!), 16) * 17 + Math.min(Math.abs(q[k + 1]!), 16);
  }
}

function bandBits(q: Int32Array, start: number, end: number, book: number): number {
  const cost = COST[book]!;
  const dim = BOOK_DIM[book]!;
  let bits = 0;
  for (let k = start; k < end; k += dim) {
    bits += cost[tupleIndex(q, k, book)]!;
    if (book === 11) bits += escapeBits(Math.abs(q[k]!)) + escapeBits(Math.abs(q[k + 1]!));
  }
  return bits;
}

/** Best book for a band given its largest absolute value: [book, bits]. */
function chooseBook(q: Int32Array, start: number, end: number, maxQ: number): [number, number] {
  if (maxQ === 0) return [0, 0];
  let first = 1;
  while (BOOK_MAX[first]! < maxQ) first++;
  if (first === 11) return [11, bandBits(q, start, end, 11)];
  const a = bandBits(q, start, end, first);
  const b = bandBits(q, start, end, first + 1);
  return a <= b ? [first, a] : [first + 1, b];
}

const SCF_LEN = SCF_BOOK.len;
const SCF_CODE = SCF_BOOK.code;
const MAGIC = 0.4054;
const MAX_BANDS = 64;

class ChannelEnc {
  readonly prev = new Float32Array(1024); // previous input block (scaled)
  readonly block = new Float64Array(2048);
  readonly spec = new Float32Array(1024); // MDCT coefficients (L/R, or M/S in M/S bands)
  readonly xp = new Float32Array(1024); // |spec|^(3/4)
  readonly q = new Int32Array(1024);
  readonly energy = new Float64Array(MAX_BANDS); // mean power per coefficient
  readonly maxAbs = new Float64Array(MAX_BANDS);
  readonly mask = new Float64Array(MAX_BANDS); // masking level per coefficient (spread band powers)
  readonly sf = new Int32Array(MAX_BANDS);
  readonly book = new Uint8Array(MAX_BANDS);
  readonly bookBits = new Int32Array(MAX_BANDS);
  globalGain = 100;
}

export class AacEncoder {
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  readonly bitrate: number;
  /** AudioSpecificConfig (AAC-LC) for this stream. */
  readonly config: Uint8Array;
  /** Samples of encoder delay at the start of the decoded stream. */
  readonly delay = 1024;
  private readonly swb: Uint16Array;
  private readonly numSwb: number;
  private readonly maxSfbLimit: number;
  private readonly midSide: boolean;
  private readonly mdct = new Mdct(2048);
  private readonly window: Float64Array;
  private readonly ch: ChannelEnc[] = [];
  private readonly ms = new Uint8Array(MAX_BANDS);
  private readonly tilt = new Float64Array(MAX_BANDS);
  /** Absolute threshold (power per coefficient) per band. */
  private readonly ath = new Float64Array(MAX_BANDS);
  /** spread[b * MAX_BANDS + j]: linear masking factor of band j's power on band b. */
  private readonly spread: Float64Array;
  private readonly bw: BitWriter;
  private readonly meanBits: number;
  private readonly maxFrameBits: number;
  private readonly maxReservoir: number;
  private reservoir = 0;
  private lastSnr = 20;

  constructor(o: AacEncoderOptions) {
    if (o.channels !== 1 && o.channels !== 2) throw new RangeError(`AAC encoder: ${String(o.channels)} channels (1 or 2)`);
    const idx = SAMPLE_RATES.indexOf(o.sampleRate);
    if (idx < 0) throw new RangeError(`AAC encoder: unsupported sample rate ${o.sampleRate}`);
    this.sampleRate = o.sampleRate;
    this.channels = o.channels;
    this.bitrate = Math.max(8000 * o.channels, Math.min(o.bitrate ?? (o.channels === 2 ? 96000 : 64000), 288000 * o.channels));
    this.midSide = o.midSide ?? true;
    this.config = buildAudioSpecificConfig({ objectType: 2, sampleRate: o.sampleRate, channels: o.channels });
    this.swb = swbInfo(idx).long;
    this.numSwb = this.swb.length - 1;
    const perChannelKbps = this.bitrate / 1000 / o.channels;
    const bandwidth = Math.min(o.bandwidth ?? Math.max(5000, Math.min(19000, 3000 + 230 * perChannelKbps)), o.sampleRate / 2);
    let lim = 0;
    while (lim < this.numSwb && (this.swb[lim]! * o.sampleRate) / 2048 < bandwidth) lim++;
    this.maxSfbLimit = lim;
    for (let b = 0; b < this.numSwb; b++) {
      const f = ((this.swb[b]! + this.swb[b + 1]!) / 2) * (o.sampleRate / 2048);
      // allow more noise (dB) in the upper bands, where hearing is less sensitive to it
      this.tilt[b] = f < 4000 ? 0 : Math.min(8, ((f - 4000) / 12000) * 8);
      // Threshold in quiet (Terhardt's approximation, dB SPL) with full scale taken as ~95 dB SPL; the band
      // energy of a full-scale sine is ~1.8e15 in this MDCT's scale (16-bit input, forward factor 2).
      const k = Math.max(f, 50) / 1000;
      const athSpl = 3.64 * Math.pow(k, -0.8) - 6.5 * Math.exp(-0.6 * (k - 3.3) ** 2) + 1e-3 * k ** 4;
      this.ath[b] = (1.8e15 * Math.pow(10, (Math.min(athSpl, 60) - 95) / 10)) / (this.swb[b + 1]! - this.swb[b]!);
    }
    // Spreading of masking between bands on the Bark scale: -25 dB/Bark below a masker, -10 dB/Bark above it.
    const bark = (f: number): number => 13 * Math.atan(0.00076 * f) + 3.5 * Math.atan((f / 7500) ** 2);
    this.spread = new Float64Array(MAX_BANDS * MAX_BANDS);
    for (let b = 0; b < this.numSwb; b++) {
      const zb = bark(((this.swb[b]! + this.swb[b + 1]!) / 2) * (o.sampleRate / 2048));
      for (let j = 0; j < this.numSwb; j++) {
        const zj = bark(((this.swb[j]! + this.swb[j + 1]!) / 2) * (o.sampleRate / 2048));
        const dz = zb - zj;
        const db = dz >= 0 ? -10 * dz : 25 * dz;
        this.spread[b * MAX_BANDS + j] = Math.pow(10, db / 10);
      }
    }
    const rising = windowRisingHalf(2048, false);
    this.window = new Float64Array(2048);
    for (let i = 0; i < 1024; i++) {
      this.window[i] = rising[i]!;
      this.window[2047 - i] = rising[i]!;
    }
    for (let c = 0; c < o.channels; c++) this.ch.push(new ChannelEnc());
    this.meanBits = Math.floor((this.bitrate * 1024) / o.sampleRate);
    this.maxFrameBits = 6144 * o.channels;
    this.maxReservoir = Math.max(0, Math.min(this.maxFrameBits - this.meanBits, 2 * this.meanBits));
    this.bw = new BitWriter(this.maxFrameBits / 8 + 64);
  }

  /**
   * Encode 1024 samples per channel (planar, nominally in [-1, 1]; `offset` into each array). Returns a new
   * Uint8Array holding one raw_data_block.
   */
  encode(pcm: readonly Float32Array[], offset = 0): Uint8Array {
    const nch = this.channels;
    for (let c = 0; c < nch; c++) {
      const st = this.ch[c]!;
      const src = pcm[Math.min(c, pcm.length - 1)]!;
      const blk = st.block;
      const w = this.window;
      for (let i = 0; i < 1024; i++) blk[i] = st.prev[i]! * w[i]!;
      for (let i = 0; i < 1024; i++) {
        let v = (src[offset + i] ?? 0) * 32768;
        if (!(v > -1e9 && v < 1e9)) v = 0; // NaN / infinities
        st.prev[i] = v;
        blk[1024 + i] = v * w[1024 + i]!;
      }
      this.mdct.forward(blk, 0, st.spec, 0, 2);
    }
    if (nch === 2) this.stereoDecision();
    for (let c = 0; c < nch; c++) this.analyse(this.ch[c]!);

    // Rate control: bisection on the signal-to-noise target (dB).
    const budget = Math.min(this.maxFrameBits - 64, this.meanBits + Math.floor(this.reservoir * 0.6));
    let lo = -20;
    let hi = 70;
    let snr = this.lastSnr;
    let bits = this.quantizeAll(snr);
    if (bits > budget) hi = snr;
    else lo = snr;
    for (let it = 0; it < 8 && hi - lo > 0.5; it++) {
      snr = (lo + hi) / 2;
      bits = this.quantizeAll(snr);
      if (bits > budget) hi = snr;
      else lo = snr;
    }
    if (snr !== lo) bits = this.quantizeAll(lo);
    this.lastSnr = Math.max(-10, Math.min(60, lo));
    // Should even the coarsest quantization not fit (cannot happen below ~6 kbit/frame), drop bands from the top.
    let cut = this.maxSfbLimit;
    while (bits > this.maxFrameBits - 64 && cut > 0) {
      cut = Math.max(0, cut - 4);
      for (const st of this.ch) for (let b = cut; b < this.numSwb; b++) st.book[b] = 0;
      bits = this.countFrame();
    }
    const out = this.write();
    this.reservoir = Math.max(0, Math.min(this.maxReservoir, this.reservoir + this.meanBits - out.length * 8));
    return out;
  }

  /** Per-band M/S decision; converts the spectrum of M/S bands to (L+R)/2, (L-R)/2. */
  private stereoDecision(): void {
    const l = this.ch[0]!.spec;
    const r = this.ch[1]!.spec;
    const swb = this.swb;
    this.ms.fill(0);
    if (!this.midSide) return;
    for (let b = 0; b < this.maxSfbLimit; b++) {
      let el = 0;
      let er = 0;
      let em = 0;
      let es = 0;
      for (let k = swb[b]!; k < swb[b + 1]!; k++) {
        const x = l[k]!;
        const y = r[k]!;
        el += x * x;
        er += y * y;
        em += (x + y) * (x + y);
        es += (x - y) * (x - y);
      }
      // Bits go roughly with log energies: M/S pays when the product of the energies shrinks clearly.
      em *= 0.25;
      es *= 0.25;
      if (em * es < el * er * 0.5 && Math.min(el, er) > 0.1 * Math.max(el, er)) {
        this.ms[b] = 1;
        for (let k = swb[b]!; k < swb[b + 1]!; k++) {
          const x = l[k]!;
          const y = r[k]!;
          l[k] = (x + y) * 0.5;
          r[k] = (x - y) * 0.5;
        }
      }
    }
  }

  private analyse(st: ChannelEnc): void {
    const swb = this.swb;
    const spec = st.spec;
    const xp = st.xp;
    for (let b = 0; b < this.numSwb; b++) {
      let e = 0;
      let m = 0;
      for (let k = swb[b]!; k < swb[b + 1]!; k++) {
        const a = Math.abs(spec[k]!);
        e += a * a;
        if (a > m) m = a;
        xp[k] = Math.sqrt(a * Math.sqrt(a));
      }
      st.energy[b] = e / (swb[b + 1]! - swb[b]!);
      st.maxAbs[b] = m;
    }
    const n = this.maxSfbLimit;
    for (let b = 0; b < n; b++) {
      let mk = 0;
      const row = b * MAX_BANDS;
      for (let j = 0; j < n; j++) {
        const v = st.energy[j]! * this.spread[row + j]!;
        if (v > mk) mk = v;
      }
      st.mask[b] = mk;
    }
  }

  /** Quantize a band with scalefactor sf; returns the largest |q|. */
  private quantizeBand(st: ChannelEnc, b: number, sf: number): number {
    const start = this.swb[b]!;
    const end = this.swb[b + 1]!;
    const inv = Math.pow(2, (-3 / 16) * (sf - 100));
    const xp = st.xp;
    const spec = st.spec;
    const q = st.q;
    let mx = 0;
    for (let k = start; k < end; k++) {
      let v = Math.floor(xp[k]! * inv + MAGIC);
      if (v > 8191) v = 8191;
      if (v > mx) mx = v;
      q[k] = spec[k]! < 0 ? -v : v;
    }
    return mx;
  }

  /** Choose scalefactors for a noise target, quantize, pick books; returns the frame's bit count. */
  private quantizeAll(snrDb: number): number {
    const limit = this.maxSfbLimit;
    for (let c = 0; c < this.channels; c++) {
      const st = this.ch[c]!;
      const other = this.channels === 2 ? this.ch[1 - c]! : st;
      let prevSf = -1;
      for (let b = 0; b < this.numSwb; b++) {
        st.book[b] = 0;
        st.bookBits[b] = 0;
        if (b >= limit) {
          st.q.fill(0, this.swb[b]!, this.swb[b + 1]!);
          continue;
        }
        const p = st.energy[b]!;
        // In an M/S band, both halves must meet the lower of the two thresholds.
        const mRef = this.ms[b] ? Math.min(st.mask[b]!, Math.max(other.mask[b]!, st.mask[b]! * 0.01)) : st.mask[b]!;
        const t = Math.max(mRef * Math.pow(10, -(snrDb - this.tilt[b]!) / 10), this.ath[b]!);
        if (p < t || st.maxAbs[b]! < 0.5) {
          st.q.fill(0, this.swb[b]!, this.swb[b + 1]!);
          continue;
        }
        // noise ~ 0.148 * g^1.5 * p^0.25 for the x^(3/4) quantizer (g = 2^((sf-100)/4))
        const g15 = t / (0.148 * Math.pow(p, 0.25));
        let sf = Math.round(100 + 4 * (2 / 3) * Math.log2(g15));
        // the largest value must stay codable (8191)
        const sfMin = Math.ceil(100 + (16 / 3) * Math.log2(Math.pow(st.maxAbs[b]!, 0.75) / 8191));
        if (sf < sfMin) sf = sfMin;
        if (sf > 255) sf = 255;
        if (sf < 0) sf = 0;
        if (prevSf >= 0) {
          if (sf > prevSf + 60) sf = prevSf + 60;
          if (sf < prevSf - 60) sf = prevSf - 60;
        }
        const mx = this.quantizeBand(st, b, sf);
        if (mx === 0) continue;
        st.sf[b] = sf;
        const [book, bits] = chooseBook(st.q, this.swb[b]!, this.swb[b + 1]!, mx);
        st.book[b] = book;
        st.bookBits[b] = bits;
        prevSf = sf;
      }
    }
    return this.countFrame();
  }

  private maxSfb(): number {
    let m = 0;
    for (const st of this.ch) for (let b = 0; b < this.numSwb; b++) if (st.book[b]) m = Math.max(m, b + 1);
    return m;
  }

  /** Exact size in bits of the frame as write() would produce it (before byte alignment). */
  private countFrame(): number {
    const maxSfb = this.maxSfb();
    let bits = 3 + 4 + 3; // element id + tag, ID_END
    if (this.channels === 2) {
      bits += 1 + 11; // common_window + ics_info
      bits += 2;
      let any = false;
      let all = true;
      for (let b = 0; b < maxSfb; b++) {
        if (this.ms[b]) any = true;
        else all = false;
      }
      if (any && !all) bits += maxSfb;
    } else {
      bits += 11;
    }
    for (const st of this.ch) bits += this.channelBits(st, maxSfb);
    return bits;
  }

  private channelBits(st: ChannelEnc, maxSfb: number): number {
    let bits = 8 + 3; // global_gain, pulse/tns/gain-control flags
    // sections
    let b = 0;
    while (b < maxSfb) {
      const book = st.book[b]!;
      let e = b + 1;
      while (e < maxSfb && st.book[e] === book) e++;
      bits += 4 + 5 * (Math.floor((e - b) / 31) + 1);
      b = e;
    }
    // scalefactors and spectral data
    let prev = -1;
    for (let i = 0; i < maxSfb; i++) {
      if (!st.book[i]) continue;
      if (prev < 0) {
        prev = st.sf[i]!;
        st.globalGain = prev;
      }
      bits += SCF_LEN[st.sf[i]! - prev + 60]!;
      prev = st.sf[i]!;
      bits += st.bookBits[i]!;
    }
    return bits;
  }

  private write(): Uint8Array {
    const bw = this.bw;
    bw.reset();
    const maxSfb = this.maxSfb();
    if (this.channels === 2) {
      bw.write(1, 3); // ID_CPE
      bw.write(0, 4);
      bw.write(1, 1); // common_window
      this.writeIcsInfo(maxSfb);
      let any = false;
      let all = true;
      for (let b = 0; b < maxSfb; b++) {
        if (this.ms[b]) any = true;
        else all = false;
      }
      if (!any || maxSfb === 0) {
        bw.write(0, 2);
      } else if (all) {
        bw.write(2, 2);
      } else {
        bw.write(1, 2);
        for (let b = 0; b < maxSfb; b++) bw.write(this.ms[b]!, 1);
      }
      this.writeIcs(this.ch[0]!, maxSfb, false);
      this.writeIcs(this.ch[1]!, maxSfb, false);
    } else {
      bw.write(0, 3); // ID_SCE
      bw.write(0, 4);
      this.writeIcs(this.ch[0]!, maxSfb, true);
    }
    bw.write(7, 3); // ID_END
    bw.align();
    return bw.buf.slice(0, bw.pos >> 3);
  }

  private writeIcsInfo(maxSfb: number): void {
    const bw = this.bw;
    bw.write(0, 1); // ics_reserved_bit
    bw.write(0, 2); // ONLY_LONG_SEQUENCE
    bw.write(0, 1); // sine window
    bw.write(maxSfb, 6);
    bw.write(0, 1); // predictor_data_present
  }

  private writeIcs(st: ChannelEnc, maxSfb: number, withInfo: boolean): void {
    const bw = this.bw;
    let gg = 100;
    for (let b = 0; b < maxSfb; b++) {
      if (st.book[b]) {
        gg = st.sf[b]!;
        break;
      }
    }
    bw.write(gg, 8);
    if (withInfo) this.writeIcsInfo(maxSfb);
    // section_data
    let b = 0;
    while (b < maxSfb) {
      const book = st.book[b]!;
      let e = b + 1;
      while (e < maxSfb && st.book[e] === book) e++;
      bw.write(book, 4);
      let len = e - b;
      while (len >= 31) {
        bw.write(31, 5);
        len -= 31;
      }
      bw.write(len, 5);
      b = e;
    }
    // scale_factor_data
    let prev = gg;
    for (let i = 0; i < maxSfb; i++) {
      if (!st.book[i]) continue;
      const d = st.sf[i]! - prev + 60;
      bw.write(SCF_CODE[d]!, SCF_LEN[d]!);
      prev = st.sf[i]!;
    }
    bw.write(0, 1); // pulse_data_present
    bw.write(0, 1); // tns_data_present
    bw.write(0, 1); // gain_control_data_present
    // spectral_data
    const q = st.q;
    for (let i = 0; i < maxSfb; i++) {
      const book = st.book[i]!;
      if (!book) continue;
      const hb = SPECTRUM_BOOKS[book]!;
      const dim = BOOK_DIM[book]!;
      const unsigned = BOOK_UNSIGNED[book]!;
      for (let k = this.swb[i]!; k < this.swb[i + 1]!; k += dim) {
        const idx = tupleIndex(q, k, book);
        bw.write(hb.code[idx]!, hb.len[idx]!);
        if (unsigned) {
          for (let j = 0; j < dim; j++) if (q[k + j]) bw.write(q[k + j]! < 0 ? 1 : 0, 1);
        }
        if (book === 11) {
          for (let j = 0; j < 2; j++) {
            const v = Math.abs(q[k + j]!);
            if (v >= 16) {
              const n = 31 - Math.clz32(v) - 4;
              for (let z = 0; z < n; z++) bw.write(1, 1);
              bw.write(0, 1);
              bw.write(v - (1 << (n + 4)), n + 4);
            }
          }
        }
      }
    }
  }
}
