/**
 * MPEG-2 transport stream demuxer (ISO/IEC 13818-1), written from the spec for SRT (and any TS input).
 *
 * Streaming: feed() takes chunks of any size (SRT payloads are 7 TS packets, files are read in blocks) and keeps
 * at most one partial TS packet between calls. A packet is taken when it starts with the sync byte 0x47 and, if
 * the chunk reaches that far, the next one does too; otherwise sync is lost and bytes are skipped up to the next
 * 0x47 that is followed, 188 bytes later, by another 0x47 (or by the end of the chunk).
 *
 * Tables (2.4.4): PAT (PID 0) -> the first program's PMT PID -> PMT: the first video and the first audio
 * elementary stream become tracks. Sections may span packets and several may share one; the CRC_32 (Annex A) of
 * every section is checked, and a section whose CRC is wrong is dropped. A PMT with a new version (or content)
 * replaces the tracks.
 *
 * Stream types (Table 2-34): 0x1b H.264, 0x24 HEVC, 0x0f AAC in ADTS, 0x03/0x04 MPEG-1/2 audio (Layer III only:
 * MediaPacket has no codec for Layer I/II, so those frames are dropped), 0x06 with a registration descriptor
 * 'Opus' (the Opus-in-TS mapping: opus_control_header per access unit, channels from the 0x7f/0x80 extension
 * descriptor; 1 or 2 channels). Other streams are ignored.
 *
 * PES (2.4.3.6): reassembled per PID from payload_unit_start_indicator to the next one (or, when
 * PES_packet_length is set, until that many bytes arrived), in a per-PID buffer reused across PES and bounded by
 * `maxPesBytes` (a larger PES is dropped). Continuity counters (2.4.3.3) are checked per PID: a duplicate packet
 * is dropped, a gap (not announced by discontinuity_indicator) drops the PES being assembled, since its bytes are
 * incomplete. Packets with transport_error_indicator or scrambled payloads are dropped.
 *
 * Timestamps: PTS/DTS (33 bits, 90 kHz) are unwrapped against the previous timestamp of the stream (a step
 * within +-2^32 ticks is taken as the true step), so a 2^33 wrap continues the timeline instead of jumping back.
 * The timeline starts at the first timestamp seen (ms = ticks / 90, rounded), as ffprobe shows it. PCR (2.4.3.5)
 * is tracked (`pcrMs`) for statistics.
 *
 * Output (MediaPacket conventions of lib/media/packet.ts), through the `onPacket` callback, in stream order:
 *  - H.264/HEVC: one packet per PES (an access unit), Annex-B converted to 4-byte length-prefixed NALUs; AUD and
 *    filler NALUs dropped, parameter sets (SPS/PPS, plus VPS for HEVC) taken out of the frame and turned into a
 *    config packet (AVCDecoderConfigurationRecord / HEVCDecoderConfigurationRecord) when first seen or changed;
 *    keyframe = IDR (H.264) / IRAP (HEVC). Frames before the first config are dropped (undecodable).
 *  - AAC: one packet per ADTS frame (header removed), the first frame of a PES at the PES PTS and each next one
 *    1024 samples later; an AudioSpecificConfig (from the ADTS header) first and whenever it changes. A frame
 *    cut across two PES is completed with the next PES's bytes.
 *  - MP3: one packet per frame, timed like AAC with the frame's sample count.
 *  - Opus: one packet per access unit, an OpusHead config first.
 * Every packet's `data` is a fresh array (the hub keeps packets); per-packet work is a few subarray views and
 * one copy of the payload.
 *
 * Errors: with default options feed() never throws on malformed input; problems are counted in `stats` and
 * reported to `onWarning`. With `strict: true` the first problem throws TsDemuxError instead (tests, tools).
 */
import { adtsToAudioSpecificConfig, parseAdtsHeader } from "../media/aac.ts";
import { type AccessUnitParts, lengthPrefixed, splitAccessUnit, updateParamSets } from "../media/access-unit.ts";
import { parseMpegAudioHeader } from "../media/mp3.ts";
import type { MediaPacket } from "../media/packet.ts";
import { crc32Mpeg2 } from "./mpegts-crc.ts";

export class TsDemuxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TsDemuxError";
  }
}

