/**
 * Progressive MP4 → MediaPackets, for stitching recordings (lib/services/dvr/stitch.ts): the tracks' sample
 * tables (ISO/IEC 14496-12 8.6-8.7: stts, ctts, stss, stsc, stsz, stco/co64) give each sample's offset, size,
 * decode and composition times and sync flag; the sample entries (8.5.2) give the codec configuration:
 * avc1/avc3 → avcC (ISO/IEC 14496-15 5.3.3), hvc1/hev1 → hvcC (8.3.3), mp4a → esds' DecoderSpecificInfo, the AAC
 * AudioSpecificConfig (ISO/IEC 14496-1 7.2.6.5-7.2.6.7). Sample payloads are as the packets carry them (length-
 * prefixed NALUs, raw AAC frames), so no bytes are rewritten. Other codecs' tracks are skipped.
 *
 * Fragmented files (moof) are not read: the DVR finalizes its MP4s into progressive ones.
 */
import type { MediaPacket } from "../../media/packet.ts";
import { type BoxHeader, childBoxes, findChild, Mp4Error } from "./boxes.ts";

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}

function body(h: BoxHeader): [number, number] {
  return [h.offset + h.headerSize, h.offset + h.size];
}

function need(b: Uint8Array, parent: BoxHeader, type: string, skip = 0): BoxHeader {
  const c = findChild(b, parent, type, skip);
  if (!c) throw new Mp4Error(`mp4: '${parent.type}' has no '${type}'`);
  return c;
}

/** A full box's entries start after version/flags (4) and the entry count (4). */
function entries(b: Uint8Array, h: BoxHeader): { n: number; at: number } {
  const [s] = body(h);
  return { n: u32(b, s + 4), at: s + 8 };
}

/** The expandable size of an MPEG-4 descriptor (ISO/IEC 14496-1 8.3.3): up to 4 bytes of 7 bits. */
function descriptor(b: Uint8Array, o: number, end: number): { tag: number; start: number; end: number } | undefined {
  if (o >= end) return undefined;
  const tag = b[o++]!;
  let size = 0;
  for (let i = 0; i < 4 && o < end; i++) {
    const c = b[o++]!;
    size = (size << 7) | (c & 0x7f);
    if (!(c & 0x80)) break;
  }
  return { tag, start: o, end: Math.min(end, o + size) };
}

/** The AudioSpecificConfig inside an esds box: ES_Descriptor (3) → DecoderConfigDescriptor (4) → DecSpecificInfo (5). */
function escConfig(b: Uint8Array, esds: BoxHeader): Uint8Array | undefined {
  const [s, e] = body(esds);
  const es = descriptor(b, s + 4, e);
  if (!es || es.tag !== 3) return undefined;
  let o = es.start + 2; // ES_ID
  const flags = b[o++]!;
  if (flags & 0x80) o += 2; // dependsOn_ES_ID
  if (flags & 0x40) o += 1 + b[o]!; // URL
  if (flags & 0x20) o += 2; // OCR_ES_Id
  const dc = descriptor(b, o, es.end);
  if (!dc || dc.tag !== 4) return undefined;
  const dsi = descriptor(b, dc.start + 13, dc.end);
  return dsi && dsi.tag === 5 ? b.slice(dsi.start, dsi.end) : undefined;
}

interface Track {
  kind: "video" | "audio";
  codec: "h264" | "h265" | "aac";
  config: Uint8Array;
  timescale: number;
  stbl: BoxHeader;
}

function track(b: Uint8Array, trak: BoxHeader): Track | undefined {
  const mdia = need(b, trak, "mdia");
  const mdhd = need(b, mdia, "mdhd");
  const [ms] = body(mdhd);
  const timescale = b[ms] === 1 ? u32(b, ms + 4 + 16) : u32(b, ms + 4 + 8);
  const hdlr = need(b, mdia, "hdlr");
  const handler = String.fromCharCode(...b.subarray(hdlr.offset + hdlr.headerSize + 8, hdlr.offset + hdlr.headerSize + 12));
  const stbl = need(b, need(b, mdia, "minf"), "stbl");
  const stsd = need(b, stbl, "stsd");
  const first = [...childBoxes(b, stsd.offset + stsd.headerSize + 8, stsd.offset + stsd.size)][0];
  if (!first || !(timescale > 0)) return undefined;
  if (handler === "vide" && ["avc1", "avc3", "hvc1", "hev1"].includes(first.type)) {
    const h265 = first.type === "hvc1" || first.type === "hev1";
    const cfg = findChild(b, first, h265 ? "hvcC" : "avcC", 78);
    if (!cfg) return undefined;
    return { kind: "video", codec: h265 ? "h265" : "h264", config: b.slice(...body(cfg)), timescale, stbl };
  }
  if (handler === "soun" && first.type === "mp4a") {
    const esds = findChild(b, first, "esds", 28);
    const asc = esds ? escConfig(b, esds) : undefined;
    if (!asc) return undefined;
    return { kind: "audio", codec: "aac", config: asc, timescale, stbl };
  }
  return undefined;
}

