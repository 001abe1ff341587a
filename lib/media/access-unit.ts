/**
 * An H.264/H.265 access unit in Annex-B form (ISO/IEC 14496-10 Annex B; ITU-T H.265 Annex B), as MPEG-TS and
 * MPEG-PS carry it, turned into what the hub takes (lib/media/packet.ts): 4-byte length-prefixed NALUs, the
 * parameter sets apart (they become a decoder configuration record, ISO/IEC 14496-15 5.3.3 / 8.3.3), access
 * unit delimiters and filler dropped (SEI too on request), keyframe = IDR (H.264 type 5) / IRAP (H.265 16..23).
 * Shared by the TS and PS demuxers.
 */
import { buildAvcConfig, parseAvcSps, splitAnnexB } from "./avc.ts";
import { buildHevcConfig, parseHevcSps } from "./hevc.ts";

export interface AccessUnitParts {
  /** Parameter sets found in the unit (undefined: none of that kind). */
  vps?: Uint8Array[];
  sps?: Uint8Array[];
  pps?: Uint8Array[];
  keyframe: boolean;
  /** Whether it holds a coded slice (otherwise there is no frame to hand on). */
  vcl: boolean;
  /** The NALUs that stay in the frame, and their length-prefixed size. */
  nalus: Uint8Array[];
  size: number;
}

export function splitAccessUnit(data: Uint8Array, hevc: boolean, dropSei = false): AccessUnitParts {
  const nalus = splitAnnexB(data);
  const parts: AccessUnitParts = { keyframe: false, vcl: false, nalus, size: 0 };
  let kept = 0;
  for (let i = 0; i < nalus.length; i++) {
    const nalu = nalus[i]!;
    let keep = true;
    if (hevc) {
      const t = (nalu[0]! >> 1) & 0x3f;
      if (t === 32) (parts.vps ??= []).push(nalu), keep = false;
      else if (t === 33) (parts.sps ??= []).push(nalu), keep = false;
      else if (t === 34) (parts.pps ??= []).push(nalu), keep = false;
      else if (t === 35 || t === 38) keep = false; // AUD, filler
      else if ((t === 39 || t === 40) && dropSei) keep = false;
      else if (t < 32) {
        parts.vcl = true;
        if (t >= 16 && t <= 23) parts.keyframe = true;
      }
    } else {
      const t = nalu[0]! & 0x1f;
      if (t === 7) (parts.sps ??= []).push(nalu), keep = false;
      else if (t === 8) (parts.pps ??= []).push(nalu), keep = false;
      else if (t === 9 || t === 12) keep = false; // AUD, filler
      else if (t === 6 && dropSei) keep = false;
      else if (t >= 1 && t <= 5) {
        parts.vcl = true;
        if (t === 5) parts.keyframe = true;
      }
    }
    if (keep) {
      nalus[kept++] = nalu;
      parts.size += 4 + nalu.length;
    }
  }
  nalus.length = kept;
  return parts;
}

/** The kept NALUs, each behind its 4-byte big-endian length. */
export function lengthPrefixed(parts: AccessUnitParts): Uint8Array {
  const data = new Uint8Array(parts.size);
  let o = 0;
  for (const n of parts.nalus) {
    const l = n.length;
    data[o] = l >>> 24;
    data[o + 1] = (l >>> 16) & 0xff;
    data[o + 2] = (l >>> 8) & 0xff;
    data[o + 3] = l & 0xff;
    data.set(n, o + 4);
    o += 4 + l;
  }
  return data;
}

/** The parameter sets a video stream has seen, and whether its configuration record went out. */
export interface ParamSets {
  vps: Uint8Array[];
  sps: Uint8Array[];
  pps: Uint8Array[];
  configSent: boolean;
}

function equalLists(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
  }
  return true;
}

/**
 * Takes the parameter sets an access unit brought: returns the new decoder configuration record when the sets
 * changed (or none went out yet) and are complete (SPS + PPS, and VPS for H.265); undefined otherwise (sets
 * that arrive incomplete are kept until the rest comes). Throws when the sets cannot be read; `state` then keeps
 * what it had.
 */
export function updateParamSets(state: ParamSets, hevc: boolean, parts: Pick<AccessUnitParts, "vps" | "sps" | "pps">): Uint8Array | undefined {
  const { vps, sps, pps } = parts;
  const nextVps = vps ?? state.vps;
  const nextSps = sps ?? state.sps;
  const nextPps = pps ?? state.pps;
  if (state.configSent && equalLists(nextVps, state.vps) && equalLists(nextSps, state.sps) && equalLists(nextPps, state.pps)) return undefined;
  if (nextSps.length === 0 || nextPps.length === 0 || (hevc && nextVps.length === 0)) {
    if (vps) state.vps = vps.map((x) => x.slice());
    if (sps) state.sps = sps.map((x) => x.slice());
    if (pps) state.pps = pps.map((x) => x.slice());
    return undefined;
  }
  let record: Uint8Array;
  if (hevc) {
    parseHevcSps(nextSps[0]!);
    record = buildHevcConfig(nextVps, nextSps, nextPps);
  } else {
    parseAvcSps(nextSps[0]!);
    record = buildAvcConfig(nextSps, nextPps);
  }
  state.vps = nextVps === state.vps ? state.vps : nextVps.map((x) => x.slice());
  state.sps = nextSps === state.sps ? state.sps : nextSps.map((x) => x.slice());
  state.pps = nextPps === state.pps ? state.pps : nextPps.map((x) => x.slice());
  state.configSent = true;
  return record;
}
