/**
 * FanOut / BytePlayer: bytes encoded once per packet and shared by every player (same object), GOP replays
 * reuse them, a slow player is skipped ahead to the next keyframe, a hopeless one is closed, a new player
 * starts at a keyframe.
 */
import { describe, expect, test } from "bun:test";
import { BytePlayer, FanOut, type PlayerEvents } from "../../../lib/hub/fanout.ts";
import { RecordingSink } from "../../helpers/byte-sink.ts";
import { type PublisherInfo, StreamHub } from "../../../lib/hub/stream-hub.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";

class Events implements PlayerEvents {
  overflows: string[] = [];
  unpublished = 0;
  published = 0;
  onOverflow(reason: string): void {
    this.overflows.push(reason);
  }
  onUnpublish(): void {
    this.unpublished++;
  }
  onPublish(): void {
    this.published++;
  }
}

let seq = 0;
/** A packet whose encoding is one byte: its sequence number (so byte streams show what was sent). */
function pk(kind: MediaPacket["kind"], o: Partial<MediaPacket> = {}): MediaPacket {
  seq++;
  return {
    kind,
    codec: kind === "video" ? "h264" : kind === "audio" ? "aac" : "amf0",
    dts: seq * 10,
    pts: seq * 10,
    keyframe: false,
    config: false,
    data: new Uint8Array([seq & 0xff]),
    ...o,
  };
}

function setup(gopCache = true) {
  const hub = new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "s" }, {
    gopCache,
    gopCacheMaxFrames: 2500,
    timeJitter: "off",
  }, silentLog(), "vid-test");
  const publisher: PublisherInfo = { clientId: "p", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };
  let encodes = 0;
  const encodedOf = new Map<MediaPacket, number>();
  // Large merged-write interval: the tests flush by hand.
  const fan = hub.format("test", () =>
    new FanOut(hub, "test", (p) => {
      encodes++;
      encodedOf.set(p, (encodedOf.get(p) ?? 0) + 1);
      return new Uint8Array([p.data[0]!]);
    }, { mwLatencyMs: 3_600_000, minLatency: false, queueSeconds: 10 }));
  const player = () => {
    const sink = new RecordingSink();
    const events = new Events();
    const pl = new BytePlayer(sink, events);
    return { sink, events, pl };
  };
  return { hub, fan, publisher, player, encodes: () => encodes, encodedOf };
}

const vcfg = () => pk("video", { config: true, keyframe: true });
const acfg = () => pk("audio", { config: true });
const key = () => pk("video", { keyframe: true });
const inter = () => pk("video");
const aud = () => pk("audio");

