/**
 * A stream's health for the console's badge and `health` in /api/v1/streams: ok / warning / bad with the reasons,
 * judged from what the hub's HealthMeter measured (lib/hub/health-meter.ts) against what the publisher declared
 * (onMetaData's framerate), and the publisher's RTT when its protocol reports one (`rtt_ms` in its details()).
 *
 * Rules (each adds a reason; the worst decides the status):
 *  - no publisher: warning; no media for 3 s: bad;
 *  - fps below 50% of the declared frame rate (or, when none is declared, of the highest seen in this publish): bad;
 *    below 80%: warning;
 *  - keyframe interval over 10 s, or no keyframe for 10 s: warning;
 *  - A/V drift over 1 s: warning, over 3 s: bad;
 *  - timestamp jumps or arrival gaps in the last minute: warning;
 *  - players (connected now) skipped ahead for being too slow: warning.
 */
import type { StreamHub } from "../hub/stream-hub.ts";
import { decodeAll, isAmf0Object } from "../formats/amf0.ts";
import type { MediaPacket } from "../media/packet.ts";

export type HealthStatus = "ok" | "warning" | "bad";

export interface StreamHealthJson {
  status: HealthStatus;
  reasons: string[];
  fps?: number;
  declared_fps?: number;
  keyframe_interval_ms?: number;
  av_drift_ms?: number;
  video_kbps?: number;
  audio_kbps?: number;
  timestamp_jumps: number;
  gaps: number;
  max_gap_ms: number;
  player_skips: number;
  publisher_rtt_ms?: number;
}

const STALL_MS = 3000;
const RECENT_MS = 60_000;
const MAX_GOP_MS = 10_000;

const declaredCache = new WeakMap<MediaPacket, number | null>();

/** The frame rate the publisher's onMetaData declares (framerate or videoframerate), when it does. */
export function declaredFps(metadata: MediaPacket | undefined): number | undefined {
  if (!metadata) return undefined;
  const hit = declaredCache.get(metadata);
  if (hit !== undefined) return hit ?? undefined;
  let fps: number | null = null;
  try {
    for (const v of decodeAll(metadata.data)) {
      if (!isAmf0Object(v)) continue;
      const f = Number(v.framerate ?? v.videoframerate);
      if (Number.isFinite(f) && f > 0 && f < 1000) fps = f;
    }
  } catch {
    fps = null; // bad metadata: nothing declared
  }
  declaredCache.set(metadata, fps);
  return fps ?? undefined;
}

/** `rtt_ms` anywhere one level down in a client's details() (WebRTC's `rtc.rtt_ms`). */
export function rttOf(details: Record<string, unknown> | undefined): number | undefined {
  if (!details) return undefined;
  for (const v of Object.values(details)) {
    if (v && typeof v === "object") {
      const r = (v as Record<string, unknown>).rtt_ms;
      if (typeof r === "number" && Number.isFinite(r)) return r;
    }
  }
  return undefined;
}

const RANK: Record<HealthStatus, number> = { ok: 0, warning: 1, bad: 2 };

export function streamHealth(hub: StreamHub, now = Date.now(), publisherDetails?: Record<string, unknown>): StreamHealthJson {
  const reasons: [HealthStatus, string][] = [];
  const r = hub.health.read(now);
  const out: StreamHealthJson = {
    status: "ok", reasons: [], timestamp_jumps: r.jumps, gaps: r.gaps, max_gap_ms: r.maxGapMs, player_skips: hub.playerSkips(),
  };
  if (!hub.active) {
    out.status = "warning";
    out.reasons = ["no publisher"];
    return out;
  }
  const declared = declaredFps(hub.metadata);
  if (declared !== undefined) out.declared_fps = declared;
  if (r.fps !== undefined) out.fps = r.fps;
  if (r.keyframeIntervalMs !== undefined) out.keyframe_interval_ms = r.keyframeIntervalMs;
  if (r.avDriftMs !== undefined) out.av_drift_ms = r.avDriftMs;
  if (r.videoKbps !== undefined) out.video_kbps = r.videoKbps;
  if (r.audioKbps !== undefined) out.audio_kbps = r.audioKbps;
  const rtt = rttOf(publisherDetails);
  if (rtt !== undefined) out.publisher_rtt_ms = rtt;

  const quiet = now - (r.lastPacketAt || r.startedAt);
  if (quiet > STALL_MS) reasons.push(["bad", `no media for ${Math.round(quiet / 1000)} s`]);
  const hasVideo = hub.videoConfig !== undefined || hub.videoFrames > 0;
  if (hasVideo && r.fps !== undefined) {
    const ref = declared ?? r.peakFps;
    const what = declared !== undefined ? "declared" : "peak";
    if (ref > 0 && r.fps < ref * 0.5) reasons.push(["bad", `frame rate ${r.fps} fps, ${what} ${round1(ref)}`]);
    else if (ref > 0 && r.fps < ref * 0.8) reasons.push(["warning", `frame rate ${r.fps} fps, ${what} ${round1(ref)}`]);
  }
  if (hasVideo && r.keyframeIntervalMs !== undefined && r.keyframeIntervalMs > MAX_GOP_MS) {
    reasons.push(["warning", `keyframe every ${round1(r.keyframeIntervalMs / 1000)} s`]);
  } else if (hasVideo && r.sinceKeyframeMs !== undefined && r.sinceKeyframeMs > MAX_GOP_MS) {
    reasons.push(["warning", `no keyframe for ${Math.round(r.sinceKeyframeMs / 1000)} s`]);
  } else if (hasVideo && r.sinceKeyframeMs === undefined && now - r.startedAt > MAX_GOP_MS && hub.videoFrames > 0) {
    reasons.push(["warning", "no keyframe yet"]);
  }
  if (r.avDriftMs !== undefined && Math.abs(r.avDriftMs) > 3000) reasons.push(["bad", `A/V drift ${r.avDriftMs} ms`]);
  else if (r.avDriftMs !== undefined && Math.abs(r.avDriftMs) > 1000) reasons.push(["warning", `A/V drift ${r.avDriftMs} ms`]);
  if (r.jumps > 0 && now - r.lastJumpAt < RECENT_MS) reasons.push(["warning", `timestamp jump (${r.jumps} in this publish)`]);
  if (r.gaps > 0 && now - r.lastGapAt < RECENT_MS) reasons.push(["warning", `gap in arrival (${r.gaps}, longest ${r.maxGapMs} ms)`]);
  if (out.player_skips > 0) reasons.push(["warning", `${out.player_skips} skips of slow players`]);

  for (const [s, why] of reasons) {
    if (RANK[s] > RANK[out.status]) out.status = s;
    out.reasons.push(why);
  }
  return out;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