export const TS_PACKET_LEN = 188;
const SYNC = 0x47;
const WRAP = 8589934592; // 2^33
const HALF_WRAP = WRAP / 2;
const MAX_SECTION = 1024 + TS_PACKET_LEN; // PAT/PMT sections are at most 1024 bytes (2.4.4.3, 2.4.4.9)
const DEFAULT_MAX_PES = 16 * 1024 * 1024;
const MAX_AUDIO_CARRY = 8192;

export type TsEsCodec = "h264" | "h265" | "aac" | "mp3" | "opus";

export interface TsDemuxOptions {
  /** Largest PES accepted (bytes); larger ones are dropped. Default 16 MiB. */
  maxPesBytes?: number;
  /** Throw TsDemuxError on the first malformed input instead of counting it. */
  strict?: boolean;
  /** Drop H.264/HEVC SEI NALUs (SRS's `srt_server.sei_filter`). */
  dropSei?: boolean;
  onWarning?(message: string): void;
}

export interface TsDemuxStats {
  bytes: number;
  tsPackets: number;
  /** Bytes skipped while looking for sync. */
  skippedBytes: number;
  syncLosses: number;
  transportErrors: number;
  scrambled: number;
  ccErrors: number;
  duplicates: number;
  crcErrors: number;
  tableErrors: number;
  pesErrors: number;
  pesOverflows: number;
  /** Malformed codec payloads (bad ADTS/MP3 headers, unusable parameter sets). */
  esErrors: number;
  pesPackets: number;
  packetsOut: number;
}

/** One elementary stream of the PMT being demuxed. */
export interface TsTrack {
  pid: number;
  streamType: number;
  codec: TsEsCodec;
}

/** Unwraps 33-bit 90 kHz clocks into an unbounded timeline. */
class Unwrapper {
  private last = -1;
  private ext = 0;
  unwrap(raw: number): number {
    if (this.last < 0) {
      this.last = raw;
      this.ext = raw;
      return raw;
    }
    let d = raw - this.last;
    if (d >= HALF_WRAP) d -= WRAP;
    else if (d < -HALF_WRAP) d += WRAP;
    this.last = raw;
    this.ext += d;
    return this.ext;
  }
}

interface Section {
  buf: Uint8Array;
  len: number;
  active: boolean;
  cc: number;
}

interface Es extends TsTrack {
  kind: "video" | "audio";
  cc: number;
  buf: Uint8Array;
  len: number;
  /** Between a payload_unit_start and the end of the PES. */
  active: boolean;
  /** Bytes of the PES are missing (CC gap, overflow): drop it at its end. */
  corrupt: boolean;
  /** Video: parameter sets in force, and whether a config was emitted for them. */
  vps: Uint8Array[];
  sps: Uint8Array[];
  pps: Uint8Array[];
  configSent: boolean;
  /** Audio: config key (object type/rate/channels) last emitted, bytes of a frame cut at the PES end, next pts. */
  audioKey: number;
  carry: Uint8Array | undefined;
  nextTicks: number;
  lastTicks: number;
  opusChannels: number;
  mp3LayerWarned: boolean;
}

function newSection(): Section {
  return { buf: new Uint8Array(1024), len: 0, active: false, cc: -1 };
}

function readTs90k(b: Uint8Array, o: number): number {
  return ((b[o]! >> 1) & 7) * 1073741824 + (b[o + 1]! << 22) + ((b[o + 2]! >> 1) << 15) + (b[o + 3]! << 7) + (b[o + 4]! >> 1);
}

/** Opus TOC byte -> samples at 48 kHz of the packet (RFC 6716 3.1); 0 when unknown. */
function opusSamples(pkt: Uint8Array): number {
  if (pkt.length === 0) return 0;
  const toc = pkt[0]!;
  const cfg = toc >> 3;
  let frame: number; // in 1/400 s (2.5 ms) units * 120 samples
  if (cfg < 12) frame = [480, 960, 1920, 2880][cfg & 3]!;
  else if (cfg < 16) frame = (cfg & 1) ? 960 : 480;
  else frame = [120, 240, 480, 960][cfg & 3]!;
  const c = toc & 3;
  const count = c === 0 ? 1 : c < 3 ? 2 : pkt.length > 1 ? pkt[1]! & 0x3f : 0;
  return frame * count;
}

