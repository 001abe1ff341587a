import { describe, expect, test } from "bun:test";
import { demuxFlv, encodeFlvHeader, encodeFlvTag, encodePacketFlvTag, FLV_TAG_VIDEO } from "../../../lib/formats/flv.ts";
import type { FlvTag } from "../../../lib/formats/flv.ts";
import { parseAudioSpecificConfig } from "../../../lib/media/aac.ts";
import { avcCodecString, isAvcKeyframe, parseAvcConfig, parseAvcSps } from "../../../lib/media/avc.ts";
import {
  flvAudioToPacket, flvTagToPacket, flvVideoToPacket, FlvCodecError, packetFlvTagType, packetToFlvBody,
} from "../../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { fromHex, hex, probePackets, readClip } from "./util.ts";

function packets(tags: FlvTag[]): (MediaPacket | null)[] {
  return tags.map((t) => flvTagToPacket(t.type, t.timestamp, t.data));
}

describe("FLV body -> MediaPacket on FFmpeg clips", () => {
  for (const [name, profile] of [["clip.flv", 66], ["clip-main.flv", 77]] as const) {
    test(`${name}: sequence headers, SPS and ASC`, () => {
      const { tags } = demuxFlv(readClip(name));
      const ps = packets(tags);
      expect(ps[0]!.kind).toBe("data");
      expect(ps[0]!.codec).toBe("amf0");
      const firstVideo = ps.find((p) => p?.kind === "video")!;
      expect(firstVideo.config).toBe(true);
      expect(firstVideo.codec).toBe("h264");
      const cfg = parseAvcConfig(firstVideo.data);
      expect(cfg.profile).toBe(profile);
      expect(cfg.level).toBe(31);
      expect(cfg.lengthSize).toBe(4);
      expect(cfg.sps.length).toBe(1);
      expect(cfg.pps.length).toBe(1);
      const sps = parseAvcSps(cfg.sps[0]!);
      expect(sps.profileIdc).toBe(profile);
      expect(sps.levelIdc).toBe(31);
      expect(sps.width).toBe(640);
      expect(sps.height).toBe(360);
      expect(sps.codedHeight).toBe(368); // cropped by 8 lines
      expect(sps.chromaFormatIdc).toBe(1);
      expect(sps.frameMbsOnly).toBe(true);
      if (profile === 66) expect(avcCodecString(cfg)).toBe("avc1.42c01f");
      else expect(avcCodecString(cfg.sps[0]!)).toBe("avc1.4d401f");
      const firstAudio = ps.find((p) => p?.kind === "audio")!;
      expect(firstAudio.config).toBe(true);
      expect(firstAudio.codec).toBe("aac");
      expect(firstAudio.flvAudioFlags).toBe(0xaf);
      const asc = parseAudioSpecificConfig(firstAudio.data);
      expect(asc.objectType).toBe(2);
      expect(asc.sampleRate).toBe(44100);
      expect(asc.channels).toBe(2);
      // only the final AVC end-of-sequence tag decodes to null
      expect(ps.filter((p) => p === null).length).toBe(1);
      expect(ps[ps.length - 1]).toBeNull();
    });

    test(`${name}: pts/dts/keyframes match ffprobe; keyframe every 50 frames`, () => {
      const { tags } = demuxFlv(readClip(name));
      const frames = packets(tags).filter((p): p is MediaPacket => p?.kind === "video" && !p.config);
      const probe = probePackets(name).filter((p) => p.type === "video");
      expect(frames.map((p) => [p.dts, p.pts, p.keyframe])).toEqual(probe.map((p) => [p.dts, p.pts, p.key]));
      const keyIdx = frames.flatMap((p, i) => (p.keyframe ? [i] : []));
      expect(keyIdx).toEqual([0, 50, 100, 150, 200]);
      for (const p of frames) expect(isAvcKeyframe(p.data)).toBe(p.keyframe);
      const audio = packets(tags).filter((p): p is MediaPacket => p?.kind === "audio" && !p.config);
      expect(audio.map((p) => p.dts)).toEqual(probePackets(name).filter((p) => p.type === "audio").map((p) => p.dts));
      if (name === "clip-main.flv") {
        expect(frames.filter((p) => p.pts !== p.dts).length).toBeGreaterThan(200);
        expect(new Set(frames.map((p) => p.pts - p.dts)).size).toBeGreaterThan(2); // B-frames: several CTS values
      } else {
        expect(frames.every((p) => p.pts === p.dts)).toBe(true);
      }
    });

    test(`${name}: FLV -> MediaPacket -> FLV is byte-identical (except the dropped AVC end-of-sequence tag)`, () => {
      const file = readClip(name);
      const { header, tags } = demuxFlv(file);
      const parts: Uint8Array[] = [encodeFlvHeader(header)];
      for (const t of tags) {
        const p = flvTagToPacket(t.type, t.timestamp, t.data);
        if (!p) continue;
        expect(packetFlvTagType(p)).toBe(t.type);
        const body = packetToFlvBody(p);
        parts.push(encodeFlvTag(packetFlvTagType(p), p.dts, body));
        expect(Buffer.from(encodePacketFlvTag(p)).equals(Buffer.from(parts[parts.length - 1]!))).toBe(true);
      }
      const eos = encodeFlvTag(FLV_TAG_VIDEO, tags[tags.length - 1]!.timestamp, tags[tags.length - 1]!.data);
      expect(hex(tags[tags.length - 1]!.data)).toBe("1702000000");
      parts.push(eos);
      expect(Buffer.concat(parts).equals(Buffer.from(file))).toBe(true);
    });
  }

  test("decoding does not copy payloads", () => {
    const { tags } = demuxFlv(readClip("clip.flv"));
    const v = tags.find((t) => t.type === 9 && t.data[1] === 1)!;
    const p = flvTagToPacket(v.type, v.timestamp, v.data)!;
    expect(p.data.buffer).toBe(v.data.buffer);
    expect(p.data.byteOffset).toBe(v.data.byteOffset + 5);
  });
});

