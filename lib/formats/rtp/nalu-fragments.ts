/**
 * The codec-independent part of NAL-unit RTP payload formats: H.264 (RFC 6184) and H.265 (RFC 7798) share it,
 * each codec file keeps only its header layouts and spec references.
 *
 * Both formats carry an access unit as single NAL unit packets (RFC 6184 5.6, RFC 7798 4.4.1), aggregation
 * packets whose units each follow a 16-bit size (STAP-A, RFC 6184 5.7.1; AP, RFC 7798 4.4.2), and
 * fragmentation units whose FU header is S(1) E(1) then the unit's type (FU-A, RFC 6184 5.8; FU, RFC 7798
 * 4.4.3). The marker bit ends the access unit (RFC 6184 5.1, RFC 7798 4.1).
 *
 * Packetizer: `packetizeNalus` (parameter sets first, aggregated when they fit, then the frame's units,
 * fragmented when larger than the MTU). Depacketizer: `NaluDepacketizer`, the frame assembly (sequence gaps,
 * timestamp changes, the marker), bounded unit and fragment collection; a codec subclass reads the headers.
 */

/** Payload bytes per RTP packet: leaves room for RTP/SRTP headers and extensions in a 1280+ byte path MTU. */
export const DEFAULT_RTP_MTU = 1200;

export interface RtpPayload {
  payload: Uint8Array;
  marker: boolean;
}

/** What the packetizer needs to know of a codec's NAL unit and payload headers. */
export interface NaluPacketFormat {
  /** Bytes of the NAL unit header (1 for H.264, 2 for H.265); shorter units are skipped. */
  headerBytes: number;
  /** The payload header of an aggregation packet carrying `nalus`. */
  aggregationHeader(nalus: readonly Uint8Array[]): Uint8Array;
  /** The bytes before the FU header of each fragment of `nalu` (FU indicator / PayloadHdr). */
  fuPrefix(nalu: Uint8Array): Uint8Array;
  /** The unit's type as the FU header carries it. */
  fuType(nalu: Uint8Array): number;
  /** Units not sent from the frame (delimiters, in-frame parameter sets: the aggregate carries the current ones). */
  skip(nalu: Uint8Array): boolean;
}

/**
 * Packetizes one access unit: `paramSets` (pass them for keyframes) first, in one aggregation packet when more
 * than one and they fit, then `nalus`; the last payload gets the marker.
 */
export function packetizeNalus(format: NaluPacketFormat, nalus: readonly Uint8Array[],
  paramSets: readonly Uint8Array[] | undefined, mtu: number): RtpPayload[] {
  const out: RtpPayload[] = [];
  if (paramSets && paramSets.length) {
    const size = format.headerBytes + paramSets.reduce((n, p) => n + 2 + p.byteLength, 0);
    if (paramSets.length > 1 && size <= mtu) out.push({ payload: aggregate(format.aggregationHeader(paramSets), paramSets, size), marker: false });
    else for (const p of paramSets) pushNalu(format, out, p, mtu);
  }
  for (const n of nalus) {
    if (n.byteLength < format.headerBytes || format.skip(n)) continue;
    pushNalu(format, out, n, mtu);
  }
  if (out.length) out[out.length - 1]!.marker = true;
  return out;
}

/** Aggregation packet: the payload header, then a 16-bit size and the unit, for each unit. */
function aggregate(header: Uint8Array, nalus: readonly Uint8Array[], size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set(header, 0);
  let o = header.byteLength;
  for (const n of nalus) {
    b[o] = n.byteLength >> 8;
    b[o + 1] = n.byteLength & 0xff;
    b.set(n, o + 2);
    o += 2 + n.byteLength;
  }
  return b;
}

/** One unit as a single NAL unit packet, or as fragmentation units (prefix, FU header S/E/type, body slice). */
function pushNalu(format: NaluPacketFormat, out: RtpPayload[], n: Uint8Array, mtu: number): void {
  if (n.byteLength <= mtu) {
    out.push({ payload: n, marker: false });
    return;
  }
  const prefix = format.fuPrefix(n);
  const type = format.fuType(n);
  const body = n.subarray(format.headerBytes);
  const head = prefix.byteLength + 1;
  const chunk = mtu - head;
  for (let o = 0; o < body.byteLength; o += chunk) {
    const end = Math.min(o + chunk, body.byteLength);
    const p = new Uint8Array(head + end - o);
    p.set(prefix, 0);
    p[prefix.byteLength] = (o === 0 ? 0x80 : 0) | (end === body.byteLength ? 0x40 : 0) | type;
    p.set(body.subarray(o, end), head);
    out.push({ payload: p, marker: false });
  }
}

