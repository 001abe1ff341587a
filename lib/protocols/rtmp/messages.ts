/**
 * RTMP message types, protocol control messages (RTMP spec 1.0 section 5.4), user control events (6.2 / 7.1.7),
 * aggregate messages (7.1.6) and the acknowledgement window (5.4.3 / 5.4.4).
 */

/** Message type ids (the "message type id" of the chunk message header). */
export const MSG_SET_CHUNK_SIZE = 1;
export const MSG_ABORT = 2;
export const MSG_ACK = 3;
export const MSG_USER_CONTROL = 4;
export const MSG_WINDOW_ACK_SIZE = 5;
export const MSG_SET_PEER_BANDWIDTH = 6;
export const MSG_AUDIO = 8;
export const MSG_VIDEO = 9;
export const MSG_AMF3_DATA = 15;
export const MSG_AMF3_SHARED_OBJECT = 16;
export const MSG_AMF3_COMMAND = 17;
export const MSG_AMF0_DATA = 18;
export const MSG_AMF0_SHARED_OBJECT = 19;
export const MSG_AMF0_COMMAND = 20;
export const MSG_AGGREGATE = 22;

/** Conventional chunk stream ids (what Flash/FMS/SRS use). */
export const CSID_PROTOCOL_CONTROL = 2;
export const CSID_COMMAND = 3;
export const CSID_OVER_CONNECTION2 = 4;
export const CSID_AUDIO = 6;
export const CSID_VIDEO = 7;
export const CSID_DATA = 5;

/** One RTMP message, as the chunk reader emits it and the chunk writer takes it. */
export interface RtmpMessage {
  /** Message type id (MSG_*). */
  type: number;
  /** Message stream id (0 for the NetConnection, 1.. for NetStreams). */
  streamId: number;
  /** Timestamp in ms, 32-bit as on the wire (fold wraps with `TimestampUnwrapper`). */
  timestamp: number;
  /** Chunk stream id the message arrived on / is sent on. */
  csid: number;
  payload: Uint8Array;
}

export class RtmpProtocolError extends Error {
  override name = "RtmpProtocolError";
}

/** Default chunk size before any Set Chunk Size (spec 5.4.1). */
export const DEFAULT_CHUNK_SIZE = 128;

