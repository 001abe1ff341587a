/**
 * ICE over TCP below the browser: the RFC 4571 deframer (split and merged chunks, the size limit, garbage), the
 * routing of TCP links in the shared router (udp-mux.ts), and the listener's bounds (tcp-mux.ts) on real sockets:
 * unbound timeout, unbound cap, oversized frames, a peer that never reads.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { frame, FramingError, Rfc4571Deframer } from "../../../lib/net/rfc4571.ts";
import { RtcTcpMux, TCP_MUX_LIMITS } from "../../../lib/protocols/rtc/tcp-mux.ts";
import { type MuxEndpoint, type MuxLink, type RtcTransport, UdpMux } from "../../../lib/protocols/rtc/udp-mux.ts";
import { prng } from "../../helpers/prng.ts";
import { stunRequest } from "../../helpers/stun.ts";

const log = new Log(new LogSink({ tank: "console", level: "error" }), "test");


describe("RFC 4571 deframer", () => {
  const packets = [Buffer.from([1, 2, 3]), Buffer.alloc(1200, 7), Buffer.from([0x80, 96]), Buffer.alloc(65535, 9), Buffer.from([22])];
  const stream = Buffer.concat(packets.map((p) => frame(p)));

  test("frames come out whole whatever the chunking: all at once, byte by byte, random cuts", () => {
    const all = new Rfc4571Deframer().push(stream);
    expect(all.map((f) => Buffer.from(f))).toEqual(packets);
    const d = new Rfc4571Deframer();
    const bytes: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) bytes.push(...d.push(stream.subarray(i, i + 1)));
    expect(bytes.map((f) => Buffer.from(f))).toEqual(packets);
    expect(d.buffered).toBe(0);
    const rnd = prng(7);
    for (let run = 0; run < 50; run++) {
      const r = new Rfc4571Deframer();
      const out: Buffer[] = [];
      let off = 0;
      while (off < stream.length) {
        const n = 1 + Math.floor(rnd() * 3000);
        out.push(...r.push(stream.subarray(off, off + n)));
        // never more than one unfinished frame held
        expect(r.buffered).toBeLessThanOrEqual(2 + 65535);
        off += n;
      }
      expect(out.map((f) => Buffer.from(f))).toEqual(packets);
    }
  });

  test("zero-length frames are skipped; a frame over the limit is a FramingError", () => {
    const d = new Rfc4571Deframer(1500);
    expect(d.push(Buffer.from([0, 0, 0, 1, 5, 0, 0])).map((f) => [...f])).toEqual([[5]]);
    expect(d.empty).toBe(2);
    expect(() => d.push(Buffer.from([0x05, 0xdd]))).toThrow(FramingError); // 1501
    // the limit is checked from the header alone, split or not
    const s = new Rfc4571Deframer(1500);
    expect(s.push(Buffer.from([0x05]))).toEqual([]);
    expect(() => s.push(Buffer.from([0xdd]))).toThrow(FramingError);
    expect(() => frame(Buffer.alloc(65536))).toThrow(FramingError);
  });

  test("garbage: random bytes never hold more than one frame's worth, and a small limit rejects them fast", () => {
    const rnd = prng(42);
    for (let run = 0; run < 200; run++) {
      const junk = Buffer.alloc(1 + Math.floor(rnd() * 4000));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256);
      const d = new Rfc4571Deframer(1500);
      try {
        for (let off = 0; off < junk.length; off += 100) {
          d.push(junk.subarray(off, off + 100));
          expect(d.buffered).toBeLessThanOrEqual(1502);
        }
      } catch (e) {
        expect(e).toBeInstanceOf(FramingError);
      }
    }
  });
});

/** A link as tcp-mux.ts makes them, recording what is sent and whether it was closed. */
function fakeLink(ip: string, port: number): MuxLink & { sent: number[]; closedFor?: string } {
  const l = {
    ip, port, sent: [] as number[], closedFor: undefined as string | undefined,
    send: (d: Uint8Array) => {
      if (l.closedFor) return false;
      l.sent.push(d[0]!);
      return true;
    },
    close: (reason: string) => void (l.closedFor = reason),
  };
  return l;
}

