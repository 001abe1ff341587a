/**
 * Two SrtConnections over an in-memory lossy, delayed link: ARQ (NAK + retransmission), TSBPD delivery
 * timing, too-late drop, ACK/ACKACK RTT, drop requests and shutdown.
 */
import { describe, expect, test } from "bun:test";
import { SrtConnection, type SrtTransport } from "../../../lib/protocols/srt/connection.ts";
import { createKm, encodeKm } from "../../../lib/protocols/srt/crypto.ts";
import { writeControlHeader, writeDataHeader } from "../../../lib/protocols/srt/packet.ts";
import { silentLog } from "../../../lib/log/logger.ts";

const now = () => performance.now() * 1000;

interface Link {
  a: SrtConnection;
  b: SrtConnection;
  stop(): void;
  counts: { aToB: number; dropped: number };
}

/** a → b with `loss` probability and `delayMs` one-way delay (both ways). */
function link(opts: { loss: number; delayMs: number; latencyMs: number; tlpktdrop?: boolean; encrypt?: boolean; lossBack?: number; lingerMs?: number }): Link {
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
      setTimeout(() => to().handlePacket(copy, copy.length, now()), opts.delayMs);
    },
  });
  const km = opts.encrypt ? createKm("link-passphrase", 16).cipher : null;
  const t0 = now();
  const common = {
    remoteAddress: "mem", remotePort: 0, streamId: "s", sndIsn: 0x7ffffff0, rcvIsn: 0x7ffffff0, rcvLatencyMs: opts.latencyMs,
    sndLatencyMs: opts.latencyMs, tsbpd: true, tlpktdrop: opts.tlpktdrop ?? true, payloadSize: 1316, rcvBufPackets: 8192,
    sndBufPackets: 8192, peerIdleTimeoutMs: 5000, maxBw: 0, rcvEven: km, rcvOdd: null, sndCipher: km,
    tsbpdBaseUs: t0 + opts.delayMs * 1000, startUs: t0, peerRexmitFlag: true, log: silentLog(), lingerMs: opts.lingerMs,
  };
  a = new SrtConnection({ ...common, socketId: 1, peerSocketId: 2, transport: mk(() => b, opts.loss, true) });
  b = new SrtConnection({ ...common, socketId: 2, peerSocketId: 1, transport: mk(() => a, opts.lossBack ?? opts.loss, false) });
  const timer = setInterval(() => {
    const t = now();
    a.tick(t);
    b.tick(t);
  }, 10);
  return { a, b, counts, stop: () => clearInterval(timer) };
}

function packet(i: number): Uint8Array {
  const p = new Uint8Array(1316);
  new DataView(p.buffer).setUint32(0, i);
  p[1315] = i & 0xff;
  return p;
}

async function pump(l: Link, n: number, perMs: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    l.a.send(packet(i));
    if (i % perMs === perMs - 1) await Bun.sleep(1);
  }
}

