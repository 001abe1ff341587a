/**
 * Fuzzing the SRT decoders and the live packet path: random and mutated datagrams must only ever raise
 * SrtPacketError (decoders) or be absorbed silently (connection, server), and never hang.
 */
import { describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { createKm, encodeKm, parseKm } from "../../../lib/protocols/srt/crypto.ts";
import { SrtConnection, type SrtTransport } from "../../../lib/protocols/srt/connection.ts";
import {
  decodeHandshake, decodeHsReq, decodeSid, encodeHandshake, encodeHsReq, encodeSid, EXT_HSREQ, EXT_KMREQ, EXT_SID,
  HS_CONCLUSION,
} from "../../../lib/protocols/srt/handshake.ts";
import {
  decodePacket, encodeDropReq, encodeFullAck, HEADER_SIZE, putLoss, SrtPacketError, writeControlHeader, writeDataHeader,
} from "../../../lib/protocols/srt/packet.ts";
import { SrtServer } from "../../../lib/protocols/srt/server.ts";
import { silentLog } from "../../../lib/log/logger.ts";

// Deterministic PRNG (xorshift32) so failures reproduce.
let seed = 0x9e3779b9;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return ((seed >>> 0) % n);
}
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rnd(256);
  return b;
}

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const d = new Uint8Array(HEADER_SIZE + 188);
  writeDataHeader(d, 100, 3, false, 0, false, 1, 1000, 5);
  out.push(d);
  const a = new Uint8Array(64);
  out.push(a.slice(0, encodeFullAck(a, 1, 2, 5, 101, 1000, 500, 100, 10, 10, 1000)));
  const n = new Uint8Array(64);
  writeControlHeader(n, 3, 0, 0, 0, 5);
  out.push(n.slice(0, putLoss(n, putLoss(n, HEADER_SIZE, 1, 1), 5, 9)));
  const dr = new Uint8Array(32);
  out.push(dr.slice(0, encodeDropReq(dr, 0, 0, 5, 1, 2)));
  const km = encodeKm(createKm("fuzzing-passphrase", 16).km);
  const cif = encodeHandshake({
    version: 5, encryption: 2, extension: 7, isn: 1, mtu: 1500, flowWindow: 8192, type: HS_CONCLUSION, socketId: 3, cookie: 4,
    peerIp: new Uint8Array(16), extensions: [
      { type: EXT_HSREQ, data: encodeHsReq({ version: 0x10501, flags: 0xbf, recvDelayMs: 120, sendDelayMs: 120 }) },
      { type: EXT_KMREQ, data: km },
      { type: EXT_SID, data: encodeSid("#!::r=live/s,m=publish") },
    ],
  });
  const hs = new Uint8Array(HEADER_SIZE + cif.length);
  writeControlHeader(hs, 0, 0, 0, 0, 0);
  hs.set(cif, HEADER_SIZE);
  out.push(hs);
  return out;
}

function mutate(b: Uint8Array): Uint8Array {
  const m = rnd(4);
  if (m === 0) return b.subarray(0, rnd(b.length + 1));
  const c = b.slice();
  const flips = 1 + rnd(8);
  for (let i = 0; i < flips; i++) c[rnd(c.length)] = rnd(256);
  if (m === 3) return c.subarray(0, Math.max(HEADER_SIZE, rnd(c.length + 1)));
  return c;
}

function decodeAll(b: Uint8Array): void {
  const p = decodePacket(b);
  if (p.kind === "handshake") {
    const hs = decodeHandshake(p.cif);
    for (const e of hs.extensions) {
      if (e.type === EXT_HSREQ) decodeHsReq(e.data);
      if (e.type === EXT_SID) decodeSid(e.data);
      if (e.type === EXT_KMREQ) parseKm(e.data);
    }
  }
}

