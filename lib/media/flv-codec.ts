/**
 * FLV tag body (= RTMP audio/video/data message payload) <-> MediaPacket.
 *
 * Video: legacy AVC (codec id 7) and HEVC (codec id 12, the SRS/Chinese CDN extension) with AVCPacketType and
 * a signed 24-bit composition time (FLV spec v10.1 E.4.3.1); enhanced RTMP (veovera enhanced-rtmp v1/v2:
 * IsExHeader, VideoPacketType, ModEx, FourCC 'avc1'/'hvc1'/'av01'/'vp09').
 * Audio: legacy SoundFormat header (E.4.2.1; AAC with AACPacketType, MP3, G.711, Speex, Nellymoser, PCM) and
 * enhanced ExAudio (SoundFormat 9, AudioPacketType, FourCC 'mp4a'/'Opus'/'.mp3').
 * Script data: passed through as kind "data", codec "amf0".
 *
 * Decoding never copies the payload (MediaPacket.data is a subarray of the body) and never reads out of
 * bounds: malformed or unsupported bodies throw FlvCodecError. Bodies that carry no media (AVC end of
 * sequence, enhanced SequenceEnd/Metadata/command frames, legacy video info frames, multichannel config)
 * decode to null.
 */
import type { AudioCodec, MediaPacket, VideoCodec } from "./packet.ts";
import { parseMpegAudioHeader } from "./mp3.ts";

export class FlvCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlvCodecError";
  }
}

export const FLV_TAG_AUDIO = 8;
export const FLV_TAG_VIDEO = 9;
export const FLV_TAG_SCRIPT = 18;

// legacy video codec ids
export const FLV_VIDEO_AVC = 7;
export const FLV_VIDEO_HEVC = 12;
// legacy sound formats
export const FLV_SOUND_PCM = 0;
export const FLV_SOUND_ADPCM = 1;
export const FLV_SOUND_MP3 = 2;
export const FLV_SOUND_PCM_LE = 3;
export const FLV_SOUND_NELLY_16K = 4;
export const FLV_SOUND_NELLY_8K = 5;
export const FLV_SOUND_NELLY = 6;
export const FLV_SOUND_PCMA = 7;
export const FLV_SOUND_PCMU = 8;
export const FLV_SOUND_EX_HEADER = 9;
export const FLV_SOUND_AAC = 10;
export const FLV_SOUND_SPEEX = 11;
export const FLV_SOUND_MP3_8K = 14;

// enhanced RTMP packet types
export const EX_VIDEO_SEQUENCE_START = 0;
export const EX_VIDEO_CODED_FRAMES = 1;
export const EX_VIDEO_SEQUENCE_END = 2;
export const EX_VIDEO_CODED_FRAMES_X = 3;
export const EX_VIDEO_METADATA = 4;
export const EX_VIDEO_MPEG2TS_SEQUENCE_START = 5;
export const EX_VIDEO_MULTITRACK = 6;
export const EX_VIDEO_MODEX = 7;
export const EX_AUDIO_SEQUENCE_START = 0;
export const EX_AUDIO_CODED_FRAMES = 1;
export const EX_AUDIO_SEQUENCE_END = 2;
export const EX_AUDIO_MULTICHANNEL_CONFIG = 4;
export const EX_AUDIO_MULTITRACK = 5;
export const EX_AUDIO_MODEX = 7;

const fourcc = (s: string): number =>
  ((s.charCodeAt(0) << 24) | (s.charCodeAt(1) << 16) | (s.charCodeAt(2) << 8) | s.charCodeAt(3)) >>> 0;

export const FOURCC_AVC1 = fourcc("avc1");
export const FOURCC_HVC1 = fourcc("hvc1");
export const FOURCC_AV01 = fourcc("av01");
export const FOURCC_VP09 = fourcc("vp09");
export const FOURCC_OPUS = fourcc("Opus");
export const FOURCC_MP4A = fourcc("mp4a");
export const FOURCC_MP3 = fourcc(".mp3");

