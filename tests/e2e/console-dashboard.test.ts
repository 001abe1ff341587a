/**
 * The console as a dashboard (issue #21), in headless Chromium against a running server: after ~30 s of a
 * published stream the graphs (uPlot, fed by GET /api/v1/history) hold points, read from the charts' data (not
 * pixels): the server's CPU/memory/bandwidth/connections and the stream's bitrate, frame rate (about 25 fps,
 * as published) and clients; the health badge turns bad when the publisher drops to 5 fps; a client's log lines;
 * DVR recordings listed, played (MP4 with seeking, FLV), deleted, a time range stitched into one MP4 (FFmpeg and
 * the console play it); the config shown masked and reloaded.
 * SCREENSHOTS=1 also writes docs/console-graphs.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { launchBrowser, openWatchedPage, type TestBrowser } from "../helpers/browser.ts";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { publish, type RunningServer, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

let srv: RunningServer;
let browser: TestBrowser;
let api: string;

beforeAll(async () => {
  srv = await startServer({});
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

/** The data of the chart `name` (uPlot's [x, ...series]). */
async function chartData(page: Page, name: string): Promise<number[][] | undefined> {
  return await page.evaluate((n) => {
    const w = window as unknown as { srsCharts?: Record<string, { data: number[][] }> };
    const c = w.srsCharts?.[n];
    return c ? c.data.map((s) => Array.from(s)) : undefined;
  }, name);
}

describe("console graphs", () => {
  test("after 30 s of a published stream the charts hold the server's and the stream's points", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/graphs"));
    try {
      const { page, errors } = await open(srv.httpUrl("/console/"));
      await page.waitForFunction(() => (window as unknown as { srsCharts?: Record<string, unknown> }).srsCharts?.["stream-fps"] !== undefined, undefined, { timeout: 15000 });
      await page.waitForFunction(() => {
        const c = (window as unknown as { srsCharts: Record<string, { data: number[][] }> }).srsCharts["stream-fps"];
        return c !== undefined && c.data[0]!.length >= 6;
      }, undefined, { timeout: 45000, polling: 1000 });
      const fps = (await chartData(page, "stream-fps"))!;
      const kbps = (await chartData(page, "stream-kbps"))!;
      const clients = (await chartData(page, "stream-clients"))!;
      const cpu = (await chartData(page, "cpu"))!;
      const mem = (await chartData(page, "mem"))!;
      const bw = (await chartData(page, "bandwidth"))!;
      const conns = (await chartData(page, "conns"))!;
      // x: seconds, 5 s apart
      const x = fps[0]!;
      expect(x.length).toBeGreaterThanOrEqual(6);
      expect(x.at(-1)! - x.at(-2)!).toBeCloseTo(5, 0);
      // the last full intervals: about 25 fps and the clip's ~1 Mbps (video 900k + audio)
      const lastFps = fps[1]!.slice(-3);
      for (const f of lastFps) expect(Math.abs(f - 25)).toBeLessThan(4);
      for (const k of kbps[1]!.slice(-3)) expect(k).toBeGreaterThan(300);
      expect(clients[1]!.at(-1)).toBeGreaterThanOrEqual(1);
      expect(cpu[0]!.length).toBeGreaterThanOrEqual(6);
      expect(mem[1]!.at(-1)).toBeGreaterThan(10);
      expect(bw[1]!.slice(-3).every((v) => v > 300)).toBe(true); // recv kbps
      expect(conns[1]!.at(-1)).toBeGreaterThanOrEqual(1);
      // the stream list names the stream
      expect(await page.locator("#graph-stream option").allTextContents()).toContain("/live/graphs");
      // the API answers the same series
      const h = await (await fetch(`${api}/api/v1/history`)).json() as { code: number; interval_s: number; server: Record<string, number[]>; streams: Record<string, Record<string, unknown>> };
      expect(h.code).toBe(0);
      expect(h.interval_s).toBe(5);
      expect(h.server.t!.length).toBeGreaterThanOrEqual(6);
      expect(Object.values(h.streams).some((s) => s.url === "/live/graphs" && s.live === true)).toBe(true);
      if (process.env.SCREENSHOTS) {
        await page.setViewportSize({ width: 1200, height: 1100 });
        await page.waitForTimeout(1000);
        await page.locator("#h-graphs").scrollIntoViewIfNeeded();
        await page.screenshot({ path: join(REPO_ROOT, "docs/console-graphs.png") });
      }
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      ff.kill();
    }
  }, 90000);
});

