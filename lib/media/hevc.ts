/**
 * H.265/HEVC helpers: HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3.1), SPS (ITU-T H.265 7.3.2.2),
 * NALU types and keyframe (IRAP) detection, codec strings.
 *
 * Parsers return subarrays of their input (no copies) and throw HevcError on malformed input.
 */
import { BitReader, BitReaderError, nalToRbsp } from "./bitreader.ts";

export class HevcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HevcError";
  }
}

// NALU types (H.265 Table 7-1)
export const HEVC_NALU_BLA_W_LP = 16;
export const HEVC_NALU_IDR_W_RADL = 19;
export const HEVC_NALU_IDR_N_LP = 20;
export const HEVC_NALU_CRA = 21;
export const HEVC_NALU_VPS = 32;
export const HEVC_NALU_SPS = 33;
export const HEVC_NALU_PPS = 34;
export const HEVC_NALU_AUD = 35;
export const HEVC_NALU_EOS = 36;
export const HEVC_NALU_SEI_PREFIX = 39;
export const HEVC_NALU_SEI_SUFFIX = 40;

/** nal_unit_type of an HEVC NALU (from its 2-byte header), -1 when empty. */
export function hevcNaluType(nalu: Uint8Array): number {
  return nalu.length > 0 ? (nalu[0]! >> 1) & 0x3f : -1;
}

/** IRAP pictures (BLA, IDR, CRA and reserved IRAP types 16..23) are random access points. */
export function isHevcIrapType(t: number): boolean {
  return t >= 16 && t <= 23;
}

/** True when a length-prefixed HEVC access unit holds an IRAP NALU. */
export function isHevcKeyframe(data: Uint8Array, lengthSize = 4): boolean {
  let off = 0;
  const n = data.length;
  while (off + lengthSize < n) {
    let len = 0;
    for (let i = 0; i < lengthSize; i++) len = len * 256 + data[off + i]!;
    off += lengthSize;
    const t = (data[off]! >> 1) & 0x3f;
    if (t >= 16 && t <= 23) return true;
    off += len;
  }
  return false;
}

/** An HEVC access unit delimiter NALU (pic_type 2: I, P and B slices). */
export const HEVC_AUD_NALU: Uint8Array = Uint8Array.of(0x46, 0x01, 0x50);

// ---------------------------------------------------------------------------------------------------------
// profile_tier_level + SPS

export interface HevcProfileTierLevel {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flag[0..31], bit 31 = flag[0]. */
  profileCompatibility: number;
  /** The 48 bits of general constraint indicator flags as 6 bytes. */
  constraintIndicator: Uint8Array;
  levelIdc: number;
}

export interface HevcSps {
  vpsId: number;
  maxSubLayers: number;
  temporalIdNesting: boolean;
  ptl: HevcProfileTierLevel;
  spsId: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Display size after the conformance window. */
  width: number;
  height: number;
  codedWidth: number;
  codedHeight: number;
  /** Convenience copies of ptl fields. */
  profileIdc: number;
  tierFlag: number;
  levelIdc: number;
}

function parsePtl(r: BitReader, maxSubLayersMinus1: number): HevcProfileTierLevel {
  const profileSpace = r.bits(2);
  const tierFlag = r.bits(1);
  const profileIdc = r.bits(5);
  const profileCompatibility = r.bits(32);
  const constraintIndicator = new Uint8Array(6);
  for (let i = 0; i < 6; i++) constraintIndicator[i] = r.bits(8);
  const levelIdc = r.bits(8);
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.flag());
    levelPresent.push(r.flag());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skip(88);
    if (levelPresent[i]) r.skip(8);
  }
  return { profileSpace, tierFlag, profileIdc, profileCompatibility, constraintIndicator, levelIdc };
}

