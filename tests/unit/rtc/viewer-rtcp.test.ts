/**
 * What a viewer session reads and answers itself once werift is let go (session.ts detach): STUN Binding success
 * responses (stun.ts bindingSuccess, checked with werift's STUN parser and CRC-32's check value), the viewer's
 * RTCP (rtcp.ts readRtcp: report blocks, NACK, PLI, FIR, BYE; packets made by werift's serializers) and SRTCP
 * replay protection; readRtcp fuzzed with random and mutated packets (never throws, bounded output).
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  GenericNack,
  parseMessage,
  PictureLossIndication,
  RtcpPayloadSpecificFeedback,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSenderInfo,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
} from "werift";
import { readRtcp, ReplayWindow, SrtcpReplay } from "../../../lib/protocols/rtc/rtcp.ts";
import { bindingSuccess, crc32, ipBytes, parseStun, STUN_BINDING_SUCCESS } from "../../../lib/protocols/rtc/stun.ts";
import { prng } from "../../helpers/prng.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("stun binding success (RFC 8489 7.3.1)", () => {
  test("CRC-32 check value (FINGERPRINT's CRC, RFC 8489 14.7)", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  test("werift's STUN parser takes it: integrity with our password, fingerprint, XOR-MAPPED-ADDRESS (IPv4, IPv6)", () => {
    const tid = randomBytes(12);
    for (const [ip, port] of [["192.0.2.1", 32853], ["10.1.2.3", 1], ["2001:db8:1234:5678:11:2233:4455:6677", 32853], ["::1", 9000]] as const) {
      const res = Buffer.from(bindingSuccess(tid, ip, port, "VOkJxbRl1RmTxUk/WvJxBt"));
      expect(res.readUInt16BE(0)).toBe(STUN_BINDING_SUCCESS);
      expect(Buffer.compare(res.subarray(8, 20), tid)).toBe(0);
      const m = parseMessage(res, Buffer.from("VOkJxbRl1RmTxUk/WvJxBt"));
      expect(m).toBeDefined();
      const mapped = m!.getAttributeValue("XOR-MAPPED-ADDRESS") as [string, number];
      expect(mapped[1]).toBe(port);
      expect(Buffer.compare(ipBytes(mapped[0])!, ipBytes(ip)!)).toBe(0);
      expect(parseMessage(res, Buffer.from("wrong password"))).toBeUndefined();
      expect(parseStun(res)?.attributes.map((a) => a.type)).toEqual([0x0020, 0x0008, 0x8028]);
    }
  });

  test("RFC 5769 2.2's XOR-MAPPED-ADDRESS value for 192.0.2.1:32853", () => {
    const res = bindingSuccess(hex("b7e7a701bc34d686fa87dfae"), "192.0.2.1", 32853, "x");
    expect(Buffer.from(res.subarray(20, 32)).toString("hex")).toBe("002000080001a147e112a643");
  });

  test("ipBytes: IPv4, IPv6 with ::, IPv4-mapped, garbage", () => {
    expect(Buffer.from(ipBytes("1.2.3.4")!).toString("hex")).toBe("01020304");
    expect(Buffer.from(ipBytes("::ffff:1.2.3.4")!).toString("hex")).toBe("00000000000000000000ffff01020304");
    expect(Buffer.from(ipBytes("fe80::1%eth0")!).toString("hex")).toBe("fe800000000000000000000000000001");
    for (const bad of ["", "1.2.3", "256.1.1.1", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9"]) expect(ipBytes(bad)).toBeUndefined();
  });
});

describe("readRtcp", () => {
  test("RR, SR report blocks, generic NACK (PID + BLP), PLI, FIR and BYE in one compound", () => {
    const rr = new RtcpRrPacket({
      ssrc: 1,
      reports: [new RtcpReceiverInfo({ ssrc: 0x11111111, fractionLost: 25, packetsLost: 3, highestSequence: 1000, jitter: 5, lsr: 0x12345678, dlsr: 0x00010000 })],
    }).serialize();
    const sr = new RtcpSrPacket({
      ssrc: 2,
      senderInfo: new RtcpSenderInfo({ ntpTimestamp: 1n, rtpTimestamp: 2, packetCount: 3, octetCount: 4 }),
      reports: [new RtcpReceiverInfo({ ssrc: 0x22222222, fractionLost: 0, packetsLost: 0, highestSequence: 1, jitter: 0, lsr: 7, dlsr: 8 })],
    }).serialize();
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 0x11111111, lost: [65535, 0, 3, 100] }) }).serialize();
    const pli = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: 0x11111111 }) }).serialize();
    // FIR (RFC 5104 4.3.1): FMT 4, media SSRC 0, one FCI: SSRC + seq nr + reserved
    const fir = hex("84ce0004 00000001 00000000 11111111 05000000");
    const bye = hex("81cb0001 00000001");
    const items = readRtcp(Buffer.concat([rr, sr, nack, pli, fir, bye]));
    expect(items[0]).toEqual({ type: "report", ssrc: 0x11111111, fractionLost: 25, lost: 3, lsr: 0x12345678, dlsr: 0x00010000 });
    expect(items[1]).toMatchObject({ type: "report", ssrc: 0x22222222, lsr: 7, dlsr: 8 });
    const n = items.find((i) => i.type === "nack");
    expect(n).toBeDefined();
    expect(n!.type === "nack" && n!.ssrc).toBe(0x11111111);
    expect(n!.type === "nack" && [...n!.seqs].sort((a, b) => a - b)).toEqual([0, 3, 100, 65535]);
    expect(items.filter((i) => i.type === "keyframe")).toEqual([
      { type: "keyframe", ssrc: 0x11111111, fir: false },
      { type: "keyframe", ssrc: 0x11111111, fir: true },
    ]);
    expect(items[items.length - 1]).toEqual({ type: "bye" });
  });

  test("a negative cumulative loss (duplicates) reads as negative; a bad header ends the compound", () => {
    const rr = new RtcpRrPacket({ ssrc: 1, reports: [new RtcpReceiverInfo({ ssrc: 5, fractionLost: 0, packetsLost: 0, highestSequence: 0, jitter: 0, lsr: 0, dlsr: 0 })] }).serialize();
    rr.writeUIntBE(0xfffffe, 8 + 5, 3); // packets lost = -2
    expect(readRtcp(rr)[0]).toMatchObject({ type: "report", lost: -2 });
    const broken = Buffer.concat([rr, hex("40c90001 00000001"), hex("81cb0001 00000001")]);
    expect(readRtcp(broken)).toHaveLength(1); // version 1: stop there, the BYE after it is not read
    const tooLong = Buffer.from(rr);
    tooLong.writeUInt16BE(200, 2);
    expect(readRtcp(tooLong)).toEqual([]);
  });

  test("fuzz: random and mutated compounds never throw, NACK lists stay bounded", () => {
    const rnd = prng(2024);
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 2, lost: Array.from({ length: 200 }, (_, i) => i * 3) }) }).serialize();
    const seed = Buffer.concat([
      new RtcpRrPacket({ ssrc: 1, reports: [new RtcpReceiverInfo({ ssrc: 5, fractionLost: 0, packetsLost: 0, highestSequence: 0, jitter: 0, lsr: 0, dlsr: 0 })] }).serialize(),
      nack,
      hex("81ce0002 00000001 00000002"),
      hex("81cb0001 00000001"),
    ]);
    for (let i = 0; i < 20000; i++) {
      let d: Uint8Array;
      if (i % 3 === 0) d = new Uint8Array(Math.floor(rnd() * 300)).map(() => Math.floor(rnd() * 256));
      else {
        d = Uint8Array.from(seed);
        for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) d[Math.floor(rnd() * d.length)] = Math.floor(rnd() * 256);
        if (i % 3 === 2) d = d.subarray(0, Math.floor(rnd() * d.length));
        if (i % 7 === 0) d[0] = 0x80 | (d[0]! & 0x3f);
      }
      const items = readRtcp(d);
      let seqs = 0;
      for (const it of items) if (it.type === "nack") seqs += it.seqs.length;
      expect(seqs).toBeLessThanOrEqual(1024 + 17);
      expect(items.length).toBeLessThanOrEqual(d.byteLength);
    }
    // a 64 KB compound of NACKs asking for everything: at most 1024 (+ one FCI) sequence numbers
    const flood = Buffer.alloc(4 + 8 + 4 * 16000);
    flood.writeUInt8(0x81, 0);
    flood.writeUInt8(205, 1);
    flood.writeUInt16BE(flood.length / 4 - 1, 2);
    for (let o = 12; o < flood.length; o += 4) flood.writeUInt32BE(0x0000ffff, o);
    const f = readRtcp(flood);
    expect(f).toHaveLength(1);
    expect(f[0]!.type === "nack" && f[0]!.seqs.length).toBeLessThanOrEqual(1024 + 17);
  });
});

test("SRTCP replay window (RFC 3711 3.3.2): new indexes once, old ones inside 64 once, older never", () => {
  const w = new ReplayWindow();
  expect(w.accept(0)).toBe(true);
  expect(w.accept(0)).toBe(false);
  expect(w.accept(5)).toBe(true);
  expect(w.accept(3)).toBe(true);
  expect(w.accept(3)).toBe(false);
  expect(w.accept(1000)).toBe(true);
  expect(w.accept(5)).toBe(false); // far behind
  expect(w.accept(937)).toBe(true); // inside the window, not seen
  expect(w.accept(937)).toBe(false);
  expect(w.accept(936)).toBe(false); // 1000 - 936 = 64: outside
  expect(w.accept(1001)).toBe(true);
  expect(w.accept(999)).toBe(true);
});

describe("SRTCP replay windows per sending SSRC (RFC 3711 3.2.3)", () => {
  test("indexes of different SSRCs do not collide; a replay within one SSRC is refused; the table is bounded", () => {
    const r = new SrtcpReplay();
    expect(r.accept(0x1111, 5)).toBe(true);
    expect(r.accept(0x2222, 1)).toBe(true); // another SSRC's own count, far behind the first one's
    expect(r.accept(0x2222, 2)).toBe(true);
    expect(r.accept(0x1111, 5)).toBe(false);
    expect(r.accept(0x2222, 1)).toBe(false);
    for (let s = 0; s < 1000; s++) expect(r.accept(0x10000 + s, 1)).toBe(true);
  });
});