describe("bundled uPlot", () => {
  test("www/console/js holds node_modules' uPlot as scripts/build-www.ts copies it", async () => {
    const { VENDORED_CONSOLE } = await import("../../scripts/build-www.ts");
    const { existsSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { REPO_ROOT } = await import("../helpers/media.ts");
    for (const [pkg, file, name] of VENDORED_CONSOLE) {
      const committed = join(REPO_ROOT, "www/console/js", name);
      expect(existsSync(committed)).toBe(true);
      const src = join(REPO_ROOT, "node_modules", pkg, file);
      // A checkout whose node_modules predates the uplot devDependency has nothing to compare with (npm ci adds it).
      if (existsSync(src)) expect(readFileSync(committed).equals(readFileSync(src))).toBe(true);
    }
  });
});

describe("stream health", () => {
  test("the badge is ok at 25 fps and turns bad when the publisher drops to 5 fps; the API says why", async () => {
    // 25 fps for 12 s, then every 5th frame only (5 fps), timestamps kept: the declared rate stays 25.
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/health"), [
      "-vf", "select='lt(t\\,12)+not(mod(n\\,5))'", "-fps_mode", "passthrough",
      "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-c:a", "copy",
    ]);
    try {
      const { page, errors } = await open(srv.httpUrl("/console/"));
      const badge = page.locator('tr[data-stream="/live/health"] [data-health]');
      await page.waitForFunction(() => document.querySelector('tr[data-stream="/live/health"] [data-health]')?.getAttribute("data-health") === "ok", undefined, { timeout: 15000 });
      expect(await badge.textContent()).toBe("ok");
      await page.waitForFunction(() => document.querySelector('tr[data-stream="/live/health"] [data-health]')?.getAttribute("data-health") === "bad", undefined, { timeout: 30000, polling: 500 });
      expect(await badge.textContent()).toBe("bad");
      expect(await page.locator('tr[data-stream="/live/health"] .health-reasons').textContent()).toMatch(/frame rate \d+(\.\d)? fps, (declared|peak) 25/);
      const j = await (await fetch(`${api}/api/v1/streams/`)).json() as { streams: { url: string; health: { status: string; reasons: string[]; fps: number } }[] };
      const h = j.streams.find((s) => s.url === "/live/health")!.health;
      expect(h.status).toBe("bad");
      expect(h.fps).toBeLessThan(8);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      ff.kill();
    }
  }, 60000);
});

describe("logs", () => {
  test("clicking a client's id shows its log lines only; GET /api/v1/logs?cid= answers the same", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/logs"));
    try {
      const { page, errors } = await open(srv.httpUrl("/console/"));
      await page.waitForFunction(() => {
        return Array.from(document.querySelectorAll("#clients tr")).some((tr) => tr.textContent?.includes("/live/logs") ?? false);
      }, undefined, { timeout: 15000 });
      const row = page.locator("#clients tr", { hasText: "/live/logs" });
      const cid = (await row.locator("button[data-logs]").textContent())!;
      expect(cid).toMatch(/^\w{8}$/);
      await row.locator("button[data-logs]").click();
      expect(await page.inputValue("#log-cid")).toBe(cid);
      await page.waitForFunction((c) => (document.getElementById("logs")?.textContent ?? "").includes(`[${c}]`), cid, { timeout: 10000 });
      const lines = (await page.textContent("#logs"))!.split("\n").filter(Boolean);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).toContain(`[${cid}]`);
      expect(lines.join("\n")).toContain("publish start");
      const j = await (await fetch(`${api}/api/v1/logs?cid=${cid}&lines=50`)).json() as { code: number; lines: { cid: string; line: string }[] };
      expect(j.code).toBe(0);
      expect(j.lines.length).toBeGreaterThan(0);
      expect(j.lines.every((l) => l.cid === cid)).toBe(true);
      const all = await (await fetch(`${api}/api/v1/logs?lines=5`)).json() as { lines: unknown[] };
      expect(all.lines.length).toBe(5);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      ff.kill();
    }
  }, 60000);
});

