/**
 * DashStream (lib/protocols/dash/service.ts) fed the test clip's packets directly (no server, a stand-in hub):
 * segments cut at keyframes, timelines without gaps inside a publish, the presentation on the wall clock, a
 * republish continuing the numbers after a gap as long as the outage, audio-only streams, video that stops
 * coming, timestamps that go back, and the files on disk (read back by the MPD rule checker).
 */
import { describe, expect, setSystemTime, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DashConfig } from "../../../lib/config/config.ts";
import type { StreamHub } from "../../../lib/hub/stream-hub.ts";
import type { Log } from "../../../lib/log/logger.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { DashStream } from "../../../lib/protocols/dash/service.ts";
import { clipPackets } from "../../helpers/clip-packets.ts";
import { checkMpd, checkUpdate, parseMpd } from "../../helpers/mpd.ts";
import { tempDir } from "../../helpers/temp.ts";

const quiet = { trace() {}, info() {}, warn() {}, error() {} } as unknown as Log;
const hub = {
  key: { vhost: "__defaultVhost__", app: "live", stream: "t" }, name: "__defaultVhost__/live/t",
  subscribe: () => ({ dispose() {} }), publisher: undefined,
} as unknown as StreamHub;

const packets = clipPackets("clip.flv").filter((p) => p.kind !== "data");
const configs = packets.filter((p) => p.config);
const frames = packets.filter((p) => !p.config);

function cfg(path: string, over: Partial<DashConfig> = {}): DashConfig {
  return {
    enabled: true, fragment: 2, updatePeriod: 2, timeshift: 300, path, mpdFile: "[app]/[stream].mpd", windowSize: 20,
    cleanup: true, dispose: 0, ...over,
  };
}

/** Runs `frames` (shifted by `shiftMs`) through the stream as one publish. */
async function publishOnce(s: DashStream, c: DashConfig, list: MediaPacket[], shiftMs = 0): Promise<void> {
  s.start(c);
  for (const p of configs) s.onPacket(p);
  for (const p of list) s.onPacket({ ...p, dts: p.dts + shiftMs, pts: p.pts + shiftMs });
  s.stop();
  await s.flushed();
}

