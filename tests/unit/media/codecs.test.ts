import { describe, expect, test } from "bun:test";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import {
  AAC_SAMPLE_RATES, AacError, adtsToAudioSpecificConfig, buildAdtsHeader, buildAudioSpecificConfig, parseAdtsHeader,
  parseAudioSpecificConfig, aacCodecString,
} from "../../../lib/media/aac.ts";
import { av1CodecString, buildAv1Config, parseAv1Config } from "../../../lib/media/av1.ts";
import {
  annexBToAvcc, AVC_AUD_NALU, AvcError, avccNalus, avccToAnnexB, avcNaluType, buildAvcConfig, isAvcAud, isAvcIdr,
  isAvcKeyframe, isAvcPps, isAvcSei, isAvcSps, joinAvcc, parseAvcConfig, parseAvcSps, splitAnnexB, splitAvcc,
} from "../../../lib/media/avc.ts";
import { BitReader, BitReaderError, nalToRbsp } from "../../../lib/media/bitreader.ts";
import { flvVideoToPacket, packetToFlvBody } from "../../../lib/media/flv-codec.ts";
import {
  buildHevcConfig, HevcError, hevcCodecString, hevcNaluType, isHevcIrapType, isHevcKeyframe, parseHevcConfig, parseHevcSps,
  HEVC_NALU_PPS, HEVC_NALU_SPS, HEVC_NALU_VPS,
} from "../../../lib/media/hevc.ts";
import { parseMpegAudioHeader } from "../../../lib/media/mp3.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { firstVideoPes, fromHex, hex, readClip } from "./util.ts";

describe("BitReader", () => {
  test("bits, ue, se", () => {
    // 1 | 010 | 011 | 00100 | 00101 | 0001000 -> ue: 0,1,2,3,4,7
    const r = new BitReader(fromHex("a6 42 88 00"));
    expect([r.ue(), r.ue(), r.ue(), r.ue(), r.ue()]).toEqual([0, 1, 2, 3, 4]);
    const s = new BitReader(fromHex("a6 42 80"));
    expect([s.se(), s.se(), s.se(), s.se(), s.se()]).toEqual([0, 1, -1, 2, -2]);
    const b = new BitReader(fromHex("ff 00 12 34 56 78"));
    expect(b.bits(4)).toBe(0xf);
    expect(b.bits(12)).toBe(0xf00);
    expect(b.bits(32)).toBe(0x12345678);
    expect(b.bitsLeft).toBe(0);
    expect(() => b.bit()).toThrow(BitReaderError);
    const full = new BitReader(fromHex("ffffffff"));
    expect(full.bits(32)).toBe(0xffffffff);
  });
  test("never reads past the end", () => {
    expect(() => new BitReader(fromHex("00")).ue()).toThrow(BitReaderError);
    expect(() => new BitReader(fromHex("0000000000")).ue()).toThrow(BitReaderError);
    expect(() => new BitReader(fromHex("01")).bits(9)).toThrow(BitReaderError);
  });
  test("emulation prevention removal", () => {
    const plain = fromHex("6742c01f");
    expect(nalToRbsp(plain)).toBe(plain); // no copy
    expect(hex(nalToRbsp(fromHex("00000301 0000 0300 00 0003")))).toBe("0000010000000000");
    expect(hex(nalToRbsp(fromHex("11000003")))).toBe("110000");
  });
});

