/**
 * SRT transport end to end: our SrtServer (through the in-process SrtRelay) against libsrt peers
 * (srt-live-transmit 1.5 and FFmpeg's libsrt), plus our caller against a libsrt listener.
 * Every child process is killed and every relay closed in afterAll.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { srtConnect, SrtRejectError } from "../../lib/protocols/srt/caller.ts";
import { SrtRelay } from "../../lib/protocols/srt/relay.ts";
import { SrtServer } from "../../lib/protocols/srt/server.ts";
import type { SrtServerOptions } from "../../lib/protocols/srt/server.ts";
import { Log, LogSink } from "../../lib/log/logger.ts";
import { clip } from "../helpers/media.ts";
import { freeUdpPort } from "../helpers/ports.ts";
import { type Proc, run } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

const CLIP_TS = clip("clip.ts");
const CLIP = new Uint8Array(readFileSync(CLIP_TS));
const CLIP_VIDEO_FRAMES = 250;
const work = tempDir("srs-ts-srt-e2e-");
const children: Proc[] = [];
const spawned: ChildProcess[] = [];
const relays: SrtRelay[] = [];
const servers: SrtServer[] = [];

afterAll(async () => {
  for (const c of children) c.kill();
  for (const p of spawned) p.kill("SIGKILL");
  await Promise.all(children.map((c) => c.done));
  await Promise.all(relays.map((r) => r.close()));
  await Promise.all(servers.map((s) => s.close()));
  rmSync(work, { recursive: true, force: true });
});

/** A logger whose lines are kept in memory (to assert on rejection logs). */
function memLog(): { log: Log; lines: string[] } {
  const lines: string[] = [];
  const sink = new LogSink({ level: "trace" });
  sink.write = (level, cid, msg) => {
    if (sink.enabled(level)) lines.push(`[${level}][${cid}] ${msg}`);
  };
  return { log: new Log(sink, "srttest0"), lines };
}

async function relay(opts: SrtServerOptions = {}, record = true): Promise<{ r: SrtRelay; port: number; lines: string[] }> {
  const { log, lines } = memLog();
  const r = new SrtRelay({ port: 0, host: "127.0.0.1", log, ...opts }, record);
  relays.push(r);
  const port = await r.listen();
  return { r, port, lines };
}

function proc(cmd: string, args: string[], timeoutMs = 40000): Proc {
  const p = run(cmd, args, { timeoutMs });
  children.push(p);
  return p;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Null TS packets appended after the clip: libsrt drops the last packets when its peer closes at EOF. */
const TAIL = (() => {
  const t = new Uint8Array(188 * 7 * 4).fill(0xff);
  for (let o = 0; o < t.length; o += 188) t.set([0x47, 0x1f, 0xff, 0x10], o);
  return t;
})();

/**
 * srt-live-transmit as caller reading stdin (`file://con`): we write the clip at ~32 Mbps in 1316-byte chunks
 * after it had time to connect, then the null-packet tail, then EOF.
 */
async function sltPush(url: string, data: Uint8Array, extra: string[] = []): Promise<{ code: number | null; out: string }> {
  const p = spawn("srt-live-transmit", ["-q", "-chunk", "1316", ...extra, "file://con", url], { stdio: ["pipe", "pipe", "pipe"] });
  spawned.push(p);
  let out = "";
  p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
  const kill = setTimeout(() => p.kill("SIGKILL"), 20000);
  await Bun.sleep(800);
  const all = concat([data, TAIL]);
  const chunk = 1316 * 4;
  const t0 = performance.now();
  for (let o = 0; o < all.length && p.exitCode === null; o += chunk) {
    const due = t0 + (o / 4_000_000) * 1000;
    const w = due - performance.now();
    if (w > 0) await Bun.sleep(w);
    p.stdin!.write(all.subarray(o, o + chunk));
  }
  p.stdin!.end();
  // srt-live-transmit does not exit at EOF of file://con: give it time to send, then interrupt it (it closes cleanly).
  await Bun.sleep(1500);
  p.kill("SIGINT");
  const code = await done;
  clearTimeout(kill);
  return { code, out };
}

/** ffmpeg reading a URL, counting decoded video frames (-progress). */
function ffPlay(url: string, name: string, extraIn: string[] = []): { p: Proc; frames: () => number } {
  const prog = join(work, `${name}.progress`);
  const p = proc("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "error", ...extraIn, "-i", url, "-map", "0:v:0", "-f", "null",
    "-progress", prog, "-",
  ]);
  return {
    p,
    frames: () => {
      let text = "";
      try {
        text = readFileSync(prog, "utf8");
      } catch {
        return 0;
      }
      const m = [...text.matchAll(/^frame=(\d+)/gm)];
      return m.length ? Number(m[m.length - 1]![1]) : 0;
    },
  };
}

