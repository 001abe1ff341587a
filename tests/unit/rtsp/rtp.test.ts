/**
 * RTP payload formats (lib/formats/rtp) against FFmpeg's own packetizers: the fixtures in tests/fixtures/rtp are
 * FFmpeg's RTP output of short synthetic clips (make.ts says how), depacketized by ours; then our packetizers'
 * output goes back through our depacketizers and must give the same units. SDP reading of FFmpeg's descriptions.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseRtpPacket, type RtpPacket } from "../../../lib/formats/rtp-packet.ts";
import { H264Depacketizer, packetizeH264 } from "../../../lib/formats/rtp/h264.ts";
import { H265Depacketizer, HEVC_FU, packetizeH265 } from "../../../lib/formats/rtp/h265.ts";
import { AacDepacketizer, packetizeAac } from "../../../lib/formats/rtp/aac.ts";
import { packetizeG711 } from "../../../lib/formats/rtp/g711.ts";
import { LatmDepacketizer, latmAudioSpecificConfig } from "../../../lib/formats/rtp/latm.ts";
import { parseAudioSpecificConfig } from "../../../lib/media/aac.ts";
import { buildSdp, controlMatches, parseSdp, spropList, trackFor } from "../../../lib/protocols/rtsp/sdp.ts";
import { buildAvcConfig } from "../../../lib/media/avc.ts";
import { REPO_ROOT } from "../../helpers/media.ts";

const DIR = join(REPO_ROOT, "tests/fixtures/rtp");

function packets(name: string): RtpPacket[] {
  const b = new Uint8Array(readFileSync(join(DIR, `${name}.rtp`)));
  const out: RtpPacket[] = [];
  for (let o = 0; o + 2 <= b.length;) {
    const n = (b[o]! << 8) | b[o + 1]!;
    const p = parseRtpPacket(b.subarray(o + 2, o + 2 + n));
    if (typeof p === "string") throw new Error(p);
    out.push(p);
    o += 2 + n;
  }
  return out;
}

const sdpOf = (name: string) => parseSdp(readFileSync(join(DIR, `${name}.sdp`), "utf8"));

describe("H.264 (RFC 6184) from FFmpeg", () => {
  test("10 access units, keyframes every 5, SPS/PPS in band, FU-A fragments joined", () => {
    const pk = packets("h264");
    expect(pk.some((p) => (p.payload[0]! & 0x1f) === 28)).toBe(true); // FFmpeg fragmented (pkt_size 400)
    const d = new H264Depacketizer();
    const frames = pk.flatMap((p) => d.push(p.payload, p.sequence, p.timestamp, p.marker));
    expect(frames).toHaveLength(10);
    expect(frames.map((f) => f.keyframe)).toEqual([true, false, false, false, false, true, false, false, false, false]);
    expect(frames.every((f) => !f.broken)).toBe(true);
    expect(frames[0]!.nalus.some((n) => (n[0]! & 0x1f) === 7)).toBe(true);
    // timestamps advance 9000 (10 fps at 90 kHz)
    expect((frames[1]!.timestamp - frames[0]!.timestamp) >>> 0).toBe(9000);
    // our packetizer then our depacketizer: the same NALUs (without SPS/PPS, sent by the STAP-A when given)
    for (const f of frames) {
      const sets = f.nalus.filter((n) => [7, 8].includes(n[0]! & 0x1f));
      const body = f.nalus.filter((n) => ![7, 8, 9].includes(n[0]! & 0x1f));
      const pays = packetizeH264(body, f.keyframe ? sets : undefined, { mtu: 300 });
      expect(pays.every((p) => p.payload.length <= 300)).toBe(true);
      const d2 = new H264Depacketizer();
      const back = pays.flatMap((p, i) => d2.push(p.payload, i, 1, p.marker));
      expect(back).toHaveLength(1);
      expect(back[0]!.nalus).toEqual(f.keyframe ? [...sets, ...body] : body);
    }
    const s = sdpOf("h264");
    expect(s.tracks[0]).toMatchObject({ kind: "video", codec: "h264", payloadType: 96, clockRate: 90000 });
  });

  test("a lost fragment marks its frame broken", () => {
    const pk = packets("h264");
    const d = new H264Depacketizer();
    const lost = pk.findIndex((p) => (p.payload[0]! & 0x1f) === 28 && (p.payload[1]! & 0xc0) === 0);
    const frames = pk.filter((_, i) => i !== lost).flatMap((p) => d.push(p.payload, p.sequence, p.timestamp, p.marker));
    expect(frames.some((f) => f.broken)).toBe(true);
  });
});

describe("H.265 (RFC 7798) from FFmpeg", () => {
  test("10 access units, IRAP keyframes, parameter sets in band, FUs joined; ours round-trips", () => {
    const pk = packets("h265");
    expect(pk.some((p) => ((p.payload[0]! >> 1) & 0x3f) === HEVC_FU)).toBe(true);
    const d = new H265Depacketizer();
    const frames = pk.flatMap((p) => d.push(p.payload, p.sequence, p.timestamp, p.marker));
    expect(frames).toHaveLength(10);
    expect(frames[0]!.keyframe).toBe(true);
    expect(frames[5]!.keyframe).toBe(true);
    expect(frames.every((f) => !f.broken)).toBe(true);
    const types = frames[0]!.nalus.map((n) => (n[0]! >> 1) & 0x3f);
    expect(types).toContain(32);
    expect(types).toContain(33);
    expect(types).toContain(34);
    for (const f of frames) {
      const sets = f.nalus.filter((n) => [32, 33, 34].includes((n[0]! >> 1) & 0x3f));
      const body = f.nalus.filter((n) => ![32, 33, 34, 35].includes((n[0]! >> 1) & 0x3f));
      const pays = packetizeH265(body, f.keyframe ? sets : undefined, 300);
      expect(pays.every((p) => p.payload.length <= 300)).toBe(true);
      const d2 = new H265Depacketizer();
      const back = pays.flatMap((p, i) => d2.push(p.payload, i, 7, p.marker));
      expect(back).toHaveLength(1);
      expect(back[0]!.nalus).toEqual(f.keyframe ? [...sets, ...body] : body);
    }
    expect(sdpOf("h265").tracks[0]).toMatchObject({ codec: "h265", clockRate: 90000 });
  });
});

describe("AAC (RFC 3640 AAC-hbr) from FFmpeg", () => {
  test("the SDP's config, one AU per packet at 1024-sample steps; fragments of a large AU", () => {
    const s = sdpOf("aac");
    const t = s.tracks[0]!;
    expect(t).toMatchObject({ kind: "audio", codec: "aac", clockRate: 44100, channels: 2 });
    expect(t.fmtp.get("mode")).toBe("AAC-hbr");
    const asc = parseAudioSpecificConfig(new Uint8Array(Buffer.from(t.fmtp.get("config")!, "hex")));
    expect(asc.sampleRate).toBe(44100);
    const d = new AacDepacketizer();
    const pk = packets("aac");
    const aus = pk.flatMap((p) => d.push(p.payload, p.sequence, p.timestamp, p.marker));
    expect(aus.length).toBeGreaterThanOrEqual(43); // 1 s at 44.1 kHz: 43 frames (FFmpeg may group several per packet)
    expect(d.errors).toBe(0);
    expect(((aus[1]!.timestamp - aus[0]!.timestamp) >>> 0)).toBe(1024);
    // ours: a frame larger than the MTU goes in fragments, back as one AU
    const big = new Uint8Array(2500).map((_, i) => i & 0xff);
    const pays = packetizeAac(big, 1000);
    expect(pays.length).toBe(3);
    expect(pays.map((p) => p.marker)).toEqual([false, false, true]);
    const d2 = new AacDepacketizer();
    const back = pays.flatMap((p, i) => d2.push(p.payload, i, 5000, p.marker));
    expect(back).toEqual([{ data: big, timestamp: 5000 }]);
    // a small one round-trips in one packet
    const one = packetizeAac(aus[3]!.data);
    expect(new AacDepacketizer().push(one[0]!.payload, 1, 9, true)[0]!.data).toEqual(aus[3]!.data);
  });
});

describe("AAC as MP4A-LATM (RFC 6416) from FFmpeg (-rtpflags latm)", () => {
  test("the StreamMuxConfig gives AAC-LC 44.1 kHz stereo; every packet one AU", () => {
    const t = sdpOf("aac-latm").tracks[0]!;
    expect(t).toMatchObject({ codec: "aac", aacFormat: "latm", clockRate: 44100 });
    const asc = latmAudioSpecificConfig(t.fmtp.get("config")!)!;
    expect(parseAudioSpecificConfig(asc)).toMatchObject({ objectType: 2, sampleRate: 44100, channels: 2 });
    const d = new LatmDepacketizer();
    const aus = packets("aac-latm").map((p) => d.push(p.payload, p.sequence, p.marker)).filter((x) => x !== undefined);
    expect(d.errors).toBe(0);
    expect(aus.length).toBe(packets("aac-latm").length);
    // each AU is what the length prefix said: the payload minus its PayloadLengthInfo bytes
    packets("aac-latm").forEach((p, i) => expect(p.payload.length - aus[i]!.length).toBe(Math.floor(aus[i]!.length / 255) + 1));
    expect(latmAudioSpecificConfig("zz")).toBeUndefined();
    expect(parseSdp("v=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MP4A-LATM/44100/2\r\na=fmtp:97 cpresent=1\r\n").tracks).toHaveLength(0);
  });
});

describe("Opus and G.711 from FFmpeg", () => {
  test("Opus: one packet per payload at 48 kHz", () => {
    const s = sdpOf("opus");
    expect(s.tracks[0]).toMatchObject({ codec: "opus", clockRate: 48000, channels: 2 });
    const pk = packets("opus");
    expect(pk.length).toBe(51); // 1 s of 20 ms frames (+ the encoder's delay)
    expect(((pk[1]!.timestamp - pk[0]!.timestamp) >>> 0)).toBe(960);
  });

  test("PCMA: static payload type 8 at 8 kHz, the timestamp steps by the payload length", () => {
    const s = sdpOf("pcma");
    expect(s.tracks[0]).toMatchObject({ codec: "pcma", payloadType: 8, clockRate: 8000, channels: 1 });
    const pk = packets("pcma");
    expect(pk.every((p) => p.payloadType === 8)).toBe(true);
    expect(((pk[1]!.timestamp - pk[0]!.timestamp) >>> 0)).toBe(pk[0]!.payload.length);
    const pays = packetizeG711(new Uint8Array(500), 200);
    expect(pays.map((p) => [p.payload.length, p.offset])).toEqual([[200, 0], [200, 200], [100, 400]]);
  });
});

describe("SDP", () => {
  test("DESCRIBE's description from sequence headers reads back as the same tracks", () => {
    const frames = (() => {
      const d = new H264Depacketizer();
      return packets("h264").flatMap((p) => d.push(p.payload, p.sequence, p.timestamp, p.marker));
    })();
    const sps = frames[0]!.nalus.filter((n) => (n[0]! & 0x1f) === 7);
    const pps = frames[0]!.nalus.filter((n) => (n[0]! & 0x1f) === 8);
    const avc = { kind: "video" as const, codec: "h264" as const, dts: 0, pts: 0, keyframe: true, config: true, data: buildAvcConfig(sps, pps) };
    const asc = Uint8Array.of(0x12, 0x10);
    const aac = { kind: "audio" as const, codec: "aac" as const, dts: 0, pts: 0, keyframe: false, config: true, data: asc };
    const v = trackFor(avc, "h264", 0)!;
    const a = trackFor(aac, "aac", 1)!;
    const text = buildSdp({ sessionId: "1", address: "127.0.0.1", name: "live/s", tracks: [v, a] });
    expect(text).toContain("a=rtpmap:97 MPEG4-GENERIC/44100/2");
    expect(text).toContain("config=1210");
    const back = parseSdp(text);
    expect(back.tracks.map((t) => [t.codec, t.payloadType, t.clockRate, t.control])).toEqual([["h264", 96, 90000, "trackID=0"], ["aac", 97, 44100, "trackID=1"]]);
    expect(spropList(back.tracks[0]!.fmtp.get("sprop-parameter-sets"))).toEqual([...sps, ...pps]);
    expect(trackFor(undefined, "pcmu", 0)).toMatchObject({ payloadType: 0, clockRate: 8000 });
    expect(trackFor(undefined, "mp3", 0)).toBeUndefined();
  });

  test("unsupported media are listed, not taken; controls match SETUP URLs", () => {
    const s = parseSdp("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\nm=audio 0 RTP/AVP 0\r\na=control:streamid=1\r\nm=application 0 RTP/AVP 107\r\n");
    expect(s.tracks.map((t) => t.codec)).toEqual(["pcmu"]);
    expect(s.unsupported).toHaveLength(2);
    expect(controlMatches("rtsp://h/live/s/streamid=1", "streamid=1")).toBe(true);
    expect(controlMatches("rtsp://h/live/s/streamid=1", "streamid=0")).toBe(false);
    expect(controlMatches("rtsp://h/live/s?token=1/streamid=0", "streamid=0")).toBe(true);
    expect(controlMatches("rtsp://h/live/s/trackID=0", "rtsp://h/live/s/trackID=0")).toBe(true);
  });
});
