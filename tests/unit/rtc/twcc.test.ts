import { describe, expect, test } from "bun:test";
import { RtcpPacketConverter, type TransportWideCC } from "werift";
import { TwccRecorder } from "../../../lib/protocols/rtc/twcc.ts";

/** An independent reading of a feedback packet (draft-holmer-rmcat-transport-wide-cc-extensions-01 3.1). */
function decode(b: Uint8Array): { base: number; count: number; ref: number; fb: number; received: Map<number, number> } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(b[0]! >> 6).toBe(2);
  expect(b[0]! & 0x1f).toBe(15);
  expect(b[1]).toBe(205);
  expect((v.getUint16(2) + 1) * 4).toBe(b.byteLength);
  const base = v.getUint16(12);
  const count = v.getUint16(14);
  const ref = (b[16]! << 16) | (b[17]! << 8) | b[18]!;
  const symbols: number[] = [];
  let o = 20;
  while (symbols.length < count) {
    const c = v.getUint16(o);
    o += 2;
    if (!(c & 0x8000)) for (let i = 0; i < (c & 0x1fff); i++) symbols.push((c >> 13) & 3);
    else if (c & 0x4000) for (let i = 0; i < 7; i++) symbols.push((c >> (2 * (6 - i))) & 3);
    else for (let i = 0; i < 14; i++) symbols.push((c >> (13 - i)) & 1);
  }
  const received = new Map<number, number>();
  let at = ref * 64_000;
  for (let i = 0; i < count; i++) {
    if (symbols[i] === 1) at += b[o++]! * 250;
    else if (symbols[i] === 2) {
      at += v.getInt16(o) * 250;
      o += 2;
    } else continue;
    received.set((base + i) & 0xffff, at);
  }
  return { base, count, ref, fb: b[19]!, received };
}

describe("TWCC feedback (transport-wide congestion control)", () => {
  test("every arrival is reported with its time (250 us resolution), losses as not received", () => {
    const r = new TwccRecorder(1, 0x1234);
    const sent = new Map<number, number>();
    let t = 5_000_000;
    for (let seq = 100; seq < 160; seq++) {
      t += 1000 + (seq % 5) * 3000; // 1..13 ms apart
      if (seq % 10 === 3) continue; // lost
      r.record(seq, t);
      sent.set(seq, t);
    }
    const fb = r.feedback()!;
    const d = decode(fb);
    expect(d.base).toBe(100);
    expect(d.count).toBe(60); // 100..159
    expect(d.received.size).toBe(sent.size);
    for (const [seq, at] of sent) expect(Math.abs(d.received.get(seq)! - at)).toBeLessThan(250);
    // werift's RTCP parser reads the same header fields
    const parsed = RtcpPacketConverter.deSerialize(Buffer.from(fb))[0] as unknown as { feedback: TransportWideCC };
    expect(parsed.feedback.baseSequenceNumber).toBe(100);
    expect(parsed.feedback.packetStatusCount).toBe(60);
    expect(parsed.feedback.mediaSourceSsrc).toBe(0x1234);
    expect(r.feedback()).toBeUndefined();
  });

  test("consecutive reports continue the sequence; the count byte increments; a gap between reports is lost", () => {
    const r = new TwccRecorder(1, 2);
    for (let s = 0; s < 10; s++) r.record(s, 1_000_000 + s * 1000);
    const a = decode(r.feedback()!);
    for (let s = 13; s < 20; s++) r.record(s, 1_100_000 + s * 1000);
    const b = decode(r.feedback()!);
    expect(a.fb).toBe(0);
    expect(b.fb).toBe(1);
    expect(b.base).toBe(10);
    expect(b.count).toBe(10);
    expect([...b.received.keys()]).toEqual([13, 14, 15, 16, 17, 18, 19]);
  });

  test("sequence numbers wrap at 65536; reordered and large/negative deltas use two bytes", () => {
    const r = new TwccRecorder(1, 2);
    r.record(65534, 2_000_000);
    r.record(65535, 2_100_000); // +100 ms: large delta
    r.record(1, 2_100_500);
    r.record(0, 2_100_250); // reordered: arrives after 1; reported in sequence order, so 1's delta from 0 is +250 us
    const d = decode(r.feedback()!);
    expect(d.base).toBe(65534);
    expect(d.count).toBe(4);
    expect(d.received.get(65535)! - d.received.get(65534)!).toBe(100_000);
    expect(d.received.get(0)! - d.received.get(65535)!).toBe(250);
  });

  test("a packet arriving after its report is dropped; memory stays bounded under a flood", () => {
    const r = new TwccRecorder(1, 2);
    r.record(10, 1_000_000);
    r.record(12, 1_001_000);
    r.feedback();
    r.record(11, 1_002_000); // reported as lost already
    expect(r.feedback()).toBeUndefined();
    for (let s = 0; s < 100_000; s++) r.record((13 + s) & 0xffff, 2_000_000 + s);
    let reports = 0;
    while (r.feedback()) reports++;
    expect(reports).toBeGreaterThan(0);
    expect(reports).toBeLessThan(10);
  });

  test("fuzz: random arrivals always give well-formed packets", () => {
    const r = new TwccRecorder(7, 8);
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(Math.random() * 50);
      for (let i = 0; i < n; i++) r.record(Math.floor(Math.random() * 65536), Math.floor(Math.random() * 1e10));
      const fb = r.feedback();
      if (fb) decode(fb);
    }
  });
});