describe("fuzz", () => {
  test("decoders throw only SrtPacketError on 60 000 random and mutated datagrams", () => {
    const base = seeds();
    const t0 = performance.now();
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < 60000; i++) {
      const b = i % 3 === 0 ? randomBytes(rnd(1600)) : mutate(base[rnd(base.length)]!);
      try {
        decodeAll(b);
        ok++;
      } catch (e) {
        if (!(e instanceof SrtPacketError)) throw new Error(`non-SrtPacketError on ${Buffer.from(b).toString("hex")}: ${e}`);
        rejected++;
      }
    }
    expect(ok).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
    expect(performance.now() - t0).toBeLessThan(20000);
  });

  test("a live connection absorbs 30 000 garbage datagrams without throwing or stalling", () => {
    const sent: number[] = [];
    const transport: SrtTransport = { send: (_b, len) => void sent.push(len) };
    const conn = new SrtConnection({
      socketId: 5, peerSocketId: 6, remoteAddress: "127.0.0.1", remotePort: 1, streamId: "", sndIsn: 100, rcvIsn: 100,
      rcvLatencyMs: 120, sndLatencyMs: 120, tsbpd: true, tlpktdrop: true, payloadSize: 1316, rcvBufPackets: 1024,
      sndBufPackets: 1024, peerIdleTimeoutMs: 1e9, maxBw: 0, rcvEven: null, rcvOdd: null, sndCipher: null,
      tsbpdBaseUs: performance.now() * 1000, startUs: performance.now() * 1000, peerRexmitFlag: true, transport, log: silentLog(),
    });
    let closedBy = "";
    conn.onClose((why) => (closedBy = why));
    const base = seeds();
    for (let i = 0; i < 100; i++) conn.send(new Uint8Array(1316));
    let fed = 0;
    for (let i = 0; i < 30000; i++) {
      const b = i % 2 === 0 ? randomBytes(HEADER_SIZE + rnd(1500)) : mutate(base[rnd(base.length)]!);
      if (b.length >= HEADER_SIZE) b[12] = 0; // keep our dest id irrelevant: the connection does not check it
      // a well-formed SHUTDOWN (control type 5) rightly ends the connection; everything else must be absorbed
      if (b.length >= 2 && (b[0]! & 0x80) !== 0 && (((b[0]! & 0x7f) << 8) | b[1]!) === 5) continue;
      conn.handlePacket(b, b.length, performance.now() * 1000 + i * 100);
      fed++;
      if (i % 100 === 0) conn.tick(performance.now() * 1000 + i * 100);
    }
    expect(closedBy).toBe("");
    expect(fed).toBeGreaterThan(29000);
    expect(conn.stats().rcvBufPackets).toBeLessThanOrEqual(1024);
    // still a working sender: new payloads go out
    const before = sent.length;
    expect(conn.send(new Uint8Array(1316))).toBe(true);
    conn.tick(performance.now() * 1000 + 30000 * 100);
    expect(sent.slice(before)).toContain(HEADER_SIZE + 1316);
  });

  test("the server ignores garbage on its socket and still accepts a caller afterwards", async () => {
    const srv = new SrtServer({ port: 0, host: "127.0.0.1", log: silentLog() });
    const { port } = await srv.listen();
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const base = seeds();
    for (let i = 0; i < 3000; i++) {
      const b = i % 2 ? randomBytes(rnd(1500)) : mutate(base[rnd(base.length)]!);
      sock.send(b, port, "127.0.0.1");
      if (i % 200 === 0) await Bun.sleep(1);
    }
    await Bun.sleep(100);
    const { srtConnect } = await import("../../../lib/protocols/srt/caller.ts");
    const c = await srtConnect({ host: "127.0.0.1", port, streamId: "after-fuzz" });
    expect(c.streamId).toBe("after-fuzz");
    c.close();
    sock.close();
    expect(srv.stats().badPackets + srv.stats().unknownDest).toBeGreaterThan(0);
    await srv.close();
  });
});