function fourccName(v: number): string {
  let s = "";
  for (let i = 3; i >= 0; i--) {
    const c = (v >>> (i * 8)) & 0xff;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return s;
}

function readFourcc(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Signed 24-bit big-endian. */
function readSI24(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8)) >> 8;
}

function need(body: Uint8Array, n: number, what: string): void {
  if (body.length < n) throw new FlvCodecError(`FLV ${what}: body too short (${body.length} bytes, need ${n})`);
}

/**
 * Skip ModEx (packet type 7) prefixes: UI8 size-1 (255 -> UI16 size-1 follows), data, then UI8
 * (modExType << 4 | next packet type). Returns the offset after them; the real packet type is then the low
 * nibble of the byte before that offset (the header byte itself when there is no ModEx).
 * The only defined ModEx (TimestampOffsetNano) refines timestamps below 1 ms, which MediaPacket cannot hold.
 */
function skipModEx(body: Uint8Array, what: string): number {
  let off = 1;
  let packetType = body[0]! & 0x0f;
  let guard = 0;
  while (packetType === 7) {
    if (++guard > 16) throw new FlvCodecError(`FLV ${what}: too many ModEx headers`);
    need(body, off + 1, what);
    let size = body[off]! + 1;
    off += 1;
    if (size === 256) {
      need(body, off + 2, what);
      size = ((body[off]! << 8) | body[off + 1]!) + 1;
      off += 2;
    }
    need(body, off + size + 1, what);
    off += size;
    packetType = body[off]! & 0x0f;
    off += 1;
  }
  return off;
}

function videoPacket(codec: VideoCodec, dts: number, cts: number, keyframe: boolean, config: boolean, data: Uint8Array): MediaPacket {
  return { kind: "video", codec, dts, pts: dts + cts, keyframe, config, data };
}

/** Decode a video tag body. `dts` is the tag/message timestamp in ms. */
export function flvVideoToPacket(body: Uint8Array, dts: number): MediaPacket | null {
  need(body, 1, "video");
  const b0 = body[0]!;
  if (b0 & 0x80) return exVideoToPacket(body, dts);
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  if (frameType === 5) return null; // video info/command frame
  let codec: VideoCodec;
  if (codecId === FLV_VIDEO_AVC) codec = "h264";
  else if (codecId === FLV_VIDEO_HEVC) codec = "h265";
  else throw new FlvCodecError(`FLV video: unsupported codec id ${codecId}`);
  need(body, 5, "video");
  const packetType = body[1]!;
  const keyframe = frameType === 1 || frameType === 4;
  if (packetType === 0) return videoPacket(codec, dts, 0, keyframe, true, body.subarray(5));
  if (packetType === 1) return videoPacket(codec, dts, readSI24(body, 2), keyframe, false, body.subarray(5));
  if (packetType === 2) return null; // end of sequence
  throw new FlvCodecError(`FLV video: bad AVCPacketType ${packetType}`);
}

function exVideoToPacket(body: Uint8Array, dts: number): MediaPacket | null {
  const b0 = body[0]!;
  const frameType = (b0 >> 4) & 7;
  let off = skipModEx(body, "enhanced video");
  const packetType = body[off - 1]! & 0x0f;
  if (packetType !== EX_VIDEO_METADATA && frameType === 5) return null; // command frame, no payload
  if (packetType === EX_VIDEO_MULTITRACK) throw new FlvCodecError("FLV enhanced video: multitrack is not supported");
  need(body, off + 4, "enhanced video");
  const fcc = readFourcc(body, off);
  off += 4;
  let codec: VideoCodec;
  let hasCts = false;
  if (fcc === FOURCC_HVC1) {
    codec = "h265";
    hasCts = true;
  } else if (fcc === FOURCC_AVC1) {
    codec = "h264";
    hasCts = true;
  } else if (fcc === FOURCC_AV01) codec = "av1";
  else if (fcc === FOURCC_VP09) codec = "vp9";
  else throw new FlvCodecError(`FLV enhanced video: unsupported FourCC '${fourccName(fcc)}'`);
  const keyframe = frameType === 1 || frameType === 4;
  switch (packetType) {
    case EX_VIDEO_SEQUENCE_START:
      return videoPacket(codec, dts, 0, keyframe, true, body.subarray(off));
    case EX_VIDEO_CODED_FRAMES: {
      let cts = 0;
      if (hasCts) {
        need(body, off + 3, "enhanced video");
        cts = readSI24(body, off);
        off += 3;
      }
      return videoPacket(codec, dts, cts, keyframe, false, body.subarray(off));
    }
    case EX_VIDEO_CODED_FRAMES_X:
      return videoPacket(codec, dts, 0, keyframe, false, body.subarray(off));
    case EX_VIDEO_SEQUENCE_END:
    case EX_VIDEO_METADATA:
    case EX_VIDEO_MPEG2TS_SEQUENCE_START:
      return null;
    default:
      throw new FlvCodecError(`FLV enhanced video: bad VideoPacketType ${packetType}`);
  }
}

