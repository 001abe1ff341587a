/**
 * The audio bridge's worker pool (lib/services/audio-bridge/pool.ts): what comes back from the worker is exactly
 * what the transcoder makes in-line (same packets, bytes, timestamps, order); packets handed to it stay intact
 * (socket Buffers are views of shared chunks); a worker that fails is reported, not fatal, and a bridge does not
 * retry a failing transcoder on every frame; idle workers stop.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Log, type LogLevel, LogSink, silentLog } from "../../../lib/log/logger.ts";
import { AacToOpus } from "../../../lib/media/audio/transcoder.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { type PublisherInfo, StreamHub } from "../../../lib/hub/stream-hub.ts";
import { AudioBridge } from "../../../lib/services/audio-bridge/bridge.ts";
import { TranscoderPool } from "../../../lib/services/audio-bridge/pool.ts";
import { clipAudio } from "../audio/util.ts";
import { tempDir } from "../../helpers/temp.ts";

const dir = tempDir("srs-pool-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Capture extends LogSink {
  lines: string[] = [];
  override write(level: LogLevel, _cid: string, msg: string): void {
    this.lines.push(`${level} ${msg}`);
  }
}

function aacPackets(n: number): MediaPacket[] {
  const { asc, frames } = clipAudio("clip.flv");
  const out: MediaPacket[] = [{ kind: "audio", codec: "aac", dts: 1000, pts: 1000, keyframe: false, config: true, data: asc }];
  for (let k = 0; k < n; k++) {
    const dts = 1000 + Math.round((k * 1024 * 1000) / 44100);
    out.push({ ...frames[k % frames.length]!, dts, pts: dts });
  }
  return out;
}

describe("audio bridge worker pool", () => {
  test("the worker's output equals the in-line transcoder's, packet for packet, in order", async () => {
    const pkts = aacPackets(300);
    const inline: MediaPacket[] = [];
    const tx = new AacToOpus({ bitrate: 48000 });
    for (const p of pkts) inline.push(...tx.push(p));
    tx.close();

    const pool = new TranscoderPool(silentLog(), { size: 1 });
    const got: MediaPacket[] = [];
    const h = pool.open({ kind: "aac->opus", bitrate: 48000 }, { packets: (o) => got.push(...o), failed: (m) => { throw new Error(m); } })!;
    for (const p of pkts) h.push(p);
    await h.flush();
    expect(inline.length).toBeGreaterThan(300);
    expect(got.length).toBe(inline.length);
    got.forEach((q, i) => {
      const r = inline[i]!;
      expect([q.kind, q.codec, q.dts, q.pts, q.config, q.keyframe]).toEqual([r.kind, r.codec, r.dts, r.pts, r.config, r.keyframe]);
      expect(Buffer.from(q.data).equals(Buffer.from(r.data))).toBe(true);
    });
    expect(h.stats.framesIn).toBe(300);
    expect(h.stats.packetsOut).toBe(inline.length - 1);
    h.close();
    pool.close();
  });

  test("packets that are views of a shared Buffer (as sockets give) stay intact", async () => {
    const pkts = aacPackets(20);
    const chunk = Buffer.alloc(65536);
    let off = 0;
    const views = pkts.map((p) => {
      chunk.set(p.data, off);
      const data = chunk.subarray(off, off + p.data.byteLength);
      off += p.data.byteLength;
      return { ...p, data };
    });
    const before = Buffer.from(chunk);
    const pool = new TranscoderPool(silentLog(), { size: 1 });
    let out = 0;
    const h = pool.open({ kind: "aac->opus", bitrate: 48000 }, { packets: (o) => (out += o.length), failed: () => {} })!;
    for (const p of views) h.push(p);
    await h.flush();
    expect(out).toBeGreaterThan(20);
    expect(chunk.buffer.byteLength).toBeGreaterThanOrEqual(65536); // not detached
    expect(chunk.equals(before)).toBe(true);
    for (const v of views) expect(v.data.byteLength).toBeGreaterThan(0);
    pool.close();
  });

  test("a worker that fails is logged and its transcoders fail; the server goes on", async () => {
    const bad = join(dir, "bad-worker.ts");
    writeFileSync(bad, `throw new Error("worker boom");\n`);
    const sink = new Capture();
    const pool = new TranscoderPool(new Log(sink, "test0001"), { size: 1, workerUrl: bad });
    const failed: string[] = [];
    const h = pool.open({ kind: "aac->opus", bitrate: 48000 }, { packets: () => {}, failed: (m) => failed.push(m) })!;
    for (const p of aacPackets(5)) h.push(p);
    for (let i = 0; i < 100 && !failed.length; i++) await Bun.sleep(20);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain("worker");
    expect(h.closed).toBe(true);
    await h.flush(); // settles at once
    expect(sink.lines.some((l) => l.startsWith("error ") && l.includes("audio bridge worker failed"))).toBe(true);
    // no crash loop: no new worker for a moment
    expect(pool.open({ kind: "aac->opus", bitrate: 48000 }, { packets: () => {}, failed: () => {} })).toBeUndefined();
    expect(pool.workers).toBe(0);
    pool.close();
  });

  test("a worker that falls behind: packets beyond maxPending are dropped and counted, not queued", async () => {
    const mute = join(dir, "mute-worker.ts");
    writeFileSync(mute, `globalThis.onmessage = () => {};\n`); // never answers
    const pool = new TranscoderPool(silentLog(), { size: 1, workerUrl: mute, maxPending: 10 });
    const h = pool.open({ kind: "aac->opus", bitrate: 48000 }, { packets: () => {}, failed: () => {} })!;
    const pkts = aacPackets(40);
    for (const p of pkts) h.push(p);
    expect(h.dropped).toBe(pkts.length - 10);
    h.push(pkts[0]!); // a config packet always goes through
    expect(h.dropped).toBe(pkts.length - 10);
    h.close();
    await h.flush(); // closed: settles at once
    pool.close();
  });

  test("a bridge whose transcoder cannot start warns once (no retry for 5 s) and the stream flows on", async () => {
    const refusing = join(dir, "refusing-worker.ts");
    writeFileSync(refusing, `globalThis.onmessage = (e) => {
  if (e.data.t === "open") postMessage({ t: "error", id: e.data.id, message: "no opus here" });
};\n`);
    const sink = new Capture();
    const log = new Log(sink, "test0001");
    const pool = new TranscoderPool(log, { size: 1, workerUrl: refusing });
    const hub = new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "f" }, {
      gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "full",
    }, log, "vid-test");
    const pub: PublisherInfo = { clientId: "c1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };
    hub.startPublish(pub);
    const bridge = new AudioBridge(hub, { direction: "aac->opus", bitrate: 48000 }, pool, log);
    bridge.start();
    const got: MediaPacket[] = [];
    hub.attach({ onPacket: (p) => void got.push(p), onUnpublish: () => {} }, false);
    hub.wantAudio("opus", +1);
    const pkts = aacPackets(60);
    for (const p of pkts.slice(0, 10)) hub.publish(p);
    for (let i = 0; i < 100 && bridge.running; i++) await Bun.sleep(10);
    expect(bridge.running).toBe(false);
    for (const p of pkts.slice(10)) hub.publish(p);
    await Bun.sleep(100);
    const warns = sink.lines.filter((l) => l.startsWith("warn ") && l.includes("no opus here"));
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain("retrying in 5 s");
    expect(bridge.runs).toBe(1);
    expect(got.filter((p) => p.codec === "aac")).toHaveLength(pkts.length); // the publisher's audio flows on
    hub.stopPublish(pub);
    pool.close();
  });

  test("a worker with no transcoder left stops after idleMs; the next open starts one again", async () => {
    const pool = new TranscoderPool(silentLog(), { size: 2, idleMs: 50 });
    const sink = { packets: () => {}, failed: () => {} };
    const a = pool.open({ kind: "opus->aac", bitrate: 64000 }, sink)!;
    const b = pool.open({ kind: "aac->opus", bitrate: 48000 }, sink)!;
    expect(pool.workers).toBe(2); // spread over the pool
    const c = pool.open({ kind: "mp3->opus", bitrate: 48000 }, sink)!;
    expect(pool.workers).toBe(2); // never more than size
    a.close();
    b.close();
    c.close();
    await Bun.sleep(200);
    expect(pool.workers).toBe(0);
    const d = pool.open({ kind: "aac->opus", bitrate: 48000 }, sink)!;
    expect(pool.workers).toBe(1);
    expect(pool.started).toBe(3);
    d.close();
    pool.close();
    expect(pool.workers).toBe(0);
  });
});
