/**
 * Static files of http_server.dir streamed from disk (`bun main.ts` on free loopback ports): a 50 MB file's byte
 * ranges (206, suffix, open-ended, 416, ignored multi-range), HEAD, the validators and 304/412, If-Range, the
 * server's peak memory while the file is downloaded whole, and a 10 s MP4 with its moov at the end (as a
 * recording) seeked to 7 s in headless Chromium.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip } from "../helpers/media.ts";
import { prng } from "../helpers/prng.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";

const BIG = 50 * 1024 * 1024;
let srv: RunningServer;
let html: string;
let bigPath: string;
let browser: TestBrowser | undefined;

const CONFIG = `
listen 1935;
daemon off;
srs_log_tank console;
http_server { enabled on; listen 8080; dir ./html; }
`;

beforeAll(async () => {
  srv = await startServer({ config: CONFIG });
  html = join(srv.dir, "html");
  mkdirSync(html, { recursive: true });
  // A sparse 50 MB file with random 64 KB blocks at the start, the middle and the end.
  bigPath = join(html, "big.bin");
  const fd = openSync(bigPath, "w");
  const rnd = prng(13);
  for (const at of [0, BIG / 2 - 32768, BIG - 65536]) {
    const block = new Uint8Array(65536);
    for (let i = 0; i < block.length; i++) block[i] = (rnd() * 256) & 0xff;
    writeSync(fd, block, 0, block.length, at);
  }
  closeSync(fd);
  // A recording-like MP4 (moov after mdat, as FFmpeg and DVR write it) and a page that plays it.
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", clip("clip.flv"), "-c", "copy", "-f", "mp4", join(html, "rec.mp4")]);
  writeFileSync(join(html, "seek.html"), `<!doctype html><video id="v" src="rec.mp4" muted playsinline preload="auto"></video>\n`);
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop("SIGKILL");
});

/** Bytes [start, end) of the file on disk. */
function disk(start: number, end: number): Uint8Array {
  const buf = new Uint8Array(end - start);
  const fd = openSync(bigPath, "r");
  readSync(fd, buf, 0, buf.length, start);
  closeSync(fd);
  return buf;
}

async function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ r: Response; body: Uint8Array }> {
  const r = await fetch(srv.httpUrl(path), { method, headers });
  return { r, body: new Uint8Array(await r.arrayBuffer()) };
}

function procStatus(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

describe("static files: byte ranges", () => {
  test("a range answers 206 with exactly those bytes and Content-Range", async () => {
    for (const [start, end] of [[0, 1], [1000, 1100], [BIG / 2 - 100, BIG / 2 + 100], [BIG - 65536 - 7, BIG - 3]] as const) {
      const { r, body } = await get("/big.bin", { Range: `bytes=${start}-${end - 1}` });
      expect(r.status).toBe(206);
      expect(r.headers.get("content-range")).toBe(`bytes ${start}-${end - 1}/${BIG}`);
      expect(r.headers.get("content-length")).toBe(String(end - start));
      expect(Buffer.from(body).equals(Buffer.from(disk(start, end)))).toBe(true);
    }
  });

  test("a suffix range is the last bytes; an open range runs to the end; a last-pos past the end is clamped", async () => {
    const suffix = await get("/big.bin", { Range: "bytes=-1000" });
    expect(suffix.r.status).toBe(206);
    expect(suffix.r.headers.get("content-range")).toBe(`bytes ${BIG - 1000}-${BIG - 1}/${BIG}`);
    expect(Buffer.from(suffix.body).equals(Buffer.from(disk(BIG - 1000, BIG)))).toBe(true);
    const open = await get("/big.bin", { Range: `bytes=${BIG - 70000}-` });
    expect(open.r.status).toBe(206);
    expect(Buffer.from(open.body).equals(Buffer.from(disk(BIG - 70000, BIG)))).toBe(true);
    const clamped = await get("/big.bin", { Range: `bytes=${BIG - 10}-${BIG + 1000}` });
    expect(clamped.r.headers.get("content-range")).toBe(`bytes ${BIG - 10}-${BIG - 1}/${BIG}`);
    expect(clamped.body.length).toBe(10);
  });

  test("a range past the end is 416 with the size; a malformed or multiple range gets the whole file", async () => {
    const bad = await get("/big.bin", { Range: `bytes=${BIG}-` });
    expect(bad.r.status).toBe(416);
    expect(bad.r.headers.get("content-range")).toBe(`bytes */${BIG}`);
    expect(bad.body.length).toBe(0);
    for (const h of ["bytes=5-2", "bytes=0-1,10-20", "items=0-1", "bytes=x-"]) {
      const r = await fetch(srv.httpUrl("/big.bin"), { headers: { Range: h } });
      expect([h, r.status, r.headers.get("content-length")]).toEqual([h, 200, String(BIG)]);
      await r.body?.cancel();
    }
  });

  test("the whole 50 MB file streams exactly, and the server's peak memory does not grow by the file's size", async () => {
    const pid = srv.proc.pid!;
    const before = procStatus(pid, "VmHWM");
    for (let i = 0; i < 3; i++) {
      const r = await fetch(srv.httpUrl("/big.bin"));
      expect(r.status).toBe(200);
      expect(r.headers.get("accept-ranges")).toBe("bytes");
      const h = new Bun.CryptoHasher("sha256");
      let n = 0;
      const reader = r.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        h.update(value);
        n += value.byteLength;
      }
      expect(n).toBe(BIG);
      expect(h.digest("hex")).toBe(new Bun.CryptoHasher("sha256").update(readFileSync(bigPath)).digest("hex"));
    }
    const grew = procStatus(pid, "VmHWM") - before;
    console.log(`static-files: server peak RSS grew ${(grew / 1048576).toFixed(1)} MB over 3 downloads of a ${BIG / 1048576} MB file`);
    expect(grew).toBeLessThan(BIG / 2);
  }, 30000);
});

