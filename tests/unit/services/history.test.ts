/**
 * The console's history rings (lib/services/history.ts): fixed capacity, oldest first, columns padded when a new
 * one appears; the server's and each stream's figures per interval from a real hub registry; a stream that ends
 * keeps its series until the last point leaves the window, then is dropped.
 */
import { describe, expect, test } from "bun:test";
import { ClientRegistry, type ClientInfo } from "../../../lib/clients.ts";
import { HubRegistry } from "../../../lib/hub/registry.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import type { MediaPacket, StreamKey } from "../../../lib/media/packet.ts";
import { History, Ring, SeriesSet } from "../../../lib/services/history.ts";

describe("Ring", () => {
  test("keeps the last `capacity` values, oldest first", () => {
    const r = new Ring(3);
    expect(r.values()).toEqual([]);
    expect(r.last()).toBeUndefined();
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.values()).toEqual([3, 4, 5]);
    expect(r.length).toBe(3);
    expect(r.last()).toBe(5);
  });

  test("non-finite values are stored as 0; a bad capacity is refused", () => {
    const r = new Ring(2);
    r.push(Number.NaN);
    r.push(Number.POSITIVE_INFINITY);
    expect(r.values()).toEqual([0, 0]);
    expect(() => new Ring(0)).toThrow(/capacity/);
    expect(() => new Ring(1.5)).toThrow(/capacity/);
  });
});

describe("SeriesSet", () => {
  test("columns grow together; a new column is padded with 0 for the earlier points", () => {
    const s = new SeriesSet(4, ["a"]);
    s.push(1000, { a: 1 });
    s.push(2000, { a: 2, b: 7 });
    s.push(3000, {});
    expect(s.toJson()).toEqual({ t: [1000, 2000, 3000], a: [1, 2, 0], b: [0, 7, 0] });
    for (let i = 4; i <= 9; i++) s.push(i * 1000, { a: i });
    const j = s.toJson();
    expect(j.t).toEqual([6000, 7000, 8000, 9000]);
    expect(j.a).toEqual([6, 7, 8, 9]);
    expect(j.b!.length).toBe(4);
  });
});

const key: StreamKey = { vhost: "__defaultVhost__", app: "live", stream: "cam" };

function client(id: string, type: string, protocol: string, k: StreamKey, bytes: { in: number; out: number }): ClientInfo {
  return {
    id, type, protocol, ip: "127.0.0.1", stream: k, connectedAt: Date.now(),
    bytesIn: () => bytes.in, bytesOut: () => bytes.out, kick: () => {},
  };
}

function frame(dts: number, keyframe: boolean): MediaPacket {
  return { kind: "video", codec: "h264", dts, pts: dts, keyframe, config: false, data: new Uint8Array(1000) };
}

function setup(points = 720) {
  const hubs = new HubRegistry(silentLog(), () => ({ gopCache: false, gopCacheMaxFrames: 2500, timeJitter: "off" }));
  const clients = new ClientRegistry();
  const server = { recv: 0, send: 0 };
  const stats = { server, cpuRatio: 0.25, collect: () => {} };
  const h = new History({ hubs, clients, stats }, { manual: true, points, rss: () => 64 * 1024 * 1024 });
  return { hubs, clients, server, stats, h };
}

describe("History", () => {
  test("server series: cpu %, memory MB, kbps over the interval, connections", () => {
    const { clients, server, h } = setup();
    h.sample(10_000);
    clients.add(client("c1", "fmle-publish", "rtmp", key, { in: 0, out: 0 }));
    server.recv += 50_000; // 400 kbit in 5 s = 80 kbps
    server.send += 25_000;
    h.sample(15_000);
    const j = h.toJson();
    expect(j.interval_s).toBe(5);
    expect(j.server.t).toEqual([10_000, 15_000]);
    expect(j.server.cpu).toEqual([25, 25]);
    expect(j.server.mem_mb).toEqual([64, 64]);
    expect(j.server.recv_kbps).toEqual([0, 80]);
    expect(j.server.send_kbps).toEqual([0, 40]);
    expect(j.server.conns).toEqual([0, 1]);
  });

  test("stream series: kbps and fps of the publisher, clients and players by protocol", () => {
    const { hubs, clients, h } = setup();
    const lease = hubs.publish(key, { clientId: "pub1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} });
    const hub = lease.hub;
    clients.add(client("pub1", "fmle-publish", "rtmp", key, { in: 0, out: 0 }));
    clients.add(client("p1", "flv-play", "http-flv", key, { in: 0, out: 0 }));
    clients.add(client("p2", "flv-play", "http-flv", key, { in: 0, out: 0 }));
    clients.add(client("p3", "rtc-play", "rtc", key, { in: 0, out: 0 }));
    h.sample(0 + 1);
    // 5 s at 25 fps, 1000 bytes a frame: 125 frames, 125 000 bytes = 200 kbps.
    for (let i = 0; i < 125; i++) lease.push(frame(i * 40, i % 50 === 0));
    h.sample(5001);
    const s = h.toJson().streams[hub.id]!;
    expect(s.url).toBe("/live/cam");
    expect(s.live).toBe(true);
    expect(s.fps).toEqual([0, 25]);
    expect(s.kbps).toEqual([0, 200]);
    expect(s.clients).toEqual([4, 4]);
    expect(s["players_http-flv"]).toEqual([2, 2]);
    expect(s.players_rtc).toEqual([1, 1]);
    lease.dispose();
  });

  test("bounded: 720 points per series; an ended stream is dropped once its last point leaves the window", async () => {
    const { hubs, h } = setup(10);
    const lease = hubs.publish(key, { clientId: "pub1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} });
    const id = lease.hub.id;
    let t = 1;
    for (let i = 0; i < 25; i++) h.sample((t += 5000));
    expect(h.toJson().server.t.length).toBe(10);
    expect((h.toJson().streams[id]!.t as number[]).length).toBe(10);
    lease.dispose();
    await Promise.resolve(); // the registry forgets the hub at the end of the job
    await Promise.resolve();
    expect(hubs.all().length).toBe(0);
    for (let i = 0; i < 9; i++) h.sample((t += 5000));
    expect(h.toJson().streams[id]!.live).toBe(false);
    expect(h.streamCount).toBe(1);
    h.sample((t += 5000));
    expect(h.streamCount).toBe(0);
    expect(h.toJson().streams[id]).toBeUndefined();
  });
});
