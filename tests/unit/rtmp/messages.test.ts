import { describe, expect, test } from "bun:test";
import { decodeAll, encode, isEcmaArray } from "../../../lib/formats/amf0.ts";
import type { Amf0Object } from "../../../lib/formats/amf0.ts";
import {
  connectError,
  connectResult,
  createStreamResult,
  dataName,
  decodeCommand,
  getStreamLengthResult,
  onBWDone,
  onFCPublish,
  onFCUnpublish,
  pauseNotify,
  playReset,
  playStart,
  playStreamNotFound,
  publishBadName,
  publishStart,
  rewriteSetDataFrame,
  sampleAccess,
  unpublishSuccess,
} from "../../../lib/protocols/rtmp/commands.ts";
import {
  AckWindow,
  MSG_ACK,
  MSG_AMF0_COMMAND,
  MSG_AMF3_COMMAND,
  parseAck,
  parseSetPeerBandwidth,
  parseUserControl,
  pingRequestPayload,
  RtmpProtocolError,
  setBufferLengthPayload,
  setPeerBandwidthPayload,
  splitAggregate,
  streamBeginPayload,
  TimestampUnwrapper,
  UC_PING_REQUEST,
  UC_SET_BUFFER_LENGTH,
  UC_STREAM_BEGIN,
} from "../../../lib/protocols/rtmp/messages.ts";

describe("protocol control and user control", () => {
  test("user control events", () => {
    expect(Array.from(streamBeginPayload(1))).toEqual([0, 0, 0, 0, 0, 1]);
    expect(parseUserControl(streamBeginPayload(1))).toEqual({ event: UC_STREAM_BEGIN, value: 1 });
    expect(Array.from(setBufferLengthPayload(1, 3000))).toEqual([0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8]);
    expect(parseUserControl(setBufferLengthPayload(1, 3000))).toEqual({
      event: UC_SET_BUFFER_LENGTH,
      value: 1,
      bufferLength: 3000,
    });
    expect(parseUserControl(pingRequestPayload(0xdeadbeef))).toEqual({ event: UC_PING_REQUEST, value: 0xdeadbeef });
    expect(() => parseUserControl(new Uint8Array(1))).toThrow(RtmpProtocolError);
  });

  test("set peer bandwidth", () => {
    expect(parseSetPeerBandwidth(setPeerBandwidthPayload(2500000, 2))).toEqual({ size: 2500000, limitType: 2 });
  });

  test("ack window", () => {
    const w = new AckWindow(1000);
    expect(w.received(600)).toBeUndefined();
    const ack = w.received(500);
    expect(ack?.type).toBe(MSG_ACK);
    expect(parseAck(ack!.payload)).toBe(1100);
    expect(w.received(999)).toBeUndefined();
    expect(parseAck(w.received(1)!.payload)).toBe(2100);
    const off = new AckWindow(0);
    expect(off.received(1e9)).toBeUndefined();
    const wrap = new AckWindow(0x80000000);
    expect(parseAck(wrap.received(0xfffffff0)!.payload)).toBe(0xfffffff0);
    expect(parseAck(wrap.received(0x80000020)!.payload)).toBe(0x80000010);
  });

  test("aggregate split rebases timestamps", () => {
    const sub = (type: number, ts: number, data: number[]) => [
      type,
      0,
      0,
      data.length,
      (ts >> 16) & 0xff,
      (ts >> 8) & 0xff,
      ts & 0xff,
      ts >>> 24,
      0,
      0,
      0,
      ...data,
      0,
      0,
      0,
      11 + data.length,
    ];
    const p = new Uint8Array([...sub(9, 5000, [1, 2, 3]), ...sub(8, 5040, [4]), ...sub(9, 0x01000010, [5])]);
    const out = splitAggregate({ type: 22, csid: 7, streamId: 1, timestamp: 100, payload: p });
    expect(out.map((m) => [m.type, m.timestamp, m.streamId, Array.from(m.payload)])).toEqual([
      [9, 100, 1, [1, 2, 3]],
      [8, 140, 1, [4]],
      [9, 100 + 0x01000010 - 5000, 1, [5]],
    ]);
    expect(() => splitAggregate({ type: 22, csid: 7, streamId: 1, timestamp: 0, payload: p.subarray(0, 20) })).toThrow(
      RtmpProtocolError,
    );
  });

  test("timestamp unwrapper folds 32-bit wraps", () => {
    const u = new TimestampUnwrapper();
    expect([0xfffffff0, 0xfffffffe, 5, 100, 0xfffffffa, 200].map((t) => u.unwrap(t))).toEqual([
      0xfffffff0,
      0xfffffffe,
      0x100000005,
      0x100000064,
      0xfffffffa,
      0x1000000c8,
    ]);
  });
});

