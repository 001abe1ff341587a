/**
 * MPEG-DASH end to end: ffmpeg publishes clip.flv by RTMP (looped, -re); the server writes the MPD and fMP4
 * segments under dash_path and serves them on http_server. Checked with real players: FFmpeg's dashdec (frames of
 * both streams decoded), dash.js in headless Chromium (srs_player.html: currentTime advances, no errors), and the
 * DASH-IF live rules players depend on, on MPDs polled from the running server
 * (tests/helpers/mpd.ts): dynamic, AST fixed across updates, timeline in step with the wall clock, template numbers
 * continuous, every listed segment served; across a republish (dash.js playing through it), a reload turning DASH off and on, dispose,
 * cleanup and a shutdown with a DASH player connected.
 *
 * Not GStreamer: its dashdemux/dashdemux2 (1.22) place a live SegmentTimeline wrongly when the first listed
 * segment does not start at time 0 (gstmpdclient.c gst_mpd_client_stream_seek adds the first segment's start to
 * the repeat index), so it waits minutes for a segment far past the live edge; FFmpeg's own live DASH output
 * shows the same once its window slides.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { serverConf } from "../helpers/conf.ts";
import { clip } from "../helpers/media.ts";
import { checkMpd, checkUpdate, type ParsedMpd, parseMpd, segmentUrl } from "../helpers/mpd.ts";
import { type Proc, publish, reloadConfig, type RunningServer, run, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";
import { waitForValue } from "../helpers/wait.ts";

const { procs: children, servers, cleanup } = cleanupAfterAll();
let browser: TestBrowser | undefined;
cleanup.push(() => browser?.close());

const DASH = (on = true) => `dash { enabled ${on ? "on" : "off"}; dash_fragment 2; dash_update_period 2; dash_window_size 5; dash_path ./dash; dash_dispose 4; }`;

async function getMpd(s: RunningServer, path = "/live/s.mpd"): Promise<{ text: string; m: ParsedMpd; res: Response } | undefined> {
  const res = await fetch(s.httpUrl(path));
  if (res.status !== 200) return undefined;
  const text = await res.text();
  return { text, m: parseMpd(text), res };
}

/** Frames decoded by ffmpeg from `url` in `seconds` of media: video and audio counted separately. */
async function decodeFrames(url: string, seconds: number): Promise<{ video: number; audio: number; log: string }> {
  const dir = tempDir("srs-ts-dash-play-");
  const p = run("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "error", "-rw_timeout", "8000000", "-i", url,
    "-t", String(seconds), "-map", "0:v:0", "-f", "framecrc", join(dir, "v.txt"),
    "-t", String(seconds), "-map", "0:a:0", "-f", "framecrc", join(dir, "a.txt"),
  ], { timeoutMs: (seconds + 30) * 1000 });
  await p.done;
  const frames = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").split("\n").filter((l) => /^\d+,/.test(l)).length : 0);
  return { video: frames(join(dir, "v.txt")), audio: frames(join(dir, "a.txt")), log: p.output() };
}

/** Every init and listed segment of the MPD answers 200 with the right headers. */
async function allSegmentsServed(s: RunningServer, m: ParsedMpd, base = "/live/"): Promise<string[]> {
  const bad: string[] = [];
  for (const r of m.reps) {
    const urls = [r.initialization, ...r.segments.map((x) => segmentUrl(r, x.number))];
    for (const u of urls) {
      const res = await fetch(s.httpUrl(base + u));
      const body = await res.arrayBuffer();
      if (res.status !== 200 || body.byteLength < 8) bad.push(`${u}: ${res.status} ${body.byteLength}B`);
      else if (res.headers.get("content-type") !== "video/mp4") bad.push(`${u}: ${res.headers.get("content-type")}`);
      else if (u.endsWith(".m4s") && !/max-age=\d+/.test(res.headers.get("cache-control") ?? "")) bad.push(`${u}: cache ${res.headers.get("cache-control")}`);
    }
  }
  return bad;
}

