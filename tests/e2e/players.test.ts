/**
 * The embedded players in headless Chromium (playwright-core) against a running server with a published clip:
 * srs_player.html plays HTTP-FLV (mpegts.js) and HLS (hls.js), rtc_player.html and whep.html play over WebRTC,
 * whip.html publishes the fake camera; each with SRS's query parameters only (autostart, app, stream).
 * "Plays" means: the <video>'s currentTime advances, videoWidth is the clip's 640, and the page threw nothing.
 * SCREENSHOTS=1 also writes docs/player.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { freePort, type Proc, publish, type RunningServer, startServer, rtcEnv } from "../helpers/server.ts";

let srv: RunningServer;
let browser: TestBrowser;
let ff: Proc;
let udp: number;

beforeAll(async () => {
  udp = await freePort();
  srv = await startServer({
    env: {
      ...rtcEnv(udp),
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
      SRS_VHOST_HLS_ENABLED: "on",
      SRS_VHOST_HLS_HLS_FRAGMENT: "2",
      SRS_VHOST_HLS_HLS_WINDOW: "10",
    },
  });
  ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/clip"));
  browser = await launchBrowser();
}, 60000);

afterAll(async () => {
  ff?.kill();
  await browser?.close();
  await srv?.stop();
});

interface Opened {
  page: Page;
  errors: string[];
}

async function open(path: string): Promise<Opened> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(srv.httpUrl(path));
  // The page's module script fills #url after it fetched /console/config.json, which may end after "load".
  if (await page.$("#url")) await page.waitForFunction(() => (document.querySelector("#url") as HTMLInputElement).value !== "");
  return { page, errors };
}

/** Waits until the page's <video> has played `seconds` past its first frame; returns its size and progress. */
async function playing(page: Page, seconds: number, timeoutMs: number): Promise<{ width: number; height: number; advanced: number }> {
  await page.waitForFunction(() => {
    const v = document.querySelector("video");
    return !!v && v.videoWidth > 0 && v.currentTime > 0;
  }, undefined, { timeout: timeoutMs, polling: 200 });
  const t0 = await page.evaluate(() => document.querySelector("video")!.currentTime);
  await page.waitForFunction((t0) => document.querySelector("video")!.currentTime >= t0 + 0.1, t0, { timeout: timeoutMs });
  await page.waitForTimeout(seconds * 1000);
  return await page.evaluate((t0) => {
    const v = document.querySelector("video")!;
    return { width: v.videoWidth, height: v.videoHeight, advanced: v.currentTime - t0 };
  }, t0);
}

