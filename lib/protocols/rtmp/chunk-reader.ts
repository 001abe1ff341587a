/**
 * Incremental RTMP chunk stream parser (spec 5.3): feed it socket bytes, it returns complete messages.
 *
 * - Basic header of 1, 2 or 3 bytes (csid 2..65599); message header type 0/1/2/3; extended timestamps,
 *   including type 3 chunks that repeat the extended timestamp (Flash, FFmpeg, and our writer do; others
 *   don't): when the last full header of the chunk stream used the extended field, a type 3 chunk is taken
 *   to repeat it if its next 4 bytes equal that value.
 * - Set Chunk Size (type 1) and Abort (type 2) take effect as soon as they are parsed, for the bytes that
 *   follow in the same buffer; they are still returned so the session can log them.
 * - Timestamps are 32-bit as on the wire: type 0 sets the absolute time, types 1/2 add a delta, a type 3 chunk
 *   starting a new message adds the chunk stream's last delta again (for a type 0 header the delta is its
 *   absolute timestamp, as FFmpeg and Flash read it). Fold wraps with `TimestampUnwrapper` (messages.ts).
 * - Memory stays bounded whatever the peer declares: messages longer than `maxMessageLength` are refused
 *   before anything is allocated, at most `maxPartialStreams` chunk streams may hold an unfinished message,
 *   and the unfinished messages together may hold at most `maxPendingBytes` received bytes. Buffers of a
 *   declared size are only allocated up front for messages up to 64 KiB; larger ones collect the received
 *   pieces and join them once, when complete.
 * - Zero copy: a message whose whole payload arrives in one chunk inside one fed buffer is returned as a
 *   view of that buffer; multi-chunk messages are copied once. So: don't mutate buffers after feeding them.
 * - A type 1 chunk on a never-seen chunk stream is accepted (stream id 0) because librtmp sends its first ping
 *   that way; a type 2 or 3 chunk there is an error. Any error is an `RtmpProtocolError`; discard the reader
 *   after one.
 */
import { DEFAULT_CHUNK_SIZE, MSG_ABORT, MSG_SET_CHUNK_SIZE, parseAbort, parseSetChunkSize, RtmpProtocolError } from "./messages.ts";
import type { RtmpMessage } from "./messages.ts";

export interface ChunkReaderOptions {
  /** Largest message accepted, in bytes (default 16 MiB; the wire format allows up to 16 MiB - 1). */
  maxMessageLength?: number;
  /** Chunk streams that may hold an unfinished message at once (default 64). */
  maxPartialStreams?: number;
  /** Received bytes held by unfinished messages, all chunk streams together (default 64 MiB). */
  maxPendingBytes?: number;
  /** Initial incoming chunk size (default 128). */
  chunkSize?: number;
}

/** Messages up to this size get their buffer allocated at the first chunk. */
const EAGER_ALLOC_LIMIT = 64 * 1024;
/** Largest chunk header: 3-byte basic header + 11-byte type 0 header + 4-byte extended timestamp. */
const MAX_HEADER = 18;

class ChunkStream {
  /** Absolute 32-bit timestamp of the current/last message. */
  timestamp = 0;
  /** Timestamp field of the last type 0/1/2 header (absolute for type 0). */
  delta = 0;
  length = 0;
  type = 0;
  streamId = 0;
  /** The last type 0/1/2 header carried an extended timestamp; its value. */
  hasExt = false;
  extValue = 0;

  // Unfinished message, when `partial`.
  partial = false;
  received = 0;
  buf: Uint8Array | null = null;
  pieces: Uint8Array[] | null = null;

  constructor(readonly csid: number) {}
}

export class ChunkReader {
  /** Current incoming chunk size. */
  chunkSize: number;
  readonly maxMessageLength: number;
  readonly maxPartialStreams: number;
  readonly maxPendingBytes: number;

  private streams = new Map<number, ChunkStream>();
  private partialCount = 0;
  private pendingBytes = 0;

  /** Chunk body being read, and how many of its bytes remain. */
  private cur: ChunkStream | null = null;
  private chunkRemaining = 0;

  /** A chunk header split across feeds. */
  private scratch = new Uint8Array(MAX_HEADER);
  private scratchLen = 0;

  // Results of the last successful parseHeader.
  private hFmt = 0;
  private hCsid = 0;
  private hTs = 0;
  private hLen = 0;
  private hType = 0;
  private hSid = 0;
  private hExt = false;

