/**
 * A small jitter/reorder buffer for received RTP: packets come out in sequence order; a missing packet is
 * waited for at most `maxDelayMs` (time for a NACK round trip and the retransmission) or until `maxPackets`
 * are queued behind it, then skipped (the depacketizer sees the gap and marks the frame broken).
 * Sequence numbers are 16-bit and wrap (RFC 3550 A.1).
 */
export interface ReorderOptions {
  maxDelayMs: number;
  maxPackets: number;
}

export class ReorderBuffer<T> {
  private next: number | undefined;
  private held = new Map<number, { item: T; at: number }>();
  /** Sequence numbers given up on. */
  lost = 0;
  /** Late duplicates or packets older than the playout point. */
  late = 0;

  constructor(private opts: ReorderOptions = { maxDelayMs: 150, maxPackets: 256 }) {}

  /** Adds a packet; returns the packets now ready, in order. */
  push(seq: number, item: T, now: number): T[] {
    if (this.next === undefined) this.next = seq;
    const d = seqDiff(seq, this.next);
    if (d < 0) {
      this.late++;
      return [];
    }
    if (d > 0x4000) {
      // A jump far ahead (sender restart): start over from here.
      this.held.clear();
      this.next = seq;
    }
    if (!this.held.has(seq)) this.held.set(seq, { item, at: now });
    return this.drain(now);
  }

  /** Releases what waited too long (call periodically). */
  tick(now: number): T[] {
    return this.drain(now);
  }

  private drain(now: number): T[] {
    const out: T[] = [];
    while (this.held.size && this.next !== undefined) {
      const h = this.held.get(this.next);
      if (h) {
        this.held.delete(this.next);
        out.push(h.item);
        this.next = (this.next + 1) & 0xffff;
        continue;
      }
      // A hole: skip it when the oldest held packet waited long enough or too many wait.
      let oldest = Infinity;
      for (const v of this.held.values()) if (v.at < oldest) oldest = v.at;
      if (now - oldest < this.opts.maxDelayMs && this.held.size < this.opts.maxPackets) break;
      let best: number | undefined;
      for (const s of this.held.keys()) if (best === undefined || seqDiff(s, best) < 0) best = s;
      this.lost += seqDiff(best!, this.next);
      this.next = best!;
    }
    return out;
  }
}

/** a - b in 16-bit sequence space, in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}

/** Extends 32-bit RTP timestamps to an unbounded count (handles wrap and small reordering). */
export class RtpTimestampUnwrapper {
  private ext: number | undefined;

  unwrap(ts: number): number {
    if (this.ext === undefined) {
      this.ext = ts >>> 0;
      return this.ext;
    }
    const d = ((ts >>> 0) - (this.ext % 0x100000000)) | 0;
    const v = this.ext + d;
    if (d > 0) this.ext = v;
    return v;
  }
}
