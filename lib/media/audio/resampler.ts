/**
 * Streaming rational sample-rate converter (e.g. 44100 <-> 48000 Hz: 160/147) with a polyphase windowed-sinc
 * (Kaiser) low-pass: one filter phase per fractional position, `taps` input samples per output sample.
 *
 * Timing is exact and zero-phase: output sample n is the input signal evaluated at input time n * inRate/outRate
 * (the filter is centred, so it looks `taps/2` input samples ahead; those are held back until they arrive, which is
 * the only latency). State (history, fractional position) carries across calls; planar mono/stereo/any channels.
 */
import { besselI0 } from "./bessel.ts";

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export interface ResamplerOptions {
  /** Input samples per output sample's filter (even; default 32). */
  taps?: number;
  /** Pass band edge as a fraction of the lower Nyquist frequency (default 0.92). */
  rolloff?: number;
  /** Kaiser beta (default 8.6: ~ -85 dB stop band). */
  beta?: number;
}

export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly channels: number;
  /** Interpolation factor L and decimation factor M (outRate/inRate = L/M). */
  private readonly L: number;
  private readonly M: number;
  private readonly half: number;
  private readonly taps: number;
  /** Filter phases: coef[p * taps + j] multiplies input x[i - half + 1 + j] for phase p. */
  private readonly coef: Float32Array;
  private bufs: Float32Array[];
  /** Samples held in bufs. */
  private len: number;
  /** Index in bufs of the input sample at or before the next output's time. */
  private base: number;
  /** Fractional part of the next output's time, in 1/L input samples. */
  private acc = 0;
  /** Total output samples produced (for callers tracking time). */
  produced = 0;
  /** Total input samples consumed. */
  consumed = 0;

  constructor(inRate: number, outRate: number, channels: number, o: ResamplerOptions = {}) {
    if (!(inRate > 0 && outRate > 0 && Number.isInteger(inRate) && Number.isInteger(outRate))) {
      throw new RangeError(`resampler: bad rates ${inRate} -> ${outRate}`);
    }
    if (!(channels >= 1 && channels <= 8)) throw new RangeError(`resampler: ${channels} channels`);
    this.inRate = inRate;
    this.outRate = outRate;
    this.channels = channels;
    const g = gcd(inRate, outRate);
    this.L = outRate / g;
    this.M = inRate / g;
    this.taps = Math.max(4, (o.taps ?? 32) & ~1);
    this.half = this.taps / 2;
    const rolloff = o.rolloff ?? 0.92;
    const beta = o.beta ?? 8.6;
    // cutoff in cycles per input sample
    const fc = 0.5 * Math.min(1, outRate / inRate) * rolloff;
    const L = this.L;
    const T = this.taps;
    this.coef = new Float32Array(L * T);
    const i0b = besselI0(beta);
    for (let p = 0; p < L; p++) {
      const frac = p / L;
      let sum = 0;
      const row = new Float64Array(T);
      for (let j = 0; j < T; j++) {
        const t = j - this.half + 1 - frac; // input sample offset from the output time
        const x = 2 * fc * t;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const r = t / this.half;
        const w = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0b;
        row[j] = 2 * fc * sinc * w;
        sum += row[j]!;
      }
      for (let j = 0; j < T; j++) this.coef[p * T + j] = row[j]! / sum; // unity DC gain in every phase
    }
    this.bufs = [];
    for (let c = 0; c < channels; c++) this.bufs.push(new Float32Array(4096));
    // history: half-1 zeros before the first input sample (so output 0 = input time 0)
    this.len = this.half - 1;
    this.base = this.half - 1;
  }

  /** Upper bound of the output samples for `n` more input samples. */
  maxOutput(n: number): number {
    return Math.ceil(((this.len - this.base + n) * this.L) / this.M) + 2;
  }

  /**
   * Feed `n` samples per channel (planar `input`, from `inOff`) and write the outputs now computable into `out`
   * (planar, from `outOff`; needs maxOutput(n) room). Returns the number of output samples per channel.
   */
  process(input: readonly Float32Array[], n: number, out: Float32Array[], outOff = 0, inOff = 0): number {
    const C = this.channels;
    if (this.len + n > this.bufs[0]!.length) {
      const size = Math.max(this.len + n, this.bufs[0]!.length * 2);
      this.bufs = this.bufs.map((b) => {
        const nb = new Float32Array(size);
        nb.set(b.subarray(0, this.len));
        return nb;
      });
    }
    for (let c = 0; c < C; c++) {
      const src = input[Math.min(c, input.length - 1)]!;
      const dst = this.bufs[c]!;
      for (let i = 0; i < n; i++) {
        const v = src[inOff + i]!;
        dst[this.len + i] = v === v ? v : 0; // NaN -> 0
      }
    }
    this.len += n;
    this.consumed += n;
    const T = this.taps;
    const L = this.L;
    const M = this.M;
    const coef = this.coef;
    let count = 0;
    let base = this.base;
    let acc = this.acc;
    // an output needs inputs base - half + 1 .. base + half
    while (base + this.half < this.len) {
      const start = base - this.half + 1;
      const co = acc * T;
      for (let c = 0; c < C; c++) {
        const x = this.bufs[c]!;
        let s = 0;
        for (let j = 0; j < T; j++) s += coef[co + j]! * x[start + j]!;
        out[c]![outOff + count] = s;
      }
      count++;
      acc += M;
      while (acc >= L) {
        acc -= L;
        base++;
      }
    }
    // drop inputs no longer needed (keep from base - half + 1)
    const keep = base - this.half + 1;
    if (keep > 0) {
      for (const b of this.bufs) b.copyWithin(0, keep, this.len);
      this.len -= keep;
      base -= keep;
    }
    this.base = base;
    this.acc = acc;
    this.produced += count;
    return count;
  }

  /** Forget all state (after a discontinuity). */
  reset(): void {
    for (const b of this.bufs) b.fill(0);
    this.len = this.half - 1;
    this.base = this.half - 1;
    this.acc = 0;
    this.produced = 0;
    this.consumed = 0;
  }
}