describe("AVC", () => {
  const { tags } = demuxFlv(readClip("clip.flv"));
  const seq = tags.find((t) => t.type === 9)!.data.subarray(5);
  const frames = tags.filter((t) => t.type === 9 && t.data[1] === 1).map((t) => t.data.subarray(5));

  test("config record parse/build round trip (byte-exact with x264/FFmpeg)", () => {
    const cfg = parseAvcConfig(seq);
    expect(isAvcSps(cfg.sps[0]!)).toBe(true);
    expect(isAvcPps(cfg.pps[0]!)).toBe(true);
    expect(hex(buildAvcConfig(cfg.sps, cfg.pps))).toBe(hex(seq));
  });

  test("AVCC <-> Annex-B round trip on every frame", () => {
    for (const f of frames) {
      const annexb = avccToAnnexB(f);
      expect(annexb.length).toBe(f.length);
      expect(Buffer.from(annexBToAvcc(annexb)).equals(Buffer.from(f))).toBe(true);
      expect(splitAnnexB(annexb).map(avcNaluType)).toEqual([...avccNalus(f)].map(avcNaluType));
    }
    const key = frames[0]!;
    const types = splitAvcc(key).map(avcNaluType);
    expect(types).toContain(5);
    expect(splitAvcc(key).some(isAvcIdr)).toBe(true);
    expect(isAvcKeyframe(key)).toBe(true);
    expect(isAvcKeyframe(frames[1]!)).toBe(false);
    // prefix NALUs (AUD + SPS + PPS) for a TS muxer
    const cfg = parseAvcConfig(seq);
    const withPs = avccToAnnexB(key, 4, [AVC_AUD_NALU, cfg.sps[0]!, cfg.pps[0]!]);
    const nalus = splitAnnexB(withPs);
    expect(nalus.slice(0, 3).map(avcNaluType)).toEqual([9, 7, 8]);
    expect(isAvcAud(nalus[0]!)).toBe(true);
  });

  test("Annex-B with 3-byte start codes, leading garbage and trailing zeros", () => {
    const nalus = splitAnnexB(fromHex("ff 000001 0605aa 00 00000001 6742 0000 000001 65 88 00"));
    expect(nalus.map(hex)).toEqual(["0605aa", "6742", "6588"]);
    expect(isAvcSei(nalus[0]!)).toBe(true);
    expect(hex(annexBToAvcc(fromHex("000001 0605aa")))).toBe("00000003" + "0605aa");
    expect(splitAnnexB(new Uint8Array(0))).toEqual([]);
    expect(hex(joinAvcc([fromHex("09f0")]))).toBe("0000000209f0");
  });

  test("SPS with high profile, scaling matrices absent, 1080p cropping", () => {
    // x264 High 4.0 1920x1080 SPS
    const sps = parseAvcSps(fromHex("6764002 8ac d9 40 78 02 27 e5 c0 44 00 00 03 00 04 00 00 03 00 c8 3c 60 c6 58".replace(/ /g, "")));
    expect(sps.profileIdc).toBe(100);
    expect(sps.width).toBe(1920);
    expect(sps.height).toBe(1080);
    const rec = buildAvcConfig([fromHex("6764002 8acd94078 0227e5c0440000030004000003 00c83c60c658".replace(/ /g, ""))], [fromHex("68ebe3cb22c0")]);
    const parsed = parseAvcConfig(rec);
    expect(parsed.chromaFormat).toBe(1);
    expect(parsed.bitDepthLuma).toBe(8);
    expect(parsed.spsExt).toEqual([]);
  });

  test("malformed", () => {
    expect(() => parseAvcConfig(fromHex("01640028"))).toThrow(AvcError);
    expect(() => parseAvcConfig(fromHex("02640028ffe1"+"0004"+"67640028"+"00"))).toThrow(/configurationVersion/);
    expect(() => parseAvcConfig(fromHex("01640028ffe1" + "0010" + "6764"))).toThrow(/exceeds/);
    expect(() => parseAvcConfig(fromHex("01640028ffe1" + "0002" + "6764"))).toThrow(/numOfPictureParameterSets/);
    expect(() => parseAvcSps(fromHex("6742c0"))).toThrow(AvcError);
    expect(() => parseAvcSps(fromHex("6742c01f"))).toThrow(AvcError); // truncated before width
    expect(() => parseAvcSps(fromHex("68ce3c80"))).toThrow(/not an SPS/);
    expect(() => splitAvcc(fromHex("00000005 6588"))).toThrow(/exceeds/);
    expect(() => [...avccNalus(fromHex("000000"))]).toThrow(/truncated/);
    expect(isAvcKeyframe(fromHex("00000005 65"))).toBe(true); // declared length past end: no out-of-bounds
    expect(isAvcKeyframe(fromHex("000000"))).toBe(false);
  });
});

