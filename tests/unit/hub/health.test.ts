/**
 * A stream's health (lib/hub/health-meter.ts measured in a real hub, lib/services/health.ts judged): fps per 5 s
 * window against the declared frame rate, keyframe interval, A/V drift, timestamp jumps, gaps, a stalled publisher.
 */
import { describe, expect, test } from "bun:test";
import { encode, ecmaArray } from "../../../lib/formats/amf0.ts";
import { HealthMeter } from "../../../lib/hub/health-meter.ts";
import { HubRegistry } from "../../../lib/hub/registry.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { declaredFps, streamHealth } from "../../../lib/services/health.ts";

function video(dts: number, keyframe = false): MediaPacket {
  return { kind: "video", codec: "h264", dts, pts: dts, keyframe, config: false, data: new Uint8Array(500) };
}
function audio(dts: number): MediaPacket {
  return { kind: "audio", codec: "aac", dts, pts: dts, keyframe: false, config: false, data: new Uint8Array(100) };
}
function meta(fps: number): MediaPacket {
  return { kind: "data", codec: "amf0", dts: 0, pts: 0, keyframe: false, config: false, data: encode("onMetaData", ecmaArray({ framerate: fps, width: 640 })) };
}

/** Feeds `seconds` of video at `fps` (keyframe every 2 s) and audio every 23 ms, from media time `t0` = wall `w0`. */
function feed(m: { onPacket(p: MediaPacket, now: number): void }, t0: number, w0: number, seconds: number, fps: number, drift = 0): void {
  const frame = 1000 / fps;
  for (let t = 0; t < seconds * 1000; t += frame) m.onPacket(video(t0 + t, Math.round(t) % 2000 < frame), w0 + t);
  for (let t = 0; t < seconds * 1000; t += 23) m.onPacket(audio(t0 + t - drift), w0 + t);
}

describe("HealthMeter", () => {
  test("fps of the last complete 5 s window, keyframe interval, bitrate per track, no drift", () => {
    const m = new HealthMeter();
    m.reset(0);
    feed(m, 0, 0, 11, 25);
    const r = m.read(11_000);
    expect(r.fps).toBe(25);
    expect(r.peakFps).toBe(25);
    expect(r.keyframeIntervalMs).toBe(2000);
    expect(Math.abs(r.avDriftMs!)).toBeLessThan(50);
    expect(r.videoKbps).toBe(100); // 25 × 500 B × 8 / 1000
    expect(r.jumps).toBe(0);
    expect(r.gaps).toBe(0);
  });

  test("a timestamp jump and an arrival gap are counted", () => {
    const m = new HealthMeter();
    m.reset(0);
    feed(m, 0, 0, 2, 25);
    m.onPacket(video(60_000), 2040); // +58 s of timestamp in 40 ms
    m.onPacket(video(60_040), 4000); // 2 s of silence
    const r = m.read(4000);
    expect(r.jumps).toBeGreaterThanOrEqual(1);
    expect(r.gaps).toBe(1);
    expect(r.maxGapMs).toBe(1960);
  });

  test("A/V drift: audio 2 s behind video", () => {
    const m = new HealthMeter();
    m.reset(0);
    feed(m, 10_000, 0, 6, 25, 2000);
    expect(m.read(6000).avDriftMs).toBeGreaterThan(1900);
  });
});

describe("streamHealth", () => {
  const hubs = new HubRegistry(silentLog(), () => ({ gopCache: false, gopCacheMaxFrames: 2500, timeJitter: "off" }));

  test("declared fps from onMetaData", () => {
    expect(declaredFps(meta(25))).toBe(25);
    expect(declaredFps(undefined)).toBeUndefined();
    expect(declaredFps({ ...meta(25), data: new Uint8Array([2, 0, 99]) })).toBeUndefined(); // truncated AMF0
  });

  test("ok at the declared rate; bad at 5 fps of a declared 25; warning without a publisher", () => {
    const lease = hubs.publish({ vhost: "v", app: "live", stream: "h1" }, { clientId: "c", type: "fmle-publish", ip: "", kick: () => {} });
    const hub = lease.hub;
    const t0 = Date.now();
    hub.health.reset(t0);
    lease.push(meta(25));
    feed(hub.health, 0, t0, 11, 25);
    // streamHealth reads the hub's metadata and counters; the meter was fed with our clock
    hub.videoFrames = 1;
    let h = streamHealth(hub, t0 + 11_000);
    expect(h.status).toBe("ok");
    expect(h.reasons).toEqual([]);
    expect(h.declared_fps).toBe(25);
    expect(h.fps).toBe(25);
    feed(hub.health, 11_000, t0 + 11_000, 11, 5);
    h = streamHealth(hub, t0 + 22_000);
    expect(h.status).toBe("bad");
    expect(h.fps).toBe(5);
    expect(h.reasons.join()).toContain("frame rate 5 fps, declared 25");
    // stalled: nothing for 5 s
    h = streamHealth(hub, t0 + 27_000);
    expect(h.status).toBe("bad");
    expect(h.reasons.join()).toContain("no media for 5 s");
    lease.dispose();
    expect(streamHealth(hub).status).toBe("warning");
    expect(streamHealth(hub).reasons).toEqual(["no publisher"]);
  });
});
