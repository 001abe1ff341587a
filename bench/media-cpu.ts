/**
 * For in-process benchmarks that give a CPU cost per second of media (bench/hls-segmenter.ts,
 * bench/dash-cost.ts): the clip's packets looped back to back with advancing timestamps, the best wall time of
 * 3 runs, and the printed figure (µs per second of media and the share of one core at real time).
 */
import type { MediaPacket } from "../lib/media/packet.ts";

/** clip.flv's loop period in ms (last timestamp + one video frame): loop k is shifted by k times this. */
export const CLIP_SPAN_MS = 10040;

/** `packets` `rounds` times over, each loop's timestamps shifted by CLIP_SPAN_MS more. */
export function looped(packets: readonly MediaPacket[], rounds: number): MediaPacket[] {
  return Array.from({ length: rounds }, (_, i) =>
    packets.map((p) => ({ ...p, dts: p.dts + i * CLIP_SPAN_MS, pts: p.pts + i * CLIP_SPAN_MS }))).flat();
}

/** Best wall time of 3 runs of `once` (ms). */
export function best(once: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    once();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

/** Prints `ms` spent on `mediaSeconds` of media as µs per second of media and % of a core; returns the µs. */
export function reportPerMediaSecond(name: string, ms: number, mediaSeconds: number, extra = ""): number {
  const usPerSecond = (ms * 1000) / mediaSeconds;
  console.log(`${name}: ${usPerSecond.toFixed(1)} µs per second of media = ${(usPerSecond / 1e4).toFixed(3)}% of a core${extra}`);
  return usPerSecond;
}
