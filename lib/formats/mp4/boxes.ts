/**
 * ISO BMFF (ISO/IEC 14496-12) box writing and reading primitives.
 *
 * BoxWriter writes big-endian fields into a growable buffer; `start(type)`/`end(at)` bracket a box so nested
 * boxes are written in one pass and their 32-bit sizes patched when they end. BoxReader walks the boxes of a
 * buffer without copying.
 */

export class Mp4Error extends Error {
  override name = "Mp4Error";
}

const TEXT = new TextEncoder();

export class BoxWriter {
  private buf: Uint8Array;
  private dv: DataView;
  pos = 0;

  constructor(initial = 512) {
    this.buf = new Uint8Array(initial);
    this.dv = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.dv.setUint16(this.pos, v & 0xffff);
    this.pos += 2;
    return this;
  }
  u24(v: number): this {
    this.ensure(3);
    this.buf[this.pos] = (v >>> 16) & 0xff;
    this.buf[this.pos + 1] = (v >>> 8) & 0xff;
    this.buf[this.pos + 2] = v & 0xff;
    this.pos += 3;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.dv.setUint32(this.pos, v >>> 0);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.dv.setInt32(this.pos, v | 0);
    this.pos += 4;
    return this;
  }
  /** An unsigned 64-bit integer given as a JS number (exact up to 2^53). */
  u64(v: number): this {
    this.u32(Math.floor(v / 0x100000000));
    return this.u32(v % 0x100000000);
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }
  fourcc(s: string): this {
    if (s.length !== 4) throw new Mp4Error(`bad fourcc '${s}'`);
    this.ensure(4);
    for (let i = 0; i < 4; i++) this.buf[this.pos + i] = s.charCodeAt(i) & 0xff;
    this.pos += 4;
    return this;
  }
  /** A NUL-terminated UTF-8 string. */
  cstring(s: string): this {
    this.bytes(TEXT.encode(s));
    return this.u8(0);
  }

  /** Opens a box (size patched by end()); returns its start offset. */
  start(type: string): number {
    const at = this.pos;
    this.u32(0).fourcc(type);
    return at;
  }
  /** Opens a FullBox (version + 24-bit flags). */
  startFull(type: string, version: number, flags: number): number {
    const at = this.start(type);
    this.u8(version).u24(flags);
    return at;
  }
  end(at: number): void {
    this.dv.setUint32(at, this.pos - at);
  }
  /** Overwrites a 32-bit field written earlier. */
  patchU32(at: number, v: number): void {
    this.dv.setUint32(at, v >>> 0);
  }
  patchI32(at: number, v: number): void {
    this.dv.setInt32(at, v | 0);
  }

  /** The bytes written so far (a copy: the writer may be reused). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export interface BoxHeader {
  type: string;
  /** Offset of the box start (its size field). */
  offset: number;
  /** Header length: 8, or 16 with a 64-bit largesize. */
  headerSize: number;
  /** Total box size including the header. */
  size: number;
}

export function fourccString(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!);
}

/**
 * Reads the box header at `off` of `b`. Returns null when fewer header bytes than needed are available.
 * A size of 0 ("to the end of the file") is resolved against `end`.
 */
export function readBoxHeader(b: Uint8Array, off: number, end = b.length): BoxHeader | null {
  if (off + 8 > end) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let size = dv.getUint32(off);
  const type = fourccString(b, off + 4);
  let headerSize = 8;
  if (size === 1) {
    if (off + 16 > end) return null;
    size = dv.getUint32(off + 8) * 0x100000000 + dv.getUint32(off + 12);
    headerSize = 16;
  } else if (size === 0) {
    size = end - off;
  }
  if (size < headerSize) throw new Mp4Error(`box '${type}' at ${off}: bad size ${size}`);
  return { type, offset: off, headerSize, size };
}

/** The child boxes of a payload range [from, to). */
export function* childBoxes(b: Uint8Array, from: number, to: number): Generator<BoxHeader> {
  let off = from;
  while (off + 8 <= to) {
    const h = readBoxHeader(b, off, to);
    if (!h || off + h.size > to) throw new Mp4Error(`box at ${off} overruns its parent`);
    yield h;
    off += h.size;
  }
}

/** The first child of type `type` (depth 1), or undefined. */
export function findChild(b: Uint8Array, parent: BoxHeader, type: string, skip = 0): BoxHeader | undefined {
  for (const c of childBoxes(b, parent.offset + parent.headerSize + skip, parent.offset + parent.size)) {
    if (c.type === type) return c;
  }
  return undefined;
}
