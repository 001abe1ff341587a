/**
 * A small MPEG-2 program stream muxer for tests (ISO/IEC 13818-1 2.5.3 pack/system header, 2.5.4 PSM, 2.4.3.6 PES),
 * shaped like GB28181 cameras' output: every frame starts with a pack header, keyframes also carry a system
 * header and a PSM, and one frame is split over several PES (the first with PTS/DTS). FFmpeg's `-f mpeg` muxer
 * cannot carry AAC or G.711 and writes no PSM, so the GB28181 shapes are made here.
 */
import { readFileSync } from "node:fs";
import { crc32Mpeg2 } from "../../lib/formats/mpegts-crc.ts";
import { demuxTs } from "../../lib/formats/mpegts-demux.ts";
import { buildAdtsHeader, parseAudioSpecificConfig } from "../../lib/media/aac.ts";
import { avccToAnnexB, parseAvcConfig } from "../../lib/media/avc.ts";
import { parseHevcConfig } from "../../lib/media/hevc.ts";
import type { MediaPacket } from "../../lib/media/packet.ts";
import { type ClipName, clip } from "./media.ts";

export interface PsEsUnit {
  streamId: number;
  /** 90 kHz ticks; NaN for none. */
  pts: number;
  dts: number;
  data: Uint8Array;
  keyframe?: boolean;
}

function ts5(prefix: number, t: number): number[] {
  const v = t % 8589934592;
  const hi = Math.floor(v / 1073741824) & 7;
  const lo = v % 1073741824; // 30 bits
  return [
    (prefix << 4) | (hi << 1) | 1,
    (lo >>> 22) & 0xff,
    (((lo >>> 15) & 0x7f) << 1) | 1,
    (lo >>> 7) & 0xff,
    ((lo & 0x7f) << 1) | 1,
  ];
}

export function packHeader(scr: number, muxRate = 6106): Uint8Array {
  const v = scr % 8589934592;
  const hi = Math.floor(v / 1073741824) & 7;
  const lo = v % 1073741824;
  return Uint8Array.from([
    0, 0, 1, 0xba,
    0x40 | (hi << 3) | 4 | ((lo >>> 28) & 3),
    (lo >>> 20) & 0xff,
    (((lo >>> 15) & 0x1f) << 3) | 4 | ((lo >>> 13) & 3),
    (lo >>> 5) & 0xff,
    ((lo & 0x1f) << 3) | 4, // SCR_ext high bits 0
    1,
    (muxRate >>> 14) & 0xff, (muxRate >>> 6) & 0xff, ((muxRate & 0x3f) << 2) | 3,
    0xf8, // reserved, no stuffing
  ]);
}

export function systemHeader(streamIds: number[]): Uint8Array {
  const body = [0x80, 0x01, 0x01, 0x04, 0xe1, 0xff];
  for (const id of streamIds) body.push(id, id >= 0xe0 ? 0xe0 : 0xc0, id >= 0xe0 ? 0x80 : 0x20);
  return Uint8Array.from([0, 0, 1, 0xbb, body.length >> 8, body.length & 0xff, ...body]);
}

export function programStreamMap(entries: { streamType: number; streamId: number }[], version = 0): Uint8Array {
  const es: number[] = [];
  for (const e of entries) es.push(e.streamType, e.streamId, 0, 0);
  const body = [0x80 | (version & 0x1f), 0x01, 0, 0, es.length >> 8, es.length & 0xff, ...es];
  const len = body.length + 4;
  const out = Uint8Array.from([0, 0, 1, 0xbc, len >> 8, len & 0xff, ...body, 0, 0, 0, 0]);
  const crc = crc32Mpeg2(out, 0, out.length - 4);
  new DataView(out.buffer).setUint32(out.length - 4, crc >>> 0);
  return out;
}