/** ffmpeg -re publishing clip.ts; linger=2 makes libsrt send its last packets before closing (it drops them otherwise). */
function ffPublish(url: string): Proc {
  return proc("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", CLIP_TS, "-c", "copy", "-f", "mpegts", `${url}&linger=2`]);
}

async function countFrames(file: string): Promise<number> {
  const p = proc("ffprobe", [
    "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file,
  ]);
  await p.done;
  return Number(p.output().trim().split("\n")[0]);
}

describe.concurrent("SRT transport against libsrt", () => {
  test("(a) srt-live-transmit caller pushes clip.ts: the payload stream is byte-identical", async () => {
    const { r, port } = await relay();
    const res = await sltPush(`srt://127.0.0.1:${port}?streamid=#!::r=live/a,m=publish`, CLIP);
    await until(() => !r.publisher("live/a"), 3000, "publisher close");
    const got = concat(r.recorded.get("live/a") ?? []);
    expect(r.streamIds).toEqual(["#!::r=live/a,m=publish"]);
    expect(got.length).toBeGreaterThanOrEqual(CLIP.length);
    expect(Buffer.compare(got.subarray(0, CLIP.length), CLIP)).toBe(0);
    expect(res.code).not.toBeNull();
  }, 30000);

  test("(b) ffmpeg -re publishes with #!::r=live/s,m=publish: stream id parsed, all bytes received", async () => {
    const { r, port } = await relay();
    const pub = ffPublish(`srt://127.0.0.1:${port}?streamid=#!::r=live/b,m=publish`);
    const code = await pub.done;
    expect(code).toBe(0);
    await until(() => !r.publisher("live/b"), 3000, "publisher close");
    expect(r.streamIds).toEqual(["#!::r=live/b,m=publish"]);
    const got = concat(r.recorded.get("live/b") ?? []);
    // ffmpeg remuxes, so not byte-identical to the file: check size and that it is valid TS with all frames.
    expect(got.length).toBeGreaterThan(CLIP.length * 0.9);
    expect(got.length % 188).toBe(0);
    for (let o = 0; o < got.length; o += 188) if (got[o] !== 0x47) throw new Error(`lost TS sync at ${o}`);
    const f = join(work, "b.ts");
    await Bun.write(f, got);
    expect(await countFrames(f)).toBe(CLIP_VIDEO_FRAMES);
  }, 30000);

  test("(c) we send: ffmpeg and srt-live-transmit players (m=request) decode every frame", async () => {
    const { r, port } = await relay();
    const url = `srt://127.0.0.1:${port}?streamid=#!::r=live/c,m=request`;
    const ff = ffPlay(url, "c");
    const sltOut = join(work, "c-slt.ts");
    const slt = spawn("sh", ["-c", `exec srt-live-transmit -q 'srt://127.0.0.1:${port}?streamid=#!::r=live/c,m=request' file://con > ${sltOut}`]);
    spawned.push(slt);
    const sltDone = new Promise<number | null>((res) => slt.once("exit", (c) => res(c)));
    await until(() => r.playerCount("live/c") === 2, 5000, "two players");
    const pub = ffPublish(`srt://127.0.0.1:${port}?streamid=#!::r=live/c,m=publish`);
    expect(await pub.done).toBe(0);
    // The relay closes players 1.5 s after the publisher left; both players then end.
    await ff.p.done;
    await Promise.race([sltDone, Bun.sleep(2000)]);
    slt.kill("SIGINT");
    await sltDone;
    expect(ff.frames()).toBe(CLIP_VIDEO_FRAMES);
    expect(await countFrames(sltOut)).toBe(CLIP_VIDEO_FRAMES);
  }, 40000);

  for (const pbkeylen of [16, 32]) {
    test(`(d) AES-${pbkeylen * 8}: encrypted publish (srt-live-transmit, ffmpeg) and encrypted play (ffmpeg)`, async () => {
      const pass = `secret-passphrase-${pbkeylen}`;
      const { r, port } = await relay({ passphrase: pass, pbkeylen });
      const q = `passphrase=${pass}&pbkeylen=${pbkeylen}`;
      // srt-live-transmit publisher: byte-identical after decryption.
      const res = await sltPush(`srt://127.0.0.1:${port}?streamid=#!::r=live/d1,m=publish&${q}`, CLIP);
      expect(res.code).not.toBeNull();
      await until(() => !r.publisher("live/d1"), 3000, "publisher close");
      const got = concat(r.recorded.get("live/d1") ?? []);
      expect(Buffer.compare(got.subarray(0, CLIP.length), CLIP)).toBe(0);
      // ffmpeg publisher → relay → ffmpeg player, both encrypted.
      const ff = ffPlay(`srt://127.0.0.1:${port}?streamid=#!::r=live/d2,m=request&${q}`, `d${pbkeylen}`);
      await until(() => r.playerCount("live/d2") === 1, 5000, "player");
      const enc = r.server.connections().every((c) => c.encrypted);
      expect(enc).toBe(true);
      const pub = ffPublish(`srt://127.0.0.1:${port}?streamid=#!::r=live/d2,m=publish&${q}`);
      expect(await pub.done).toBe(0);
      await ff.p.done;
      expect(ff.frames()).toBe(CLIP_VIDEO_FRAMES);
    }, 45000);
  }

  test("(d) wrong passphrase and missing passphrase are rejected (logged, no crash)", async () => {
    const { r, port, lines } = await relay({ passphrase: "the-right-passphrase", pbkeylen: 16 });
    const wrong = proc("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-i",
      `srt://127.0.0.1:${port}?streamid=#!::r=live/x,m=request&passphrase=the-wrong-passphrase&pbkeylen=16`, "-f", "null", "-",
    ], 15000);
    expect(await wrong.done).not.toBe(0);
    const none = proc("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-i", `srt://127.0.0.1:${port}?streamid=#!::r=live/x,m=request`, "-f", "null", "-",
    ], 15000);
    expect(await none.done).not.toBe(0);
    // Our caller sees the reason code.
    const e1 = await srtConnect({ host: "127.0.0.1", port, streamId: "#!::r=live/x,m=request", passphrase: "not-the-passphrase" })
      .catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(SrtRejectError);
    expect((e1 as SrtRejectError).code).toBe(1010);
    const e2 = await srtConnect({ host: "127.0.0.1", port, streamId: "#!::r=live/x,m=request" }).catch((e: unknown) => e);
    expect((e2 as SrtRejectError).code).toBe(1011);
    expect(lines.some((l) => l.includes("1010") && l.includes("wrong passphrase"))).toBe(true);
    expect(r.server.connectionCount).toBe(0);
  }, 30000);

  test("application rejection: the async accept hook refuses a stream id with 1403, libsrt callers fail at once", async () => {
    const { log } = memLog();
    const seen: string[] = [];
    const srv = new SrtServer({ port: 0, host: "127.0.0.1", log }, {
      accept: async (req) => {
        seen.push(req.streamId);
        await Bun.sleep(50);
        return req.streamId.includes("r=live/ok") ? true : { reject: 1403, reason: "forbidden" };
      },
    });
    servers.push(srv);
    const { port } = await srv.listen();
    const t0 = Date.now();
    const p = proc("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", `srt://127.0.0.1:${port}?streamid=#!::r=live/no,m=request`, "-f", "null", "-"], 10000);
    expect(await p.done).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(2500); // rejected at once, not a connect timeout
    const e = await srtConnect({ host: "127.0.0.1", port, streamId: "#!::r=live/no,m=publish" }).catch((x: unknown) => x);
    expect((e as SrtRejectError).code).toBe(1403);
    const ok = await srtConnect({ host: "127.0.0.1", port, streamId: "#!::r=live/ok,m=publish" });
    await until(() => srv.connectionCount === 1, 2000, "accepted connection");
    ok.close();
    await until(() => srv.connectionCount === 0, 2000, "shutdown seen by the server");
    expect(seen).toContain("#!::r=live/no,m=request");
  }, 20000);

  test("(e) our caller pushes to srt-live-transmit listening (plain and AES-256): bytes identical", async () => {
    for (const pass of ["", "caller-secret-32"]) {
      const sink = await listenerToFile(`e-${pass ? "enc" : "plain"}`, pass ? `?passphrase=${pass}&pbkeylen=32` : "");
      const c = await srtConnect({ host: "127.0.0.1", port: sink.port, passphrase: pass || undefined, pbkeylen: 32, streamId: "caller-test" });
      const all = concat([CLIP, TAIL]);
      for (let o = 0, i = 0; o < all.length; o += 1316, i++) {
        c.send(all.subarray(o, o + 1316));
        if (i % 8 === 7) await Bun.sleep(2);
      }
      // Closed right after the last send, with most of the clip still queued behind pacing: close() lingers until
      // everything is acknowledged and due at the listener, then sends SHUTDOWN.
      expect((await closeAndCheck(c, sink)).pktSndDrop).toBe(0);
    }
  }, 30000);

  test("our caller ↔ our server: both directions, encrypted, stats", async () => {
    const { r, port } = await relay({ passphrase: "loopback-secret", pbkeylen: 24 });
    const player = await srtConnect({ host: "127.0.0.1", port, streamId: "#!::r=live/f,m=request", passphrase: "loopback-secret", pbkeylen: 24 });
    const got: Uint8Array[] = [];
    player.onData((p) => got.push(p.slice()));
    const pub = await srtConnect({ host: "127.0.0.1", port, streamId: "#!::r=live/f,m=publish", passphrase: "loopback-secret", pbkeylen: 24 });
    await until(() => r.playerCount("live/f") === 1 && !!r.publisher("live/f"), 2000, "both connected");
    for (let o = 0, i = 0; o < CLIP.length; o += 1316, i++) {
      pub.send(CLIP.subarray(o, o + 1316));
      if (i % 8 === 7) await Bun.sleep(2);
    }
    const pubStats = r.publisher("live/f")!;
    // The publisher leaves right after its last send: its tail lingers to the server, which hands it to the
    // player (whose own close, "publisher left", lingers in turn) before the player is shut down.
    const playerClosed = new Promise<string>((res) => player.onClose(res));
    pub.close();
    expect(await playerClosed).toBe("peer shutdown");
    const why = JSON.stringify({ pub: pub.stats(), atServer: pubStats.stats(), player: player.stats() });
    expect(concat(got).length, why).toBe(CLIP.length);
    expect(Buffer.compare(concat(got), CLIP)).toBe(0);
    const s = pubStats.stats();
    expect(s.bytesIn).toBe(CLIP.length);
    expect(s.rttMs).toBeGreaterThan(0);
    expect(player.stats().bytesIn).toBe(CLIP.length);
  }, 20000);
});

