/**
 * Forward end to end with two real servers: A forwards what ffmpeg publishes to B, ffprobe/ffmpeg play it
 * from B. A TCP relay in the test stands in for B's address so B can be "down" (nothing listening), "hung"
 * (accepts, never answers) or "dropped" (connections cut) and A's reconnects can be watched. Backend mode uses
 * a Bun.serve backend answering on_forward with B's URL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { demuxFlv } from "../../lib/formats/flv.ts";
import { StreamHub } from "../../lib/hub/stream-hub.ts";
import { silentLog } from "../../lib/log/logger.ts";
import { flvTagToPacket } from "../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../lib/media/packet.ts";
import { parseForwardUrls } from "../../lib/services/hooks/forward.ts";
import { Forwarder } from "../../lib/services/forward/forwarder.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { forwardUrl } from "../../lib/services/forward/url.ts";
import { clip } from "../helpers/media.ts";
import { freePort, playFrames, probeStreams, publish, type Proc, type RunningServer, startServer } from "../helpers/server.ts";

const conf = (forward: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ { forward { enabled on; ${forward} } }
`;

/** A TCP relay on `port` to `target()`; `mode` decides what happens to new connections. */
class Relay {
  server: Server | undefined;
  sockets = new Set<Socket>();
  accepted = 0;
  mode: "relay" | "hang" = "relay";
  constructor(readonly port: number, private target: () => number) {}

  listen(): Promise<void> {
    this.server = createServer((c) => {
      this.accepted++;
      this.sockets.add(c);
      c.on("close", () => this.sockets.delete(c));
      c.on("error", () => {});
      if (this.mode === "hang") return;
      const up = createConnection({ host: "127.0.0.1", port: this.target() });
      this.sockets.add(up);
      up.on("close", () => {
        this.sockets.delete(up);
        c.destroy();
      });
      up.on("error", () => c.destroy());
      c.on("close", () => up.destroy());
      c.pipe(up);
      up.pipe(c);
    });
    return new Promise((r) => this.server!.listen(this.port, "127.0.0.1", () => r()));
  }

  /** Stops reading from the forwarding side: its socket stops draining (a stalled destination). */
  stall(): void {
    for (const c of this.sockets) {
      c.unpipe();
      c.pause();
    }
  }

