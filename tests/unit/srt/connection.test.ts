/**
 * Two SrtConnections over an in-memory lossy, delayed link: ARQ (NAK + retransmission), TSBPD delivery
 * timing, too-late drop, ACK/ACKACK RTT, drop requests and shutdown.
 *
 * The link runs on virtual time (the connections' injected clock): delays, ticks and pacing advance in 1 ms steps
 * that the test drives, so timing windows are exact and do not depend on how busy the machine is.
 */
import { describe, expect, test } from "bun:test";
import { SrtConnection, type SrtSendScheduler, type SrtTransport } from "../../../lib/protocols/srt/connection.ts";
import { createKm, encodeKm } from "../../../lib/protocols/srt/crypto.ts";
import { writeControlHeader, writeDataHeader } from "../../../lib/protocols/srt/packet.ts";
import { silentLog } from "../../../lib/log/logger.ts";

const now = () => performance.now() * 1000;

/**
 * Virtual time in µs. Datagrams in flight and the connections' pacing wait on it; `run` advances it 1 ms at a
 * time, delivering what falls due, pumping woken senders (as SrtServer's shared pacer does) and ticking every
 * 10 ms (as the owners do).
 */
class VirtualTime implements SrtSendScheduler {
  now = 1_000_000;
  readonly clock = (): number => this.now;
  private due: { at: number; order: number; run: () => void }[] = [];
  private order = 0;
  private woken = new Set<SrtConnection>();
  private ticked: SrtConnection[] = [];
  private lastTick = this.now;

  /** Runs `fn` after `ms` of virtual time. */
  after(ms: number, fn: () => void): void {
    this.due.push({ at: this.now + ms * 1000, order: this.order++, run: fn });
  }

  wake(conn: SrtConnection): void {
    this.woken.add(conn);
  }

  tickEvery10ms(...conns: SrtConnection[]): void {
    this.ticked.push(...conns);
  }

  /** Advances `ms` milliseconds, or until `until()` holds (checked after every step). */
  run(ms: number, until?: () => boolean): void {
    for (let step = 0; step < ms && !until?.(); step++) {
      this.now += 1000;
      const ready = this.due.filter((d) => d.at <= this.now).sort((x, y) => x.at - y.at || x.order - y.order);
      this.due = this.due.filter((d) => d.at > this.now);
      for (const d of ready) d.run();
      if (this.now - this.lastTick >= 10_000) {
        this.lastTick = this.now;
        for (const c of this.ticked) c.tick(this.now);
      }
      for (const c of [...this.woken]) if (c.pump(this.now, Infinity) < 0) this.woken.delete(c);
    }
  }
}

interface Link {
  a: SrtConnection;
  b: SrtConnection;
  time: VirtualTime;
  counts: { aToB: number; dropped: number };
}

/** a → b with `loss` probability and `delayMs` one-way delay (both ways). */
function link(opts: { loss: number; delayMs: number; latencyMs: number; tlpktdrop?: boolean; encrypt?: boolean; lossBack?: number; lingerMs?: number }): Link {
  const time = new VirtualTime();
  const counts = { aToB: 0, dropped: 0 };
  let a!: SrtConnection;
  let b!: SrtConnection;
  let rnd = 12345;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const mk = (to: () => SrtConnection, loss: number, count: boolean): SrtTransport => ({
    send(buf, len) {
      if (count) counts.aToB++;
      if (random() < loss) {
        counts.dropped++;
        return;
      }
      const copy = buf.slice(0, len);
      time.after(opts.delayMs, () => to().handlePacket(copy, copy.length, time.now));
    },
  });
  const km = opts.encrypt ? createKm("link-passphrase", 16).cipher : null;
  const t0 = time.now;
  const common = {
    remoteAddress: "mem", remotePort: 0, streamId: "s", sndIsn: 0x7ffffff0, rcvIsn: 0x7ffffff0, rcvLatencyMs: opts.latencyMs,
    sndLatencyMs: opts.latencyMs, tsbpd: true, tlpktdrop: opts.tlpktdrop ?? true, payloadSize: 1316, rcvBufPackets: 8192,
    sndBufPackets: 8192, peerIdleTimeoutMs: 5000, maxBw: 0, rcvEven: km, rcvOdd: null, sndCipher: km,
    tsbpdBaseUs: t0 + opts.delayMs * 1000, startUs: t0, peerRexmitFlag: true, log: silentLog(), lingerMs: opts.lingerMs,
    clock: time.clock, scheduler: time,
  };
  a = new SrtConnection({ ...common, socketId: 1, peerSocketId: 2, transport: mk(() => b, opts.loss, true) });
  b = new SrtConnection({ ...common, socketId: 2, peerSocketId: 1, transport: mk(() => a, opts.lossBack ?? opts.loss, false) });
  time.tickEvery10ms(a, b);
  return { a, b, time, counts };
}