describe("recordings", () => {
  let rs: RunningServer;
  const auth = { Authorization: `Basic ${btoa("admin:s3cret")}` };
  interface Rec { id: string; vhost: string; app: string; stream: string; start: number; duration: number; size: number; url: string; served_by: string; format: string }

  beforeAll(async () => {
    rs = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_server { enabled on; }
http_api { enabled on; raw_api { enabled on; allow_reload on; } auth { enabled on; username admin; password s3cret; } }
vhost __defaultVhost__ {
    dvr { enabled on; dvr_plan session; }
    forward { enabled off; destination rtmp://u:hunter2@127.0.0.1:1/live; }
    http_hooks { enabled off; on_publish http://127.0.0.1:1/hook?token=abc123&x=1; }
}
vhost mp4.dvr { dvr { enabled on; dvr_plan session; dvr_path ./objs/nginx/html/mp4/[app]/[stream].[timestamp].mp4; } }
vhost api.dvr { dvr { enabled on; dvr_plan session; dvr_path ./elsewhere/[vhost]/[app]/[stream].[2006][01][02].[timestamp].mp4; } }
`,
    });
    const t0 = Date.now();
    const pubs = [
      publish(clip("clip.flv"), rs.rtmpUrl("/live/recflv"), ["-t", "6"]),
      publish(clip("clip.flv"), rs.rtmpUrl("/live/recmp4?vhost=mp4.dvr"), ["-t", "6"]),
      publish(clip("clip.flv"), rs.rtmpUrl("/live/recapi?vhost=api.dvr"), ["-t", "6"]),
    ];
    await Promise.all(pubs.map((p) => p.done));
    // the files are renamed from .tmp once finished
    for (const end = Date.now() + 15000; Date.now() < end;) {
      const j = await (await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings`, { headers: auth })).json() as { recordings?: Rec[] };
      if ((j.recordings ?? []).length >= 3) break;
      await Bun.sleep(250);
    }
    expect(Date.now() - t0).toBeGreaterThan(0);
  }, 60000);

  afterAll(async () => {
    await rs?.stop();
  });

  async function list(q = ""): Promise<Rec[]> {
    const r = await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings${q}`, { headers: auth });
    expect(r.status).toBe(200);
    return ((await r.json()) as { recordings: Rec[] }).recordings;
  }

  test("GET /api/v1/recordings lists the DVR files (stream, start, duration, size, url) and filters; auth applies", async () => {
    expect((await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings`)).status).toBe(401);
    const all = await list();
    expect(all.map((r) => `${r.vhost} ${r.app}/${r.stream} ${r.format} ${r.served_by}`).sort()).toEqual([
      "__defaultVhost__ live/recflv flv http",
      "api.dvr live/recapi mp4 api",
      "mp4.dvr live/recmp4 mp4 http",
    ]);
    for (const r of all) {
      expect(Math.abs(r.duration - 6)).toBeLessThan(1.2);
      expect(r.size).toBeGreaterThan(100_000);
      expect(Math.abs(r.start - Date.now())).toBeLessThan(60_000);
      expect(r.id).toMatch(/^rec-[0-9a-f]{13}$/);
    }
    expect((await list("?stream=recmp4")).map((r) => r.stream)).toEqual(["recmp4"]);
    expect((await list("?vhost=api.dvr&app=live")).map((r) => r.stream)).toEqual(["recapi"]);
    expect(await list("?app=nope")).toEqual([]);
    // served with Range: by the HTTP server under its dir, by the API (with its auth) elsewhere
    const mp4 = all.find((r) => r.stream === "recmp4")!;
    const part = await fetch(`http://127.0.0.1:${rs.http}${mp4.url}`, { headers: { Range: "bytes=0-99" } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    const viaApi = all.find((r) => r.stream === "recapi")!;
    expect(viaApi.url).toBe(`/api/v1/recordings/${viaApi.id}/file`);
    const p2 = await fetch(`http://127.0.0.1:${rs.api}${viaApi.url}`, { headers: { ...auth, Range: "bytes=100-" } });
    expect(p2.status).toBe(206);
    expect(p2.headers.get("content-range")).toBe(`bytes 100-${viaApi.size - 1}/${viaApi.size}`);
    expect((await fetch(`http://127.0.0.1:${rs.api}${viaApi.url}`)).status).toBe(401);
  });

  test("the console plays an MP4 recording (currentTime advances, seeking works) and an FLV one, then deletes one", async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${rs.http}/console/`);
    const dialog = page.locator("dialog#login");
    await dialog.waitFor({ state: "visible", timeout: 5000 });
    await page.fill("input[name=user]", "admin");
    await page.fill("input[name=pass]", "s3cret");
    await page.click("dialog#login button");
    const recs = await list();
    const mp4 = recs.find((r) => r.stream === "recmp4")!;
    const flv = recs.find((r) => r.stream === "recflv")!;
    const row = page.locator(`tr[data-recording="${mp4.id}"]`);
    await row.waitFor({ timeout: 15000 });
    expect(await row.textContent()).toContain("/live/recmp4");

    await row.getByRole("button", { name: "Play" }).click();
    await page.waitForFunction(() => (document.getElementById("rec-video") as HTMLVideoElement).currentTime > 1, undefined, { timeout: 15000 });
    expect(await page.evaluate(() => (document.getElementById("rec-video") as HTMLVideoElement).duration)).toBeCloseTo(mp4.duration, 0);
    // seek to 4 s: the browser fetches from there (Range) and goes on playing
    await page.evaluate(() => { (document.getElementById("rec-video") as HTMLVideoElement).currentTime = 4; });
    await page.waitForFunction(() => {
      const v = document.getElementById("rec-video") as HTMLVideoElement;
      return !v.seeking && v.currentTime > 4.3;
    }, undefined, { timeout: 15000 });

    await page.locator(`tr[data-recording="${flv.id}"]`).getByRole("button", { name: "Play" }).click();
    await page.waitForFunction(() => (document.getElementById("rec-video") as HTMLVideoElement).currentTime > 1, undefined, { timeout: 15000 });
    expect(await page.textContent("#rec-info")).toContain(`:${rs.http}/`);

    // Delete asks for a second click, then the file is gone from disk and list
    const del = page.locator(`tr[data-recording="${flv.id}"] button[data-delete]`);
    await del.click();
    expect(await del.textContent()).toBe("Confirm delete");
    await del.click();
    await page.locator(`tr[data-recording="${flv.id}"]`).waitFor({ state: "detached", timeout: 10000 });
    expect((await list()).some((r) => r.id === flv.id)).toBe(false);
    expect((await fetch(`http://127.0.0.1:${rs.http}${flv.url}`)).status).toBe(404);
    // unknown id, and no auth: refused
    const j = await (await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/${flv.id}`, { method: "DELETE", headers: auth })).json() as { code: number };
    expect(j.code).toBe(4040);
    expect((await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/${mp4.id}`, { method: "DELETE" })).status).toBe(401);
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);

  test("the console shows the running config with secrets masked; Reload applies an edited file", async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${rs.http}/console/`);
    await page.locator("dialog#login").waitFor({ state: "visible", timeout: 5000 });
    await page.fill("input[name=user]", "admin");
    await page.fill("input[name=pass]", "s3cret");
    await page.click("dialog#login button");
    await page.waitForFunction(() => (document.getElementById("config-text")?.textContent ?? "").includes("http_api"), undefined, { timeout: 10000 });
    const text = (await page.textContent("#config-text"))!;
    expect(text).toContain("username admin;");
    expect(text).toContain("password ****;");
    expect(text).toContain("rtmp://u:****@127.0.0.1:1/live");
    expect(text).toContain("hook?token=****&x=1");
    for (const secret of ["s3cret", "hunter2", "abc123"]) expect(text).not.toContain(secret);
    expect(await page.isDisabled("#config-reload")).toBe(false);

    // edit the file, Reload: the new vhost is in the running config
    const file = join(rs.dir, "srs.conf");
    writeFileSync(file, readFileSync(file, "utf8") + "vhost added.after.reload { }\n");
    await page.click("#config-reload");
    await page.waitForFunction(() => (document.getElementById("config-status")?.textContent ?? "").startsWith("Reloaded"), undefined, { timeout: 10000 });
    await page.waitForFunction(() => (document.getElementById("config-text")?.textContent ?? "").includes("added.after.reload"), undefined, { timeout: 10000 });
    // the API answers it masked too, and only with credentials
    expect((await fetch(`http://127.0.0.1:${rs.api}/api/v1/config`)).status).toBe(401);
    const j = await (await fetch(`http://127.0.0.1:${rs.api}/api/v1/config`, { headers: auth })).json() as { code: number; text: string; file: string };
    expect(j.code).toBe(0);
    expect(j.text).not.toContain("s3cret");
    expect(j.file).toContain("srs.conf");
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);
});