describe("DashStream", () => {
  test("2 s segments at keyframes, both tracks, no gaps, on the wall clock; files as the MPD lists them", async () => {
    const dir = tempDir("srs-ts-dash-unit-");
    const c = cfg(dir);
    const s = new DashStream(hub, c, quiet, () => {});
    await publishOnce(s, c, frames);
    const text = s.mpd(new Date())!;
    const m = parseMpd(text);
    // The clip (10 s) went in at once: its end sits ~10 s ahead of the wall clock.
    expect(checkMpd(m, Date.now(), { lead: 12 })).toEqual([]);
    expect(m.reps.map((r) => r.segments.length)).toEqual([5, 5]);
    for (const r of m.reps) {
      expect(r.gaps).toEqual([]);
      expect(r.segments[0]!.number).toBe(1);
      for (const x of r.segments.slice(0, -1)) expect(Math.abs(x.d / r.timescale - 2)).toBeLessThan(0.05);
    }
    const files = readdirSync(join(dir, "live/t")).sort();
    expect(files).toContain("video-init.mp4");
    expect(files).toContain("audio-5.m4s");
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(readFileSync(join(dir, "live/t.mpd"), "utf8")).not.toContain("UTCTiming"); // the disk copy
  });

  test("a republish 1.5 s later: numbers continue, the timeline resumes ~1.5 s on, AST unchanged", async () => {
    const dir = tempDir("srs-ts-dash-unit-");
    const c = cfg(dir);
    const t0 = Date.parse("2026-12-05T20:00:00.000Z");
    setSystemTime(new Date(t0));
    try {
      const s = new DashStream(hub, c, quiet, () => {});
      await publishOnce(s, c, frames);
      const before = parseMpd(s.mpd()!);
      // The publisher left after the clip's 10 s and came back 1.5 s later, with its own timestamps.
      setSystemTime(new Date(t0 + 10040 + 1500));
      await publishOnce(s, c, frames, 5000);
      const after = parseMpd(s.mpd()!);
      expect(checkUpdate(before, after)).toEqual([]);
      expect(checkMpd(after, t0 + 10040 + 1500, { lead: 12 })).toEqual([]);
      for (const r of after.reps) {
        expect(r.segments.map((x) => x.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(r.gaps.length).toBe(1);
        expect(r.gaps[0]![0]).toBe(6);
        expect(r.gaps[0]![1]).toBeGreaterThan(1.3);
        expect(r.gaps[0]![1]).toBeLessThan(1.7);
      }
      // Published again right away (timestamps ahead of the wall clock): never before the previous end.
      await publishOnce(s, c, frames, 9000);
      const again = parseMpd(s.mpd()!);
      expect(checkUpdate(after, again)).toEqual([]);
      for (const r of again.reps) expect(r.segments.at(-1)!.number).toBe(15);
    } finally {
      setSystemTime();
    }
  });

  test("audio only: segments of dash_fragment, one representation", async () => {
    const dir = tempDir("srs-ts-dash-unit-");
    const c = cfg(dir);
    const s = new DashStream(hub, c, quiet, () => {});
    s.start(c);
    for (const p of configs.filter((x) => x.kind === "audio")) s.onPacket(p);
    for (const p of frames.filter((x) => x.kind === "audio")) s.onPacket(p);
    s.stop();
    await s.flushed();
    const m = parseMpd(s.mpd()!);
    expect(m.reps.map((r) => r.id)).toEqual(["audio"]);
    expect(m.reps[0]!.segments.length).toBeGreaterThanOrEqual(4);
    expect(m.reps[0]!.gaps).toEqual([]);
  });

  test("video that stops coming: audio still cut (every 4 x dash_fragment), memory bounded", async () => {
    const dir = tempDir("srs-ts-dash-unit-");
    const c = cfg(dir, { fragment: 1 });
    const s = new DashStream(hub, c, quiet, () => {});
    s.start(c);
    for (const p of configs) s.onPacket(p);
    const firstKey = frames.findIndex((p) => p.kind === "video" && p.keyframe);
    s.onPacket(frames[firstKey]!);
    for (const p of frames.slice(firstKey + 1).filter((x) => x.kind === "audio")) s.onPacket(p);
    await s.flushed();
    expect(s.audio.listed.length).toBeGreaterThanOrEqual(2); // cut while the publisher is still on
    s.stop();
  });

  test("timestamps going back mid-publish: the timeline goes on without overlap", async () => {
    const dir = tempDir("srs-ts-dash-unit-");
    const c = cfg(dir);
    const s = new DashStream(hub, c, quiet, () => {});
    s.start(c);
    for (const p of configs) s.onPacket(p);
    for (const p of frames) s.onPacket(p);
    for (const p of frames) s.onPacket(p); // the clip again from 0 (a reset)
    s.stop();
    await s.flushed();
    const m = parseMpd(s.mpd()!); // parseMpd throws on overlapping segments
    for (const r of m.reps) {
      expect(r.segments.length).toBeGreaterThanOrEqual(9);
      for (const [, g] of r.gaps) expect(g).toBeLessThan(0.2);
    }
  });

  test("dispose removes every file", async () => {
    const dir = tempDir("srs-ts-dash-unit-");
    const c = cfg(dir, { windowSize: 2 });
    const s = new DashStream(hub, c, quiet, () => {});
    await publishOnce(s, c, frames);
    expect(existsSync(join(dir, "live/t.mpd"))).toBe(true);
    await s.dispose();
    expect(existsSync(join(dir, "live/t.mpd"))).toBe(false);
    expect(readdirSync(join(dir, "live/t"))).toEqual([]);
  });
});
