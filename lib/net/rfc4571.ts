/**
 * RFC 4571 framing of RTP/RTCP on connection-oriented transport: how ICE-TCP (RFC 6544 section 3) carries STUN,
 * DTLS and SRTP/SRTCP packets on a TCP stream, and how GB28181 cameras send RTP (MPEG-PS) over TCP.
 * Every packet is preceded by its length as a 16-bit big-endian unsigned integer (RFC 4571 section 2):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    -----------------------------------------------------------------
 *    |             LENGTH            |  packet (LENGTH bytes) ...     |
 *    -----------------------------------------------------------------
 *
 * The deframer never holds more than one partial frame (at most 2 + maxFrame bytes, so at most 65,537 bytes
 * whatever the peer declares); frames wholly inside a received chunk are handed out as views of it, without a copy.
 */

/** The largest LENGTH the 16-bit field can carry (RFC 4571 section 2). */
export const RFC4571_MAX_FRAME = 0xffff;

/** A stream that cannot be RFC 4571 framing (a declared length above the limit). */
export class FramingError extends Error {}

/** One frame with its length prefix (RFC 4571 section 2). Throws when `d` is longer than 65,535 bytes. */
export function frame(d: Uint8Array): Buffer {
  if (d.byteLength > RFC4571_MAX_FRAME) throw new FramingError(`packet of ${d.byteLength} bytes cannot be framed (max ${RFC4571_MAX_FRAME})`);
  const out = Buffer.allocUnsafe(2 + d.byteLength);
  out.writeUInt16BE(d.byteLength, 0);
  out.set(d, 2);
  return out;
}

/** Splits a TCP byte stream into RFC 4571 frames, whatever the chunk boundaries. */
export class Rfc4571Deframer {
  /** The bytes of an unfinished frame (its header included), or undefined. */
  private pending: Buffer | undefined;
  /** How many bytes of `pending` are filled. */
  private filled = 0;
  /** Zero-length frames seen (legal, carry nothing, skipped). */
  empty = 0;

  /**
   * `maxFrame`: a longer declared LENGTH is a FramingError (default and at most 65,535). It may be changed
   * between pushes (e.g. raised once the peer is known).
   */
  constructor(public maxFrame = RFC4571_MAX_FRAME) {
    if (maxFrame < 1 || maxFrame > RFC4571_MAX_FRAME) throw new RangeError(`maxFrame ${maxFrame} out of 1..${RFC4571_MAX_FRAME}`);
  }

  /** Bytes held for an unfinished frame. */
  get buffered(): number {
    return this.filled;
  }

  /** Feeds one chunk; returns the frames it completed, in order. Throws FramingError on a LENGTH above maxFrame. */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.pending) {
      // Finish the header first (it may itself have been split), then the body.
      if (this.filled < 2) {
        const n = Math.min(2 - this.filled, c.byteLength);
        c.copy(this.pending, this.filled, 0, n);
        this.filled += n;
        c = c.subarray(n);
        if (this.filled < 2) return out;
        const len = this.pending.readUInt16BE(0);
        this.check(len);
        if (len === 0) {
          this.empty++;
          this.reset();
        } else {
          const grown = Buffer.allocUnsafe(2 + len);
          this.pending.copy(grown, 0, 0, 2);
          this.pending = grown;
        }
      }
      if (this.pending) {
        const want = this.pending.byteLength - this.filled;
        const n = Math.min(want, c.byteLength);
        c.copy(this.pending, this.filled, 0, n);
        this.filled += n;
        c = c.subarray(n);
        if (this.filled < this.pending.byteLength) return out;
        out.push(this.pending.subarray(2));
        this.reset();
      }
    }
    let off = 0;
    while (c.byteLength - off >= 2) {
      const len = c.readUInt16BE(off);
      this.check(len);
      if (len === 0) {
        this.empty++;
        off += 2;
        continue;
      }
      if (c.byteLength - off - 2 < len) break;
      out.push(c.subarray(off + 2, off + 2 + len));
      off += 2 + len;
    }
    const rest = c.byteLength - off;
    if (rest > 0) {
      // An unfinished frame: keep a copy (the chunk's other frames may be held by their receivers).
      const len = rest >= 2 ? c.readUInt16BE(off) : 0;
      this.pending = Buffer.allocUnsafe(rest >= 2 ? 2 + len : 2);
      c.copy(this.pending, 0, off);
      this.filled = rest;
    }
    return out;
  }

  private check(len: number): void {
    if (len > this.maxFrame) {
      this.reset();
      throw new FramingError(`RFC 4571 frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
    }
  }

  private reset(): void {
    this.pending = undefined;
    this.filled = 0;
  }
}
