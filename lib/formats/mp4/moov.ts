/**
 * 'ftyp' and 'moov' (ISO 14496-12 4.3, 8.2-8.7), for both shapes this muxer writes:
 *  - fragmented (init segment): empty sample tables + 'mvex'/'trex' (8.8), samples follow in moof/mdat;
 *  - progressive: full sample tables built from SampleTables ('stts' 8.6.1.2, 'ctts' 8.6.1.3 version 0 when
 *    every offset is >= 0, else version 1 signed, 'stss' 8.6.2, 'stsc' 8.7.4, 'stsz' 8.7.3, 'stco'/'co64'
 *    8.7.5 — co64 only when an offset does not fit 32 bits), an edit list when a track starts after the
 *    earliest one (an empty edit keeps A/V sync of tracks that start at different times).
 */
import { BoxWriter } from "./boxes.ts";
import type { Mp4Track } from "./track.ts";

/** Movie timescale (mvhd, tkhd, elst): milliseconds. */
export const MOVIE_TIMESCALE = 1000;

/** Brands of a fragmented file (init segment) and of a progressive one: the same count, so the same size. */
export const FRAGMENTED_BRANDS = { major: "iso5", compatible: ["iso5", "iso6", "isom", "mp41"] };
export const PROGRESSIVE_BRANDS = { major: "isom", compatible: ["isom", "iso2", "mp41", "mp42"] };

export function encodeFtyp(brands: { major: string; compatible: string[] }): Uint8Array {
  const w = new BoxWriter(48);
  const at = w.start("ftyp");
  w.fourcc(brands.major).u32(512);
  for (const b of brands.compatible) w.fourcc(b);
  w.end(at);
  return w.finish();
}

/** One track's samples for a progressive moov (parallel arrays, decode order). */
export interface SampleTable {
  sizes: number[];
  /** Sample durations in the track's timescale. */
  durations: number[];
  /** Composition offsets (pts - dts) in the track's timescale. */
  ctos: number[];
  /** Sync (random access) samples. */
  syncs: boolean[];
  /** Chunks in file order: absolute file offset of the first sample and the number of samples. */
  chunks: { offset: number; count: number }[];
  /** Decode time of the first sample, in the track's timescale. */
  firstDts: number;
}

const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

function u32Fits(v: number): boolean {
  return v >= 0 && v <= 0xffffffff;
}

function writeMvhd(w: BoxWriter, durationMs: number, nextTrackId: number): void {
  const v1 = !u32Fits(durationMs);
  const at = w.startFull("mvhd", v1 ? 1 : 0, 0);
  if (v1) w.u64(0).u64(0).u32(MOVIE_TIMESCALE).u64(durationMs);
  else w.u32(0).u32(0).u32(MOVIE_TIMESCALE).u32(durationMs);
  w.u32(0x00010000).u16(0x0100).zeros(10); // rate 1.0, volume 1.0, reserved
  for (const m of MATRIX) w.u32(m);
  w.zeros(24).u32(nextTrackId); // pre_defined, next_track_ID
  w.end(at);
}

function writeTkhd(w: BoxWriter, t: Mp4Track, durationMs: number): void {
  const v1 = !u32Fits(durationMs);
  const at = w.startFull("tkhd", v1 ? 1 : 0, 0x000003); // enabled, in movie
  if (v1) w.u64(0).u64(0).u32(t.id).u32(0).u64(durationMs);
  else w.u32(0).u32(0).u32(t.id).u32(0).u32(durationMs);
  w.zeros(8).u16(0).u16(0); // reserved, layer, alternate_group
  w.u16(t.kind === "audio" ? 0x0100 : 0).u16(0); // volume, reserved
  for (const m of MATRIX) w.u32(m);
  w.u32(t.width * 0x10000).u32(t.height * 0x10000);
  w.end(at);
}

function writeMdhd(w: BoxWriter, t: Mp4Track, duration: number): void {
  const v1 = !u32Fits(duration);
  const at = w.startFull("mdhd", v1 ? 1 : 0, 0);
  if (v1) w.u64(0).u64(0).u32(t.timescale).u64(duration);
  else w.u32(0).u32(0).u32(t.timescale).u32(duration);
  w.u16(0x55c4).u16(0); // language "und", pre_defined
  w.end(at);
}

