/** TimeJitter: full / zero / off, the 250 ms clamp, composition time kept, config packets, republish. */
import { describe, expect, test } from "bun:test";
import { TimeJitter } from "../../../lib/hub/jitter.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";

function v(dts: number, cts = 0, config = false): MediaPacket {
  return { kind: "video", codec: "h264", dts, pts: dts + cts, keyframe: false, config, data: new Uint8Array(1) };
}
function a(dts: number): MediaPacket {
  return { kind: "audio", codec: "aac", dts, pts: dts, keyframe: false, config: false, data: new Uint8Array(1) };
}

/** Runs packets through a jitter and returns [dts, pts] pairs. */
function run(j: TimeJitter, ps: MediaPacket[]): [number, number][] {
  return ps.map((p) => {
    j.correct(p);
    return [p.dts, p.pts];
  });
}

describe("TimeJitter full", () => {
  test("starts at 0 and keeps the spacing", () => {
    const j = new TimeJitter("full");
    expect(run(j, [v(5000), a(5023), v(5040), a(5046), v(5080)]).map((x) => x[0])).toEqual([0, 23, 40, 46, 80]);
  });

  test("a jump over 250 ms (either way) becomes a 10 ms step; 250 ms exactly is kept", () => {
    const j = new TimeJitter("full");
    const out = run(j, [v(1000), v(1040), v(1290), v(1541), v(1581), v(300), v(340), v(90)]).map((x) => x[0]);
    // 1040->1290: +250 kept; 1290->1541: +251 -> 10; 1581->300: -1281 -> 10; 340->90: -250 kept
    expect(out).toEqual([0, 40, 290, 300, 340, 350, 390, 140]);
  });

  test("never goes below 0", () => {
    const j = new TimeJitter("full");
    expect(run(j, [v(1000), v(800)]).map((x) => x[0])).toEqual([0, 0]);
  });

  test("composition time (pts - dts) is kept", () => {
    const j = new TimeJitter("full");
    const out = run(j, [v(7000, 80), v(7040, 120), v(7080, 40), v(9000, 160)]);
    expect(out.map(([d, p]) => p - d)).toEqual([80, 120, 40, 160]);
    expect(out.map((x) => x[0])).toEqual([0, 40, 80, 90]);
  });

  test("sequence headers take the current point of the timeline; metadata is at 0", () => {
    const j = new TimeJitter("full");
    const cfg = v(0, 0, true);
    j.correct(cfg);
    expect(cfg.dts).toBe(0);
    run(j, [v(3000), v(3040)]);
    const cfg2 = v(99999, 0, true);
    j.correct(cfg2);
    expect([cfg2.dts, cfg2.pts]).toEqual([40, 40]);
    const data: MediaPacket = { kind: "data", codec: "amf0", dts: 3165, pts: 3165, keyframe: false, config: false, data: new Uint8Array(1) };
    j.correct(data);
    expect([data.dts, data.pts]).toEqual([0, 0]);
    // They don't move the timeline.
    expect(run(j, [v(3080)])[0]![0]).toBe(80);
  });

  test("a republish continues the timeline (players never see time go backwards)", () => {
    const j = new TimeJitter("full");
    run(j, [v(100), v(140), v(180)]);
    j.reset();
    const out = run(j, [v(0), v(40)]).map((x) => x[0]);
    expect(out[0]).toBeGreaterThan(80);
    expect(out).toEqual([90, 130]);
  });
});

describe("TimeJitter zero", () => {
  test("the first timestamp becomes 0, spacing and jumps kept, cts kept", () => {
    const j = new TimeJitter("zero");
    const out = run(j, [v(5000, 80), v(5040), v(9000, 40), v(9040)]);
    expect(out).toEqual([[0, 80], [40, 40], [4000, 4040], [4040, 4040]]);
  });

  test("a timestamp before the first clamps to 0; reset starts again at 0", () => {
    const j = new TimeJitter("zero");
    expect(run(j, [v(5000), v(4000)]).map((x) => x[0])).toEqual([0, 0]);
    j.reset();
    expect(run(j, [v(100), v(140)]).map((x) => x[0])).toEqual([0, 40]);
  });
});

describe("metadata", () => {
  test("is at 0 in every mode, wherever the encoder stamped it (FFmpeg reads a stamped onMetaData as data)", () => {
    for (const mode of ["full", "zero", "off"] as const) {
      const j = new TimeJitter(mode);
      run(j, [v(5000), v(5040)]);
      const data: MediaPacket = { kind: "data", codec: "amf0", dts: 5040, pts: 5040, keyframe: false, config: false, data: new Uint8Array(1) };
      j.correct(data);
      expect([mode, data.dts, data.pts]).toEqual([mode, 0, 0]);
      // The timeline is untouched: the next frame keeps its spacing.
      expect(run(j, [v(5080)])[0]![0]).toBe(mode === "off" ? 5080 : 80);
    }
  });
});

describe("TimeJitter off", () => {
  test("passes timestamps through, config included", () => {
    const j = new TimeJitter("off");
    const ps = [v(5000, 80), v(1000), v(0xffffffff + 10, 40), v(77, 0, true)];
    expect(run(j, ps)).toEqual([[5000, 5080], [1000, 1000], [0xffffffff + 10, 0xffffffff + 50], [77, 77]]);
  });
});
