/**
 * The hub's leases: publish, play, subscribe and hold each give back everything with one dispose(); the
 * registry forgets a hub once its last lease is given back, and only then. Shared outputs are keyed by format
 * and options: players asking for other latency/queue settings get their own fan-out.
 */
import { describe, expect, test } from "bun:test";
import { BytePlayer, everyTurn, FanOut, fanOutKey, mergedWrites } from "../../../lib/hub/fanout.ts";
import { RecordingSink } from "../../helpers/byte-sink.ts";
import type { OutputSpec } from "../../../lib/hub/lease.ts";
import { HubRegistry } from "../../../lib/hub/registry.ts";
import { type HubSubscriber, PublishError, type PublisherInfo } from "../../../lib/hub/stream-hub.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import type { MediaPacket, StreamKey } from "../../../lib/media/packet.ts";
import { tsOutput } from "../../../lib/outputs/ts-fanout.ts";
import { aacOutput, mp3Output } from "../../../lib/protocols/http/audio-stream.ts";
import { flvOutput } from "../../../lib/protocols/http/flv-stream.ts";
import { rtmpOutput } from "../../../lib/protocols/rtmp/output.ts";

const KEY: StreamKey = { vhost: "__defaultVhost__", app: "live", stream: "s" };

function registry(): HubRegistry {
  return new HubRegistry(silentLog(), () => ({ gopCache: true, gopCacheMaxFrames: 100, timeJitter: "off" }));
}
function pub(id: string): PublisherInfo {
  return { clientId: id, type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };
}
function pk(kind: MediaPacket["kind"], dts: number, keyframe = false): MediaPacket {
  return { kind, codec: kind === "video" ? "h264" : "aac", dts, pts: dts, keyframe, config: false, data: new Uint8Array([dts & 0xff]) };
}
const player = (sink = new RecordingSink()) => new BytePlayer(sink, { onOverflow: () => {}, onUnpublish: () => {} });
/** A one-byte-per-packet output; `made` counts the outputs created. */
function output(made: { n: number }, key = "test"): OutputSpec<FanOut> {
  return {
    key,
    create: (hub) => {
      made.n++;
      return new FanOut(hub, key, (p) => new Uint8Array([p.data[0]!]), { mwLatencyMs: 0, minLatency: true, queueSeconds: 10 });
    },
  };
}
/** The registry forgets hubs at the end of the current job. */
const settled = () => new Promise<void>((r) => setImmediate(r));

describe("leases", () => {
  test("publish: claims the stream, push reaches subscribers, dispose unpublishes and the hub is forgotten", async () => {
    const hubs = registry();
    const lease = hubs.publish(KEY, pub("a"));
    const hub = lease.hub;
    expect(hub.active).toBe(true);
    expect(hubs.find(KEY)).toBe(hub);
    const got: MediaPacket[] = [];
    const sub: HubSubscriber = { onPacket: (p) => got.push(p), onUnpublish: () => got.push(pk("audio", -1)) };
    const subscription = hub.subscribe(sub);
    lease.push(pk("video", 0, true));
    expect(got.length).toBe(1);
    lease.dispose();
    expect(hub.active).toBe(false);
    expect(got.length).toBe(2); // told of the unpublish
    // Still found right after dispose (on_unpublish carries the stream id), and kept while subscribed.
    expect(hubs.find(KEY)).toBe(hub);
    await settled();
    expect(hubs.find(KEY)).toBe(hub);
    subscription.dispose();
    await settled();
    expect(hubs.find(KEY)).toBeUndefined();
    // A disposed lease pushes nothing and disposes nothing twice.
    lease.push(pk("video", 40, true));
    expect(hub.packetsIn).toBe(1);
    lease.dispose();
    subscription.dispose();
  });

  test("publish: a busy stream refuses the second publisher and keeps the first", async () => {
    const hubs = registry();
    const first = hubs.publish(KEY, pub("a"));
    expect(() => hubs.publish(KEY, pub("b"))).toThrow(PublishError);
    await settled();
    expect(hubs.find(KEY)).toBe(first.hub);
    expect(first.hub.publisher?.clientId).toBe("a");
    first.dispose();
    // Free again, on a new hub once the old one was forgotten.
    await settled();
    const second = hubs.publish(KEY, pub("b"));
    expect(second.hub.publisher?.clientId).toBe("b");
    expect(second.hub).not.toBe(first.hub);
    second.dispose();
  });

  test("play: players of one (format, options) share one output; the last one out drops it", async () => {
    const hubs = registry();
    const made = { n: 0 };
    const s1 = new RecordingSink();
    const a = hubs.play(KEY, output(made), player(s1));
    const b = hubs.play(KEY, output(made), player());
    expect(made.n).toBe(1);
    expect(a.output).toBe(b.output);
    expect(a.output.size).toBe(2);
    // Waiting players keep the hub although nobody publishes.
    await settled();
    expect(hubs.find(KEY)).toBe(a.hub);
    const p = hubs.publish(KEY, pub("a"));
    expect(p.hub).toBe(a.hub);
    p.push(pk("video", 0, true));
    a.output.flushAll();
    expect(s1.writes.length).toBe(1);
    a.dispose();
    expect(b.output.size).toBe(1);
    b.dispose();
    expect(b.output.size).toBe(0);
    // The output left the hub: a new player gets a new one.
    const c = hubs.play(KEY, output(made), player());
    expect(made.n).toBe(2);
    c.dispose();
    p.dispose();
    await settled();
    expect(hubs.find(KEY)).toBeUndefined();
  });

  test("hold: keeps the hub and its id until disposed", async () => {
    const hubs = registry();
    const hold = hubs.hold(KEY);
    const id = hold.hub.id;
    const p = hubs.publish(KEY, pub("a"));
    p.dispose();
    await settled();
    expect(hubs.find(KEY)?.id).toBe(id);
    hold.dispose();
    hold.dispose();
    await settled();
    expect(hubs.find(KEY)).toBeUndefined();
  });

  test("a hub leased again before the end of the job is kept", async () => {
    const hubs = registry();
    const a = hubs.publish(KEY, pub("a"));
    a.dispose();
    const b = hubs.publish(KEY, pub("b"));
    await settled();
    expect(b.hub).toBe(a.hub);
    expect(hubs.find(KEY)).toBe(b.hub);
    b.dispose();
  });
});

