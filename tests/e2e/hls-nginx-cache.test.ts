/**
 * HLS at scale behind an HTTP cache: Debian's nginx runs the shipped conf/nginx.hls-cache.conf (its ports and
 * folders replaced) in front of an srs-ts origin with hls_ctx off. Eight FFmpeg HLS players play through nginx at
 * once and decode video; nginx's log says which requests went to the origin, and the origin gets each segment
 * about once however many players fetch it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { freePort, playFrames, type Proc, publish, run, type RunningServer, startServer, waitPort } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";
import { waitFor } from "../helpers/wait.ts";

const PLAYERS = 8;
let origin: RunningServer;
let pub: Proc;
let nginx: Proc;
let dir: string;
let port: number;

/** The shipped config with this test's port, origin and folders (and a log line that names the upstream). */
function nginxConfig(originHttp: number): string {
  const conf = readFileSync(join(REPO_ROOT, "conf/nginx.hls-cache.conf"), "utf8");
  const out = conf
    .replace(/^pid\s+\S+;/m, `pid ${dir}/nginx.pid;\ndaemon off;${process.getuid?.() === 0 ? "\nuser root;" : ""}`)
    .replace(/^error_log\s+\S+/m, `error_log ${dir}/error.log`)
    .replace(/^(\s*)access_log\s+\S+;/m, `$1log_format up '$uri $upstream_addr $upstream_cache_status $status';\n` +
      `$1access_log ${dir}/access.log up;\n$1client_body_temp_path ${dir}/body;\n$1proxy_temp_path ${dir}/proxy;\n` +
      `$1fastcgi_temp_path ${dir}/fastcgi;\n$1uwsgi_temp_path ${dir}/uwsgi;\n$1scgi_temp_path ${dir}/scgi;`)
    .replace("/var/cache/nginx/srs-ts", `${dir}/cache`)
    .replace("server 127.0.0.1:8080;", `server 127.0.0.1:${originHttp};`)
    .replace(/listen\s+8081;/, `listen 127.0.0.1:${port};`);
  // Every value the test must change was found (a change to the shipped file must keep the test honest).
  for (const s of [dir + "/nginx.pid", `127.0.0.1:${originHttp}`, `127.0.0.1:${port}`, `${dir}/cache`, `${dir}/access.log`]) {
    if (!out.includes(s)) throw new Error(`conf/nginx.hls-cache.conf: could not set ${s}`);
  }
  return out;
}

interface Line {
  uri: string;
  upstream: boolean;
}
const logLines = (): Line[] =>
  (existsSync(join(dir, "access.log")) ? readFileSync(join(dir, "access.log"), "utf8") : "").trim().split("\n").filter(Boolean)
    .map((l) => {
      const [uri, addr] = l.split(" ");
      return { uri: uri!, upstream: addr !== "-" };
    });

beforeAll(async () => {
  dir = tempDir("srs-ts-nginx-");
  port = await freePort();
  origin = await startServer({
    env: {
      SRS_VHOST_HLS_ENABLED: "on", SRS_VHOST_HLS_HLS_FRAGMENT: "2", SRS_VHOST_HLS_HLS_WINDOW: "10",
      SRS_VHOST_HLS_HLS_CTX: "off", SRS_VHOST_HLS_HLS_TS_CTX: "off", SRS_VHOST_HLS_HLS_PATH: "./hls",
    },
  });
  pub = publish(clip("clip.flv"), origin.rtmpUrl("/live/cached"));
  writeFileSync(join(dir, "nginx.conf"), nginxConfig(origin.http));
  nginx = run("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir]);
  await waitPort(port);
  // a few segments in the playlist before the players come
  await waitFor("three segments", async () => {
    const r = await fetch(origin.httpUrl("/live/cached.m3u8"));
    return r.ok && ((await r.text()).match(/#EXTINF/g)?.length ?? 0) >= 3;
  }, 30000, origin);
}, 60000);

afterAll(async () => {
  pub?.kill();
  nginx?.proc.kill("SIGQUIT");
  await nginx?.done;
  await origin?.stop();
});

describe("HLS through an nginx cache (conf/nginx.hls-cache.conf)", () => {
  test(`${PLAYERS} FFmpeg players through nginx decode; the origin serves each segment about once`, async () => {
    const url = `http://127.0.0.1:${port}/live/cached.m3u8`;
    // the playlist through nginx is the origin's, with plain segment URLs (hls_ctx off)
    const r = await fetch(url);
    expect(r.status).toBe(200);
    const m3u8 = await r.text();
    expect(m3u8).toMatch(/^cached-\d+\.ts$/m);
    expect(m3u8).not.toContain("hls_ctx");

    const plays = await Promise.all(Array.from({ length: PLAYERS }, () => playFrames(url, 8, 45000)));
    for (const p of plays) expect(p.video).toBeGreaterThan(8 * 25 * 0.8);

    const lines = logLines();
    const segs = lines.filter((l) => /-\d+\.ts$/.test(l.uri));
    const segFromOrigin = segs.filter((l) => l.upstream);
    const distinct = new Set(segs.map((l) => l.uri)).size;
    const m3u8s = lines.filter((l) => l.uri.endsWith(".m3u8"));
    const m3u8FromOrigin = m3u8s.filter((l) => l.upstream);
    console.log(`nginx: ${segs.length} segment requests from players (${distinct} segments), ${segFromOrigin.length} went to the origin; ` +
      `${m3u8s.length} playlist requests, ${m3u8FromOrigin.length} went to the origin`);
    // every player fetched several segments; the origin saw each one about once (a miss per segment; the lock
    // makes the other players wait for that one request)
    expect(segs.length).toBeGreaterThanOrEqual(PLAYERS * 3);
    expect(segFromOrigin.length).toBeLessThanOrEqual(distinct + 1);
    expect(segFromOrigin.length * 3).toBeLessThan(segs.length);
    expect(m3u8FromOrigin.length).toBeLessThan(m3u8s.length);
  }, 90000);

  test("live HTTP-FLV passes through nginx unbuffered", async () => {
    const p = await playFrames(`http://127.0.0.1:${port}/live/cached.flv`, 3, 20000);
    expect(p.video).toBeGreaterThan(3 * 25 * 0.8);
  }, 30000);
});