/** A server with DASH on and clip.flv published to live/<stream>; `mpd`: the first of its MPDs that `ready` accepts. */
async function publishedDash(stream: string, ready: (m: ParsedMpd) => boolean): Promise<{ s: RunningServer; pub: Proc; mpd: ParsedMpd }> {
  const s = await startServer({ config: serverConf(DASH()) });
  servers.push(s);
  const pub = publish(clip("clip.flv"), s.rtmpUrl(`/live/${stream}`));
  children.push(pub);
  const r = await waitForValue(`an MPD of live/${stream} with segments`, async () => {
    const r = await getMpd(s, `/live/${stream}.mpd`);
    return r && ready(r.m) ? r : undefined;
  }, 30000);
  return { s, pub, mpd: r.m };
}

const TWO_SEGMENTS = (m: ParsedMpd) => (m.reps[0]?.segments.length ?? 0) >= 2;

describe("DASH from an RTMP publisher", () => {
  let s: RunningServer;
  let pub: Proc;
  let first: ParsedMpd;
  beforeAll(async () => {
    ({ s, pub, mpd: first } = await publishedDash("s", (m) => m.reps.length === 2 && m.reps.every((x) => x.segments.length >= 3)));
  }, 60000);

  test("the MPD: served no-cache as application/dash+xml, live-profile rules, files as SRS lays them out", async () => {
    const r = (await getMpd(s))!;
    expect(r.res.headers.get("content-type")).toBe("application/dash+xml");
    expect(r.res.headers.get("cache-control")).toBe("no-cache");
    expect(checkMpd(r.m)).toEqual([]);
    expect(r.m.attrs.minimumUpdatePeriod).toBe("PT2S");
    expect(r.m.utcTiming?.scheme).toBe("urn:mpeg:dash:utc:direct:2014");
    expect(Math.abs(Date.parse(r.m.utcTiming!.value) - Date.now())).toBeLessThan(5000);
    expect(r.m.reps.map((x) => [x.id, x.codecs, x.timescale, x.initialization, x.media])).toEqual([
      ["video", "avc1.42c01f", 90000, "s/video-init.mp4", "s/video-$Number$.m4s"],
      ["audio", "mp4a.40.2", 44100, "s/audio-init.mp4", "s/audio-$Number$.m4s"],
    ]);
    // Segments of ~2 s (GOP 2 s), no gaps within a publish.
    for (const x of r.m.reps) {
      expect(x.gaps).toEqual([]);
      for (const seg of x.segments) expect(Math.abs(seg.d / x.timescale - 2)).toBeLessThan(0.1);
    }
    const dir = join(s.dir, "dash/live");
    expect(existsSync(join(dir, "s.mpd"))).toBe(true);
    expect(readdirSync(join(dir, "s")).filter((f) => f.endsWith("-init.mp4")).sort()).toEqual(["audio-init.mp4", "video-init.mp4"]);
    expect(await allSegmentsServed(s, r.m)).toEqual([]);
  });

  test("updates keep the rules: AST fixed, numbers continue, old segments cleaned up", async () => {
    let prev = first;
    for (let i = 0; i < 4; i++) {
      await Bun.sleep(1500);
      const r = (await getMpd(s))!;
      expect(checkMpd(r.m)).toEqual([]);
      expect(checkUpdate(prev, r.m)).toEqual([]);
      prev = r.m;
    }
    const v = prev.reps[0]!;
    expect(v.segments[v.segments.length - 1]!.number).toBeGreaterThan(first.reps[0]!.segments[first.reps[0]!.segments.length - 1]!.number);
    expect(v.segments.length).toBeLessThanOrEqual(5);
    // dash_cleanup: at most the window plus one more window of retired segments per track stay on disk.
    const files = readdirSync(join(s.dir, "dash/live/s")).filter((f) => f.endsWith(".m4s"));
    expect(files.length).toBeLessThanOrEqual(2 * (5 + 5 + 1));
  });

  test("FFmpeg plays the MPD: H.264 and AAC frames decoded", async () => {
    const r = await decodeFrames(s.httpUrl("/live/s.mpd"), 6);
    // 6 s of 25 fps video and 44.1 kHz AAC (1024 samples a frame): 150 and ~258.
    expect(r.video).toBeGreaterThanOrEqual(140);
    expect(r.audio).toBeGreaterThanOrEqual(240);
  }, 60000);

  test("dash.js plays it in Chromium through srs_player.html (currentTime advances, 640 wide, no errors)", async () => {
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(s.httpUrl("/players/srs_player.html?autostart=true&app=live&stream=s.mpd"));
    await page.waitForFunction(() => {
      const v = document.querySelector("video");
      return !!v && v.videoWidth > 0 && v.currentTime > 0;
    }, undefined, { timeout: 30000, polling: 200 });
    const t0 = await page.evaluate(() => document.querySelector("video")!.currentTime);
    await page.waitForTimeout(4000);
    const r = await page.evaluate(() => {
      const v = document.querySelector("video")!;
      return { width: v.videoWidth, t: v.currentTime, state: document.querySelector("#state")?.textContent ?? "" };
    });
    expect(r.width).toBe(640);
    expect(r.t - t0).toBeGreaterThan(3);
    expect(await page.textContent('[data-stat="Engine"]')).toContain("dash.js");
    expect(r.state).not.toMatch(/error/i);
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);

  test("the home page lists the DASH URL (config.json names the vhosts with DASH on)", async () => {
    const cfg = await (await fetch(s.httpUrl("/console/config.json"))).json() as { dash: string[] };
    expect(cfg.dash).toEqual(["__defaultVhost__"]);
    browser ??= await launchBrowser();
    const page = await browser.context.newPage();
    await page.goto(s.httpUrl("/"));
    await page.waitForFunction(() => (document.querySelector("#play")?.textContent ?? "").includes(".mpd"), undefined, { timeout: 10000 });
    expect(await page.textContent("#play")).toContain(s.httpUrl("/live/livestream.mpd"));
    await page.close();
  }, 30000);

  test("dash.js keeps playing across a republish (it jumps the outage's gap)", async () => {
    browser ??= await launchBrowser();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(s.httpUrl("/players/srs_player.html?autostart=true&app=live&stream=s.mpd"));
    await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 1, undefined, { timeout: 30000, polling: 200 });
    pub.kill();
    await pub.done;
    const atKill = await page.evaluate(() => document.querySelector("video")!.currentTime);
    await Bun.sleep(3000);
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    children.push(pub);
    // The outage (~3 s plus the first keyframe) is skipped: playback goes on well past it.
    await page.waitForFunction((t) => document.querySelector("video")!.currentTime > t + 10, atKill, { timeout: 40000, polling: 200 });
    expect(errors).toEqual([]);
    expect(await page.textContent("#state")).toBe("Playing");
    await page.close();
  }, 90000);

  test("republish: numbers continue, AST unchanged, the timeline resumes at the wall clock; FFmpeg plays again", async () => {
    const before = (await getMpd(s))!.m;
    pub.kill();
    await pub.done;
    await Bun.sleep(3000);
    const stopped = (await getMpd(s))!.m;
    expect(checkUpdate(before, stopped)).toEqual([]);
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    children.push(pub);
    const lastBefore = stopped.reps.map((r) => r.segments[r.segments.length - 1]!.number);
    const after = (await waitForValue("3 segments after the republish", async () => {
      const r = await getMpd(s);
      return r && r.m.reps.every((x, i) => x.segments[x.segments.length - 1]!.number >= lastBefore[i]! + 3) ? r : undefined;
    }, 30000)).m;
    expect(checkUpdate(stopped, after)).toEqual([]);
    expect(checkMpd(after)).toEqual([]);
    for (const r of after.reps) {
      // Gaps only where the publisher was away (about 3 s plus the time to its first keyframe): this republish's,
      // perhaps the previous test's still in the window.
      expect(r.gaps.length).toBeLessThanOrEqual(2);
      for (const [, g] of r.gaps) expect(g).toBeLessThan(8);
    }
    expect(await allSegmentsServed(s, after)).toEqual([]);
    // FFmpeg starts at the oldest listed segment: 8 s of timeline hold the ~3-5 s gap of the republish.
    const play = await decodeFrames(s.httpUrl("/live/s.mpd"), 8);
    expect(play.video).toBeGreaterThanOrEqual(75);
    expect(play.audio).toBeGreaterThanOrEqual(130);
  }, 90000);

  test("reload: dash off by SIGHUP with the publisher connected stops it, on again resumes the same presentation", async () => {
    const before = (await getMpd(s))!.m;
    await reloadConfig(s, serverConf(DASH(false)));
    expect(s.output()).toContain("dash: __defaultVhost__/live/s unpublish");
    const off = (await getMpd(s))?.m; // the last MPD stays on disk (served from disk: dash is off for the vhost)
    const n0 = before.reps[0]!.segments.at(-1)!.number;
    await Bun.sleep(3000);
    expect((await fetch(s.httpUrl("/live/s.mpd"))).status).not.toBe(500);
    await reloadConfig(s, serverConf(DASH(true)));
    const on = (await waitForValue("segments after dash on", async () => {
      const r = await getMpd(s);
      return r && r.m.reps[0]!.segments.at(-1)!.number >= n0 + 3 ? r : undefined;
    }, 30000)).m;
    expect(on.attrs.availabilityStartTime).toBe(before.attrs.availabilityStartTime);
    expect(checkMpd(on)).toEqual([]);
    expect(checkUpdate(before, on)).toEqual([]);
    void off;
  }, 60000);
});

