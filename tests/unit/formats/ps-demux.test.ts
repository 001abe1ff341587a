/**
 * PS demuxer (lib/formats/ps) against FFmpeg's view of the same files:
 *  - FFmpeg-made program streams (`-f mpeg`, H.264 with B-frames + MP3, H.265 + MP3): access units and PTS/DTS
 *    equal ffprobe -show_packets (N/A where FFmpeg has no PTS either), MP3 frame counts equal.
 *  - GB28181-shaped streams from our test muxer (pack header per frame, system header + PSM per keyframe, frames
 *    split over PES, PES_packet_length 0): H.264/H.265 + AAC from the TS clips and G.711 A-law / mu-law; the
 *    packets out equal the TS demuxer's packets of the source clip, and ffprobe counts the same frames.
 */
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demuxTs } from "../../../lib/formats/mpegts-demux.ts";
import { demuxPs, type PsFrame } from "../../../lib/formats/ps/demux.ts";
import { PsPacketizer } from "../../../lib/formats/ps/packets.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";
import { esUnits, muxGb, type PsEsUnit } from "../../helpers/ps-mux.ts";
import { tempDir } from "../../helpers/temp.ts";

interface ProbePacket {
  codec_type: string;
  codec_name?: string;
  pts?: number;
  dts?: number;
}

function probe(file: string): { packets: ProbePacket[]; codecs: string[] } {
  const j = JSON.parse(execFileSync("ffprobe", [
    "-v", "error", "-show_entries", "packet=codec_type,pts,dts:stream=codec_name", "-of", "json", file,
  ], { maxBuffer: 64 << 20 }).toString()) as { packets: ProbePacket[]; streams: { codec_name: string }[] };
  return { packets: j.packets, codecs: j.streams.map((s) => s.codec_name).sort() };
}

function ffmpegPs(file: string, video: string[], audio: string[], format: string): void {
  execFileSync("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100:duration=4",
    "-threads", "1", "-fflags", "+bitexact", ...video, ...audio, "-f", format, file,
  ], { stdio: "pipe" });
}

function packetize(frames: PsFrame[]): { packets: MediaPacket[]; errors: string[] } {
  const packets: MediaPacket[] = [];
  const errors: string[] = [];
  const p = new PsPacketizer((x) => packets.push(x), (m) => errors.push(m));
  for (const f of frames) p.push(f);
  return { packets, errors };
}

const dir = tempDir("srs-ps-");

describe("FFmpeg-made program streams", () => {
  const x264 = ["-c:v", "libx264", "-bf", "2", "-g", "25", "-preset", "veryfast"];
  const x265 = ["-c:v", "libx265", "-preset", "veryfast", "-x265-params", "keyint=25:bframes=2:pools=1:frame-threads=1:log-level=error"];
  // -f mpeg writes MPEG-1 packs and PES headers, -f vob MPEG-2 ones (plus private_stream_2 navigation packets)
  for (const [name, video, codec, format] of [
    ["h264", x264, "h264", "mpeg"],
    ["h264", x264, "h264", "vob"],
    ["h265", x265, "hevc", "mpeg"],
  ] as const) {
    test(`${name} + MP3 (-f ${format}): access units and timestamps as ffprobe shows them`, () => {
      const file = join(dir, `${name}.${format}`);
      ffmpegPs(file, [...video], ["-c:a", "libmp3lame", "-b:a", "64k"], format);
      const { packets: want, codecs } = probe(file);
      expect(codecs).toEqual([codec, "mp3"].sort());
      const errors: string[] = [];
      const frames = demuxPs(readFileSync(file), { onError: (m) => errors.push(m) });
      expect(errors).toEqual([]);
      const v = frames.filter((f) => f.kind === "video");
      expect(v.every((f) => f.codec === name)).toBe(true);
      const wantV = want.filter((p) => p.codec_type === "video");
      expect(v.length).toBe(wantV.length);
      expect(v.map((f) => [f.pts, f.dts])).toEqual(wantV.map((p) => [p.pts ?? Number.NaN, p.dts ?? Number.NaN]));
      const out = packetize(frames);
      expect(out.errors).toEqual([]);
      const mp3 = out.packets.filter((p) => p.codec === "mp3");
      expect(mp3.length).toBe(want.filter((p) => p.codec_type === "audio").length);
      // every access unit but the leading ones without a config becomes a packet; keyframes every 25 frames
      const vp = out.packets.filter((p) => p.kind === "video" && !p.config);
      expect(vp.length).toBe(wantV.length);
      expect(vp.filter((p) => p.keyframe).length).toBe(4);
      expect(out.packets.find((p) => p.kind === "video")!.config).toBe(true);
    });
  }
});

