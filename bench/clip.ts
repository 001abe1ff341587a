/**
 * The benchmark clip: an FLV file demuxed once into tags, and a real-time looping schedule over it.
 * Loop k of the clip is shifted by k * clip duration so timestamps keep advancing across loops; the
 * metadata and sequence headers are sent only at the start (loop 0).
 */
import { readFileSync } from "node:fs";
import { demuxFlv, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from "../lib/formats/flv.ts";
import type { FlvTag } from "../lib/formats/flv.ts";

export const DEFAULT_CLIP = new URL("../tests/.media/clip.flv", import.meta.url).pathname;

export interface Clip {
  tags: FlvTag[];
  /** Loop period in ms: last timestamp + one video frame. */
  durationMs: number;
  /** Media bytes (tag bodies) per second of the clip, as bits per second. */
  bitrate: number;
}

/** True for an AVC/HEVC/AAC sequence header tag (re-sent only once). */
export function isSequenceHeader(t: FlvTag): boolean {
  if (t.type === FLV_TAG_VIDEO) return t.data.length > 1 && t.data[1] === 0 && (t.data[0]! & 0x0f) === 7;
  if (t.type === FLV_TAG_AUDIO) return t.data.length > 1 && (t.data[0]! >> 4) === 10 && t.data[1] === 0;
  return false;
}

export function loadClip(path: string = DEFAULT_CLIP): Clip {
  const { tags } = demuxFlv(new Uint8Array(readFileSync(path)));
  let last = 0;
  let firstVideo = -1;
  let frameMs = 40;
  let bytes = 0;
  for (const t of tags) {
    last = Math.max(last, t.timestamp);
    bytes += t.data.length;
    if (t.type === FLV_TAG_VIDEO && !isSequenceHeader(t)) {
      if (firstVideo < 0) firstVideo = t.timestamp;
      else if (frameMs === 40 && t.timestamp > firstVideo) frameMs = t.timestamp - firstVideo;
    }
  }
  const durationMs = last + frameMs;
  return { tags, durationMs, bitrate: (bytes * 8 * 1000) / durationMs };
}

export interface ScheduledTag {
  kind: "audio" | "video" | "data";
  timestamp: number;
  data: Uint8Array;
}

/** An AVC/HEVC end-of-sequence tag (AVCPacketType 2): dropped from the loop, it would reset decoders. */
export function isEndOfSequence(t: FlvTag): boolean {
  return t.type === FLV_TAG_VIDEO && t.data.length > 1 && t.data[1] === 2 && (t.data[0]! & 0x0f) === 7;
}

/** Endless looping schedule: yields tags with their shifted timestamps, loop after loop. */
export function* loopTags(clip: Clip): Generator<ScheduledTag> {
  for (let loop = 0; ; loop++) {
    const shift = loop * clip.durationMs;
    for (const t of clip.tags) {
      if (isEndOfSequence(t) || (loop > 0 && (t.type === FLV_TAG_SCRIPT || isSequenceHeader(t)))) continue;
      const kind = t.type === FLV_TAG_VIDEO ? "video" : t.type === FLV_TAG_AUDIO ? "audio" : "data";
      yield { kind, timestamp: t.timestamp + shift, data: t.data };
    }
  }
}