function writeHdlr(w: BoxWriter, t: Mp4Track): void {
  const at = w.startFull("hdlr", 0, 0);
  w.u32(0).fourcc(t.kind === "video" ? "vide" : "soun").zeros(12).cstring(t.handlerName);
  w.end(at);
}

function writeEmptyTables(w: BoxWriter): void {
  for (const type of ["stts", "stsc"]) {
    const at = w.startFull(type, 0, 0);
    w.u32(0);
    w.end(at);
  }
  const sz = w.startFull("stsz", 0, 0);
  w.u32(0).u32(0);
  w.end(sz);
  const co = w.startFull("stco", 0, 0);
  w.u32(0);
  w.end(co);
}

function writeTables(w: BoxWriter, t: Mp4Track, s: SampleTable): void {
  const n = s.sizes.length;
  // stts: runs of equal durations
  {
    const at = w.startFull("stts", 0, 0);
    const countAt = w.pos;
    w.u32(0);
    let entries = 0;
    for (let i = 0; i < n;) {
      let j = i + 1;
      while (j < n && s.durations[j] === s.durations[i]) j++;
      w.u32(j - i).u32(s.durations[i]!);
      entries++;
      i = j;
    }
    w.patchU32(countAt, entries);
    w.end(at);
  }
  // ctts: only when some sample has a composition offset
  if (s.ctos.some((c) => c !== 0)) {
    const negative = s.ctos.some((c) => c < 0);
    const at = w.startFull("ctts", negative ? 1 : 0, 0);
    const countAt = w.pos;
    w.u32(0);
    let entries = 0;
    for (let i = 0; i < n;) {
      let j = i + 1;
      while (j < n && s.ctos[j] === s.ctos[i]) j++;
      w.u32(j - i);
      if (negative) w.i32(s.ctos[i]!);
      else w.u32(s.ctos[i]!);
      entries++;
      i = j;
    }
    w.patchU32(countAt, entries);
    w.end(at);
  }
  // stss: absent means every sample is a sync sample
  if (t.kind === "video" && s.syncs.some((x) => !x)) {
    const at = w.startFull("stss", 0, 0);
    const countAt = w.pos;
    w.u32(0);
    let entries = 0;
    for (let i = 0; i < n; i++) {
      if (s.syncs[i]) {
        w.u32(i + 1);
        entries++;
      }
    }
    w.patchU32(countAt, entries);
    w.end(at);
  }
  // stsc: runs of chunks with the same sample count
  {
    const at = w.startFull("stsc", 0, 0);
    const countAt = w.pos;
    w.u32(0);
    let entries = 0;
    let prev = -1;
    s.chunks.forEach((c, i) => {
      if (c.count !== prev) {
        w.u32(i + 1).u32(c.count).u32(1);
        entries++;
        prev = c.count;
      }
    });
    w.patchU32(countAt, entries);
    w.end(at);
  }
  // stsz
  {
    const at = w.startFull("stsz", 0, 0);
    const same = n > 0 && s.sizes.every((x) => x === s.sizes[0]);
    if (same) w.u32(s.sizes[0]!).u32(n);
    else {
      w.u32(0).u32(n);
      for (const x of s.sizes) w.u32(x);
    }
    w.end(at);
  }
  // stco / co64
  {
    const large = s.chunks.some((c) => !u32Fits(c.offset));
    const at = w.startFull(large ? "co64" : "stco", 0, 0);
    w.u32(s.chunks.length);
    for (const c of s.chunks) {
      if (large) w.u64(c.offset);
      else w.u32(c.offset);
    }
    w.end(at);
  }
}

