/**
 * The edge's pieces without sockets: upstream URLs (SRS's rules), hub demand (first player / last player), and
 * the ingester over scripted upstreams (round-robin, failover keeping one publish, continuous timestamps).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { ClusterConfig } from "../../../lib/config/index.ts";
import { demuxFlv, type FlvTag, FLV_TAG_AUDIO, FLV_TAG_VIDEO } from "../../../lib/formats/flv.ts";
import { HubRegistry } from "../../../lib/hub/registry.ts";
import type { HubSubscriber } from "../../../lib/hub/stream-hub.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import type { MediaPacket, StreamKey } from "../../../lib/media/packet.ts";
import { EdgeIngester } from "../../../lib/services/cluster/edge-ingester.ts";
import type { PullRequest, PullUpstream } from "../../../lib/services/cluster/upstream.ts";
import { parseOrigin, upstreamUrl, upstreamVhost } from "../../../lib/services/cluster/url.ts";
import { clip } from "../../helpers/media.ts";

const KEY: StreamKey = { vhost: "__defaultVhost__", app: "live", stream: "s" };

describe("upstream URLs", () => {
  test("origins: default port per protocol, IPv6, bad entries refused", () => {
    expect(parseOrigin("10.0.0.1", "rtmp")).toEqual({ host: "10.0.0.1", port: 1935 });
    expect(parseOrigin("10.0.0.1", "flv")).toEqual({ host: "10.0.0.1", port: 8080 });
    expect(parseOrigin("origin.example", "flvs")).toEqual({ host: "origin.example", port: 443 });
    expect(parseOrigin("[::1]:19350", "rtmp")).toEqual({ host: "[::1]", port: 19350 });
    expect(() => parseOrigin("", "rtmp")).toThrow();
    expect(() => parseOrigin("a/b:1935", "rtmp")).toThrow();
    expect(() => parseOrigin("a:99999", "rtmp")).toThrow();
  });

  test("rtmp://origin/app/stream?<client query>[&vhost=]; flv: http://origin/app/stream.flv?query", () => {
    expect(upstreamUrl("127.0.0.1:19350", "rtmp", KEY, KEY.vhost, { param: "?token=x" })).toBe("rtmp://127.0.0.1:19350/live/s?token=x");
    expect(upstreamUrl("127.0.0.1", "rtmp", KEY, "v.example", {})).toBe("rtmp://127.0.0.1:1935/live/s?vhost=v.example");
    // The client reached the edge by a name: that name is the vhost upstream too (srs_generate_stream_with_query).
    expect(upstreamUrl("127.0.0.1", "rtmp", KEY, KEY.vhost, { tcUrl: "rtmp://edge.example/live", param: "?a=1" }))
      .toBe("rtmp://127.0.0.1:1935/live/s?a=1&vhost=edge.example");
    expect(upstreamUrl("127.0.0.1:8080", "flv", KEY, KEY.vhost, { param: "?token=x" })).toBe("http://127.0.0.1:8080/live/s.flv?token=x");
    expect(upstreamUrl("o.example", "flvs", KEY, KEY.vhost, {})).toBe("https://o.example:443/live/s.flv");
  });

  test("cluster vhost: [vhost] is the client's", () => {
    expect(upstreamVhost("", "a.example")).toBe("a.example");
    expect(upstreamVhost("origin.example", "a.example")).toBe("origin.example");
    expect(upstreamVhost("[vhost].origin", "a.example")).toBe("a.example.origin");
  });
});

const sub = (): HubSubscriber & { got: MediaPacket[] } => {
  const got: MediaPacket[] = [];
  return { got, onPacket: (p) => void got.push(p), onUnpublish: () => {} };
};

describe("hub demand", () => {
  test("first play lease / last play lease; demand leases count; subscribers and holds do not", () => {
    const events: boolean[] = [];
    const hubs = new HubRegistry(silentLog(), () => ({ gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "full" }));
    hubs.listen({ onPublish: () => {}, onUnpublish: () => {}, onDemand: (_h, w) => void events.push(w) });
    const hold = hubs.hold(KEY);
    const s = hold.hub.subscribe(sub());
    expect(events).toEqual([]);
    const spec = {
      key: "test",
      create: () => ({ size: 0, add() {}, remove() {}, onPacket() {}, onUnpublish() {} }),
    };
    const p1 = hubs.play(KEY, spec, 1);
    const p2 = hubs.play(KEY, spec, 2);
    expect(events).toEqual([true]);
    expect(p1.hub.demandCount).toBe(2);
    p1.dispose();
    p1.dispose();
    expect(events).toEqual([true]);
    const want = hubs.demand(KEY);
    p2.dispose();
    expect(events).toEqual([true]);
    want.dispose();
    expect(events).toEqual([true, false]);
    s.dispose();
    hold.dispose();
  });
});

/** The FLV tags of clip.flv (10 s, 25 fps, AAC). */
const TAGS: FlvTag[] = demuxFlv(new Uint8Array(readFileSync(clip("clip.flv")))).tags;

