/**
 * H.264/AVC helpers: AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3), SPS (ITU-T H.264 7.3.2.1.1),
 * NALU framing (AVCC 4-byte length prefix <-> Annex-B start codes), NALU types and codec strings.
 *
 * All parsers return subarrays of their input (no payload copies) and throw AvcError on malformed input.
 */
import { BitReader, BitReaderError, nalToRbsp } from "./bitreader.ts";

export class AvcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AvcError";
  }
}

// ---------------------------------------------------------------------------------------------------------
// NALU types (H.264 Table 7-1)

export const AVC_NALU_SLICE = 1;
export const AVC_NALU_IDR = 5;
export const AVC_NALU_SEI = 6;
export const AVC_NALU_SPS = 7;
export const AVC_NALU_PPS = 8;
export const AVC_NALU_AUD = 9;
export const AVC_NALU_END_SEQ = 10;
export const AVC_NALU_FILLER = 12;

/** nal_unit_type of an H.264 NALU (its first byte). */
export function avcNaluType(nalu: Uint8Array): number {
  return nalu.length > 0 ? nalu[0]! & 0x1f : -1;
}
export function isAvcIdr(nalu: Uint8Array): boolean {
  return avcNaluType(nalu) === AVC_NALU_IDR;
}
export function isAvcSps(nalu: Uint8Array): boolean {
  return avcNaluType(nalu) === AVC_NALU_SPS;
}
export function isAvcPps(nalu: Uint8Array): boolean {
  return avcNaluType(nalu) === AVC_NALU_PPS;
}
export function isAvcAud(nalu: Uint8Array): boolean {
  return avcNaluType(nalu) === AVC_NALU_AUD;
}
export function isAvcSei(nalu: Uint8Array): boolean {
  return avcNaluType(nalu) === AVC_NALU_SEI;
}

/** An access unit delimiter NALU (primary_pic_type 7 = any slice type), as TS/HLS muxers prepend. */
export const AVC_AUD_NALU: Uint8Array = Uint8Array.of(0x09, 0xf0);

// ---------------------------------------------------------------------------------------------------------
// AVCC (length-prefixed) framing

/**
 * Iterate the NALUs of a length-prefixed access unit (AVCC/HVCC framing), as subarrays of `data`.
 * Throws AvcError when a length runs past the end.
 */
export function* avccNalus(data: Uint8Array, lengthSize = 4): Generator<Uint8Array, void, undefined> {
  let off = 0;
  const n = data.length;
  while (off < n) {
    if (off + lengthSize > n) throw new AvcError(`AVCC: truncated NALU length at ${off}`);
    let len = 0;
    for (let i = 0; i < lengthSize; i++) len = len * 256 + data[off + i]!;
    off += lengthSize;
    if (len > n - off) throw new AvcError(`AVCC: NALU length ${len} at ${off - lengthSize} exceeds ${n - off} bytes left`);
    yield data.subarray(off, off + len);
    off += len;
  }
}

/** The NALUs of a length-prefixed access unit as an array of subarrays (faster than the generator). */
export function splitAvcc(data: Uint8Array, lengthSize = 4): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  const n = data.length;
  while (off < n) {
    if (off + lengthSize > n) throw new AvcError(`AVCC: truncated NALU length at ${off}`);
    let len = 0;
    for (let i = 0; i < lengthSize; i++) len = len * 256 + data[off + i]!;
    off += lengthSize;
    if (len > n - off) throw new AvcError(`AVCC: NALU length ${len} at ${off - lengthSize} exceeds ${n - off} bytes left`);
    out.push(data.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** Concatenate NALUs with 4-byte big-endian length prefixes (one allocation). */
export function joinAvcc(nalus: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const n of nalus) total += 4 + n.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const n of nalus) {
    const l = n.length;
    out[off] = l >>> 24;
    out[off + 1] = (l >>> 16) & 0xff;
    out[off + 2] = (l >>> 8) & 0xff;
    out[off + 3] = l & 0xff;
    out.set(n, off + 4);
    off += 4 + l;
  }
  return out;
}