function audioPacket(codec: AudioCodec, dts: number, config: boolean, data: Uint8Array, flags?: number): MediaPacket {
  const p: MediaPacket = { kind: "audio", codec, dts, pts: dts, keyframe: false, config, data };
  if (flags !== undefined) p.flvAudioFlags = flags;
  return p;
}

/** Decode an audio tag body. */
export function flvAudioToPacket(body: Uint8Array, dts: number): MediaPacket | null {
  need(body, 1, "audio");
  const b0 = body[0]!;
  const format = b0 >> 4;
  switch (format) {
    case FLV_SOUND_AAC: {
      need(body, 2, "AAC audio");
      const t = body[1]!;
      if (t > 1) throw new FlvCodecError(`FLV audio: bad AACPacketType ${t}`);
      return audioPacket("aac", dts, t === 0, body.subarray(2), b0);
    }
    case FLV_SOUND_MP3:
    case FLV_SOUND_MP3_8K:
      return audioPacket("mp3", dts, false, body.subarray(1), b0);
    case FLV_SOUND_PCMA:
      return audioPacket("pcma", dts, false, body.subarray(1), b0);
    case FLV_SOUND_PCMU:
      return audioPacket("pcmu", dts, false, body.subarray(1), b0);
    case FLV_SOUND_SPEEX:
      return audioPacket("speex", dts, false, body.subarray(1), b0);
    case FLV_SOUND_NELLY_16K:
    case FLV_SOUND_NELLY_8K:
    case FLV_SOUND_NELLY:
      return audioPacket("nellymoser", dts, false, body.subarray(1), b0);
    case FLV_SOUND_PCM:
    case FLV_SOUND_PCM_LE:
      return audioPacket("pcm", dts, false, body.subarray(1), b0);
    case FLV_SOUND_EX_HEADER:
      return exAudioToPacket(body, dts);
    default:
      throw new FlvCodecError(`FLV audio: unsupported SoundFormat ${format}`);
  }
}

function exAudioToPacket(body: Uint8Array, dts: number): MediaPacket | null {
  let off = skipModEx(body, "enhanced audio");
  const packetType = body[off - 1]! & 0x0f;
  if (packetType === EX_AUDIO_MULTITRACK) throw new FlvCodecError("FLV enhanced audio: multitrack is not supported");
  need(body, off + 4, "enhanced audio");
  const fcc = readFourcc(body, off);
  off += 4;
  let codec: AudioCodec;
  if (fcc === FOURCC_OPUS) codec = "opus";
  else if (fcc === FOURCC_MP4A) codec = "aac";
  else if (fcc === FOURCC_MP3) codec = "mp3";
  else throw new FlvCodecError(`FLV enhanced audio: unsupported FourCC '${fourccName(fcc)}'`);
  switch (packetType) {
    case EX_AUDIO_SEQUENCE_START:
      if (codec === "mp3") return null; // MP3 has no decoder configuration
      return audioPacket(codec, dts, true, body.subarray(off));
    case EX_AUDIO_CODED_FRAMES:
      return audioPacket(codec, dts, false, body.subarray(off));
    case EX_AUDIO_SEQUENCE_END:
    case EX_AUDIO_MULTICHANNEL_CONFIG:
      return null;
    default:
      throw new FlvCodecError(`FLV enhanced audio: bad AudioPacketType ${packetType}`);
  }
}

