/**
 * MPEG-2 program stream demuxer (ISO/IEC 13818-1 2.5), incremental: feed() takes byte chunks of any size (RTP
 * payloads of a GB28181 camera, file blocks) and hands out elementary-stream access units as PsFrames.
 *
 * Framing (2.5.3.1): a sequence of units, each starting with a start code 00 00 01 xx (xx >= 0xB9): pack header
 * (0xBA, 2.5.3.3; MPEG-1 packs tolerated), system header (0xBB, 2.5.3.5), program stream map (0xBC, 2.5.4), PES
 * packets (2.4.3.6), end code (0xB9). Anything else is garbage: bytes are skipped up to the next such start code
 * (counted in `stats.skippedBytes`, reported to onError). A PES with PES_packet_length 0 (unbounded, as some
 * cameras send video) runs to the next start code >= 0xB9, which H.264/H.265 Annex-B data cannot contain (NAL
 * header bytes are below 0x80). A video PES whose declared length runs over such a start code is cut there
 * (the length lied), an audio PES at a pack header, system header or PSM start code; one whose length is too
 * short leaves ES bytes that are skipped as garbage.
 *
 * Streams: the PSM's stream_type decides the codec (Table 2-34; GB/T 28181-2016 adds 0x90 G.711, A-law in
 * practice, and devices use 0x91 for mu-law); without a PSM, 0xE0-0xEF are video (H.264 or H.265, told from the
 * first NAL header) and 0xC0-0xDF audio (AAC in ADTS or MPEG audio, told from the first sync word).
 *
 * Access units: es-stream.ts reassembles each stream's PES payloads into access units (video) or hands each
 * PES on (audio).
 *
 * Timestamps are 90 kHz ticks, unwrapped across the 2^33 wrap on one timeline shared by all streams (starting at
 * the first value seen, as ffprobe shows them).
 *
 * Bounds: the unit buffer holds at most one unit plus one 64 KiB slice of input (~128 KiB); one video and one
 * audio stream are demuxed (the first seen; others are reported and skipped), each access unit capped at
 * `maxFrameBytes` (default 4 MiB; a larger one is dropped and reported). feed() never throws.
 */
import {
  END_CODE, PACK_START, parsePackHeader, parsePesHeader, parsePsm, parseSystemHeader, pesHasNoHeader, PRIVATE_STREAM_1,
  PSM_STREAM_ID, SYSTEM_HEADER_START, WRAP_90K,
} from "./headers.ts";
import { codecOfStreamType, type EsSink, type PsCodec, type PsFrame, PsEsStream } from "./es-stream.ts";

export type { PsCodec, PsFrame } from "./es-stream.ts";
export { codecOfStreamType } from "./es-stream.ts";

export interface PsDemuxStats {
  bytes: number;
  packs: number;
  systemHeaders: number;
  psms: number;
  pesPackets: number;
  /** Bytes skipped looking for a start code. */
  skippedBytes: number;
  resyncs: number;
  headerErrors: number;
  /** Video PES cut at a start code inside their declared length. */
  lyingLengths: number;
  frameOverflows: number;
  unknownStreams: number;
  framesOut: number;
}

export interface PsDemuxOptions {
  /** Largest access unit (video) or PES payload (audio) kept, in bytes. Default 4 MiB. */
  maxFrameBytes?: number;
  onError?(message: string): void;
}

const SLICE = 65536;
/** A unit is at most 6 + 65535 bytes (16-bit lengths); a pack header 14 + 7. */
const BUF_SIZE = 6 + 65535 + SLICE + 64;
const DEFAULT_MAX_FRAME = 4 * 1024 * 1024;
class Unwrapper {
  private last = Number.NaN;
  private ext = 0;
  unwrap(raw: number): number {
    if (Number.isNaN(raw)) return raw;
    if (Number.isNaN(this.last)) {
      this.last = raw;
      this.ext = raw;
      return raw;
    }
    let d = raw - this.last;
    if (d >= WRAP_90K / 2) d -= WRAP_90K;
    else if (d < -WRAP_90K / 2) d += WRAP_90K;
    this.last = raw;
    this.ext += d;
    return this.ext;
  }
}

/** Index of the next 00 00 01 xx with xx >= 0xB9 at or after `from` (xx inside `end`), or -1. */
function nextSystemStartCode(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (b[i + 2]! > 1) {
      i += 2;
      continue;
    }
    if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1 && b[i + 3]! >= 0xb9) return i;
  }
  return -1;
}

/** Index of the next pack header, system header or PSM start code in b[from, end), or -1. */
function nextPackLevelStartCode(b: Uint8Array, from: number, end: number): number {
  for (let i = nextSystemStartCode(b, from, end); i >= 0; i = nextSystemStartCode(b, i + 1, end)) {
    const id = b[i + 3]!;
    if (id === PACK_START || id === SYSTEM_HEADER_START || id === PSM_STREAM_ID) return i;
  }
  return -1;
}

