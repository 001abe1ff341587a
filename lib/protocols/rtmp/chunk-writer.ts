/**
 * RTMP chunk stream writer (spec 5.3).
 *
 * `encodeChunks` turns one message into its complete wire form: a type 0 chunk, then type 3 continuation chunks
 * every `chunkSize` payload bytes. It depends on nothing but its arguments, so a media packet is encoded once
 * and the bytes are shared by every player connection using that chunk size. When the timestamp needs the
 * extended field (>= 0xFFFFFF) it is repeated on each type 3 chunk, as Flash Player and FFmpeg expect.
 */
import { DEFAULT_CHUNK_SIZE, MSG_SET_CHUNK_SIZE, parseSetChunkSize } from "./messages.ts";
import type { RtmpMessage } from "./messages.ts";

/** What `encodeChunks` needs of a message (csid is where it is sent). */
export type OutgoingMessage = Pick<RtmpMessage, "csid" | "type" | "streamId" | "timestamp" | "payload">;

/** Size of the basic header for a chunk stream id (spec 5.3.1.1). */
export function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function checkCsid(csid: number): void {
  if (!Number.isInteger(csid) || csid < 2 || csid > 65599) throw new RangeError(`chunk stream id ${csid} not in 2..65599`);
}

function writeBasicHeader(out: Uint8Array, off: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[off] = (fmt << 6) | csid;
    return off + 1;
  }
  if (csid < 320) {
    out[off] = fmt << 6;
    out[off + 1] = csid - 64;
    return off + 2;
  }
  const v = csid - 64;
  out[off] = (fmt << 6) | 1;
  out[off + 1] = v & 0xff;
  out[off + 2] = v >> 8;
  return off + 3;
}

/** Number of bytes `encodeChunks` produces for this message. */
export function encodedLength(csid: number, payloadLength: number, timestamp: number, chunkSize: number): number {
  const bh = basicHeaderSize(csid);
  const ext = (timestamp >>> 0) >= 0xffffff ? 4 : 0;
  const chunks = payloadLength === 0 ? 1 : Math.ceil(payloadLength / chunkSize);
  return bh + 11 + ext + payloadLength + (chunks - 1) * (bh + ext);
}

/**
 * Encodes one message as a type 0 chunk plus type 3 continuations into a single new buffer (one payload copy).
 * The timestamp is taken mod 2^32; the stream id is written little-endian as the spec requires.
 */
export function encodeChunks(msg: OutgoingMessage, chunkSize: number): Uint8Array {
  const { csid, payload } = msg;
  checkCsid(csid);
  if (!(chunkSize >= 1 && chunkSize <= 0x7fffffff)) throw new RangeError(`chunk size ${chunkSize} not in 1..0x7fffffff`);
  const len = payload.length;
  if (len > 0xffffff) throw new RangeError(`message of ${len} bytes exceeds the 24-bit length field`);
  const ts = msg.timestamp >>> 0;
  const ext = ts >= 0xffffff;
  const out = new Uint8Array(encodedLength(csid, len, ts, chunkSize));

  let o = writeBasicHeader(out, 0, 0, csid);
  const t24 = ext ? 0xffffff : ts;
  out[o] = t24 >>> 16;
  out[o + 1] = (t24 >>> 8) & 0xff;
  out[o + 2] = t24 & 0xff;
  out[o + 3] = len >>> 16;
  out[o + 4] = (len >>> 8) & 0xff;
  out[o + 5] = len & 0xff;
  out[o + 6] = msg.type;
  const sid = msg.streamId >>> 0;
  out[o + 7] = sid & 0xff;
  out[o + 8] = (sid >>> 8) & 0xff;
  out[o + 9] = (sid >>> 16) & 0xff;
  out[o + 10] = sid >>> 24;
  o += 11;
  if (ext) o = writeU32(out, o, ts);

  let p = 0;
  const first = Math.min(chunkSize, len);
  out.set(first === len ? payload : payload.subarray(0, first), o);
  o += first;
  p += first;
  while (p < len) {
    o = writeBasicHeader(out, o, 3, csid);
    if (ext) o = writeU32(out, o, ts);
    const n = Math.min(chunkSize, len - p);
    out.set(payload.subarray(p, p + n), o);
    o += n;
    p += n;
  }
  return out;
}

function writeU32(out: Uint8Array, o: number, v: number): number {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
  return o + 4;
}

/**
 * Per-connection writer: remembers the outgoing chunk size. Writing a Set Chunk Size message through it
 * switches the size for the messages that follow (the control message itself uses the old size).
 * Messages are always sent as type 0 + type 3 chunks (no header compression): simple and robust.
 */
export class ChunkWriter {
  chunkSize: number;

  constructor(chunkSize: number = DEFAULT_CHUNK_SIZE) {
    this.chunkSize = chunkSize;
  }

  write(msg: OutgoingMessage): Uint8Array {
    const bytes = encodeChunks(msg, this.chunkSize);
    if (msg.type === MSG_SET_CHUNK_SIZE && msg.streamId === 0) this.chunkSize = parseSetChunkSize(msg.payload);
    return bytes;
  }
}
