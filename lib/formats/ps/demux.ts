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
 * Streams: the PSM's stream_type decides the codec (Table 2-34; GB/T 28181-2016 Appendix C adds 0x90 G.711 A-law
 * and 0x91 G.711 mu-law); without a PSM, 0xE0-0xEF are video (H.264 or H.265, told from the first NAL header) and
 * 0xC0-0xDF audio (AAC in ADTS or MPEG audio, told from the first sync word).
 *
 * Access units: video PES boundaries do not follow frames (GB28181 cameras split one frame over several PES,
 * FFmpeg packs several small frames into one), so the Annex-B stream is cut into access units at the NAL units
 * that start one (H.264 7.4.1.2.3, H.265 7.4.2.4.4: AUD, parameter sets, SEI, or the first slice of a picture
 * after a picture's slices). A PES's PTS/DTS belongs to the first access unit that starts in it (2.4.3.7); an
 * access unit starting in a PES without PTS has NaN timestamps. An access unit is handed out when the next one
 * starts (one frame of latency) or on flush(). Audio is handed out per PES, as it came.
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

export type PsCodec = "h264" | "h265" | "aac" | "mpeg-audio" | "pcma" | "pcmu";

export interface PsFrame {
  kind: "video" | "audio";
  codec: PsCodec;
  streamId: number;
  /** stream_type from the PSM, or the one implied by probing (0x1b, 0x24, 0x0f, 0x03). */
  streamType: number;
  /** 90 kHz ticks on the unwrapped timeline; NaN when the access unit had none. */
  pts: number;
  dts: number;
  /** Video: one Annex-B access unit. Audio: the payload of one PES (whole or partial codec frames). */
  data: Uint8Array;
}

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

/** stream_type (Table 2-34, GB/T 28181-2016 Appendix C) -> codec. */
export function codecOfStreamType(t: number): PsCodec | undefined {
  switch (t) {
    case 0x1b: return "h264";
    case 0x24: return "h265";
    case 0x0f: return "aac";
    case 0x03: case 0x04: return "mpeg-audio";
    case 0x90: return "pcma";
    case 0x91: return "pcmu";
    default: return undefined;
  }
}

const SLICE = 65536;
/** A unit is at most 6 + 65535 bytes (16-bit lengths); a pack header 14 + 7. */
const BUF_SIZE = 6 + 65535 + SLICE + 64;
const DEFAULT_MAX_FRAME = 4 * 1024 * 1024;
/** PES starts remembered per stream while their access unit is pending. */
const MAX_TS_QUEUE = 64;

interface PesStart {
  /** Offset in the stream's buffer where the PES payload began. */
  off: number;
  pts: number;
  dts: number;
}

interface Es {
  streamId: number;
  kind: "video" | "audio";
  codec: PsCodec | undefined;
  streamType: number;
  buf: Uint8Array;
  len: number;
  /** Video: where the AU scan resumes; whether the pending AU holds a slice. */
  scan: number;
  seenVcl: boolean;
  starts: PesStart[];
  /** Dropping bytes until the next access unit (after an overflow). */
  dropping: boolean;
  unknownWarned: boolean;
  /** Not demuxed (a stream_type we do not carry): its PES are skipped. */
  ignored: boolean;
}

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
  private open: Es | "skip" | undefined;
  private es = new Map<number, Es>();
  private clock = new Unwrapper();
  private readonly maxFrame: number;

  constructor(private readonly onFrame: (f: PsFrame) => void, private readonly opts: PsDemuxOptions = {}) {
    this.maxFrame = Math.max(1024, opts.maxFrameBytes ?? DEFAULT_MAX_FRAME);
  }

  /** Bytes held: the unit buffer plus every stream's pending access unit. */
  get bufferedBytes(): number {
    let n = this.buf?.length ?? 0;
    for (const e of this.es.values()) n += e.buf.length;
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
      this.append(this.open, this.buf, this.start, this.end);
      this.pesEnd(this.open);
    }
    this.open = undefined;
    this.start = this.end = 0;
    for (const e of this.es.values()) {
      if (e.kind === "video" && e.len > 0 && !e.dropping) this.emitVideo(e, e.len);
      else if (e.kind === "audio") this.emitAudio(e);
      e.len = 0;
      e.scan = 0;
      e.seenVcl = false;
      e.starts.length = 0;
      e.dropping = false;
    }
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
          if (this.open !== "skip") this.append(this.open, b, s, upTo);
          s = upTo;
          break;
        }
        if (this.open !== "skip") {
          this.append(this.open, b, s, k);
          this.pesEnd(this.open);
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
        if (es) this.pesStart(es, hdr.pts, hdr.dts);
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
          if (listed.get(id) === es.streamType) continue;
          if (es.kind === "video" && es.seenVcl && !es.dropping) this.emitVideo(es, es.len);
          else if (es.kind === "audio" && !es.ignored) this.emitAudio(es);
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
    this.pesStart(es, hdr.pts, hdr.dts);
    this.append(es, b, hdr.payloadStart, to);
    this.pesEnd(es);
    return to;
  }

  /** The state of stream `id`, created on first sight; undefined for streams that are not demuxed. */
  private stream(id: number): Es | undefined {
    const have = this.es.get(id);
    if (have) return have.ignored ? undefined : have;
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
      for (const e of this.es.values()) if (!e.ignored && e.kind === kind) why = `(a second ${kind} stream, beside 0x${e.streamId.toString(16)})`;
    }
    if (why !== undefined) {
      // one video and one audio stream are demuxed (what GB28181 sends): bounds memory whatever ids a peer uses
      const es: Es = this.newEs(id, "audio", undefined, t ?? -1);
      es.ignored = true;
      es.buf = new Uint8Array(0);
      this.es.set(id, es);
      this.problem("unknownStreams", `stream 0x${id.toString(16)} ${why} ignored`);
      return undefined;
    }
    if (!kind) return undefined;
    const es = this.newEs(id, kind, codec, t ?? -1);
    this.es.set(id, es);
    return es;
  }

  private newEs(streamId: number, kind: "video" | "audio", codec: PsCodec | undefined, streamType: number): Es {
    return {
      streamId, kind, codec, streamType, buf: new Uint8Array(kind === "video" ? 65536 : 4096), len: 0, scan: 0, seenVcl: false,
      starts: [], dropping: false, unknownWarned: false, ignored: false,
    };
  }

  private pesStart(es: Es, pts: number, dts: number): void {
    if (es.starts.length >= MAX_TS_QUEUE) es.starts.shift();
    es.starts.push({ off: es.len, pts: this.clock.unwrap(pts), dts: this.clock.unwrap(dts) });
  }

  private append(es: Es, b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (es.len + n > es.buf.length) {
      if (es.len + n > this.maxFrame) {
        this.problem("frameOverflows", `stream 0x${es.streamId.toString(16)}: access unit over ${this.maxFrame} bytes dropped`);
        es.len = 0;
        es.scan = 0;
        es.seenVcl = false;
        es.starts.length = 0;
        es.dropping = es.kind === "video";
        if (n > this.maxFrame) return;
        if (n > es.buf.length) es.buf = new Uint8Array(n);
      } else {
        const nb = new Uint8Array(Math.min(this.maxFrame, Math.max(es.len + n, es.buf.length * 2)));
        nb.set(es.buf.subarray(0, es.len));
        es.buf = nb;
      }
    }
    es.buf.set(b.subarray(from, to), es.len);
    es.len += n;
    if (es.kind === "video") this.scanVideo(es);
  }

  private pesEnd(es: Es): void {
    if (es.kind === "audio") this.emitAudio(es);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Video access units

  /** Finds access unit starts in the new bytes and hands out every completed access unit. */
  private scanVideo(es: Es): void {
    let i = es.scan;
    while (i + 5 < es.len) {
      const b = es.buf;
      if (b[i + 2]! > 1) {
        i += 3;
        continue;
      }
      if (b[i] !== 0 || b[i + 1] !== 0 || b[i + 2] !== 1) {
        i++;
        continue;
      }
      const h0 = b[i + 3]!;
      const h2 = b[i + 5]!;
      if (es.codec === undefined) {
        es.codec = probeVideo(h0, b[i + 4]!);
        es.streamType = es.codec === "h265" ? 0x24 : 0x1b;
      }
      let startsAu: boolean;
      let vcl: boolean;
      if (es.codec === "h265") {
        const t = (h0 >> 1) & 0x3f;
        vcl = t < 32;
        startsAu = vcl ? (h2 & 0x80) !== 0 : (t >= 32 && t <= 35) || t === 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
      } else {
        const t = h0 & 0x1f;
        vcl = t >= 1 && t <= 5;
        // first_mb_in_slice == 0 is ue(v) '1': the top bit of the first slice header byte
        startsAu = vcl ? (b[i + 4]! & 0x80) !== 0 : t === 6 || t === 7 || t === 8 || t === 9 || (t >= 14 && t <= 18);
      }
      if (startsAu && (es.seenVcl || es.dropping)) {
        const cut = i > 0 && b[i - 1] === 0 ? i - 1 : i;
        if (es.dropping) this.discard(es, cut);
        else this.emitVideo(es, cut);
        i -= cut;
        es.dropping = false;
        es.seenVcl = false;
      }
      if (vcl) es.seenVcl = true;
      i += 3;
    }
    es.scan = i;
  }

  /** Timestamps of the access unit at the start of the buffer: those of the PES it starts in. */
  private auTimestamps(es: Es): PesStart | undefined {
    let at: PesStart | undefined;
    for (const p of es.starts) {
      if (p.off <= 3) at = p;
      else break;
    }
    return at;
  }

  private emitVideo(es: Es, cut: number): void {
    const ts = this.auTimestamps(es);
    const data = es.buf.slice(0, cut);
    this.discard(es, cut);
    if (es.codec === undefined || data.length === 0) return;
    this.stats.framesOut++;
    this.onFrame({
      kind: "video", codec: es.codec, streamId: es.streamId, streamType: es.streamType, pts: ts?.pts ?? Number.NaN,
      dts: ts?.dts ?? Number.NaN, data,
    });
  }

  /** Drops the first `cut` bytes of the stream's buffer; a PES that began inside them holds the next AU's start. */
  private discard(es: Es, cut: number): void {
    es.buf.copyWithin(0, cut, es.len);
    es.len -= cut;
    const kept: PesStart[] = [];
    let carried: PesStart | undefined;
    for (const p of es.starts) {
      if (p.off <= 3) continue; // belonged to the access unit just cut
      const off = p.off - cut;
      if (off <= 0) carried = { off: 0, pts: p.pts, dts: p.dts };
      else kept.push({ off, pts: p.pts, dts: p.dts });
    }
    es.starts = carried ? [carried, ...kept] : kept;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Audio

  private emitAudio(es: Es): void {
    if (es.len === 0) return;
    const ts = es.starts[0];
    const data = es.buf.slice(0, es.len);
    es.len = 0;
    es.starts.length = 0;
    if (es.codec === undefined) {
      es.codec = probeAudio(data);
      if (es.codec) es.streamType = es.codec === "aac" ? 0x0f : 0x03;
      else if (!es.unknownWarned) {
        es.unknownWarned = true;
        this.problem("unknownStreams", `stream 0x${es.streamId.toString(16)}: audio without PSM entry and no ADTS/MPEG audio sync`);
      }
    }
    if (es.codec === undefined) return;
    this.stats.framesOut++;
    this.onFrame({
      kind: "audio", codec: es.codec, streamId: es.streamId, streamType: es.streamType, pts: ts?.pts ?? Number.NaN,
      dts: ts?.dts ?? Number.NaN, data,
    });
  }
}

/** H.265 when the first NAL header is a VPS/SPS/PPS/AUD/SEI/IRAP of H.265 (layer 0, temporal id 1). */
function probeVideo(h0: number, h1: number): PsCodec {
  const t = (h0 >> 1) & 0x3f;
  if ((h0 & 0x81) === 0 && h1 === 1 && ((t >= 32 && t <= 35) || t === 39 || (t >= 16 && t <= 21))) return "h265";
  return "h264";
}

/** ADTS (0xFFF, layer 00) or MPEG audio (11-bit sync, layer != 00) at the first sync word. */
function probeAudio(d: Uint8Array): PsCodec | undefined {
  for (let i = 0; i + 1 < d.length && i < 2048; i++) {
    if (d[i] !== 0xff) continue;
    const b1 = d[i + 1]!;
    if ((b1 & 0xf6) === 0xf0) return "aac";
    if ((b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0) return "mpeg-audio";
  }
  return undefined;
}

/** Demuxes a whole program stream buffer (tests, tools). */
export function demuxPs(data: Uint8Array, opts: PsDemuxOptions = {}): PsFrame[] {
  const out: PsFrame[] = [];
  const d = new PsDemuxer((f) => out.push(f), opts);
  d.feed(data);
  d.flush();
  return out;
}
