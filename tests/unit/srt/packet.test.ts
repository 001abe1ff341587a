import { describe, expect, test } from "bun:test";
import {
  CTRL_SHUTDOWN, decodePacket, encodeDropReq, encodeFullAck, encodeLightAck, HEADER_SIZE, KK_ODD, newHeader, PP_SOLO,
  putLoss, readHeader, setRetransmitFlag, SrtPacketError, writeControlHeader, writeDataHeader,
} from "../../../lib/protocols/srt/packet.ts";
import { msgNext, seqAdd, seqCmp, seqOff, SEQ_MAX } from "../../../lib/protocols/srt/seq.ts";

describe("sequence numbers", () => {
  test("31-bit wrap", () => {
    expect(seqAdd(SEQ_MAX, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(SEQ_MAX);
    expect(seqOff(SEQ_MAX - 2, 3)).toBe(6);
    expect(seqOff(3, SEQ_MAX - 2)).toBe(-6);
    expect(seqCmp(SEQ_MAX, 0)).toBeLessThan(0);
    expect(seqCmp(5, 5)).toBe(0);
    expect(msgNext(0x03ffffff)).toBe(1);
  });
});

describe("data packets", () => {
  test("header fields round trip", () => {
    const b = new Uint8Array(HEADER_SIZE + 4);
    writeDataHeader(b, 0x7ffffffe, PP_SOLO, true, KK_ODD, false, 0x3fffff0, 0xfedcba98, 0x12345678);
    b.set([1, 2, 3, 4], HEADER_SIZE);
    const p = decodePacket(b);
    expect(p).toMatchObject({
      kind: "data", seq: 0x7ffffffe, position: 3, inOrder: true, kk: 2, retransmitted: false, msgNo: 0x3fffff0,
      timestamp: 0xfedcba98, destId: 0x12345678,
    });
    if (p.kind === "data") expect([...p.payload]).toEqual([1, 2, 3, 4]);
    setRetransmitFlag(b, true);
    const h = newHeader();
    readHeader(b, b.length, h);
    expect(h.retransmitted).toBe(true);
    expect(h.msgNo).toBe(0x3fffff0);
    expect(h.kk).toBe(2);
  });

  test("short packets are SrtPacketError", () => {
    expect(() => decodePacket(new Uint8Array(15))).toThrow(SrtPacketError);
  });
});

describe("control packets", () => {
  test("full and light ACK", () => {
    const b = new Uint8Array(64);
    const n = encodeFullAck(b, 7, 100, 9, 12345, 2000, 500, 8000, 190, 1000, 250000);
    const p = decodePacket(b.subarray(0, n));
    expect(p).toMatchObject({ kind: "ack", ack: { kind: "full", ackNo: 7, ackSeq: 12345, rttUs: 2000, rttVarUs: 500, availBuf: 8000, pktRate: 190, byteRate: 250000 } });
    const m = encodeLightAck(b, 100, 9, 777);
    expect(decodePacket(b.subarray(0, m))).toMatchObject({ kind: "ack", ack: { kind: "light", ackNo: 0, ackSeq: 777 } });
  });

  test("NAK loss list: singles and ranges", () => {
    const b = new Uint8Array(64);
    writeControlHeader(b, 3, 0, 0, 0, 1);
    let o = putLoss(b, HEADER_SIZE, 10, 10);
    o = putLoss(b, o, 20, 25);
    o = putLoss(b, o, SEQ_MAX, SEQ_MAX);
    expect(decodePacket(b.subarray(0, o))).toMatchObject({ kind: "nak", losses: [[10, 10], [20, 25], [SEQ_MAX, SEQ_MAX]] });
    // a range start without its end
    expect(() => decodePacket(b.subarray(0, HEADER_SIZE + 8))).toThrow(SrtPacketError);
    const bad = new Uint8Array(HEADER_SIZE + 8);
    bad.set(b.subarray(0, HEADER_SIZE));
    putLoss(bad, HEADER_SIZE, 20, 25);
    expect(() => decodePacket(bad.subarray(0, HEADER_SIZE + 4))).toThrow(SrtPacketError);
    expect(() => decodePacket(b.subarray(0, HEADER_SIZE + 6))).toThrow(SrtPacketError);
  });

  test("shutdown, keepalive, ackack, dropreq, peer error, unknown type", () => {
    const b = new Uint8Array(32);
    writeControlHeader(b, CTRL_SHUTDOWN, 0, 0, 1, 2);
    expect(decodePacket(b.subarray(0, 16))).toMatchObject({ kind: "shutdown", timestamp: 1, destId: 2 });
    writeControlHeader(b, 6, 0, 42, 1, 2);
    expect(decodePacket(b.subarray(0, 16))).toMatchObject({ kind: "ackack", ackNo: 42 });
    const n = encodeDropReq(b, 5, 1, 2, 100, 110);
    expect(decodePacket(b.subarray(0, n))).toMatchObject({ kind: "dropreq", msgNo: 5, first: 100, last: 110 });
    expect(() => decodePacket(b.subarray(0, n - 1))).toThrow(SrtPacketError);
    writeControlHeader(b, 8, 0, 4000, 1, 2);
    expect(decodePacket(b.subarray(0, 16))).toMatchObject({ kind: "peererror", code: 4000 });
    writeControlHeader(b, 0x1234, 0, 0, 1, 2);
    expect(() => decodePacket(b.subarray(0, 16))).toThrow(SrtPacketError);
    writeControlHeader(b, 0, 0, 0, 1, 2);
    expect(() => decodePacket(b.subarray(0, 32))).toThrow(SrtPacketError); // handshake CIF < 48
  });
});
