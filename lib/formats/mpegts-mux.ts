/**
 * MPEG-2 transport stream muxer (ISO/IEC 13818-1), written from the spec for HLS segments and HTTP-TS.
 *
 * One program (program_number 1): PAT on PID 0, PMT on PID 0x1001, video on 0x100, audio on 0x101.
 * Stream types (ISO 13818-1 Table 2-34): H.264 0x1b, HEVC 0x24, AAC (ADTS) 0x0f, MPEG-1 audio 0x03,
 * MPEG-2 (LSF) audio 0x04. Each MediaPacket becomes one PES (2.4.3.6) cut into 188-byte TS packets
 * (2.4.3.2) with per-PID continuity counters; the last packet of a PES is filled by adaptation-field
 * stuffing. The first TS packet of a video keyframe carries random_access_indicator; every PES on the PCR PID
 * (video, or audio in an audio-only program) carries a PCR equal to its DTS.
 *
 * Payload conversion: H.264/HEVC access units (length-prefixed NALUs) become Annex-B with an access unit
 * delimiter first and the parameter sets (SPS/PPS, plus VPS for HEVC) before every keyframe (unless the frame
 * already carries them); AAC raw frames get a 7-byte ADTS header; MP3 frames go as they are.
 * Timestamps: ms -> 90 kHz, modulo 2^33; DTS is written only when it differs from PTS.
 *
 * Not muxed (mux() returns null, the PMT does not list them): Opus (needs the ETSI TS 102 366 style control
 * header and a registration/extension descriptor; not "simple", left out), AV1, VP9, G.711, Speex, PCM.
 *
 * Buffers: the PES is assembled in an internal scratch buffer reused across packets; the TS bytes returned by
 * mux() are a fresh array per packet, because callers keep them (FanOut caches them per packet, the HLS
 * writer queues them to disk).
 *
 * The HLS segmenter (lib/protocols/hls/segmenter.ts) only sees the SegmentContainer interface this muxer
 * satisfies through TsContainer; an fMP4 container for LL-HLS can plug in the same way.
 */
import { writeAdtsHeader } from "../media/aac.ts";
import { parseAudioSpecificConfig } from "../media/aac.ts";
import { AVC_AUD_NALU, AVC_NALU_AUD, AVC_NALU_PPS, AVC_NALU_SPS, parseAvcConfig } from "../media/avc.ts";
import { HEVC_AUD_NALU, HEVC_NALU_AUD, HEVC_NALU_PPS, HEVC_NALU_SPS, HEVC_NALU_VPS, parseHevcConfig } from "../media/hevc.ts";
import { parseMpegAudioHeader } from "../media/mp3.ts";
import type { AudioCodec, MediaPacket, VideoCodec } from "../media/packet.ts";
import { crc32Mpeg2 } from "./mpegts-crc.ts";

export const TS_PACKET_SIZE = 188;
export const TS_PID_PAT = 0x0000;
export const TS_PID_PMT = 0x1001;
export const TS_PID_VIDEO = 0x0100;
export const TS_PID_AUDIO = 0x0101;

export const TS_STREAM_H264 = 0x1b;
export const TS_STREAM_H265 = 0x24;
export const TS_STREAM_AAC = 0x0f;
export const TS_STREAM_MPEG1_AUDIO = 0x03;
export const TS_STREAM_MPEG2_AUDIO = 0x04;

const PES_VIDEO_STREAM_ID = 0xe0;
const PES_AUDIO_STREAM_ID = 0xc0;
const TS_CLOCK_WRAP = 8589934592; // 2^33

export type TsVideoCodec = "h264" | "h265";
export type TsAudioCodec = "aac" | "mp3";

/** True when the muxer can carry this codec. */
export function tsSupportsCodec(c: string): c is TsVideoCodec | TsAudioCodec {
  return c === "h264" || c === "h265" || c === "aac" || c === "mp3";
}

export interface TsMuxerOptions {
  /** Video codec to announce in the PMT before its sequence header is seen (e.g. from the hub). */
  video?: VideoCodec;
  /** Audio codec to announce before the first config/frame (e.g. `hls_acodec`). */
  audio?: AudioCodec;
  /** Drop the video / audio track entirely (`hls_vcodec vn`, `hls_acodec an`). */
  noVideo?: boolean;
  noAudio?: boolean;
  /** Prepend PAT+PMT to every video keyframe (continuous HTTP-TS); HLS writes tables() per segment instead. */
  tablesOnKeyframe?: boolean;
}