/** Wrap a script data tag body (AMF0) as a data packet; the bytes are passed through. */
export function flvScriptToPacket(body: Uint8Array, dts: number): MediaPacket {
  return { kind: "data", codec: "amf0", dts, pts: dts, keyframe: false, config: false, data: body };
}

/**
 * Decode any FLV tag body / RTMP message payload by tag (message) type 8, 9 or 18.
 * Returns null for bodies without media (see the module comment); throws FlvCodecError otherwise.
 */
export function flvTagToPacket(type: number, dts: number, body: Uint8Array): MediaPacket | null {
  if (type === FLV_TAG_VIDEO) return flvVideoToPacket(body, dts);
  if (type === FLV_TAG_AUDIO) return flvAudioToPacket(body, dts);
  if (type === FLV_TAG_SCRIPT) return flvScriptToPacket(body, dts);
  throw new FlvCodecError(`FLV: unsupported tag type ${type}`);
}

// ---------------------------------------------------------------------------------------------------------
// MediaPacket -> FLV body

export interface FlvEncodeOptions {
  /** HEVC as enhanced RTMP 'hvc1' (default) or legacy codec id 12 (SRS/Chinese CDN style). */
  hevcMode?: "enhanced" | "legacy12";
}

/**
 * Whether RTMP/FLV players in the field decode this packet. Opus exists only as enhanced-RTMP audio (2024),
 * which FFmpeg before 7 and most players reject (FFmpeg 5.1 stalls on it), so live RTMP/FLV outputs leave it
 * out; the audio bridge gives those players AAC instead.
 */
export function flvPlayersDecode(p: MediaPacket): boolean {
  return !(p.kind === "audio" && p.codec === "opus");
}

/** The FLV tag type (8, 9, 18) for a packet. */
export function packetFlvTagType(p: MediaPacket): number {
  return p.kind === "video" ? FLV_TAG_VIDEO : p.kind === "audio" ? FLV_TAG_AUDIO : FLV_TAG_SCRIPT;
}

const EMPTY = new Uint8Array(0);

function ctsOf(p: MediaPacket): number {
  const cts = Math.round(p.pts - p.dts);
  if (cts < -0x800000 || cts > 0x7fffff) throw new FlvCodecError(`FLV: composition time ${cts} ms does not fit SI24`);
  return cts;
}

function putSI24(out: Uint8Array, o: number, v: number): void {
  out[o] = (v >> 16) & 0xff;
  out[o + 1] = (v >> 8) & 0xff;
  out[o + 2] = v & 0xff;
}

function putFourcc(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}

function mp3Flags(p: MediaPacket): number {
  const f = p.flvAudioFlags;
  if (f !== undefined && ((f >> 4) === FLV_SOUND_MP3 || (f >> 4) === FLV_SOUND_MP3_8K)) return f;
  const h = parseMpegAudioHeader(p.data);
  if (!h) return 0x2f; // 44 kHz, 16-bit, stereo
  const stereo = h.channels === 2 ? 1 : 0;
  if (h.sampleRate === 8000) return (FLV_SOUND_MP3_8K << 4) | (1 << 1) | stereo;
  const rate = h.sampleRate >= 44100 ? 3 : h.sampleRate >= 22050 ? 2 : h.sampleRate >= 11025 ? 1 : 0;
  return (FLV_SOUND_MP3 << 4) | (rate << 2) | (1 << 1) | stereo;
}

function legacyFlags(p: MediaPacket, formats: readonly number[], dflt: number): number {
  const f = p.flvAudioFlags;
  return f !== undefined && formats.includes(f >> 4) ? f : dflt;
}

/**
 * The bytes an FLV body puts before the packet's payload (the audio/video tag header); the body is
 * this prefix followed by `p.data`. Data packets have an empty prefix.
 */