describe("DASH dispose and shutdown", () => {
  test("dash_dispose removes the MPD and segments after the unpublish", async () => {
    const { s, pub } = await publishedDash("d", TWO_SEGMENTS);
    pub.kill();
    await pub.done;
    const dir = join(s.dir, "dash/live");
    await waitForValue("unpublish", () => s.output().includes("dash: __defaultVhost__/live/d unpublish"), 10000);
    expect(existsSync(join(dir, "d.mpd"))).toBe(true);
    await waitForValue("dispose", () => s.output().includes("dash: __defaultVhost__/live/d disposed"), 15000);
    expect(existsSync(join(dir, "d.mpd"))).toBe(false);
    expect(readdirSync(join(dir, "d")).filter((f) => f.endsWith(".m4s") || f.endsWith(".mp4"))).toEqual([]);
    expect((await fetch(s.httpUrl("/live/d.mpd"))).status).toBe(404);
    expect(await s.stop()).toBe(0);
  }, 60000);

  test("shutdown with a DASH player connected: the server exits 0 promptly", async () => {
    const { s } = await publishedDash("q", TWO_SEGMENTS);
    const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.httpUrl("/live/q.mpd"), "-f", "null", "-"], { timeoutMs: 60000 });
    children.push(player);
    await Bun.sleep(3000);
    const t0 = Date.now();
    expect(await s.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10000);
  }, 60000);
});