  /** Cuts every open connection (a destination that drops). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
  }
}

async function waitFor(what: string, f: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await f()) return;
    await Bun.sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function streamOn(s: RunningServer, path: string): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/`);
    const j = (await r.json()) as { streams?: { url?: string; name?: string; publish?: { active?: boolean } }[] };
    return (j.streams ?? []).some((x) => x.url === path && x.publish?.active === true);
  } catch {
    return false;
  }
}

describe("forward to a destination", () => {
  let b: RunningServer;
  let a: RunningServer;
  let pub: Proc;

  beforeAll(async () => {
    b = await startServer();
    a = await startServer({
      config: conf(`destination 127.0.0.1:${b.rtmp};`) + `exporter { enabled on; listen ${await freePort()}; }\n`,
    });
    pub = publish(clip("clip.flv"), a.rtmpUrl("/live/fwd?token=abc"));
    await waitFor("the stream on B", () => streamOn(b, "/live/fwd"), 15000);
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    await a?.stop();
    await b?.stop();
  });

  test("B plays what A got: h264 + aac, frames decoded", async () => {
    const streams = await probeStreams(b.rtmpUrl("/live/fwd"));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const r = await playFrames(b.rtmpUrl("/live/fwd"), 3);
    expect(r.video).toBeGreaterThanOrEqual(50);
  }, 30000);

  test("A logs the forward target with SRS's URL (publisher's param kept)", () => {
    expect(a.output()).toContain(`forward: __defaultVhost__/live/fwd -> rtmp://127.0.0.1:${b.rtmp}/live/fwd?token=abc`);
  });

  test("A shows the forward in its stats: /api/v1/forwards and the srsts_forward_* metrics", async () => {
    type Fwd = { url: string; destination: string; connected: boolean; send_bytes: number };
    let j: { code: number; forwards: Fwd[] } = { code: -1, forwards: [] };
    const find = () => j.forwards.find((x) => x.url === "/live/fwd");
    await waitFor("forwarded bytes in the API", async () => {
      j = (await (await fetch(`http://127.0.0.1:${a.api}/api/v1/forwards`)).json()) as typeof j;
      return (find()?.send_bytes ?? 0) > 10000;
    }, 10000);
    expect(j.code).toBe(0);
    const f = find();
    expect(f?.destination).toBe(`rtmp://127.0.0.1:${b.rtmp}/live/fwd?token=abc`);
    expect(f?.connected).toBe(true);
    expect(f?.send_bytes).toBeGreaterThan(10000);
    const m = await (await fetch(`http://127.0.0.1:${a.api}/metrics`)).text();
    const labels = `vhost="__defaultVhost__",app="live",stream="fwd",destination="rtmp://127.0.0.1:${b.rtmp}/live/fwd?token=abc"`;
    expect(m).toContain(`srsts_forward_connected{${labels}} 1`);
    expect(m).toMatch(new RegExp(`srsts_forward_send_bytes_total\\{[^}]*stream="fwd"[^}]*\\} [1-9]\\d+`));
  });

  test("unpublish on A stops the forward: B's stream goes away", async () => {
    pub.kill();
    await waitFor("B unpublished", async () => !(await streamOn(b, "/live/fwd")), 10000);
    expect(a.output()).toMatch(/forward: __defaultVhost__\/live\/fwd -> \S+ stopped/);
  }, 15000);
});

describe("forward faults", () => {
  test("B down at first, then started: A retries with back-off and B gets the stream", async () => {
    const port = await freePort();
    let b: RunningServer | undefined;
    const relay = new Relay(port, () => b!.rtmp);
    const a = await startServer({ config: conf(`destination 127.0.0.1:${port};`) });
    const pub = publish(clip("clip.flv"), a.rtmpUrl("/live/late"));
    try {
      await waitFor("two refused attempts", () => (a.output().match(/live\/late -> \S+ failed/g) ?? []).length >= 2, 10000);
      const out = a.output();
      expect(out).toContain("retry in 1s");
      expect(out).toContain("retry in 2s");
      b = await startServer();
      await relay.listen();
      await waitFor("the stream on B", () => streamOn(b!, "/live/late"), 15000);
      const r = await playFrames(b.rtmpUrl("/live/late"), 2);
      expect(r.video).toBeGreaterThan(20);
      expect(a.output()).toContain("live/late -> rtmp://127.0.0.1");
    } finally {
      pub.kill();
      await relay.close();
      await a.stop();
      await b?.stop();
    }
  }, 60000);

  test("a destination that drops the connection, or hangs, is reconnected; the publisher is not slowed", async () => {
    const port = await freePort();
    const b = await startServer();
    const relay = new Relay(port, () => b.rtmp);
    await relay.listen();
    const a = await startServer({ config: conf(`destination 127.0.0.1:${port};`) });
    const pub = publish(clip("clip.flv"), a.rtmpUrl("/live/drop"));
    try {
      await waitFor("the stream on B", () => streamOn(b, "/live/drop"), 15000);
      relay.mode = "hang";
      relay.cut();
      // A reconnects into a destination that accepts and never answers: a timeout, then more attempts.
      await waitFor("a timed-out attempt", () => /live\/drop -> \S+ failed: .*(timed out|no response|within)/.test(a.output()), 20000);
      // Meanwhile A's own players are fine.
      const own = await playFrames(a.rtmpUrl("/live/drop"), 2);
      expect(own.video).toBeGreaterThan(20);
      relay.mode = "relay";
      relay.cut();
      await waitFor("the stream back on B", () => streamOn(b, "/live/drop"), 40000);
      const r = await playFrames(b.rtmpUrl("/live/drop"), 2);
      expect(r.video).toBeGreaterThan(20);
    } finally {
      pub.kill();
      await relay.close();
      await a.stop();
      await b.stop();
    }
  }, 90000);
});

describe("forward backend", () => {
  test("on_forward POSTs SRS's payload; A forwards to the urls the backend answers", async () => {
    const b = await startServer();
    const calls: Record<string, unknown>[] = [];
    const backend = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        calls.push((await req.json()) as Record<string, unknown>);
        return Response.json({ code: 0, data: { urls: [b.rtmpUrl("/relay/fromA?k=v")] } });
      },
    });
    const a = await startServer({ config: conf(`backend http://127.0.0.1:${backend.port}/api/v1/forward;`) });
    const pub = publish(clip("clip.flv"), a.rtmpUrl("/live/bk?token=t1"));
    try {
      await waitFor("the stream on B", () => streamOn(b, "/relay/fromA"), 15000);
      expect(calls.length).toBe(1);
      const c = calls[0]!;
      expect(Object.keys(c)).toEqual(["action", "server_id", "service_id", "client_id", "ip", "vhost", "app", "tcUrl", "stream", "param"]);
      expect(c.action).toBe("on_forward");
      expect(c.vhost).toBe("__defaultVhost__");
      expect(c.app).toBe("live");
      expect(c.stream).toBe("bk");
      expect(c.param).toBe("?token=t1");
      expect(c.tcUrl).toBe(`rtmp://127.0.0.1:${a.rtmp}/live`);
      const streams = await probeStreams(b.rtmpUrl("/relay/fromA"));
      expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    } finally {
      pub.kill();
      await a.stop();
      await b.stop();
      backend.stop(true);
    }
  }, 60000);
});

describe("forward URL rule (SRS srs_generate_stream_with_query)", () => {
  const key = (vhost: string) => ({ vhost, app: "live", stream: "s" });
  test("default vhost, IP host: no vhost in the query; param kept", () => {
    expect(forwardUrl("127.0.0.1:19350", key("__defaultVhost__"), { tcUrl: "rtmp://10.0.0.1/live", param: "" }))
      .toBe("rtmp://127.0.0.1:19350/live/s");
    expect(forwardUrl("10.1.1.1", key("__defaultVhost__"), { tcUrl: "rtmp://10.0.0.1:1935/live", param: "?token=x" }))
      .toBe("rtmp://10.1.1.1:1935/live/s?token=x");
  });
  test("a named vhost, or a host name, goes into ?vhost= unless the param has one", () => {
    expect(forwardUrl("b:1936", key("v.example"), { tcUrl: "rtmp://10.0.0.1/live", param: "" })).toBe("rtmp://b:1936/live/s?vhost=v.example");
    expect(forwardUrl("b", key("__defaultVhost__"), { tcUrl: "rtmp://localhost/live", param: "?k=1" }))
      .toBe("rtmp://b:1935/live/s?k=1&vhost=localhost");
    expect(forwardUrl("b", key("v.example"), { tcUrl: "rtmp://x/live", param: "?vhost=other" })).toBe("rtmp://b:1935/live/s?vhost=other");
  });
  test("on_forward answers: data.urls, empty, or refused", () => {
    expect(parseForwardUrls(JSON.stringify({ code: 0, data: { urls: ["rtmp://a/b/c"] } }))).toEqual({ ok: true, urls: ["rtmp://a/b/c"] });
    expect(parseForwardUrls(JSON.stringify({ code: 0 }))).toEqual({ ok: true, urls: [] });
    expect(parseForwardUrls(JSON.stringify({ code: 0, data: { urls: "rtmp://x" } })).ok).toBe(false);
    expect(parseForwardUrls(JSON.stringify({ code: 0, data: { urls: ["http://x"] } })).ok).toBe(false);
  });
});

describe("forward queue", () => {
  test("a stalled destination: the queue stays bounded (drop to keyframe), stall detected, reconnected", async () => {
    const b = await startServer();
    const port = await freePort();
    const relay = new Relay(port, () => b.rtmp);
    await relay.listen();
    const hub = new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "stall" }, {
      gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "off",
    }, silentLog(), "vid-test");
    hub.startPublish({ clientId: "c1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} });
    const limit = 1 << 20;
    const f = new Forwarder(hub, `rtmp://127.0.0.1:${port}/live/stall`, (u, o) => RtmpClient.connect(u, o), silentLog(), {
      maxQueueBytes: limit, stallMs: 2000,
    });
    const { tags } = demuxFlv(new Uint8Array(readFileSync(clip("clip.flv"))));
    const packets = tags.map((t) => flvTagToPacket(t.type, t.timestamp, t.data)).filter((p): p is MediaPacket => p !== null);
    for (const p of packets.filter((x) => x.config || x.kind === "data")) hub.publish({ ...p });
    f.start();
    try {
      await waitFor("connected", () => f.isConnected, 10000);
      relay.stall();
      let maxQueued = 0;
      const frames = packets.filter((x) => !x.config && x.kind !== "data");
      for (let loop = 0; loop < 25 && f.failures === 0; loop++) {
        for (let i = 0; i < frames.length; i++) {
          const p = frames[i]!;
          hub.publish({ ...p, dts: p.dts + loop * 10000, pts: p.pts + loop * 10000 });
          maxQueued = Math.max(maxQueued, f.queuedBytes);
          if (i % 40 === 0) await Bun.sleep(1);
        }
      }
      expect(maxQueued).toBeLessThanOrEqual(limit);
      expect(f.droppedPackets).toBeGreaterThan(0);
      await waitFor("stall detected", () => f.failures >= 1, 15000);
      expect(f.recentErrors[0]).toContain("stalled");
      relay.cut();
      await waitFor("reconnected", () => f.connects >= 2, 15000);
    } finally {
      await f.stop();
      await relay.close();
      await b.stop();
    }
  }, 60000);
});
