/**
 * SRT packet codec (draft-sharabayko-srt §3): the 16-byte header of data and control packets and the
 * Control Information Field of every control type.
 *
 * Two layers:
 *  - hot-path helpers that read/write fields in place (`readHeader` into a reused `SrtHeader`, `writeDataHeader`,
 *    `writeControlHeader`, `encodeAck`, `encodeNak`, `decodeLossList`…) and never allocate;
 *  - `decodePacket`, a strict, allocating decoder returning a tagged object (tests, fuzzing, logging, handshake).
 *
 * Every decoder checks bounds first and throws only `SrtPacketError`.
 */
import { SEQ_MAX } from "./seq.ts";

export class SrtPacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SrtPacketError";
  }
}

export const HEADER_SIZE = 16;
/** Largest datagram we accept or build (payload up to 1456 + header, with headroom). */
export const MAX_PACKET_SIZE = 1500;

// Control types (§3.2, Table 1).
export const CTRL_HANDSHAKE = 0x0000;
export const CTRL_KEEPALIVE = 0x0001;
export const CTRL_ACK = 0x0002;
export const CTRL_NAK = 0x0003;
export const CTRL_CONGESTION = 0x0004;
export const CTRL_SHUTDOWN = 0x0005;
export const CTRL_ACKACK = 0x0006;
export const CTRL_DROPREQ = 0x0007;
export const CTRL_PEERERROR = 0x0008;
export const CTRL_USER = 0x7fff;

// Data packet position flags (PP).
export const PP_MIDDLE = 0;
export const PP_LAST = 1;
export const PP_FIRST = 2;
export const PP_SOLO = 3;

// KK: key-based encryption flag.
export const KK_NONE = 0;
export const KK_EVEN = 1;
export const KK_ODD = 2;

/** Mutable header view, reused by the packet path (`readHeader`). */
export interface SrtHeader {
  control: boolean;
  /** Data: packet sequence number. */
  seq: number;
  /** Data: PP, O, KK, R and message number. */
  position: number;
  inOrder: boolean;
  kk: number;
  retransmitted: boolean;
  msgNo: number;
  /** Control: control type, subtype and type-specific information. */
  ctrlType: number;
  subtype: number;
  info: number;
  timestamp: number;
  destId: number;
}

export function newHeader(): SrtHeader {
  return {
    control: false, seq: 0, position: 0, inOrder: false, kk: 0, retransmitted: false, msgNo: 0,
    ctrlType: 0, subtype: 0, info: 0, timestamp: 0, destId: 0,
  };
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export { u32 as readU32, w32 as writeU32 };

/**
 * A copy of b[start..end) as a plain Uint8Array. (Buffer#slice — what node:dgram hands us — returns a view, so
 * `.slice()` must not be relied on to copy.)
 */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  return Uint8Array.prototype.slice.call(b, start, end);
}

/** Reads the header of `buf[0..len)` into `h` (no allocation). Throws SrtPacketError if shorter than 16 bytes. */
export function readHeader(buf: Uint8Array, len: number, h: SrtHeader): void {
  if (len < HEADER_SIZE || buf.length < len) throw new SrtPacketError(`packet too short: ${len} bytes`);
  const w0 = u32(buf, 0);
  const w1 = u32(buf, 4);
  h.timestamp = u32(buf, 8);
  h.destId = u32(buf, 12);
  if (w0 & 0x80000000) {
    h.control = true;
    h.ctrlType = (w0 >>> 16) & 0x7fff;
    h.subtype = w0 & 0xffff;
    h.info = w1;
  } else {
    h.control = false;
    h.seq = w0 & SEQ_MAX;
    h.position = w1 >>> 30;
    h.inOrder = ((w1 >>> 29) & 1) === 1;
    h.kk = (w1 >>> 27) & 3;
    h.retransmitted = ((w1 >>> 26) & 1) === 1;
    h.msgNo = w1 & 0x03ffffff;
  }
}

export function writeDataHeader(
  buf: Uint8Array, seq: number, position: number, inOrder: boolean, kk: number, retransmitted: boolean,
  msgNo: number, timestamp: number, destId: number,
): void {
  w32(buf, 0, seq & SEQ_MAX);
  w32(
    buf, 4,
    (((position & 3) << 30) | ((inOrder ? 1 : 0) << 29) | ((kk & 3) << 27) | ((retransmitted ? 1 : 0) << 26) |
      (msgNo & 0x03ffffff)) >>> 0,
  );
  w32(buf, 8, timestamp >>> 0);
  w32(buf, 12, destId >>> 0);
}

/** Sets or clears the R (retransmitted) flag of a data packet already in `buf`. */
export function setRetransmitFlag(buf: Uint8Array, on: boolean): void {
  if (on) buf[4] = buf[4]! | 0x04;
  else buf[4] = buf[4]! & ~0x04;
}