/** A scripted upstream: plays `tags` (shifted by `base` ms) then ends, or fails to connect. */
function script(plan: ({ fail: string } | { base: number; count: number })[]) {
  const urls: string[] = [];
  let n = 0;
  const connect = (req: PullRequest): Promise<PullUpstream> => {
    urls.push(req.url);
    const step = plan[Math.min(n++, plan.length - 1)]!;
    if ("fail" in step) return Promise.reject(new Error(step.fail));
    let end!: (why: string) => void;
    const closed = new Promise<string>((r) => (end = r));
    queueMicrotask(() => {
      for (const t of TAGS.slice(0, step.count)) {
        const kind = t.type === FLV_TAG_VIDEO ? "video" : t.type === FLV_TAG_AUDIO ? "audio" : "data";
        req.onTag(kind, t.timestamp + step.base, t.data);
      }
      end("origin gone");
    });
    return Promise.resolve({ url: req.url, closed, destroy: () => end("destroyed") });
  };
  return { urls, connect };
}

const cluster = (origin: string[]): ClusterConfig => ({
  mode: "remote", isEdge: true, origin, tokenTraverse: false, vhost: "", debugSrsUpnode: true,
  originCluster: false, coworkers: [], protocol: "rtmp", followClient: false,
});

describe("edge ingester", () => {
  test("round-robin with failover; one publish across upstreams; timestamps continue; headers updated", async () => {
    const hubs = new HubRegistry(silentLog(), () => ({ gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "off" }));
    const publishes: string[] = [];
    hubs.listen({ onPublish: (h) => void publishes.push(h.publisher!.type), onUnpublish: () => void publishes.push("unpublish") });
    const hold = hubs.hold(KEY);
    const rec = sub();
    hold.hub.subscribe(rec, false);
    // A plays 100 tags and dies; B refuses; A again (round-robin) plays from a far-away timestamp base.
    const s = script([{ base: 0, count: 100 }, { fail: "connection refused" }, { base: 5_000_000, count: 100 }, { fail: "down" }]);
    const ing = new EdgeIngester(KEY, {
      hubs,
      log: silentLog(),
      cluster: () => cluster(["a:1935", "b:1935"]),
      client: () => ({ param: "?t=1" }),
      connectors: { rtmp: s.connect, flv: s.connect },
      upnode: { serverId: "x", version: "0" },
    }, { minBackoffMs: 10, maxBackoffMs: 20 });
    void ing.start();
    const end = Date.now() + 5000;
    while (s.urls.length < 4 && Date.now() < end) await Bun.sleep(5);
    await ing.stop("test");
    expect(s.urls.slice(0, 4)).toEqual([
      "rtmp://a:1935/live/s?t=1",
      "rtmp://b:1935/live/s?t=1",
      "rtmp://a:1935/live/s?t=1",
      "rtmp://b:1935/live/s?t=1",
    ]);
    expect(publishes).toEqual(["edge-ingest", "unpublish"]);
    const media = rec.got.filter((p) => p.kind !== "data" && !p.config);
    expect(media.length).toBeGreaterThan(150);
    const video = media.filter((p) => p.kind === "video");
    for (let i = 1; i < video.length; i++) {
      const step = video[i]!.dts - video[i - 1]!.dts;
      expect(step).toBeGreaterThanOrEqual(0);
      expect(step).toBeLessThan(500);
    }
    // The second upstream's sequence headers reached the subscriber as updates.
    expect(rec.got.filter((p) => p.config && p.kind === "video").length).toBe(2);
    expect(ing.connects).toBe(2);
    expect(ing.failures).toBeGreaterThanOrEqual(2);
    hold.dispose();
  });

  test("no origin configured: it waits and says so, nothing is published", async () => {
    const hubs = new HubRegistry(silentLog(), () => ({ gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "full" }));
    const s = script([{ fail: "unused" }]);
    const ing = new EdgeIngester(KEY, {
      hubs,
      log: silentLog(),
      cluster: () => cluster([]),
      client: () => undefined,
      connectors: { rtmp: s.connect, flv: s.connect },
      upnode: { serverId: "x", version: "0" },
    }, { minBackoffMs: 10 });
    void ing.start();
    await Bun.sleep(50);
    await ing.stop("test");
    expect(s.urls).toEqual([]);
    expect(ing.lastError).toBe("no origin configured");
    expect(hubs.find(KEY)).toBeUndefined();
  });
});