  private out: RtmpMessage[] = [];

  constructor(opts: ChunkReaderOptions = {}) {
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.maxMessageLength = opts.maxMessageLength ?? 16 * 1024 * 1024;
    this.maxPartialStreams = opts.maxPartialStreams ?? 64;
    this.maxPendingBytes = opts.maxPendingBytes ?? 64 * 1024 * 1024;
  }

  /** Sets the incoming chunk size (normally done by a received Set Chunk Size message). */
  setChunkSize(size: number): void {
    if (!(size >= 1 && size <= 0x7fffffff)) throw new RtmpProtocolError(`chunk size ${size} not in 1..0x7fffffff`);
    this.chunkSize = size;
  }

  /** Bytes currently buffered: the split header plus unfinished messages' received payload. */
  get bufferedBytes(): number {
    return this.scratchLen + this.pendingBytes;
  }

  /** Parses `data` and returns the messages it completes (possibly none). */
  feed(data: Uint8Array): RtmpMessage[] {
    this.out = [];
    let off = 0;
    const end = data.length;

    if (this.scratchLen > 0) {
      const had = this.scratchLen;
      const k = Math.min(MAX_HEADER - had, end);
      this.scratch.set(data.subarray(0, k), had);
      const n = this.parseHeader(this.scratch, 0, had + k);
      if (n < 0) {
        if (had + k >= MAX_HEADER) throw new RtmpProtocolError("unparseable chunk header");
        this.scratchLen = had + k;
        return this.out;
      }
      this.scratchLen = 0;
      off = n - had;
      this.startChunk();
    }

    while (off < end || (this.cur !== null && this.chunkRemaining === 0)) {
      if (this.cur !== null) {
        off = this.readBody(data, off, end);
        continue;
      }
      const n = this.parseHeader(data, off, end);
      if (n < 0) {
        this.scratch.set(data.subarray(off, end), 0);
        this.scratchLen = end - off;
        break;
      }
      off += n;
      this.startChunk();
    }
    return this.out;
  }

