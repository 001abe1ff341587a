/**
 * HLS end to end: ffmpeg publishes clip.flv by RTMP (looped, -re); the server writes segments and the m3u8
 * under hls_path (in its temp dir); ffmpeg/ffprobe play them back over HTTP, with SRS's hls_ctx sessions.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { waitForValue as waitFor } from "../helpers/wait.ts";
import { clip } from "../helpers/media.ts";
import { playFrames, type Proc, probeStreams, publish, type RunningServer, run, startServer } from "../helpers/server.ts";

const { procs: children, servers } = cleanupAfterAll();

const HLS_ENV = {
  SRS_VHOST_HLS_ENABLED: "on",
  SRS_VHOST_HLS_HLS_FRAGMENT: "2",
  SRS_VHOST_HLS_HLS_WINDOW: "6",
  SRS_VHOST_HLS_HLS_PATH: "./hls",
  SRS_VHOST_HLS_HLS_DISPOSE: "3",
};


interface Parsed {
  version: number;
  target: number;
  seq: number;
  entries: { duration: number; uri: string }[];
  discontinuities: number;
}
function parse(m3u8: string): Parsed {
  const lines = m3u8.trim().split("\n");
  const num = (tag: string) => Number(lines.find((l) => l.startsWith(tag))?.slice(tag.length) ?? NaN);
  const entries: { duration: number; uri: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^#EXTINF:([\d.]+), no desc$/.exec(lines[i]!);
    if (m) entries.push({ duration: Number(m[1]), uri: lines[i + 1]! });
  }
  return {
    version: num("#EXT-X-VERSION:"), target: num("#EXT-X-TARGETDURATION:"), seq: num("#EXT-X-MEDIA-SEQUENCE:"), entries,
    discontinuities: lines.filter((l) => l === "#EXT-X-DISCONTINUITY").length,
  };
}

describe("HLS from an RTMP publisher", () => {
  let s: RunningServer;
  let pub: Proc;
  let dir: string;
  const m3u8Path = () => join(dir, "live/s.m3u8");
  beforeAll(async () => {
    s = await startServer({ env: HLS_ENV });
    servers.push(s);
    dir = join(s.dir, "hls");
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    children.push(pub);
    await waitFor("m3u8", () => existsSync(m3u8Path()));
    await Bun.sleep(8000);
  });

  test("m3u8 on disk as SRS writes it; window, target duration and media sequence advance", async () => {
    const text = readFileSync(m3u8Path(), "utf8");
    expect(text.startsWith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:")).toBe(true);
    const p1 = parse(text);
    expect(p1.target).toBe(2);
    expect(p1.entries.length).toBeGreaterThanOrEqual(3);
    for (const e of p1.entries) {
      expect(e.uri).toMatch(/^s-\d+\.ts$/);
      expect(Math.abs(e.duration - 2)).toBeLessThan(0.1);
    }
    const sum = p1.entries.reduce((a, e) => a + e.duration, 0);
    expect(sum).toBeGreaterThanOrEqual(6 - 0.1);
    expect(sum).toBeLessThan(6 + 2.1);
    expect(Number(p1.entries[0]!.uri.match(/\d+/)![0])).toBe(p1.seq);
    // segments on disk: the listed ones (cleanup removed older ones) plus at most one being written
    const files = readdirSync(join(dir, "live"));
    const ts = files.filter((f) => f.endsWith(".ts"));
    const tmp = files.filter((f) => f.endsWith(".tmp"));
    expect(tmp.length).toBeLessThanOrEqual(1);
    for (const t of tmp) expect(t).toMatch(/^s-\d+\.ts\.tmp$/);
    expect(ts.sort()).toEqual(p1.entries.map((e) => e.uri).sort());
    if (p1.seq > 0) expect(existsSync(join(dir, "live/s-0.ts"))).toBe(false);

    await Bun.sleep(4500);
    const p2 = parse(readFileSync(m3u8Path(), "utf8"));
    expect(p2.seq).toBeGreaterThanOrEqual(p1.seq + 2);
    expect(existsSync(join(dir, "live", p1.entries[0]!.uri))).toBe(false);
  }, 30000);

  test("HTTP: hls_ctx master playlist, media playlist and segments with SRS headers", async () => {
    const r = await fetch(s.httpUrl("/live/s.m3u8"));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(r.headers.get("cache-control")).toBe("no-cache");
    const master = await r.text();
    const m = /^#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\n(\/live\/s\.m3u8\?hls_ctx=(\w+))\n$/.exec(master);
    expect(m).not.toBeNull();
    const [, uri, id] = m!;
    const media = await (await fetch(s.httpUrl(uri!))).text();
    const p = parse(media);
    expect(p.entries.length).toBeGreaterThanOrEqual(3);
    for (const e of p.entries) expect(e.uri).toMatch(new RegExp(`^s-\\d+\\.ts\\?hls_ctx=${id}$`));
    const seg = await fetch(s.httpUrl(`/live/${p.entries[0]!.uri}`));
    expect(seg.status).toBe(200);
    expect(seg.headers.get("content-type")).toBe("video/mp2t");
    expect(seg.headers.get("cache-control")).toContain("max-age");
    const body = new Uint8Array(await seg.arrayBuffer());
    expect(body.length % 188).toBe(0);
    expect(body[0]).toBe(0x47);
    // the session is a client of the server
    await waitFor("hls-play log", () => s.output().includes(`hls: play ${id} live/s started, type=hls-play`), 3000);
    // path traversal refused, plain files still served without hls_ctx
    const bad = await fetch(s.httpUrl("/live/..%2f..%2fsrs.conf.ts"));
    expect(bad.status === 403 || bad.status === 404).toBe(true);
    const missing = await fetch(s.httpUrl("/live/nope.m3u8"));
    expect(missing.status).toBe(404);
  });

  test("ffmpeg plays the live playlist: h264 + aac, ~100 frames in 4 s", async () => {
    const url = s.httpUrl("/live/s.m3u8");
    const streams = await probeStreams(url);
    expect(streams.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
    const v = streams.find((x) => x.codec_type === "video")!;
    expect([v.width, v.height]).toEqual([640, 360]);
    const r = await playFrames(url, 4, 15000);
    expect(r.video).toBeGreaterThanOrEqual(90);
    expect(r.video).toBeLessThanOrEqual(110);
  }, 40000);

  test("unpublish: no .tmp left; after hls_dispose every file is removed", async () => {
    pub.kill();
    await pub.done;
    await waitFor("unpublish", () => s.output().includes("hls: __defaultVhost__/live/s unpublish"), 10000);
    await Bun.sleep(500);
    const files = readdirSync(join(dir, "live"));
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(files).toContain("s.m3u8");
    await waitFor("dispose", () => s.output().includes("hls: __defaultVhost__/live/s disposed"), 10000);
    expect(readdirSync(join(dir, "live"))).toEqual([]);
  }, 30000);
});

describe("HLS variants", () => {
  test("a republish continues the sequence with EXT-X-DISCONTINUITY; hls_ctx off serves plain files", async () => {
    const s = await startServer({ env: { ...HLS_ENV, SRS_VHOST_HLS_HLS_DISPOSE: "30", SRS_VHOST_HLS_HLS_CTX: "off" } });
    servers.push(s);
    const m3u8 = join(s.dir, "hls/live/r.m3u8");
    let p = publish(clip("clip.flv"), s.rtmpUrl("/live/r"));
    children.push(p);
    await waitFor("first segments", () => existsSync(m3u8) && parse(readFileSync(m3u8, "utf8")).entries.length >= 2);
    p.kill();
    await p.done;
    await waitFor("unpublish", () => s.output().includes("live/r unpublish"), 10000);
    const before = parse(readFileSync(m3u8, "utf8"));
    p = publish(clip("clip.flv"), s.rtmpUrl("/live/r"));
    children.push(p);
    // The first publish's playlist already starts with a discontinuity (as SRS's); the republish adds one more.
    await waitFor("segments after republish", () => {
      const pl = parse(readFileSync(m3u8, "utf8"));
      return pl.discontinuities > before.discontinuities && readFileSync(m3u8, "utf8").trimEnd().endsWith(".ts");
    });
    const after = readFileSync(m3u8, "utf8");
    const lines = after.split("\n");
    const d = lines.lastIndexOf("#EXT-X-DISCONTINUITY");
    const lastBefore = before.entries[before.entries.length - 1]!.uri;
    const num = (uri: string) => Number(uri.match(/\d+/)![0]);
    // The entry before the new discontinuity is the first publish's last segment (its final short segment may have
    // been written after `before` was read; a slow run may have slid it out of the window): the first entry
    // after it continues that sequence.
    const prev = lines[d - 1]!.startsWith("#") ? lastBefore : lines[d - 1]!;
    expect(num(prev)).toBeGreaterThanOrEqual(num(lastBefore));
    expect(lines[d + 2]).toBe(`r-${num(prev) + 1}.ts`);
    // hls_ctx off: the playlist is the file itself
    const r = await fetch(s.httpUrl("/live/r.m3u8"));
    expect(await r.text()).toBe(readFileSync(m3u8, "utf8"));
    p.kill();
  }, 40000);

  test("audio-only stream (publish -vn) gives a playable AAC HLS", async () => {
    const s = await startServer({ env: HLS_ENV });
    servers.push(s);
    const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.flv"), "-vn", "-c", "copy", "-f", "flv", s.rtmpUrl("/live/a")]);
    children.push(p);
    const m3u8 = join(s.dir, "hls/live/a.m3u8");
    await waitFor("audio m3u8 with 2 segments", () => existsSync(m3u8) && parse(readFileSync(m3u8, "utf8")).entries.length >= 2, 25000);
    const pl = parse(readFileSync(m3u8, "utf8"));
    // pure audio: segments of hls_fragment * hls_aof_ratio (2 * 2.1)
    for (const e of pl.entries) expect(Math.abs(e.duration - 4.2)).toBeLessThan(0.1);
    const url = s.httpUrl("/live/a.m3u8");
    const streams = await probeStreams(url);
    expect(streams.map((x) => x.codec_name)).toEqual(["aac"]);
    const prog = join(s.dir, "a-progress.txt");
    const play = run("ffmpeg", ["-hide_banner", "-v", "error", "-i", url, "-t", "3", "-f", "null", "-progress", prog, "-"], { timeoutMs: 30000 });
    expect(await play.done).toBe(0);
    expect(play.output()).toBe("");
    const outTime = [...readFileSync(prog, "utf8").matchAll(/^out_time_us=(\d+)/gm)].map((x) => Number(x[1]));
    expect(outTime[outTime.length - 1]! / 1e6).toBeGreaterThan(2.5);
    p.kill();
  }, 60000);

  test("an unwritable hls_path logs an error while RTMP players still get frames", async () => {
    const s0 = await startServer({ env: HLS_ENV });
    servers.push(s0);
    const blocker = join(s0.dir, "not-a-dir");
    writeFileSync(blocker, "x");
    await s0.stop();
    const s = await startServer({ env: { ...HLS_ENV, SRS_VHOST_HLS_HLS_PATH: join(blocker, "hls") } });
    servers.push(s);
    const p = publish(clip("clip.flv"), s.rtmpUrl("/live/e"));
    children.push(p);
    await waitFor("hls error line", () => /hls: __defaultVhost__\/live\/e open segment .* failed: .*hls_on_error continue/.test(s.output()), 15000);
    const r = await playFrames(s.rtmpUrl("/live/e"), 3, 10000);
    expect(r.video).toBeGreaterThanOrEqual(60);
    p.kill();
  }, 60000);
});