/** ms -> 90 kHz, wrapped to 33 bits. */
export function msTo90k(ms: number): number {
  const v = Math.round(ms * 90) % TS_CLOCK_WRAP;
  return v < 0 ? v + TS_CLOCK_WRAP : v;
}

/** Writes a 5-byte PTS/DTS field (2.4.3.7) with the 4-bit `prefix` (0b0010 PTS only, 0b0011 PTS, 0b0001 DTS). */
function writeTimestamp(out: Uint8Array, off: number, prefix: number, v: number): void {
  const hi = Math.floor(v / 1073741824) & 7; // bits 32..30
  const lo = v % 1073741824; // bits 29..0
  out[off] = (prefix << 4) | (hi << 1) | 1;
  out[off + 1] = (lo >>> 22) & 0xff;
  out[off + 2] = (((lo >>> 15) & 0x7f) << 1) | 1;
  out[off + 3] = (lo >>> 7) & 0xff;
  out[off + 4] = ((lo & 0x7f) << 1) | 1;
}

/** Writes a 6-byte PCR (2.4.3.5): 33-bit base, 6 reserved bits, 9-bit extension (0). */
function writePcr(out: Uint8Array, off: number, base: number): void {
  const hi = Math.floor(base / 2); // bits 32..1
  out[off] = Math.floor(hi / 16777216) & 0xff;
  out[off + 1] = (hi >>> 16) & 0xff;
  out[off + 2] = (hi >>> 8) & 0xff;
  out[off + 3] = hi & 0xff;
  out[off + 4] = ((base % 2) << 7) | 0x7e;
  out[off + 5] = 0;
}

interface Track {
  pid: number;
  streamType: number;
  cc: number;
}

export class TsMuxer {
  private video: Track | undefined;
  private audio: Track | undefined;
  private videoCodec: TsVideoCodec | undefined;
  private audioCodec: TsAudioCodec | undefined;
  private patCc = 0;
  private pmtCc = 0;
  private pmtVersion = 0;
  /** The PMT changed since the last tables() (a new track appeared): re-emit before the next frame. */
  private tablesDirty = true;
  /** Parameter sets prepended to keyframes. */
  private paramSets: Uint8Array[] = [];
  private lengthSize = 4;
  private adts: { objectType: number; samplingIndex: number; channelConfig: number } | undefined;
  private scratch = new Uint8Array(64 * 1024);
  private readonly opts: TsMuxerOptions;
  /** Statistics. */
  framesMuxed = 0;
  bytesOut = 0;

  constructor(opts: TsMuxerOptions = {}) {
    this.opts = opts;
    if (opts.video && !opts.noVideo && (opts.video === "h264" || opts.video === "h265")) this.setVideo(opts.video);
    if (opts.audio && !opts.noAudio && (opts.audio === "aac" || opts.audio === "mp3")) this.setAudio(opts.audio, opts.audio === "aac" ? TS_STREAM_AAC : TS_STREAM_MPEG1_AUDIO);
  }

  get hasVideo(): boolean {
    return this.video !== undefined;
  }
  get hasAudio(): boolean {
    return this.audio !== undefined;
  }
  get codecs(): { video?: TsVideoCodec; audio?: TsAudioCodec } {
    return { video: this.videoCodec, audio: this.audioCodec };
  }

  private setVideo(codec: TsVideoCodec): void {
    const st = codec === "h264" ? TS_STREAM_H264 : TS_STREAM_H265;
    if (this.video?.streamType === st) return;
    this.video = { pid: TS_PID_VIDEO, streamType: st, cc: this.video?.cc ?? 0 };
    this.videoCodec = codec;
    this.pmtChanged();
  }

  private setAudio(codec: TsAudioCodec, streamType: number): void {
    if (this.audio?.streamType === streamType) return;
    this.audio = { pid: TS_PID_AUDIO, streamType, cc: this.audio?.cc ?? 0 };
    this.audioCodec = codec;
    this.pmtChanged();
  }

  /** A PMT already sent must change version_number when its content changes (2.4.4.9). */
  private pmtChanged(): void {
    if (!this.tablesDirty) this.pmtVersion = (this.pmtVersion + 1) & 31;
    this.tablesDirty = true;
  }