function writeTrak(w: BoxWriter, t: Mp4Track, table: SampleTable | undefined, movieStart: number): void {
  const mediaDuration = table ? table.durations.reduce((a, b) => a + b, 0) : 0;
  const mediaMs = Math.round((mediaDuration * MOVIE_TIMESCALE) / t.timescale);
  // When the track starts after the earliest track of the movie: an empty edit first (ISO 14496-12 8.6.6).
  const startMs = table ? Math.round((table.firstDts * MOVIE_TIMESCALE) / t.timescale) - movieStart : 0;
  const trak = w.start("trak");
  writeTkhd(w, t, mediaMs + Math.max(0, startMs));
  if (table && startMs > 0) {
    const edts = w.start("edts");
    const elst = w.startFull("elst", 0, 0);
    w.u32(2);
    w.u32(startMs).i32(-1).u16(1).u16(0);
    w.u32(mediaMs).i32(0).u16(1).u16(0);
    w.end(elst);
    w.end(edts);
  }
  const mdia = w.start("mdia");
  writeMdhd(w, t, mediaDuration);
  writeHdlr(w, t);
  const minf = w.start("minf");
  if (t.kind === "video") {
    const at = w.startFull("vmhd", 0, 1);
    w.u16(0).u16(0).u16(0).u16(0);
    w.end(at);
  } else {
    const at = w.startFull("smhd", 0, 0);
    w.u16(0).u16(0);
    w.end(at);
  }
  const dinf = w.start("dinf");
  const dref = w.startFull("dref", 0, 0);
  w.u32(1);
  const url = w.startFull("url ", 0, 1); // media in the same file
  w.end(url);
  w.end(dref);
  w.end(dinf);
  const stbl = w.start("stbl");
  const stsd = w.startFull("stsd", 0, 0);
  w.u32(1).bytes(t.sampleEntry);
  w.end(stsd);
  if (table) writeTables(w, t, table);
  else writeEmptyTables(w);
  w.end(stbl);
  w.end(minf);
  w.end(mdia);
  w.end(trak);
}

/** The moov of an init segment: tracks with empty sample tables and an mvex with one trex per track. */
export function encodeFragmentedMoov(tracks: readonly Mp4Track[]): Uint8Array {
  const w = new BoxWriter(1024);
  const moov = w.start("moov");
  writeMvhd(w, 0, tracks.reduce((m, t) => Math.max(m, t.id), 0) + 1);
  for (const t of tracks) writeTrak(w, t, undefined, 0);
  const mvex = w.start("mvex");
  for (const t of tracks) {
    const trex = w.startFull("trex", 0, 0);
    w.u32(t.id).u32(1).u32(0).u32(0).u32(0); // default description 1, duration, size, flags
    w.end(trex);
  }
  w.end(mvex);
  w.end(moov);
  return w.finish();
}

/** An init segment: ftyp + moov(mvex). For fMP4 HLS/DASH and the first bytes of a recording. */
export function encodeInitSegment(tracks: readonly Mp4Track[]): Uint8Array {
  const ftyp = encodeFtyp(FRAGMENTED_BRANDS);
  const moov = encodeFragmentedMoov(tracks);
  const out = new Uint8Array(ftyp.length + moov.length);
  out.set(ftyp);
  out.set(moov, ftyp.length);
  return out;
}

/** A progressive moov with complete sample tables (tracks without a table are left out). */
export function encodeProgressiveMoov(tracks: readonly Mp4Track[], tables: ReadonlyMap<number, SampleTable>): Uint8Array {
  const present = tracks.filter((t) => (tables.get(t.id)?.sizes.length ?? 0) > 0);
  let movieStart = Infinity;
  for (const t of present) movieStart = Math.min(movieStart, Math.round((tables.get(t.id)!.firstDts * MOVIE_TIMESCALE) / t.timescale));
  if (!Number.isFinite(movieStart)) movieStart = 0;
  let movieDuration = 0;
  for (const t of present) {
    const s = tables.get(t.id)!;
    const end = Math.round(((s.firstDts + s.durations.reduce((a, b) => a + b, 0)) * MOVIE_TIMESCALE) / t.timescale);
    movieDuration = Math.max(movieDuration, end - movieStart);
  }
  const w = new BoxWriter(4096);
  const moov = w.start("moov");
  writeMvhd(w, movieDuration, tracks.reduce((m, t) => Math.max(m, t.id), 0) + 1);
  for (const t of present) writeTrak(w, t, tables.get(t.id), movieStart);
  w.end(moov);
  return w.finish();
}
