/** StreamHub: one publisher at a time, start-up packets for new players, subscribers told of (un)publish. */
import { describe, expect, test } from "bun:test";
import { type HubSubscriber, PublishError, type PublisherInfo, StreamHub } from "../../../lib/hub/stream-hub.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";

function hub(gopCache = true): StreamHub {
  return new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "s" }, {
    gopCache,
    gopCacheMaxFrames: 2500,
    timeJitter: "full",
  }, silentLog(), "vid-test");
}
function pub(id: string): PublisherInfo & { kicks: string[] } {
  const kicks: string[] = [];
  return { clientId: id, type: "fmle-publish", ip: "127.0.0.1", kick: (r) => kicks.push(r), kicks };
}
function pk(kind: MediaPacket["kind"], dts: number, o: Partial<MediaPacket> = {}): MediaPacket {
  return {
    kind,
    codec: kind === "video" ? "h264" : kind === "audio" ? "aac" : "amf0",
    dts,
    pts: dts,
    keyframe: false,
    config: false,
    data: new Uint8Array([dts & 0xff]),
    ...o,
  };
}
class Recorder implements HubSubscriber {
  got: MediaPacket[] = [];
  events: string[] = [];
  onPacket(p: MediaPacket): void {
    this.got.push(p);
  }
  onPublish(): void {
    this.events.push("publish");
  }
  onUnpublish(): void {
    this.events.push("unpublish");
  }
}

describe("StreamHub", () => {
  test("a busy stream refuses a second publisher; the first keeps publishing", () => {
    const h = hub();
    const a = pub("a");
    const b = pub("b");
    h.startPublish(a);
    expect(() => h.startPublish(b)).toThrow(PublishError);
    expect(() => h.startPublish(b)).toThrow(/busy: published by client a/);
    expect(h.publisher).toBe(a);
    expect(a.kicks).toEqual([]);
    // The refused one cannot stop the stream either.
    h.stopPublish(b);
    expect(h.active).toBe(true);
    h.publish(pk("video", 0, { keyframe: true }));
    expect(h.packetsIn).toBe(1);
    h.stopPublish(a);
    expect(h.active).toBe(false);
    // Free again.
    h.startPublish(b);
    expect(h.publisher).toBe(b);
  });

  test("startupPackets: metadata, video config, audio config, then the GOP from its keyframe", () => {
    const h = hub();
    h.startPublish(pub("a"));
    // Arriving in another order than a player needs them.
    const ac = pk("audio", 0, { config: true });
    const vc = pk("video", 0, { config: true, keyframe: true });
    h.publish(ac);
    h.publish(pk("video", 0)); // inter frame before any keyframe: not cached
    h.publish(vc);
    const k1 = pk("video", 40, { keyframe: true });
    h.publish(k1);
    h.publish(pk("audio", 50));
    const meta = pk("data", 60);
    h.publish(meta);
    const k2 = pk("video", 80, { keyframe: true });
    const a2 = pk("audio", 90);
    const p2 = pk("video", 120);
    for (const p of [k2, a2, p2]) h.publish(p);
    expect(h.startupPackets()).toEqual([meta, vc, ac, k2, a2, p2]);
    // Newer sequence headers replace older ones.
    const vc2 = pk("video", 130, { config: true, keyframe: true });
    h.publish(vc2);
    expect(h.startupPackets()[1]).toBe(vc2);
  });

  test("attach with replay gets the start-up packets then live ones; without replay only live ones", () => {
    const h = hub();
    h.startPublish(pub("a"));
    const vc = pk("video", 0, { config: true, keyframe: true });
    const k = pk("video", 0, { keyframe: true });
    h.publish(vc);
    h.publish(k);
    const r = new Recorder();
    const n = new Recorder();
    h.attach(r);
    h.attach(n, false);
    expect(r.got).toEqual([vc, k]);
    expect(n.got).toEqual([]);
    const p = pk("video", 40);
    h.publish(p);
    expect(r.got).toEqual([vc, k, p]);
    expect(n.got).toEqual([p]);
    expect(h.subscriberCount).toBe(2);
    h.detach(r);
    h.detach(n);
    expect(h.subscriberCount).toBe(0);
  });

  test("no replay while nobody publishes; subscribers are told of publish and unpublish", () => {
    const h = hub();
    const r = new Recorder();
    h.attach(r);
    expect(r.got).toEqual([]);
    const a = pub("a");
    h.startPublish(a);
    h.stopPublish(a);
    h.startPublish(pub("b"));
    expect(r.events).toEqual(["publish", "unpublish", "publish"]);
    expect(h.idle).toBe(false);
  });

  test("a new publisher starts clean: old metadata, sequence headers and GOP are gone", () => {
    const h = hub();
    const a = pub("a");
    h.startPublish(a);
    h.publish(pk("data", 0));
    h.publish(pk("video", 0, { config: true, keyframe: true }));
    h.publish(pk("video", 0, { keyframe: true }));
    h.stopPublish(a);
    expect(h.gop.size).toBe(0);
    h.startPublish(pub("b"));
    expect(h.startupPackets()).toEqual([]);
    expect(h.metadata).toBeUndefined();
    expect(h.videoConfig).toBeUndefined();
    expect(h.packetsIn).toBe(0);
  });

  test("gop_cache off: start-up packets are only metadata and sequence headers", () => {
    const h = hub(false);
    h.startPublish(pub("a"));
    const vc = pk("video", 0, { config: true, keyframe: true });
    h.publish(vc);
    h.publish(pk("video", 0, { keyframe: true }));
    h.publish(pk("video", 40));
    expect(h.startupPackets()).toEqual([vc]);
  });

  test("idle only without publisher and subscribers", () => {
    const h = hub();
    expect(h.idle).toBe(true);
    const r = new Recorder();
    h.attach(r);
    expect(h.idle).toBe(false);
    h.detach(r);
    expect(h.idle).toBe(true);
  });
});
