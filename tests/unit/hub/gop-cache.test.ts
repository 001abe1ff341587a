/** GopCache: keyframe resets, max frames, pure audio, config/data never cached, disabled. */
import { describe, expect, test } from "bun:test";
import { GopCache } from "../../../lib/hub/gop-cache.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";

let t = 0;
function v(keyframe = false, config = false): MediaPacket {
  t += 40;
  return { kind: "video", codec: "h264", dts: t, pts: t, keyframe, config, data: new Uint8Array([keyframe ? 1 : 2]) };
}
function a(config = false): MediaPacket {
  t += 23;
  return { kind: "audio", codec: "aac", dts: t, pts: t, keyframe: false, config, data: new Uint8Array([3]) };
}
function d(): MediaPacket {
  return { kind: "data", codec: "amf0", dts: t, pts: t, keyframe: false, config: false, data: new Uint8Array([4]) };
}

describe("GopCache", () => {
  test("holds the packets since the last keyframe; a keyframe resets it", () => {
    const g = new GopCache(true, 2500);
    const k1 = v(true);
    g.push(k1);
    const rest1 = [v(), a(), v(), a()];
    for (const p of rest1) g.push(p);
    expect(g.snapshot()).toEqual([k1, ...rest1]);
    const k2 = v(true);
    g.push(k2);
    expect(g.snapshot().length).toBe(1);
    expect(g.snapshot()[0]).toBe(k2);
    const p = v();
    g.push(p);
    expect(g.snapshot()).toEqual([k2, p]);
  });

  test("nothing before the first keyframe; sequence headers and metadata are never cached", () => {
    const g = new GopCache(true, 2500);
    g.push(d());
    g.push(v(true, true)); // AVC sequence header (keyframe + config)
    g.push(a(true));
    g.push(v());
    g.push(a());
    expect(g.size).toBe(0);
    const k = v(true);
    g.push(k);
    g.push(v(true, true));
    g.push(a(true));
    g.push(d());
    expect(g.snapshot()).toEqual([k]);
  });

  test("max frames: exceeding it drops the GOP until the next keyframe", () => {
    const g = new GopCache(true, 5);
    const k = v(true);
    g.push(k);
    for (let i = 0; i < 4; i++) g.push(v());
    expect(g.size).toBe(5);
    g.push(v()); // the 6th: over the limit
    expect(g.size).toBe(0);
    for (let i = 0; i < 3; i++) g.push(v());
    g.push(a());
    expect(g.size).toBe(0); // given up on this GOP
    const k2 = v(true);
    g.push(k2);
    expect(g.snapshot()).toEqual([k2]);
    // 0 = no limit
    const u = new GopCache(true, 0);
    u.push(v(true));
    for (let i = 0; i < 5000; i++) u.push(i % 2 ? v() : a());
    expect(u.size).toBe(5001);
  });

  test("pure audio: more than 115 audio packets since the last video clears the cache and keeps none", () => {
    const g = new GopCache(true, 2500);
    g.push(v(true));
    for (let i = 0; i < 115; i++) g.push(a());
    expect(g.size).toBe(116);
    g.push(a()); // the 116th audio packet without video
    expect(g.size).toBe(0);
    for (let i = 0; i < 300; i++) g.push(a());
    expect(g.size).toBe(0);
    // Video again: a keyframe starts a new GOP.
    const k = v(true);
    g.push(k);
    const x = a();
    g.push(x);
    expect(g.snapshot()).toEqual([k, x]);
  });

  test("video keeps resetting the audio count", () => {
    const g = new GopCache(true, 2500);
    g.push(v(true));
    for (let r = 0; r < 5; r++) {
      for (let i = 0; i < 100; i++) g.push(a());
      g.push(v());
    }
    expect(g.size).toBe(1 + 5 * 101);
  });

  test("a stream that starts audio-only and video arrives later", () => {
    const g = new GopCache(true, 2500);
    for (let i = 0; i < 500; i++) g.push(a());
    expect(g.size).toBe(0);
    const k = v(true);
    g.push(k);
    expect(g.snapshot()).toEqual([k]);
  });

  test("disabled: caches nothing; clear() empties", () => {
    const g = new GopCache(false, 2500);
    g.push(v(true));
    g.push(v());
    expect(g.size).toBe(0);
    const e = new GopCache(true, 2500);
    e.push(v(true));
    e.push(a());
    e.clear();
    expect(e.size).toBe(0);
    e.push(v()); // no keyframe after clear: not cached
    expect(e.size).toBe(0);
  });
});