describe("FanOut", () => {
  test("the same bytes object goes to every player; encode runs once per packet", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    for (const p of [pk("data"), vcfg(), acfg(), key()]) s.hub.publish(p);
    const players = Array.from({ length: 20 }, () => s.player());
    for (const x of players) s.fan.add(x.pl);
    for (const x of players) x.sink.writes = []; // start-up burst already flushed on add
    const encodesBefore = s.encodes();
    for (let i = 0; i < 5; i++) {
      s.hub.publish(i % 2 ? aud() : inter());
      s.fan.flushAll();
    }
    expect(s.encodes() - encodesBefore).toBe(5);
    for (let i = 0; i < 5; i++) {
      const first = players[0]!.sink.writes[i]!;
      for (const x of players) expect(x.sink.writes[i]).toBe(first); // identical object, not a copy
    }
    for (const x of players) s.fan.remove(x.pl);
  });

  test("GOP replays to new players reuse the encoded bytes: one encode per packet, whatever the players", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    const live: MediaPacket[] = [pk("data"), vcfg(), acfg(), key(), aud(), inter(), aud(), inter()];
    const first = s.player();
    s.fan.add(first.pl);
    for (const p of live) s.hub.publish(p);
    // New players join one by one (each gets the GOP replay), live packets keep coming.
    const players = [first];
    for (let i = 0; i < 30; i++) {
      const x = s.player();
      s.fan.add(x.pl);
      players.push(x);
      const p = i % 2 ? aud() : inter();
      live.push(p);
      s.hub.publish(p);
    }
    s.fan.flushAll();
    for (const p of live) expect(s.encodedOf.get(p)).toBe(1);
    expect(s.encodes()).toBe(live.length);
    // Every player got a decodable start: metadata, config, then a keyframe first among frames.
    const keySeq = live[3]!.data[0]!;
    for (const x of players) {
      const b = x.sink.bytes();
      expect(b.slice(0, 4)).toEqual([live[0]!.data[0]!, live[1]!.data[0]!, live[2]!.data[0]!, keySeq]);
    }
    for (const x of players) s.fan.remove(x.pl);
  });

  test("a slow sink is skipped ahead to the next keyframe (its queue dropped), the others are untouched", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    for (const p of [vcfg(), acfg(), key()]) s.hub.publish(p);
    const slow = s.player();
    const ok = s.player();
    s.fan.add(slow.pl);
    s.fan.add(ok.pl);
    slow.sink.writes = [];
    ok.sink.writes = [];
    // The byte budget is max(512 KiB, byteRate * queueSeconds); byteRate is 0 here: 512 KiB.
    slow.sink.writableLength = 600 * 1024;
    const dropped = [inter(), aud(), inter(), aud()];
    for (const p of dropped) s.hub.publish(p);
    expect(slow.pl.skips).toBe(1);
    slow.sink.writableLength = 0; // it caught up with its socket...
    const stillDropped = [inter(), aud()];
    for (const p of stillDropped) s.hub.publish(p); // ...but waits for a keyframe
    const cfg = vcfg(); // sequence headers are never skipped
    s.hub.publish(cfg);
    const k = key();
    const after = [k, aud(), inter()];
    for (const p of after) s.hub.publish(p);
    s.fan.flushAll();
    expect(slow.sink.bytes()).toEqual([cfg, ...after].map((p) => p.data[0]!));
    expect(ok.sink.bytes()).toEqual([...dropped, ...stillDropped, cfg, ...after].map((p) => p.data[0]!));
    expect(ok.pl.skips).toBe(0);
    expect(slow.events.overflows).toEqual([]);
    s.fan.remove(slow.pl);
    s.fan.remove(ok.pl);
  });

  test("a player hopelessly behind (transport backlog over twice the budget) is closed", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    for (const p of [vcfg(), key()]) s.hub.publish(p);
    const slow = s.player();
    s.fan.add(slow.pl);
    slow.sink.writableLength = 2 * 512 * 1024 + 1;
    s.hub.publish(inter());
    expect(slow.events.overflows.length).toBe(1);
    expect(slow.events.overflows[0]).toMatch(/backlog/);
    s.fan.remove(slow.pl);
  });

  test("a new player waits for a keyframe when there is no GOP to replay (gop_cache off)", () => {
    const s = setup(false);
    s.hub.startPublish(s.publisher);
    const meta = pk("data");
    const vc = vcfg();
    const ac = acfg();
    for (const p of [meta, vc, ac, key(), inter(), aud()]) s.hub.publish(p);
    const x = s.player();
    s.fan.add(x.pl);
    for (const p of [inter(), aud(), inter()]) s.hub.publish(p);
    const k = key();
    const a = aud();
    s.hub.publish(k);
    s.hub.publish(a);
    s.fan.flushAll();
    expect(x.sink.bytes()).toEqual([meta, vc, ac, k, a].map((p) => p.data[0]!));
    s.fan.remove(x.pl);
  });

  test("audio-only streams: players are not held for a keyframe", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    const ac = acfg();
    s.hub.publish(ac);
    const x = s.player();
    s.fan.add(x.pl);
    const frames = [aud(), aud(), aud()];
    for (const p of frames) s.hub.publish(p);
    s.fan.flushAll();
    expect(x.sink.bytes()).toEqual([ac, ...frames].map((p) => p.data[0]!));
    s.fan.remove(x.pl);
  });

  test("players are told of unpublish/publish; the last player's lease drops the format from the hub", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    const x = s.player();
    const y = s.player();
    const spec = { key: "test", create: () => s.fan };
    const lx = s.hub.play(spec, x.pl);
    const ly = s.hub.play(spec, y.pl);
    s.hub.stopPublish(s.publisher);
    s.hub.startPublish(s.publisher);
    expect([x.events.unpublished, x.events.published, y.events.unpublished, y.events.published]).toEqual([1, 1, 1, 1]);
    lx.dispose();
    expect(s.hub.subscriberCount).toBe(1);
    ly.dispose();
    expect(s.fan.size).toBe(0);
    expect(s.hub.subscriberCount).toBe(0);
    // A removed player gets nothing more.
    const n = x.sink.writes.length;
    s.hub.publish(key());
    x.pl.flush();
    expect(x.sink.writes.length).toBe(n);
  });

  test("writeNow flushes queued media first, then writes; nothing is written to a destroyed sink", () => {
    const sink = new RecordingSink();
    const pl = new BytePlayer(sink, new Events());
    const k = pk("video", { keyframe: true });
    pl.push(Uint8Array.of(1, 2), k, 1 << 20, true);
    pl.push(Uint8Array.of(3), pk("audio"), 1 << 20, true);
    pl.writeNow(Uint8Array.of(9));
    expect(sink.bytes()).toEqual([1, 2, 3, 9]);
    expect(pl.bytesOut).toBe(4);
    sink.destroyed = true;
    pl.push(Uint8Array.of(4), pk("video"), 1 << 20, true);
    pl.flush();
    pl.writeNow(Uint8Array.of(5));
    expect(sink.bytes()).toEqual([1, 2, 3, 9]);
  });
});