/** Parse an HEVC SPS NALU (with its 2-byte NAL header). */
export function parseHevcSps(nalu: Uint8Array): HevcSps {
  if (nalu.length < 4 || hevcNaluType(nalu) !== HEVC_NALU_SPS) throw new HevcError("SPS: not an HEVC SPS NALU");
  try {
    const r = new BitReader(nalToRbsp(nalu), 2);
    const vpsId = r.bits(4);
    const maxSubLayersMinus1 = r.bits(3);
    if (maxSubLayersMinus1 > 6) throw new HevcError(`SPS: bad sps_max_sub_layers_minus1 ${maxSubLayersMinus1}`);
    const temporalIdNesting = r.flag();
    const ptl = parsePtl(r, maxSubLayersMinus1);
    const spsId = r.ue();
    if (spsId > 15) throw new HevcError(`SPS: bad sps_seq_parameter_set_id ${spsId}`);
    const chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new HevcError(`SPS: bad chroma_format_idc ${chromaFormatIdc}`);
    let separateColourPlane = false;
    if (chromaFormatIdc === 3) separateColourPlane = r.flag();
    const codedWidth = r.ue();
    const codedHeight = r.ue();
    let width = codedWidth;
    let height = codedHeight;
    if (r.flag()) {
      const l = r.ue();
      const rr = r.ue();
      const t = r.ue();
      const b = r.ue();
      const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
      const subW = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
      const subH = chromaArrayType === 1 ? 2 : 1;
      width -= subW * (l + rr);
      height -= subH * (t + b);
    }
    if (width <= 0 || height <= 0) throw new HevcError("SPS: empty picture");
    const bitDepthLuma = 8 + r.ue();
    const bitDepthChroma = 8 + r.ue();
    return {
      vpsId, maxSubLayers: maxSubLayersMinus1 + 1, temporalIdNesting, ptl, spsId, chromaFormatIdc,
      bitDepthLuma, bitDepthChroma, width, height, codedWidth, codedHeight,
      profileIdc: ptl.profileIdc, tierFlag: ptl.tierFlag, levelIdc: ptl.levelIdc,
    };
  } catch (e) {
    if (!(e instanceof BitReaderError)) throw e;
    throw new HevcError(`SPS: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// HEVCDecoderConfigurationRecord

export interface HevcNaluArray {
  completeness: boolean;
  type: number;
  nalus: Uint8Array[];
}

export interface HevcConfig {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  profileCompatibility: number;
  constraintIndicator: Uint8Array;
  levelIdc: number;
  minSpatialSegmentation: number;
  parallelismType: number;
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  avgFrameRate: number;
  constantFrameRate: number;
  numTemporalLayers: number;
  temporalIdNested: boolean;
  lengthSize: number;
  arrays: HevcNaluArray[];
  /** Convenience: the NALUs of the VPS/SPS/PPS arrays. */
  vps: Uint8Array[];
  sps: Uint8Array[];
  pps: Uint8Array[];
}

/** Parse an HEVCDecoderConfigurationRecord; NALUs are subarrays of `data`. */
export function parseHevcConfig(data: Uint8Array): HevcConfig {
  const n = data.length;
  if (n < 23) throw new HevcError(`HEVC config: too short (${n} bytes)`);
  if (data[0] !== 1) throw new HevcError(`HEVC config: unsupported configurationVersion ${data[0]}`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const b1 = data[1]!;
  const cfg: HevcConfig = {
    profileSpace: b1 >> 6,
    tierFlag: (b1 >> 5) & 1,
    profileIdc: b1 & 0x1f,
    profileCompatibility: dv.getUint32(2),
    constraintIndicator: data.subarray(6, 12),
    levelIdc: data[12]!,
    minSpatialSegmentation: dv.getUint16(13) & 0x0fff,
    parallelismType: data[15]! & 3,
    chromaFormat: data[16]! & 3,
    bitDepthLuma: (data[17]! & 7) + 8,
    bitDepthChroma: (data[18]! & 7) + 8,
    avgFrameRate: dv.getUint16(19),
    constantFrameRate: data[21]! >> 6,
    numTemporalLayers: (data[21]! >> 3) & 7,
    temporalIdNested: ((data[21]! >> 2) & 1) === 1,
    lengthSize: (data[21]! & 3) + 1,
    arrays: [],
    vps: [],
    sps: [],
    pps: [],
  };
  if (cfg.lengthSize === 3) throw new HevcError("HEVC config: invalid lengthSizeMinusOne 2");
  const numArrays = data[22]!;
  let off = 23;
  for (let a = 0; a < numArrays; a++) {
    if (off + 3 > n) throw new HevcError("HEVC config: truncated NALU array header");
    const completeness = (data[off]! & 0x80) !== 0;
    const type = data[off]! & 0x3f;
    const count = dv.getUint16(off + 1);
    off += 3;
    const nalus: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      if (off + 2 > n) throw new HevcError("HEVC config: truncated NALU length");
      const len = dv.getUint16(off);
      off += 2;
      if (off + len > n) throw new HevcError(`HEVC config: NALU of ${len} bytes exceeds the record`);
      nalus.push(data.subarray(off, off + len));
      off += len;
    }
    cfg.arrays.push({ completeness, type, nalus });
    if (type === HEVC_NALU_VPS) cfg.vps.push(...nalus);
    else if (type === HEVC_NALU_SPS) cfg.sps.push(...nalus);
    else if (type === HEVC_NALU_PPS) cfg.pps.push(...nalus);
  }
  return cfg;
}

/**
 * Build an HEVCDecoderConfigurationRecord (4-byte NALU lengths, arrays complete) from VPS/SPS/PPS NALUs
 * (+ optional prefix SEI). General profile/tier/level, chroma and bit depths come from the first SPS.
 */
export function buildHevcConfig(
  vps: readonly Uint8Array[],
  sps: readonly Uint8Array[],
  pps: readonly Uint8Array[],
  sei: readonly Uint8Array[] = [],
): Uint8Array {
  const first = sps[0];
  if (!first) throw new HevcError("HEVC config: need at least one SPS");
  const info = parseHevcSps(first);
  const arrays: [number, readonly Uint8Array[]][] = [
    [HEVC_NALU_VPS, vps],
    [HEVC_NALU_SPS, sps],
    [HEVC_NALU_PPS, pps],
    [HEVC_NALU_SEI_PREFIX, sei],
  ];
  let total = 23;
  let numArrays = 0;
  for (const [, list] of arrays) {
    if (list.length === 0) continue;
    if (list.length > 0xffff) throw new HevcError("HEVC config: too many NALUs");
    numArrays++;
    total += 3;
    for (const x of list) {
      if (x.length > 0xffff) throw new HevcError("HEVC config: NALU too large");
      total += 2 + x.length;
    }
  }
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const p = info.ptl;
  out[0] = 1;
  out[1] = (p.profileSpace << 6) | (p.tierFlag << 5) | p.profileIdc;
  dv.setUint32(2, p.profileCompatibility);
  out.set(p.constraintIndicator, 6);
  out[12] = p.levelIdc;
  dv.setUint16(13, 0xf000); // min_spatial_segmentation_idc 0
  out[15] = 0xfc; // parallelismType 0 (unknown)
  out[16] = 0xfc | info.chromaFormatIdc;
  out[17] = 0xf8 | ((info.bitDepthLuma - 8) & 7);
  out[18] = 0xf8 | ((info.bitDepthChroma - 8) & 7);
  dv.setUint16(19, 0); // avgFrameRate unknown
  out[21] = (0 << 6) | ((info.maxSubLayers & 7) << 3) | ((info.temporalIdNesting ? 1 : 0) << 2) | 3;
  out[22] = numArrays;
  let off = 23;
  for (const [type, list] of arrays) {
    if (list.length === 0) continue;
    out[off] = 0x80 | type;
    dv.setUint16(off + 1, list.length);
    off += 3;
    for (const x of list) {
      dv.setUint16(off, x.length);
      out.set(x, off + 2);
      off += 2 + x.length;
    }
  }
  return out;
}

/** RFC 6381 / ISO 14496-15 E.3 codec string, e.g. "hvc1.1.6.L93.B0". */
export function hevcCodecString(cfg: HevcConfig | HevcProfileTierLevel, prefix: "hvc1" | "hev1" = "hvc1"): string {
  const space = ["", "A", "B", "C"][cfg.profileSpace] ?? "";
  // compatibility flags in reverse bit order
  let c = cfg.profileCompatibility >>> 0;
  let rev = 0;
  for (let i = 0; i < 32; i++) {
    rev = (rev * 2) + (c & 1);
    c >>>= 1;
  }
  const ci = cfg.constraintIndicator;
  let last = ci.length;
  while (last > 0 && ci[last - 1] === 0) last--;
  let s = `${prefix}.${space}${cfg.profileIdc}.${rev.toString(16)}.${cfg.tierFlag ? "H" : "L"}${cfg.levelIdc}`;
  for (let i = 0; i < last; i++) s += `.${ci[i]!.toString(16).toUpperCase()}`;
  return s;
}