// Not concurrent: it stalls the whole test process on purpose (the concurrent tests above share its event loop).
/** srt-live-transmit listening on a free UDP port, writing what it receives to `<work>/<name>.ts`. */
async function listenerToFile(name: string, query = "") {
  const port = await freeUdpPort();
  const out = join(work, `${name}.ts`);
  const proc = spawn("sh", ["-c", `exec srt-live-transmit -q 'srt://:${port}${query}' file://con > ${out}`]);
  spawned.push(proc);
  const exited = new Promise<number | null>((res) => proc.once("exit", (c) => res(c)));
  await Bun.sleep(500);
  return { port, out, proc, exited };
}

/**
 * Closes our caller right after its last send (close() lingers until all is acknowledged and due) and checks the
 * listener wrote the whole clip; returns the caller's stats at its close.
 */
async function closeAndCheck(c: Awaited<ReturnType<typeof srtConnect>>, sink: Awaited<ReturnType<typeof listenerToFile>>) {
  const closed = new Promise<string>((res) => c.onClose(res));
  c.close("done");
  expect(await closed).toBe("done");
  const stats = c.stats();
  await Promise.race([sink.exited, Bun.sleep(3000)]);
  sink.proc.kill("SIGKILL");
  const got = new Uint8Array(readFileSync(sink.out));
  expect(got.length).toBeGreaterThanOrEqual(CLIP.length);
  expect(Buffer.compare(got.subarray(0, CLIP.length), CLIP)).toBe(0);
  return stats;
}

describe("SRT caller under a busy event loop", () => {
    test("our caller through event-loop stalls (150 ms every 100 packets): nothing dropped, bytes identical", async () => {
      // A busy process (or machine) wakes the pacer late; a sender held to its usual burst then falls behind its
      // rate, its queue ages past the 1 s sender drop, and the tail of each stall is lost.
      const sink = await listenerToFile("e2-stalls");
      const c = await srtConnect({ host: "127.0.0.1", port: sink.port, streamId: "caller-stalls" });
      const all = concat([CLIP, TAIL]);
      for (let o = 0, i = 0; o < all.length; o += 1316, i++) {
        c.send(all.subarray(o, o + 1316));
        if (i % 8 === 7) await Bun.sleep(2);
        if (i % 100 === 99) {
          const end = performance.now() + 150;
          while (performance.now() < end) {
            // the event loop is busy
          }
        }
      }
      const s = await closeAndCheck(c, sink);
      expect([s.pktSndDrop, s.pktSndLoss]).toEqual([0, 0]);
    }, 30000);
});
