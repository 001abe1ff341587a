/**
 * HTTP-FLV output format: a MediaPacket becomes one complete FLV tag (tag header + body + PreviousTagSize,
 * FLV spec v10.1 E.3), encoded once per packet and the same bytes queued to every HTTP-FLV player of the
 * stream (one FanOut per hub and per header variant). The 13-byte file header is per player (its flags may
 * differ with guess_has_av), written before the shared tags.
 */
import { FanOut, fanOutKey, type FanOutOptions } from "../../hub/fanout.ts";
import type { OutputSpec } from "../../hub/lease.ts";
import type { StreamHub } from "../../hub/stream-hub.ts";
import { encodeFlvHeader, encodePacketFlvTag } from "../../formats/flv.ts";
import { flvPlayersDecode } from "../../media/flv-codec.ts";
import type { MediaPacket } from "../../media/packet.ts";

/**
 * A zero-length chunk standing for a dropped video keyframe. BytePlayer starts a player (and resumes a skipped
 * one) at a video keyframe when the stream has video; a format that drops video must still let it see the
 * keyframes, or its audio would never start. Zero bytes are queued, nothing is written.
 */
export const KEYFRAME_MARK = new Uint8Array(0);

/** What the FLV players of a vhost get: drop_if_not_match drops the tags the header says are absent. */
export interface FlvVariant {
  dropAudio: boolean;
  dropVideo: boolean;
}

export function encodeFlvPacket(p: MediaPacket, v: FlvVariant): Uint8Array | null {
  if (p.kind === "audio" && (v.dropAudio || !flvPlayersDecode(p))) return null;
  if (p.kind === "video" && v.dropVideo) return p.keyframe && !p.config ? KEYFRAME_MARK : null;
  try {
    return encodePacketFlvTag(p);
  } catch {
    return null; // a codec FLV cannot carry (or a composition time out of range): players skip it
  }
}

/** The shared FLV encoder of a hub for one variant (players lease it with hub.play). */
export function flvOutput(v: FlvVariant, opts: FanOutOptions): OutputSpec<FanOut> {
  const name = `flv${v.dropAudio ? "/-a" : ""}${v.dropVideo ? "/-v" : ""}`;
  return { key: fanOutKey(name, opts), create: (hub) => new FanOut(hub, name, (p) => encodeFlvPacket(p, v), opts) };
}

export interface FlvHeaderFlags {
  hasAudio: boolean;
  hasVideo: boolean;
}

/**
 * The header flags of a new player, as SRS: `has_audio`/`has_video` from the config; with `guess_has_av`
 * (default on) a flag the config allows is cleared when the live stream shows no such track (no sequence
 * header and nothing of that kind in the GOP cache), e.g. an audio-only stream gets a header without video.
 */
export function flvHeaderFlags(
  hub: StreamHub,
  cfg: { hasAudio: boolean; hasVideo: boolean; guessHasAv: boolean },
): FlvHeaderFlags {
  let hasAudio = cfg.hasAudio;
  let hasVideo = cfg.hasVideo;
  if (cfg.guessHasAv && hub.active) {
    // Audio FLV players decode: the publisher's, or the audio bridge's AAC rendition of an Opus publisher.
    let sawAudio = hub.audioConfigs().some(flvPlayersDecode);
    let sawVideo = hub.videoConfig !== undefined;
    if (!sawAudio || !sawVideo) {
      for (const p of hub.gop.snapshot()) {
        if (p.kind === "audio" && flvPlayersDecode(p)) sawAudio = true;
        else if (p.kind === "video") sawVideo = true;
        if (sawAudio && sawVideo) break;
      }
    }
    // Nothing seen at all (a publisher that has sent nothing yet): keep the configured flags.
    if (sawAudio || sawVideo) {
      hasAudio &&= sawAudio;
      hasVideo &&= sawVideo;
    }
  }
  return { hasAudio, hasVideo };
}

export function flvFileHeader(f: FlvHeaderFlags): Uint8Array {
  return encodeFlvHeader(f);
}