  /**
   * Parses one chunk header at `off`; returns its size, or -1 when more bytes are needed. Only reads state;
   * results go to the h* fields, committed by startChunk().
   */
  private parseHeader(b: Uint8Array, off: number, end: number): number {
    let p = off;
    if (p >= end) return -1;
    const b0 = b[p++]!;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    if (csid === 0) {
      if (p + 1 > end) return -1;
      csid = 64 + b[p++]!;
    } else if (csid === 1) {
      if (p + 2 > end) return -1;
      csid = 64 + b[p]! + (b[p + 1]! << 8);
      p += 2;
    }
    const st = this.streams.get(csid);
    if (st === undefined && fmt >= 2) {
      throw new RtmpProtocolError(`chunk type ${fmt} on chunk stream ${csid} that never had a full header`);
    }
    this.hFmt = fmt;
    this.hCsid = csid;
    this.hExt = false;
    if (fmt === 3) {
      const s = st!;
      if (s.hasExt) {
        // Does this chunk repeat the extended timestamp? Compare what is there with the expected value.
        const v = s.extValue;
        const avail = end - p;
        if (avail >= 4) {
          if (((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0 === v) {
            p += 4;
            this.hExt = true;
          }
        } else {
          let match = true;
          for (let i = 0; i < avail; i++) {
            if (b[p + i] !== ((v >>> (24 - 8 * i)) & 0xff)) {
              match = false;
              break;
            }
          }
          // A chunk payload shorter than 4 bytes may end here: that is decidable without more bytes only
          // if the bytes differ from the extended timestamp.
          if (match) return -1;
        }
      }
      return p - off;
    }
    const need = fmt === 0 ? 11 : fmt === 1 ? 7 : 3;
    if (p + need > end) return -1;
    let ts = (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
    if (fmt <= 1) {
      this.hLen = (b[p + 3]! << 16) | (b[p + 4]! << 8) | b[p + 5]!;
      this.hType = b[p + 6]!;
      if (fmt === 0) this.hSid = (b[p + 7]! | (b[p + 8]! << 8) | (b[p + 9]! << 16) | (b[p + 10]! << 24)) >>> 0;
    }
    p += need;
    if (ts === 0xffffff) {
      if (p + 4 > end) return -1;
      ts = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      p += 4;
      this.hExt = true;
    }
    this.hTs = ts;
    return p - off;
  }

  /** Commits the parsed header: updates the chunk stream and makes it current. */
  private startChunk(): void {
    const fmt = this.hFmt;
    const csid = this.hCsid;
    let st = this.streams.get(csid);
    if (st === undefined) {
      st = new ChunkStream(csid);
      this.streams.set(csid, st);
    }
    if (st.partial) {
      // Continuation of an unfinished message. Only type 3 is valid here; tolerate a repeated full header
      // that doesn't contradict the message in progress.
      if (fmt <= 1 && (this.hLen !== st.length || this.hType !== st.type)) {
        throw new RtmpProtocolError(
          `chunk stream ${csid}: type ${fmt} header (length ${this.hLen}, type ${this.hType}) inside an unfinished ` +
            `message (length ${st.length}, type ${st.type}, ${st.received} bytes received)`,
        );
      }
    } else {
      if (fmt <= 2) {
        st.delta = this.hTs;
        st.hasExt = this.hExt;
        st.extValue = this.hTs;
        if (fmt === 0) {
          st.timestamp = this.hTs;
          st.streamId = this.hSid;
        } else {
          st.timestamp = (st.timestamp + this.hTs) >>> 0;
        }
        if (fmt <= 1) {
          st.length = this.hLen;
          st.type = this.hType;
        }
      } else {
        st.timestamp = (st.timestamp + st.delta) >>> 0;
      }
      if (st.length > this.maxMessageLength) {
        throw new RtmpProtocolError(
          `chunk stream ${csid}: message of ${st.length} bytes (type ${st.type}) exceeds the limit of ${this.maxMessageLength}`,
        );
      }
    }
    this.cur = st;
    this.chunkRemaining = Math.min(this.chunkSize, st.length - st.received);
  }

  /** Reads chunk body bytes of the current chunk; returns the new offset. */
  private readBody(data: Uint8Array, off: number, end: number): number {
    const st = this.cur!;
    const n = Math.min(this.chunkRemaining, end - off);
    if (!st.partial) {
      if (n === st.length) {
        // The whole message in one chunk, all in this buffer: no copy.
        this.cur = null;
        this.chunkRemaining = 0;
        this.emit(st, data.subarray(off, off + n));
        return off + n;
      }
      if (this.partialCount >= this.maxPartialStreams) {
        throw new RtmpProtocolError(`more than ${this.maxPartialStreams} chunk streams with unfinished messages`);
      }
      st.partial = true;
      st.received = 0;
      this.partialCount++;
      if (st.length <= EAGER_ALLOC_LIMIT) st.buf = new Uint8Array(st.length);
      else st.pieces = [];
    }
    if (n > 0) {
      if (this.pendingBytes + n > this.maxPendingBytes) {
        throw new RtmpProtocolError(`unfinished messages hold more than ${this.maxPendingBytes} bytes`);
      }
      if (st.buf !== null) st.buf.set(data.subarray(off, off + n), st.received);
      else st.pieces!.push(data.subarray(off, off + n));
      st.received += n;
      this.pendingBytes += n;
      this.chunkRemaining -= n;
    }
    if (this.chunkRemaining === 0) {
      this.cur = null;
      if (st.received === st.length) {
        let payload: Uint8Array;
        if (st.buf !== null) payload = st.buf;
        else {
          payload = new Uint8Array(st.length);
          let o = 0;
          for (const piece of st.pieces!) {
            payload.set(piece, o);
            o += piece.length;
          }
        }
        this.dropPartial(st);
        this.emit(st, payload);
      }
    }
    return off + n;
  }

  private dropPartial(st: ChunkStream): void {
    if (!st.partial) return;
    this.pendingBytes -= st.received;
    this.partialCount--;
    st.partial = false;
    st.received = 0;
    st.buf = null;
    st.pieces = null;
  }

  private emit(st: ChunkStream, payload: Uint8Array): void {
    const msg: RtmpMessage = {
      type: st.type,
      streamId: st.streamId,
      timestamp: st.timestamp,
      csid: st.csid,
      payload,
    };
    if (msg.type === MSG_SET_CHUNK_SIZE) {
      this.chunkSize = parseSetChunkSize(payload);
    } else if (msg.type === MSG_ABORT) {
      const target = this.streams.get(parseAbort(payload));
      if (target !== undefined && target !== this.cur) this.dropPartial(target);
    }
    this.out.push(msg);
  }
}
