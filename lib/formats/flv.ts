/**
 * FLV container (FLV spec v10.1 E.2-E.3): file header, tag header, a streaming demuxer and tag encoding.
 * Tag bodies are RTMP audio/video/data message payloads; see lib/media/flv-codec.ts to turn them into
 * MediaPackets.
 */
import type { MediaPacket } from "../media/packet.ts";
import { packetFlvPrefix, packetFlvTagType } from "../media/flv-codec.ts";
import type { FlvEncodeOptions } from "../media/flv-codec.ts";

// Tag types: defined once, in flv-codec.ts (tag type = RTMP message type).
export { FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from "../media/flv-codec.ts";

export const FLV_HEADER_SIZE = 9;
export const FLV_TAG_HEADER_SIZE = 11;
/** Default bound on a tag's DataSize accepted by FlvDemuxer. */
export const FLV_DEFAULT_MAX_TAG_SIZE = 16 * 1024 * 1024;

export class FlvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlvError";
  }
}

export interface FlvHeader {
  version: number;
  hasAudio: boolean;
  hasVideo: boolean;
  /** DataOffset: size of the header (9 for version 1). */
  dataOffset: number;
}

export interface FlvTag {
  /** TagType (8 audio, 9 video, 18 script data). */
  type: number;
  /** Filter bit (encrypted/pre-processed tag). */
  filter: boolean;
  /** Timestamp in ms: 24 bits + TimestampExtended as the upper 8 bits (unsigned 32-bit). */
  timestamp: number;
  streamId: number;
  /** The tag body; a subarray of a buffer passed to/held by the demuxer. */
  data: Uint8Array;
}

/**
 * Read an FLV file header at `off` (9 bytes, not the PreviousTagSize0 after it). Returns null when fewer
 * than 9 bytes are available, throws FlvError when the signature is wrong.
 */
export function readFlvHeader(buf: Uint8Array, off = 0): FlvHeader | null {
  if (off + FLV_HEADER_SIZE > buf.length) return null;
  if (buf[off] !== 0x46 || buf[off + 1] !== 0x4c || buf[off + 2] !== 0x56) throw new FlvError("FLV: bad signature (not 'FLV')");
  const flags = buf[off + 4]!;
  const dataOffset = ((buf[off + 5]! << 24) | (buf[off + 6]! << 16) | (buf[off + 7]! << 8) | buf[off + 8]!) >>> 0;
  if (dataOffset < FLV_HEADER_SIZE) throw new FlvError(`FLV: bad header DataOffset ${dataOffset}`);
  return { version: buf[off + 3]!, hasAudio: (flags & 4) !== 0, hasVideo: (flags & 1) !== 0, dataOffset };
}