export function writeControlHeader(
  buf: Uint8Array, ctrlType: number, subtype: number, info: number, timestamp: number, destId: number,
): void {
  w32(buf, 0, (0x80000000 | ((ctrlType & 0x7fff) << 16) | (subtype & 0xffff)) >>> 0);
  w32(buf, 4, info >>> 0);
  w32(buf, 8, timestamp >>> 0);
  w32(buf, 12, destId >>> 0);
}

// ---- ACK ----------------------------------------------------------------------------------------------------

export const ACK_LIGHT_SIZE = 4;
export const ACK_SMALL_SIZE = 16;
export const ACK_FULL_SIZE = 28;

export interface AckInfo {
  /** Acknowledgement number (0 for light/small ACKs). */
  ackNo: number;
  /** Last acknowledged packet sequence number + 1. */
  ackSeq: number;
  kind: "light" | "small" | "full";
  rttUs: number;
  rttVarUs: number;
  availBuf: number;
  pktRate: number;
  linkCapacity: number;
  byteRate: number;
}

export function newAckInfo(): AckInfo {
  return { ackNo: 0, ackSeq: 0, kind: "light", rttUs: 0, rttVarUs: 0, availBuf: 0, pktRate: 0, linkCapacity: 0, byteRate: 0 };
}

/** Decodes the ACK CIF at buf[16..len) into `out`. Light = 4 bytes, small = 16, full = 28 (longer is tolerated). */
export function decodeAck(buf: Uint8Array, len: number, ackNo: number, out: AckInfo): void {
  const cif = len - HEADER_SIZE;
  if (cif < ACK_LIGHT_SIZE) throw new SrtPacketError(`ACK too short: ${cif} bytes of CIF`);
  out.ackNo = ackNo;
  out.ackSeq = u32(buf, 16) & SEQ_MAX;
  out.rttUs = out.rttVarUs = out.availBuf = out.pktRate = out.linkCapacity = out.byteRate = 0;
  if (cif >= ACK_FULL_SIZE) {
    out.kind = "full";
    out.rttUs = u32(buf, 20);
    out.rttVarUs = u32(buf, 24);
    out.availBuf = u32(buf, 28);
    out.pktRate = u32(buf, 32);
    out.linkCapacity = u32(buf, 36);
    out.byteRate = u32(buf, 40);
  } else if (cif >= ACK_SMALL_SIZE) {
    out.kind = "small";
    out.rttUs = u32(buf, 20);
    out.rttVarUs = u32(buf, 24);
    out.availBuf = u32(buf, 28);
  } else {
    out.kind = "light";
  }
}

/** Writes a full ACK (44 bytes) into `buf`; returns its length. */
export function encodeFullAck(
  buf: Uint8Array, ackNo: number, timestamp: number, destId: number, ackSeq: number, rttUs: number, rttVarUs: number,
  availBuf: number, pktRate: number, linkCapacity: number, byteRate: number,
): number {
  writeControlHeader(buf, CTRL_ACK, 0, ackNo, timestamp, destId);
  w32(buf, 16, ackSeq & SEQ_MAX);
  w32(buf, 20, rttUs >>> 0);
  w32(buf, 24, rttVarUs >>> 0);
  w32(buf, 28, availBuf >>> 0);
  w32(buf, 32, pktRate >>> 0);
  w32(buf, 36, linkCapacity >>> 0);
  w32(buf, 40, byteRate >>> 0);
  return HEADER_SIZE + ACK_FULL_SIZE;
}

/** Writes a light ACK (20 bytes, ACK number 0). */
export function encodeLightAck(buf: Uint8Array, timestamp: number, destId: number, ackSeq: number): number {
  writeControlHeader(buf, CTRL_ACK, 0, 0, timestamp, destId);
  w32(buf, 16, ackSeq & SEQ_MAX);
  return HEADER_SIZE + ACK_LIGHT_SIZE;
}

// ---- NAK loss list ------------------------------------------------------------------------------------------

/**
 * Decodes a loss list (NAK CIF) into `out` as [from, to] pairs (inclusive); returns the number of pairs.
 * Stops (without error) when `out` is full; throws on a range start without an end.
 */
export function decodeLossList(buf: Uint8Array, len: number, out: Uint32Array): number {
  const end = len;
  if ((end - HEADER_SIZE) % 4 !== 0) throw new SrtPacketError(`NAK CIF not a multiple of 4: ${end - HEADER_SIZE}`);
  let n = 0;
  let o = HEADER_SIZE;
  while (o < end && n * 2 + 1 < out.length) {
    const v = u32(buf, o);
    o += 4;
    if (v & 0x80000000) {
      if (o >= end) throw new SrtPacketError("NAK range without an end");
      const to = u32(buf, o) & SEQ_MAX;
      o += 4;
      out[n * 2] = v & SEQ_MAX;
      out[n * 2 + 1] = to;
    } else {
      out[n * 2] = v;
      out[n * 2 + 1] = v;
    }
    n++;
  }
  return n;
}

