/**
 * Media fragments: 'moof' (mfhd, then per track a 'traf' with tfhd/tfdt/trun, ISO 14496-12 8.8.4-8.8.12)
 * followed by one 'mdat' holding the runs' sample data in traf order. tfhd uses default-base-is-moof, so
 * every trun data_offset is relative to the moof start and a fragment is self-contained (what CMAF, fMP4 HLS
 * and DASH expect). trun is version 0 unless a composition offset is negative (version 1, signed).
 */
import { BoxWriter } from "./boxes.ts";
import type { Mp4Track } from "./track.ts";

export interface FragmentSample {
  /** Duration in the track's timescale. */
  duration: number;
  /** Composition offset (pts - dts) in the track's timescale. */
  cto: number;
  sync: boolean;
  data: Uint8Array;
}

export interface TrackRun {
  track: Mp4Track;
  /** Decode time of the first sample, in the track's timescale (tfdt). */
  baseDts: number;
  samples: FragmentSample[];
}

/** sample_flags (8.8.3.1): a sync sample depends on nothing; others depend on others and are non-sync. */
export const SAMPLE_FLAGS_SYNC = 0x02000000;
export const SAMPLE_FLAGS_NON_SYNC = 0x01010000;

const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_CTO = 0x000800;

/** moof + mdat for the given runs (runs without samples are skipped), in one buffer. */
export function encodeFragment(sequence: number, runs: readonly TrackRun[]): Uint8Array {
  const parts = encodeFragmentParts(sequence, runs);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * moof + mdat as a list of buffers (moof and the mdat header, then the samples' own bytes, not copied):
 * ready for a vectored write.
 */
export function encodeFragmentParts(sequence: number, runs: readonly TrackRun[]): Uint8Array[] {
  const used = runs.filter((r) => r.samples.length > 0);
  let dataSize = 0;
  for (const r of used) for (const s of r.samples) dataSize += s.data.length;
  const w = new BoxWriter(256 + used.reduce((n, r) => n + r.samples.length * 16, 0));
  const moof = w.start("moof");
  const mfhd = w.startFull("mfhd", 0, 0);
  w.u32(sequence);
  w.end(mfhd);
  const offsetFields: number[] = [];
  for (const r of used) {
    const traf = w.start("traf");
    const tfhd = w.startFull("tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
    w.u32(r.track.id);
    w.end(tfhd);
    const tfdt = w.startFull("tfdt", 1, 0);
    w.u64(r.baseDts);
    w.end(tfdt);
    const withCto = r.samples.some((s) => s.cto !== 0);
    const negative = r.samples.some((s) => s.cto < 0);
    const flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | (withCto ? TRUN_CTO : 0);
    const trun = w.startFull("trun", negative ? 1 : 0, flags);
    w.u32(r.samples.length);
    offsetFields.push(w.pos);
    w.i32(0);
    for (const s of r.samples) {
      w.u32(s.duration).u32(s.data.length).u32(s.sync ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC);
      if (withCto) {
        if (negative) w.i32(s.cto);
        else w.u32(s.cto);
      }
    }
    w.end(trun);
    w.end(traf);
  }
  w.end(moof);
  const moofSize = w.pos - moof;
  let dataOffset = moofSize + 8;
  used.forEach((r, i) => {
    w.patchI32(offsetFields[i]!, dataOffset);
    for (const s of r.samples) dataOffset += s.data.length;
  });
  w.u32(8 + dataSize).fourcc("mdat");
  const parts = [w.finish()];
  for (const r of used) for (const s of r.samples) parts.push(s.data);
  return parts;
}