/**
 * Length-prefixed access unit -> Annex-B (4-byte start codes), in one allocation.
 * `prefix` NALUs (e.g. AUD, SPS, PPS) are emitted first.
 */
export function avccToAnnexB(data: Uint8Array, lengthSize = 4, prefix?: readonly Uint8Array[]): Uint8Array {
  const nalus = splitAvcc(data, lengthSize);
  let total = 0;
  if (prefix) for (const p of prefix) total += 4 + p.length;
  for (const n of nalus) total += 4 + n.length;
  const out = new Uint8Array(total);
  let off = 0;
  const put = (n: Uint8Array): void => {
    out[off + 3] = 1; // 00 00 00 01 (the rest is already zero)
    out.set(n, off + 4);
    off += 4 + n.length;
  };
  if (prefix) for (const p of prefix) put(p);
  for (const n of nalus) put(n);
  return out;
}

/**
 * The NALUs of an Annex-B byte stream (3- or 4-byte start codes), as subarrays without start codes
 * and without trailing zero bytes. Bytes before the first start code are ignored.
 */
export function splitAnnexB(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = data.length;
  let start = -1; // start of the current NALU payload
  let i = 0;
  while (i + 2 < n) {
    // find 00 00 01
    if (data[i + 2]! > 1) {
      i += 3;
      continue;
    }
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) out.push(trimZeros(data, start, i));
      start = i + 3;
      i += 3;
      continue;
    }
    i++;
  }
  if (start >= 0 && start <= n) out.push(trimZeros(data, start, n));
  return out.filter((x) => x.length > 0);
}

function trimZeros(data: Uint8Array, start: number, end: number): Uint8Array {
  while (end > start && data[end - 1] === 0) end--;
  return data.subarray(start, end);
}

/** Annex-B byte stream -> 4-byte length-prefixed access unit (one allocation). */
export function annexBToAvcc(data: Uint8Array): Uint8Array {
  return joinAvcc(splitAnnexB(data));
}

