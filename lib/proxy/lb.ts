/**
 * The load balancer: which origins exist, which origin serves which stream (sticky: once picked, a stream stays on
 * its origin), and the HLS and WebRTC sessions (so any proxy can serve a player's next request). Two kinds, as SRS
 * 7's proxy (proxy/srs.go): in memory (one proxy alone) or in Redis (several proxies share it; lb-redis.ts).
 */
import type { Backend } from "./backend.ts";

/** An origin is alive when it sent a heartbeat this recently (SRS: srsServerAliveDuration). */
export const SERVER_ALIVE_MS = 300_000;
/** HLS and WebRTC session entries live this long (SRS: srsHLSAliveDuration, srsRTCAliveDuration). */
export const HLS_ALIVE_MS = 120_000;
export const RTC_ALIVE_MS = 120_000;

/** An HLS playback: the stream, and the id its segment URLs carry (`?spbhid=`). */
export interface HlsSession {
  spbhid: string;
  stream_url: string;
  full_url: string;
}

/** A WebRTC session: the stream, and `localUfrag:remoteUfrag`, the STUN USERNAME the player sends us. */
export interface RtcSession {
  stream_url: string;
  ufrag: string;
}

export class NoBackendError extends Error {}

export interface LoadBalancer {
  readonly kind: "memory" | "redis";
  /** A heartbeat: add or refresh the origin. */
  update(b: Backend): Promise<void>;
  /** The origin for a stream: the one it already has, or a random live one (remembered). */
  pick(streamUrl: string): Promise<Backend>;
  /** The HLS session of a stream (the first stored one wins, so every player's segments go the same way). */
  loadOrStoreHls(streamUrl: string, s: HlsSession): Promise<HlsSession>;
  loadHlsBySpbhid(spbhid: string): Promise<HlsSession | undefined>;
  storeRtc(streamUrl: string, s: RtcSession): Promise<void>;
  loadRtcByUfrag(ufrag: string): Promise<RtcSession | undefined>;
  close(): Promise<void>;
}

/** Whether an origin sent a heartbeat within SERVER_ALIVE_MS. */
export function isAlive(b: { update_at: string }, now = Date.now()): boolean {
  return now - Date.parse(b.update_at) < SERVER_ALIVE_MS;
}

/** A random element. */
export function randomOf<T>(a: readonly T[]): T {
  return a[Math.floor(Math.random() * a.length)]!;
}
