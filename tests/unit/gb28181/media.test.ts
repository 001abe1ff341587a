/**
 * RTP header parsing (RFC 3550 5.1) and the GB28181 media receiver: a GB28181-shaped PS stream cut into RTP
 * packets, sent as RFC 4571 frames on a byte stream in random chunks (TCP) or as datagrams (UDP), gives the
 * packets the PS demuxer gives for the PS bytes directly; foreign SSRCs, losses, late packets and garbage are
 * counted and survived; fuzz never throws and memory stays bounded.
 */
import { describe, expect, test } from "bun:test";
import { demuxPs } from "../../../lib/formats/ps/demux.ts";
import { PsPacketizer } from "../../../lib/formats/ps/packets.ts";
import { buildRtpPacket, parseRtpPacket } from "../../../lib/formats/rtp-packet.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { frame } from "../../../lib/net/rfc4571.ts";
import { GbMediaReceiver } from "../../../lib/protocols/gb28181/media.ts";
import { gbPsFromClip } from "../../helpers/ps-mux.ts";
import { prng } from "../../helpers/prng.ts";

describe("RTP header", () => {
  test("fixed header, CSRCs, extension and padding", () => {
    const payload = Uint8Array.from([1, 2, 3, 4, 5]);
    const p = parseRtpPacket(buildRtpPacket({ payloadType: 96, sequence: 65535, timestamp: 0xfffffff0, ssrc: 200000001, marker: true, payload }));
    expect(p).toMatchObject({ marker: true, payloadType: 96, sequence: 65535, timestamp: 0xfffffff0, ssrc: 200000001, csrcs: [], padding: 0 });
    if (typeof p === "string") throw new Error(p);
    expect([...p.payload]).toEqual([1, 2, 3, 4, 5]);

    // V=2 P=1 X=1 CC=2, two CSRCs, a one-word extension, 3 bytes of padding
    const b = Uint8Array.from([
      0xb2, 0x60, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1, // header
      0, 0, 0, 0x11, 0, 0, 0, 0x22, // CSRCs
      0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, // extension (RFC 8285 one-byte form)
      9, 8, 7, 0, 0, 3, // payload 9 8 7 + padding 3
    ]);
    const q = parseRtpPacket(b);
    if (typeof q === "string") throw new Error(q);
    expect(q.csrcs).toEqual([0x11, 0x22]);
    expect(q.extension?.profile).toBe(0xbede);
    expect([...q.extension!.data]).toEqual([0x10, 0xaa, 0, 0]);
    expect(q.padding).toBe(3);
    expect([...q.payload]).toEqual([9, 8, 7]);
  });

  test("malformed packets are described, never thrown", () => {
    const cases: [number[], RegExp][] = [
      [[0x80, 0x60, 0, 1], /RTP packet of 4 bytes/],
      [[0x40, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], /RTP version 1/],
      [[0x8f, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], /CSRC count 15/],
      [[0x90, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9], /extension of 9 words/],
      [[0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0], /padding of 0 bytes/],
      [[0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 9], /padding of 9 bytes/],
    ];
    for (const [b, re] of cases) {
      const r = parseRtpPacket(Uint8Array.from(b));
      expect(typeof r).toBe("string");
      expect(r as string).toMatch(re);
    }
    const rnd = prng(3550);
    for (let i = 0; i < 20000; i++) {
      const b = new Uint8Array(Math.floor(rnd() * 40)).map(() => Math.floor(rnd() * 256));
      if (b.length > 0) b[0] = (b[0]! & 0x3f) | 0x80;
      const r = parseRtpPacket(b);
      if (typeof r !== "string") expect(r.payload.length + r.padding).toBeLessThanOrEqual(b.length);
    }
  });
});

const SSRC = 200000001;

/** The PS stream cut into RTP packets of at most 1400 payload bytes, marker on the last of each pack. */
function rtpPackets(ps: Uint8Array, ssrc = SSRC): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0, seq = 65000; o < ps.length; o += 1400, seq++) {
    out.push(buildRtpPacket({ payloadType: 96, sequence: seq, timestamp: Math.floor(o / 1000) * 3600, ssrc, payload: ps.subarray(o, o + 1400) }));
  }
  return out;
}

