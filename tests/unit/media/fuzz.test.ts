/**
 * Seeded fuzzing of the FLV demuxer, the FLV body codec and the codec-config parsers with random mutations
 * of real FFmpeg tags: the only exceptions allowed are the documented error classes, and every result must
 * be sane (finite numbers, payloads inside the input).
 */
import { describe, expect, test } from "bun:test";
import { demuxFlv, FlvDemuxer, FlvError } from "../../../lib/formats/flv.ts";
import { AacError, parseAdtsHeader, parseAudioSpecificConfig } from "../../../lib/media/aac.ts";
import { AvcError, parseAvcConfig, parseAvcSps, splitAnnexB, splitAvcc } from "../../../lib/media/avc.ts";
import { buildHevcConfig, HevcError, hevcNaluType, parseHevcConfig, parseHevcSps } from "../../../lib/media/hevc.ts";
import { FlvCodecError, flvTagToPacket, packetToFlvBody } from "../../../lib/media/flv-codec.ts";
import { parseMpegAudioHeader } from "../../../lib/media/mp3.ts";
import { firstVideoPes, readClip, rng } from "./util.ts";

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = src.slice();
  const ops = 1 + Math.floor(r() * 4);
  for (let k = 0; k < ops; k++) {
    const op = Math.floor(r() * 6);
    const at = Math.floor(r() * Math.max(1, b.length));
    if (op === 0 && b.length > 0) b[at] = Math.floor(r() * 256); // random byte
    else if (op === 1 && b.length > 0) b[at]! ^= 1 << Math.floor(r() * 8); // bit flip
    else if (op === 2) b = b.slice(0, at); // truncate
    else if (op === 3 && b.length > 0) b[at] = [0, 0xff, 0x7f, 0x80, 1][Math.floor(r() * 5)]!; // boundary values
    else if (op === 4) {
      const ins = new Uint8Array(1 + Math.floor(r() * 8)).map(() => Math.floor(r() * 256));
      const n = new Uint8Array(b.length + ins.length);
      n.set(b.subarray(0, at));
      n.set(ins, at);
      n.set(b.subarray(at), at + ins.length);
      b = n;
    } else if (b.length > 4) b[Math.min(at, 4)] = Math.floor(r() * 256); // hit the header bytes
  }
  return b;
}

function assertSane(v: unknown, path = "result"): void {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`${path} is ${v} (out-of-bounds read?)`);
  } else if (v instanceof Uint8Array) {
    // fine: bounds are checked by the callers where it matters
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => assertSane(x, `${path}[${i}]`));
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      assertSane(x, `${path}.${k}`);
    }
  }
}

function expectOnly(fn: () => unknown, ...allowed: (new (m: string) => Error)[]): unknown {
  try {
    const res = fn();
    assertSane(res);
    return res;
  } catch (e) {
    if (allowed.some((c) => e instanceof c)) return null;
    throw e;
  }
}

const ITER = Number(process.env.FUZZ_ITER ?? 4000);