describe("fan-out by options", () => {
  // What the SRT bridge asks for (no merged write) and what an HTTP-TS player of a vhost with mw_latency asks for.
  const srt = { mwLatencyMs: 0, minLatency: true, queueSeconds: 30 };
  const httpTs = { mwLatencyMs: 350, minLatency: false, queueSeconds: 10 };

  test("SRT and HTTP-TS players of one stream get their own TS output, each with its players' options", async () => {
    const hubs = registry();
    const p = hubs.publish(KEY, pub("a"));
    const a = hubs.play(KEY, tsOutput(srt), player());
    const b = hubs.play(KEY, tsOutput(httpTs), player());
    expect(a.output).not.toBe(b.output);
    expect(a.output.options).toEqual(srt);
    expect(b.output.options).toEqual(httpTs);
    expect(p.hub.outputKeys().sort()).toEqual([fanOutKey("ts", httpTs), fanOutKey("ts", srt)].sort());
    // Whichever comes first, the other keeps its own settings.
    const b2 = hubs.play(KEY, tsOutput(httpTs), player());
    const a2 = hubs.play(KEY, tsOutput(srt), player());
    expect(b2.output).toBe(b.output);
    expect(a2.output).toBe(a.output);
    for (const l of [a, b, a2, b2]) l.dispose();
    expect(p.hub.outputKeys()).toEqual([]);
    p.dispose();
  });

  test("the key: format and the settings that change delivery; options that flush alike share one", () => {
    expect(fanOutKey("ts", srt)).not.toBe(fanOutKey("ts", httpTs));
    expect(fanOutKey("ts", httpTs)).not.toBe(fanOutKey("ts", { ...httpTs, queueSeconds: 30 }));
    expect(fanOutKey("ts", httpTs)).not.toBe(fanOutKey("flv", httpTs));
    // min_latency on flushes every event-loop turn whatever mw_latency says, as mw_latency 0 does.
    expect(fanOutKey("ts", { ...httpTs, minLatency: true })).toBe(fanOutKey("ts", { ...httpTs, mwLatencyMs: 0 }));
    expect(rtmpOutput(60000, srt).key).not.toBe(rtmpOutput(60000, httpTs).key);
    expect(rtmpOutput(60000, srt).key).not.toBe(rtmpOutput(4096, srt).key);
    expect(flvOutput({ dropAudio: false, dropVideo: false }, srt).key).not.toBe(flvOutput({ dropAudio: false, dropVideo: false }, httpTs).key);
    expect(aacOutput(srt).key).not.toBe(aacOutput(httpTs).key);
    expect(mp3Output(srt).key).not.toBe(mp3Output(httpTs).key);
  });

  test("each output flushes on its own schedule: min_latency at once, mw_latency in batches", async () => {
    const hubs = registry();
    const p = hubs.publish(KEY, pub("a"));
    const fast = new RecordingSink();
    const slow = new RecordingSink();
    const a = hubs.play(KEY, output({ n: 0 }, fanOutKey("test", srt)), player(fast));
    const b = hubs.play(KEY, {
      key: fanOutKey("test", { ...httpTs, mwLatencyMs: 3_600_000 }),
      create: (hub) => new FanOut(hub, "test", (x) => new Uint8Array([x.data[0]!]), { ...httpTs, mwLatencyMs: 3_600_000 }),
    }, player(slow));
    p.push(pk("video", 0, true));
    p.push(pk("video", 40));
    await settled();
    expect(fast.writes.length).toBeGreaterThan(0); // flushed on the next turn
    expect(slow.writes.length).toBe(0); // waits for its merged write
    b.output.flushAll();
    expect(slow.writes.flatMap((w) => [...w])).toEqual(fast.writes.flatMap((w) => [...w]));
    a.dispose();
    b.dispose();
    p.dispose();
  });
});