describe("static files: HEAD, validators, conditional requests", () => {
  test("HEAD has the GET's headers and no body", async () => {
    const { r, body } = await get("/big.bin", {}, "HEAD");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe(String(BIG));
    expect(r.headers.get("accept-ranges")).toBe("bytes");
    expect(r.headers.get("etag")).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(new Date(r.headers.get("last-modified")!).getTime()).toBe(Math.floor(statSync(bigPath).mtimeMs / 1000) * 1000);
    expect(body.length).toBe(0);
  });

  test("If-None-Match / If-Modified-Since answer 304; a changed file answers 200 again", async () => {
    writeFileSync(join(html, "page.html"), "<p>v1</p>\n");
    const first = await get("/page.html");
    const etag = first.r.headers.get("etag")!;
    const lm = first.r.headers.get("last-modified")!;
    expect(first.r.headers.get("content-type")).toContain("text/html");
    const inm = await get("/page.html", { "If-None-Match": `"nope", ${etag}` });
    expect(inm.r.status).toBe(304);
    expect(inm.r.headers.get("etag")).toBe(etag);
    expect(inm.body.length).toBe(0);
    expect((await get("/page.html", { "If-Modified-Since": lm })).r.status).toBe(304);
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    expect((await get("/page.html", { "If-None-Match": '"other"', "If-Modified-Since": lm })).r.status).toBe(200);
    expect((await get("/page.html", { "If-Match": '"other"' })).r.status).toBe(412);
    await Bun.sleep(1100);
    writeFileSync(join(html, "page.html"), "<p>version 2</p>\n");
    const changed = await get("/page.html", { "If-None-Match": etag, "If-Modified-Since": lm });
    expect(changed.r.status).toBe(200);
    expect(new TextDecoder().decode(changed.body)).toBe("<p>version 2</p>\n");
  });

  test("If-Range: the range while the file is unchanged, the whole file once it changed", async () => {
    const etag = (await get("/big.bin", {}, "HEAD")).r.headers.get("etag")!;
    const same = await get("/big.bin", { Range: "bytes=0-9", "If-Range": etag });
    expect(same.r.status).toBe(206);
    expect(same.body.length).toBe(10);
    const stale = await fetch(srv.httpUrl("/big.bin"), { headers: { Range: "bytes=0-9", "If-Range": '"0-0"' } });
    expect(stale.status).toBe(200);
    await stale.body?.cancel();
  });

  test("Content-Type by extension for media files", async () => {
    for (const [name, type] of [["a.mp4", "video/mp4"], ["a.m3u8", "application/vnd.apple.mpegurl"], ["a.ts", "video/mp2t"], ["a.flv", "video/x-flv"], ["a.webm", "video/webm"]]) {
      writeFileSync(join(html, name!), "x");
      const { r } = await get(`/${name}`);
      expect([name, r.headers.get("content-type")]).toEqual([name, type]);
    }
  });

  test("`..` is still refused, and ranges never reach outside the dir", async () => {
    writeFileSync(join(srv.dir, "outside.txt"), "secret");
    for (const p of ["/../outside.txt", "/%2e%2e/outside.txt", "/sub/..%2f..%2foutside.txt"]) {
      const r = await fetch(srv.httpUrl(p), { headers: { Range: "bytes=0-3" } });
      expect([p, r.status === 403 || r.status === 404]).toEqual([p, true]);
      expect(await r.text()).not.toContain("secr");
    }
  });
});

