/**
 * The MPD renderer (lib/protocols/dash/mpd.ts): SegmentTimeline compaction, xs:duration/xs:dateTime text, and
 * whole MPDs read back by the rule checker the e2e tests run against live MPDs (tests/helpers/mpd.ts).
 */
import { describe, expect, test } from "bun:test";
import { isoDuration, type MpdInput, type MpdTrack, renderMpd, renderTimeline } from "../../../lib/protocols/dash/mpd.ts";
import { checkMpd, checkUpdate, parseDuration, parseMpd } from "../../helpers/mpd.ts";

describe("SegmentTimeline", () => {
  const cases: [string, { number: number; t: number; d: number }[], string[]][] = [
    ["one", [{ number: 1, t: 100, d: 50 }], [`<S t="100" d="50"/>`]],
    ["equal run", [{ number: 1, t: 0, d: 10 }, { number: 2, t: 10, d: 10 }, { number: 3, t: 20, d: 10 }], [`<S t="0" d="10" r="2"/>`]],
    ["varying", [{ number: 1, t: 0, d: 10 }, { number: 2, t: 10, d: 12 }, { number: 3, t: 22, d: 12 }], [`<S t="0" d="10"/>`, `<S d="12" r="1"/>`]],
    ["gap (republish) restates t", [{ number: 7, t: 0, d: 10 }, { number: 8, t: 10, d: 10 }, { number: 9, t: 50, d: 10 }],
      [`<S t="0" d="10" r="1"/>`, `<S t="50" d="10"/>`]],
    ["equal d across a gap is not a run", [{ number: 1, t: 0, d: 10 }, { number: 2, t: 15, d: 10 }], [`<S t="0" d="10"/>`, `<S t="15" d="10"/>`]],
  ];
  for (const [name, segs, want] of cases) {
    test(name, () => {
      expect(renderTimeline(segs, "").split("\n")).toEqual(want);
    });
  }
});

describe("text forms", () => {
  test.each([
    [2, "PT2S"], [4.04, "PT4.04S"], [0.0004, "PT0S"], [300, "PT300S"], [1.23456, "PT1.235S"], [-1, "PT0S"],
  ])("isoDuration(%p) = %p", (s, want) => {
    expect(isoDuration(s)).toBe(want);
    expect(parseDuration(want)).toBeCloseTo(Math.max(0, Math.round(s * 1000) / 1000), 6);
  });
});

function track(id: "video" | "audio", timescale: number, segs: { number: number; t: number; d: number }[]): MpdTrack {
  return {
    id, codecs: id === "video" ? "avc1.42c01f" : "mp4a.40.2", timescale, bandwidth: id === "video" ? 900000 : 128000,
    width: id === "video" ? 640 : undefined, height: id === "video" ? 360 : undefined,
    sampleRate: id === "audio" ? 44100 : undefined, channels: id === "audio" ? 2 : undefined,
    initialization: `s/${id}-init.mp4`, media: `s/${id}-$Number$.m4s`, segments: segs,
  };
}

const AST = Date.parse("2026-12-05T20:00:00.000Z");

function input(now: number, segs: { number: number; t: number; d: number }[]): MpdInput {
  return {
    availabilityStartTime: new Date(AST), publishTime: new Date(now), minimumUpdatePeriod: 2,
    timeShiftBufferDepth: 6, minBufferTime: 4, suggestedPresentationDelay: 4, maxSegmentDuration: 2,
    tracks: [track("video", 90000, segs.map((s) => ({ number: s.number, t: s.t * 90, d: s.d * 90 }))),
      track("audio", 44100, segs.map((s) => ({ number: s.number, t: Math.round(s.t * 44.1), d: Math.round(s.d * 44.1) })))],
    now: new Date(now),
  };
}

describe("renderMpd", () => {
  const now = Date.parse("2026-12-05T20:00:20.000Z");
  const segs = [{ number: 5, t: 12000, d: 2000 }, { number: 6, t: 14000, d: 2000 }, { number: 7, t: 16000, d: 2000 }, { number: 8, t: 18000, d: 2000 }];
  const text = renderMpd(input(now, segs));

  test("the live-profile attributes and elements players need", () => {
    expect(text).toStartWith(`<?xml version="1.0" encoding="utf-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"`);
    expect(text).toContain(`availabilityStartTime="2026-12-05T20:00:00.000Z"`);
    expect(text).toContain(`minimumUpdatePeriod="PT2S"`);
    expect(text).toContain(`timeShiftBufferDepth="PT6S"`);
    expect(text).toContain(`<SegmentTemplate timescale="90000" initialization="s/video-init.mp4" media="s/video-$Number$.m4s" startNumber="5">`);
    expect(text).toContain(`<S t="1080000" d="180000" r="3"/>`);
    expect(text).toContain(`<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>`);
    expect(text).toContain(`<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2026-12-05T20:00:20.000Z"/>`);
    // UTCTiming comes after the Period (ISO 23009-1 schema order).
    expect(text.indexOf("<UTCTiming")).toBeGreaterThan(text.indexOf("</Period>"));
  });

  test("reads back and passes the rule checker", () => {
    const m = parseMpd(text);
    expect(checkMpd(m, now)).toEqual([]);
    expect(m.reps.map((r) => [r.id, r.segments.map((s) => s.number)])).toEqual([["video", [5, 6, 7, 8]], ["audio", [5, 6, 7, 8]]]);
    expect(m.reps[1]!.segments[1]!.t).toBe(Math.round(14000 * 44.1));
  });

  test("an update: same AST, the window slid, numbers continue", () => {
    const next = renderMpd(input(now + 2000, [...segs.slice(1), { number: 9, t: 20000, d: 2000 }]));
    expect(checkUpdate(parseMpd(text), parseMpd(next))).toEqual([]);
  });

  test("the checker catches what players trip on", () => {
    const skipped = input(now + 2000, [{ number: 10, t: 20000, d: 2000 }]);
    expect(checkUpdate(parseMpd(text), parseMpd(renderMpd(skipped))).join()).toContain("numbers skip from 8 to 10");
    const reused = input(now + 2000, [{ number: 9, t: 16000, d: 2000 }]);
    expect(checkUpdate(parseMpd(text), parseMpd(renderMpd(reused))).join()).toContain("segment 9 overlaps 8");
    const changed = input(now + 2000, [{ number: 8, t: 18000, d: 2100 }]);
    expect(checkUpdate(parseMpd(text), parseMpd(renderMpd(changed))).join()).toContain("segment 8 changed");
    const moved = { ...input(now, segs), availabilityStartTime: new Date(now - 10000) };
    expect(checkUpdate(parseMpd(text), parseMpd(renderMpd(moved))).join()).toContain("availabilityStartTime changed");
    expect(checkMpd(parseMpd(text), now + 60000).join()).toContain("before the wall clock");
    expect(checkMpd(parseMpd(text.replace('type="dynamic"', 'type="static"')), now).join()).toContain("not dynamic");
  });

  test("a track without segments is left out", () => {
    const i = input(now, segs);
    const t = renderMpd({ ...i, tracks: [i.tracks[0]!, { ...i.tracks[1]!, segments: [] }] });
    expect(parseMpd(t).reps.map((r) => r.id)).toEqual(["video"]);
  });
});
