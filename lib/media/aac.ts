/**
 * AAC helpers: AudioSpecificConfig (ISO 14496-3 1.6.2.1) parse/build and ADTS headers (ISO 14496-3 1.A.2).
 */
import { BitReader, BitReaderError } from "./bitreader.ts";

export class AacError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AacError";
  }
}

/** samplingFrequencyIndex -> Hz (ISO 14496-3 Table 1.18); indexes 13, 14 are reserved, 15 = explicit. */
export const AAC_SAMPLE_RATES: readonly number[] = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

export const AAC_OBJECT_MAIN = 1;
export const AAC_OBJECT_LC = 2;
export const AAC_OBJECT_SSR = 3;
export const AAC_OBJECT_LTP = 4;
export const AAC_OBJECT_SBR = 5;
export const AAC_OBJECT_PS = 29;

/** Index of a sample rate in AAC_SAMPLE_RATES, or 15 (explicit) when not in the table. */
export function aacSamplingIndex(sampleRate: number): number {
  const i = AAC_SAMPLE_RATES.indexOf(sampleRate);
  return i < 0 ? 15 : i;
}

/** Channels for a channelConfiguration (0 = defined in a PCE: unknown, reported as 0). */
export function aacChannels(channelConfig: number): number {
  switch (channelConfig) {
    case 7: return 8;
    case 11: return 7;
    case 12: return 8;
    case 13: return 24;
    case 14: return 8;
    default: return channelConfig <= 6 ? channelConfig : 0;
  }
}

export interface AudioSpecificConfig {
  /** The core audio object type (2 = AAC-LC); for explicit HE-AAC signaling the type under SBR/PS. */
  objectType: number;
  /** The first audioObjectType of the config (5 = SBR, 29 = PS for explicit hierarchical signaling). */
  signaledObjectType: number;
  samplingIndex: number;
  /** Core sampling rate in Hz. */
  sampleRate: number;
  channelConfig: number;
  channels: number;
  /** SBR present (HE-AAC), explicitly signaled. */
  sbr: boolean;
  /** PS present (HE-AACv2), explicitly signaled. */
  ps: boolean;
  /** Output sampling rate with SBR, when signaled. */
  extensionSampleRate?: number;
  frameLengthFlag: boolean;
}

function readObjectType(r: BitReader): number {
  const t = r.bits(5);
  return t === 31 ? 32 + r.bits(6) : t;
}

function readSampleRate(r: BitReader): [number, number] {
  const idx = r.bits(4);
  if (idx === 15) return [idx, r.bits(24)];
  const rate = AAC_SAMPLE_RATES[idx];
  if (rate === undefined) throw new AacError(`ASC: reserved samplingFrequencyIndex ${idx}`);
  return [idx, rate];
}

/** Parse an AudioSpecificConfig. Throws AacError when malformed. */
export function parseAudioSpecificConfig(data: Uint8Array): AudioSpecificConfig {
  if (data.length < 2) throw new AacError(`ASC: too short (${data.length} bytes)`);
  try {
    const r = new BitReader(data);
    const signaled = readObjectType(r);
    if (signaled === 0) throw new AacError("ASC: audioObjectType 0 (null)");
    let objectType = signaled;
    const [samplingIndex, sampleRate] = readSampleRate(r);
    if (sampleRate === 0) throw new AacError("ASC: sampling rate 0");
    const channelConfig = r.bits(4);
    let sbr = false;
    let ps = false;
    let extensionSampleRate: number | undefined;
    if (signaled === AAC_OBJECT_SBR || signaled === AAC_OBJECT_PS) {
      sbr = true;
      ps = signaled === AAC_OBJECT_PS;
      extensionSampleRate = readSampleRate(r)[1];
      objectType = readObjectType(r);
      if (objectType === 22) r.skip(4); // extensionChannelConfiguration (ER BSAC)
    }
    let frameLengthFlag = false;
    // GASpecificConfig for the common GA types, then the backward-compatible SBR sync extension.
    if ((objectType >= 1 && objectType <= 4) && channelConfig !== 0 && r.bitsLeft >= 3) {
      frameLengthFlag = r.flag();
      if (r.flag()) r.skip(14); // dependsOnCoreCoder -> coreCoderDelay
      r.skip(1); // extensionFlag (0 for these types)
      if (!sbr && r.bitsLeft >= 16) {
        const sync = r.bits(11);
        if (sync === 0x2b7) {
          const ext = readObjectType(r);
          if (ext === AAC_OBJECT_SBR && r.bitsLeft >= 1) {
            sbr = r.flag();
            if (sbr) {
              extensionSampleRate = readSampleRate(r)[1];
              if (r.bitsLeft >= 12 && r.bits(11) === 0x548) ps = r.flag();
            }
          }
        }
      }
    }
    const cfg: AudioSpecificConfig = {
      objectType, signaledObjectType: signaled, samplingIndex, sampleRate, channelConfig,
      channels: aacChannels(channelConfig), sbr, ps, frameLengthFlag,
    };
    if (extensionSampleRate !== undefined) cfg.extensionSampleRate = extensionSampleRate;
    return cfg;
  } catch (e) {
    if (!(e instanceof BitReaderError)) throw e;
    throw new AacError(`ASC: ${(e as Error).message}`);
  }
}

/**
 * Build a minimal AudioSpecificConfig (object type incl. escape, sampling index or explicit rate,
 * channel configuration, GASpecificConfig zeros). AAC-LC 44100 stereo -> 12 10.
 */