describe("legacy video/audio headers", () => {
  test("negative composition time (SI24)", () => {
    const p = flvVideoToPacket(fromHex("2701ffffd8 00000001 41"), 1000)!;
    expect(p.dts).toBe(1000);
    expect(p.pts).toBe(960);
    expect(hex(packetToFlvBody(p))).toBe("2701ffffd80000000141");
  });

  test("legacy HEVC codec id 12 and hevcMode legacy12", () => {
    const p = flvVideoToPacket(fromHex("1c01000028 00000003 2601af"), 40)!;
    expect(p.codec).toBe("h265");
    expect(p.keyframe).toBe(true);
    expect(p.pts).toBe(80);
    expect(hex(packetToFlvBody(p, { hevcMode: "legacy12" }))).toBe("1c0100002800000003" + "2601af");
    // default: enhanced RTMP with CodedFrames (cts != 0)
    expect(hex(packetToFlvBody(p))).toBe("91" + hex(new TextEncoder().encode("hvc1")) + "000028" + "000000032601af");
    const cfg = flvVideoToPacket(fromHex("1c00000000 01020304"), 0)!;
    expect(cfg.config).toBe(true);
    expect(hex(packetToFlvBody(cfg, { hevcMode: "legacy12" }))).toBe("1c0000000001020304");
    expect(hex(packetToFlvBody(cfg))).toBe("90687663310102030" + "4");
  });

  test("video info frames and end of sequence decode to null", () => {
    expect(flvVideoToPacket(fromHex("5700"), 0)).toBeNull();
    expect(flvVideoToPacket(fromHex("1702000000"), 0)).toBeNull();
  });

  test("audio formats keep the header byte", () => {
    const mp3 = flvAudioToPacket(fromHex("2e fffb9064 00"), 10)!;
    expect(mp3.codec).toBe("mp3");
    expect(mp3.flvAudioFlags).toBe(0x2e);
    expect(hex(packetToFlvBody(mp3))).toBe("2efffb906400");
    // without flags, derived from the MPEG audio header (44.1 kHz stereo)
    delete mp3.flvAudioFlags;
    expect(hex(packetToFlvBody(mp3))).toBe("2ffffb906400");
    for (const [b, codec] of [["72", "pcma"], ["82", "pcmu"], ["b2", "speex"], ["6e", "nellymoser"], ["3e", "pcm"], ["0e", "pcm"]] as const) {
      const p = flvAudioToPacket(fromHex(b + "0102"), 0)!;
      expect(p.codec).toBe(codec);
      expect(p.config).toBe(false);
      expect(hex(packetToFlvBody(p))).toBe(b + "0102");
    }
    const aac = flvAudioToPacket(fromHex("ae01 2122"), 0)!; // mono AAC flags kept
    expect(hex(packetToFlvBody(aac))).toBe("ae012122");
  });
});