describe("DASH on an edge", () => {
  test("MPD requests alone make the edge pull the stream; DASH is written there and FFmpeg plays it", async () => {
    const o = await startServer();
    servers.push(o);
    const e = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
  cluster { mode remote; origin 127.0.0.1:${o.rtmp}; }
  ${DASH()}
}
`,
    });
    servers.push(e);
    const pub = publish(clip("clip.flv"), o.rtmpUrl("/live/eg"));
    children.push(pub);
    await waitForValue("ffmpeg publishing", () => o.output().includes("fmle-publish"), 15000);
    expect((await fetch(e.httpUrl("/live/eg.mpd"))).status).toBe(404); // nothing yet: the pull starts now
    const r = await waitForValue("an MPD on the edge", async () => {
      const x = await getMpd(e, "/live/eg.mpd");
      return x && x.m.reps.every((rep) => rep.segments.length >= 2) ? x : undefined;
    }, 30000);
    expect(e.output()).toContain("edge pull __defaultVhost__/live/eg");
    expect(checkMpd(r.m)).toEqual([]);
    const play = await decodeFrames(e.httpUrl("/live/eg.mpd"), 3);
    expect(play.video).toBeGreaterThanOrEqual(70);
    expect(play.audio).toBeGreaterThanOrEqual(120);
  }, 60000);
});