describe("HEVC (clip-hevc.ts)", () => {
  const pes = firstVideoPes(readClip("clip-hevc.ts"));
  const nalus = splitAnnexB(pes);
  const vps = nalus.filter((n) => hevcNaluType(n) === HEVC_NALU_VPS);
  const sps = nalus.filter((n) => hevcNaluType(n) === HEVC_NALU_SPS);
  const pps = nalus.filter((n) => hevcNaluType(n) === HEVC_NALU_PPS);

  test("parameter sets and SPS", () => {
    expect([vps.length, sps.length, pps.length]).toEqual([1, 1, 1]);
    const info = parseHevcSps(sps[0]!);
    expect(info.width).toBe(640);
    expect(info.height).toBe(360);
    expect(info.profileIdc).toBe(1); // Main
    expect(info.tierFlag).toBe(0);
    expect(info.levelIdc).toBeGreaterThan(0);
    expect(info.chromaFormatIdc).toBe(1);
    expect(info.bitDepthLuma).toBe(8);
    expect(nalus.some((n) => isHevcIrapType(hevcNaluType(n)))).toBe(true);
  });

  test("build -> parse HEVCDecoderConfigurationRecord", () => {
    const rec = buildHevcConfig(vps, sps, pps);
    const cfg = parseHevcConfig(rec);
    expect(cfg.lengthSize).toBe(4);
    expect(cfg.arrays.map((a) => a.type)).toEqual([32, 33, 34]);
    expect(hex(cfg.vps[0]!)).toBe(hex(vps[0]!));
    expect(hex(cfg.sps[0]!)).toBe(hex(sps[0]!));
    expect(hex(cfg.pps[0]!)).toBe(hex(pps[0]!));
    expect(cfg.profileIdc).toBe(1);
    expect(cfg.chromaFormat).toBe(1);
    const info = parseHevcSps(cfg.sps[0]!);
    expect([info.width, info.height]).toEqual([640, 360]);
    expect(cfg.levelIdc).toBe(info.levelIdc);
    expect(hevcCodecString(cfg)).toBe(`hvc1.1.6.L${info.levelIdc}.90`);
    // rebuild is stable
    expect(hex(buildHevcConfig(cfg.vps, cfg.sps, cfg.pps))).toBe(hex(rec));
  });

  test("enhanced RTMP body round trip: config + keyframe", () => {
    const rec = buildHevcConfig(vps, sps, pps);
    const au = annexBToAvcc(pes);
    expect(isHevcKeyframe(au)).toBe(true);
    const cfgP: MediaPacket = { kind: "video", codec: "h265", dts: 0, pts: 0, keyframe: true, config: true, data: rec };
    const keyP: MediaPacket = { kind: "video", codec: "h265", dts: 40, pts: 80, keyframe: true, config: false, data: au };
    for (const p of [cfgP, keyP]) {
      for (const hevcMode of ["enhanced", "legacy12"] as const) {
        const body = packetToFlvBody(p, { hevcMode });
        expect(body[0]! & 0x80).toBe(hevcMode === "enhanced" ? 0x80 : 0);
        const back = flvVideoToPacket(body, p.dts)!;
        expect(back).toMatchObject({ kind: "video", codec: "h265", dts: p.dts, pts: p.pts, keyframe: true, config: p.config });
        expect(Buffer.from(back.data).equals(Buffer.from(p.data))).toBe(true);
      }
    }
    expect(parseHevcConfig(flvVideoToPacket(packetToFlvBody(cfgP), 0)!.data).sps.length).toBe(1);
  });

  test("malformed", () => {
    expect(() => parseHevcConfig(new Uint8Array(22))).toThrow(HevcError);
    const rec = buildHevcConfig(vps, sps, pps);
    expect(() => parseHevcConfig(rec.subarray(0, rec.length - 1))).toThrow(/exceeds/);
    expect(() => parseHevcConfig(rec.subarray(0, 25))).toThrow(/truncated/);
    expect(() => parseHevcSps(sps[0]!.subarray(0, 8))).toThrow(HevcError);
    expect(() => parseHevcSps(vps[0]!)).toThrow(/not an HEVC SPS/);
    expect(() => buildHevcConfig([], [], [])).toThrow(HevcError);
    expect(isHevcKeyframe(fromHex("00000009 2601"))).toBe(true);
    expect(isHevcKeyframe(fromHex("00000002 0201"))).toBe(false);
  });
});