describe("enhanced RTMP", () => {
  const fcc = (s: string): string => hex(new TextEncoder().encode(s));

  test("HEVC: SequenceStart, CodedFrames with cts, CodedFramesX, SequenceEnd, Metadata", () => {
    const start = flvVideoToPacket(fromHex("90" + fcc("hvc1") + "01aabb"), 0)!;
    expect(start).toMatchObject({ kind: "video", codec: "h265", config: true, keyframe: true });
    expect(hex(start.data)).toBe("01aabb");
    expect(hex(packetToFlvBody(start))).toBe("90" + fcc("hvc1") + "01aabb");

    const coded = flvVideoToPacket(fromHex("91" + fcc("hvc1") + "000050" + "000000022601"), 120)!;
    expect(coded).toMatchObject({ codec: "h265", config: false, keyframe: true, dts: 120, pts: 200 });
    expect(hex(packetToFlvBody(coded))).toBe("91" + fcc("hvc1") + "000050" + "000000022601");

    const x = flvVideoToPacket(fromHex("a3" + fcc("hvc1") + "000000020201"), 160)!;
    expect(x).toMatchObject({ codec: "h265", config: false, keyframe: false, dts: 160, pts: 160 });
    expect(hex(packetToFlvBody(x))).toBe("a3" + fcc("hvc1") + "000000020201");

    expect(flvVideoToPacket(fromHex("92" + fcc("hvc1")), 0)).toBeNull();
    expect(flvVideoToPacket(fromHex("84" + fcc("hvc1") + "0200"), 0)).toBeNull();
  });

  test("AV1, VP9 and AVC FourCCs", () => {
    const av1 = flvVideoToPacket(fromHex("91" + fcc("av01") + "0a0b"), 5)!;
    expect(av1).toMatchObject({ codec: "av1", pts: 5, keyframe: true });
    expect(hex(av1.data)).toBe("0a0b"); // no composition time for av01
    expect(hex(packetToFlvBody(av1))).toBe("91" + fcc("av01") + "0a0b");
    const vp9 = flvVideoToPacket(fromHex("a1" + fcc("vp09") + "ff"), 5)!;
    expect(vp9).toMatchObject({ codec: "vp9", keyframe: false });
    expect(hex(packetToFlvBody(vp9))).toBe("a1" + fcc("vp09") + "ff");
    const avc = flvVideoToPacket(fromHex("91" + fcc("avc1") + "000028" + "0000000165"), 0)!;
    expect(avc).toMatchObject({ codec: "h264", pts: 40 });
    expect(hex(packetToFlvBody(avc))).toBe("1701000028" + "0000000165"); // AVC goes out legacy
  });

  test("ModEx prefix (TimestampOffsetNano) is skipped", () => {
    // packet type 7, size-1 = 2 (3 bytes of nanoseconds), then modExType 0 | packet type 3
    const p = flvVideoToPacket(fromHex("97" + "02" + "0f4240" + "03" + fcc("hvc1") + "00000001aa"), 7)!;
    expect(p).toMatchObject({ codec: "h265", dts: 7, pts: 7, keyframe: true });
    expect(hex(p.data)).toBe("00000001aa");
  });

  test("command frames decode to null; multitrack is a clear error", () => {
    expect(flvVideoToPacket(fromHex("d1" + "00"), 0)).toBeNull();
    expect(() => flvVideoToPacket(fromHex("96" + "00" + fcc("hvc1")), 0)).toThrow(/multitrack/);
  });

  test("ExAudio: Opus and AAC", () => {
    const head = flvAudioToPacket(fromHex("90" + fcc("Opus") + hex(new TextEncoder().encode("OpusHead"))), 0)!;
    expect(head).toMatchObject({ kind: "audio", codec: "opus", config: true });
    expect(new TextDecoder().decode(head.data)).toBe("OpusHead");
    expect(head.flvAudioFlags).toBeUndefined();
    expect(hex(packetToFlvBody(head))).toBe("90" + fcc("Opus") + hex(head.data));
    const frame = flvAudioToPacket(fromHex("91" + fcc("Opus") + "fc01"), 20)!;
    expect(frame).toMatchObject({ codec: "opus", config: false, dts: 20, pts: 20 });
    expect(hex(packetToFlvBody(frame))).toBe("91" + fcc("Opus") + "fc01");
    const asc = flvAudioToPacket(fromHex("90" + fcc("mp4a") + "1210"), 0)!;
    expect(asc).toMatchObject({ codec: "aac", config: true });
    expect(hex(packetToFlvBody(asc))).toBe("af001210"); // AAC goes out legacy
    const mp3 = flvAudioToPacket(fromHex("91" + fcc(".mp3") + "fffb9064"), 0)!;
    expect(mp3.codec).toBe("mp3");
    expect(flvAudioToPacket(fromHex("92" + fcc("Opus")), 0)).toBeNull();
    expect(flvAudioToPacket(fromHex("94" + fcc("Opus") + "0002"), 0)).toBeNull();
  });

  test("data packets pass through", () => {
    const body = fromHex("02000a6f6e4d65746144617461");
    const p = flvTagToPacket(18, 0, body)!;
    expect(p).toMatchObject({ kind: "data", codec: "amf0" });
    expect(packetToFlvBody(p)).toBe(body);
  });
});