export function packetFlvPrefix(p: MediaPacket, opts: FlvEncodeOptions = {}): Uint8Array {
  if (p.kind === "data") return EMPTY;
  if (p.kind === "video") {
    const frameType = p.keyframe || p.config ? 1 : 2;
    switch (p.codec) {
      case "h264":
        return legacyVideoPrefix(FLV_VIDEO_AVC, frameType, p);
      case "h265":
        if (opts.hevcMode === "legacy12") return legacyVideoPrefix(FLV_VIDEO_HEVC, frameType, p);
        return exVideoPrefix(FOURCC_HVC1, frameType, p, true);
      case "av1":
        return exVideoPrefix(FOURCC_AV01, frameType, p, false);
      case "vp9":
        return exVideoPrefix(FOURCC_VP09, frameType, p, false);
      default:
        throw new FlvCodecError(`FLV: cannot encode video codec ${p.codec}`);
    }
  }
  if (p.kind === "audio") {
    switch (p.codec) {
      case "aac":
        return Uint8Array.of(legacyFlags(p, [FLV_SOUND_AAC], 0xaf), p.config ? 0 : 1);
      case "opus": {
        const out = new Uint8Array(5);
        out[0] = (FLV_SOUND_EX_HEADER << 4) | (p.config ? EX_AUDIO_SEQUENCE_START : EX_AUDIO_CODED_FRAMES);
        putFourcc(out, 1, FOURCC_OPUS);
        return out;
      }
    }
    if (p.config) throw new FlvCodecError(`FLV: ${p.codec} has no sequence header`);
    switch (p.codec) {
      case "mp3":
        return Uint8Array.of(mp3Flags(p));
      case "pcma":
        return Uint8Array.of(legacyFlags(p, [FLV_SOUND_PCMA], 0x72));
      case "pcmu":
        return Uint8Array.of(legacyFlags(p, [FLV_SOUND_PCMU], 0x82));
      case "speex":
        return Uint8Array.of(legacyFlags(p, [FLV_SOUND_SPEEX], 0xb2));
      case "nellymoser":
        return Uint8Array.of(legacyFlags(p, [FLV_SOUND_NELLY, FLV_SOUND_NELLY_8K, FLV_SOUND_NELLY_16K], 0x6e));
      case "pcm":
        return Uint8Array.of(legacyFlags(p, [FLV_SOUND_PCM_LE, FLV_SOUND_PCM], 0x3f));
    }
  }
  throw new FlvCodecError(`FLV: cannot encode ${p.kind} codec ${p.codec}`);
}

function legacyVideoPrefix(codecId: number, frameType: number, p: MediaPacket): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = (frameType << 4) | codecId;
  out[1] = p.config ? 0 : 1;
  if (!p.config) putSI24(out, 2, ctsOf(p));
  return out;
}

function exVideoPrefix(fcc: number, frameType: number, p: MediaPacket, withCts: boolean): Uint8Array {
  if (p.config) {
    const out = new Uint8Array(5);
    out[0] = 0x80 | (frameType << 4) | EX_VIDEO_SEQUENCE_START;
    putFourcc(out, 1, fcc);
    return out;
  }
  const cts = withCts ? ctsOf(p) : 0;
  if (cts === 0) {
    const out = new Uint8Array(5);
    out[0] = 0x80 | (frameType << 4) | (withCts ? EX_VIDEO_CODED_FRAMES_X : EX_VIDEO_CODED_FRAMES);
    putFourcc(out, 1, fcc);
    return out;
  }
  const out = new Uint8Array(8);
  out[0] = 0x80 | (frameType << 4) | EX_VIDEO_CODED_FRAMES;
  putFourcc(out, 1, fcc);
  putSI24(out, 5, cts);
  return out;
}

/** Encode a packet as an FLV tag body / RTMP message payload (one allocation). */
export function packetToFlvBody(p: MediaPacket, opts: FlvEncodeOptions = {}): Uint8Array {
  if (p.kind === "data") return p.data;
  const prefix = packetFlvPrefix(p, opts);
  const out = new Uint8Array(prefix.length + p.data.length);
  out.set(prefix, 0);
  out.set(p.data, prefix.length);
  return out;
}
