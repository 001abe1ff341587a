/**
 * What a stream's publisher actually sends, measured packet by packet for the stream's health (the console's badge,
 * `health` in /api/v1/streams; judged in lib/services/health.ts): frames and bytes per track over 5 s windows of
 * arrival time, the keyframe interval (by DTS), the A/V timestamp drift against arrival, timestamp jumps and
 * arrival gaps.
 *
 * Fed by the hub with the publisher's own timestamps (before time_jitter corrects them, which would hide jumps).
 * Constant memory and a few arithmetic operations per packet.
 */
import type { MediaPacket } from "../media/packet.ts";

export const HEALTH_WINDOW_MS = 5000;
/** A timestamp that moves this much more (or less) than the wall clock between two packets of a track is a jump. */
export const JUMP_MS = 1000;
/** No packet for this long while publishing is a gap. */
export const GAP_MS = 1000;
const KEY_INTERVALS = 4;

interface Window {
  start: number;
  videoFrames: number;
  videoBytes: number;
  audioBytes: number;
}

function window(start: number): Window {
  return { start, videoFrames: 0, videoBytes: 0, audioBytes: 0 };
}

interface Track {
  lastDts: number;
  lastAt: number;
  /** dts - arrival of the track's last packet, smoothed. */
  offset: number;
  seen: boolean;
}

function track(): Track {
  return { lastDts: 0, lastAt: 0, offset: 0, seen: false };
}

export interface HealthReading {
  /** Frames per second of the last complete window (undefined until one is complete). */
  fps?: number;
  /** The highest fps of any complete window of this publish. */
  peakFps: number;
  /** Mean of the last keyframe intervals (ms by DTS), undefined before two keyframes. */
  keyframeIntervalMs?: number;
  /** Time since the last keyframe arrived (ms), undefined before the first. */
  sinceKeyframeMs?: number;
  /** Video minus audio timestamp, each against its arrival time (ms; positive: video ahead). */
  avDriftMs?: number;
  videoKbps?: number;
  audioKbps?: number;
  jumps: number;
  lastJumpAt: number;
  gaps: number;
  lastGapAt: number;
  maxGapMs: number;
  lastPacketAt: number;
  startedAt: number;
}

export class HealthMeter {
  private cur: Window = window(0);
  private prev: Window | undefined;
  private peakFps = 0;
  private video = track();
  private audio = track();
  private lastKeyDts = -1;
  private lastKeyAt = 0;
  private keyIntervals: number[] = [];
  private jumps = 0;
  private lastJumpAt = 0;
  private gaps = 0;
  private lastGapAt = 0;
  private maxGapMs = 0;
  private lastPacketAt = 0;
  private startedAt = 0;

  /** A new publish: forget the previous one. */
  reset(now: number): void {
    this.cur = window(now);
    this.prev = undefined;
    this.peakFps = 0;
    this.video = track();
    this.audio = track();
    this.lastKeyDts = -1;
    this.lastKeyAt = 0;
    this.keyIntervals = [];
    this.jumps = this.gaps = this.maxGapMs = 0;
    this.lastJumpAt = this.lastGapAt = 0;
    this.lastPacketAt = 0;
    this.startedAt = now;
  }

  private roll(now: number): void {
    if (now - this.cur.start < HEALTH_WINDOW_MS) return;
    // A window with nothing after it (a long gap) counts as empty: no frames came.
    const complete = now - this.cur.start < 2 * HEALTH_WINDOW_MS ? this.cur : window(now - HEALTH_WINDOW_MS);
    this.prev = complete;
    const fps = (complete.videoFrames * 1000) / HEALTH_WINDOW_MS;
    if (fps > this.peakFps) this.peakFps = fps;
    this.cur = window(now);
  }

  /** One packet of the publisher (`p.dts` as sent), arrived at `now`. */
  onPacket(p: MediaPacket, now: number): void {
    if (this.lastPacketAt > 0 && now - this.lastPacketAt > GAP_MS) {
      this.gaps++;
      this.lastGapAt = now;
      this.maxGapMs = Math.max(this.maxGapMs, now - this.lastPacketAt);
    }
    this.lastPacketAt = now;
    this.roll(now);
    if (p.kind === "data" || p.config) return;
    const t = p.kind === "video" ? this.video : this.audio;
    if (t.seen) {
      const dDts = p.dts - t.lastDts;
      const dWall = now - t.lastAt;
      if (dDts < -JUMP_MS || dDts - dWall > JUMP_MS) {
        this.jumps++;
        this.lastJumpAt = now;
        t.offset = p.dts - now; // follow the new timeline at once
      } else {
        t.offset += (p.dts - now - t.offset) / 16;
      }
    } else {
      t.offset = p.dts - now;
      t.seen = true;
    }
    t.lastDts = p.dts;
    t.lastAt = now;
    if (p.kind === "video") {
      this.cur.videoFrames++;
      this.cur.videoBytes += p.data.byteLength;
      if (p.keyframe) {
        if (this.lastKeyDts >= 0 && p.dts > this.lastKeyDts) {
          this.keyIntervals.push(p.dts - this.lastKeyDts);
          if (this.keyIntervals.length > KEY_INTERVALS) this.keyIntervals.shift();
        }
        this.lastKeyDts = p.dts;
        this.lastKeyAt = now;
      }
    } else {
      this.cur.audioBytes += p.data.byteLength;
    }
  }

  read(now: number): HealthReading {
    this.roll(now);
    const w = this.prev;
    const kbps = (b: number) => Math.round((b * 8) / HEALTH_WINDOW_MS);
    const r: HealthReading = {
      peakFps: this.peakFps,
      jumps: this.jumps,
      lastJumpAt: this.lastJumpAt,
      gaps: this.gaps,
      lastGapAt: this.lastGapAt,
      maxGapMs: this.maxGapMs,
      lastPacketAt: this.lastPacketAt,
      startedAt: this.startedAt,
    };
    if (w) {
      r.fps = Math.round((w.videoFrames * 10000) / HEALTH_WINDOW_MS) / 10;
      r.videoKbps = kbps(w.videoBytes);
      r.audioKbps = kbps(w.audioBytes);
    }
    if (this.keyIntervals.length) r.keyframeIntervalMs = Math.round(this.keyIntervals.reduce((a, b) => a + b, 0) / this.keyIntervals.length);
    if (this.lastKeyAt > 0) r.sinceKeyframeMs = now - this.lastKeyAt;
    if (this.video.seen && this.audio.seen) r.avDriftMs = Math.round(this.video.offset - this.audio.offset);
    return r;
  }
}