  private get pcrPid(): number {
    return this.video ? TS_PID_VIDEO : this.audio ? TS_PID_AUDIO : 0x1fff;
  }

  /** PAT + PMT (two TS packets). Advances their continuity counters. */
  tables(): Uint8Array {
    const out = new Uint8Array(2 * TS_PACKET_SIZE);
    this.writeTables(out, 0);
    return out;
  }

  /** PAT + PMT as they are now, without advancing continuity counters (a header for a joining player). */
  peekTables(): Uint8Array {
    const pat = this.patCc;
    const pmt = this.pmtCc;
    const dirty = this.tablesDirty;
    const out = this.tables();
    this.patCc = pat;
    this.pmtCc = pmt;
    this.tablesDirty = dirty;
    return out;
  }

  private writeTables(out: Uint8Array, off: number): void {
    this.tablesDirty = false;
    // PAT (2.4.4.3)
    let o = this.psiHeader(out, off, TS_PID_PAT, this.patCc);
    this.patCc = (this.patCc + 1) & 15;
    const patStart = o;
    out[o++] = 0x00; // table_id
    out[o++] = 0xb0; // section_syntax_indicator, '0', reserved, section_length (high)
    out[o++] = 13;
    out[o++] = 0x00; // transport_stream_id
    out[o++] = 0x01;
    out[o++] = 0xc1; // reserved, version 0, current_next_indicator
    out[o++] = 0x00; // section_number
    out[o++] = 0x00; // last_section_number
    out[o++] = 0x00; // program_number 1
    out[o++] = 0x01;
    out[o++] = 0xe0 | (TS_PID_PMT >> 8);
    out[o++] = TS_PID_PMT & 0xff;
    o = this.putCrc(out, patStart, o);
    out.fill(0xff, o, off + TS_PACKET_SIZE);

    // PMT (2.4.4.8)
    const p = off + TS_PACKET_SIZE;
    o = this.psiHeader(out, p, TS_PID_PMT, this.pmtCc);
    this.pmtCc = (this.pmtCc + 1) & 15;
    const pmtStart = o;
    const es: Track[] = [];
    if (this.video) es.push(this.video);
    if (this.audio) es.push(this.audio);
    const sectionLength = 9 + 5 * es.length + 4;
    out[o++] = 0x02; // table_id
    out[o++] = 0xb0 | (sectionLength >> 8);
    out[o++] = sectionLength & 0xff;
    out[o++] = 0x00; // program_number 1
    out[o++] = 0x01;
    out[o++] = 0xc1 | (this.pmtVersion << 1);
    out[o++] = 0x00;
    out[o++] = 0x00;
    const pcr = this.pcrPid;
    out[o++] = 0xe0 | (pcr >> 8);
    out[o++] = pcr & 0xff;
    out[o++] = 0xf0; // reserved, program_info_length 0
    out[o++] = 0x00;
    for (const t of es) {
      out[o++] = t.streamType;
      out[o++] = 0xe0 | (t.pid >> 8);
      out[o++] = t.pid & 0xff;
      out[o++] = 0xf0; // reserved, ES_info_length 0
      out[o++] = 0x00;
    }
    o = this.putCrc(out, pmtStart, o);
    out.fill(0xff, o, p + TS_PACKET_SIZE);
  }

  /** TS header with payload_unit_start_indicator and a pointer_field of 0; returns the section's offset. */
  private psiHeader(out: Uint8Array, off: number, pid: number, cc: number): number {
    out[off] = 0x47;
    out[off + 1] = 0x40 | (pid >> 8);
    out[off + 2] = pid & 0xff;
    out[off + 3] = 0x10 | cc;
    out[off + 4] = 0x00; // pointer_field
    return off + 5;
  }

  private putCrc(out: Uint8Array, start: number, end: number): number {
    const crc = crc32Mpeg2(out, start, end);
    out[end] = crc >>> 24;
    out[end + 1] = (crc >>> 16) & 0xff;
    out[end + 2] = (crc >>> 8) & 0xff;
    out[end + 3] = crc & 0xff;
    return end + 4;
  }

