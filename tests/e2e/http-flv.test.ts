/**
 * http_remux end to end: FFmpeg publishes by RTMP, FFmpeg/ffprobe and raw sockets play HTTP-FLV, AAC and MP3
 * from the real server (`bun main.ts` on free loopback ports). Every child process is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { FLV_TAG_AUDIO, FLV_TAG_VIDEO, FlvDemuxer, type FlvTag } from "../../lib/formats/flv.ts";
import { clip } from "../helpers/media.ts";
import { type Proc, probeStreams, publish, type RunningServer, run, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

const children: Proc[] = [];
const sockets: Socket[] = [];
const work = tempDir("srs-ts-flv-e2e-");
let srv: RunningServer;
let hookServer: ReturnType<typeof Bun.serve>;
const hookCalls: { action: string; stream: string; client_id: string }[] = [];

const CONFIG = (hookPort: number) => `
listen 1935;
daemon off;
srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    http_hooks {
        enabled on;
        on_play http://127.0.0.1:${hookPort}/hook;
        on_stop http://127.0.0.1:${hookPort}/hook;
    }
}
vhost aac.test { http_remux { enabled on; mount [vhost]/[app]/[stream].aac; } }
vhost mp3.test { http_remux { enabled on; mount [vhost]/[app]/[stream].mp3; } }
vhost noaudio.test { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; has_audio off; } }
vhost ts.test { http_remux { enabled on; mount [vhost]/[app]/[stream].ts; } }
`;

beforeAll(async () => {
  hookServer = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = (await req.json()) as { action: string; stream: string; client_id: string };
      hookCalls.push(body);
      // The hook refuses to play the stream named "denied".
      return Response.json({ code: body.stream === "denied" ? 403 : 0 });
    },
  });
  srv = await startServer({ config: CONFIG(hookServer.port!) });
  track(publish(clip("clip.flv"), srv.rtmpUrl("/live/s")));
  track(publish(clip("clip-main.flv"), srv.rtmpUrl("/live/main")));
  track(publish(clip("clip.flv"), srv.rtmpUrl("/live/denied")));
  track(publish(clip("clip.flv"), srv.rtmpUrl("/live/s?vhost=aac.test")));
  track(publish(clip("clip.flv"), srv.rtmpUrl("/live/s?vhost=mp3.test"), ["-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k"]));
  track(publish(clip("clip.flv"), srv.rtmpUrl("/live/s?vhost=noaudio.test")));
  track(publish(clip("clip.flv"), srv.rtmpUrl("/live/s?vhost=ts.test")));
  await waitFor(() => (srv.output().match(/publish start by/g) ?? []).length >= 7, 15000, "7 publishers");
  await Bun.sleep(1500); // a GOP in the cache
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  await srv?.stop("SIGKILL");
  hookServer?.stop(true);
  rmSync(work, { recursive: true, force: true });
});

function track(p: Proc): Proc {
  children.push(p);
  return p;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${srv?.output().slice(-3000)}`);
    await Bun.sleep(50);
  }
}

/** A raw HTTP GET on a plain socket; `onData` sees every received chunk. */
function rawGet(path: string, headers: Record<string, string> = {}, onData?: (d: Buffer) => void): Socket {
  const s = netConnect({ host: "127.0.0.1", port: srv.http });
  sockets.push(s);
  const h = Object.entries({ Host: `127.0.0.1:${srv.http}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  s.on("connect", () => s.write(`GET ${path} HTTP/1.1\r\n${h}\r\n`));
  s.on("error", () => {});
  if (onData) s.on("data", onData);
  return s;
}

/** Decodes an HTTP/1.1 chunked body (enough for the tests: whole chunks only). */
function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", off);
    if (eol < 0) break;
    const n = parseInt(body.subarray(off, eol).toString("latin1"), 16);
    if (!Number.isFinite(n) || n === 0) break;
    out.push(body.subarray(eol + 2, Math.min(body.length, eol + 2 + n))); // the last one may be cut short
    if (eol + 2 + n > body.length) break;
    off = eol + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/** Reads `bytes` of response (head + raw body) from a raw GET. */
async function rawFetch(path: string, bytes: number, headers: Record<string, string> = {}, timeoutMs = 8000): Promise<{ head: string; body: Buffer }> {
  const parts: Buffer[] = [];
  let total = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const s = rawGet(path, headers, (d) => {
    parts.push(d);
    total += d.length;
    if (total >= bytes) done();
  });
  s.on("close", () => done());
  const t = setTimeout(() => done(), timeoutMs);
  await finished;
  clearTimeout(t);
  s.destroy();
  const all = Buffer.concat(parts);
  const sep = all.indexOf("\r\n\r\n");
  const head = all.subarray(0, sep < 0 ? all.length : sep).toString("latin1");
  const raw = sep < 0 ? Buffer.alloc(0) : all.subarray(sep + 4);
  return { head, body: /transfer-encoding: chunked/i.test(head) ? dechunk(raw) : raw };
}

function demuxTags(flv: Buffer): { flags: number; tags: FlvTag[] } {
  const d = new FlvDemuxer();
  const tags = d.push(new Uint8Array(flv));
  return { flags: flv[4]!, tags };
}

/** Plays the video of a URL for `seconds` of media with ffmpeg; returns the decoded frame count. */
async function playVideo(url: string, seconds: number): Promise<number> {
  const prog = join(work, `progress-${Math.random().toString(36).slice(2)}.txt`);
  const p = track(run("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "error", "-rw_timeout", "8000000", "-i", url, "-t", String(seconds),
    "-map", "0:v:0", "-f", "null", "-progress", prog, "-",
  ], { timeoutMs: 30000 }));
  await p.done;
  const frames = [...(existsSync(prog) ? readFileSync(prog, "utf8") : "").matchAll(/^frame=(\d+)/gm)].map((m) => Number(m[1]));
  return frames.length ? frames[frames.length - 1]! : 0;
}

/** Decodes the audio of a URL for `seconds` to raw PCM; returns the PCM byte count. */
async function decodeAudioBytes(url: string, seconds: number, extra: string[] = []): Promise<{ bytes: number; log: string }> {
  const out = join(work, `pcm-${Math.random().toString(36).slice(2)}.raw`);
  const p = track(run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-rw_timeout", "8000000", ...extra, "-i", url, "-t", String(seconds),
    "-map", "0:a:0", "-f", "s16le", "-ac", "2", "-ar", "44100", "-y", out,
  ], { timeoutMs: 30000 }));
  await p.done;
  return { bytes: existsSync(out) ? statSync(out).size : 0, log: p.output() };
}

describe("HTTP-FLV", () => {
  test("ffprobe shows exactly h264 640x360 + aac (no Data stream)", async () => {
    const streams = await probeStreams(srv.httpUrl("/live/s.flv"));
    const v = streams.filter((s) => s.codec_type === "video");
    const a = streams.filter((s) => s.codec_type === "audio");
    expect(streams.length).toBe(2);
    expect(v.length).toBe(1);
    expect(v[0]!.codec_name).toBe("h264");
    expect([v[0]!.width, v[0]!.height]).toEqual([640, 360]);
    expect(a.length).toBe(1);
    expect(a[0]!.codec_name).toBe("aac");
  }, 30000);

  test("headers: 200, video/x-flv, chunked, Server; FLV header with audio+video, metadata and sequence headers first", async () => {
    const { head, body } = await rawFetch("/live/s.flv", 64 * 1024);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).toMatch(/content-type: video\/x-flv/i);
    expect(head).toMatch(/transfer-encoding: chunked/i);
    expect(head).toMatch(/server: SRS\//i);
    expect(body.subarray(0, 3).toString("latin1")).toBe("FLV");
    const { flags, tags } = demuxTags(body);
    expect(flags).toBe(5);
    expect(tags[0]!.type).toBe(18); // onMetaData
    const kinds = tags.slice(1, 3).map((t) => `${t.type}:${t.data[1]}`).sort();
    expect(kinds).toEqual(["8:0", "9:0"]); // AAC + AVC sequence headers
    const firstFrame = tags.find((t) => t.type === FLV_TAG_VIDEO && t.data[1] === 1)!;
    expect(firstFrame.data[0]! >> 4).toBe(1); // starts at a keyframe (GOP cache)
  }, 20000);

  test("ffmpeg decodes >= 140 video frames in 6 s", async () => {
    expect(await playVideo(srv.httpUrl("/live/s.flv"), 6)).toBeGreaterThanOrEqual(140);
  }, 40000);

  test("clip-main.flv keeps B-frame timing (pts != dts, pts reordered)", async () => {
    const p = track(run("ffprobe", [
      "-v", "error", "-rw_timeout", "8000000", "-read_intervals", "%+4", "-select_streams", "v:0",
      "-show_entries", "packet=pts,dts", "-of", "csv=p=0", srv.httpUrl("/live/main.flv"),
    ], { timeoutMs: 30000 }));
    await p.done;
    const rows = p.output().trim().split("\n").map((l) => l.split(",").map(Number)).filter((r) => r.length === 2 && r.every(Number.isFinite));
    expect(rows.length).toBeGreaterThan(50);
    const withCts = rows.filter(([pts, dts]) => pts !== dts).length;
    expect(withCts).toBeGreaterThan(rows.length / 4);
    let reordered = 0;
    for (let i = 1; i < rows.length; i++) if (rows[i]![0]! < rows[i - 1]![0]!) reordered++;
    expect(reordered).toBeGreaterThan(5);
    // dts strictly increases
    for (let i = 1; i < rows.length; i++) expect(rows[i]![1]!).toBeGreaterThan(rows[i - 1]![1]!);
  }, 40000);

  test("has_audio off: FLV header without audio and no audio tags", async () => {
    const { head, body } = await rawFetch("/live/s.flv?vhost=noaudio.test", 128 * 1024);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const { flags, tags } = demuxTags(body);
    expect(flags).toBe(1);
    expect(tags.some((t) => t.type === FLV_TAG_VIDEO)).toBe(true);
    expect(tags.some((t) => t.type === FLV_TAG_AUDIO)).toBe(false);
  }, 20000);

  test("a stream that is not published: 404 at once, no on_play hook (as SRS 7)", async () => {
    const before = hookCalls.length;
    const t0 = Date.now();
    const r = await fetch(srv.httpUrl("/live/nobody.flv"));
    expect(r.status).toBe(404);
    await r.arrayBuffer();
    expect(Date.now() - t0).toBeLessThan(2000);
    const r2 = await fetch(srv.httpUrl("/live/nobody.mp3?vhost=mp3.test"));
    expect(r2.status).toBe(404);
    await r2.arrayBuffer();
    await Bun.sleep(200);
    expect(hookCalls.slice(before).filter((h) => h.stream === "nobody")).toEqual([]);
  });

  test("on_play refusal answers 403; on_play/on_stop are sent for a player", async () => {
    const r = await fetch(srv.httpUrl("/live/denied.flv"));
    expect(r.status).toBe(403);
    await r.arrayBuffer();
    const { head } = await rawFetch("/live/s.flv", 20000);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    await waitFor(() => hookCalls.some((h) => h.action === "on_stop" && h.stream === "s"), 5000, "on_stop");
    const play = hookCalls.find((h) => h.action === "on_play" && h.stream === "s")!;
    expect(play).toBeDefined();
    expect(hookCalls.some((h) => h.action === "on_stop" && h.client_id === play.client_id)).toBe(true);
  }, 20000);

  test("HEAD answers the headers without creating a player", async () => {
    const r = await fetch(srv.httpUrl("/live/s.flv"), { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("video/x-flv");
  });

  test("the player is an flv-play client (log and /api/v1/clients), removed on disconnect, kick ends the response", async () => {
    let got = 0;
    let closed = false;
    const s = rawGet("/live/s.flv", {}, (d) => (got += d.length));
    s.on("close", () => (closed = true));
    await waitFor(() => got > 10000, 5000, "flv bytes");
    const line = srv.output().split("\n").reverse().find((l) => l.includes("http stream play /live/s.flv"))!;
    expect(line).toContain("format=flv");
    const id = /\]\[([0-9a-z]{8})\] http stream play/.exec(line)![1]!;
    const list = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/?count=100`)).json()) as {
      clients: { id: string; type: string; tcUrl: string; ip: string }[];
    };
    const me = list.clients.find((c) => c.id === id)!;
    expect(me).toBeDefined();
    expect(me.type).toBe("flv-play");
    expect(me.ip).toBe("127.0.0.1");
    expect(me.tcUrl).toBe(`http://127.0.0.1:${srv.rtmp}/live`);
    // Kick through the API: the response ends.
    const kick = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/${id}`, { method: "DELETE" })).json()) as { code: number };
    expect(kick.code).toBe(0);
    await waitFor(() => closed || srv.output().includes(`[${id}] http stream client closed`), 3000, "kicked player closed");
    const after = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/${id}`)).json()) as { code: number };
    expect(after.code).toBe(2049);
  }, 20000);

  test("a mid-stream disconnect is noticed at once and a stalled reader does not stop another player", async () => {
    // A player that reads a little and disconnects.
    let got = 0;
    const quitter = rawGet("/live/s.flv", {}, (d) => (got += d.length));
    await waitFor(() => got > 20000, 5000, "quitter bytes");
    const line = srv.output().split("\n").reverse().find((l) => l.includes("http stream play /live/s.flv"))!;
    const id = /\]\[([0-9a-z]{8})\] http stream play/.exec(line)![1]!;
    quitter.destroy();
    await waitFor(() => srv.output().includes(`[${id}] http stream client closed (client closed)`), 2000, "disconnect noticed");
    // Readers that never read (their socket stays paused), and a few idle connections that send nothing.
    for (let i = 0; i < 3; i++) rawGet("/live/s.flv").pause();
    for (let i = 0; i < 20; i++) {
      const idle = netConnect({ host: "127.0.0.1", port: srv.http });
      idle.on("error", () => {});
      sockets.push(idle);
    }
    expect(await playVideo(srv.httpUrl("/live/s.flv"), 6)).toBeGreaterThanOrEqual(140);
  }, 40000);

  test("the response ends when the publisher leaves", async () => {
    const pub = track(publish(clip("clip.flv"), srv.rtmpUrl("/live/bye")));
    await waitFor(() => srv.output().includes("__defaultVhost__/live/bye: publish start"), 10000, "bye publishing");
    let got = 0;
    let ended = false;
    const s = rawGet("/live/bye.flv", {}, (d) => {
      got += d.length;
      if (d.includes(Buffer.from("0\r\n\r\n"))) ended = true;
    });
    s.on("end", () => (ended = true));
    await waitFor(() => got > 5000, 5000, "bye bytes");
    pub.kill();
    await waitFor(() => ended, 5000, "response end after unpublish");
  }, 20000);
});