/** Packets in a comparable form: timestamps, flags and a digest of the bytes. */
function shape(ps: MediaPacket[]): string[] {
  return ps.map((p) => `${p.kind} ${p.codec} ${p.dts} ${p.pts} ${p.keyframe ? "K" : "-"}${p.config ? "C" : "-"} ${Bun.hash(p.data).toString(16)}`);
}

describe("GB28181-shaped program streams (our test muxer)", () => {
  for (const [clipName, videoType] of [["clip-main.ts", 0x1b], ["clip-hevc.ts", 0x24]] as const) {
    for (const variant of ["split PES", "PES length 0"] as const) {
      test(`${clipName}, ${variant}: the TS demuxer's packets come back${variant === "split PES" ? "; ffprobe counts the same frames" : ""}`, () => {
        const source = demuxTs(readFileSync(clip(clipName)));
        const ps = muxGb(esUnits(source), {
          psm: [{ streamType: videoType, streamId: 0xe0 }, { streamType: 0x0f, streamId: 0xc0 }],
          maxPesPayload: variant === "split PES" ? 1400 : 60000,
          zeroLengthVideo: variant === "PES length 0",
        });
        const errors: string[] = [];
        const frames = demuxPs(ps, { onError: (m) => errors.push(m) });
        expect(errors).toEqual([]);
        const out = packetize(frames);
        expect(out.errors).toEqual([]);
        // the sequence is the same per track (PS interleaving differs from TS)
        for (const kind of ["video", "audio"] as const) {
          expect(shape(out.packets.filter((p) => p.kind === kind))).toEqual(shape(source.filter((p) => p.kind === kind)));
        }
        // FFmpeg's PS demuxer does not read unbounded (length 0) PES, so only the split variant is probed
        if (variant === "PES length 0") return;
        const file = join(dir, `${clipName}-split.ps`);
        writeFileSync(file, ps);
        const { packets: want, codecs } = probe(file);
        expect(codecs).toEqual([videoType === 0x24 ? "hevc" : "h264", "aac"].sort());
        expect(frames.filter((f) => f.kind === "video").length).toBe(want.filter((p) => p.codec_type === "video").length);
        expect(out.packets.filter((p) => p.kind === "audio" && !p.config).length).toBe(want.filter((p) => p.codec_type === "audio").length);
      });
    }
  }

  for (const [codec, fmt, streamType] of [["pcma", "alaw", 0x90], ["pcmu", "mulaw", 0x91]] as const) {
    test(`G.711 ${codec} (stream_type 0x${streamType.toString(16)}): 40 ms PES become ${codec} packets`, () => {
      const raw = new Uint8Array(execFileSync("ffmpeg", [
        "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=2",
        "-ac", "1", "-f", fmt, "-",
      ], { maxBuffer: 1 << 20 }));
      expect(raw.length).toBe(16000);
      const units: PsEsUnit[] = [];
      for (let i = 0; i * 320 < raw.length; i++) units.push({ streamId: 0xc0, pts: 90000 + i * 3600, dts: 90000 + i * 3600, data: raw.subarray(i * 320, (i + 1) * 320) });
      const ps = muxGb(units, { psm: [{ streamType, streamId: 0xc0 }] });
      const frames = demuxPs(ps);
      expect(frames.map((f) => f.codec)).toEqual(units.map(() => codec));
      const out = packetize(frames).packets;
      expect(out.length).toBe(50);
      expect(out.map((p) => p.dts)).toEqual(units.map((_, i) => 1000 + i * 40));
      expect(out.every((p) => p.codec === codec && p.data.length === 320)).toBe(true);
      expect(Buffer.concat(out.map((p) => p.data)).equals(Buffer.from(raw))).toBe(true);
    });
  }

  test("a stream_type we do not carry is reported once and skipped; the others go on", () => {
    const errors: string[] = [];
    const units: PsEsUnit[] = [0, 1, 2].map((i) => ({ streamId: 0xc0, pts: i * 3600, dts: i * 3600, data: new Uint8Array(100) }));
    const ps = muxGb(units, { psm: [{ streamType: 0x99, streamId: 0xc0 }] });
    expect(demuxPs(ps, { onError: (m) => errors.push(m) })).toEqual([]);
    expect(errors.length).toBe(1);
    expect(errors[0]).toContain("stream_type 0x99");
  });
});
