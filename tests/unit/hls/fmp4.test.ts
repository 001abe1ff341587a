/**
 * fMP4 HLS container and LL-HLS parts: clip.flv (10 s, H.264 25 fps with a 2 s GOP + AAC) through the HLS
 * segmenter with Fmp4Container, read back by ffprobe/ffmpeg (init + segment files, and an fMP4 m3u8); the parts
 * are moof+mdat chunks that add up to their segment; LlHls renders the LL tags and answers blocking requests.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { Fmp4Container } from "../../../lib/protocols/hls/fmp4.ts";
import { LlHls } from "../../../lib/protocols/hls/ll.ts";
import { type PlaylistEntry, renderPlaylist } from "../../../lib/protocols/hls/playlist.ts";
import { HlsSegmenter, type PartInfo, type SegmentEnd } from "../../../lib/protocols/hls/segmenter.ts";
import { clip } from "../../helpers/media.ts";
import { tempDir } from "../../helpers/temp.ts";

function packets(): MediaPacket[] {
  const pk: MediaPacket[] = [];
  for (const t of demuxFlv(new Uint8Array(readFileSync(clip("clip.flv")))).tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) pk.push(p);
  }
  return pk;
}

interface Seg {
  end: SegmentEnd;
  bytes: Uint8Array;
  parts: PartInfo[];
}

function segment(partTarget: number): { init: Uint8Array; segs: Seg[] } {
  let init: Uint8Array | undefined;
  const segs: Seg[] = [];
  let chunks: Uint8Array[] = [];
  let parts: PartInfo[] = [];
  const seg = new HlsSegmenter(
    { fragment: 2, aofRatio: 2.1, waitKeyframe: true, partTarget },
    new Fmp4Container({ onInit: (b) => (init = b) }),
    {
      onOpen() {
        chunks = [];
        parts = [];
      },
      onData(b) {
        chunks.push(b);
      },
      onPart(p) {
        parts.push(p);
      },
      onClose(end) {
        segs.push({ end, bytes: Buffer.concat(chunks), parts });
      },
    },
  );
  for (const p of packets()) seg.push(p);
  seg.finish(40);
  return { init: init!, segs };
}

function probe(file: string): { streams: string[]; frames: number } {
  const r = spawnSync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", file], { encoding: "utf8" });
  const rows = r.stdout.trim().split("\n").map((l) => l.split(","));
  return { streams: rows.map((x) => x[0]!), frames: Number(rows.find((x) => x[0] === "h264")?.[1] ?? 0) };
}

function boxes(b: Uint8Array): string[] {
  const out: string[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let o = 0; o + 8 <= b.length;) {
    const size = v.getUint32(o);
    out.push(String.fromCharCode(...b.subarray(o + 4, o + 8)));
    if (size < 8) break;
    o += size;
  }
  return out;
}

describe("fMP4 HLS segments", () => {
  const dir = tempDir("srs-ts-fmp4-");
  const { init, segs } = segment(0);

  test("init segment is ftyp+moov; segments are moof+mdat starting on keyframes, ~2 s each", () => {
    expect(boxes(init)).toEqual(["ftyp", "moov"]);
    expect(segs.length).toBe(5);
    for (const s of segs) {
      expect(boxes(s.bytes)).toEqual(["moof", "mdat"]);
      expect(s.end.independent).toBe(true);
      expect(s.parts.length).toBe(0);
    }
    for (const s of segs.slice(0, -1)) expect(Math.abs(s.end.duration - 2)).toBeLessThan(0.05);
  });

  test("ffprobe reads init + each segment as h264 + aac; ffmpeg decodes the whole fMP4 playlist", () => {
    writeFileSync(join(dir, "init.mp4"), init);
    let video = 0;
    const entries: PlaylistEntry[] = [];
    segs.forEach((s, i) => {
      const f = join(dir, `s-${i}.m4s`);
      writeFileSync(f, s.bytes);
      const one = join(dir, `one-${i}.mp4`);
      writeFileSync(one, Buffer.concat([init, s.bytes]));
      const p = probe(one);
      expect(p.streams).toEqual(["h264", "aac"]);
      video += p.frames;
      entries.push({ seq: i, duration: s.end.duration, uri: `s-${i}.m4s`, file: f, url: `s-${i}.m4s`, discontinuity: i === 0, map: "init.mp4" });
    });
    expect(video).toBe(250);
    const m3u8 = renderPlaylist(entries, 2) + "#EXT-X-ENDLIST\n";
    expect(m3u8).toContain("#EXT-X-VERSION:7\n");
    expect(m3u8.match(/#EXT-X-MAP:URI="init.mp4"/g)?.length).toBe(1);
    writeFileSync(join(dir, "s.m3u8"), m3u8);
    const r = spawnSync("ffmpeg", ["-v", "error", "-i", join(dir, "s.m3u8"), "-map", "0:v", "-f", "null", "-"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const frames = spawnSync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", join(dir, "s.m3u8")], { encoding: "utf8" });
    expect(Number(frames.stdout.trim().split("\n")[0])).toBe(250); // the stream, then its program
  });
});

describe("LL-HLS parts", () => {
  const { init, segs } = segment(0.5);

  test("parts of <= 0.5 s (>= 85% except a segment's last), first one independent, adding up to the segment", () => {
    expect(segs.length).toBe(5);
    for (const s of segs) {
      expect(s.parts.length).toBeGreaterThanOrEqual(4);
      expect(s.parts[0]!.independent).toBe(true);
      for (const p of s.parts.slice(1)) expect(p.independent).toBe(false);
      expect(s.parts[s.parts.length - 1]!.last).toBe(true);
      for (const p of s.parts) {
        expect(p.duration).toBeLessThanOrEqual(0.5);
        expect(boxes(p.bytes)).toEqual(["moof", "mdat"]);
      }
      for (const p of s.parts.slice(0, -1)) expect(p.duration).toBeGreaterThanOrEqual(0.425);
      expect(Buffer.concat(s.parts.map((p) => p.bytes)).equals(Buffer.from(s.bytes))).toBe(true);
      const sum = s.parts.reduce((a, p) => a + p.duration, 0);
      expect(Math.abs(sum - s.end.duration)).toBeLessThan(0.001);
    }
  });

  test("a part on its own after the init segment decodes (independent ones from their keyframe)", () => {
    const dir = tempDir("srs-ts-llpart-");
    const f = join(dir, "p.mp4");
    writeFileSync(f, Buffer.concat([init, segs[1]!.parts[0]!.bytes]));
    const p = probe(f);
    expect(p.streams).toEqual(["h264", "aac"]);
    expect(p.frames).toBe(12);
  });

  test("LlHls: LL tags, parts, preload hint, blocking reload and hinted part", async () => {
    const ll = new LlHls({ partTarget: 0.5, window: 60, targetDuration: (d) => Math.max(2, ...d.map(Math.round)) });
    ll.map = "init.mp4";
    const s0 = segs[0]!;
    ll.open(0, true, "live/s-0.m4s", "s-0.m4s");
    ll.part(s0.parts[0]!);
    let text = ll.render();
    expect(text).toContain("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n");
    expect(text).toContain("#EXT-X-PART-INF:PART-TARGET=0.500\n");
    expect(text).toContain('#EXT-X-MAP:URI="init.mp4"\n');
    expect(text).toMatch(/#EXT-X-PART:DURATION=0\.\d{3},URI="s-0\.p0\.m4s",INDEPENDENT=YES\n/);
    expect(text).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-0.p1.m4s"\n');
    expect(ll.partBytes("live/s-0.p0.m4s")).toBe(s0.parts[0]!.bytes);

    // Already there: at once. Next part: held until it completes. Far ahead: 400.
    expect(await ll.wait(0, 0, 1000)).toBe("ready");
    expect(await ll.wait(5, 0, 1000)).toBe("bad-request");
    const held = ll.wait(0, 1, 1000);
    const hint = ll.waitPart("live/s-0.p1.m4s", 1000);
    let settled = false;
    void held.then(() => (settled = true));
    await Bun.sleep(20);
    expect(settled).toBe(false);
    expect(ll.waiting).toBe(2);
    ll.part(s0.parts[1]!);
    expect(await held).toBe("ready");
    expect(await hint).toBe(s0.parts[1]!.bytes);
    expect(ll.waiting).toBe(0);
    // Past the segment's last part: part 0 of the next segment.
    for (const p of s0.parts.slice(2)) ll.part(p);
    const next = ll.wait(0, s0.parts.length, 1000);
    ll.close(0, s0.end.duration, "live/s-0.m4s", "s-0.m4s");
    ll.open(1, false, "live/s-1.m4s", "s-1.m4s");
    expect(ll.waiting).toBe(1);
    ll.part(segs[1]!.parts[0]!);
    expect(await next).toBe("ready");
    text = ll.render();
    expect(text).toMatch(/#EXTINF:2\.\d{3},\ns-0\.m4s\n/);
    expect(ll.segmentBytes("live/s-0.m4s")?.length).toBe(s0.parts.length);
    // Timeout, and the publisher leaving answers the waiting requests.
    expect(await ll.wait(1, 3, 50)).toBe("timeout");
    const w = ll.wait(2, undefined, 5000);
    ll.stop();
    expect(await w).toBe("ready");
  });
});