  /**
   * One MediaPacket -> TS packets. Config packets update the muxer's state and return null, as do data packets
   * and codecs TS cannot carry here. When the PMT changed (a new track), PAT+PMT come first.
   */
  mux(p: MediaPacket): Uint8Array | null {
    if (p.kind === "video") {
      if (this.opts.noVideo || (p.codec !== "h264" && p.codec !== "h265")) return null;
      this.setVideo(p.codec);
      if (p.config) {
        this.videoConfig(p);
        return null;
      }
      const len = this.buildVideoPes(p);
      const rai = p.keyframe;
      const tables = this.tablesDirty || (rai && this.opts.tablesOnKeyframe === true);
      return this.packetize(this.video!, len, msTo90k(p.dts), rai, tables);
    }
    if (p.kind === "audio") {
      if (this.opts.noAudio) return null;
      if (p.codec === "aac") {
        this.setAudio("aac", TS_STREAM_AAC);
        if (p.config) {
          const asc = parseAudioSpecificConfig(p.data);
          this.adts = { objectType: asc.objectType, samplingIndex: asc.samplingIndex, channelConfig: asc.channelConfig };
          return null;
        }
        if (!this.adts) return null; // no AudioSpecificConfig yet: ADTS cannot be built
      } else if (p.codec === "mp3") {
        if (p.config) return null;
        const h = parseMpegAudioHeader(p.data);
        this.setAudio("mp3", h && h.version !== 1 ? TS_STREAM_MPEG2_AUDIO : TS_STREAM_MPEG1_AUDIO);
      } else {
        return null;
      }
      const len = this.buildAudioPes(p);
      const onPcr = !this.video;
      return this.packetize(this.audio!, len, onPcr ? msTo90k(p.dts) : -1, onPcr, this.tablesDirty);
    }
    return null;
  }

  private videoConfig(p: MediaPacket): void {
    try {
      if (p.codec === "h264") {
        const c = parseAvcConfig(p.data);
        this.lengthSize = c.lengthSize;
        this.paramSets = [...c.sps, ...c.pps].map((n) => n.slice());
      } else {
        const c = parseHevcConfig(p.data);
        this.lengthSize = c.lengthSize;
        this.paramSets = [...c.vps, ...c.sps, ...c.pps].map((n) => n.slice());
      }
    } catch {
      this.paramSets = [];
    }
  }

  private ensure(n: number): Uint8Array {
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
    return this.scratch;
  }

  /** PES header (2.4.3.6) into scratch at 0; returns its length. PES_packet_length is patched by the caller. */
  private pesHeader(buf: Uint8Array, streamId: number, pts: number, dts: number): number {
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 1;
    buf[3] = streamId;
    buf[4] = 0;
    buf[5] = 0;
    buf[6] = 0x84; // '10', not scrambled, data_alignment_indicator
    if (pts !== dts) {
      buf[7] = 0xc0; // PTS_DTS_flags '11'
      buf[8] = 10;
      writeTimestamp(buf, 9, 0b0011, pts);
      writeTimestamp(buf, 14, 0b0001, dts);
      return 19;
    }
    buf[7] = 0x80; // PTS only
    buf[8] = 5;
    writeTimestamp(buf, 9, 0b0010, pts);
    return 14;
  }