function samples(b: Uint8Array, t: Track): MediaPacket[] {
  const stbl = t.stbl;
  // sizes
  const stsz = need(b, stbl, "stsz");
  const [zs] = body(stsz);
  const fixed = u32(b, zs + 4);
  const count = u32(b, zs + 8);
  const size = (i: number) => (fixed ? fixed : u32(b, zs + 12 + 4 * i));
  // chunk offsets
  const co64 = findChild(b, stbl, "co64");
  const stco = co64 ?? need(b, stbl, "stco");
  const co = entries(b, stco);
  const chunkOffset = (i: number) => (co64 ? u32(b, co.at + 8 * i) * 2 ** 32 + u32(b, co.at + 8 * i + 4) : u32(b, co.at + 4 * i));
  // samples per chunk
  const stsc = entries(b, need(b, stbl, "stsc"));
  // times
  const stts = entries(b, need(b, stbl, "stts"));
  const cttsBox = findChild(b, stbl, "ctts");
  const ctts = cttsBox ? entries(b, cttsBox) : undefined;
  const cttsSigned = cttsBox ? b[cttsBox.offset + cttsBox.headerSize] === 1 : false;
  const stssBox = findChild(b, stbl, "stss");
  const sync = new Set<number>();
  if (stssBox) {
    const s = entries(b, stssBox);
    for (let i = 0; i < s.n; i++) sync.add(u32(b, s.at + 4 * i) - 1);
  }

  const out: MediaPacket[] = [];
  let dts = 0;
  let sttsIdx = 0;
  let sttsLeft = stts.n ? u32(b, stts.at) : 0;
  let cttsIdx = 0;
  let cttsLeft = ctts && ctts.n ? u32(b, ctts.at) : 0;
  let sample = 0;
  for (let e = 0; e < stsc.n && sample < count; e++) {
    const firstChunk = u32(b, stsc.at + 12 * e) - 1;
    const perChunk = u32(b, stsc.at + 12 * e + 4);
    const lastChunk = e + 1 < stsc.n ? u32(b, stsc.at + 12 * (e + 1)) - 1 : co.n;
    for (let c = firstChunk; c < lastChunk && sample < count; c++) {
      let off = chunkOffset(c);
      for (let k = 0; k < perChunk && sample < count; k++, sample++) {
        const len = size(sample);
        if (off + len > b.length) throw new Mp4Error(`mp4: sample ${sample} at ${off} runs past the file's end`);
        let cto = 0;
        if (ctts && cttsIdx < ctts.n) {
          const raw = u32(b, ctts.at + 8 * cttsIdx + 4);
          cto = cttsSigned ? raw | 0 : raw;
          if (--cttsLeft === 0 && ++cttsIdx < ctts.n) cttsLeft = u32(b, ctts.at + 8 * cttsIdx);
        }
        const ms = (v: number) => Math.round((v * 1000) / t.timescale);
        out.push({
          kind: t.kind, codec: t.codec, dts: ms(dts), pts: ms(dts + cto),
          keyframe: t.kind === "video" && (!stssBox || sync.has(sample)), config: false, data: b.subarray(off, off + len),
        });
        off += len;
        if (sttsIdx < stts.n) {
          dts += u32(b, stts.at + 8 * sttsIdx + 4);
          if (--sttsLeft === 0 && ++sttsIdx < stts.n) sttsLeft = u32(b, stts.at + 8 * sttsIdx);
        }
      }
    }
  }
  return out;
}

/**
 * The packets of a progressive MP4 file in `b`: each track's config packet first, then every sample in decode
 * order across tracks (by dts). Throws Mp4Error on a file without a readable moov.
 */
export function readMp4Packets(b: Uint8Array): MediaPacket[] {
  let moov: BoxHeader | undefined;
  for (const h of childBoxes(b, 0, b.length)) if (h.type === "moov") moov = h;
  if (!moov) throw new Mp4Error("mp4: no moov (a fragmented or unfinished file)");
  const configs: MediaPacket[] = [];
  const all: MediaPacket[] = [];
  for (const trak of childBoxes(b, ...body(moov))) {
    if (trak.type !== "trak") continue;
    const t = track(b, trak);
    if (!t) continue;
    configs.push({ kind: t.kind, codec: t.codec, dts: 0, pts: 0, keyframe: false, config: true, data: t.config });
    all.push(...samples(b, t));
  }
  all.sort((x, y) => x.dts - y.dts || (x.kind === y.kind ? 0 : x.kind === "video" ? -1 : 1));
  return [...configs, ...all];
}
