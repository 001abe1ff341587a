/**
 * HTTPS end to end (`http_server { https { … } }`, `http_api { https { … } }`, as SRS): the real server over TLS
 * with real clients. curl -k gets the pages, static files, console, API and /console/config.json; FFmpeg
 * (`-tls_verify 0`) decodes HTTP-FLV, HTTP-TS and HLS; Chromium (`--ignore-certificate-errors`) plays HTTP-FLV in
 * srs_player.html, publishes its fake camera with whip.html and plays it back with whep.html, all on the HTTPS
 * origin (the WHIP/WHEP signalling on the HTTPS server, which serves the API as the API shares the HTTP server);
 * the console on HTTPS reaches the API over HTTPS; the home page on plain HTTP lists the HTTPS URLs. The first server uses SRS's defaults for key/cert
 * (./conf/server.key, ./conf/server.crt: the shipped pair, as its working directory has no conf/).
 *
 * Certificates: a fresh openssl pair per test; SIGHUP after the files were replaced serves the new certificate
 * (its SHA-256 fingerprint through `openssl s_client`) while an FFmpeg HTTPS-FLV player keeps decoding; a bad
 * certificate is refused with an error and the old one stays; key/cert paths changed in the config are taken;
 * SIGTERM with an HTTPS player connected exits at once; the same under Deno (node:https, pair swapped in place).
 * `workers 2`: both workers serve HTTPS on the shared port and both take a renewed certificate.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { freePort, freeUdpPort, type Proc, publish, reloadConfig, rtcEnv, run, type RunningServer, startServer, udpTaken } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";
import { count, waitFor } from "../helpers/wait.ts";

/** A fresh self-signed pair (RSA 2048, CN=`cn`) in `dir`: its paths and SHA-256 fingerprint. */
async function makePair(dir: string, cn: string): Promise<{ key: string; cert: string; fingerprint: string }> {
  const key = join(dir, `${cn}.key`);
  const cert = join(dir, `${cn}.crt`);
  const p = run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${cn}`]);
  expect(await p.done).toBe(0);
  return { key, cert, fingerprint: await fileFingerprint(cert) };
}

async function fileFingerprint(cert: string): Promise<string> {
  const p = run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", cert]);
  await p.done;
  return p.output().trim().split("=").pop()!;
}

/** The SHA-256 fingerprint of the certificate a TLS server on 127.0.0.1:`port` presents (openssl s_client). */
async function servedFingerprint(port: number): Promise<string> {
  const p = run("bash", ["-c", `openssl s_client -connect 127.0.0.1:${port} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`], { timeoutMs: 10000 });
  await p.done;
  return p.output().trim().split("=").pop() ?? "";
}

/** curl -k (following redirects: HLS's session redirect): status, content type and body. */
async function curl(url: string): Promise<{ status: number; type: string; body: string }> {
  const p = run("curl", ["-skL", "--max-time", "10", "-o", "-", "-w", "\n%{http_code} %{content_type}", url], { timeoutMs: 15000 });
  await p.done;
  const out = p.output();
  const i = out.lastIndexOf("\n");
  const [status, type = ""] = out.slice(i + 1).split(" ");
  return { status: Number(status), type, body: out.slice(0, i) };
}

/** FFmpeg decoding `url` over TLS without verifying the certificate: frames decoded (progress read live). */
function decoder(url: string, extra: string[] = []): Proc & { frames(): number } {
  const progress = join(tempDir("srs-ts-https-play-"), "p.txt");
  writeFileSync(progress, "");
  const p = run("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "error", "-tls_verify", "0", "-rw_timeout", "8000000", ...extra, "-i", url,
    "-map", "0:v:0", "-f", "null", "-progress", progress, "-",
  ]);
  return {
    ...p,
    frames: () => {
      const text = readFileSync(progress, "utf8");
      const m = [...text.matchAll(/^frame=(\d+)/gm)];
      return m.length ? Number(m[m.length - 1]![1]) : 0;
    },
  };
}

/** Decodes `seconds` of `url` and returns the frame count. */
async function decodeFor(url: string, seconds: number, extra: string[] = []): Promise<{ frames: number; log: string }> {
  const d = decoder(url, [...extra]);
  const end = Date.now() + (seconds + 15) * 1000;
  while (Date.now() < end && d.frames() < seconds * 25 && d.proc.exitCode === null) await Bun.sleep(200);
  d.kill();
  await d.done;
  return { frames: d.frames(), log: d.output() };
}

describe("https server with SRS's defaults (shipped pair, API shared with the HTTP server)", () => {
  let srv: RunningServer;
  let https = 0;
  const pubs: Proc[] = [];
  let browser: TestBrowser | undefined;
  const u = (path: string) => `https://127.0.0.1:${https}${path}`;

  beforeAll(async () => {
    https = await freePort();
    const udp = await freeUdpPort();
    srv = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; https { enabled on; listen 127.0.0.1:${https}; } }
vhost __defaultVhost__ {
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  hls { enabled on; hls_path ./html; hls_fragment 2; hls_window 10; }
  dash { enabled on; dash_path ./html; dash_fragment 2; dash_update_period 2; dash_window_size 5; }
  rtc { enabled on; rtmp_to_rtc on; }
}
vhost ts.test { http_remux { enabled on; mount [vhost]/[app]/[stream].ts; } }
vhost aac.test { http_remux { enabled on; mount [vhost]/[app]/[stream].aac; } }
`,
      env: rtcEnv(udp),
      // The API on the HTTP server's port: SRS then serves it on the HTTPS server too (https api listen follows).
      portEnv: (p) => ({ SRS_HTTP_API_LISTEN: `127.0.0.1:${p.http}` }),
    });
    mkdirSync(join(srv.dir, "html"), { recursive: true });
    writeFileSync(join(srv.dir, "html", "hello.txt"), "hello over tls\n");
    pubs.push(publish(clip("clip.flv"), srv.rtmpUrl("/live/clip")));
    pubs.push(publish(clip("clip.flv"), srv.rtmpUrl("/live/clip?vhost=ts.test")));
    pubs.push(publish(clip("clip.flv"), srv.rtmpUrl("/live/clip?vhost=aac.test")));
    await waitFor("three publishers", () => count(srv.output(), "publish start by") >= 3, 15000, srv);
  }, 40000);

  afterAll(async () => {
    for (const p of pubs) p.kill();
    await browser?.close();
    await srv?.stop();
  });

  test("starts with the shipped pair (warning) and lists the HTTPS port", () => {
    expect(srv.output()).toContain("./conf/server.crt not found, using the shipped conf/server.crt");
    expect(srv.output()).toMatch(new RegExp(`http server https listen at tcp://127\\.0\\.0\\.1:${https}, cert CN=`));
    expect(srv.output()).toContain(`https=${https} https_api=${https}`);
    expect(srv.output()).not.toContain("not implemented");
  });

  test("curl -k: home page, console, players, a static file, the API and config.json over HTTPS; plain HTTP still answers", async () => {
    const home = await curl(u("/"));
    expect(home.status).toBe(200);
    expect(home.body).toContain("<html");
    for (const p of ["/console/", "/players/whip.html", "/players/srs_player.html", "/site.js"]) expect((await curl(u(p))).status).toBe(200);
    const file = await curl(u("/hello.txt"));
    expect(file.status).toBe(200);
    expect(file.body).toBe("hello over tls\n");
    const ver = await curl(u("/api/v1/versions"));
    expect(ver.status).toBe(200);
    expect(JSON.parse(ver.body).code).toBe(0);
    const streams = JSON.parse((await curl(u("/api/v1/streams/"))).body) as { streams: { url: string }[] };
    expect(streams.streams.map((s) => s.url)).toContain("/live/clip");
    const cfg = JSON.parse((await curl(u("/console/config.json"))).body);
    expect(cfg).toMatchObject({ http: srv.http, api: srv.http, https, https_api: https });
    expect((await curl(u("/nosuch"))).status).toBe(404);
    // the plain listener is unchanged
    expect((await fetch(srv.httpUrl("/hello.txt"))).status).toBe(200);
  });

  test("ffmpeg -tls_verify 0 decodes HTTP-FLV and HTTP-TS over HTTPS; ffprobe reads HTTP-AAC over HTTPS", async () => {
    const probe = run("ffprobe", ["-v", "error", "-tls_verify", "0", "-rw_timeout", "8000000", "-show_streams", "-of", "json", u("/aac.test/live/clip.aac")], { timeoutMs: 15000 });
    expect(await probe.done).toBe(0);
    const streams = (JSON.parse(probe.output().slice(probe.output().indexOf("{"))) as { streams: { codec_name: string }[] }).streams;
    expect(streams.map((x) => x.codec_name)).toEqual(["aac"]);
    const flv = await decodeFor(u("/live/clip.flv"), 2);
    expect(flv.frames).toBeGreaterThanOrEqual(40);
    const ts = await decodeFor(u("/ts.test/live/clip.ts"), 2);
    expect(ts.frames).toBeGreaterThanOrEqual(40);
  }, 60000);

  test("ffmpeg plays HLS over HTTPS (playlist and segments over TLS)", async () => {
    const file = join(srv.dir, "html/live/clip.m3u8");
    await waitFor("a playlist with 2 segments", () => existsSync(file) && (readFileSync(file, "utf8").match(/#EXTINF/g) ?? []).length >= 2, 30000, srv);
    // SRS's hls_ctx master playlist over TLS, then what it points to
    const master = await curl(u("/live/clip.m3u8"));
    expect(master.status).toBe(200);
    const media = /^\/live\/clip\.m3u8\?hls_ctx=\w+$/m.exec(master.body)?.[0];
    expect(media).toBeDefined();
    expect((await curl(u(media!))).body).toContain("#EXTINF");
    const hls = await decodeFor(u("/live/clip.m3u8"), 2);
    expect(hls.frames).toBeGreaterThanOrEqual(40);
  }, 60000);

  test("ffmpeg plays MPEG-DASH over HTTPS (MPD and segments over TLS)", async () => {
    const file = join(srv.dir, "html/live/clip.mpd");
    await waitFor("an MPD with 2 video segments", () => existsSync(file) && (readFileSync(file, "utf8").match(/<S /g) ?? []).length >= 2, 30000, srv);
    const mpd = await curl(u("/live/clip.mpd"));
    expect(mpd.status).toBe(200);
    expect(mpd.body).toContain('type="dynamic"');
    const dash = await decodeFor(u("/live/clip.mpd"), 2);
    expect(dash.frames).toBeGreaterThanOrEqual(40);
  }, 60000);

  test("Chromium (--ignore-certificate-errors): srs_player.html on HTTPS plays HTTP-FLV over HTTPS", async () => {
    browser ??= await launchBrowser({ args: ["--ignore-certificate-errors"] });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(u("/players/srs_player.html?autostart=true&app=live&stream=clip.flv"));
    await page.waitForFunction(() => (document.querySelector("#url") as HTMLInputElement).value !== "");
    expect(await page.inputValue("#url")).toBe(u("/live/clip.flv"));
    await page.waitForFunction(() => {
      const v = document.querySelector("video");
      return !!v && v.videoWidth > 0 && v.currentTime > 1.5;
    }, undefined, { timeout: 20000, polling: 200 });
    expect(await page.evaluate(() => document.querySelector("video")!.videoWidth)).toBe(640);
    await page.waitForFunction(() => document.querySelector('[data-stat="Engine"]')?.textContent?.includes("mpegts.js"), undefined, { timeout: 5000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 60000);

  test("Chromium: whip.html on HTTPS publishes the camera (WHIP over HTTPS), whep.html on HTTPS plays it back", async () => {
    browser ??= await launchBrowser({ args: ["--ignore-certificate-errors"] });
    const pubPage = await browser.context.newPage();
    const errors: string[] = [];
    pubPage.on("pageerror", (e) => errors.push(e.message));
    await pubPage.goto(u("/players/whip.html?autostart=true&stream=cam"));
    await pubPage.waitForFunction(() => (document.querySelector("#url") as HTMLInputElement).value !== "");
    expect(await pubPage.inputValue("#url")).toBe(u("/rtc/v1/whip/?app=live&stream=cam"));
    await pubPage.waitForFunction(() => document.getElementById("state")!.textContent === "Publishing", undefined, { timeout: 20000 });
    const play = await browser.context.newPage();
    play.on("pageerror", (e) => errors.push(e.message));
    await play.goto(u("/players/whep.html?autostart=true&stream=cam"));
    await play.waitForFunction(() => (document.querySelector("#url") as HTMLInputElement).value !== "");
    expect(await play.inputValue("#url")).toBe(u("/rtc/v1/whep/?app=live&stream=cam"));
    await play.waitForFunction(() => {
      const v = document.querySelector("video");
      return !!v && v.videoWidth > 0 && v.currentTime > 1.5;
    }, undefined, { timeout: 20000, polling: 200 });
    const clients = JSON.parse((await curl(u("/api/v1/clients/?count=100"))).body) as { clients: { type: string; url: string }[] };
    expect(clients.clients.filter((c) => c.url === "/live/cam").map((c) => c.type).sort()).toEqual(["rtc-play", "rtc-publish"]);
    await play.close();
    await pubPage.close();
    expect(errors).toEqual([]);
  }, 60000);

  test("Chromium: the console on HTTPS lists the stream through the API over HTTPS, with HTTPS play URLs", async () => {
    browser ??= await launchBrowser({ args: ["--ignore-certificate-errors"] });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(u("/console/"));
    const row = page.locator('tr[data-stream="/live/clip"]');
    await row.waitFor({ timeout: 15000 });
    await row.getByRole("button", { name: "Play URLs" }).click();
    await page.waitForFunction(() => (document.querySelector("tr.detail")?.textContent ?? "").includes(".flv"), undefined, { timeout: 5000 });
    expect(await page.textContent("tr.detail")).toContain(u("/live/clip.flv"));
    expect(requests.some((r) => r.startsWith(u("/api/v1/")))).toBe(true);
    expect(requests.filter((r) => r.startsWith("http:"))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 30000);

  test("the home page on plain HTTP lists the HTTPS URLs (HTTPS-FLV, HLS, WHIP, WHEP) and the HTTPS port", async () => {
    browser ??= await launchBrowser({ args: ["--ignore-certificate-errors"] });
    const page = await browser.context.newPage();
    await page.goto(srv.httpUrl("/"));
    await page.waitForFunction(() => (document.getElementById("play")?.textContent ?? "").includes("HTTPS-FLV"), undefined, { timeout: 10000 });
    const play = (await page.textContent("#play"))!;
    expect(play).toContain(u("/live/livestream.flv"));
    expect(play).toContain(u("/live/livestream.m3u8"));
    expect(play).toContain(u("/rtc/v1/whep/?app=live&stream=livestream"));
    expect(await page.textContent("#publish")).toContain(u("/rtc/v1/whip/?app=live&stream=livestream"));
    expect(await page.textContent("#ports")).toContain(`HTTPS ${https}`);
    await page.close();
  }, 30000);
});

const DENO = join(REPO_ROOT, "node_modules/.bin/deno");

/**
 * The renewal scenario, under Bun (Bun.serve: the listener is reopened) or Deno (node:https: the pair is swapped in
 * place, as Deno.serve keeps its port while requests are open).
 */
async function renewals(command?: string[]): Promise<void> {
    const dir = tempDir("srs-ts-https-certs-");
    const a = await makePair(dir, "alpha");
    const b = await makePair(dir, "bravo");
    const c = await makePair(dir, "charlie");
    const key = join(dir, "server.key");
    const cert = join(dir, "server.crt");
    copyFileSync(a.key, key);
    copyFileSync(a.cert, cert);
    const https = await freePort();
    const conf = (k: string, c2: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; https { enabled on; listen 127.0.0.1:${https}; key ${k}; cert ${c2}; } }
vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }
`;
    const srv = await startServer({ config: conf(key, cert), command });
    const pub = publish(clip("clip.flv"), srv.rtmpUrl("/live/s"));
    let player: ReturnType<typeof decoder> | undefined;
    try {
      expect(await servedFingerprint(https)).toBe(a.fingerprint);
      await waitFor("the publisher", () => srv.output().includes("publish start by"), 15000, srv);
      player = decoder(`https://127.0.0.1:${https}/live/s.flv`);
      await waitFor("the HTTPS player decodes", () => player!.frames() >= 25, 20000, { output: () => `${srv.output()}\nplayer: ${player!.output()}` });

      // Same paths, new files: SIGHUP.
      copyFileSync(b.key, key);
      copyFileSync(b.cert, cert);
      const before = count(srv.output(), "reload ok");
      srv.proc.kill("SIGHUP");
      await waitFor("reload ok", () => count(srv.output(), "reload ok") > before, 10000, srv);
      expect(await servedFingerprint(https)).toBe(b.fingerprint);
      expect(srv.output()).toContain(`certificate CN=bravo sha256 ${b.fingerprint}`);
      const f1 = player.frames();
      await waitFor("the player decodes on after the swap", () => player!.frames() >= f1 + 50, 15000, srv);
      expect(player.proc.exitCode).toBeNull();

      // A bad certificate: an error, the old one stays, the server goes on.
      writeFileSync(cert, "not a certificate\n");
      const before2 = count(srv.output(), "reload ok");
      srv.proc.kill("SIGHUP");
      await waitFor("reload ok", () => count(srv.output(), "reload ok") > before2, 10000, srv);
      expect(srv.output()).toMatch(/\[Error\].*http_server\.https.*server\.crt is not a PEM certificate.*keeping the running certificate \(CN=bravo/);
      expect(await servedFingerprint(https)).toBe(b.fingerprint);
      // A key of another certificate: refused too.
      copyFileSync(c.cert, cert);
      const before3 = count(srv.output(), "reload ok");
      srv.proc.kill("SIGHUP");
      await waitFor("reload ok", () => count(srv.output(), "reload ok") > before3, 10000, srv);
      expect(srv.output()).toContain("does not match cert");
      expect(await servedFingerprint(https)).toBe(b.fingerprint);
      expect((await curl(`https://127.0.0.1:${https}/api/v1/versions`)).status).toBe(404); // API not shared here
      expect((await fetch(srv.httpUrl("/live/s.flv"), { signal: AbortSignal.timeout(3000) })).status).toBe(200);

      // New paths in the config.
      await reloadConfig(srv, conf(c.key, c.cert));
      expect(await servedFingerprint(https)).toBe(c.fingerprint);
      const f2 = player.frames();
      await waitFor("the player still decodes", () => player!.frames() >= f2 + 25, 15000, srv);

      // Quit with the HTTPS player connected: the server exits at once.
      const t0 = Date.now();
      expect(await srv.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(4000);
    } finally {
      player?.kill();
      pub.kill();
      await srv.stop();
    }
}

describe("certificates: reload on SIGHUP, bad pair refused, shutdown with an HTTPS player", () => {
  test("SIGHUP takes the replaced files, the player keeps playing; a bad cert keeps the old; new paths taken; quit with a player", async () => {
    await renewals();
  }, 90000);

  test("the same under Deno (node:https, the certificate swapped in place)", async () => {
    await renewals([DENO, "run", "-A", join(REPO_ROOT, "main.ts")]);
  }, 150000);

  test("http_api.https on its own port serves the API and the WHEP/WHIP endpoints; a missing explicit cert fails the start clearly", async () => {
    const dir = tempDir("srs-ts-https-api-");
    const p = await makePair(dir, "api");
    const apis = await freePort();
    const srv = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; https { enabled on; listen 127.0.0.1:${apis}; key ${p.key}; cert ${p.cert}; } }
http_server { enabled on; listen 8080; }
`,
    });
    try {
      expect(await servedFingerprint(apis)).toBe(p.fingerprint);
      expect(JSON.parse((await curl(`https://127.0.0.1:${apis}/api/v1/versions`)).body).code).toBe(0);
      // WebRTC signalling is on the API routes (rtc_server off here: SRS's error answer, not a 404).
      const whip = run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/sdp", "--data", "v=0",
        `https://127.0.0.1:${apis}/rtc/v1/whip/?app=live&stream=x`]);
      await whip.done;
      expect(whip.output()).not.toBe("404");
      const cfg = await (await fetch(srv.httpUrl("/console/config.json"))).json();
      expect(cfg).toMatchObject({ https: null, https_api: apis });
    } finally {
      await srv.stop();
    }
    const bad = startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_server { enabled on; listen 8080; https { enabled on; listen 127.0.0.1:${apis}; key ${join(dir, "nosuch.key")}; cert ${p.cert}; } }
`,
    });
    await expect(bad).rejects.toThrow(/http_server\.https.*nosuch\.key not found/);
  }, 40000);
});

describe("workers 2", () => {
  test("both workers serve HTTPS on the shared port; ffmpeg decodes HTTP-FLV over HTTPS; SIGHUP renews in both", async () => {
    const dir = tempDir("srs-ts-https-workers-");
    const a = await makePair(dir, "one");
    const b = await makePair(dir, "two");
    const key = join(dir, "server.key");
    const cert = join(dir, "server.crt");
    copyFileSync(a.key, key);
    copyFileSync(a.cert, cert);
    const https = await freePort();
    let udp = await freeUdpPort();
    while (await udpTaken(udp + 1)) udp = await freeUdpPort();
    const srv = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console; workers 2;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; https { enabled on; listen 127.0.0.1:${https}; key ${key}; cert ${cert}; } }
vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }
`,
    });
    const pub = publish(clip("clip.flv"), srv.rtmpUrl("/live/w"));
    const players: ReturnType<typeof decoder>[] = [];
    try {
      await waitFor("both workers started", () => count(srv.output(), "server started") >= 2, 20000, srv);
      expect(count(srv.output(), `http server https listen at tcp://127.0.0.1:${https}`)).toBe(2);
      await waitFor("published", () => srv.output().includes("publish start by"), 15000, srv);
      for (let i = 0; i < 4; i++) players.push(decoder(`https://127.0.0.1:${https}/live/w.flv`));
      await waitFor("4 HTTPS players decode (spread over the workers)", () => players.every((p) => p.frames() >= 25), 30000, srv);
      copyFileSync(b.key, key);
      copyFileSync(b.cert, cert);
      const before = count(srv.output(), "reload ok");
      srv.proc.kill("SIGHUP");
      await waitFor("both workers reloaded", () => count(srv.output(), "reload ok") >= before + 2, 10000, srv);
      expect(count(srv.output(), `certificate CN=two sha256 ${b.fingerprint}`)).toBe(2);
      for (let i = 0; i < 4; i++) expect(await servedFingerprint(https)).toBe(b.fingerprint);
      const base = players.map((p) => p.frames());
      await waitFor("the players go on", () => players.every((p, i) => p.frames() >= base[i]! + 25), 15000, srv);
    } finally {
      for (const p of players) p.kill();
      pub.kill();
      await srv.stop();
    }
  }, 90000);
});
