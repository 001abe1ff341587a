/**
 * MPEG-1/2/2.5 audio (Layer I/II/III) frame header (ISO 11172-3 2.4.1.3, ISO 13818-3).
 */

export interface MpegAudioHeader {
  /** 1 (MPEG-1), 2 (MPEG-2), 2.5 (MPEG-2.5). */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  protection: boolean;
  /** kbit/s; 0 for the free format. */
  bitrate: number;
  sampleRate: number;
  padding: boolean;
  /** Channel mode: 0 stereo, 1 joint stereo, 2 dual channel, 3 mono. */
  channelMode: number;
  channels: number;
  /** Frame length in bytes including the header (0 for the free format). */
  frameLength: number;
  samplesPerFrame: number;
}

const BITRATES_V1: readonly (readonly number[])[] = [
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // layer I
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // layer II
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // layer III
];
const BITRATES_V2: readonly (readonly number[])[] = [
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], // layer I
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // layer II & III
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const RATES_V1 = [44100, 48000, 32000];

/** Parse the 4-byte header at `off`; null when too short or not a valid header. */
export function parseMpegAudioHeader(buf: Uint8Array, off = 0): MpegAudioHeader | null {
  if (off < 0 || off + 4 > buf.length) return null;
  const b1 = buf[off + 1]!;
  if (buf[off] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const vbits = (b1 >> 3) & 3;
  const lbits = (b1 >> 1) & 3;
  if (vbits === 1 || lbits === 0) return null; // reserved
  const version: 1 | 2 | 2.5 = vbits === 3 ? 1 : vbits === 2 ? 2 : 2.5;
  const layer = (4 - lbits) as 1 | 2 | 3;
  const b2 = buf[off + 2]!;
  const brIdx = b2 >> 4;
  const srIdx = (b2 >> 2) & 3;
  if (brIdx === 15 || srIdx === 3) return null;
  const bitrate = (version === 1 ? BITRATES_V1 : BITRATES_V2)[layer - 1]![brIdx]!;
  const sampleRate = RATES_V1[srIdx]! / (version === 1 ? 1 : version === 2 ? 2 : 4);
  const padding = ((b2 >> 1) & 1) === 1;
  const channelMode = buf[off + 3]! >> 6;
  let samplesPerFrame: number;
  let frameLength: number;
  if (layer === 1) {
    samplesPerFrame = 384;
    frameLength = bitrate ? (Math.floor((12 * bitrate * 1000) / sampleRate) + (padding ? 1 : 0)) * 4 : 0;
  } else {
    samplesPerFrame = layer === 3 && version !== 1 ? 576 : 1152;
    const coef = samplesPerFrame / 8;
    frameLength = bitrate ? Math.floor((coef * bitrate * 1000) / sampleRate) + (padding ? 1 : 0) : 0;
  }
  return {
    version, layer, protection: (b1 & 1) === 0, bitrate, sampleRate, padding, channelMode,
    channels: channelMode === 3 ? 1 : 2, frameLength, samplesPerFrame,
  };
}