function isPesStreamId(id: number): boolean {
  return id === PRIVATE_STREAM_1 || (id >= 0xc0 && id <= 0xef);
}

export class PsDemuxer {
  readonly stats: PsDemuxStats = {
    bytes: 0, packs: 0, systemHeaders: 0, psms: 0, pesPackets: 0, skippedBytes: 0, resyncs: 0, headerErrors: 0,
    lyingLengths: 0, frameOverflows: 0, unknownStreams: 0, framesOut: 0,
  };
  /** Last pack SCR (90 kHz base), NaN before the first pack. */
  scr = Number.NaN;
  /** stream_id -> stream_type from the latest PSM. */
  readonly streamTypes = new Map<number, number>();
  private buf: Uint8Array | undefined;
  private start = 0;
  private end = 0;
  /** The length-0 PES whose payload is being read, if any ("skip": one of a stream not demuxed). */
  private open: PsEsStream | "skip" | undefined;
  /** stream_id -> its stream, or "ignored" (not demuxed: reported once, its PES skipped). */
  private es = new Map<number, PsEsStream | "ignored">();
  private clock = new Unwrapper();
  private readonly maxFrame: number;
  private readonly sink: EsSink;

  constructor(onFrame: (f: PsFrame) => void, private readonly opts: PsDemuxOptions = {}) {
    this.maxFrame = Math.max(1024, opts.maxFrameBytes ?? DEFAULT_MAX_FRAME);
    this.sink = {
      frame: (f) => {
        this.stats.framesOut++;
        onFrame(f);
      },
      problem: (counter, message) => this.problem(counter, message),
    };
  }

  /** Bytes held: the unit buffer plus every stream's pending access unit. */
  get bufferedBytes(): number {
    let n = this.buf?.length ?? 0;
    for (const e of this.es.values()) if (e !== "ignored") n += e.bufferedBytes;
    return n;
  }

  private problem(counter: keyof PsDemuxStats, message: string): void {
    this.stats[counter]++;
    this.opts.onError?.(`ps: ${message}`);
  }