function packetsOf(ps: Uint8Array): MediaPacket[] {
  const out: MediaPacket[] = [];
  const p = new PsPacketizer((x) => out.push(x));
  for (const f of demuxPs(ps)) p.push(f);
  return out;
}

const shape = (ps: MediaPacket[]) => ps.map((p) => `${p.kind} ${p.codec} ${p.dts} ${p.pts} ${p.keyframe} ${p.config} ${Bun.hash(p.data)}`);

describe("GB28181 media receiver", () => {
  const { ps } = gbPsFromClip("clip-main.ts", 4);
  const want = shape(packetsOf(ps));

  test("RTP over TCP (RFC 4571) in random chunks: the same packets as the PS bytes; sequence wrap is fine", () => {
    const wire = Buffer.concat(rtpPackets(ps).map((p) => frame(p)));
    const rnd = prng(4571);
    const got: MediaPacket[] = [];
    const errors: string[] = [];
    const r = new GbMediaReceiver((p) => got.push(p), { ssrc: SSRC, onError: (m) => errors.push(m) });
    for (let o = 0; o < wire.length;) {
      const n = 1 + Math.floor(rnd() * 3000);
      r.pushTcp(wire.subarray(o, o + n));
      o += n;
    }
    r.close();
    expect(errors).toEqual([]);
    expect(shape(got)).toEqual(want);
    expect(want.filter((x) => x.startsWith("video")).length).toBeGreaterThan(60);
    expect(r.stats.lost).toBe(0);
  });

  test("UDP datagrams: foreign SSRC dropped, a lost packet counted and survived, a late one dropped", () => {
    const pkts = rtpPackets(ps);
    const got: MediaPacket[] = [];
    const errors: string[] = [];
    const r = new GbMediaReceiver((p) => got.push(p), { ssrc: SSRC, onError: (m) => errors.push(m) });
    const lostAt = Math.floor(pkts.length / 2);
    for (let i = 0; i < pkts.length; i++) {
      if (i === 10) r.pushRtp(rtpPackets(ps.subarray(0, 1400), 12345)[0]!); // a stray sender
      if (i === lostAt) continue;
      r.pushRtp(pkts[i]!);
      if (i === lostAt + 5) r.pushRtp(pkts[lostAt - 3]!); // late duplicate
    }
    r.pushRtp(Uint8Array.from([1, 2, 3]));
    r.close();
    expect(r.stats.foreignSsrc).toBe(1);
    expect(r.stats.lost).toBe(1);
    expect(r.stats.badRtp).toBe(1);
    expect(errors.some((e) => e.includes("1 packets lost"))).toBe(true);
    expect(errors.some((e) => e.includes("late RTP sequence"))).toBe(true);
    // everything but the frames around the lost bytes comes out
    const g = shape(got);
    expect(g.length).toBeGreaterThan(want.length - 8);
    expect(g.slice(0, 20)).toEqual(want.slice(0, 20));
    expect(g.slice(-20)).toEqual(want.slice(-20));
  });

  test("the first SSRC is taken when none is expected", () => {
    const r = new GbMediaReceiver(() => {});
    for (const p of rtpPackets(ps.subarray(0, 5000), 77)) r.pushRtp(p);
    expect(r.currentSsrc).toBe(77);
  });

  test("fuzz: mutated TCP streams never throw, memory stays bounded", () => {
    const wire = Buffer.concat(rtpPackets(ps.subarray(0, 400_000)).map((p) => frame(p)));
    const rnd = prng(28);
    for (let i = 0; i < 60; i++) {
      const b = Uint8Array.from(wire);
      for (let k = 1 + Math.floor(rnd() * 30); k > 0; k--) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const r = new GbMediaReceiver(() => {}, { maxFrameBytes: 256 * 1024, onError: () => {} });
      let max = 0;
      for (let o = 0; o < b.length;) {
        const n = 1 + Math.floor(rnd() * 5000);
        r.pushTcp(b.subarray(o, o + n));
        o += n;
        max = Math.max(max, r.bufferedBytes);
      }
      r.close();
      expect(max).toBeLessThan(65537 + 200 * 1024 + 2 * 256 * 1024);
    }
  });
});