describe("players", () => {
  test("the vendored mpegts.js, hls.js and dash.js are the npm packages' builds (npm run build:www after a bump)", async () => {
    const pairs: [string, string][] = [
      ["www/players/js/mpegts.js", "node_modules/mpegts.js/dist/mpegts.js"],
      ["www/players/js/hls.min.js", "node_modules/hls.js/dist/hls.light.min.js"],
      ["www/players/js/dash.mediaplayer.min.js", "node_modules/dashjs/dist/modern/umd/dash.mediaplayer.min.js"],
    ];
    for (const [ours, theirs] of pairs) {
      expect(readFileSync(join(REPO_ROOT, ours)).equals(readFileSync(join(REPO_ROOT, theirs)))).toBe(true);
      const res = await fetch(srv.httpUrl(ours.slice(3)));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("javascript");
      expect((await res.arrayBuffer()).byteLength).toBe(readFileSync(join(REPO_ROOT, ours)).length);
    }
  });

  test("/players/ links every player and publisher with the stream typed in", async () => {
    const { page, errors } = await open("/players/");
    await page.fill("#stream", "live/clip");
    const hrefs = await page.$$eval("a[data-page]", (as) => as.map((a) => (a as HTMLAnchorElement).getAttribute("href")));
    expect(hrefs).toEqual([
      "srs_player.html?app=live&stream=clip.flv&autostart=true",
      "srs_player.html?app=live&stream=clip.m3u8&autostart=true",
      "srs_player.html?app=live&stream=clip.mpd&autostart=true",
      "srs_player.html?app=live&stream=clip.ts&autostart=true",
      "rtc_player.html?app=live&stream=clip&autostart=true",
      "whep.html?app=live&stream=clip&autostart=true",
      "whip.html?app=live&stream=clip",
      "rtc_publisher.html?app=live&stream=clip",
    ]);
    for (const p of ["srs_player.html", "rtc_player.html", "whep.html", "whip.html", "rtc_publisher.html"]) {
      expect((await fetch(srv.httpUrl(`/players/${p}`))).status).toBe(200);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  test("srs_player.html plays HTTP-FLV through mpegts.js (640 wide, time advances, latency shown)", async () => {
    const { page, errors } = await open("/players/srs_player.html?autostart=true&app=live&stream=clip.flv");
    expect(await page.inputValue("#url")).toBe(srv.httpUrl("/live/clip.flv"));
    const r = await playing(page, 2, 20000);
    expect(r.width).toBe(640);
    expect(r.height).toBe(360);
    expect(r.advanced).toBeGreaterThan(1.5);
    expect(await page.textContent("#state")).toBe("Playing");
    expect(await page.textContent('[data-stat="Engine"]')).toContain("mpegts.js");
    expect(await page.textContent('[data-stat="Latency"]')).toMatch(/^\d+\.\d\d s$/);
    if (process.env.SCREENSHOTS) {
      await page.setViewportSize({ width: 880, height: 820 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(REPO_ROOT, "docs/player.png") });
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 40000);

  test("srs_player.html plays HLS through hls.js", async () => {
    const { page, errors } = await open("/players/srs_player.html?autostart=true&stream=clip.m3u8");
    expect(await page.inputValue("#url")).toBe(srv.httpUrl("/live/clip.m3u8"));
    const r = await playing(page, 2, 40000);
    expect(r.width).toBe(640);
    expect(r.advanced).toBeGreaterThan(1.5);
    expect(await page.textContent('[data-stat="Engine"]')).toContain("hls.js");
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);

  test("srs_player.html says what went wrong for a stream that is not there", async () => {
    const { page, errors } = await open("/players/srs_player.html?autostart=true&stream=nosuch.flv");
    await page.waitForFunction(() => document.getElementById("state")!.textContent === "Error", undefined, { timeout: 10000 });
    expect(await page.textContent("#detail")).toContain("404");
    expect(errors).toEqual([]);
    await page.close();
  }, 20000);

  test("whep.html plays the RTMP stream over WebRTC (WHEP)", async () => {
    const { page, errors } = await open("/players/whep.html?autostart=true&stream=clip");
    expect(await page.inputValue("#url")).toBe(`http://127.0.0.1:${srv.api}/rtc/v1/whep/?app=live&stream=clip`);
    const r = await playing(page, 2, 20000);
    expect(r.width).toBe(640);
    expect(r.advanced).toBeGreaterThan(1.5);
    await page.waitForTimeout(1000);
    expect(await page.textContent('[data-stat="State"]')).toBe("connected");
    expect(await page.textContent('[data-stat="Latency"]')).toMatch(/^\d+ ms$/);
    // Stop sends the WHEP DELETE: the rtc-play client goes away.
    await page.click("#stop");
    await page.waitForTimeout(500);
    const clients = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/`)).json()) as { clients: { type: string }[] };
    expect(clients.clients.filter((c) => c.type === "rtc-play")).toHaveLength(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 40000);

  test("rtc_player.html plays over SRS's /rtc/v1/play/ API from a webrtc:// URL", async () => {
    const { page, errors } = await open("/players/rtc_player.html?autostart=true&app=live&stream=clip");
    expect(await page.inputValue("#url")).toBe(`webrtc://127.0.0.1:${srv.api}/live/clip`);
    const r = await playing(page, 2, 20000);
    expect(r.width).toBe(640);
    expect(r.advanced).toBeGreaterThan(1.5);
    expect(errors).toEqual([]);
    await page.close();
  }, 40000);

  test("whip.html publishes the fake camera; whep.html plays it back; Stop ends the publish", async () => {
    const pub = await open("/players/whip.html?autostart=true&stream=cam");
    await pub.page.waitForFunction(() => document.getElementById("state")!.textContent === "Publishing", undefined, { timeout: 20000 });
    const play = await open("/players/whep.html?autostart=true&stream=cam");
    const r = await playing(play.page, 2, 20000);
    expect(r.width).toBeGreaterThan(0);
    expect(r.advanced).toBeGreaterThan(1.5);
    await play.page.close();
    const api = `http://127.0.0.1:${srv.api}`;
    const list = async () => ((await (await fetch(`${api}/api/v1/clients/`)).json()) as { clients: { type: string; url: string }[] })
      .clients.filter((c) => c.type === "rtc-publish" && c.url === "/live/cam");
    expect(await list()).toHaveLength(1);
    await pub.page.click("#stop");
    await pub.page.waitForTimeout(500);
    expect(await list()).toHaveLength(0);
    expect(pub.errors).toEqual([]);
    expect(play.errors).toEqual([]);
    await pub.page.close();
  }, 60000);

  test("rtc_publisher.html publishes over SRS's /rtc/v1/publish/ API", async () => {
    const pub = await open("/players/rtc_publisher.html?autostart=true&stream=cam2");
    await pub.page.waitForFunction(() => document.getElementById("state")!.textContent === "Publishing", undefined, { timeout: 20000 });
    const streams = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/streams/`)).json()) as { streams: { url: string; publish: { active: boolean } }[] };
    expect(streams.streams.find((s) => s.url === "/live/cam2")?.publish.active).toBe(true);
    expect(pub.errors).toEqual([]);
    await pub.page.close();
  }, 40000);
});