describe("static files under Deno (the node:fs stream body)", () => {
  test("ranges, HEAD, 304 and the whole file, exact", async () => {
    const repo = resolve(import.meta.dir, "../..");
    const d = await startServer({ config: CONFIG, command: [join(repo, "node_modules/.bin/deno"), "run", "-A", join(repo, "main.ts")] });
    try {
      mkdirSync(join(d.dir, "html"), { recursive: true });
      const copy = join(d.dir, "html", "big.bin");
      writeFileSync(copy, readFileSync(bigPath));
      const url = d.httpUrl("/big.bin");
      const part = await fetch(url, { headers: { Range: `bytes=${BIG / 2 - 100}-${BIG / 2 + 99}` } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(disk(BIG / 2 - 100, BIG / 2 + 100)))).toBe(true);
      const head = await fetch(url, { method: "HEAD" });
      expect([head.status, head.headers.get("content-length"), (await head.arrayBuffer()).byteLength]).toEqual([200, String(BIG), 0]);
      expect((await fetch(url, { headers: { "If-None-Match": head.headers.get("etag")! } })).status).toBe(304);
      expect((await fetch(url, { headers: { Range: `bytes=${BIG}-` } })).status).toBe(416);
      const before = procStatus(d.proc.pid!, "VmHWM");
      const whole = new Uint8Array(await (await fetch(url)).arrayBuffer());
      expect(Buffer.from(whole).equals(readFileSync(bigPath))).toBe(true);
      console.log(`static-files: Deno server peak RSS grew ${((procStatus(d.proc.pid!, "VmHWM") - before) / 1048576).toFixed(1)} MB over one download of a ${BIG / 1048576} MB file`);
    } finally {
      await d.stop("SIGKILL");
    }
  }, 120000);
});

describe("static files in a browser", () => {
  test("headless Chromium seeks a 10 s MP4 (moov at the end) to 7 s and plays on from there", async () => {
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const statuses: number[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/rec.mp4")) statuses.push(r.status());
    });
    await page.goto(srv.httpUrl("/seek.html"));
    const res = await page.evaluate(async () => {
      const v = document.getElementById("v") as HTMLVideoElement;
      const event = (name: string) =>
        new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no ${name} in 10 s (readyState ${v.readyState}, error ${v.error?.code})`)), 10000);
          v.addEventListener(name, () => (clearTimeout(t), resolve()), { once: true });
          v.addEventListener("error", () => (clearTimeout(t), reject(new Error(`media error ${v.error?.code} ${v.error?.message}`))), { once: true });
        });
      if (v.readyState < 1) await event("loadedmetadata");
      const seeked = event("seeked");
      v.currentTime = 7;
      await seeked;
      const seekedAt = v.currentTime;
      await v.play();
      const start = performance.now();
      while (v.currentTime < seekedAt + 0.5 && performance.now() - start < 10000) await new Promise((r) => setTimeout(r, 100));
      return { duration: v.duration, seekedAt, after: v.currentTime, width: v.videoWidth, seekable: v.seekable.length ? v.seekable.end(0) : 0 };
    });
    expect(res.duration).toBeGreaterThan(9.5);
    expect(res.duration).toBeLessThan(10.5);
    expect(res.seekable).toBeGreaterThan(9.5);
    expect(Math.abs(res.seekedAt - 7)).toBeLessThan(0.2);
    expect(res.after).toBeGreaterThan(res.seekedAt + 0.4);
    expect(res.width).toBe(640);
    // Chromium fetched the file by ranges (the moov sits at its end).
    expect(statuses).toContain(206);
  }, 45000);
});