  /** Builds the video PES (header + Annex-B access unit) in scratch; returns its length. */
  private buildVideoPes(p: MediaPacket): number {
    const hevc = p.codec === "h265";
    const data = p.data;
    const ls = this.lengthSize;
    const n = data.length;
    // Pass 1: size, and whether the frame carries its own parameter sets.
    let esLen = 0;
    let hasParams = false;
    let off = 0;
    while (off + ls <= n) {
      let len = 0;
      for (let i = 0; i < ls; i++) len = len * 256 + data[off + i]!;
      off += ls;
      if (len > n - off) len = n - off; // truncated: keep what is there
      if (len > 0) {
        const t = hevc ? (data[off]! >> 1) & 0x3f : data[off]! & 0x1f;
        if (hevc ? t === HEVC_NALU_VPS || t === HEVC_NALU_SPS : t === AVC_NALU_SPS) hasParams = true;
        if (t !== (hevc ? HEVC_NALU_AUD : AVC_NALU_AUD)) esLen += 4 + len;
      }
      off += len;
    }
    const aud = hevc ? HEVC_AUD_NALU : AVC_AUD_NALU;
    esLen += 4 + aud.length;
    const withParams = p.keyframe && !hasParams;
    if (withParams) for (const s of this.paramSets) esLen += 4 + s.length;
    const pts = msTo90k(p.pts);
    const dts = msTo90k(p.dts);
    const buf = this.ensure(19 + esLen);
    let o = this.pesHeader(buf, PES_VIDEO_STREAM_ID, pts, dts);
    const put = (nalu: Uint8Array, from: number, to: number): void => {
      buf[o] = 0;
      buf[o + 1] = 0;
      buf[o + 2] = 0;
      buf[o + 3] = 1;
      buf.set(from === 0 && to === nalu.length ? nalu : nalu.subarray(from, to), o + 4);
      o += 4 + (to - from);
    };
    put(aud, 0, aud.length);
    if (withParams) for (const s of this.paramSets) put(s, 0, s.length);
    off = 0;
    while (off + ls <= n) {
      let len = 0;
      for (let i = 0; i < ls; i++) len = len * 256 + data[off + i]!;
      off += ls;
      if (len > n - off) len = n - off;
      if (len > 0) {
        const t = hevc ? (data[off]! >> 1) & 0x3f : data[off]! & 0x1f;
        if (t !== (hevc ? HEVC_NALU_AUD : AVC_NALU_AUD)) put(data, off, off + len);
      }
      off += len;
    }
    // PES_packet_length 0 (unbounded) is allowed for video in a transport stream; use it when too long.
    const pesLen = o - 6;
    if (pesLen <= 0xffff) {
      buf[4] = pesLen >> 8;
      buf[5] = pesLen & 0xff;
    }
    return o;
  }

  private buildAudioPes(p: MediaPacket): number {
    const pts = msTo90k(p.pts);
    const adts = p.codec === "aac" ? 7 : 0;
    const buf = this.ensure(14 + adts + p.data.length);
    let o = this.pesHeader(buf, PES_AUDIO_STREAM_ID, pts, pts);
    if (adts) {
      writeAdtsHeader(buf, o, this.adts!, p.data.length);
      o += 7;
    }
    buf.set(p.data, o);
    o += p.data.length;
    const pesLen = o - 6;
    if (pesLen <= 0xffff) {
      buf[4] = pesLen >> 8;
      buf[5] = pesLen & 0xff;
    }
    return o;
  }

  /** Cuts scratch[0..len) into TS packets of `t`, PAT+PMT first when `tables`. */
  private packetize(t: Track, len: number, pcr: number, rai: boolean, tables: boolean): Uint8Array {
    const afFirst = pcr >= 0 ? 8 : rai ? 2 : 0; // length byte + flags (+ PCR)
    const cap1 = 184 - afFirst;
    const count = len <= cap1 ? 1 : 1 + Math.ceil((len - cap1) / 184);
    const head = tables ? 2 * TS_PACKET_SIZE : 0;
    const out = new Uint8Array(head + count * TS_PACKET_SIZE);
    if (tables) this.writeTables(out, 0);
    const src = this.scratch;
    const pid = t.pid;
    let cc = t.cc;
    let pos = 0;
    let o = head;
    for (let k = 0; k < count; k++) {
      const first = k === 0;
      const remaining = len - pos;
      let af = first ? afFirst : 0;
      let payload = 184 - af;
      if (remaining < payload) {
        af = 184 - remaining;
        payload = remaining;
      }
      out[o] = 0x47;
      out[o + 1] = (first ? 0x40 : 0) | (pid >> 8);
      out[o + 2] = pid & 0xff;
      out[o + 3] = (af ? 0x30 : 0x10) | cc;
      cc = (cc + 1) & 15;
      let q = o + 4;
      if (af) {
        out[q] = af - 1; // adaptation_field_length
        if (af > 1) {
          let flags = 0;
          if (first && rai) flags |= 0x40;
          if (first && pcr >= 0) flags |= 0x10;
          out[q + 1] = flags;
          let s = q + 2;
          if (first && pcr >= 0) {
            writePcr(out, s, pcr);
            s += 6;
          }
          if (s < q + af) out.fill(0xff, s, q + af);
        }
        q += af;
      }
      out.set(src.subarray(pos, pos + payload), q);
      pos += payload;
      o += TS_PACKET_SIZE;
    }
    t.cc = cc;
    this.framesMuxed++;
    this.bytesOut += out.length;
    return out;
  }
}
