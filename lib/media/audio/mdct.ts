/**
 * MDCT / IMDCT of even length N (2048 and 256 for AAC), unscaled, computed as a DCT-IV of N/2 points through an
 * N/4-point complex FFT (radix-2, precomputed twiddles, no allocation per call).
 *
 * Definitions (ISO/IEC 14496-3 4.6.11.3.1 without the 2/N factor, n0 = (N/2 + 1)/2, M = N/2):
 *   inverse: y[n] = sum_{k<M} X[k] cos(2pi/N (n + n0)(k + 1/2)),  n = 0..N-1
 *   forward: X[k] = sum_{n<N} x[n] cos(2pi/N (n + n0)(k + 1/2)),  k = 0..M-1
 *
 * Both go through u = DCT-IV(X) (u[n] = sum_k X[k] cos(pi/M (n+1/2)(k+1/2))), using
 *   y[n] = u[n + M/2] (n < M/2), -u[3M/2 - 1 - n] (M/2 <= n < 3M/2), -u[n - 3M/2] (n >= 3M/2)
 * and, for the forward transform, the transposed folding of x into M points before the DCT-IV.
 * DCT-IV: z[n] = (v[2n] + i v[M-1-2n]) e^{-i pi (4n+1) / 4M}; Z = FFT_{M/2}(z); W[k] = Z[k] e^{-i pi k / M};
 *   X[2k] = Re W[k], X[M-1-2k] = -Im W[k].
 */
export class Mdct {
  readonly n: number;
  private readonly m: number;
  private readonly q: number;
  private readonly preCos: Float64Array;
  private readonly preSin: Float64Array;
  private readonly postCos: Float64Array;
  private readonly postSin: Float64Array;
  private readonly fftCos: Float64Array;
  private readonly fftSin: Float64Array;
  private readonly rev: Uint32Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly v: Float64Array;
  private readonly uBuf: Float64Array;

  constructor(n: number) {
    if (n < 16 || (n & (n - 1)) !== 0) throw new RangeError(`MDCT size ${n} must be a power of two >= 16`);
    this.n = n;
    this.m = n / 2;
    this.q = n / 4;
    const m = this.m;
    const q = this.q;
    this.preCos = new Float64Array(q);
    this.preSin = new Float64Array(q);
    this.postCos = new Float64Array(q);
    this.postSin = new Float64Array(q);
    for (let i = 0; i < q; i++) {
      const a = (Math.PI * (4 * i + 1)) / (4 * m);
      this.preCos[i] = Math.cos(a);
      this.preSin[i] = Math.sin(a);
      const b = (Math.PI * i) / m;
      this.postCos[i] = Math.cos(b);
      this.postSin[i] = Math.sin(b);
    }
    this.fftCos = new Float64Array(q / 2);
    this.fftSin = new Float64Array(q / 2);
    for (let i = 0; i < q / 2; i++) {
      this.fftCos[i] = Math.cos((2 * Math.PI * i) / q);
      this.fftSin[i] = Math.sin((2 * Math.PI * i) / q);
    }
    this.rev = new Uint32Array(q);
    const bits = Math.log2(q);
    for (let i = 0; i < q; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) if (i & (1 << b)) r |= 1 << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.re = new Float64Array(q);
    this.im = new Float64Array(q);
    this.v = new Float64Array(m);
    this.uBuf = new Float64Array(m);
  }

  /** In-place DCT-IV of this.v (length M) into `out` (length M) times `scale`. */
  private dct4(out: Float32Array | Float64Array, outOff: number, scale: number): void {
    const { q, m, v, re, im, rev, preCos, preSin } = this;
    for (let i = 0; i < q; i++) {
      const a = v[2 * i]!;
      const b = v[m - 1 - 2 * i]!;
      const c = preCos[i]!;
      const s = preSin[i]!;
      const j = rev[i]!;
      re[j] = a * c + b * s;
      im[j] = b * c - a * s;
    }
    // iterative radix-2 FFT (forward, e^{-i...})
    const fc = this.fftCos;
    const fs = this.fftSin;
    for (let size = 2; size <= q; size <<= 1) {
      const half = size >> 1;
      const step = q / size;
      for (let start = 0; start < q; start += size) {
        for (let k = 0, t = 0; k < half; k++, t += step) {
          const c = fc[t]!;
          const s = fs[t]!;
          const i1 = start + k;
          const i2 = i1 + half;
          const xr = re[i2]! * c + im[i2]! * s;
          const xi = im[i2]! * c - re[i2]! * s;
          re[i2] = re[i1]! - xr;
          im[i2] = im[i1]! - xi;
          re[i1] = re[i1]! + xr;
          im[i1] = im[i1]! + xi;
        }
      }
    }
    const pc = this.postCos;
    const ps = this.postSin;
    for (let k = 0; k < q; k++) {
      const c = pc[k]!;
      const s = ps[k]!;
      const wr = re[k]! * c + im[k]! * s;
      const wi = im[k]! * c - re[k]! * s;
      out[outOff + 2 * k] = wr * scale;
      out[outOff + m - 1 - 2 * k] = -wi * scale;
    }
  }

  /** IMDCT: `spec` (M values from specOff) -> `out` (N values from outOff), multiplied by `scale`. */
  inverse(spec: Float32Array, specOff: number, out: Float32Array | Float64Array, outOff: number, scale: number): void {
    const { m, v } = this;
    for (let i = 0; i < m; i++) v[i] = spec[specOff + i]!;
    const u = this.uBuf;
    this.dct4(u, 0, scale);
    const h = m / 2;
    for (let n = 0; n < h; n++) out[outOff + n] = u[n + h]!;
    for (let n = h; n < 3 * h; n++) out[outOff + n] = -u[3 * h - 1 - n]!;
    for (let n = 3 * h; n < 2 * m; n++) out[outOff + n] = -u[n - 3 * h]!;
  }

  /** MDCT: `x` (N values from xOff, already windowed) -> `out` (M values from outOff), multiplied by `scale`. */
  forward(x: Float32Array | Float64Array, xOff: number, out: Float32Array, outOff: number, scale: number): void {
    const { m, v } = this;
    const h = m / 2;
    // v[i] = x[i - M/2] - x[3M/2 - 1 - i] for i >= M/2; -x[3M/2 - 1 - i] - x[i + 3M/2] for i < M/2
    for (let i = 0; i < h; i++) v[i] = -x[xOff + 3 * h - 1 - i]! - x[xOff + i + 3 * h]!;
    for (let i = h; i < m; i++) v[i] = x[xOff + i - h]! - x[xOff + 3 * h - 1 - i]!;
    this.dct4(out, outOff, scale);
  }
}