describe("BytePlayer skip keeps queued sequence headers", () => {
  test("a skip drops queued media but not a sequence header queued before it (republish/codec change)", () => {
    const sink = new RecordingSink();
    const pl = new BytePlayer(sink, new Events());
    const limit = 1000;
    const big = (p: MediaPacket) => {
      const b = new Uint8Array(400);
      b[0] = p.data[0]!;
      return b;
    };
    const k = key();
    pl.push(big(k), k, limit, true); // start at a keyframe
    const cfg = vcfg();
    pl.push(big(cfg), cfg, limit, true); // a new sequence header arrives
    const i1 = inter();
    pl.push(big(i1), i1, limit, true);
    sink.writableLength = 2000; // the socket is backed up: the next media packet triggers a skip
    const i2 = inter();
    pl.push(big(i2), i2, limit, true);
    expect(pl.skips).toBe(1);
    sink.writableLength = 0;
    const k2 = key();
    pl.push(big(k2), k2, limit, true);
    pl.flush();
    const firstBytes = sink.writes.flatMap((w) => {
      const out: number[] = [];
      for (let o = 0; o < w.length; o += 400) out.push(w[o]!);
      return out;
    });
    expect(firstBytes).toEqual([cfg.data[0]!, k2.data[0]!]);
  });
});

describe("FanOut merged writes share one batch", () => {
  test("in-sync players get the same batch buffer; a player that joined mid-tick gets its own, correct bytes", () => {
    const s = setup();
    s.hub.startPublish(s.publisher);
    for (const p of [pk("data"), vcfg(), acfg(), key()]) s.hub.publish(p);
    const a = s.player();
    const b = s.player();
    s.fan.add(a.pl);
    s.fan.add(b.pl);
    // Both joined at the same GOP point: their start-up bursts are one shared buffer.
    expect(a.sink.writes[0]).toBe(b.sink.writes[0]!);
    s.fan.flushAll();
    a.sink.writes = [];
    b.sink.writes = [];
    const p1 = inter();
    const p2 = aud();
    s.hub.publish(p1);
    const c = s.player();
    s.fan.add(c.pl); // joins between p1 and p2: its start-up burst already holds p1
    c.sink.writes = [];
    s.hub.publish(p2);
    s.fan.flushAll();
    expect(a.sink.writes.length).toBe(1);
    expect(a.sink.writes[0]).toBe(b.sink.writes[0]!); // one batch object for both
    expect([...a.sink.writes[0]!]).toEqual([p1.data[0]!, p2.data[0]!]);
    expect(c.sink.bytes()).toEqual([p2.data[0]!]); // not p1 twice
    // Next tick everyone is in sync again.
    a.sink.writes = [];
    c.sink.writes = [];
    const p3 = inter();
    const p4 = inter();
    s.hub.publish(p3);
    s.hub.publish(p4);
    s.fan.flushAll();
    expect(c.sink.writes[0]).toBe(a.sink.writes[0]!);
  });
});
