/**
 * MSB-first bit reader for codec headers (H.264/H.265 SPS, AAC AudioSpecificConfig, ...), with unsigned and
 * signed exp-Golomb codes (ITU-T H.264 9.1) and emulation-prevention removal (NAL payload -> RBSP, H.264 7.4.1).
 *
 * Reading past the end throws a BitReaderError (never returns garbage, never reads out of bounds).
 */

export class BitReaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BitReaderError";
  }
}

export class BitReader {
  private readonly buf: Uint8Array;
  /** Position in bits from the start of buf. */
  private pos = 0;
  private readonly end: number;

  constructor(buf: Uint8Array, byteOffset = 0) {
    this.buf = buf;
    this.pos = byteOffset * 8;
    this.end = buf.length * 8;
  }

  /** Bits consumed so far (from the start of the buffer). */
  get bitPosition(): number {
    return this.pos;
  }

  /** Bits left to read. */
  get bitsLeft(): number {
    return this.end - this.pos;
  }

  /** True when the position is on a byte boundary. */
  get byteAligned(): boolean {
    return (this.pos & 7) === 0;
  }

  /** Read one bit (0 or 1). */
  bit(): number {
    if (this.pos >= this.end) throw new BitReaderError("bit reader: read past end");
    const b = (this.buf[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }

  /** Read one bit as a boolean. */
  flag(): boolean {
    return this.bit() === 1;
  }

  /** Read n bits (0 <= n <= 32) as an unsigned number. */
  bits(n: number): number {
    if (n < 0 || n > 32) throw new BitReaderError(`bit reader: cannot read ${n} bits at once`);
    if (this.pos + n > this.end) throw new BitReaderError("bit reader: read past end");
    let v = 0;
    while (n > 0) {
      const bitInByte = this.pos & 7;
      const avail = 8 - bitInByte;
      const take = n < avail ? n : avail;
      const byte = this.buf[this.pos >> 3]!;
      const chunk = (byte >> (avail - take)) & ((1 << take) - 1);
      // multiply instead of shift: keeps 32-bit values unsigned
      v = v * (1 << take) + chunk;
      this.pos += take;
      n -= take;
    }
    return v;
  }

  /** Skip n bits. */
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new BitReaderError("bit reader: skip past end");
    this.pos += n;
  }

  /** Skip to the next byte boundary. */
  align(): void {
    const r = this.pos & 7;
    if (r !== 0) this.skip(8 - r);
  }

  /** Unsigned exp-Golomb ue(v). Values up to 2^32-2. */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros++;
      if (zeros > 31) throw new BitReaderError("bit reader: exp-Golomb code too long");
    }
    if (zeros === 0) return 0;
    return (2 ** zeros - 1) + this.bits(zeros);
  }

  /** Signed exp-Golomb se(v). */
  se(): number {
    const k = this.ue();
    if (k === 0) return 0;
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/**
 * Remove emulation-prevention bytes (00 00 03 -> 00 00) from a NAL unit payload, giving the RBSP.
 * Returns the input itself (no copy) when it holds no emulation-prevention byte.
 */
export function nalToRbsp(nal: Uint8Array): Uint8Array {
  const n = nal.length;
  // fast scan: find the first 00 00 03
  let i = 2;
  for (; i < n; i++) {
    if (nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) break;
  }
  if (i >= n) return nal;
  const out = new Uint8Array(n - 1);
  let o = 0;
  let zeros = 0;
  for (let j = 0; j < n; j++) {
    const b = nal[j]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue; // drop the emulation-prevention byte
    }
    out[o++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, o);
}