describe("commands", () => {
  test("decode connect (AMF0 and AMF3 flavors)", () => {
    const body = encode("connect", 1, { app: "live", tcUrl: "rtmp://h/live" }, { extra: 1 });
    const c = decodeCommand(body, MSG_AMF0_COMMAND);
    expect(c).toEqual({
      name: "connect",
      transactionId: 1,
      commandObject: { app: "live", tcUrl: "rtmp://h/live" },
      args: [{ extra: 1 }],
    });
    const amf3 = new Uint8Array(body.length + 1);
    amf3.set(body, 1);
    expect(decodeCommand(amf3, MSG_AMF3_COMMAND)).toEqual(c);
    expect(decodeCommand(encode("publish", 5, null, "s?k=v", "live")).args).toEqual(["s?k=v", "live"]);
    expect(() => decodeCommand(encode(1, 2))).toThrow(RtmpProtocolError);
    expect(() => decodeCommand(new Uint8Array([2, 0, 9]))).toThrow(RtmpProtocolError);
  });

  test("connect _result is shaped like SRS's", () => {
    const m = connectResult({ transactionId: 1, objectEncoding: 0, data: { srs_server: "SRS/6.0.0", srs_id: "x" } });
    expect(m.type).toBe(MSG_AMF0_COMMAND);
    expect(m.csid).toBe(3);
    const v = decodeAll(m.payload);
    expect(v[0]).toBe("_result");
    expect(v[1]).toBe(1);
    expect(v[2]).toEqual({ fmsVer: "FMS/3,5,3,888", capabilities: 127, mode: 1 });
    const info = v[3] as Amf0Object;
    expect(info.level).toBe("status");
    expect(info.code).toBe("NetConnection.Connect.Success");
    expect(info.objectEncoding).toBe(0);
    expect(isEcmaArray(info.data)).toBe(true);
    expect(info.data).toEqual({ version: "3,5,3,888", srs_server: "SRS/6.0.0", srs_id: "x" });
    expect(decodeAll(connectError("denied").payload)[3]).toEqual({
      level: "error",
      code: "NetConnection.Connect.Rejected",
      description: "denied",
    });
  });

  test("createStream / getStreamLength results, onBWDone", () => {
    expect(decodeAll(createStreamResult(4).payload)).toEqual(["_result", 4, null, 1]);
    expect(decodeAll(getStreamLengthResult(6).payload)).toEqual(["_result", 6, null, 0]);
    expect(decodeAll(onBWDone().payload)).toEqual(["onBWDone", 0, null]);
  });

  test("onStatus builders", () => {
    const codes: Array<[ReturnType<typeof publishStart>, string, string]> = [
      [publishStart(1), "NetStream.Publish.Start", "status"],
      [publishBadName(1), "NetStream.Publish.BadName", "error"],
      [unpublishSuccess(1), "NetStream.Unpublish.Success", "status"],
      [playReset(1), "NetStream.Play.Reset", "status"],
      [playStart(1, { details: "s" }), "NetStream.Play.Start", "status"],
      [playStreamNotFound(1), "NetStream.Play.StreamNotFound", "error"],
      [pauseNotify(1), "NetStream.Pause.Notify", "status"],
    ];
    for (const [m, code, level] of codes) {
      expect(m.streamId).toBe(1);
      const v = decodeAll(m.payload);
      expect(v.slice(0, 3)).toEqual(["onStatus", 0, null]);
      expect((v[3] as Amf0Object).code).toBe(code);
      expect((v[3] as Amf0Object).level).toBe(level);
    }
    expect((decodeAll(playStart(1, { details: "s" }).payload)[3] as Amf0Object).details).toBe("s");
    expect(decodeAll(onFCPublish("s").payload)[0]).toBe("onFCPublish");
    expect((decodeAll(onFCUnpublish("s").payload)[3] as Amf0Object).code).toBe("NetStream.Unpublish.Success");
    expect(decodeAll(sampleAccess(1).payload)).toEqual(["|RtmpSampleAccess", false, false]);
  });

  test("rewriteSetDataFrame", () => {
    const meta = encode("onMetaData", { duration: 0 });
    const withSdf = encode("@setDataFrame", "onMetaData", { duration: 0 });
    expect(Array.from(rewriteSetDataFrame(withSdf))).toEqual(Array.from(meta));
    expect(rewriteSetDataFrame(meta)).toBe(meta);
    const other = encode("@setDataFramX", 1);
    expect(rewriteSetDataFrame(other)).toBe(other);
    expect(rewriteSetDataFrame(new Uint8Array(0)).length).toBe(0);
    expect(dataName(rewriteSetDataFrame(withSdf))).toBe("onMetaData");
    expect(dataName(new Uint8Array([0xff]))).toBeUndefined();
  });
});