describe("AAC", () => {
  test("ASC from clip.flv (with the 0x2b7 sync extension)", () => {
    const { tags } = demuxFlv(readClip("clip.flv"));
    const asc = tags.find((t) => t.type === 8)!.data.subarray(2);
    expect(hex(asc)).toBe("121056e500");
    const c = parseAudioSpecificConfig(asc);
    expect(c).toMatchObject({ objectType: 2, signaledObjectType: 2, sampleRate: 44100, samplingIndex: 4, channels: 2, sbr: false, ps: false });
    expect(aacCodecString(c)).toBe("mp4a.40.2");
  });

  test("build/parse round trips, escape object type, explicit rate", () => {
    expect(hex(buildAudioSpecificConfig({ objectType: 2, sampleRate: 44100, channels: 2 }))).toBe("1210");
    expect(hex(buildAudioSpecificConfig({ objectType: 2, sampleRate: 48000, channels: 1 }))).toBe("1188");
    for (const objectType of [1, 2, 4, 32, 42]) {
      for (const sampleRate of [...AAC_SAMPLE_RATES, 44056, 37800]) {
        for (const channels of [1, 2, 6, 8]) {
          const c = parseAudioSpecificConfig(buildAudioSpecificConfig({ objectType, sampleRate, channels }));
          expect([c.objectType, c.sampleRate, c.channels]).toEqual([objectType, sampleRate, channels]);
        }
      }
    }
    const esc = buildAudioSpecificConfig({ objectType: 42, sampleRate: 44100, channels: 2 });
    expect(esc[0]! >> 3).toBe(31);
    expect(() => buildAudioSpecificConfig({ objectType: 31, sampleRate: 44100, channels: 2 })).toThrow(AacError);
    const explicit = parseAudioSpecificConfig(buildAudioSpecificConfig({ objectType: 2, sampleRate: 44056, channels: 2 }));
    expect(explicit.samplingIndex).toBe(15);
  });

  test("explicit HE-AAC (SBR) and HE-AACv2 (PS) signaling", () => {
    // AOT 5, index 6 (24000), chan 2, ext index 3 (48000), AOT 2
    const he = parseAudioSpecificConfig(fromHex("2b 11 88 00"));
    expect(he).toMatchObject({ signaledObjectType: 5, objectType: 2, sampleRate: 24000, extensionSampleRate: 48000, sbr: true, ps: false, channels: 2 });
    const v2 = parseAudioSpecificConfig(fromHex("eb 09 88 00")); // AOT 29, 24000, mono, ext 48000, AOT 2
    expect(v2).toMatchObject({ signaledObjectType: 29, objectType: 2, sbr: true, ps: true, channels: 1 });
  });

  test("ADTS header parse/build", () => {
    const asc = parseAudioSpecificConfig(fromHex("1210"));
    const h = buildAdtsHeader(asc, 100);
    expect(hex(h)).toBe("fff15080 0d7ffc".replace(/ /g, ""));
    const p = parseAdtsHeader(h)!;
    expect(p).toMatchObject({ headerLength: 7, frameLength: 107, objectType: 2, sampleRate: 44100, channels: 2, rawBlocks: 1, protectionAbsent: true });
    expect(hex(adtsToAudioSpecificConfig(p))).toBe("1210");
    expect(parseAdtsHeader(h.subarray(0, 6))).toBeNull();
    expect(parseAdtsHeader(fromHex("fff1 7c80 0d7ffc"))).toBeNull(); // sampling index 15
    expect(parseAdtsHeader(fromHex("fff1 5080 00 1ffc"))).toBeNull(); // frame length < header
    expect(parseAdtsHeader(fromHex("ff00 5080 0d7ffc"))).toBeNull();
    expect(() => buildAdtsHeader(asc, 9000)).toThrow(AacError);
  });

  test("ADTS against FFmpeg's TS audio", () => {
    // clip.ts carries ADTS AAC: find the first ADTS syncword after a PES header with stream id 0xC0
    const ts = readClip("clip.ts");
    let found = false;
    for (let off = 0; off + 188 <= ts.length && !found; off += 188) {
      const pkt = ts.subarray(off, off + 188);
      for (let i = 4; i + 20 < 188; i++) {
        if (pkt[i] === 0 && pkt[i + 1] === 0 && pkt[i + 2] === 1 && pkt[i + 3] === 0xc0) {
          const payload = i + 9 + pkt[i + 8]!;
          const h = parseAdtsHeader(pkt, payload)!;
          expect(h).toMatchObject({ objectType: 2, sampleRate: 44100, channels: 2 });
          found = true;
          break;
        }
      }
    }
    expect(found).toBe(true);
  });

  test("malformed ASC", () => {
    expect(() => parseAudioSpecificConfig(fromHex("12"))).toThrow(AacError);
    expect(() => parseAudioSpecificConfig(fromHex("0010"))).toThrow(/null/);
    expect(() => parseAudioSpecificConfig(fromHex("16 90"))).toThrow(/reserved samplingFrequencyIndex 13/);
    expect(() => parseAudioSpecificConfig(fromHex("f8 00"))).toThrow(AacError); // escape cut short
    expect(() => parseAudioSpecificConfig(fromHex("17 80 00"))).toThrow(AacError); // explicit rate cut short
  });
});

