/**
 * Fragmented MP4 file -> progressive MP4, in place.
 *
 * Why a recording is written fragmented and then finalized (rather than buffering sample tables and writing
 * one moov at the end, or keeping fMP4): while recording, the file is `ftyp + moov(mvex) + (moof + mdat)*`,
 * each fragment appended with one write, so a process killed mid-recording leaves a file that plays up to its
 * last complete fragment, and memory stays bounded (no sample tables are held). On close, players and editors
 * that expect a classic MP4 (seeking via stss/stco without scanning every moof, browsers' progressive
 * download) get one: the finalizer
 *  1. walks the top-level boxes, dropping a trailing incomplete fragment (truncate);
 *  2. reads only the moof boxes (a few hundred bytes per fragment) and builds stts/ctts/stss/stsc/stsz/stco
 *     (co64 past 4 GiB) whose chunk offsets point at the sample data where it already is, in the mdat boxes;
 *  3. appends that progressive moov at the end of the file;
 *  4. turns the init moov and every moof into 'free' boxes (a 4-byte type overwrite each) and rewrites the
 *     ftyp brands (same size).
 * No sample byte is copied: finalizing costs O(fragments) small reads and writes, not O(file size). The result
 * is `ftyp free (free mdat)* moov` — a valid ISO 14496-12 file, moov at the end as most recorders write it.
 */
import type { FileHandle } from "node:fs/promises";
import { childBoxes, fourccString, Mp4Error, readBoxHeader } from "./boxes.ts";
import { encodeFtyp, encodeProgressiveMoov, PROGRESSIVE_BRANDS, type SampleTable } from "./moov.ts";
import type { Mp4Track } from "./track.ts";

/** Positional file access (a FileHandle, or memory in tests). */
export interface RandomAccessFile {
  size(): Promise<number>;
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
}

export function fileHandleAccess(h: FileHandle): RandomAccessFile {
  return {
    size: async () => (await h.stat()).size,
    read: async (offset, length) => {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await h.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    write: async (offset, data) => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await h.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    },
    truncate: (length) => h.truncate(length),
  };
}

/** An in-memory file (tests, small files). `bytes()` is the current content. */
export function memoryAccess(initial: Uint8Array): RandomAccessFile & { bytes(): Uint8Array } {
  let buf = initial.slice();
  return {
    bytes: () => buf,
    size: () => Promise.resolve(buf.length),
    read: (offset, length) => Promise.resolve(buf.slice(offset, Math.min(buf.length, offset + length))),
    write: (offset, data) => {
      if (offset + data.length > buf.length) {
        const next = new Uint8Array(offset + data.length);
        next.set(buf);
        buf = next;
      }
      buf.set(data, offset);
      return Promise.resolve();
    },
    truncate: (length) => {
      buf = buf.slice(0, length);
      return Promise.resolve();
    },
  };
}

export interface FinalizeResult {
  fragments: number;
  samples: number;
  /** Movie duration, ms. */
  durationMs: number;
  /** Bytes of an incomplete trailing fragment that were cut off. */
  truncated: number;
  size: number;
}

interface TopBox {
  type: string;
  offset: number;
  size: number;
}

const TFHD_BASE_DATA_OFFSET = 0x000001;
const TFHD_SDI = 0x000002;
const TFHD_DEFAULT_DURATION = 0x000008;
const TFHD_DEFAULT_SIZE = 0x000010;
const TFHD_DEFAULT_FLAGS = 0x000020;
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_FIRST_FLAGS = 0x000004;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_CTO = 0x000800;
const NON_SYNC = 0x00010000;

interface Building extends SampleTable {
  /** Decode time expected for the next sample (to turn tfdt gaps into longer durations). */
  nextDts: number;
  started: boolean;
}

function newTable(): Building {
  return { sizes: [], durations: [], ctos: [], syncs: [], chunks: [], firstDts: 0, nextDts: 0, started: false };
}