/**
 * Appends one loss entry (single or range) at byte offset `o` of a NAK being built; returns the new offset.
 * The caller bounds `o` by its buffer size (8 bytes per entry at most).
 */
export function putLoss(buf: Uint8Array, o: number, from: number, to: number): number {
  if (from === to) {
    w32(buf, o, from & SEQ_MAX);
    return o + 4;
  }
  w32(buf, o, ((from & SEQ_MAX) | 0x80000000) >>> 0);
  w32(buf, o + 4, to & SEQ_MAX);
  return o + 8;
}

// ---- Drop request -------------------------------------------------------------------------------------------

export function encodeDropReq(
  buf: Uint8Array, msgNo: number, timestamp: number, destId: number, first: number, last: number,
): number {
  writeControlHeader(buf, CTRL_DROPREQ, 0, msgNo, timestamp, destId);
  w32(buf, 16, first & SEQ_MAX);
  w32(buf, 20, last & SEQ_MAX);
  return HEADER_SIZE + 8;
}

// ---- Strict, allocating decoder -----------------------------------------------------------------------------

export type SrtPacket =
  | {
    kind: "data";
    seq: number;
    position: number;
    inOrder: boolean;
    kk: number;
    retransmitted: boolean;
    msgNo: number;
    timestamp: number;
    destId: number;
    payload: Uint8Array;
  }
  | { kind: "handshake"; timestamp: number; destId: number; cif: Uint8Array }
  | { kind: "keepalive"; timestamp: number; destId: number }
  | { kind: "ack"; timestamp: number; destId: number; ack: AckInfo }
  | { kind: "nak"; timestamp: number; destId: number; losses: Array<[number, number]> }
  | { kind: "congestion"; timestamp: number; destId: number }
  | { kind: "shutdown"; timestamp: number; destId: number }
  | { kind: "ackack"; timestamp: number; destId: number; ackNo: number }
  | { kind: "dropreq"; timestamp: number; destId: number; msgNo: number; first: number; last: number }
  | { kind: "peererror"; timestamp: number; destId: number; code: number }
  | { kind: "user"; timestamp: number; destId: number; subtype: number; cif: Uint8Array };

/** Decodes one datagram. Throws SrtPacketError on anything malformed; never anything else. */
export function decodePacket(buf: Uint8Array): SrtPacket {
  const h = newHeader();
  readHeader(buf, buf.length, h);
  const len = buf.length;
  const { timestamp, destId } = h;
  if (!h.control) {
    return {
      kind: "data", seq: h.seq, position: h.position, inOrder: h.inOrder, kk: h.kk, retransmitted: h.retransmitted,
      msgNo: h.msgNo, timestamp, destId, payload: buf.subarray(HEADER_SIZE),
    };
  }
  switch (h.ctrlType) {
    case CTRL_HANDSHAKE:
      if (len - HEADER_SIZE < 48) throw new SrtPacketError(`handshake too short: ${len - HEADER_SIZE} bytes of CIF`);
      return { kind: "handshake", timestamp, destId, cif: buf.subarray(HEADER_SIZE) };
    case CTRL_KEEPALIVE:
      return { kind: "keepalive", timestamp, destId };
    case CTRL_ACK: {
      const ack = newAckInfo();
      decodeAck(buf, len, h.info, ack);
      return { kind: "ack", timestamp, destId, ack };
    }
    case CTRL_NAK: {
      if (len - HEADER_SIZE < 4) throw new SrtPacketError("NAK without a loss list");
      const out = new Uint32Array(((len - HEADER_SIZE) / 4) * 2 + 2);
      const n = decodeLossList(buf, len, out);
      const losses: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) losses.push([out[i * 2]!, out[i * 2 + 1]!]);
      return { kind: "nak", timestamp, destId, losses };
    }
    case CTRL_CONGESTION:
      return { kind: "congestion", timestamp, destId };
    case CTRL_SHUTDOWN:
      return { kind: "shutdown", timestamp, destId };
    case CTRL_ACKACK:
      return { kind: "ackack", timestamp, destId, ackNo: h.info };
    case CTRL_DROPREQ:
      if (len - HEADER_SIZE < 8) throw new SrtPacketError("DROPREQ too short");
      return {
        kind: "dropreq", timestamp, destId, msgNo: h.info, first: u32(buf, 16) & SEQ_MAX, last: u32(buf, 20) & SEQ_MAX,
      };
    case CTRL_PEERERROR:
      return { kind: "peererror", timestamp, destId, code: h.info };
    case CTRL_USER:
      return { kind: "user", timestamp, destId, subtype: h.subtype, cif: buf.subarray(HEADER_SIZE) };
    default:
      throw new SrtPacketError(`unknown control type 0x${h.ctrlType.toString(16)}`);
  }
}