describe("fuzz", () => {
  const file = readClip("clip-main.flv");
  const tags = demuxFlv(file).tags;
  const r = rng(0x5eed);
  const fcc = (s: string): number[] => Array.from(new TextEncoder().encode(s));
  // enhanced-RTMP seeds (not in the FFmpeg 5.1 clips)
  const seeds: [number, Uint8Array][] = [
    [9, Uint8Array.of(0x91, ...fcc("hvc1"), 0, 0, 40, 0, 0, 0, 2, 0x26, 1)],
    [9, Uint8Array.of(0x97, 2, 0x0f, 0x42, 0x40, 3, ...fcc("hvc1"), 0, 0, 0, 1, 0xaa)],
    [9, Uint8Array.of(0x90, ...fcc("av01"), 0x81, 8, 0x0c, 0)],
    [8, Uint8Array.of(0x90, ...fcc("Opus"), ...fcc("OpusHead"), 1, 2)],
    [8, Uint8Array.of(0x97, 0, 7, 0x91, ...fcc("mp4a"), 0x21, 0x10)],
    [8, Uint8Array.of(0x2f, 0xff, 0xfb, 0x90, 0x64)],
  ];

  test(`FLV body -> MediaPacket -> FLV body (${ITER} mutations)`, () => {
    let decoded = 0;
    for (let i = 0; i < ITER; i++) {
      let type: number;
      let body: Uint8Array;
      if (i % 5 === 0) [type, body] = seeds[i / 5 % seeds.length]!;
      else {
        const t = tags[Math.floor(r() * tags.length)]!;
        type = t.type;
        body = t.data.length > 300 ? t.data.subarray(0, 300) : t.data;
      }
      const m = mutate(body, r);
      const p = expectOnly(() => flvTagToPacket(type, 1234, m), FlvCodecError) as ReturnType<typeof flvTagToPacket>;
      if (!p) continue;
      decoded++;
      // the payload is a view into the mutated body
      expect(p.data.buffer).toBe(m.buffer);
      expect(p.data.byteOffset).toBeGreaterThanOrEqual(m.byteOffset);
      expect(p.data.byteOffset + p.data.length).toBeLessThanOrEqual(m.byteOffset + m.length);
      expect(p.dts).toBe(1234);
      expectOnly(() => packetToFlvBody(p), FlvCodecError);
      expectOnly(() => packetToFlvBody(p, { hevcMode: "legacy12" }), FlvCodecError);
    }
    expect(decoded).toBeGreaterThan(ITER / 4);
  });

  test(`codec config parsers (${ITER} mutations each)`, () => {
    const avcSeq = tags.find((t) => t.type === 9)!.data.subarray(5);
    const sps = parseAvcConfig(avcSeq).sps[0]!;
    const asc = tags.find((t) => t.type === 8)!.data.subarray(2);
    const frame = tags.find((t) => t.type === 9 && t.data[1] === 1)!.data.subarray(5, 400);
    const nalus = splitAnnexB(firstVideoPes(readClip("clip-hevc.ts")));
    const byType = (t: number): Uint8Array[] => nalus.filter((n) => hevcNaluType(n) === t);
    const hvcc = buildHevcConfig(byType(32), byType(33), byType(34));
    const hsps = byType(33)[0]!;
    for (let i = 0; i < ITER; i++) {
      expectOnly(() => parseAvcConfig(mutate(avcSeq, r)), AvcError);
      expectOnly(() => parseAvcSps(mutate(sps, r)), AvcError);
      expectOnly(() => parseAudioSpecificConfig(mutate(asc, r)), AacError);
      expectOnly(() => parseHevcConfig(mutate(hvcc, r)), HevcError);
      expectOnly(() => parseHevcSps(mutate(hsps, r)), HevcError);
      expectOnly(() => splitAvcc(mutate(frame, r)), AvcError);
      expectOnly(() => splitAnnexB(mutate(frame, r)));
      const m = mutate(asc, r);
      expectOnly(() => parseAdtsHeader(m, Math.floor(r() * 8)));
      expectOnly(() => parseMpegAudioHeader(m, Math.floor(r() * 4)));
    }
  });

  test("FLV demuxer on mutated streams", () => {
    const head = file.subarray(0, 60000);
    for (let i = 0; i < 300; i++) {
      const m = mutate(head, r);
      const d = new FlvDemuxer({ maxTagSize: 1 << 20 });
      try {
        let off = 0;
        while (off < m.length) {
          const n = 1 + Math.floor(r() * 9000);
          for (const t of d.push(m.subarray(off, off + n))) {
            assertSane(t);
            expect(t.data.length).toBeLessThanOrEqual(1 << 20);
          }
          off += n;
        }
      } catch (e) {
        if (!(e instanceof FlvError)) throw e;
      }
      expect(d.bufferedBytes).toBeLessThanOrEqual((1 << 20) + 15 + 9000);
    }
  });
});