export interface NaluFrame {
  nalus: Uint8Array[];
  /** RTP timestamp (90 kHz) of the frame. */
  timestamp: number;
  keyframe: boolean;
  /** A packet of the frame was lost: the frame cannot be decoded correctly. */
  broken: boolean;
}

/** Most NALUs one access unit may collect, and most bytes one fragmented NALU may collect (a peer cannot grow them without bound). */
const MAX_NALUS = 1024;
const MAX_FU_BYTES = 8 * 1024 * 1024;

/**
 * Payloads in sequence order -> access units, a frame ending at the marker bit or at a timestamp change; a
 * sequence gap inside a frame marks the frame broken (the caller drops it and waits for a keyframe). A codec
 * subclass reads each payload's header in `parse` and hands the units over with `single`, `aggregated` and
 * `fragment`.
 */
export abstract class NaluDepacketizer {
  private nalus: Uint8Array[] = [];
  private fu: Uint8Array[] | undefined;
  private fuBytes = 0;
  private ts: number | undefined;
  protected broken = false;
  private lastSeq: number | undefined;
  /** Frames over, for stats. */
  frames = 0;

  /** Reads one payload's header and hands its units over. */
  protected abstract parse(payload: Uint8Array): void;
  /** Whether a unit makes its access unit a keyframe. */
  protected abstract isKeyNalu(nalu: Uint8Array): boolean;

  /**
   * Feeds one RTP payload (in sequence order; gaps allowed). Returns the frames completed by this packet:
   * usually none or one, two when a timestamp change ends a frame that lost its marker packet.
   */
  push(payload: Uint8Array, seq: number, timestamp: number, marker: boolean): NaluFrame[] {
    const out: NaluFrame[] = [];
    const gap = this.lastSeq !== undefined && ((this.lastSeq + 1) & 0xffff) !== seq;
    if (this.ts !== undefined && timestamp !== this.ts) {
      // The previous frame never saw its marker: emit what we have (it lost its tail).
      const f = this.finish(true);
      if (f) out.push(f);
    }
    // Lost packets belong to this frame or to a frame lost whole: either way the decoding chain is broken.
    if (gap) this.broken = true;
    this.lastSeq = seq;
    this.ts = timestamp;
    this.parse(payload);
    if (marker) {
      const f = this.finish(false);
      if (f) out.push(f);
    }
    return out;
  }

  /** A single NAL unit packet. */
  protected single(nalu: Uint8Array): void {
    this.endFu(true);
    this.add(nalu);
  }

  /** An aggregation packet: from `offset`, 16-bit size + unit each; a unit shorter than `minUnit` breaks the frame. */
  protected aggregated(p: Uint8Array, offset: number, minUnit: number): void {
    this.endFu(true);
    let o = offset;
    while (o + 2 <= p.byteLength) {
      const len = (p[o]! << 8) | p[o + 1]!;
      o += 2;
      if (len < minUnit || o + len > p.byteLength) {
        this.broken = true;
        break;
      }
      this.add(p.subarray(o, o + len));
      o += len;
    }
  }

  /**
   * A fragmentation unit: `startHeader` (the rebuilt NAL unit header) on the start fragment, undefined on the
   * others; `chunk` the fragment's body; `end` on the last one.
   */
  protected fragment(startHeader: Uint8Array | undefined, chunk: Uint8Array, end: boolean): void {
    if (startHeader) {
      this.endFu(true);
      this.fu = [startHeader];
      this.fuBytes = startHeader.byteLength;
    } else if (!this.fu) {
      this.broken = true; // a middle/end without its start
      return;
    }
    this.fuBytes += chunk.byteLength;
    if (this.fuBytes > MAX_FU_BYTES) {
      this.fu = undefined;
      this.broken = true;
      return;
    }
    this.fu!.push(chunk);
    if (end) this.endFu(false);
  }

  private add(n: Uint8Array): void {
    if (this.nalus.length >= MAX_NALUS) this.broken = true;
    else this.nalus.push(n);
  }

  private endFu(incomplete: boolean): void {
    if (!this.fu) return;
    if (incomplete) this.broken = true;
    else this.add(concat(this.fu));
    this.fu = undefined;
  }

  private finish(lostTail: boolean): NaluFrame | undefined {
    this.endFu(true);
    const nalus = this.nalus;
    const ts = this.ts;
    const broken = this.broken || lostTail;
    this.nalus = [];
    this.broken = false;
    this.ts = undefined;
    if (!nalus.length || ts === undefined) return undefined;
    this.frames++;
    return { nalus, timestamp: ts, keyframe: nalus.some((n) => this.isKeyNalu(n)), broken };
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const b = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    b.set(p, o);
    o += p.byteLength;
  }
  return b;
}