/** True when a length-prefixed H.264 access unit holds an IDR slice. */
export function isAvcKeyframe(data: Uint8Array, lengthSize = 4): boolean {
  let off = 0;
  const n = data.length;
  while (off + lengthSize < n) {
    let len = 0;
    for (let i = 0; i < lengthSize; i++) len = len * 256 + data[off + i]!;
    off += lengthSize;
    if ((data[off]! & 0x1f) === AVC_NALU_IDR) return true;
    off += len;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// SPS

export interface AvcSps {
  profileIdc: number;
  /** constraint_set0..5 flags + reserved bits (the byte after profile_idc). */
  constraintFlags: number;
  levelIdc: number;
  spsId: number;
  /** chroma_format_idc: 0 mono, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  frameMbsOnly: boolean;
  picOrderCntType: number;
  maxNumRefFrames: number;
  /** Display size, after frame cropping. */
  width: number;
  height: number;
  /** Coded size in samples (macroblock aligned). */
  codedWidth: number;
  codedHeight: number;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      const delta = r.se();
      next = (last + delta + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
}

/** Parse an H.264 SPS NALU (with its 1-byte NAL header). Throws AvcError when malformed. */
export function parseAvcSps(nalu: Uint8Array): AvcSps {
  if (nalu.length < 4 || (nalu[0]! & 0x1f) !== AVC_NALU_SPS) throw new AvcError("SPS: not an SPS NALU");
  try {
    const r = new BitReader(nalToRbsp(nalu), 1);
    const profileIdc = r.bits(8);
    const constraintFlags = r.bits(8);
    const levelIdc = r.bits(8);
    const spsId = r.ue();
    if (spsId > 31) throw new AvcError(`SPS: bad seq_parameter_set_id ${spsId}`);
    let chromaFormatIdc = 1;
    let separateColourPlane = false;
    let bitDepthLuma = 8;
    let bitDepthChroma = 8;
    if (HIGH_PROFILES.has(profileIdc)) {
      chromaFormatIdc = r.ue();
      if (chromaFormatIdc > 3) throw new AvcError(`SPS: bad chroma_format_idc ${chromaFormatIdc}`);
      if (chromaFormatIdc === 3) separateColourPlane = r.flag();
      bitDepthLuma = 8 + r.ue();
      bitDepthChroma = 8 + r.ue();
      r.skip(1); // qpprime_y_zero_transform_bypass_flag
      if (r.flag()) {
        const count = chromaFormatIdc !== 3 ? 8 : 12;
        for (let i = 0; i < count; i++) if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const picOrderCntType = r.ue();
    if (picOrderCntType === 0) {
      r.ue(); // log2_max_pic_order_cnt_lsb_minus4
    } else if (picOrderCntType === 1) {
      r.skip(1); // delta_pic_order_always_zero_flag
      r.se(); // offset_for_non_ref_pic
      r.se(); // offset_for_top_to_bottom_field
      const cycle = r.ue();
      if (cycle > 255) throw new AvcError("SPS: num_ref_frames_in_pic_order_cnt_cycle too large");
      for (let i = 0; i < cycle; i++) r.se();
    } else if (picOrderCntType !== 2) {
      throw new AvcError(`SPS: bad pic_order_cnt_type ${picOrderCntType}`);
    }
    const maxNumRefFrames = r.ue();
    r.skip(1); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.flag();
    if (!frameMbsOnly) r.skip(1); // mb_adaptive_frame_field_flag
    r.skip(1); // direct_8x8_inference_flag
    const codedWidth = widthMbs * 16;
    const codedHeight = (2 - (frameMbsOnly ? 1 : 0)) * heightMapUnits * 16;
    let width = codedWidth;
    let height = codedHeight;
    if (r.flag()) {
      const left = r.ue();
      const right = r.ue();
      const top = r.ue();
      const bottom = r.ue();
      const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
      let cropX: number;
      let cropY: number;
      if (chromaArrayType === 0) {
        cropX = 1;
        cropY = 2 - (frameMbsOnly ? 1 : 0);
      } else {
        const subW = chromaFormatIdc === 3 ? 1 : 2;
        const subH = chromaFormatIdc === 1 ? 2 : 1;
        cropX = subW;
        cropY = subH * (2 - (frameMbsOnly ? 1 : 0));
      }
      width -= cropX * (left + right);
      height -= cropY * (top + bottom);
      if (width <= 0 || height <= 0) throw new AvcError("SPS: cropping larger than the picture");
    }
    return {
      profileIdc, constraintFlags, levelIdc, spsId, chromaFormatIdc, bitDepthLuma, bitDepthChroma,
      frameMbsOnly, picOrderCntType, maxNumRefFrames, width, height, codedWidth, codedHeight,
    };
  } catch (e) {
    if (!(e instanceof BitReaderError)) throw e;
    throw new AvcError(`SPS: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// AVCDecoderConfigurationRecord

export interface AvcConfig {
  /** AVCProfileIndication (profile_idc). */
  profile: number;
  /** profile_compatibility (the constraint flags byte). */
  compat: number;
  /** AVCLevelIndication. */
  level: number;
  /** NALU length field size in bytes (1, 2 or 4). */
  lengthSize: number;
  sps: Uint8Array[];
  pps: Uint8Array[];
  /** High-profile extension fields, when present in the record. */
  chromaFormat?: number;
  bitDepthLuma?: number;
  bitDepthChroma?: number;
  spsExt?: Uint8Array[];
}

/** Parse an AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1). SPS/PPS are subarrays of `data`. */
export function parseAvcConfig(data: Uint8Array): AvcConfig {
  const n = data.length;
  if (n < 7) throw new AvcError(`AVC config: too short (${n} bytes)`);
  if (data[0] !== 1) throw new AvcError(`AVC config: unsupported configurationVersion ${data[0]}`);
  const profile = data[1]!;
  const compat = data[2]!;
  const level = data[3]!;
  const lengthSize = (data[4]! & 3) + 1;
  if (lengthSize === 3) throw new AvcError("AVC config: invalid lengthSizeMinusOne 2");
  let off = 5;
  const readList = (count: number, what: string): Uint8Array[] => {
    const list: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      if (off + 2 > n) throw new AvcError(`AVC config: truncated ${what} length`);
      const len = (data[off]! << 8) | data[off + 1]!;
      off += 2;
      if (off + len > n) throw new AvcError(`AVC config: ${what} of ${len} bytes exceeds the record`);
      list.push(data.subarray(off, off + len));
      off += len;
    }
    return list;
  };
  const sps = readList(data[off++]! & 0x1f, "SPS");
  if (off >= n) throw new AvcError("AVC config: missing numOfPictureParameterSets");
  const pps = readList(data[off++]!, "PPS");
  const cfg: AvcConfig = { profile, compat, level, lengthSize, sps, pps };
  if ((profile === 100 || profile === 110 || profile === 122 || profile === 144) && off + 4 <= n) {
    cfg.chromaFormat = data[off]! & 3;
    cfg.bitDepthLuma = (data[off + 1]! & 7) + 8;
    cfg.bitDepthChroma = (data[off + 2]! & 7) + 8;
    const numExt = data[off + 3]!;
    off += 4;
    cfg.spsExt = readList(numExt, "SPS extension");
  }
  return cfg;
}

/**
 * Build an AVCDecoderConfigurationRecord from SPS/PPS NALUs (4-byte NALU lengths). For high profiles
 * (100/110/122/144) the chroma/bit-depth extension is appended, from the SPS.
 */
export function buildAvcConfig(sps: readonly Uint8Array[], pps: readonly Uint8Array[]): Uint8Array {
  const first = sps[0];
  if (!first || first.length < 4) throw new AvcError("AVC config: need at least one SPS");
  if (sps.length > 31) throw new AvcError("AVC config: too many SPS");
  if (pps.length > 255) throw new AvcError("AVC config: too many PPS");
  const profile = first[1]!;
  const high = profile === 100 || profile === 110 || profile === 122 || profile === 144;
  let total = 7 + (high ? 4 : 0);
  for (const s of sps) total += 2 + s.length;
  for (const p of pps) total += 2 + p.length;
  const out = new Uint8Array(total);
  out[0] = 1;
  out[1] = profile;
  out[2] = first[2]!;
  out[3] = first[3]!;
  out[4] = 0xfc | 3;
  out[5] = 0xe0 | sps.length;
  let off = 6;
  const put = (x: Uint8Array): void => {
    if (x.length > 0xffff) throw new AvcError("AVC config: parameter set too large");
    out[off] = x.length >> 8;
    out[off + 1] = x.length & 0xff;
    out.set(x, off + 2);
    off += 2 + x.length;
  };
  for (const s of sps) put(s);
  out[off++] = pps.length;
  for (const p of pps) put(p);
  if (high) {
    const info = parseAvcSps(first);
    out[off++] = 0xfc | info.chromaFormatIdc;
    out[off++] = 0xf8 | (info.bitDepthLuma - 8);
    out[off++] = 0xf8 | (info.bitDepthChroma - 8);
    out[off++] = 0;
  }
  return out;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** RFC 6381 codec string, e.g. "avc1.42e01f", from an SPS NALU or a parsed config. */
export function avcCodecString(src: Uint8Array | AvcConfig): string {
  if (src instanceof Uint8Array) {
    if (src.length < 4) throw new AvcError("codec string: SPS too short");
    return `avc1.${hex2(src[1]!)}${hex2(src[2]!)}${hex2(src[3]!)}`;
  }
  return `avc1.${hex2(src.profile)}${hex2(src.compat)}${hex2(src.level)}`;
}