function packet(i: number): Uint8Array {
  const p = new Uint8Array(1316);
  new DataView(p.buffer).setUint32(0, i);
  p[1315] = i & 0xff;
  return p;
}

/** Sends packets 0..n-1, `perMs` per millisecond of virtual time. */
function pump(l: Link, n: number, perMs: number): void {
  for (let i = 0; i < n; i++) {
    l.a.send(packet(i));
    if (i % perMs === perMs - 1) l.time.run(1);
  }
}

describe("SrtConnection over a lossy link", () => {
  test("10% loss each way, 20 ms delay, 200 ms latency: every packet delivered in order (sequence wraps, lost tail resent)", () => {
    const l = link({ loss: 0.1, delayMs: 20, latencyMs: 200 });
    const got: number[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    pump(l, 1500, 2);
    l.time.run(5000, () => got.length >= 1500);
    expect(got.length).toBe(1500);
    for (let i = 0; i < got.length; i++) if (got[i] !== i) throw new Error(`out of order at ${i}: ${got[i]}`);
    const sa = l.a.stats();
    const sb = l.b.stats();
    expect(l.counts.dropped).toBeGreaterThan(100);
    expect(sa.pktRetrans).toBeGreaterThan(100);
    expect(sb.pktLoss).toBeGreaterThan(100);
    expect(sb.pktRcvDrop).toBe(0);
    // ACK → ACKACK round trip over 20 ms each way, measured on the virtual clock (1 ms steps)
    expect(sb.rttMs).toBeGreaterThanOrEqual(40);
    expect(sb.rttMs).toBeLessThan(43);
    l.a.close();
    l.b.close();
  });

  test("encrypted link: payloads decrypted intact", () => {
    const l = link({ loss: 0.05, delayMs: 5, latencyMs: 120, encrypt: true });
    const got: Uint8Array[] = [];
    l.b.onData((p) => got.push(p.slice()));
    pump(l, 300, 3);
    l.time.run(3000, () => got.length >= 300);
    expect(got.length).toBe(300);
    for (let i = 0; i < 300; i++) expect(Buffer.from(got[i]!).equals(Buffer.from(packet(i)))).toBe(true);
    l.a.close();
    l.b.close();
  });

  test("TSBPD: delivery happens latency after sending, not before", () => {
    const l = link({ loss: 0, delayMs: 1, latencyMs: 150 });
    const sentAt = l.time.now;
    let deliveredAt = 0;
    l.b.onData(() => {
      if (!deliveredAt) deliveredAt = l.time.now;
    });
    l.a.send(packet(0));
    l.time.run(400);
    const ms = (deliveredAt - sentAt) / 1000;
    // due at 150 ms (+1 ms link delay); delivery runs on the 10 ms tick, so at most one tick later
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThanOrEqual(161);
    l.a.close();
    l.b.close();
  });

  test("too-late drop: with the sender's retransmissions lost, the receiver skips holes and keeps going", () => {
    // 30% loss forward, no way to recover everything within 40 ms of latency and 30 ms delay.
    const l = link({ loss: 0.3, delayMs: 30, latencyMs: 40 });
    const got: number[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    pump(l, 600, 2);
    l.time.run(500);
    expect(got.length).toBeGreaterThan(300);
    expect(got.length).toBeLessThan(600);
    for (let i = 1; i < got.length; i++) if (got[i]! <= got[i - 1]!) throw new Error("not increasing");
    expect(l.b.stats().pktRcvDrop).toBeGreaterThan(0);
    l.a.close();
    l.b.close();
  });

  test("shutdown closes the peer; idle timeout closes a silent connection", () => {
    const l = link({ loss: 0, delayMs: 1, latencyMs: 50 });
    const reasons: string[] = [];
    l.b.onClose((r) => reasons.push(r));
    l.a.close();
    l.time.run(30);
    expect(reasons).toEqual(["peer shutdown"]);
    const sent: number[] = [];
    const lone = new SrtConnection({
      socketId: 1, peerSocketId: 2, remoteAddress: "x", remotePort: 0, streamId: "", sndIsn: 0, rcvIsn: 0, rcvLatencyMs: 120,
      sndLatencyMs: 120, tsbpd: true, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 64, sndBufPackets: 64,
      peerIdleTimeoutMs: 50, maxBw: 0, rcvEven: null, rcvOdd: null, sndCipher: null, tsbpdBaseUs: now(), startUs: now(),
      peerRexmitFlag: true, transport: { send: (_b, n) => void sent.push(n) }, log: silentLog(),
    });
    let why = "";
    lone.onClose((r) => (why = r));
    lone.tick(now() + 60_000);
    expect(why).toContain("idle");
    expect(lone.send(new Uint8Array(10))).toBe(false);
  });

  test("pacing: a 300-packet burst at maxbw 1 MB/s is spread over ~400 ms, not sent in one go", () => {
    const time = new VirtualTime();
    const times: number[] = [];
    const c = new SrtConnection({
      socketId: 1, peerSocketId: 2, remoteAddress: "x", remotePort: 0, streamId: "", sndIsn: 0, rcvIsn: 0, rcvLatencyMs: 120,
      sndLatencyMs: 120, tsbpd: true, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 64, sndBufPackets: 1024,
      peerIdleTimeoutMs: 5000, maxBw: 1_000_000, rcvEven: null, rcvOdd: null, sndCipher: null, tsbpdBaseUs: time.now,
      startUs: time.now, peerRexmitFlag: true, transport: { send: (_b, n) => void (n > 100 && times.push(time.now)) },
      log: silentLog(), clock: time.clock, scheduler: time,
    });
    for (let i = 0; i < 300; i++) c.send(new Uint8Array(1316));
    time.run(1);
    const atOnce = times.length;
    time.run(600);
    c.close();
    // 1 MB/s: 300 × 1332 bytes take ~400 ms; only the bucket's few packets may leave at once
    expect(atOnce).toBeLessThan(10);
    expect(times.length).toBe(300);
    const spanMs = (times[times.length - 1]! - times[0]!) / 1000;
    expect(spanMs).toBeGreaterThan(370);
    expect(spanMs).toBeLessThan(420);
  });
});

describe("closing with data in flight", () => {
  test("close() lingers: a burst still queued behind pacing, with 10% loss, all reaches the peer before SHUTDOWN", () => {
    const l = link({ loss: 0.1, delayMs: 10, latencyMs: 300, lingerMs: 5000 });
    const got: number[] = [];
    const closed: string[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    l.b.onClose((r) => closed.push(`b: ${r}`));
    l.a.onClose((r) => closed.push(`a: ${r}`));
    for (let i = 0; i < 800; i++) l.a.send(packet(i));
    const queued = l.a.stats().sndBufPackets;
    l.a.close("done");
    expect(l.a.closing).toBe(true);
    expect(l.a.send(packet(9999))).toBe(false); // no new data once closing
    l.time.run(6000, () => closed.length >= 1);
    // a closed once all was acknowledged and due at b; b has delivered it (at its TSBPD time, or at the SHUTDOWN,
    // which may itself be lost on this link: then b idles out later, with its data already delivered).
    l.time.run(100);
    expect(queued).toBeGreaterThan(700); // the burst had not left when close() was called
    expect(closed[0]).toBe("a: done");
    expect(got.length, JSON.stringify({ a: l.a.stats(), b: l.b.stats() })).toBe(800);
    for (let i = 0; i < got.length; i++) if (got[i] !== i) throw new Error(`out of order at ${i}: ${got[i]}`);
  });

  test("without linger the queued tail is lost (what close(reason, 0) and server shutdown do)", () => {
    const l = link({ loss: 0, delayMs: 1, latencyMs: 50, lingerMs: 5000 });
    const got: number[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    for (let i = 0; i < 800; i++) l.a.send(packet(i));
    l.a.close("now", 0);
    expect(l.a.closed).toBe(true);
    l.time.run(200);
    expect(got.length).toBeLessThan(800);
  });

  test("linger is bounded: a peer that acknowledges nothing gets SHUTDOWN at the deadline", () => {
    const t0 = now();
    const c = new SrtConnection({
      socketId: 1, peerSocketId: 2, remoteAddress: "x", remotePort: 0, streamId: "", sndIsn: 0, rcvIsn: 0, rcvLatencyMs: 120,
      sndLatencyMs: 120, tsbpd: true, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 64, sndBufPackets: 64,
      peerIdleTimeoutMs: 60_000, maxBw: 0, rcvEven: null, rcvOdd: null, sndCipher: null, tsbpdBaseUs: t0, startUs: t0,
      peerRexmitFlag: true, transport: { send: () => {} }, log: silentLog(), lingerMs: 300,
    });
    let why = "";
    c.onClose((r) => (why = r));
    c.send(new Uint8Array(1316));
    c.close("bye");
    c.tick(t0 + 200_000);
    expect(why).toBe("");
    c.tick(t0 + 400_000);
    expect(why).toContain("linger timeout");
    expect(why).toContain("1 packets unacknowledged");
  });
});

describe("pacing under a late event loop", () => {
  test("a backlogged sender woken late sends what its rate allowed meanwhile; after idling it does not burst", () => {
    let sent = 0;
    const c = new SrtConnection({
      socketId: 1, peerSocketId: 2, remoteAddress: "x", remotePort: 0, streamId: "", sndIsn: 0, rcvIsn: 0, rcvLatencyMs: 120,
      sndLatencyMs: 120, tsbpd: true, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 64, sndBufPackets: 1024,
      peerIdleTimeoutMs: 60_000, maxBw: 1_000_000, rcvEven: null, rcvOdd: null, sndCipher: null, tsbpdBaseUs: now(),
      startUs: now(), peerRexmitFlag: true, transport: { send: (_b, n) => void (n > 100 && sent++) },
      scheduler: { wake: () => {} }, log: silentLog(),
    });
    for (let i = 0; i < 300; i++) c.send(new Uint8Array(1316));
    const t0 = now();
    c.pump(t0, Infinity);
    const first = sent;
    expect(first).toBeLessThan(6); // a 5 ms burst at 1 MB/s
    // The pacing timer should have fired after ~1 ms; it fires 40 ms late: 40 ms at 1 MB/s is ~30 packets.
    c.pump(t0 + 40_000, Infinity);
    expect(sent - first).toBeGreaterThan(25);
    expect(sent - first).toBeLessThan(35);
    // Woken 500 ms late, it sends 50 ms worth at most (a bounded burst, not the whole queue).
    const beforeLong = sent;
    c.pump(t0 + 540_000, Infinity);
    expect(sent - beforeLong).toBeGreaterThan(30);
    expect(sent - beforeLong).toBeLessThan(42);
    // Drain the rest (before the packets age into the 1 s sender drop), stay idle for a second, then a new burst
    // starts with a 5 ms allowance again.
    for (let t = 580_000; t <= 900_000; t += 40_000) c.pump(t0 + t, Infinity);
    expect(sent).toBe(300);
    for (let i = 0; i < 100; i++) c.send(new Uint8Array(1316));
    const before = sent;
    c.pump(t0 + 2_000_000, Infinity);
    expect(sent - before).toBeLessThan(6);
  });
});

describe("key refresh", () => {
  test("a KMREQ in a user control packet installs the new key and is echoed as KMRSP", () => {
    const out: Uint8Array[] = [];
    const old = createKm("refresh-passphrase", 16);
    const c = new SrtConnection({
      socketId: 1, peerSocketId: 2, remoteAddress: "x", remotePort: 0, streamId: "", sndIsn: 10, rcvIsn: 10, rcvLatencyMs: 0,
      sndLatencyMs: 0, tsbpd: false, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 64, sndBufPackets: 64,
      peerIdleTimeoutMs: 5000, maxBw: 0, rcvEven: old.cipher, rcvOdd: null, sndCipher: old.cipher, tsbpdBaseUs: now(),
      startUs: now(), passphrase: "refresh-passphrase", peerRexmitFlag: true,
      transport: { send: (b, n) => void out.push(b.slice(0, n)) }, log: silentLog(),
    });
    const got: Uint8Array[] = [];
    c.onData((p) => got.push(p.slice()));
    const fresh = createKm("refresh-passphrase", 16);
    const kmBytes = encodeKm({ ...fresh.km, kk: 2 }); // announce it as the odd key
    const req = new Uint8Array(16 + kmBytes.length);
    writeControlHeader(req, 0x7fff, 3, 0, 0, 1);
    req.set(kmBytes, 16);
    c.handlePacket(req, req.length, now());
    const rsp = out.find((p) => p[0] === 0xff && p[1] === 0xff && p[3] === 4)!;
    expect(rsp).toBeDefined();
    expect(Buffer.from(rsp.subarray(16)).equals(Buffer.from(kmBytes))).toBe(true);
    // A data packet encrypted with the new (odd) key decrypts.
    const payload = new Uint8Array(188).fill(0x47);
    const pkt = new Uint8Array(16 + 188);
    writeDataHeader(pkt, 10, 3, false, 2, false, 1, 0, 1);
    pkt.set(payload, 16);
    fresh.cipher.apply(10, pkt, 16, 188);
    c.handlePacket(pkt, pkt.length, now());
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]!).equals(Buffer.from(payload))).toBe(true);
  });
});