describe("SrtConnection over a lossy link", () => {
  test("10% loss each way, 20 ms delay, 200 ms latency: every packet delivered in order (sequence wraps, lost tail resent)", async () => {
    const l = link({ loss: 0.1, delayMs: 20, latencyMs: 200 });
    const got: number[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    await pump(l, 1500, 2);
    const end = Date.now() + 5000;
    while (got.length < 1500 && Date.now() < end) await Bun.sleep(20);
    l.stop();
    expect(got.length, JSON.stringify({ a: l.a.stats(), b: l.b.stats(), counts: l.counts })).toBe(1500);
    for (let i = 0; i < got.length; i++) if (got[i] !== i) throw new Error(`out of order at ${i}: ${got[i]}`);
    const sa = l.a.stats();
    const sb = l.b.stats();
    expect(l.counts.dropped).toBeGreaterThan(100);
    expect(sa.pktRetrans).toBeGreaterThan(100);
    expect(sb.pktLoss).toBeGreaterThan(100);
    expect(sb.pktRcvDrop).toBe(0);
    expect(sb.rttMs).toBeGreaterThan(30);
    expect(sb.rttMs).toBeLessThan(150);
    l.a.close();
    l.b.close();
  });

  test("encrypted link: payloads decrypted intact", async () => {
    const l = link({ loss: 0.05, delayMs: 5, latencyMs: 120, encrypt: true });
    const got: Uint8Array[] = [];
    l.b.onData((p) => got.push(p.slice()));
    await pump(l, 300, 3);
    const end = Date.now() + 3000;
    while (got.length < 300 && Date.now() < end) await Bun.sleep(20);
    l.stop();
    expect(got.length).toBe(300);
    for (let i = 0; i < 300; i++) expect(Buffer.from(got[i]!).equals(Buffer.from(packet(i)))).toBe(true);
  });

  test("TSBPD: delivery happens ~latency after sending, not before", async () => {
    const l = link({ loss: 0, delayMs: 1, latencyMs: 150 });
    const sentAt = now();
    let deliveredAt = 0;
    l.b.onData(() => {
      if (!deliveredAt) deliveredAt = now();
    });
    l.a.send(packet(0));
    await Bun.sleep(400);
    l.stop();
    const ms = (deliveredAt - sentAt) / 1000;
    expect(ms).toBeGreaterThanOrEqual(145);
    expect(ms).toBeLessThan(200);
  });

  test("too-late drop: with the sender's retransmissions lost, the receiver skips holes and keeps going", async () => {
    // 30% loss forward, no way to recover everything within 40 ms of latency and 30 ms delay.
    const l = link({ loss: 0.3, delayMs: 30, latencyMs: 40 });
    const got: number[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    await pump(l, 600, 2);
    await Bun.sleep(500);
    l.stop();
    expect(got.length).toBeGreaterThan(300);
    expect(got.length).toBeLessThan(600);
    for (let i = 1; i < got.length; i++) if (got[i]! <= got[i - 1]!) throw new Error("not increasing");
    expect(l.b.stats().pktRcvDrop).toBeGreaterThan(0);
  });

  test("shutdown closes the peer; idle timeout closes a silent connection", async () => {
    const l = link({ loss: 0, delayMs: 1, latencyMs: 50 });
    const reasons: string[] = [];
    l.b.onClose((r) => reasons.push(r));
    l.a.close();
    await Bun.sleep(30);
    expect(reasons).toEqual(["peer shutdown"]);
    l.stop();
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

  test("pacing: a 300-packet burst is spread out, not sent in one go", async () => {
    const times: number[] = [];
    const c = new SrtConnection({
      socketId: 1, peerSocketId: 2, remoteAddress: "x", remotePort: 0, streamId: "", sndIsn: 0, rcvIsn: 0, rcvLatencyMs: 120,
      sndLatencyMs: 120, tsbpd: true, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 64, sndBufPackets: 1024,
      peerIdleTimeoutMs: 5000, maxBw: 1_000_000, rcvEven: null, rcvOdd: null, sndCipher: null, tsbpdBaseUs: now(),
      startUs: now(), peerRexmitFlag: true, transport: { send: (_b, n) => void (n > 100 && times.push(performance.now())) },
      log: silentLog(),
    });
    for (let i = 0; i < 300; i++) c.send(new Uint8Array(1316));
    const immediate = times.length;
    await Bun.sleep(500);
    c.close();
    // 1 MB/s: ~400 ms for 300 × 1332 bytes; a handful may leave at once (bucket), not all.
    expect(immediate).toBeLessThan(10);
    expect(times.length).toBeGreaterThan(250);
    expect(times[times.length - 1]! - times[0]!).toBeGreaterThan(300);
  });
});

describe("closing with data in flight", () => {
  test("close() lingers: a burst still queued behind pacing, with 10% loss, all reaches the peer before SHUTDOWN", async () => {
    // 300 ms of latency leaves retransmissions time even when a loaded machine runs the ticks late.
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
    const end = Date.now() + 6000;
    while (closed.length < 1 && Date.now() < end) await Bun.sleep(20);
    // a closed once all was acknowledged and due at b; b has delivered it (at its TSBPD time, or at the SHUTDOWN,
    // which may itself be lost on this link: then b idles out later, with its data already delivered).
    await Bun.sleep(100);
    l.stop();
    expect(queued).toBeGreaterThan(700); // the burst had not left when close() was called
    expect(closed[0]).toBe("a: done");
    expect(got.length, JSON.stringify({ a: l.a.stats(), b: l.b.stats() })).toBe(800);
    for (let i = 0; i < got.length; i++) if (got[i] !== i) throw new Error(`out of order at ${i}: ${got[i]}`);
  });

  test("without linger the queued tail is lost (what close(reason, 0) and server shutdown do)", async () => {
    const l = link({ loss: 0, delayMs: 1, latencyMs: 50, lingerMs: 5000 });
    const got: number[] = [];
    l.b.onData((p) => got.push(new DataView(p.buffer, p.byteOffset).getUint32(0)));
    for (let i = 0; i < 800; i++) l.a.send(packet(i));
    l.a.close("now", 0);
    expect(l.a.closed).toBe(true);
    await Bun.sleep(200);
    l.stop();
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
