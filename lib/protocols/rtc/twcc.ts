/**
 * Transport-wide congestion control feedback for publishers (draft-holmer-rmcat-transport-wide-cc-extensions-01):
 * a WebRTC sender (a browser publishing by WHIP) numbers every packet with the transport-wide sequence number
 * header extension and estimates its available bandwidth from our reports of when each one arrived. Without
 * them the browser stays at its start bitrate (~300 kbps in Chromium).
 *
 * `TwccRecorder.record(seq, atUs)` notes each arrival; `feedback()` (call every ~100 ms) returns one RTCP
 * transport feedback packet (section 3.1) for everything recorded since the last one, or undefined:
 *
 *   |V=2|P| FMT=15 | PT=205 | length | sender SSRC | media SSRC |
 *   | base sequence number | packet status count | reference time (24 bits, 64 ms) | fb pkt count |
 *   | packet chunks (16 bits each) ... | recv deltas (8 or 16 bits, 250 us) ... | padding |
 *
 * Chunks (3.1.1–3.1.4): run length (T=0, 2-bit symbol, 13-bit run) for runs of 7 or more equal symbols, else a
 * two-bit status vector (T=1, S=1, seven symbols). Symbols: 0 not received, 1 received with a small delta
 * (0..63.75 ms, one byte), 2 received with a large or negative delta (two bytes, signed).
 * Bounded: at most MAX_PENDING arrivals are kept between reports (a flood of packets only shortens reports).
 */
import { RTCP_RTPFB } from "./rtcp.ts";

/** The TWCC format of RTCP transport layer feedback (RTCP_RTPFB, RFC 4585 6.1). */
export const TWCC_FMT = 15;
export const TWCC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

const MAX_PENDING = 4096;
/** One packet of feedback covers at most this many sequence numbers (libwebrtc keeps its reports this small too). */
const MAX_STATUS_COUNT = 2048;
const DELTA_UNIT_US = 250;
const REF_UNIT_US = 64_000;

export class TwccRecorder {
  /** Extended (unwrapped) sequence number -> arrival time in microseconds. */
  private arrivals = new Map<number, number>();
  private lastExt = -1;
  /** The first sequence number not yet reported (-1: nothing reported yet). */
  private nextBase = -1;
  private fbCount = 0;
  /** Reports sent and arrivals recorded, for the API. */
  reports = 0;
  recorded = 0;

  constructor(private senderSsrc: number, private mediaSsrc: number) {}

  setMediaSsrc(ssrc: number): void {
    this.mediaSsrc = ssrc >>> 0;
  }

  /** Notes the arrival at `atUs` (microseconds, monotonic) of the packet with transport-wide sequence `seq16`. */
  record(seq16: number, atUs: number): void {
    const ext = this.unwrap(seq16 & 0xffff);
    if (this.nextBase >= 0 && ext < this.nextBase) return; // already reported as lost: too late
    if (this.arrivals.size >= MAX_PENDING && !this.arrivals.has(ext)) return;
    if (!this.arrivals.has(ext)) this.arrivals.set(ext, atUs);
    this.recorded++;
  }

  private unwrap(seq: number): number {
    if (this.lastExt < 0) {
      this.lastExt = seq;
      return seq;
    }
    const last16 = this.lastExt & 0xffff;
    let diff = seq - last16;
    if (diff > 0x8000) diff -= 0x10000;
    else if (diff < -0x8000) diff += 0x10000;
    const ext = this.lastExt + diff;
    if (ext > this.lastExt) this.lastExt = ext;
    return ext;
  }

  /** The feedback packet for the arrivals since the last call, or undefined when nothing arrived. */
  feedback(): Uint8Array | undefined {
    if (!this.arrivals.size) return undefined;
    const seqs = [...this.arrivals.keys()].sort((a, b) => a - b);
    const base = this.nextBase >= 0 ? Math.min(this.nextBase, seqs[0]!) : seqs[0]!;
    const firstAt = this.arrivals.get(seqs[0]!)!;
    const refTime = Math.floor(firstAt / REF_UNIT_US);
    let prevAt = refTime * REF_UNIT_US;
    const symbols: number[] = [];
    const deltas: number[] = [];
    let end = base;
    for (let seq = base; seq <= seqs[seqs.length - 1]! && symbols.length < MAX_STATUS_COUNT; seq++) {
      const at = this.arrivals.get(seq);
      if (at === undefined) {
        symbols.push(0);
      } else {
        const d = Math.round((at - prevAt) / DELTA_UNIT_US);
        if (d < -32768 || d > 32767) break; // not representable: the next report starts here
        symbols.push(d >= 0 && d <= 255 ? 1 : 2);
        deltas.push(d);
        prevAt += d * DELTA_UNIT_US;
        this.arrivals.delete(seq);
      }
      end = seq + 1;
    }
    while (symbols.length && symbols[symbols.length - 1] === 0) symbols.pop(); // cannot happen: last is a packet
    this.nextBase = end;
    if (!symbols.length) return undefined;
    // late arrivals below the new base can no longer be reported
    for (const k of this.arrivals.keys()) if (k < end) this.arrivals.delete(k);
    const out = build(this.senderSsrc, this.mediaSsrc, base & 0xffff, symbols, deltas, refTime, this.fbCount);
    this.fbCount = (this.fbCount + 1) & 0xff;
    this.reports++;
    return out;
  }
}

function chunks(symbols: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < symbols.length) {
    let run = 1;
    while (i + run < symbols.length && symbols[i + run] === symbols[i] && run < 0x1fff) run++;
    if (run >= 7) {
      out.push((symbols[i]! << 13) | run); // run length chunk, T=0
      i += run;
      continue;
    }
    let c = 0xc000; // status vector chunk, T=1, S=1 (two-bit symbols)
    for (let k = 0; k < 7; k++) c |= (symbols[i + k] ?? 0) << (2 * (6 - k));
    out.push(c);
    i += 7;
  }
  return out;
}

function build(sender: number, media: number, base: number, symbols: number[], deltas: number[], refTime: number, fbCount: number): Uint8Array {
  const cs = chunks(symbols);
  let deltaBytes = 0;
  for (const d of deltas) deltaBytes += d >= 0 && d <= 255 ? 1 : 2;
  const body = 8 + 8 + cs.length * 2 + deltaBytes;
  const pad = (4 - ((4 + body) % 4)) % 4;
  const total = 4 + body + pad;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b[0] = 0x80 | (pad ? 0x20 : 0) | TWCC_FMT;
  b[1] = RTCP_RTPFB;
  v.setUint16(2, total / 4 - 1);
  v.setUint32(4, sender >>> 0);
  v.setUint32(8, media >>> 0);
  v.setUint16(12, base);
  v.setUint16(14, symbols.length);
  const ref = refTime & 0xffffff;
  b[16] = ref >> 16;
  b[17] = (ref >> 8) & 0xff;
  b[18] = ref & 0xff;
  b[19] = fbCount;
  let o = 20;
  for (const c of cs) {
    v.setUint16(o, c);
    o += 2;
  }
  for (const d of deltas) {
    if (d >= 0 && d <= 255) b[o++] = d;
    else {
      v.setInt16(o, d);
      o += 2;
    }
  }
  if (pad) b[total - 1] = pad;
  return b;
}
