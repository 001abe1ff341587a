/**
 * Progressive MP4 → packets (lib/formats/mp4/reader.ts): an FLV clip with B-frames, muxed by the DVR's fragmented
 * muxer and finalized, reads back as the same packets (bytes, dts, pts, keyframes, configs); garbage is an Mp4Error.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { finalizeFragmentedMp4, memoryAccess } from "../../../lib/formats/mp4/finalize.ts";
import { FragmentedMp4Muxer } from "../../../lib/formats/mp4/muxer.ts";
import { readMp4Packets } from "../../../lib/formats/mp4/reader.ts";
import type { Mp4Track } from "../../../lib/formats/mp4/track.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";

async function toMp4(pkts: MediaPacket[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let tracks: readonly Mp4Track[] = [];
  const m = new FragmentedMp4Muxer({ init: (b, t) => { parts.push(b); tracks = t; }, fragment: (ps) => parts.push(...ps) });
  for (const p of pkts) m.push(p);
  m.end();
  const io = memoryAccess(Buffer.concat(parts));
  await finalizeFragmentedMp4(io, tracks);
  return io.bytes();
}

describe("readMp4Packets", () => {
  test("reads back what the muxer wrote: H.264 with B-frames and AAC", async () => {
    const src = demuxFlv(readFileSync(clip("clip-main.flv"))).tags.map((t) => flvTagToPacket(t.type, t.timestamp, t.data)).filter((p): p is MediaPacket => p !== null && p.kind !== "data");
    const mp4 = await toMp4(src);
    const back = readMp4Packets(mp4);
    const cfg = back.filter((p) => p.config);
    expect(cfg.map((p) => `${p.kind}:${p.codec}`).sort()).toEqual(["audio:aac", "video:h264"]);
    expect(Buffer.from(cfg.find((p) => p.kind === "video")!.data).equals(Buffer.from(src.find((p) => p.kind === "video" && p.config)!.data))).toBe(true);
    for (const kind of ["video", "audio"] as const) {
      const a = src.filter((p) => p.kind === kind && !p.config);
      const b = back.filter((p) => p.kind === kind && !p.config);
      expect(b.length).toBe(a.length);
      const t0 = a[0]!.dts;
      for (let i = 0; i < a.length; i++) {
        expect(Buffer.from(b[i]!.data).equals(Buffer.from(a[i]!.data))).toBe(true);
        expect(Math.abs(b[i]!.dts - (a[i]!.dts - t0))).toBeLessThanOrEqual(1);
        expect(Math.abs((b[i]!.pts - b[i]!.dts) - (a[i]!.pts - a[i]!.dts))).toBeLessThanOrEqual(1);
        expect(b[i]!.keyframe).toBe(a[i]!.keyframe);
      }
    }
    // B-frames: some composition offsets are not 0
    expect(back.some((p) => p.kind === "video" && p.pts !== p.dts)).toBe(true);
  });

  test("no moov, or garbage, is an Mp4Error", () => {
    expect(() => readMp4Packets(new Uint8Array([0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65]))).toThrow(/no moov/);
    expect(() => readMp4Packets(new Uint8Array([0, 0, 0, 99, 1, 2, 3, 4, 5]))).toThrow();
  });
});
