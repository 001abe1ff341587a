/**
 * MPEG-TS muxer: PSI bytes and CRC, and whole clips muxed and checked with ffprobe/ffmpeg (packet count,
 * timestamps to the 90 kHz tick, codecs, no decoder errors).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { crc32Mpeg2 } from "../../../lib/formats/mpegts-crc.ts";
import { msTo90k, TS_PACKET_SIZE, TsMuxer } from "../../../lib/formats/mpegts-mux.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";
import { tempDir } from "../../helpers/temp.ts";

const work = tempDir("srs-ts-mpegts-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}

function flvPackets(path: string): MediaPacket[] {
  const { tags } = demuxFlv(new Uint8Array(readFileSync(path)));
  const out: MediaPacket[] = [];
  for (const t of tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) out.push(p);
  }
  return out;
}

interface ProbePacket {
  codec_type: string;
  pts: number;
  dts: number;
  flags: string;
}
function probePackets(file: string): ProbePacket[] {
  const j = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_entries", "packet=codec_type,pts,dts,flags", "-of", "json", file]).toString()) as { packets: ProbePacket[] };
  return j.packets;
}

describe("CRC-32/MPEG-2", () => {
  test("check value and known PAT", () => {
    expect(crc32Mpeg2(new TextEncoder().encode("123456789"))).toBe(0x0376e6e7);
    // The PAT section many muxers emit for program 1 -> PMT PID 0x1000 ends with CRC 2A B1 04 B2.
    const pat = Uint8Array.of(0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00);
    expect(crc32Mpeg2(pat)).toBe(0x2ab104b2);
  });
});

describe("PSI tables", () => {
  test("PAT and PMT bytes for H.264 + AAC", () => {
    const m = new TsMuxer({ video: "h264", audio: "aac" });
    const t = m.tables();
    expect(t.length).toBe(2 * TS_PACKET_SIZE);
    expect(hex(t.subarray(0, 21))).toBe("47 40 00 10 00 00 b0 0d 00 01 c1 00 00 00 01 f0 01 " + hex(t.subarray(17, 21)));
    expect(crc32Mpeg2(t, 5, 5 + 3 + 13)).toBe(0); // section including its CRC checks to 0
    expect(t.subarray(21, 188).every((b) => b === 0xff)).toBe(true);
    const pmt = t.subarray(188);
    // header, pointer, table 2, length 23, program 1, version 0, PCR PID 0x100, 0x1b@0x100, 0x0f@0x101
    expect(hex(pmt.subarray(0, 27))).toBe(
      "47 50 01 10 00 02 b0 17 00 01 c1 00 00 e1 00 f0 00 1b e1 00 f0 00 0f e1 01 f0 00",
    );
    expect(crc32Mpeg2(pmt, 5, 5 + 3 + 23)).toBe(0);
    // continuity counters advance per emission
    const t2 = m.tables();
    expect(t2[3]).toBe(0x11);
    expect(t2[188 + 3]).toBe(0x11);
    const peek = m.peekTables();
    expect(peek[3]).toBe(0x12);
    expect(m.tables()[3]).toBe(0x12);
  });

  test("audio-only PMT has the PCR on the audio PID; MP3 is stream type 3", () => {
    const m = new TsMuxer({ audio: "mp3" });
    const pmt = m.tables().subarray(188);
    expect(hex(pmt.subarray(13, 22))).toBe("e1 01 f0 00 03 e1 01 f0 00");
  });

  test("a new track bumps the PMT version and re-emits the tables", () => {
    const m = new TsMuxer({ video: "h264" });
    const v1 = (m.tables()[188 + 10]! >> 1) & 31;
    const out = m.mux({ kind: "audio", codec: "mp3", dts: 0, pts: 0, keyframe: false, config: false, data: Uint8Array.of(0xff, 0xfb, 0x90, 0x64, 0, 0, 0) });
    expect(out).not.toBeNull();
    expect(out![0]).toBe(0x47);
    expect(out![1]! & 0x1f).toBe(0); // PAT first
    const v2 = (out![188 + 10]! >> 1) & 31;
    expect(v2).toBe((v1 + 1) & 31);
  });

  test("timestamps: ms to 90 kHz with 33-bit wrap; PES header encodes PTS/DTS", () => {
    expect(msTo90k(0)).toBe(0);
    expect(msTo90k(40)).toBe(3600);
    expect(msTo90k(2 ** 33 / 90 + 1)).toBe(90);
    const m = new TsMuxer({ audio: "aac" });
    m.mux({ kind: "audio", codec: "aac", dts: 0, pts: 0, keyframe: false, config: true, data: Uint8Array.of(0x12, 0x10) });
    m.tables();
    const ts = m.mux({ kind: "audio", codec: "aac", dts: 1000, pts: 1000, keyframe: false, config: false, data: new Uint8Array(10) })!;
    expect(ts.length).toBe(188);
    // adaptation field: 4 hdr, AF len, flags (RAI + PCR), PCR 90000
    expect(ts[3]! & 0x30).toBe(0x30);
    expect(ts[5]).toBe(0x50);
    const pesAt = 4 + 1 + ts[4]!;
    expect(hex(ts.subarray(pesAt, pesAt + 14))).toBe("00 00 01 c0 00 19 84 80 05 21 00 05 bf 21");
    expect(hex(ts.subarray(pesAt + 14, pesAt + 17))).toBe("ff f1 50"); // ADTS, LC, 44.1 kHz
  });
});

describe("muxing whole clips", () => {
  for (const name of ["clip.flv", "clip-main.flv"] as const) {
    test(`${name}: ffprobe sees the same packets and timestamps`, () => {
      const packets = flvPackets(clip(name));
      const m = new TsMuxer();
      const parts: Uint8Array[] = [m.tables()];
      for (const p of packets) {
        const b = m.mux(p);
        if (b) parts.push(b);
      }
      const file = join(work, name.replace(".flv", ".ts"));
      writeFileSync(file, Buffer.concat(parts));
      const size = parts.reduce((a, b) => a + b.length, 0);
      expect(size % 188).toBe(0);

      const streams = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_streams", "-show_format", "-of", "json", file]).toString()) as {
        streams: { codec_name: string; width?: number; height?: number; sample_rate?: string; channels?: number }[];
        format: { duration: string };
      };
      const v = streams.streams.find((s) => s.codec_name === "h264")!;
      const a = streams.streams.find((s) => s.codec_name === "aac")!;
      expect(v.width).toBe(640);
      expect(v.height).toBe(360);
      expect(a.sample_rate).toBe("44100");
      expect(a.channels).toBe(2);
      expect(Math.abs(Number(streams.format.duration) - 10)).toBeLessThan(0.3);

      const got = probePackets(file);
      const src = packets.filter((p) => !p.config && p.kind !== "data");
      const gv = got.filter((p) => p.codec_type === "video");
      const ga = got.filter((p) => p.codec_type === "audio");
      const sv = src.filter((p) => p.kind === "video");
      const sa = src.filter((p) => p.kind === "audio");
      expect(gv.length).toBe(sv.length);
      expect(ga.length).toBe(sa.length);
      // ffprobe lists each stream's packets in file order, same as ours per stream.
      for (let i = 0; i < sv.length; i++) {
        expect(Math.abs(gv[i]!.pts - sv[i]!.pts * 90)).toBeLessThanOrEqual(1);
        expect(Math.abs(gv[i]!.dts - sv[i]!.dts * 90)).toBeLessThanOrEqual(1);
        expect(gv[i]!.flags.startsWith("K")).toBe(sv[i]!.keyframe);
      }
      for (let i = 0; i < sa.length; i++) expect(Math.abs(ga[i]!.pts - sa[i]!.pts * 90)).toBeLessThanOrEqual(1);

      const dec = execFileSync("ffmpeg", ["-hide_banner", "-v", "error", "-i", file, "-f", "null", "-"], { stdio: ["ignore", "pipe", "pipe"] });
      expect(dec.toString()).toBe("");
      const err = execFileSync("bash", ["-c", `ffmpeg -hide_banner -v error -i '${file}' -f null - 2>&1`]).toString();
      expect(err).toBe("");
    });
  }
});