describe("malformed bodies", () => {
  const cases: [string, number, string, RegExp][] = [
    ["empty video", 9, "", /too short/],
    ["empty audio", 8, "", /too short/],
    ["AVC header cut", 9, "1701", /too short/],
    ["AVC bad packet type", 9, "1703000000", /AVCPacketType 3/],
    ["Sorenson H.263", 9, "2200", /unsupported codec id 2/],
    ["VP6", 9, "1400", /unsupported codec id 4/],
    ["AAC header cut", 8, "af", /too short/],
    ["AAC bad packet type", 8, "af02", /AACPacketType 2/],
    ["ADPCM", 8, "1600", /unsupported SoundFormat 1/],
    ["device-specific sound", 8, "f600", /unsupported SoundFormat 15/],
    ["enhanced video, no FourCC", 9, "9068", /too short/],
    ["enhanced video, unknown FourCC", 9, "9076703038", /unsupported FourCC 'vp08'/],
    ["enhanced video, cts cut", 9, "916876633100", /too short/],
    ["enhanced video, bad packet type", 9, "9868766331", /VideoPacketType 8/],
    ["enhanced video, ModEx cut", 9, "97ff", /too short/],
    ["enhanced video, ModEx 16-bit size cut", 9, "97ff01", /too short/],
    ["enhanced audio, unknown FourCC", 8, "90664c6143", /unsupported FourCC 'fLaC'/],
    ["enhanced audio, cut", 8, "904f70", /too short/],
    ["enhanced audio, multitrack", 8, "9500", /multitrack/],
    ["unknown tag type", 15, "00", /tag type 15/],
  ];
  for (const [what, type, h, re] of cases) {
    test(what, () => {
      let err: unknown;
      try {
        flvTagToPacket(type, 0, fromHex(h));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FlvCodecError);
      expect(String((err as Error).message)).toMatch(re);
    });
  }

  test("encoding errors: cts out of SI24 range, config for codecs without one", () => {
    const p: MediaPacket = { kind: "video", codec: "h264", dts: 0, pts: 0x800000, keyframe: false, config: false, data: new Uint8Array(0) };
    expect(() => packetToFlvBody(p)).toThrow(FlvCodecError);
    const a: MediaPacket = { kind: "audio", codec: "mp3", dts: 0, pts: 0, keyframe: false, config: true, data: new Uint8Array(0) };
    expect(() => packetToFlvBody(a)).toThrow(/no sequence header/);
  });
});