describe("reload of the play queue options (mw_latency, min_latency, queue_length)", () => {
  const HOUR = 3_600_000;
  /** The vhost play settings as a reload hands them to hub.reconfigureOutputs. */
  const vhost = (mwLatency: number, minLatency: boolean, queueLength = 10) => ({ play: { mwLatency, queueLength }, minLatency });
  /** An output made as an RTMP or HTTP player's is: its options follow the vhost by mergedWrites. */
  const follow = (c: ReturnType<typeof vhost>): OutputSpec<FanOut> => {
    const opts = mergedWrites(c);
    return { key: fanOutKey("test", opts), create: (hub) => new FanOut(hub, "test", (x) => new Uint8Array([x.data[0]!]), opts) };
  };

  test("a player already playing switches from merged writes to every turn; the output is re-keyed for new players", async () => {
    const hubs = registry();
    const p = hubs.publish(KEY, pub("a"));
    const sink = new RecordingSink();
    const a = hubs.play(KEY, follow(vhost(HOUR, false)), player(sink));
    p.push(pk("video", 0, true));
    p.push(pk("video", 40));
    await settled();
    expect(sink.writes.length).toBe(0); // batched for the hour-long merged write
    expect(p.hub.reconfigureOutputs(vhost(0, true))).toBe(1);
    expect(a.output.options).toEqual({ mwLatencyMs: 0, minLatency: true, queueSeconds: 10 });
    expect(p.hub.outputKeys()).toEqual([fanOutKey("test", mergedWrites(vhost(0, true)))]);
    await settled();
    expect(sink.writes.map((w) => [...w])).toEqual([[0, 40]]); // what was queued goes out at once
    for (const dts of [80, 120, 160]) {
      p.push(pk("video", dts));
      await settled();
    }
    expect(sink.writes.length).toBe(4); // then one write per packet, each on its own turn
    // A new player under the new config joins the same (re-keyed) output; the last one to leave drops it.
    const b = hubs.play(KEY, follow(vhost(0, true)), player());
    expect(b.output).toBe(a.output);
    a.dispose();
    b.dispose();
    expect(p.hub.outputKeys()).toEqual([]);
    p.dispose();
  });

  test("the other way: a player flushed every turn waits for the new merged write; queue_length follows too", async () => {
    const hubs = registry();
    const p = hubs.publish(KEY, pub("a"));
    const sink = new RecordingSink();
    const a = hubs.play(KEY, follow(vhost(0, true)), player(sink));
    p.push(pk("video", 0, true));
    await settled();
    expect(sink.writes.length).toBe(1);
    p.hub.reconfigureOutputs(vhost(HOUR, false, 5));
    expect(a.output.options).toEqual({ mwLatencyMs: HOUR, minLatency: false, queueSeconds: 5 });
    p.push(pk("video", 40));
    p.push(pk("video", 80));
    await settled();
    expect(sink.writes.length).toBe(1);
    a.output.flushAll(); // the merged write
    expect(sink.writes.map((w) => [...w])).toEqual([[0], [40, 80]]);
    a.dispose();
    expect(p.hub.outputKeys()).toEqual([]);
    p.dispose();
  });

  test("SRT's output keeps flushing every turn; an HTTP-TS output asking for the same options keeps its own key", () => {
    const hubs = registry();
    const p = hubs.publish(KEY, pub("a"));
    const before = vhost(350, false, 30);
    const srt = hubs.play(KEY, tsOutput(everyTurn(before), everyTurn), player());
    const http = hubs.play(KEY, tsOutput(mergedWrites(before)), player());
    const after = vhost(0, true, 30);
    expect(p.hub.reconfigureOutputs(after)).toBe(2);
    expect(srt.output.options).toEqual(everyTurn(after));
    expect(http.output.options).toEqual(mergedWrites(after));
    // Both now flush alike; new players join the one filed under that key, the other keeps its players.
    expect(p.hub.outputKeys().sort()).toEqual([fanOutKey("ts", mergedWrites(before)), fanOutKey("ts", everyTurn(after))].sort());
    const late = hubs.play(KEY, tsOutput(mergedWrites(after)), player());
    expect(late.output).toBe(srt.output);
    http.dispose(); // the output under its old key is dropped by identity
    expect(p.hub.outputKeys()).toEqual([fanOutKey("ts", everyTurn(after))]);
    srt.dispose();
    late.dispose();
    expect(p.hub.outputKeys()).toEqual([]);
    p.dispose();
  });
});