  /** Feeds program stream bytes (any chunking). Never throws on malformed input. */
  feed(chunk: Uint8Array): void {
    this.stats.bytes += chunk.length;
    for (let o = 0; o < chunk.length; o += SLICE) {
      const part = chunk.subarray(o, Math.min(chunk.length, o + SLICE));
      const buf = (this.buf ??= new Uint8Array(BUF_SIZE));
      if (this.end + part.length > buf.length) {
        buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      buf.set(part, this.end);
      this.end += part.length;
      this.parse(buf);
    }
  }

  /** End of input: the pending access unit of every stream is complete. */
  flush(): void {
    if (this.open && this.open !== "skip" && this.buf) {
      this.open.append(this.buf, this.start, this.end);
      this.open.pesEnd();
    }
    this.open = undefined;
    this.start = this.end = 0;
    for (const e of this.es.values()) if (e !== "ignored") e.flush();
  }

  private parse(b: Uint8Array): void {
    let s = this.start;
    const end = this.end;
    while (true) {
      if (this.open) {
        const k = nextSystemStartCode(b, s, end);
        if (k < 0) {
          // keep 3 bytes: a start code may straddle the next chunk
          const upTo = Math.max(s, end - 3);
          if (this.open !== "skip") this.open.append(b, s, upTo);
          s = upTo;
          break;
        }
        if (this.open !== "skip") {
          this.open.append(b, s, k);
          this.open.pesEnd();
        }
        this.open = undefined;
        s = k;
        continue;
      }
      if (end - s < 4) break;
      if (b[s] !== 0 || b[s + 1] !== 0 || b[s + 2] !== 1 || b[s + 3]! < 0xb9) {
        const k = nextSystemStartCode(b, s + 1, end);
        const to = k < 0 ? Math.max(s + 1, end - 3) : k;
        this.stats.skippedBytes += to - s;
        this.problem("resyncs", `skipped ${to - s} bytes looking for a start code`);
        s = to;
        continue;
      }
      const id = b[s + 3]!;
      if (id === PACK_START) {
        const r = parsePackHeader(b, s, end);
        if (typeof r === "number") break;
        if (typeof r === "string") {
          this.problem("headerErrors", r);
          s += 4;
          continue;
        }
        this.stats.packs++;
        this.scr = r.scr;
        s += r.length;
        continue;
      }
      if (id === END_CODE) {
        s += 4;
        continue;
      }
      if (end - s < 6) break;
      const len = (b[s + 4]! << 8) | b[s + 5]!;
      if (len === 0 && isPesStreamId(id)) {
        // unbounded PES: header first, then the payload runs to the next start code
        if (end - s < 9) break;
        const need = (b[s + 6]! & 0xc0) === 0x80 ? 9 + b[s + 8]! : 40;
        if (end - s < need) break;
        const hdr = parsePesHeader(b, s, Math.min(end, s + 6 + 65535));
        if (typeof hdr === "string") {
          this.problem("headerErrors", `stream 0x${id.toString(16)}: ${hdr}`);
          s += 4;
          continue;
        }
        const es = this.stream(id);
        this.stats.pesPackets++;
        if (es) es.pesStart(this.clock.unwrap(hdr.pts), this.clock.unwrap(hdr.dts));
        this.open = es ?? "skip";
        s = hdr.payloadStart;
        continue;
      }
      const total = 6 + len;
      if (end - s < total) break;
      s = this.unit(b, s, total, id);
    }
    this.start = s;
    if (s === end) this.start = this.end = 0;
  }

  /** One complete unit at `s`; returns where parsing resumes. */
  private unit(b: Uint8Array, s: number, total: number, id: number): number {
    if (id === SYSTEM_HEADER_START) {
      const r = parseSystemHeader(b, s, total);
      if (typeof r === "string") this.problem("headerErrors", r);
      else this.stats.systemHeaders++;
      return s + total;
    }
    if (id === PSM_STREAM_ID) {
      const r = parsePsm(b, s, total);
      if (typeof r === "string") this.problem("headerErrors", r);
      else {
        this.stats.psms++;
        // The PSM is authoritative: a stream it drops or gives another stream_type starts over (what is pending of
        // it is handed out first).
        const listed = new Map(r.entries.map((e) => [e.elementaryStreamId, e.streamType]));
        for (const [id, es] of this.es) {
          if (es === "ignored") {
            // stays ignored (reported once) unless the PSM now gives it a new stream_type
            if (!listed.has(id) || listed.get(id) === this.streamTypes.get(id)) continue;
          } else if (listed.get(id) === es.streamType) continue;
          if (es !== "ignored") es.flush();
          this.es.delete(id);
        }
        this.streamTypes.clear();
        for (const [id, t] of listed) this.streamTypes.set(id, t);
      }
      return s + total;
    }
    if (pesHasNoHeader(id) || !isPesStreamId(id)) return s + total;
    const hdr = parsePesHeader(b, s, s + total);
    if (typeof hdr === "string") {
      this.problem("headerErrors", `stream 0x${id.toString(16)}: ${hdr}`);
      return s + total;
    }
    this.stats.pesPackets++;
    const es = this.stream(id);
    if (!es) return s + total;
    let to = s + total;
    {
      // Video data cannot hold a start code >= 0xB9; audio data holds a pack/system header/PSM start code only by
      // a 2^-32 chance per byte, so only those end an audio PES early.
      const k = es.kind === "video" ? nextSystemStartCode(b, hdr.payloadStart, to) : nextPackLevelStartCode(b, hdr.payloadStart, to);
      if (k >= 0) {
        this.problem("lyingLengths", `stream 0x${id.toString(16)}: PES_packet_length ${total - 6} runs over a start code at +${k - s}`);
        to = k;
      }
    }
    es.pesStart(this.clock.unwrap(hdr.pts), this.clock.unwrap(hdr.dts));
    es.append(b, hdr.payloadStart, to);
    es.pesEnd();
    return to;
  }

  /** The state of stream `id`, created on first sight; undefined for streams that are not demuxed. */
  private stream(id: number): PsEsStream | undefined {
    const have = this.es.get(id);
    if (have) return have === "ignored" ? undefined : have;
    const t = this.streamTypes.get(id);
    let kind: "video" | "audio" | undefined;
    let codec: PsCodec | undefined;
    if (t !== undefined) {
      codec = codecOfStreamType(t);
      if (codec) kind = codec === "h264" || codec === "h265" ? "video" : "audio";
    } else if (id >= 0xe0) kind = "video";
    else if (id >= 0xc0) kind = "audio";
    let why: string | undefined;
    if (!kind) why = `with stream_type ${t === undefined ? "none" : `0x${t.toString(16)}`}`;
    else {
      for (const e of this.es.values()) if (e !== "ignored" && e.kind === kind) why = `(a second ${kind} stream, beside 0x${e.streamId.toString(16)})`;
    }
    if (!kind || why !== undefined) {
      // one video and one audio stream are demuxed (what GB28181 sends): bounds memory whatever ids a peer uses
      this.es.set(id, "ignored");
      this.problem("unknownStreams", `stream 0x${id.toString(16)} ${why} ignored`);
      return undefined;
    }
    const es = new PsEsStream(id, kind, codec, t ?? -1, this.maxFrame, this.sink);
    this.es.set(id, es);
    return es;
  }
}

/** Demuxes a whole program stream buffer (tests, tools). */
export function demuxPs(data: Uint8Array, opts: PsDemuxOptions = {}): PsFrame[] {
  const out: PsFrame[] = [];
  const d = new PsDemuxer((f) => out.push(f), opts);
  d.feed(data);
  d.flush();
  return out;
}