describe("routing of ICE-TCP links", () => {
  const ep = (ufrag: string, got: string[]): MuxEndpoint => ({
    ufrag,
    password: `pw-${ufrag}`,
    receive: (d, ip, port, stun, t: RtcTransport) => got.push(`${ufrag} ${t} ${ip}:${port} ${stun ? "stun" : d[0]}`),
    detached: (ip, port, t) => got.push(`${ufrag} detached ${t} ${ip}:${port}`),
  });

  test("an unbound link: only a valid binding request of a session binds it, anything else closes it", () => {
    const mux = new UdpMux(log);
    const got: string[] = [];
    mux.register(ep("aaaa", got));
    const dtls = Buffer.from([22, 254, 253, 0]);
    expect(mux.onLinkFrame(dtls, fakeLink("10.0.0.1", 5000))).toBe("close");
    expect(mux.onLinkFrame(stunRequest("zzzz:x", "pw-aaaa"), fakeLink("10.0.0.1", 5001))).toBe("close");
    expect(mux.onLinkFrame(stunRequest("aaaa:x", "wrong"), fakeLink("10.0.0.1", 5002))).toBe("close");
    expect(mux.onLinkFrame(Buffer.from([0, 1, 0, 0]), fakeLink("10.0.0.1", 5003))).toBe("close"); // short STUN-looking
    expect(got).toEqual([]);
    expect(mux.stats).toMatchObject({ tcpReceived: 4, unknownAddress: 2, unknownUfrag: 1, badStun: 1 });
    const link = fakeLink("::ffff:10.0.0.1", 5004);
    expect(mux.onLinkFrame(stunRequest("aaaa:x", "pw-aaaa"), link)).toBe("bound");
    expect(mux.onLinkFrame(dtls, link)).toBe("routed");
    expect(got).toEqual(["aaaa tcp 10.0.0.1:5004 stun", "aaaa tcp 10.0.0.1:5004 22"]);
  });

  test("a bound link stays with its session; replies reach it; TCP and UDP of the same ip:port are distinct", () => {
    const mux = new UdpMux(log);
    const got: string[] = [];
    const a = ep("aaaa", got);
    const b = ep("bbbb", got);
    mux.register(a);
    mux.register(b);
    const link = fakeLink("10.0.0.1", 5000);
    expect(mux.onLinkFrame(stunRequest("aaaa:x", "pw-aaaa"), link)).toBe("bound");
    // a request naming another session on this link is dropped, the link kept
    expect(mux.onLinkFrame(stunRequest("bbbb:y", "pw-bbbb"), link)).toBe("dropped");
    expect(mux.onLinkFrame(stunRequest("aaaa:x", "bad"), link)).toBe("dropped");
    expect(link.closedFor).toBeUndefined();
    // the same ip:port by UDP belongs to whoever binds it there
    mux.onMessage(stunRequest("bbbb:y", "pw-bbbb"), { address: "10.0.0.1", port: 5000 });
    expect(mux.endpointAt("10.0.0.1", 5000, "tcp")).toBe(a);
    expect(mux.endpointAt("10.0.0.1", 5000, "udp")).toBe(b);
    mux.send(Buffer.from([0x80]), "10.0.0.1", 5000, "tcp");
    mux.send(Buffer.from([0x81]), "10.0.0.1", 5999, "tcp"); // no link there: dropped
    expect(link.sent).toEqual([0x80]);
    expect(mux.stats).toMatchObject({ tcpSent: 1, tcpDropped: 1 });
    // the link closes: its address is unbound and its session told
    mux.onLinkClosed(link);
    expect(mux.endpointAt("10.0.0.1", 5000, "tcp")).toBeUndefined();
    expect(got.at(-1)).toBe("aaaa detached tcp 10.0.0.1:5000");
    expect(mux.linkCount).toBe(0);
  });

  test("a session's end closes its links; the mux's close closes them all", async () => {
    const mux = new UdpMux(log);
    const got: string[] = [];
    const a = ep("aaaa", got);
    mux.register(a);
    mux.register(ep("bbbb", got));
    const l1 = fakeLink("10.0.0.1", 1);
    const l2 = fakeLink("10.0.0.1", 2);
    mux.onLinkFrame(stunRequest("aaaa:x", "pw-aaaa"), l1);
    mux.onLinkFrame(stunRequest("bbbb:x", "pw-bbbb"), l2);
    mux.unregister(a);
    expect(l1.closedFor).toBe("session closed");
    expect(l2.closedFor).toBeUndefined();
    await mux.close();
    expect(l2.closedFor).toBe("server quit");
  });
});