function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function readU32(p: Uint8Array, off: number, what: string): number {
  if (p.length < off + 4) throw new RtmpProtocolError(`${what}: payload too short (${p.length} bytes)`);
  return ((p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Protocol control messages: payload builders and parsers (send them on csid 2, stream 0).

/** Set Chunk Size payload; the top bit is reserved and cleared. */
export function setChunkSizePayload(size: number): Uint8Array {
  if (!(size >= 1 && size <= 0x7fffffff)) throw new RangeError(`chunk size ${size} not in 1..0x7fffffff`);
  return u32be(size & 0x7fffffff);
}
/** The chunk size of a Set Chunk Size payload (top bit cleared); 0 is rejected. */
export function parseSetChunkSize(p: Uint8Array): number {
  const v = readU32(p, 0, "set chunk size") & 0x7fffffff;
  if (v === 0) throw new RtmpProtocolError("set chunk size: chunk size 0 is invalid");
  return v;
}

export function abortPayload(csid: number): Uint8Array {
  return u32be(csid);
}
export function parseAbort(p: Uint8Array): number {
  return readU32(p, 0, "abort");
}

export function ackPayload(sequenceNumber: number): Uint8Array {
  return u32be(sequenceNumber);
}
export function parseAck(p: Uint8Array): number {
  return readU32(p, 0, "acknowledgement");
}

export function windowAckSizePayload(size: number): Uint8Array {
  return u32be(size);
}
export function parseWindowAckSize(p: Uint8Array): number {
  return readU32(p, 0, "window acknowledgement size");
}

/** Set Peer Bandwidth limit types. */
export const LIMIT_HARD = 0;
export const LIMIT_SOFT = 1;
export const LIMIT_DYNAMIC = 2;

export function setPeerBandwidthPayload(size: number, limitType: number = LIMIT_DYNAMIC): Uint8Array {
  const b = new Uint8Array(5);
  new DataView(b.buffer).setUint32(0, size >>> 0);
  b[4] = limitType;
  return b;
}
export function parseSetPeerBandwidth(p: Uint8Array): { size: number; limitType: number } {
  const size = readU32(p, 0, "set peer bandwidth");
  return { size, limitType: p.length > 4 ? p[4]! : LIMIT_DYNAMIC };
}

// ---------------------------------------------------------------------------------------------------------
// User control messages (type 4): 2-byte event type, then event data.

export const UC_STREAM_BEGIN = 0;
export const UC_STREAM_EOF = 1;
export const UC_STREAM_DRY = 2;
export const UC_SET_BUFFER_LENGTH = 3;
export const UC_STREAM_IS_RECORDED = 4;
export const UC_PING_REQUEST = 6;
export const UC_PING_RESPONSE = 7;
/** Flash Player extensions SRS knows: SWF verification and buffer empty/ready. */
export const UC_SWF_VERIFY_REQUEST = 0x1a;
export const UC_SWF_VERIFY_RESPONSE = 0x1b;
export const UC_BUFFER_EMPTY = 0x1f;
export const UC_BUFFER_READY = 0x20;

export interface UserControlEvent {
  event: number;
  /** Stream id for stream events, timestamp for ping request/response; 0 when absent. */
  value: number;
  /** Buffer length in ms (SetBufferLength only). */
  bufferLength?: number;
}

/** A user control event payload: event type + one 32-bit value (+ buffer length for SetBufferLength). */
export function userControlPayload(event: number, value: number, bufferLength?: number): Uint8Array {
  const withLen = event === UC_SET_BUFFER_LENGTH;
  const b = new Uint8Array(withLen ? 10 : 6);
  const v = new DataView(b.buffer);
  v.setUint16(0, event);
  v.setUint32(2, value >>> 0);
  if (withLen) v.setUint32(6, (bufferLength ?? 0) >>> 0);
  return b;
}

export const streamBeginPayload = (streamId: number): Uint8Array => userControlPayload(UC_STREAM_BEGIN, streamId);
export const streamEofPayload = (streamId: number): Uint8Array => userControlPayload(UC_STREAM_EOF, streamId);
export const streamDryPayload = (streamId: number): Uint8Array => userControlPayload(UC_STREAM_DRY, streamId);
export const setBufferLengthPayload = (streamId: number, ms: number): Uint8Array =>
  userControlPayload(UC_SET_BUFFER_LENGTH, streamId, ms);
export const streamIsRecordedPayload = (streamId: number): Uint8Array =>
  userControlPayload(UC_STREAM_IS_RECORDED, streamId);
export const pingRequestPayload = (timestamp: number): Uint8Array => userControlPayload(UC_PING_REQUEST, timestamp);
export const pingResponsePayload = (timestamp: number): Uint8Array => userControlPayload(UC_PING_RESPONSE, timestamp);

export function parseUserControl(p: Uint8Array): UserControlEvent {
  if (p.length < 2) throw new RtmpProtocolError(`user control: payload too short (${p.length} bytes)`);
  const event = (p[0]! << 8) | p[1]!;
  // Some events (e.g. SWF verify request) carry no 32-bit value.
  const value = p.length >= 6 ? readU32(p, 2, "user control") : 0;
  const ev: UserControlEvent = { event, value };
  if (event === UC_SET_BUFFER_LENGTH) ev.bufferLength = p.length >= 10 ? readU32(p, 6, "set buffer length") : 0;
  return ev;
}

// ---------------------------------------------------------------------------------------------------------
// Message builders: ready to hand to encodeChunks / ChunkWriter.

function control(type: number, payload: Uint8Array): RtmpMessage {
  return { csid: CSID_PROTOCOL_CONTROL, type, streamId: 0, timestamp: 0, payload };
}
export const setChunkSizeMessage = (size: number): RtmpMessage =>
  control(MSG_SET_CHUNK_SIZE, setChunkSizePayload(size));
export const abortMessage = (csid: number): RtmpMessage => control(MSG_ABORT, abortPayload(csid));
export const ackMessage = (seq: number): RtmpMessage => control(MSG_ACK, ackPayload(seq));
export const windowAckSizeMessage = (size: number): RtmpMessage =>
  control(MSG_WINDOW_ACK_SIZE, windowAckSizePayload(size));
export const setPeerBandwidthMessage = (size: number, limitType: number = LIMIT_DYNAMIC): RtmpMessage =>
  control(MSG_SET_PEER_BANDWIDTH, setPeerBandwidthPayload(size, limitType));
export const userControlMessage = (event: number, value: number, bufferLength?: number): RtmpMessage =>
  control(MSG_USER_CONTROL, userControlPayload(event, value, bufferLength));

// ---------------------------------------------------------------------------------------------------------
// Aggregate messages (type 22): a sequence of FLV-tag-like sub-messages
//   type(1) size(3) timestamp(3) timestampExtended(1) streamId(3) data(size) backPointer(4)

/**
 * Splits an aggregate message into its sub-messages. Sub-message timestamps are rebased so the first
 * sub-message gets the aggregate's timestamp (spec 7.1.6); the aggregate's stream id and csid override theirs.
 * Payloads are views into the aggregate payload (no copies). A truncated tail raises RtmpProtocolError.
 */
export function splitAggregate(msg: RtmpMessage): RtmpMessage[] {
  const p = msg.payload;
  const out: RtmpMessage[] = [];
  let off = 0;
  let first = -1;
  while (off < p.length) {
    if (p.length - off < 11) throw new RtmpProtocolError(`aggregate: truncated sub-message header at ${off}`);
    const type = p[off]!;
    const size = (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!;
    const ts = (((p[off + 7]! << 24) | (p[off + 4]! << 16) | (p[off + 5]! << 8) | p[off + 6]!) >>> 0);
    off += 11;
    if (p.length - off < size) {
      throw new RtmpProtocolError(`aggregate: sub-message of ${size} bytes exceeds payload at ${off}`);
    }
    if (first < 0) first = ts;
    out.push({
      type,
      streamId: msg.streamId,
      csid: msg.csid,
      timestamp: (msg.timestamp + (ts - first)) >>> 0,
      payload: p.subarray(off, off + size),
    });
    off += size;
    // back pointer; tolerate its absence after the last sub-message
    off += Math.min(4, p.length - off);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Acknowledgement window (spec 5.4.3/5.4.4): count bytes received; once at least `window` bytes arrived since
 * the last acknowledgement, `received()` returns the Ack message to send (sequence number = total bytes
 * received, mod 2^32). A window of 0 disables acknowledgements.
 */
export class AckWindow {
  window = 0;
  /** Total bytes received (unbounded). */
  total = 0;
  private lastAcked = 0;

  constructor(window = 0) {
    this.window = window;
  }

  /** The peer's Window Acknowledgement Size. */
  setWindow(size: number): void {
    this.window = size;
  }

  /** Counts `n` received bytes; returns an Ack message when one is due. */
  received(n: number): RtmpMessage | undefined {
    this.total += n;
    if (this.window > 0 && this.total - this.lastAcked >= this.window) {
      this.lastAcked = this.total;
      return ackMessage(this.total % 0x100000000);
    }
    return undefined;
  }
}

/**
 * Folds 32-bit wire timestamps into a monotonic-ish unbounded millisecond timeline: a jump backwards by more
 * than half the 32-bit range is taken as a wrap. One instance per (stream, direction).
 */
export class TimestampUnwrapper {
  private last = -1;
  private base = 0;

  unwrap(ts32: number): number {
    const t = ts32 >>> 0;
    if (this.last >= 0) {
      if (t < this.last && this.last - t > 0x80000000) this.base += 0x100000000;
      else if (t > this.last && t - this.last > 0x80000000 && this.base > 0) this.base -= 0x100000000;
    }
    this.last = t;
    return this.base + t;
  }
}
