/** HLS segmenter cutting rules and playlist rendering/templating (pure, no IO). */
import { describe, expect, test } from "bun:test";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import {
  addQueryToUris, expandTemplate, type PlaylistEntry, renderMasterPlaylist, renderPlaylist, shrinkWindow, targetDuration,
} from "../../../lib/protocols/hls/playlist.ts";
import { expandTimeVars } from "../../../lib/formats/path-template.ts";
import { HlsSegmenter, type SegmentContainer, type SegmentEnd, type SegmentStart } from "../../../lib/protocols/hls/segmenter.ts";

class FakeContainer implements SegmentContainer {
  readonly extension = "bin";
  begin(): Uint8Array {
    return Uint8Array.of(0xaa);
  }
  write(p: MediaPacket): Uint8Array | null {
    return p.config ? null : Uint8Array.of(1);
  }
  end(): null {
    return null;
  }
}

function run(packets: MediaPacket[], opts = { fragment: 2, aofRatio: 2.1, waitKeyframe: true }) {
  const opened: SegmentStart[] = [];
  const closed: SegmentEnd[] = [];
  let bytes = 0;
  const s = new HlsSegmenter(opts, new FakeContainer(), {
    onOpen: (x) => opened.push(x), onData: (b) => (bytes += b.length), onClose: (x) => closed.push(x),
  });
  for (const p of packets) s.push(p);
  s.finish(40);
  return { opened, closed, bytes };
}

const v = (dts: number, key = false): MediaPacket => ({ kind: "video", codec: "h264", dts, pts: dts, keyframe: key, config: false, data: new Uint8Array(1) });
const a = (dts: number): MediaPacket => ({ kind: "audio", codec: "aac", dts, pts: dts, keyframe: false, config: false, data: new Uint8Array(1) });
const vcfg: MediaPacket = { kind: "video", codec: "h264", dts: 0, pts: 0, keyframe: true, config: true, data: new Uint8Array(1) };

describe("segmenter", () => {
  test("cuts at the first keyframe once hls_fragment is reached; starts on a keyframe", () => {
    const ps: MediaPacket[] = [vcfg, a(0), v(0, false)];
    for (let t = 40; t < 10000; t += 40) ps.push(v(t, t % 3000 === 0), a(t));
    const r = run(ps);
    expect(r.opened[0]!.startDts).toBe(3000);
    expect(r.closed.map((c) => c.duration)).toEqual([3, 3, 1]);
    expect(r.closed[0]!.discontinuity).toBe(true);
    expect(r.closed[1]!.discontinuity).toBe(false);
    expect(r.closed.map((c) => c.seq)).toEqual([0, 1, 2]);
  });

  test("hls_wait_keyframe off cuts at any video frame; a GOP longer than fragment*aof is force-cut", () => {
    const ps: MediaPacket[] = [vcfg];
    for (let t = 0; t < 5000; t += 40) ps.push(v(t, t === 0));
    expect(run(ps, { fragment: 2, aofRatio: 2.1, waitKeyframe: false }).closed.length).toBe(3);
    const forced = run(ps, { fragment: 1, aofRatio: 2, waitKeyframe: true });
    expect(forced.closed[0]!.duration).toBe(2);
    expect(forced.closed[1]!.independent).toBe(false);
  });

  test("audio-only streams cut at hls_fragment * hls_aof_ratio", () => {
    const ps: MediaPacket[] = [];
    for (let t = 0; t < 10000; t += 23) ps.push(a(t));
    const r = run(ps, { fragment: 2, aofRatio: 1.5, waitKeyframe: true });
    expect(r.closed.length).toBe(4);
    expect(r.closed[0]!.duration).toBeCloseTo(3.013, 3);
  });
});

describe("playlist", () => {
  const e = (seq: number, duration: number, disc = false): PlaylistEntry => ({ seq, duration, uri: `s-${seq}.ts`, file: `x/s-${seq}.ts`, url: `live/s-${seq}.ts`, discontinuity: disc });

  test("renders as SRS", () => {
    const list = [e(0, 10.68, true), e(1, 10)];
    expect(renderPlaylist(list, targetDuration(list, 10, 1.0))).toBe(
      "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:11\n#EXT-X-DISCONTINUITY\n" +
        "#EXTINF:10.680, no desc\ns-0.ts\n#EXTINF:10.000, no desc\ns-1.ts\n",
    );
    expect(targetDuration([e(0, 2)], 2, 1.5)).toBe(3);
    expect(targetDuration([e(0, 2.009), e(1, 2)], 2, 1)).toBe(2); // rounded to the nearest integer
    expect(targetDuration([e(0, 2.6)], 2, 1)).toBe(3);
    expect(renderMasterPlaylist("/live/s.m3u8?hls_ctx=abc")).toBe("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\n/live/s.m3u8?hls_ctx=abc\n");
    expect(addQueryToUris("#EXTM3U\n#EXTINF:1, no desc\ns-1.ts\nx.ts?a=1\n", "hls_ctx=z")).toBe("#EXTM3U\n#EXTINF:1, no desc\ns-1.ts?hls_ctx=z\nx.ts?a=1&hls_ctx=z\n");
  });

  test("window keeps the newest segments adding up to at least hls_window", () => {
    const list = [e(0, 2), e(1, 2), e(2, 2), e(3, 2), e(4, 2)];
    const removed = shrinkWindow(list, 6);
    expect(removed.map((x) => x.seq)).toEqual([0, 1]);
    expect(list.map((x) => x.seq)).toEqual([2, 3, 4]);
    const short = [e(0, 1), e(1, 1)];
    expect(shrinkWindow(short, 6)).toEqual([]);
  });

  test("templates", () => {
    const time = new Date(2006, 0, 2, 15, 4, 5, 999);
    const vars = { vhost: "v", app: "live", stream: "s", time, seq: 7, durationMs: 2040 };
    expect(expandTemplate("[vhost]/[app]/[stream]-[2006][01][02][15][04][05][999]-[seq]-[duration].ts", vars)).toBe("v/live/s-20060102150405999-7-2040.ts");
    expect(expandTemplate("[timestamp]", vars)).toBe(String(time.getTime()));
    expect(expandTemplate("[timestamp]", { ...vars, floorFragmentMs: 10000 })).toBe(String(Math.floor(time.getTime() / 10000)));
    // The time variables alone (ingest/transcode outputs): the others stay as they are.
    expect(expandTimeVars("[vhost]/[stream]-[2006][01][02][15][04][05][999]-[seq].[timestamp].flv", time.getTime()))
      .toBe(`[vhost]/[stream]-20060102150405999-[seq].${time.getTime()}.flv`);
    expect(expandTimeVars("no variables", time.getTime())).toBe("no variables");
  });
});
