/**
 * The home page and the console in headless Chromium (playwright-core) against a running server (API on its own
 * port, as by default): the home page links the console and players with the server's own addresses; the console
 * lists the published stream (codec, resolution), shows its play URLs and a live preview, and its Kick button
 * disconnects the publisher (ffmpeg exits); a WHIP publish from the fake camera shows up; with http_api.auth on it
 * asks for credentials; an ingest's FFmpeg shows in the processes table. SCREENSHOTS=1 also writes docs/console.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { launchBrowser, openWatchedPage, type TestBrowser } from "../helpers/browser.ts";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { freePort, publish, type RunningServer, startServer, rtcEnv } from "../helpers/server.ts";

let srv: RunningServer;
let browser: TestBrowser;
let api: string;

beforeAll(async () => {
  const udp = await freePort();
  srv = await startServer({
    env: {
      ...rtcEnv(udp),
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
    },
  });
  api = `http://127.0.0.1:${srv.api}`;
  browser = await launchBrowser();
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

function open(url: string): Promise<{ page: Page; errors: string[] }> {
  return openWatchedPage(browser, url);
}

interface ApiClient {
  id: string;
  type: string;
  url: string;
}

async function clients(): Promise<ApiClient[]> {
  return ((await (await fetch(`${api}/api/v1/clients/?count=100`)).json()) as { clients: ApiClient[] }).clients;
}

async function until<T>(f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(100);
  }
}

describe("home page", () => {
  test("links the console and the players, with this server's addresses filled in", async () => {
    const { page, errors } = await open(srv.httpUrl("/"));
    expect(await page.title()).toBe("srs-ts");
    expect(await page.getAttribute("#link-console", "href")).toBe("/console/");
    expect(await page.getAttribute("#link-players", "href")).toBe("/players/");
    await page.waitForFunction(() => document.querySelectorAll("#play code").length > 0);
    const urls = await page.$$eval("#publish code, #play code", (els) => els.map((e) => e.textContent));
    expect(urls).toContain(`rtmp://127.0.0.1:${srv.rtmp}/live/livestream`);
    expect(urls).toContain(`http://127.0.0.1:${srv.http}/live/livestream.flv`);
    expect(urls).toContain(`http://127.0.0.1:${srv.http}/live/livestream.m3u8`);
    expect(urls).toContain(`${api}/rtc/v1/whep/?app=live&stream=livestream`);
    expect(urls).toContain(`webrtc://127.0.0.1:${srv.api}/live/livestream`);
    expect(urls.some((u) => u?.startsWith("srt://"))).toBe(false); // srt_server is off here
    // typing another stream updates them
    await page.fill("#stream", "game/match1");
    expect(await page.$$eval("#play code", (els) => els.map((e) => e.textContent))).toContain(`http://127.0.0.1:${srv.http}/game/match1.flv`);
    await page.fill("#stream", "live/livestream");
    await page.click("#link-console");
    await page.waitForURL(/\/console\/$/);
    await page.goBack();
    await page.click("#link-players");
    await page.waitForURL(/\/players\/$/);
    expect(await page.locator("a[data-page]").count()).toBe(8);
    expect(errors).toEqual([]);
    await page.close();
  }, 30000);

  test("/console/config.json tells the pages the ports", async () => {
    const res = await fetch(srv.httpUrl("/console/config.json"));
    expect(res.headers.get("content-type")).toContain("application/json");
    const cfg = await res.json() as Record<string, unknown>;
    expect(cfg).toMatchObject({ http: srv.http, api: srv.api, rtmp: srv.rtmp, srt: null, auth: false });
    expect(typeof cfg.rtc).toBe("number");
    expect(cfg.dash).toEqual([]); // no vhost with DASH on: the pages list no .mpd URL
  });
});

describe("console", () => {
  test("lists the published stream, shows its play URLs and a live preview; Kick disconnects the publisher", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/cons"));
    try {
      const pub = await until(async () => (await clients()).find((c) => c.url === "/live/cons" && c.type === "fmle-publish"), 10000);
      const { page, errors } = await open(srv.httpUrl("/console/"));
      const row = page.locator('tr[data-stream="/live/cons"]');
      await row.waitFor({ timeout: 10000 });
      await page.waitForFunction(() => document.querySelector('tr[data-stream="/live/cons"]')?.textContent?.includes("640×360"), undefined, { timeout: 10000 });
      const text = (await row.textContent())!;
      expect(text).toContain("H264");
      expect(text).toContain("AAC");
      expect(text).toContain("44.1 kHz");
      expect(await page.textContent("#s-pid")).toContain("srs-ts");
      expect(await page.textContent("#status")).toContain(api);
      expect(await page.locator(`tr[data-client="${pub.id}"]`).textContent()).toContain("fmle-publish");

      // Play URLs: every protocol, with a copy button each
      await row.getByRole("button", { name: "Play URLs" }).click();
      const detail = page.locator('tr[data-stream="/live/cons"] + tr.detail');
      await detail.waitFor();
      const urls = await detail.locator("code").allTextContents();
      expect(urls).toEqual(expect.arrayContaining([
        `rtmp://127.0.0.1:${srv.rtmp}/live/cons`,
        `http://127.0.0.1:${srv.http}/live/cons.flv`,
        `http://127.0.0.1:${srv.http}/live/cons.m3u8`,
        `webrtc://127.0.0.1:${srv.api}/live/cons`,
        `${api}/rtc/v1/whep/?app=live&stream=cons`,
      ]));
      expect(await detail.getByRole("button", { name: /Copy/ }).count()).toBe(urls.length);

      // Preview: a muted FLV player in the page
      await row.getByRole("button", { name: "Preview" }).click();
      await page.waitForFunction(() => {
        const v = document.getElementById("preview-video") as HTMLVideoElement;
        return v.videoWidth === 640 && v.currentTime > 1;
      }, undefined, { timeout: 15000 });
      // the preview shows up as an flv-play client on the next refresh
      await page.waitForFunction(() => Array.from(document.querySelectorAll("tr[data-client]")).some((r) => r.textContent!.includes("flv-play")), undefined, { timeout: 10000 });
      if (process.env.SCREENSHOTS) {
        await page.setViewportSize({ width: 1200, height: 1000 });
        await page.waitForTimeout(2500);
        await page.evaluate(() => document.getElementById("h-streams")!.scrollIntoView());
        await page.screenshot({ path: join(REPO_ROOT, "docs/console.png") });
      }
      await page.click("#preview-close");

      // Kick: a first click arms the button, the second disconnects
      const kick = page.locator(`tr[data-client="${pub.id}"] button[data-kick]`);
      await kick.click();
      await page.waitForFunction((id) => document.querySelector(`tr[data-client="${id}"] button[data-kick]`)?.textContent === "Confirm kick", pub.id, { timeout: 2000 });
      await kick.click();
      const code = await Promise.race([ff.done, Bun.sleep(10000).then(() => "still running")]);
      expect(code).not.toBe("still running");
      await page.waitForFunction(() => !document.querySelector('tr[data-stream="/live/cons"]'), undefined, { timeout: 10000 });
      expect((await clients()).some((c) => c.id === pub.id)).toBe(false);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      ff.kill();
    }
  }, 60000);

  test("a WHIP publish from the fake camera shows up in the console", async () => {
    const pub = await open(srv.httpUrl("/players/whip.html?autostart=true&stream=webcam"));
    await pub.page.waitForFunction(() => document.getElementById("state")!.textContent === "Publishing", undefined, { timeout: 20000 });
    const { page, errors } = await open(srv.httpUrl("/console/"));
    await page.locator('tr[data-stream="/live/webcam"]').waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.querySelector('tr[data-stream="/live/webcam"]')?.textContent?.includes("H264"), undefined, { timeout: 10000 });
    await page.waitForFunction(() => Array.from(document.querySelectorAll("tr[data-client]")).some((r) => r.textContent!.includes("rtc-publish") && r.textContent!.includes("/live/webcam")), undefined, { timeout: 10000 });
    expect(errors).toEqual([]);
    expect(pub.errors).toEqual([]);
    await pub.page.close();
    await page.close();
  }, 40000);

  test("lists the ingest FFmpeg in the processes table", async () => {
    const s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; }
vhost __defaultVhost__ {
  ingest cam { enabled on; input { type file; url ${clip("clip.flv")}; } ffmpeg ffmpeg; engine { enabled off; output rtmp://127.0.0.1:[port]/live/cam; } }
}
`,
    });
    try {
      const { page, errors } = await open(`http://127.0.0.1:${s.http}/console/`);
      const row = page.locator('tr[data-process="__defaultVhost__/cam"]');
      await row.waitFor({ timeout: 10000 });
      await page.waitForFunction(() => document.querySelector('tr[data-process="__defaultVhost__/cam"]')?.textContent?.includes("running"), undefined, { timeout: 10000 });
      const text = (await row.textContent())!;
      expect(text).toContain("ingest");
      expect(text).toContain("-re -i");
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await s.stop();
    }
  }, 40000);

  test("with http_api.auth on it asks for credentials, retries on a wrong password, then shows the server", async () => {
    const s = await startServer({
      env: { SRS_HTTP_API_AUTH_ENABLED: "on", SRS_HTTP_API_AUTH_USERNAME: "admin", SRS_HTTP_API_AUTH_PASSWORD: "s3cret" },
    });
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${s.http}/console/`);
      const dialog = page.locator("dialog#login");
      await dialog.waitFor({ state: "visible", timeout: 5000 });
      await page.fill("input[name=user]", "admin");
      await page.fill("input[name=pass]", "wrong");
      await page.click("dialog#login button");
      await dialog.waitFor({ state: "visible", timeout: 5000 });
      expect(await page.textContent("#login-why")).toContain("refused");
      await page.fill("input[name=user]", "admin");
      await page.fill("input[name=pass]", "s3cret");
      await page.click("dialog#login button");
      await page.waitForFunction(() => document.getElementById("s-pid")!.textContent!.includes("srs-ts"), undefined, { timeout: 5000 });
      expect(await page.textContent("#status")).toContain(`127.0.0.1:${s.api}`);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await s.stop();
    }
  }, 30000);
});
