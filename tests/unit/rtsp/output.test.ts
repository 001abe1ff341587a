/**
 * The shared RTSP output (lib/protocols/rtsp/output.ts): one SSRC and sequence numbering per stream and kind, a
 * joining player's startup units numbered right before the next live packet, and the RTP/interleaved bytes made
 * once per unit (and per channel) for every player.
 */
import { describe, expect, test } from "bun:test";
import { parseRtpPacket } from "../../../lib/formats/rtp-packet.ts";
import { interleavedFrames, RtpNumbering, rtpPackets, type RtspUnit } from "../../../lib/protocols/rtsp/output.ts";
import { RtspReader } from "../../../lib/protocols/rtsp/message.ts";

function unit(kind: "video" | "audio", n: number, ts: number): RtspUnit {
  return {
    kind, codec: kind === "video" ? "h264" : "aac", timestamp: ts, clock: kind === "video" ? 90000 : 44100, keyframe: false, ssrc: 0, seq: 0,
    payloads: Array.from({ length: n }, (_, i) => ({ payload: Uint8Array.of(i, i, i), marker: i === n - 1 })),
  };
}

describe("RtpNumbering", () => {
  test("live units run on per kind; startup units end right before the next live packet", () => {
    const num = new RtpNumbering();
    const v1 = num.live(unit("video", 3, 0));
    const a1 = num.live(unit("audio", 1, 0));
    const v2 = num.live(unit("video", 2, 3600));
    expect(v2.seq).toBe((v1.seq + 3) & 0xffff);
    expect(v1.ssrc).toBe(v2.ssrc);
    expect(a1.ssrc).not.toBe(v1.ssrc);
    const start = num.startup([unit("video", 4, 0), unit("audio", 2, 0), unit("video", 1, 3600)]);
    const next = num.live(unit("video", 1, 7200));
    expect((start[2]!.seq + 1) & 0xffff).toBe(next.seq);
    expect((start[0]!.seq + 4) & 0xffff).toBe(start[2]!.seq);
    expect((start[1]!.seq + 2) & 0xffff).toBe(num.live(unit("audio", 1, 1024)).seq);
  });

  test("the bytes: RTP packets and interleaved frames carry the numbering, made once per channel", () => {
    const u = new RtpNumbering().live(unit("video", 2, 90000));
    const [p0, p1] = rtpPackets(u).map((b) => parseRtpPacket(b));
    if (typeof p0 !== "object" || typeof p1 !== "object") throw new Error("bad packet");
    expect([p0.sequence, p1.sequence]).toEqual([u.seq, (u.seq + 1) & 0xffff]);
    expect([p0.marker, p1.marker, p0.payloadType, p0.timestamp, p0.ssrc]).toEqual([false, true, 96, 90000, u.ssrc]);
    const f = interleavedFrames(u, 2);
    expect(interleavedFrames(u, 2)).toBe(f);
    const frames: { channel: number; data: Uint8Array }[] = [];
    new RtspReader((i) => i.type === "frame" && frames.push({ channel: i.channel, data: i.data.slice() })).feed(f);
    expect(frames.map((x) => x.channel)).toEqual([2, 2]);
    expect(frames.map((x) => x.data)).toEqual(rtpPackets(u));
  });
});