describe("HTTP-AAC, HTTP-MP3, HTTP-TS", () => {
  test(".aac mount (vhost as the first path part): ADTS that ffmpeg decodes", async () => {
    const url = srv.httpUrl("/aac.test/live/s.aac");
    const head = await fetch(url, { method: "HEAD" });
    expect(head.headers.get("content-type")).toBe("audio/aac");
    const streams = await probeStreams(url);
    expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(["audio:aac"]);
    const { body } = await rawFetch("/aac.test/live/s.aac", 4096);
    expect(body[0]).toBe(0xff);
    expect(body[1]! & 0xf6).toBe(0xf0); // ADTS syncword
    const r = await decodeAudioBytes(url, 3);
    expect(r.bytes).toBeGreaterThan(0.9 * 3 * 44100 * 4);
  }, 40000);

  test(".mp3 mount (vhost by the Host header): MP3 that ffmpeg decodes", async () => {
    const url = srv.httpUrl("/live/s.mp3");
    const probe = track(run("ffprobe", ["-v", "error", "-headers", "Host: mp3.test\r\n", "-show_streams", "-of", "json", url], { timeoutMs: 20000 }));
    await probe.done;
    const j = JSON.parse(probe.output().slice(probe.output().indexOf("{"))) as { streams: { codec_name: string; codec_type: string }[] };
    expect(j.streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(["audio:mp3"]);
    const { head } = await rawFetch("/live/s.mp3", 2000, { Host: "mp3.test" });
    expect(head).toMatch(/content-type: audio\/mpeg/i);
    const r = await decodeAudioBytes(url, 3, ["-headers", "Host: mp3.test\r\n"]);
    expect(r.bytes).toBeGreaterThan(0.9 * 3 * 44100 * 4);
  }, 40000);

  test(".ts mount: video/MP2T from the shared TS encoder, h264 + aac", async () => {
    const r = await fetch(srv.httpUrl("/live/s.ts?vhost=ts.test"));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("video/MP2T");
    await r.body?.cancel();
    const streams = await probeStreams(srv.httpUrl("/live/s.ts?vhost=ts.test"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
  }, 30000);
});

test("the server is still healthy after all of it", async () => {
  expect(await playVideo(srv.httpUrl("/live/s.flv"), 2)).toBeGreaterThan(30);
  expect(srv.proc.exitCode).toBeNull();
}, 30000);