/** FLV file header + PreviousTagSize0 (13 bytes), version 1. */
export function encodeFlvHeader(o: { hasAudio: boolean; hasVideo: boolean }): Uint8Array {
  return Uint8Array.of(0x46, 0x4c, 0x56, 1, (o.hasAudio ? 4 : 0) | (o.hasVideo ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0);
}

export interface FlvTagHeader {
  type: number;
  filter: boolean;
  dataSize: number;
  timestamp: number;
  streamId: number;
}

/** Read an 11-byte tag header at `off`; null when fewer than 11 bytes are available. */
export function readFlvTagHeader(buf: Uint8Array, off = 0): FlvTagHeader | null {
  if (off + FLV_TAG_HEADER_SIZE > buf.length) return null;
  const b0 = buf[off]!;
  return {
    type: b0 & 0x1f,
    filter: (b0 & 0x20) !== 0,
    dataSize: (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!,
    timestamp: ((buf[off + 7]! << 24) | (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!) >>> 0,
    streamId: (buf[off + 8]! << 16) | (buf[off + 9]! << 8) | buf[off + 10]!,
  };
}

/** Write an 11-byte tag header (stream id 0) into `out` at `off`. `timestamp` is taken modulo 2^32. */
export function writeFlvTagHeader(out: Uint8Array, off: number, type: number, timestamp: number, dataSize: number): void {
  if (dataSize < 0 || dataSize > 0xffffff) throw new FlvError(`FLV: tag body of ${dataSize} bytes exceeds 2^24-1`);
  const ts = timestamp >>> 0;
  out[off] = type & 0x1f;
  out[off + 1] = (dataSize >> 16) & 0xff;
  out[off + 2] = (dataSize >> 8) & 0xff;
  out[off + 3] = dataSize & 0xff;
  out[off + 4] = (ts >> 16) & 0xff;
  out[off + 5] = (ts >> 8) & 0xff;
  out[off + 6] = ts & 0xff;
  out[off + 7] = ts >>> 24;
  out[off + 8] = 0;
  out[off + 9] = 0;
  out[off + 10] = 0;
}

/** Write a 4-byte big-endian PreviousTagSize. */
export function writeUint32BE(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}

/** A complete tag: header + body + PreviousTagSize (= 11 + body length), in one buffer. */
export function encodeFlvTag(type: number, timestamp: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const out = new Uint8Array(FLV_TAG_HEADER_SIZE + n + 4);
  writeFlvTagHeader(out, 0, type, timestamp, n);
  out.set(body, FLV_TAG_HEADER_SIZE);
  writeUint32BE(out, FLV_TAG_HEADER_SIZE + n, FLV_TAG_HEADER_SIZE + n);
  return out;
}

/**
 * Like encodeFlvTag for a body given as a small prefix + payload (e.g. a video tag header + NALUs),
 * so callers avoid building the body first.
 */
export function encodeFlvTagParts(type: number, timestamp: number, prefix: Uint8Array, payload: Uint8Array): Uint8Array {
  const n = prefix.length + payload.length;
  const out = new Uint8Array(FLV_TAG_HEADER_SIZE + n + 4);
  writeFlvTagHeader(out, 0, type, timestamp, n);
  out.set(prefix, FLV_TAG_HEADER_SIZE);
  out.set(payload, FLV_TAG_HEADER_SIZE + prefix.length);
  writeUint32BE(out, FLV_TAG_HEADER_SIZE + n, FLV_TAG_HEADER_SIZE + n);
  return out;
}

export interface FlvDemuxerOptions {
  /** Reject tags whose DataSize exceeds this (default 16 MiB). */
  maxTagSize?: number;
  /** Expect the 9-byte FLV header + PreviousTagSize0 first (default true). */
  header?: boolean;
}

/**
 * Streaming FLV demuxer: push arbitrary byte chunks, get complete tags back.
 *
 * Memory stays bounded: a tag declaring more than `maxTagSize` bytes raises an FlvError as soon as its
 * header is seen, before its body is buffered. Tag bodies are subarrays of the pushed chunks when a tag
 * lies entirely in one chunk (zero copy), so callers must not mutate a chunk after pushing it. After an
 * error the demuxer is unusable (the stream is corrupt).
 */
export class FlvDemuxer {
  header: FlvHeader | null = null;
  readonly maxTagSize: number;
  private needHeader: boolean;
  private pending: Uint8Array[] = [];
  private pendingLen = 0;
  /** Bytes needed before parsing can progress. */
  private need = 0;
  private failed: FlvError | null = null;

  constructor(opts: FlvDemuxerOptions = {}) {
    this.maxTagSize = opts.maxTagSize ?? FLV_DEFAULT_MAX_TAG_SIZE;
    this.needHeader = opts.header ?? true;
  }

  /** Bytes held waiting for the rest of a tag. */
  get bufferedBytes(): number {
    return this.pendingLen;
  }

  /** Feed bytes; returns the tags completed by them (possibly none). Throws FlvError on corrupt input. */
  push(chunk: Uint8Array): FlvTag[] {
    if (this.failed) throw this.failed;
    const out: FlvTag[] = [];
    if (chunk.length === 0) return out;
    let buf: Uint8Array;
    if (this.pendingLen === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingLen += chunk.length;
      if (this.pendingLen < this.need) return out;
      buf = new Uint8Array(this.pendingLen);
      let o = 0;
      for (const p of this.pending) {
        buf.set(p, o);
        o += p.length;
      }
      this.pending = [];
      this.pendingLen = 0;
    }
    try {
      this.parse(buf, out);
    } catch (e) {
      if (e instanceof FlvError) this.failed = e;
      throw e;
    }
    return out;
  }

  private parse(buf: Uint8Array, out: FlvTag[]): void {
    const n = buf.length;
    let off = 0;
    for (;;) {
      const left = n - off;
      if (this.needHeader) {
        if (left < FLV_HEADER_SIZE) return this.keep(buf, off, FLV_HEADER_SIZE);
        const h = readFlvHeader(buf, off)!;
        if (h.dataOffset > 1024) throw new FlvError(`FLV: header DataOffset ${h.dataOffset} too large`);
        const total = h.dataOffset + 4; // + PreviousTagSize0
        if (left < total) return this.keep(buf, off, total);
        this.header = h;
        this.needHeader = false;
        off += total;
        continue;
      }
      if (left < FLV_TAG_HEADER_SIZE) return this.keep(buf, off, FLV_TAG_HEADER_SIZE);
      const b0 = buf[off]!;
      const size = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
      if (size > this.maxTagSize) {
        throw new FlvError(`FLV: tag of ${size} bytes exceeds the limit of ${this.maxTagSize} bytes`);
      }
      const total = FLV_TAG_HEADER_SIZE + size + 4;
      if (left < total) return this.keep(buf, off, total);
      out.push({
        type: b0 & 0x1f,
        filter: (b0 & 0x20) !== 0,
        timestamp: ((buf[off + 7]! << 24) | (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!) >>> 0,
        streamId: (buf[off + 8]! << 16) | (buf[off + 9]! << 8) | buf[off + 10]!,
        data: buf.subarray(off + FLV_TAG_HEADER_SIZE, off + FLV_TAG_HEADER_SIZE + size),
      });
      off += total;
    }
  }

  private keep(buf: Uint8Array, off: number, need: number): void {
    this.need = need;
    if (off < buf.length) {
      this.pending = [buf.subarray(off)];
      this.pendingLen = buf.length - off;
    }
  }
}

/** Demux a whole in-memory FLV file (header + tags); throws FlvError on corrupt or truncated input. */
export function demuxFlv(file: Uint8Array, opts: FlvDemuxerOptions = {}): { header: FlvHeader; tags: FlvTag[] } {
  const d = new FlvDemuxer(opts);
  const tags = d.push(file);
  if (!d.header) throw new FlvError("FLV: truncated header");
  if (d.bufferedBytes > 0) throw new FlvError(`FLV: ${d.bufferedBytes} trailing bytes (truncated tag)`);
  return { header: d.header, tags };
}

/** A packet as a complete FLV tag (header + tag body + PreviousTagSize) in one allocation; timestamp = dts. */
export function encodePacketFlvTag(p: MediaPacket, opts: FlvEncodeOptions = {}): Uint8Array {
  return encodeFlvTagParts(packetFlvTagType(p), p.dts, packetFlvPrefix(p, opts), p.data);
}