/** One PES packet (MPEG-2 header); `zeroLength` writes PES_packet_length 0 (unbounded). */
export function pesPacket(streamId: number, payload: Uint8Array, pts = Number.NaN, dts = Number.NaN, zeroLength = false): Uint8Array {
  const hdr: number[] = [];
  let flags = 0;
  if (!Number.isNaN(pts)) {
    if (!Number.isNaN(dts) && dts !== pts) {
      flags = 0xc0;
      hdr.push(...ts5(3, pts), ...ts5(1, dts));
    } else {
      flags = 0x80;
      hdr.push(...ts5(2, pts));
    }
  }
  const len = 3 + hdr.length + payload.length;
  if (len > 65535 && !zeroLength) throw new Error(`PES of ${len} bytes`);
  const out = new Uint8Array(6 + len);
  out.set([0, 0, 1, streamId, zeroLength ? 0 : len >> 8, zeroLength ? 0 : len & 0xff, 0x80, flags, hdr.length, ...hdr]);
  out.set(payload, 9 + hdr.length);
  return out;
}

export interface GbMuxOptions {
  /** PSM entries (written before each keyframe); none for no PSM. */
  psm?: { streamType: number; streamId: number }[];
  /** Largest PES payload: a frame is split over several PES. */
  maxPesPayload?: number;
  /** Write video PES with PES_packet_length 0. */
  zeroLengthVideo?: boolean;
}

/** Muxes units (in order) the GB28181 way; returns the program stream bytes. */
export function muxGb(units: PsEsUnit[], o: GbMuxOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const max = o.maxPesPayload ?? 8000;
  const ids = [...new Set(units.map((u) => u.streamId))];
  for (const u of units) {
    const video = u.streamId >= 0xe0;
    if (video || parts.length === 0) parts.push(packHeader(Number.isNaN(u.dts) ? 0 : Math.max(0, u.dts - 3600)));
    if (u.keyframe || parts.length === 1) {
      parts.push(systemHeader(ids));
      if (o.psm) parts.push(programStreamMap(o.psm));
    }
    for (let off = 0, first = true; off < u.data.length || first; off += max, first = false) {
      const piece = u.data.subarray(off, Math.min(u.data.length, off + max));
      parts.push(pesPacket(u.streamId, piece, first ? u.pts : Number.NaN, first ? u.dts : Number.NaN, video && o.zeroLengthVideo === true));
    }
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** MediaPackets (TS demuxer output) as elementary-stream units: Annex-B with parameter sets on keyframes, ADTS. */
export function esUnits(packets: MediaPacket[]): PsEsUnit[] {
  const units: PsEsUnit[] = [];
  let params: Uint8Array[] = [];
  let asc: ReturnType<typeof parseAudioSpecificConfig> | undefined;
  for (const p of packets) {
    if (p.kind === "video" && p.config) {
      const c = p.codec === "h265" ? parseHevcConfig(p.data) : parseAvcConfig(p.data);
      params = [...("vps" in c ? c.vps : []), ...c.sps, ...c.pps];
    } else if (p.kind === "video") {
      units.push({ streamId: 0xe0, pts: p.pts * 90, dts: p.dts * 90, keyframe: p.keyframe, data: avccToAnnexB(p.data, 4, p.keyframe ? params : undefined) });
    } else if (p.kind === "audio" && p.config) asc = parseAudioSpecificConfig(p.data);
    else if (p.kind === "audio" && asc) {
      const h = buildAdtsHeader(asc, p.data.length);
      const d = new Uint8Array(h.length + p.data.length);
      d.set(h);
      d.set(p.data, h.length);
      units.push({ streamId: 0xc0, pts: p.pts * 90, dts: p.pts * 90, data: d });
    }
  }
  return units;
}

/** The first `seconds` of a TS clip as a GB28181-shaped program stream (PSM, frames split over 1400-byte PES). */
export function gbPsFromClip(name: ClipName, seconds: number, opts: GbMuxOptions = {}): { ps: Uint8Array; source: MediaPacket[] } {
  const source = demuxTs(readFileSync(clip(name))).filter((p) => p.dts <= seconds * 1000);
  const videoType = source.some((p) => p.codec === "h265") ? 0x24 : 0x1b;
  const ps = muxGb(esUnits(source), {
    psm: [{ streamType: videoType, streamId: 0xe0 }, { streamType: 0x0f, streamId: 0xc0 }], maxPesPayload: 1400, ...opts,
  });
  return { ps, source };
}