/** A TCP client of the listener; resolves `closed` when the server ends the connection. */
async function client(port: number): Promise<{ s: Socket; closed: Promise<number> }> {
  const s = connect(port, "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((r) => s.once("connect", () => r()));
  const t0 = Date.now();
  const closed = new Promise<number>((r) => s.once("close", () => r(Date.now() - t0)));
  return { s, closed };
}

describe("the ICE-TCP listener's bounds", () => {
  test("garbage closes a connection; a silent one is closed after the unbound timeout; unbound connections are capped", async () => {
    const mux = new UdpMux(log);
    const tcp = new RtcTcpMux(log, mux, { ...TCP_MUX_LIMITS, maxUnbound: 3, unboundTimeoutMs: 300, maxFrame: 1500 });
    const port = await tcp.listen(0, "127.0.0.1");
    try {
      const big = await client(port);
      big.s.write(Buffer.from([0xff, 0xff, 1, 2, 3])); // 65535 > maxFrame
      expect(await big.closed).toBeLessThan(1000);
      const dtls = await client(port);
      dtls.s.write(frame(Buffer.from([22, 254, 253, 0]))); // not STUN first
      expect(await dtls.closed).toBeLessThan(1000);
      const silent = [await client(port), await client(port), await client(port)];
      await Bun.sleep(50);
      expect(tcp.unboundConnections).toBe(3);
      const fourth = await client(port); // over the cap: refused at once
      expect(await fourth.closed).toBeLessThan(1000);
      for (const c of silent) {
        const ms = await c.closed;
        expect(ms).toBeGreaterThanOrEqual(250);
        expect(ms).toBeLessThan(2000);
      }
      expect(tcp.connections).toBe(0);
      expect(tcp.stats).toMatchObject({ refused: 1, garbage: 2, timedOut: 3 });
    } finally {
      await tcp.close();
      await mux.close();
    }
  });

  test("a bound peer that never reads: the write backlog stays capped (packets dropped), then the connection is closed", async () => {
    const mux = new UdpMux(log);
    const maxBacklog = 64 * 1024;
    const tcp = new RtcTcpMux(log, mux, { ...TCP_MUX_LIMITS, maxBacklog, stallCloseMs: 500 });
    const port = await tcp.listen(0, "127.0.0.1");
    const got: string[] = [];
    let peer: { ip: string; port: number } | undefined;
    mux.register({
      ufrag: "aaaa", password: "pw-aaaa",
      receive: (_d, ip, p, _stun, t) => {
        peer = { ip, port: p };
        got.push(t);
      },
      detached: () => got.push("detached"),
    });
    try {
      const c = await client(port);
      c.s.pause(); // never reads
      c.s.write(frame(stunRequest("aaaa:x", "pw-aaaa")));
      await waitUntil(() => peer !== undefined);
      const packet = Buffer.alloc(1200, 0x80);
      let sent = 0;
      // ~60 MB offered over ~1 s: far more than the socket buffers take
      for (let i = 0; i < 50 && !c.s.destroyed; i++) {
        for (let j = 0; j < 1000; j++) mux.send(packet, peer!.ip, peer!.port, "tcp");
        sent += 1000;
        await Bun.sleep(20);
      }
      expect(mux.stats.tcpDropped).toBeGreaterThan(0);
      expect(mux.stats.tcpSent).toBeLessThan(sent);
      expect(tcp.stats.peakBacklog).toBeGreaterThan(maxBacklog / 2);
      expect(tcp.stats.peakBacklog).toBeLessThanOrEqual(maxBacklog + 1202);
      // (the paused client does not see the close: look from the server's side)
      await waitUntil(() => tcp.connections === 0, 5000);
      expect(tcp.stats.stalled).toBe(1);
      c.s.destroy();
      expect(got).toEqual(["tcp", "detached"]);
    } finally {
      await tcp.close();
      await mux.close();
    }
  }, 15000);
});

describe("the ICE-TCP listener's life", () => {
  test("IPv6: a peer on [::1] binds by its check and is answered on its connection; close() ends connections at once", async () => {
    const mux = new UdpMux(log);
    const tcp = new RtcTcpMux(log, mux);
    const port = await tcp.listen(0, "::1");
    expect(tcp.portFor("ipv6")).toBe(port);
    expect(tcp.portFor("ipv4")).toBeUndefined();
    let from = "";
    mux.register({
      ufrag: "aaaa", password: "pw-aaaa",
      receive: (_d, ip, p, stun, t) => {
        from = `${t} ${ip} ${stun}`;
        mux.send(Buffer.from([0x01, 0x01, 0, 0]), ip, p, t);
      },
    });
    const c = connect(port, "::1");
    c.on("error", () => {});
    const reply = new Promise<Buffer>((r) => c.once("data", (d: Buffer) => r(d)));
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    c.write(frame(stunRequest("aaaa:x", "pw-aaaa")));
    expect([...(await reply)]).toEqual([0, 4, 0x01, 0x01, 0, 0]);
    expect(from).toBe("tcp ::1 true");
    // one more connection that never speaks: close() must not wait for its unbound timeout
    const idle = connect(port, "::1");
    idle.on("error", () => {});
    await new Promise<void>((r) => idle.once("connect", () => r()));
    await Bun.sleep(20);
    const t0 = Date.now();
    tcp.stopAccepting();
    await tcp.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    await closed;
    expect(tcp.connections).toBe(0);
    idle.destroy();
    await mux.close();
  });
});

async function waitUntil(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timeout");
    await Bun.sleep(10);
  }
}