describe("recordings: a time range as one MP4", () => {
  let rs: RunningServer;
  interface Rec { id: string; start: number; duration: number; format: string }

  beforeAll(async () => {
    rs = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_server { enabled on; }
http_api { enabled on; }
vhost __defaultVhost__ { dvr { enabled on; dvr_plan segment; dvr_duration 4; } }
vhost mp4.dvr { dvr { enabled on; dvr_plan segment; dvr_duration 4; dvr_path ./objs/nginx/html/m/[app]/[stream].[timestamp].mp4; } }
`,
    });
    await Promise.all([
      publish(clip("clip.flv"), rs.rtmpUrl("/live/range"), ["-t", "14"]).done,
      publish(clip("clip-main.flv"), rs.rtmpUrl("/live/rangemp4?vhost=mp4.dvr"), ["-t", "14"]).done,
    ]);
    let n = -1;
    for (const end = Date.now() + 15000; Date.now() < end;) {
      await Bun.sleep(500);
      const m = (await recs()).length + (await recs("rangemp4")).length;
      if (m >= 6 && m === n) break;
      n = m;
    }
  }, 60000);

  afterAll(async () => {
    await rs?.stop();
  });

  async function recs(stream = "range"): Promise<Rec[]> {
    const j = await (await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings?app=live&stream=${stream}`)).json() as { recordings: Rec[] };
    return j.recordings.sort((a, b) => a.start - b.start);
  }

  function probeMp4(file: string): { duration: number; streams: string[]; frames: number } {
    const out = execFileSync("ffprobe", ["-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", file], { encoding: "utf8" });
    const j = JSON.parse(out) as { format: { duration: string; format_name: string }; streams: { codec_type: string; codec_name: string; nb_read_frames?: string }[] };
    expect(j.format.format_name).toContain("mp4");
    return {
      duration: Number(j.format.duration),
      streams: j.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(),
      frames: Number(j.streams.find((s) => s.codec_type === "video")?.nb_read_frames ?? 0),
    };
  }

  test("a range across two DVR segments plays in FFmpeg with the asked duration, no re-encoding, no decode error", async () => {
    const list = await recs();
    expect(list.length).toBeGreaterThanOrEqual(3);
    expect(list.every((r) => r.format === "flv")).toBe(true);
    const start = list[0]!.start + 2000; // inside the first file, 6 s: into the second
    const res = await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/range?app=live&stream=range&start=${encodeURIComponent(new Date(start).toISOString())}&duration=6`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    const dir = tempDir("srs-range-");
    const file = join(dir, "range.mp4");
    writeFileSync(file, new Uint8Array(await res.arrayBuffer()));
    const p = probeMp4(file);
    expect(p.streams).toEqual(["audio:aac", "video:h264"]);
    // from the keyframe at or before start (GOP 2 s): 6 s to 8 s
    expect(p.duration).toBeGreaterThan(5.5);
    expect(p.duration).toBeLessThan(8.5);
    expect(Math.abs(p.frames / 25 - p.duration)).toBeLessThan(0.6);
    const dec = spawnSync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], { encoding: "utf8" });
    expect(dec.status).toBe(0);
    expect(dec.stderr).toBe("");
    // epoch ms works as well; what cannot be served says why
    const again = await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/range?app=live&stream=range&start=${list[0]!.start}&duration=3`);
    expect(again.headers.get("content-type")).toBe("video/mp4");
    const none = await (await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/range?app=live&stream=range&start=1000&duration=3`)).json() as { code: number; error: string };
    expect(none).toMatchObject({ code: 4041, error: "no recording in that range" });
    const bad = await (await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/range?app=live&stream=range&start=soon&duration=3`)).json() as { code: number };
    expect(bad.code).toBe(4041);
    rmSync(dir, { recursive: true, force: true });
  }, 60000);

  test("MP4 recordings (B-frames) stitch too", async () => {
    const list = await recs("rangemp4");
    expect(list.length).toBeGreaterThanOrEqual(3);
    expect(list.every((r) => r.format === "mp4")).toBe(true);
    const res = await fetch(`http://127.0.0.1:${rs.api}/api/v1/recordings/range?vhost=mp4.dvr&app=live&stream=rangemp4&start=${list[0]!.start + 2000}&duration=6`);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    const dir = tempDir("srs-range-");
    const file = join(dir, "range.mp4");
    writeFileSync(file, new Uint8Array(await res.arrayBuffer()));
    const p = probeMp4(file);
    expect(p.streams).toEqual(["audio:aac", "video:h264"]);
    expect(p.duration).toBeGreaterThan(5.5);
    expect(p.duration).toBeLessThan(8.5);
    const dec = spawnSync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], { encoding: "utf8" });
    expect(dec.status).toBe(0);
    expect(dec.stderr).toBe("");
    rmSync(dir, { recursive: true, force: true });
  }, 60000);

  test("the console plays a time range as one MP4", async () => {
    const list = await recs();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${rs.http}/console/`);
    await page.waitForFunction(() => (document.getElementById("range-stream") as HTMLSelectElement).options.length > 0, undefined, { timeout: 15000 });
    await page.evaluate((ms) => {
      const d = new Date(ms);
      (document.getElementById("range-start") as HTMLInputElement).value = new Date(ms - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
      (document.getElementById("range-duration") as HTMLInputElement).value = "6";
    }, list[0]!.start + 2000);
    await page.click("#range-form button[type=submit]");
    await page.waitForFunction(() => (document.getElementById("rec-video") as HTMLVideoElement).currentTime > 1, undefined, { timeout: 15000 });
    const duration = await page.evaluate(() => (document.getElementById("rec-video") as HTMLVideoElement).duration);
    expect(duration).toBeGreaterThan(5.5);
    expect(duration).toBeLessThan(8.5);
    expect(await page.textContent("#rec-info")).toContain("stitched");
    expect(await page.isVisible("#range-download")).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);
});