/** OpusHead (RFC 7845 5.1), mapping family 0 (1 or 2 channels). */
function opusHead(channels: number): Uint8Array {
  const h = new Uint8Array(19);
  h.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64], 0); // "OpusHead"
  h[8] = 1;
  h[9] = channels;
  // pre-skip 0, input rate 48000 (LE), gain 0, family 0
  h[12] = 0x80;
  h[13] = 0xbb;
  return h;
}

export class TsDemuxer {
  readonly stats: TsDemuxStats = {
    bytes: 0, tsPackets: 0, skippedBytes: 0, syncLosses: 0, transportErrors: 0, scrambled: 0, ccErrors: 0,
    duplicates: 0, crcErrors: 0, tableErrors: 0, pesErrors: 0, pesOverflows: 0, esErrors: 0, pesPackets: 0,
    packetsOut: 0,
  };
  /** Last PCR in ms on the unwrapped timeline (NaN before the first). */
  pcrMs = Number.NaN;
  private partial = new Uint8Array(TS_PACKET_LEN);
  private partialLen = 0;
  private pat = newSection();
  private pmt = newSection();
  private pmtPid = -1;
  private programNumber = -1;
  private pmtCrc = -1;
  private pcrPid = -1;
  private es = new Map<number, Es>();
  private clock = new Unwrapper();
  private pcrClock = new Unwrapper();
  private readonly maxPes: number;
  private readonly strict: boolean;
  private readonly dropSei: boolean;

  constructor(
    private readonly onPacket: (p: MediaPacket) => void,
    private readonly opts: TsDemuxOptions = {},
  ) {
    this.maxPes = opts.maxPesBytes ?? DEFAULT_MAX_PES;
    this.strict = opts.strict === true;
    this.dropSei = opts.dropSei === true;
  }

  /** The tracks of the current PMT. */
  get tracks(): TsTrack[] {
    return [...this.es.values()].map((e) => ({ pid: e.pid, streamType: e.streamType, codec: e.codec }));
  }

  /** Bytes held in internal buffers (partial packet, sections, PES being assembled, audio carry). */
  get bufferedBytes(): number {
    let n = this.partial.length + this.pat.buf.length + this.pmt.buf.length;
    for (const e of this.es.values()) n += e.buf.length + (e.carry?.length ?? 0);
    return n;
  }

  private problem(counter: keyof TsDemuxStats, message: string): void {
    this.stats[counter]++;
    if (this.strict) throw new TsDemuxError(message);
    this.opts.onWarning?.(message);
  }