describe("MP3 and AV1", () => {
  test("MPEG audio headers", () => {
    expect(parseMpegAudioHeader(fromHex("fffb9064"))).toMatchObject({ version: 1, layer: 3, bitrate: 128, sampleRate: 44100, channels: 2, frameLength: 417, samplesPerFrame: 1152 });
    expect(parseMpegAudioHeader(fromHex("fffb92c4"))).toMatchObject({ padding: true, frameLength: 418, channels: 1 });
    expect(parseMpegAudioHeader(fromHex("fff3 80 c4"))).toMatchObject({ version: 2, layer: 3, bitrate: 64, sampleRate: 22050, samplesPerFrame: 576, frameLength: 208 });
    expect(parseMpegAudioHeader(fromHex("fffd 80 04"))).toMatchObject({ version: 1, layer: 2, bitrate: 128, sampleRate: 44100, frameLength: 417 });
    expect(parseMpegAudioHeader(fromHex("ffe3 50 44"))).toMatchObject({ version: 2.5, sampleRate: 11025 });
    expect(parseMpegAudioHeader(fromHex("ffff 9064"))).toMatchObject({ layer: 1, bitrate: 288, samplesPerFrame: 384, frameLength: 312 });
    expect(parseMpegAudioHeader(fromHex("fffb f064"))).toBeNull();
    expect(parseMpegAudioHeader(fromHex("fffb 9c64"))).toBeNull();
    expect(parseMpegAudioHeader(fromHex("fff9 9064"))).toBeNull(); // layer reserved
    expect(parseMpegAudioHeader(fromHex("fffb90"))).toBeNull();
  });

  test("av1C", () => {
    const rec = buildAv1Config({ seqProfile: 0, seqLevelIdx0: 8, seqTier0: 0, highBitdepth: false, twelveBit: false, monochrome: false, chromaSubsamplingX: 1, chromaSubsamplingY: 1, chromaSamplePosition: 0, configObus: fromHex("0a0b0000") });
    expect(hex(rec)).toBe("81080c000a0b0000");
    const c = parseAv1Config(rec);
    expect(c).toMatchObject({ seqProfile: 0, seqLevelIdx0: 8, chromaSubsamplingX: 1, chromaSubsamplingY: 1 });
    expect(hex(c.configObus)).toBe("0a0b0000");
    expect(av1CodecString(c)).toBe("av01.0.08M.08");
    expect(() => parseAv1Config(fromHex("010800"))).toThrow();
    expect(() => parseAv1Config(fromHex("0108000000"))).toThrow(/marker/);
  });
});
