import { describe, expect, test } from "bun:test";
import {
  demuxFlv, encodeFlvHeader, encodeFlvTag, FlvDemuxer, FlvError, readFlvHeader, readFlvTagHeader,
  FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO,
} from "../../../lib/formats/flv.ts";
import { probePackets, readClip, rng } from "../media/util.ts";

describe("FLV container", () => {
  for (const name of ["clip.flv", "clip-main.flv"] as const) {
    test(`${name}: tag counts match ffprobe`, () => {
      const file = readClip(name);
      const { header, tags } = demuxFlv(file);
      expect(header).toEqual({ version: 1, hasAudio: true, hasVideo: true, dataOffset: 9 });
      const probe = probePackets(name);
      const pv = probe.filter((p) => p.type === "video").length;
      const pa = probe.filter((p) => p.type === "audio").length;
      const video = tags.filter((t) => t.type === FLV_TAG_VIDEO);
      const audio = tags.filter((t) => t.type === FLV_TAG_AUDIO);
      const script = tags.filter((t) => t.type === FLV_TAG_SCRIPT);
      expect(script.length).toBe(1);
      // + AVC sequence header + AVC end of sequence
      expect(video.length).toBe(pv + 2);
      // + AAC sequence header
      expect(audio.length).toBe(pa + 1);
      expect(tags.every((t) => t.streamId === 0 && !t.filter)).toBe(true);
      // the tag body sizes (minus the 5/2-byte AVC/AAC headers) are ffprobe's packet sizes
      const vFrames = video.filter((t) => t.data[1] === 1);
      const pVideo = probe.filter((p) => p.type === "video");
      expect(vFrames.map((t) => t.data.length - 5)).toEqual(pVideo.map((p) => p.size));
      expect(vFrames.map((t) => t.timestamp)).toEqual(pVideo.map((p) => p.dts));
    });

    test(`${name}: re-encoding every tag gives the identical file`, () => {
      const file = readClip(name);
      const { header, tags } = demuxFlv(file);
      const parts = [encodeFlvHeader(header), ...tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data))];
      expect(Buffer.concat(parts).equals(Buffer.from(file))).toBe(true);
    });
  }

  test("chunked input (random split points, 1-byte chunks) gives the same tags", () => {
    const file = readClip("clip.flv");
    const whole = demuxFlv(file).tags;
    const r = rng(42);
    for (const maxChunk of [1, 7, 100, 5000, 70000]) {
      const d = new FlvDemuxer();
      const got: typeof whole = [];
      let off = 0;
      const limit = maxChunk === 1 ? 20000 : file.length; // 1-byte chunks: only the first 20 kB (speed)
      while (off < limit) {
        const n = Math.min(limit - off, 1 + Math.floor(r() * maxChunk));
        got.push(...d.push(file.subarray(off, off + n)));
        off += n;
      }
      const expected = maxChunk === 1 ? whole.slice(0, got.length) : whole;
      expect(got.length).toBe(expected.length);
      for (let i = 0; i < got.length; i++) {
        expect(got[i]!.type).toBe(expected[i]!.type);
        expect(got[i]!.timestamp).toBe(expected[i]!.timestamp);
        expect(Buffer.from(got[i]!.data).equals(Buffer.from(expected[i]!.data))).toBe(true);
      }
    }
  });

  test("whole-chunk tags are zero-copy subarrays", () => {
    const file = readClip("clip.flv");
    const tags = new FlvDemuxer().push(file);
    expect(tags[0]!.data.buffer).toBe(file.buffer);
  });

  test("header flags", () => {
    expect(Array.from(encodeFlvHeader({ hasAudio: true, hasVideo: false }))).toEqual([0x46, 0x4c, 0x56, 1, 4, 0, 0, 0, 9, 0, 0, 0, 0]);
    expect(readFlvHeader(encodeFlvHeader({ hasAudio: false, hasVideo: true }))).toEqual({ version: 1, hasAudio: false, hasVideo: true, dataOffset: 9 });
    expect(readFlvHeader(new Uint8Array(5))).toBeNull();
    expect(() => readFlvHeader(new TextEncoder().encode("GIF89a..."))).toThrow(FlvError);
  });

  test("timestamp extension byte and PreviousTagSize", () => {
    const tag = encodeFlvTag(FLV_TAG_VIDEO, 0x12345678, Uint8Array.of(1, 2, 3));
    expect(Array.from(tag)).toEqual([9, 0, 0, 3, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 1, 2, 3, 0, 0, 0, 14]);
    expect(readFlvTagHeader(tag)).toEqual({ type: 9, filter: false, dataSize: 3, timestamp: 0x12345678, streamId: 0 });
    // wraps at 2^32
    expect(readFlvTagHeader(encodeFlvTag(8, 2 ** 32 + 5, new Uint8Array(0)))!.timestamp).toBe(5);
    expect(readFlvTagHeader(new Uint8Array(10))).toBeNull();
  });

  test("tags declaring more than maxTagSize are rejected before buffering", () => {
    const d = new FlvDemuxer({ maxTagSize: 1000 });
    d.push(encodeFlvHeader({ hasAudio: true, hasVideo: true }));
    const big = encodeFlvTag(FLV_TAG_VIDEO, 0, new Uint8Array(1001));
    expect(() => d.push(big.subarray(0, 11))).toThrow(/exceeds the limit of 1000 bytes/);
    expect(d.bufferedBytes).toBe(0);
    // the demuxer stays failed
    expect(() => d.push(new Uint8Array(1))).toThrow(FlvError);
    // the default limit is 16 MiB (a 24-bit DataSize can never exceed it, but a lower limit can be set)
    expect(new FlvDemuxer().maxTagSize).toBe(16 * 1024 * 1024);
    const d2 = new FlvDemuxer({ header: false, maxTagSize: 65536 });
    expect(() => d2.push(Uint8Array.of(9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0))).toThrow(/16777215 bytes exceeds/);
    const ok = new FlvDemuxer({ header: false, maxTagSize: 1000 });
    expect(ok.push(encodeFlvTag(FLV_TAG_AUDIO, 7, new Uint8Array(1000))).length).toBe(1);
  });

  test("truncated and corrupt files", () => {
    const file = readClip("clip.flv");
    expect(() => demuxFlv(file.subarray(0, 5))).toThrow(FlvError);
    expect(() => demuxFlv(file.subarray(0, file.length - 3))).toThrow(/truncated/);
    const bad = file.slice(0, 100);
    bad[0] = 0x47;
    expect(() => demuxFlv(bad)).toThrow(/signature/);
    const hdr = file.slice(0, 13);
    hdr[8] = 3; // DataOffset < 9
    expect(() => new FlvDemuxer().push(hdr)).toThrow(/DataOffset/);
  });

  test("header with a larger DataOffset is skipped", () => {
    const h = Uint8Array.of(0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 12, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0);
    const tag = encodeFlvTag(FLV_TAG_SCRIPT, 0, Uint8Array.of(2, 0, 0));
    const d = new FlvDemuxer();
    const tags = d.push(Buffer.concat([h, tag]));
    expect(d.header!.dataOffset).toBe(12);
    expect(tags.length).toBe(1);
    expect(Array.from(tags[0]!.data)).toEqual([2, 0, 0]);
  });
});