  /** Feeds transport stream bytes (any chunking). */
  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    this.stats.bytes += n;
    let off = 0;
    if (this.partialLen > 0) {
      const take = Math.min(TS_PACKET_LEN - this.partialLen, n);
      this.partial.set(chunk.subarray(0, take), this.partialLen);
      this.partialLen += take;
      off = take;
      if (this.partialLen < TS_PACKET_LEN) return;
      this.partialLen = 0;
      this.packet(this.partial, 0);
    }
    while (off < n) {
      // In sync: 0x47 here and, when that far is in the chunk, 188 bytes on.
      if (chunk[off] !== SYNC || (off + TS_PACKET_LEN < n && chunk[off + TS_PACKET_LEN] !== SYNC)) {
        const start = off;
        off++;
        while (off < n && !(chunk[off] === SYNC && (off + TS_PACKET_LEN >= n || chunk[off + TS_PACKET_LEN] === SYNC))) off++;
        this.stats.skippedBytes += off - start;
        this.problem("syncLosses", `ts: lost sync, skipped ${off - start} bytes`);
        continue;
      }
      if (off + TS_PACKET_LEN > n) {
        this.partial.set(chunk.subarray(off), 0);
        this.partialLen = n - off;
        return;
      }
      this.packet(chunk, off);
      off += TS_PACKET_LEN;
    }
  }

  /** End of input: the PES being assembled on every PID is complete (a video frame is otherwise held back). */
  flush(): void {
    for (const e of this.es.values()) {
      if (e.active && !e.corrupt && e.len > 0) this.finishPes(e);
      e.active = false;
      e.len = 0;
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // TS packets (2.4.3.2)

  private packet(b: Uint8Array, o: number): void {
    this.stats.tsPackets++;
    const b1 = b[o + 1]!;
    if (b1 & 0x80) return this.problem("transportErrors", "ts: transport_error_indicator set");
    const pid = ((b1 & 0x1f) << 8) | b[o + 2]!;
    if (pid === 0x1fff) return;
    const pusi = (b1 & 0x40) !== 0;
    const b3 = b[o + 3]!;
    const afc = (b3 >> 4) & 3;
    const cc = b3 & 15;
    if (afc === 0) return this.problem("pesErrors", `ts: pid ${pid} adaptation_field_control 0`);
    let p = o + 4;
    const end = o + TS_PACKET_LEN;
    let discontinuity = false;
    if (afc & 2) {
      const afl = b[p]!;
      if (afl > (afc === 3 ? 182 : 183)) return this.problem("pesErrors", `ts: pid ${pid} adaptation field of ${afl} bytes`);
      if (afl > 0) {
        const flags = b[p + 1]!;
        discontinuity = (flags & 0x80) !== 0;
        if (flags & 0x10 && afl >= 7 && pid === this.pcrPid) {
          const base = b[p + 2]! * 33554432 + (b[p + 3]! << 17) + (b[p + 4]! << 9) + (b[p + 5]! << 1) + (b[p + 6]! >> 7);
          this.pcrMs = Math.round(this.pcrClock.unwrap(base) / 90);
        }
      }
      p += 1 + afl;
    }
    const hasPayload = (afc & 1) !== 0;
    if (pid === 0) return this.psi(this.pat, b, p, end, pusi, cc, hasPayload, discontinuity, true);
    if (pid === this.pmtPid) return this.psi(this.pmt, b, p, end, pusi, cc, hasPayload, discontinuity, false);
    const es = this.es.get(pid);
    if (!es) return;
    if (!hasPayload) return;
    if (es.cc >= 0 && !discontinuity) {
      if (cc === es.cc) {
        this.stats.duplicates++;
        return;
      }
      if (cc !== ((es.cc + 1) & 15)) {
        const expected = (es.cc + 1) & 15;
        es.cc = cc;
        if (es.active) es.corrupt = true;
        this.problem("ccErrors", `ts: pid ${pid} continuity ${cc}, expected ${expected}`);
      }
    }
    es.cc = cc;
    if ((b3 & 0xc0) !== 0) return this.problem("scrambled", `ts: pid ${pid} scrambled`);
    this.pes(es, b, p, end, pusi);
  }

  // ---------------------------------------------------------------------------------------------------------
  // PSI sections (2.4.4)

  private psi(s: Section, b: Uint8Array, p: number, end: number, pusi: boolean, cc: number, payload: boolean, disc: boolean, pat: boolean): void {
    if (!payload) return;
    if (s.cc >= 0 && !disc) {
      if (cc === s.cc) return;
      if (cc !== ((s.cc + 1) & 15)) {
        const expected = (s.cc + 1) & 15;
        s.active = false;
        s.len = 0;
        s.cc = cc;
        this.problem("ccErrors", `ts: table pid continuity ${cc}, expected ${expected}`);
      }
    }
    s.cc = cc;
    if (pusi) {
      const pointer = b[p]!;
      p++;
      if (p + pointer > end) {
        s.active = false;
        s.len = 0;
        return this.problem("tableErrors", `ts: pointer_field ${pointer} past the packet`);
      }
      if (s.active) {
        this.append(s, b, p, p + pointer);
        this.sections(s, pat);
      }
      p += pointer;
      s.len = 0;
      s.active = true;
    } else if (!s.active) return;
    this.append(s, b, p, end);
    this.sections(s, pat);
  }

  private append(s: Section, b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (s.len + n > s.buf.length) {
      if (s.len + n > MAX_SECTION) {
        s.active = false;
        s.len = 0;
        return this.problem("tableErrors", "ts: section too long");
      }
      const nb = new Uint8Array(MAX_SECTION);
      nb.set(s.buf.subarray(0, s.len));
      s.buf = nb;
    }
    s.buf.set(b.subarray(from, to), s.len);
    s.len += n;
  }

  /** Handles the complete sections at the start of the buffer. */
  private sections(s: Section, pat: boolean): void {
    while (s.active && s.len >= 3) {
      const buf = s.buf;
      if (buf[0] === 0xff) {
        // stuffing: the rest of the packet carries no section
        s.active = false;
        s.len = 0;
        return;
      }
      const sectionLength = ((buf[1]! & 0x0f) << 8) | buf[2]!;
      const total = 3 + sectionLength;
      if (sectionLength > 1021 || sectionLength < 9) {
        s.active = false;
        s.len = 0;
        return this.problem("tableErrors", `ts: section_length ${sectionLength}`);
      }
      if (s.len < total) return;
      if (crc32Mpeg2(buf, 0, total) !== 0) {
        this.problem("crcErrors", `ts: section table_id ${buf[0]} CRC mismatch`);
      } else if (pat) this.onPat(buf, total);
      else this.onPmt(buf, total);
      buf.copyWithin(0, total, s.len);
      s.len -= total;
    }
  }

  private onPat(b: Uint8Array, total: number): void {
    if (b[0] !== 0x00) return;
    if ((b[5]! & 1) === 0) return; // current_next_indicator: not yet applicable
    for (let o = 8; o + 4 <= total - 4; o += 4) {
      const program = (b[o]! << 8) | b[o + 1]!;
      const pid = ((b[o + 2]! & 0x1f) << 8) | b[o + 3]!;
      if (program === 0) continue; // network PID
      if (pid !== this.pmtPid || program !== this.programNumber) {
        this.pmtPid = pid;
        this.programNumber = program;
        this.pmt = newSection();
        this.pmtCrc = -1;
      }
      return;
    }
  }

  private onPmt(b: Uint8Array, total: number): void {
    if (b[0] !== 0x02) return;
    if ((b[5]! & 1) === 0) return;
    if (((b[3]! << 8) | b[4]!) !== this.programNumber) return;
    const crc = ((b[total - 4]! << 24) | (b[total - 3]! << 16) | (b[total - 2]! << 8) | b[total - 1]!) >>> 0;
    if (crc === this.pmtCrc) return; // repeated, unchanged
    this.pmtCrc = crc;
    this.pcrPid = ((b[8]! & 0x1f) << 8) | b[9]!;
    const programInfo = ((b[10]! & 0x0f) << 8) | b[11]!;
    let o = 12 + programInfo;
    const endEs = total - 4;
    let video: TsTrack | undefined;
    let audio: (TsTrack & { channels: number }) | undefined;
    while (o + 5 <= endEs) {
      const streamType = b[o]!;
      const pid = ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;
      const infoLen = ((b[o + 3]! & 0x0f) << 8) | b[o + 4]!;
      const dStart = o + 5;
      const dEnd = Math.min(dStart + infoLen, endEs);
      o = dStart + infoLen;
      if (o > endEs) {
        this.problem("tableErrors", "ts: PMT ES_info past the section");
        break;
      }
      let codec: TsEsCodec | undefined;
      let channels = 2;
      if (streamType === 0x1b) codec = "h264";
      else if (streamType === 0x24) codec = "h265";
      else if (streamType === 0x0f) codec = "aac";
      else if (streamType === 0x03 || streamType === 0x04) codec = "mp3";
      else if (streamType === 0x06) {
        // descriptors: registration (0x05) 'Opus', extension (0x7f) tag 0x80 channel_config_code
        let opus = false;
        for (let d = dStart; d + 2 <= dEnd;) {
          const tag = b[d]!;
          const len = b[d + 1]!;
          if (d + 2 + len > dEnd) break;
          if (tag === 0x05 && len >= 4 && b[d + 2] === 0x4f && b[d + 3] === 0x70 && b[d + 4] === 0x75 && b[d + 5] === 0x73) opus = true;
          if (tag === 0x7f && len >= 2 && b[d + 2] === 0x80) channels = b[d + 3]!;
          d += 2 + len;
        }
        if (opus) codec = "opus";
      }
      if (!codec) continue;
      if (codec === "h264" || codec === "h265") {
        if (!video) video = { pid, streamType, codec };
      } else if (!audio) {
        if (codec === "opus" && (channels < 1 || channels > 2)) {
          this.problem("tableErrors", `ts: Opus channel_config_code ${channels} not supported`);
          continue;
        }
        audio = { pid, streamType, codec, channels };
      }
    }
    const next = new Map<number, Es>();
    for (const t of [video, audio]) {
      if (!t) continue;
      const old = this.es.get(t.pid);
      if (old && old.streamType === t.streamType && old.codec === t.codec) {
        next.set(t.pid, old);
        continue;
      }
      const kind = t.codec === "h264" || t.codec === "h265" ? "video" : "audio";
      next.set(t.pid, {
        ...t, kind, cc: -1, buf: new Uint8Array(0), len: 0, active: false, corrupt: false,
        vps: [], sps: [], pps: [], configSent: false, audioKey: -1, carry: undefined, nextTicks: Number.NaN,
        lastTicks: Number.NaN, opusChannels: "channels" in t ? (t as { channels: number }).channels : 2, mp3LayerWarned: false,
      });
    }
    this.es = next;
  }

  // ---------------------------------------------------------------------------------------------------------
  // PES (2.4.3.6)

  private pes(es: Es, b: Uint8Array, p: number, end: number, pusi: boolean): void {
    if (pusi) {
      if (es.active && !es.corrupt && es.len > 0) this.finishPes(es);
      es.active = true;
      es.corrupt = false;
      es.len = 0;
    } else if (!es.active || es.corrupt) return;
    const n = end - p;
    if (n <= 0) return;
    if (es.len + n > es.buf.length) {
      if (es.len + n > this.maxPes) {
        es.corrupt = true;
        es.len = 0;
        return this.problem("pesOverflows", `ts: pid ${es.pid} PES over ${this.maxPes} bytes dropped`);
      }
      const nb = new Uint8Array(Math.min(this.maxPes, Math.max(es.len + n, es.buf.length * 2, es.kind === "video" ? 65536 : 4096)));
      nb.set(es.buf.subarray(0, es.len));
      es.buf = nb;
    }
    es.buf.set(b.subarray(p, end), es.len);
    es.len += n;
    // A PES with a PES_packet_length is complete as soon as its bytes are in: no need to wait for the next one.
    if (es.len >= 6) {
      const pesLength = (es.buf[4]! << 8) | es.buf[5]!;
      if (pesLength !== 0 && es.len >= 6 + pesLength) {
        this.finishPes(es);
        es.active = false;
        es.len = 0;
      }
    }
  }

  private finishPes(es: Es): void {
    const buf = es.buf;
    const len = es.len;
    if (len < 9 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 1) return this.problem("pesErrors", `ts: pid ${es.pid} bad PES start code`);
    const streamId = buf[3]!;
    // stream ids without the optional header (Table 2-22): program_stream_map, padding, private_stream_2, ECM, EMM, ...
    if (streamId === 0xbc || streamId === 0xbe || streamId === 0xbf || streamId === 0xf0 || streamId === 0xf1 ||
      streamId === 0xff || streamId === 0xf2 || streamId === 0xf8) return;
    if ((buf[6]! & 0xc0) !== 0x80) return this.problem("pesErrors", `ts: pid ${es.pid} bad PES header`);
    const flags = buf[7]! >> 6;
    const headerLen = buf[8]!;
    const payloadStart = 9 + headerLen;
    const pesLength = (buf[4]! << 8) | buf[5]!;
    const end = pesLength ? Math.min(len, 6 + pesLength) : len;
    if (payloadStart > end || (flags === 1) || (flags & 2 && headerLen < 5) || (flags === 3 && headerLen < 10)) {
      return this.problem("pesErrors", `ts: pid ${es.pid} bad PES header length ${headerLen}`);
    }
    this.stats.pesPackets++;
    let pts = Number.NaN;
    let dts = Number.NaN;
    if (flags & 2) {
      pts = this.clock.unwrap(readTs90k(buf, 9));
      dts = flags === 3 ? this.clock.unwrap(readTs90k(buf, 14)) : pts;
      if (pts < dts) pts = dts;
    }
    const payload = buf.subarray(payloadStart, end);
    if (es.kind === "video") this.video(es, payload, pts, dts);
    else if (es.codec === "aac") this.aac(es, payload, pts);
    else if (es.codec === "mp3") this.mp3(es, payload, pts);
    else this.opus(es, payload, pts);
  }

  private emit(p: MediaPacket): void {
    this.stats.packetsOut++;
    this.onPacket(p);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Video

  private video(es: Es, payload: Uint8Array, pts: number, dts: number): void {
    if (Number.isNaN(dts)) {
      if (Number.isNaN(es.lastTicks)) return this.problem("pesErrors", `ts: pid ${es.pid} video PES without PTS`);
      pts = dts = es.lastTicks;
    }
    es.lastTicks = dts;
    const hevc = es.codec === "h265";
    const au = splitAccessUnit(payload, hevc, this.dropSei);
    if (au.vps || au.sps || au.pps) this.videoConfig(es, au, dts);
    if (!au.vcl) return;
    if (!es.configSent) return; // undecodable until the parameter sets arrive
    const data = lengthPrefixed(au);
    this.emit({ kind: "video", codec: es.codec, dts: Math.round(dts / 90), pts: Math.round(pts / 90), keyframe: au.keyframe, config: false, data });
  }

  private videoConfig(es: Es, au: AccessUnitParts, dts: number): void {
    let record: Uint8Array | undefined;
    try {
      record = updateParamSets(es, es.codec === "h265", au);
    } catch (e) {
      return this.problem("esErrors", `ts: pid ${es.pid} unusable parameter sets: ${(e as Error).message}`);
    }
    if (!record) return;
    const ms = Math.round(dts / 90);
    this.emit({ kind: "video", codec: es.codec, dts: ms, pts: ms, keyframe: false, config: true, data: record });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Audio

  /** The bytes to parse: a frame left over from the previous PES, then this payload. */
  private audioInput(es: Es, payload: Uint8Array): { data: Uint8Array; carried: number } {
    const carry = es.carry;
    if (!carry) return { data: payload, carried: 0 };
    es.carry = undefined;
    const data = new Uint8Array(carry.length + payload.length);
    data.set(carry, 0);
    data.set(payload, carry.length);
    return { data, carried: carry.length };
  }

  private audioTicks(es: Es, pts: number): number {
    if (!Number.isNaN(pts)) return pts;
    if (!Number.isNaN(es.nextTicks)) return es.nextTicks;
    return Number.NaN;
  }

  private aac(es: Es, payload: Uint8Array, pts: number): void {
    const { data, carried } = this.audioInput(es, payload);
    const n = data.length;
    const base = this.audioTicks(es, pts);
    let samples = 0;
    let rate = 0;
    let off = 0;
    while (off + 7 <= n) {
      const h = parseAdtsHeader(data, off);
      if (!h) {
        const from = off;
        off = resync(data, off + 1, 0xf6, 0xf0);
        this.problem("esErrors", `ts: pid ${es.pid} ADTS sync lost, skipped ${off - from} bytes`);
        continue;
      }
      if (off + h.frameLength > n) break;
      // A frame completed from the previous PES keeps the previous timeline; the first frame starting in this
      // PES is the one its PTS applies to.
      if (off < carried) {
        if (!Number.isNaN(es.nextTicks)) this.aacFrame(es, data, off, h, es.nextTicks);
        off += h.frameLength;
        continue;
      }
      if (Number.isNaN(base)) {
        off += h.frameLength;
        continue;
      }
      rate = h.sampleRate;
      const ticks = base + Math.round((samples * 90000) / rate);
      this.aacFrame(es, data, off, h, ticks);
      samples += 1024 * h.rawBlocks;
      off += h.frameLength;
    }
    if (rate) es.nextTicks = base + Math.round((samples * 90000) / rate);
    if (off < n) this.keepCarry(es, data, off);
  }

  private aacFrame(es: Es, data: Uint8Array, off: number, h: NonNullable<ReturnType<typeof parseAdtsHeader>>, ticks: number): void {
    const key = (h.objectType << 16) | (h.samplingIndex << 8) | h.channelConfig;
    const ms = Math.round(ticks / 90);
    if (key !== es.audioKey) {
      if (h.objectType > 4 || h.channelConfig === 0) {
        return this.problem("esErrors", `ts: pid ${es.pid} ADTS object type ${h.objectType} channels ${h.channelConfig} not usable`);
      }
      es.audioKey = key;
      this.emit({ kind: "audio", codec: "aac", dts: ms, pts: ms, keyframe: false, config: true, data: adtsToAudioSpecificConfig(h) });
    }
    if (h.frameLength <= h.headerLength) return;
    this.emit({
      kind: "audio", codec: "aac", dts: ms, pts: ms, keyframe: false, config: false,
      data: data.slice(off + h.headerLength, off + h.frameLength),
    });
    es.nextTicks = ticks + Math.round((1024 * h.rawBlocks * 90000) / h.sampleRate);
  }

  private keepCarry(es: Es, data: Uint8Array, off: number): void {
    if (data.length - off > MAX_AUDIO_CARRY) {
      this.problem("esErrors", `ts: pid ${es.pid} audio frame over ${MAX_AUDIO_CARRY} bytes dropped`);
      return;
    }
    es.carry = data.slice(off);
  }

  private mp3(es: Es, payload: Uint8Array, pts: number): void {
    const { data, carried } = this.audioInput(es, payload);
    const n = data.length;
    const base = this.audioTicks(es, pts);
    let samples = 0;
    let rate = 0;
    let off = 0;
    while (off + 4 <= n) {
      const h = parseMpegAudioHeader(data, off);
      if (!h) {
        const from = off;
        off = resync(data, off + 1, 0xe0, 0xe0);
        this.problem("esErrors", `ts: pid ${es.pid} MPEG audio sync lost, skipped ${off - from} bytes`);
        continue;
      }
      const len = h.frameLength || n - off; // free format: the rest of the PES
      if (off + len > n) break;
      let ticks: number;
      if (off < carried) ticks = es.nextTicks;
      else {
        ticks = Number.isNaN(base) ? Number.NaN : base + Math.round((samples * 90000) / h.sampleRate);
        samples += h.samplesPerFrame;
        rate = h.sampleRate;
      }
      if (h.layer !== 3) {
        if (!es.mp3LayerWarned) {
          es.mp3LayerWarned = true;
          this.problem("esErrors", `ts: pid ${es.pid} MPEG audio layer ${h.layer} is not carried (MP3 only)`);
        }
      } else if (!Number.isNaN(ticks)) {
        const ms = Math.round(ticks / 90);
        this.emit({ kind: "audio", codec: "mp3", dts: ms, pts: ms, keyframe: false, config: false, data: data.slice(off, off + len) });
        es.nextTicks = ticks + Math.round((h.samplesPerFrame * 90000) / h.sampleRate);
      }
      off += len;
    }
    if (rate && !Number.isNaN(base)) es.nextTicks = base + Math.round((samples * 90000) / rate);
    if (off < n) this.keepCarry(es, data, off);
  }

  /** Opus access units: opus_control_header (prefix 0x7fe, flags, au_size, optional trims/extension) + packet. */
  private opus(es: Es, payload: Uint8Array, pts: number): void {
    let ticks = this.audioTicks(es, pts);
    if (Number.isNaN(ticks)) return;
    if (es.audioKey < 0) {
      es.audioKey = es.opusChannels;
      const ms = Math.round(ticks / 90);
      this.emit({ kind: "audio", codec: "opus", dts: ms, pts: ms, keyframe: false, config: true, data: opusHead(es.opusChannels) });
    }
    const n = payload.length;
    let off = 0;
    while (off + 2 <= n) {
      if (payload[off] !== 0x7f || (payload[off + 1]! & 0xe0) !== 0xe0) {
        return this.problem("esErrors", `ts: pid ${es.pid} bad opus_control_header`);
      }
      const f = payload[off + 1]!;
      off += 2;
      let size = 0;
      while (off < n) {
        const v = payload[off++]!;
        size += v;
        if (v !== 0xff) break;
      }
      if (f & 0x10) off += 2; // start_trim
      if (f & 0x08) off += 2; // end_trim
      if (f & 0x04) {
        if (off >= n) break;
        off += 1 + payload[off]!;
      }
      if (off + size > n) return this.problem("esErrors", `ts: pid ${es.pid} Opus access unit past the PES`);
      const pkt = payload.slice(off, off + size);
      off += size;
      const ms = Math.round(ticks / 90);
      this.emit({ kind: "audio", codec: "opus", dts: ms, pts: ms, keyframe: false, config: false, data: pkt });
      ticks += Math.round((opusSamples(pkt) * 90000) / 48000);
    }
    es.nextTicks = ticks;
  }
}

/** Demuxes a whole TS buffer (tests, tools). */
export function demuxTs(data: Uint8Array, opts: TsDemuxOptions = {}): MediaPacket[] {
  const out: MediaPacket[] = [];
  const d = new TsDemuxer((p) => out.push(p), opts);
  d.feed(data);
  d.flush();
  return out;
}

/**
 * The next audio sync word at or after `off`: 0xFF then a byte whose `mask` bits equal `value` (ADTS 0xFFF with
 * layer 0; MPEG audio 11 sync bits). Returns data.length when none is left.
 */
function resync(data: Uint8Array, off: number, mask: number, value: number): number {
  const n = data.length;
  while (off + 1 < n && !(data[off] === 0xff && (data[off + 1]! & mask) === value)) off++;
  return off + 1 >= n ? n : off;
}