export function buildAudioSpecificConfig(o: { objectType: number; sampleRate: number; channels: number }): Uint8Array {
  if (o.objectType < 1 || o.objectType > 95 || o.objectType === 31) throw new AacError(`ASC: bad object type ${o.objectType}`);
  const chan = o.channels === 8 ? 7 : o.channels;
  if (chan < 0 || chan > 7) throw new AacError(`ASC: ${o.channels} channels not expressible`);
  const bits: [number, number][] = [];
  if (o.objectType >= 31) bits.push([31, 5], [o.objectType - 32, 6]);
  else bits.push([o.objectType, 5]);
  const idx = aacSamplingIndex(o.sampleRate);
  bits.push([idx, 4]);
  if (idx === 15) bits.push([o.sampleRate & 0xffffff, 24]);
  bits.push([chan, 4]);
  bits.push([0, 3]); // frameLengthFlag, dependsOnCoreCoder, extensionFlag
  let total = 0;
  for (const [, n] of bits) total += n;
  const out = new Uint8Array(Math.ceil(total / 8));
  let pos = 0;
  for (const [v, n] of bits) {
    for (let i = n - 1; i >= 0; i--) {
      if ((v / 2 ** i) & 1) out[pos >> 3]! |= 0x80 >> (pos & 7);
      pos++;
    }
  }
  return out;
}

/** RFC 6381 codec string: "mp4a.40.2" for AAC-LC. */
export function aacCodecString(cfg: Pick<AudioSpecificConfig, "signaledObjectType"> | number): string {
  return `mp4a.40.${typeof cfg === "number" ? cfg : cfg.signaledObjectType}`;
}

// ---------------------------------------------------------------------------------------------------------
// ADTS

export interface AdtsHeader {
  /** 7, or 9 with CRC. */
  headerLength: number;
  /** aac_frame_length: header + payload. */
  frameLength: number;
  /** MPEG-4 audio object type (profile + 1). */
  objectType: number;
  samplingIndex: number;
  sampleRate: number;
  channelConfig: number;
  channels: number;
  /** number_of_raw_data_blocks_in_frame + 1. */
  rawBlocks: number;
  protectionAbsent: boolean;
  mpeg2: boolean;
}

export const ADTS_HEADER_SIZE = 7;

/**
 * Parse the ADTS header at `off`. Returns null when fewer than 7 bytes are left or the bytes there are not
 * a valid ADTS header (bad syncword, layer, reserved sampling index, or frame length shorter than header).
 */
export function parseAdtsHeader(buf: Uint8Array, off = 0): AdtsHeader | null {
  if (off < 0 || off + 7 > buf.length) return null;
  const b1 = buf[off + 1]!;
  if (buf[off] !== 0xff || (b1 & 0xf6) !== 0xf0) return null; // syncword 0xFFF, layer 00
  const b2 = buf[off + 2]!;
  const b3 = buf[off + 3]!;
  const protectionAbsent = (b1 & 1) === 1;
  const objectType = (b2 >> 6) + 1;
  const samplingIndex = (b2 >> 2) & 0xf;
  const sampleRate = AAC_SAMPLE_RATES[samplingIndex];
  if (sampleRate === undefined) return null;
  const channelConfig = ((b2 & 1) << 2) | (b3 >> 6);
  const frameLength = ((b3 & 3) << 11) | (buf[off + 4]! << 3) | (buf[off + 5]! >> 5);
  const headerLength = protectionAbsent ? 7 : 9;
  if (frameLength < headerLength) return null;
  return {
    headerLength, frameLength, objectType, samplingIndex, sampleRate, channelConfig,
    channels: aacChannels(channelConfig), rawBlocks: (buf[off + 6]! & 3) + 1, protectionAbsent,
    mpeg2: (b1 & 8) !== 0,
  };
}

/**
 * Write a 7-byte ADTS header (no CRC, one raw data block, buffer fullness 0x7FF) into `out` at `off`
 * for a payload of `payloadLength` bytes.
 */
export function writeAdtsHeader(
  out: Uint8Array,
  off: number,
  o: { objectType: number; samplingIndex: number; channelConfig: number },
  payloadLength: number,
): void {
  const len = payloadLength + 7;
  if (len > 0x1fff) throw new AacError(`ADTS: frame of ${len} bytes exceeds 8191`);
  if (o.objectType < 1 || o.objectType > 4) throw new AacError(`ADTS: object type ${o.objectType} not expressible`);
  if (o.samplingIndex > 12) throw new AacError(`ADTS: sampling index ${o.samplingIndex} not expressible`);
  if (o.channelConfig > 7) throw new AacError(`ADTS: channel config ${o.channelConfig} not expressible`);
  out[off] = 0xff;
  out[off + 1] = 0xf1; // MPEG-4, layer 0, protection absent
  out[off + 2] = ((o.objectType - 1) << 6) | (o.samplingIndex << 2) | (o.channelConfig >> 2);
  out[off + 3] = ((o.channelConfig & 3) << 6) | (len >> 11);
  out[off + 4] = (len >> 3) & 0xff;
  out[off + 5] = ((len & 7) << 5) | 0x1f;
  out[off + 6] = 0xfc;
}

/** A 7-byte ADTS header for a raw AAC frame of `payloadLength` bytes described by `asc`. */
export function buildAdtsHeader(asc: AudioSpecificConfig, payloadLength: number): Uint8Array {
  const out = new Uint8Array(7);
  // ADTS can only signal the core (implicit SBR), so use the core object type and rate.
  writeAdtsHeader(out, 0, { objectType: asc.objectType, samplingIndex: asc.samplingIndex, channelConfig: asc.channelConfig }, payloadLength);
  return out;
}

/** An AudioSpecificConfig equivalent to an ADTS header (for TS -> FLV/RTMP). */
export function adtsToAudioSpecificConfig(h: AdtsHeader): Uint8Array {
  return buildAudioSpecificConfig({ objectType: h.objectType, sampleRate: h.sampleRate, channels: h.channelConfig === 7 ? 8 : h.channelConfig });
}
