/**
 * Seeded fuzz of the TS demuxer: corrupted clips (bit flips, cut/inserted/duplicated runs, random headers) fed in
 * random chunk sizes. The demuxer must never throw (lenient) or throw only TsDemuxError (strict), emit only
 * well-formed packets, and keep its buffers within the bound set by maxPesBytes.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { TsDemuxer, TsDemuxError } from "../../../lib/formats/mpegts-demux.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";
import { prng as mulberry32 } from "../../helpers/prng.ts";


const MAX_PES = 256 * 1024;
const BOUND = 2 * MAX_PES + 64 * 1024; // video + audio PES buffers, sections, carry, partial packet

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const start = Math.floor(rnd() * (src.length - 200_000)) & ~0;
  let b = Uint8Array.from(src.subarray(start, start + 60_000 + Math.floor(rnd() * 140_000)));
  const ops = 1 + Math.floor(rnd() * 40);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rnd() * b.length);
    const r = rnd();
    if (r < 0.4) b[at] = Math.floor(rnd() * 256); // byte
    else if (r < 0.55) b[at] ^= 1 << Math.floor(rnd() * 8); // bit
    else if (r < 0.65) {
      const n = Math.floor(rnd() * 400);
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + n))]); // cut
    } else if (r < 0.75) {
      const junk = new Uint8Array(Math.floor(rnd() * 400)).map(() => (rnd() < 0.3 ? 0x47 : Math.floor(rnd() * 256)));
      b = Uint8Array.from([...b.subarray(0, at), ...junk, ...b.subarray(at)]); // insert
    } else if (r < 0.85) {
      // a packet header with random flags (adaptation field, PUSI, CC, PID 0/0x1001/0x100/0x101)
      const p = at - (at % 188);
      if (p + 6 < b.length) {
        b[p] = 0x47;
        b[p + 1] = Math.floor(rnd() * 256) & 0x7f;
        b[p + 2] = [0, 0x01, 0x00, 0x01][Math.floor(rnd() * 4)]!;
        b[p + 3] = Math.floor(rnd() * 256);
        b[p + 4] = Math.floor(rnd() * 256);
      }
    } else {
      // huge lengths in whatever PES/section header is near
      b[at] = 0xff;
      if (at + 1 < b.length) b[at + 1] = 0xff;
    }
  }
  return b;
}

function feedRandom(d: TsDemuxer, b: Uint8Array, rnd: () => number): void {
  let off = 0;
  while (off < b.length) {
    const n = rnd() < 0.5 ? 1316 : 1 + Math.floor(rnd() * 3000);
    d.feed(b.subarray(off, off + n));
    off += n;
  }
  d.flush();
}

function checkPacket(p: MediaPacket): void {
  expect(p.data).toBeInstanceOf(Uint8Array);
  expect(Number.isFinite(p.dts) && Number.isFinite(p.pts)).toBe(true);
  expect(p.pts).toBeGreaterThanOrEqual(p.dts);
  if (p.kind === "video" && !p.config) {
    // well-formed length-prefixed NALUs
    let o = 0;
    while (o < p.data.length) {
      const len = new DataView(p.data.buffer, p.data.byteOffset + o).getUint32(0);
      expect(len).toBeGreaterThan(0);
      o += 4 + len;
    }
    expect(o).toBe(p.data.length);
  }
}

test("seeded fuzz: lenient never throws, strict throws only TsDemuxError, memory bounded", () => {
  const sources = [clip("clip.ts"), clip("clip-main.ts"), clip("clip-hevc.ts")].map((f) => new Uint8Array(readFileSync(f)));
  const rnd = mulberry32(0x5eed1234);
  let packets = 0;
  let strictThrows = 0;
  for (let iter = 0; iter < 150; iter++) {
    const data = mutate(sources[iter % sources.length]!, rnd);
    let peak = 0;
    const d = new TsDemuxer((p) => {
      packets++;
      checkPacket(p);
      peak = Math.max(peak, d.bufferedBytes);
    }, { maxPesBytes: MAX_PES });
    feedRandom(d, data, rnd);
    peak = Math.max(peak, d.bufferedBytes);
    expect(peak).toBeLessThanOrEqual(BOUND);
    try {
      feedRandom(new TsDemuxer(() => {}, { strict: true, maxPesBytes: MAX_PES }), data, rnd);
    } catch (e) {
      if (!(e instanceof TsDemuxError)) throw e;
      strictThrows++;
    }
  }
  expect(packets).toBeGreaterThan(1000);
  expect(strictThrows).toBeGreaterThan(100);
});

test("pure noise and all-0x47 input", () => {
  const rnd = mulberry32(42);
  const noise = new Uint8Array(500_000).map(() => Math.floor(rnd() * 256));
  const d = new TsDemuxer(() => {
    throw new Error("no packet expected from noise");
  });
  feedRandom(d, noise, rnd);
  expect(d.stats.skippedBytes).toBeGreaterThan(400_000);
  const syncs = new Uint8Array(188 * 1000).fill(0x47);
  const d2 = new TsDemuxer(() => {});
  feedRandom(d2, syncs, rnd);
  expect(d2.bufferedBytes).toBeLessThan(BOUND);
});