/** Adds the samples of one moof (bytes of the whole box, at `moofOffset` in the file) to the tables. */
export function indexMoof(moof: Uint8Array, moofOffset: number, tables: Map<number, Building>): void {
  const dv = new DataView(moof.buffer, moof.byteOffset, moof.byteLength);
  const root = readBoxHeader(moof, 0);
  if (!root || root.type !== "moof") throw new Mp4Error("not a moof");
  for (const traf of childBoxes(moof, root.headerSize, root.size)) {
    if (traf.type !== "traf") continue;
    let trackId = 0;
    let base = moofOffset;
    let defDuration = 0;
    let defSize = 0;
    let defFlags = 0;
    let baseDts: number | undefined;
    let dataPos = -1;
    const trafEnd = traf.offset + traf.size;
    for (const c of childBoxes(moof, traf.offset + traf.headerSize, trafEnd)) {
      let o = c.offset + c.headerSize;
      const version = moof[o]!;
      const flags = dv.getUint32(o) & 0xffffff;
      o += 4;
      if (c.type === "tfhd") {
        trackId = dv.getUint32(o);
        o += 4;
        if (flags & TFHD_BASE_DATA_OFFSET) {
          base = dv.getUint32(o) * 0x100000000 + dv.getUint32(o + 4);
          o += 8;
        }
        if (flags & TFHD_SDI) o += 4;
        if (flags & TFHD_DEFAULT_DURATION) (defDuration = dv.getUint32(o)), (o += 4);
        if (flags & TFHD_DEFAULT_SIZE) (defSize = dv.getUint32(o)), (o += 4);
        if (flags & TFHD_DEFAULT_FLAGS) (defFlags = dv.getUint32(o)), (o += 4);
      } else if (c.type === "tfdt") {
        baseDts = version === 1 ? dv.getUint32(o) * 0x100000000 + dv.getUint32(o + 4) : dv.getUint32(o);
      } else if (c.type === "trun") {
        let t = tables.get(trackId);
        if (!t) {
          t = newTable();
          tables.set(trackId, t);
        }
        const count = dv.getUint32(o);
        o += 4;
        if (flags & TRUN_DATA_OFFSET) {
          dataPos = base + dv.getInt32(o);
          o += 4;
        } else if (dataPos < 0) dataPos = base;
        let firstFlags: number | undefined;
        if (flags & TRUN_FIRST_FLAGS) (firstFlags = dv.getUint32(o)), (o += 4);
        if (baseDts !== undefined) {
          if (!t.started) {
            t.firstDts = baseDts;
            t.nextDts = baseDts;
          } else if (baseDts > t.nextDts && t.durations.length > 0) {
            t.durations[t.durations.length - 1]! += baseDts - t.nextDts; // a gap: stretch the previous sample
            t.nextDts = baseDts;
          }
          baseDts = undefined;
        }
        t.started = true;
        if (count > 0) t.chunks.push({ offset: dataPos, count });
        for (let i = 0; i < count; i++) {
          const duration = flags & TRUN_DURATION ? dv.getUint32((o += 4) - 4) : defDuration;
          const size = flags & TRUN_SIZE ? dv.getUint32((o += 4) - 4) : defSize;
          let sflags = flags & TRUN_FLAGS ? dv.getUint32((o += 4) - 4) : defFlags;
          if (i === 0 && firstFlags !== undefined) sflags = firstFlags;
          let cto = 0;
          if (flags & TRUN_CTO) {
            cto = version === 0 ? dv.getUint32(o) : dv.getInt32(o);
            o += 4;
          }
          if (o > trafEnd) throw new Mp4Error("trun overruns its traf");
          t.sizes.push(size);
          t.durations.push(duration);
          t.ctos.push(cto);
          t.syncs.push((sflags & NON_SYNC) === 0);
          t.nextDts += duration;
          dataPos += size;
        }
      }
    }
  }
}

/**
 * Finalizes a fragmented MP4 written by FragmentedMp4Muxer (see the file comment). `tracks` are the muxer's
 * tracks (their sample entries go into the new moov).
 */
export async function finalizeFragmentedMp4(io: RandomAccessFile, tracks: readonly Mp4Track[]): Promise<FinalizeResult> {
  const fileSize = await io.size();
  const boxes: TopBox[] = [];
  let off = 0;
  let end = 0;
  while (off < fileSize) {
    const head = await io.read(off, 16);
    const h = readBoxHeader(head, 0);
    if (!h || off + h.size > fileSize) break;
    boxes.push({ type: h.type, offset: off, size: h.size });
    off += h.size;
  }
  // Complete fragments only: a moof must be followed by its mdat.
  const ftyp = boxes.find((b) => b.type === "ftyp");
  const initMoov = boxes.find((b) => b.type === "moov");
  if (!ftyp || !initMoov) throw new Mp4Error("not a fragmented MP4 (no ftyp/moov)");
  end = initMoov.offset + initMoov.size;
  const tables = new Map<number, Building>();
  const moofs: TopBox[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i]!;
    if (b.type !== "moof") {
      if (b.type !== "mdat") end = Math.max(end, b.offset + b.size);
      continue;
    }
    const mdat = boxes[i + 1];
    if (!mdat || mdat.type !== "mdat") break;
    indexMoof(await io.read(b.offset, b.size), b.offset, tables);
    moofs.push(b);
    end = mdat.offset + mdat.size;
    i++;
  }
  const truncated = fileSize - end;
  if (truncated > 0) await io.truncate(end);
  const moov = encodeProgressiveMoov(tracks, tables);
  await io.write(end, moov);
  // The new moov is on disk; now hide the fragmented structure.
  const free = Uint8Array.of(0x66, 0x72, 0x65, 0x65);
  const ftypBytes = encodeFtyp(PROGRESSIVE_BRANDS);
  if (ftypBytes.length === ftyp.size) await io.write(ftyp.offset, ftypBytes);
  await io.write(initMoov.offset + 4, free);
  for (const m of moofs) await io.write(m.offset + 4, free);
  let samples = 0;
  let durationMs = 0;
  for (const t of tracks) {
    const s = tables.get(t.id);
    if (!s) continue;
    samples += s.sizes.length;
    durationMs = Math.max(durationMs, (s.durations.reduce((a, b) => a + b, 0) * 1000) / t.timescale);
  }
  return { fragments: moofs.length, samples, durationMs, truncated, size: end + moov.length };
}

/** The top-level box types of an MP4 buffer (tests, diagnostics). */
export function topLevelTypes(b: Uint8Array): string[] {
  const out: string[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const h = readBoxHeader(b, off);
    if (!h) break;
    out.push(fourccString(b, off + 4));
    off += h.size;
  }
  return out;
}
