/**
 * A time range of a stream's recordings as one MP4, without re-encoding (GET /api/v1/recordings/range, as
 * MediaMTX's playback server): the DVR files that overlap [start, start + duration) are read in order, their
 * packets placed on the wall clock (file start + timestamp offset), cut from the last video keyframe at or before
 * `start` (so the result starts decodable) to `start + duration`, and muxed into a progressive MP4 (the DVR's own
 * fragmented muxer, then finalized in memory: lib/formats/mp4).
 *
 * Inputs: FLV and (progressive, finalized) MP4 recordings, read by lib/formats/flv.ts and lib/formats/mp4/reader.ts.
 * Memory is bounded by MAX_INPUT_BYTES of recordings per request.
 */
import { Buffer } from "node:buffer";
import { readFileSync, statSync } from "node:fs";
import { FlvDemuxer } from "../../formats/flv.ts";
import { finalizeFragmentedMp4, memoryAccess } from "../../formats/mp4/finalize.ts";
import { FragmentedMp4Muxer } from "../../formats/mp4/muxer.ts";
import type { Mp4Track } from "../../formats/mp4/track.ts";
import { readMp4Packets } from "../../formats/mp4/reader.ts";
import { flvTagToPacket } from "../../media/flv-codec.ts";
import type { MediaPacket } from "../../media/packet.ts";
import type { Recording } from "./recordings.ts";

export const MAX_INPUT_BYTES = 512 * 1024 * 1024;
/** The longest range served (the output is built in memory). */
export const MAX_RANGE_S = 4 * 3600;

/** A file opened within this of where the previous one's media ends continues it. */
const CONTINUE_MS = 2000;

export class StitchError extends Error {}

interface Timed {
  p: MediaPacket;
  /** Wall-clock ms of the packet's dts. */
  wall: number;
}

/** The media packets of an FLV recording (a truncated last tag is ignored: a file cut by a crash still counts). */
function flvPackets(path: string): MediaPacket[] {
  const d = new FlvDemuxer();
  const out: MediaPacket[] = [];
  for (const t of d.push(readFileSync(path))) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) out.push(p);
  }
  return out;
}

export interface StitchResult {
  mp4: Uint8Array;
  /** Media duration of the result, ms. */
  durationMs: number;
  /** The recordings it was cut from. */
  files: Recording[];
}

/** The recordings (any order) overlapping [startMs, startMs + durationMs). */
export function overlapping(recs: readonly Recording[], startMs: number, durationMs: number): Recording[] {
  const end = startMs + durationMs;
  return recs
    .filter((r) => r.start < end && r.start + r.duration * 1000 > startMs)
    .sort((a, b) => a.start - b.start);
}

export async function stitchRange(recs: readonly Recording[], startMs: number, durationMs: number): Promise<StitchResult> {
  if (!(durationMs > 0) || durationMs > MAX_RANGE_S * 1000) throw new StitchError(`duration must be between 0 and ${MAX_RANGE_S} s`);
  const files = overlapping(recs, startMs, durationMs);
  if (!files.length) throw new StitchError("no recording in that range");
  let total = 0;
  for (const f of files) {
    total += statSync(f.path).size;
    if (total > MAX_INPUT_BYTES) throw new StitchError(`the range spans more than ${MAX_INPUT_BYTES >> 20} MB of recordings`);
  }
  const endMs = startMs + durationMs;

  // Every packet on the wall clock; the configs in force at the cut.
  const timed: Timed[] = [];
  let videoConfig: MediaPacket | undefined;
  let audioConfig: MediaPacket | undefined;
  // Where the previous file's media ends on the wall clock (its last video frame plus one frame).
  let prevEnd: number | undefined;
  for (const f of files) {
    let pkts: MediaPacket[];
    try {
      pkts = f.format === "mp4" ? readMp4Packets(readFileSync(f.path)) : flvPackets(f.path);
    } catch (e) {
      throw new StitchError(`${f.path.split(/[\\/]/).pop()}: ${(e as Error).message}`);
    }
    const first = pkts.find((p) => p.kind !== "data" && !p.config);
    if (!first) continue;
    // A segment that follows on (the DVR cut a running publish) continues the previous one's timeline: its file
    // name's time is when the file was opened, a few ms off the media's own clock.
    const fileBase = prevEnd !== undefined && Math.abs(f.start - prevEnd) < CONTINUE_MS ? prevEnd : f.start;
    let lastVideo: number | undefined;
    let frameMs = 40;
    for (const p of pkts) {
      if (p.kind === "data") continue;
      if (p.config) {
        if (p.kind === "video") videoConfig ??= p;
        else audioConfig ??= p;
        continue;
      }
      const wall = fileBase + (p.dts - first.dts);
      if (p.kind === "video") {
        if (lastVideo !== undefined && wall > lastVideo) frameMs = wall - lastVideo;
        lastVideo = wall;
      }
      if (wall < endMs) timed.push({ p, wall });
    }
    prevEnd = lastVideo !== undefined ? lastVideo + frameMs : undefined;
  }
  const hasVideo = timed.some((t) => t.p.kind === "video");
  // The cut: the last video keyframe at or before start (else the first after it); audio-only: the first packet.
  let from = -1;
  for (let i = 0; i < timed.length; i++) {
    const t = timed[i]!;
    if (hasVideo ? t.p.kind === "video" && t.p.keyframe : true) {
      if (t.wall <= startMs || from < 0) from = i;
      if (t.wall > startMs) break;
    }
  }
  if (from < 0) throw new StitchError("no keyframe in that range");
  const base = timed[from]!.wall;

  const parts: Uint8Array[] = [];
  let tracks: readonly Mp4Track[] = [];
  const muxer = new FragmentedMp4Muxer({
    init: (b, t) => {
      parts.push(b);
      tracks = t;
    },
    fragment: (ps) => {
      for (const p of ps) parts.push(p);
    },
  });
  if (videoConfig) muxer.push({ ...videoConfig, dts: 0, pts: 0 });
  if (audioConfig) muxer.push({ ...audioConfig, dts: 0, pts: 0 });
  const last = { video: -1, audio: -1 };
  let lastMs = 0;
  for (let i = from; i < timed.length; i++) {
    const { p, wall } = timed[i]!;
    if (wall < base) continue; // audio before the first video frame
    const kind = p.kind === "video" ? "video" : "audio";
    // Files meet on the wall clock: keep each track's timestamps increasing.
    let dts = Math.round(wall - base);
    if (dts <= last[kind]) dts = last[kind] + 1;
    last[kind] = dts;
    lastMs = Math.max(lastMs, dts);
    muxer.push({ ...p, dts, pts: dts + (p.pts - p.dts) });
  }
  muxer.end();
  if (!parts.length || !tracks.length) throw new StitchError("no media in that range");
  const io = memoryAccess(Buffer.concat(parts));
  await finalizeFragmentedMp4(io, tracks);
  return { mp4: io.bytes(), durationMs: lastMs, files };
}

/** `start` as ISO 8601 or epoch ms. */
export function parseStart(s: string | null): number | undefined {
  if (!s) return undefined;
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}
