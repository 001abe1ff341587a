/**
 * PS demuxer under bad input: chunking invariance (1..N byte chunks give the same frames), garbage before and
 * between units, PES lengths that lie (too long, too short), an unbounded PES that never ends (memory stays
 * bounded), and a seeded fuzz of mutated/truncated GB28181-shaped streams: feed() never throws, the packetizer
 * never throws, buffers stay within their bound.
 */
import { describe, expect, test } from "bun:test";
import { demuxPs, PsDemuxer, type PsFrame } from "../../../lib/formats/ps/demux.ts";
import { PsPacketizer } from "../../../lib/formats/ps/packets.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { gbPsFromClip, packHeader, pesPacket, programStreamMap } from "../../helpers/ps-mux.ts";
import { prng } from "../../helpers/prng.ts";

/** The first seconds of clip-main.ts as GB28181-shaped PS (H.264 with B-frames + AAC, frames split over PES). */
function gbStream(seconds = 4): Uint8Array {
  return gbPsFromClip("clip-main.ts", seconds).ps;
}

function key(f: PsFrame): string {
  return `${f.kind} ${f.codec} ${f.pts} ${f.dts} ${f.data.length} ${Bun.hash(f.data).toString(16)}`;
}

function feedChunks(data: Uint8Array, rnd: () => number, maxChunk: number, opts: ConstructorParameters<typeof PsDemuxer>[1] = {}) {
  const frames: PsFrame[] = [];
  const d = new PsDemuxer((f) => frames.push(f), opts);
  let maxBuffered = 0;
  for (let o = 0; o < data.length;) {
    const n = 1 + Math.floor(rnd() * maxChunk);
    d.feed(data.subarray(o, o + n));
    o += n;
    maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
  }
  d.flush();
  return { frames, d, maxBuffered };
}

const stream = gbStream();
const whole = demuxPs(stream).map(key);

describe("chunking", () => {
  for (const max of [1, 7, 188, 1400, 70000]) {
    test(`random chunks of 1..${max} bytes give the same frames as one buffer`, () => {
      const data = max === 1 ? stream.subarray(0, 200_000) : stream;
      const want = max === 1 ? demuxPs(data).map(key) : whole;
      expect(feedChunks(data, prng(max), max).frames.map(key)).toEqual(want);
    });
  }
});

describe("bad input", () => {
  test("garbage before and between units is skipped with a report; the frames are the same", () => {
    const junk = new Uint8Array(5000).map((_, i) => (i * 7919) & 0xff);
    junk[100] = 0; junk[101] = 0; junk[102] = 1; junk[103] = 0x65; // a video-looking start code: still garbage
    const mid = whole.length > 0 ? 300_000 : 0;
    // cut between two units: find a pack start near `mid`
    let at = mid;
    while (!(stream[at] === 0 && stream[at + 1] === 0 && stream[at + 2] === 1 && stream[at + 3] === 0xba)) at++;
    const data = Buffer.concat([junk, stream.subarray(0, at), junk, stream.subarray(at)]);
    const errors: string[] = [];
    const frames = demuxPs(data, { onError: (m) => errors.push(m) }).map(key);
    expect(frames).toEqual(whole);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.startsWith("ps: skipped"))).toBe(true);
  });

  test("a video PES whose length runs over the next pack is cut there; the following frames come out", () => {
    const au = (n: number) => Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, ...new Array(n).fill(0x11)]);
    const sps = Uint8Array.from([0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f]);
    const liar = pesPacket(0xe0, Buffer.concat([sps, au(100)]), 90000, 90000);
    liar[4] = 0x10; // 4096 + ... bytes declared, 100-odd present
    liar[5] = 0x00;
    const rest = [1, 2, 3].map((i) => Buffer.concat([packHeader(90000 + i * 3600), pesPacket(0xe0, au(100 + i), 90000 + i * 3600, 90000 + i * 3600)]));
    const tail = new Uint8Array(5000).fill(0x22); // filler that makes the lying length fit in the input
    const frames: PsFrame[] = [];
    const errors: string[] = [];
    const dm = new PsDemuxer((f) => frames.push(f), { onError: (m) => errors.push(m) });
    dm.feed(Buffer.concat([packHeader(86400), liar, ...rest, tail]));
    dm.flush();
    expect(dm.stats.lyingLengths).toBe(1);
    expect(errors[0]).toContain("runs over a start code");
    expect(frames.map((f) => f.pts)).toEqual([90000, 93600, 97200, 100800]);
    expect(frames.map((f) => f.data.length)).toEqual([8 + 106, 107, 108, 109]);
  });

  test("an audio PES whose length runs over the next pack is cut there", () => {
    const g711 = (n: number) => new Uint8Array(n).fill(0xd5);
    const psm = programStreamMap([{ streamType: 0x90, streamId: 0xc0 }]);
    const liar = pesPacket(0xc0, g711(320), 0, 0);
    new DataView(liar.buffer).setUint16(4, 3000);
    const rest = [1, 2].map((i) => Buffer.concat([packHeader(i * 3600), pesPacket(0xc0, g711(320), i * 3600, i * 3600)]));
    const errors: string[] = [];
    const frames = demuxPs(Buffer.concat([packHeader(0), psm, liar, ...rest, g711(4000)]), { onError: (m) => errors.push(m) });
    expect(frames.map((f) => [f.codec, f.pts, f.data.length])).toEqual([["pcma", 0, 320], ["pcma", 3600, 320], ["pcma", 7200, 320]]);
    expect(errors[0]).toContain("runs over a start code");
  });

  test("a new PSM changing the codec of a stream: the pending frame is handed out, then the new codec", () => {
    const au = (t: number) => Uint8Array.from([0, 0, 0, 1, t, 0x88, 1, 2, 3]);
    const h265 = Uint8Array.from([0, 0, 0, 1, 0x26, 0x01, 0xaf, 1, 2]); // IDR_W_RADL, first slice
    const data = Buffer.concat([
      packHeader(0), programStreamMap([{ streamType: 0x1b, streamId: 0xe0 }]), pesPacket(0xe0, au(0x65), 0, 0),
      packHeader(3600), pesPacket(0xe0, au(0x41), 3600, 3600),
      packHeader(7200), programStreamMap([{ streamType: 0x24, streamId: 0xe0 }], 1), pesPacket(0xe0, h265, 7200, 7200),
      packHeader(10800), pesPacket(0xe0, h265, 10800, 10800),
    ]);
    expect(demuxPs(data).map((f) => `${f.codec} ${f.pts}`)).toEqual(["h264 0", "h264 3600", "h265 7200", "h265 10800"]);
  });

  test("one video and one audio stream are demuxed: PES on 30 other stream ids are reported once each and hold nothing", () => {
    const au = Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, 1]);
    const parts: Uint8Array[] = [packHeader(0), pesPacket(0xe0, au, 0, 0)];
    for (let id = 0xc0; id <= 0xef; id++) if (id !== 0xe0) parts.push(pesPacket(id, Uint8Array.from([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc, 1, 2]), 0, 0, true));
    parts.push(pesPacket(0xe0, au, 3600, 3600));
    const errors: string[] = [];
    const d = new PsDemuxer(() => {}, { onError: (m) => errors.push(m) });
    d.feed(Buffer.concat(parts));
    expect(errors.filter((e) => e.includes("a second video stream")).length).toBe(15);
    expect(errors.filter((e) => e.includes("a second audio stream")).length).toBe(31);
    expect(d.bufferedBytes).toBeLessThan(200 * 1024 + 65536 + 4096);
  });

  test("a stream outside the PSM (private_stream_1) is reported once, not at every PSM", () => {
    const au = Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, 1]);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      parts.push(packHeader(i * 3600), programStreamMap([{ streamType: 0x1b, streamId: 0xe0 }]), pesPacket(0xbd, Uint8Array.from([1, 2, 3]), i * 3600, i * 3600));
      parts.push(pesPacket(0xe0, au, i * 3600, i * 3600));
    }
    const errors: string[] = [];
    expect(demuxPs(Buffer.concat(parts), { onError: (m) => errors.push(m) }).length).toBe(10);
    expect(errors).toEqual(["ps: stream 0xbd with stream_type none ignored"]);
  });

  test("a PES length that is too short leaves bytes that are skipped as garbage", () => {
    const au = (n: number) => Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, ...new Array(n).fill(0x11)]);
    const short = pesPacket(0xe0, au(500), 0, 0);
    new DataView(short.buffer).setUint16(4, ((short[4]! << 8) | short[5]!) - 200); // 200 bytes fewer declared
    const after = [1, 2].map((i) => Buffer.concat([packHeader(i * 3600), pesPacket(0xe0, au(10), i * 3600, i * 3600)]));
    const errors: string[] = [];
    const frames = demuxPs(Buffer.concat([packHeader(0), short, ...after]), { onError: (m) => errors.push(m) });
    expect(frames.map((f) => f.pts)).toEqual([0, 3600, 7200]);
    expect(frames[0]!.data.length).toBe(506 - 200);
    expect(errors).toEqual(["ps: skipped 200 bytes looking for a start code"]);
  });

  test("an unbounded PES that never ends and never starts a new access unit stays within maxFrameBytes", () => {
    const errors: string[] = [];
    const frames: PsFrame[] = [];
    const d = new PsDemuxer((f) => frames.push(f), { maxFrameBytes: 1 << 20, onError: (m) => errors.push(m) });
    d.feed(packHeader(0));
    d.feed(pesPacket(0xe0, Uint8Array.from([0, 0, 0, 1, 0x65, 0x88]), 0, 0, true));
    const body = new Uint8Array(64 * 1024).fill(0x5a);
    let max = 0;
    for (let i = 0; i < 200; i++) {
      d.feed(body);
      max = Math.max(max, d.bufferedBytes);
    }
    expect(max).toBeLessThan((1 << 20) + 300 * 1024);
    expect(d.stats.frameOverflows).toBeGreaterThan(0);
    expect(errors[0]).toContain("access unit over 1048576 bytes dropped");
    // the stream recovers at the next access unit
    d.feed(Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, 1, 2, 3]));
    d.feed(packHeader(3600));
    d.feed(pesPacket(0xe0, Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, 4, 5]), 3600, 3600));
    d.flush();
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.at(-1)!.pts).toBe(3600);
  });

  test("2^33 wrap: timestamps continue on one timeline", () => {
    const WRAP = 8589934592;
    const au = Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, 1]);
    const ts = [WRAP - 3600, WRAP - 0, 3600];
    const data = Buffer.concat(ts.flatMap((t) => [packHeader(t % WRAP), pesPacket(0xe0, au, t % WRAP, t % WRAP)]));
    expect(demuxPs(data).map((f) => f.pts)).toEqual([WRAP - 3600, WRAP, WRAP + 3600]);
  });
});

describe("fuzz", () => {
  function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
    const start = Math.floor(rnd() * (src.length - 150_000));
    let b = Uint8Array.from(src.subarray(start, start + 20_000 + Math.floor(rnd() * 130_000)));
    const ops = 1 + Math.floor(rnd() * 40);
    for (let k = 0; k < ops; k++) {
      const at = Math.floor(rnd() * b.length);
      const r = rnd();
      if (r < 0.35) b[at] = Math.floor(rnd() * 256);
      else if (r < 0.5) b[at] ^= 1 << Math.floor(rnd() * 8);
      else if (r < 0.6) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + Math.floor(rnd() * 3000)))]);
      else if (r < 0.7) {
        const junk = new Uint8Array(Math.floor(rnd() * 400)).map(() => (rnd() < 0.2 ? [0, 1, 0xba, 0xe0, 0xbc][Math.floor(rnd() * 5)]! : Math.floor(rnd() * 256)));
        b = Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
      } else if (r < 0.9) {
        // a start code here with random id and length bytes (lying lengths, zero lengths, unknown units)
        if (at + 9 < b.length) b.set([0, 0, 1, [0xba, 0xbb, 0xbc, 0xe0, 0xc0, 0xbd, 0xb9][Math.floor(rnd() * 7)]!, Math.floor(rnd() * 256), Math.floor(rnd() * 256), Math.floor(rnd() * 256), Math.floor(rnd() * 256), Math.floor(rnd() * 256)], at);
      } else {
        const n = Math.floor(rnd() * 2000);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.max(0, at - n), at), b.subarray(at)]); // duplicate a run
      }
    }
    return b;
  }

  test("300 mutated streams in random chunks: no throw, bounded buffers, well-formed output", () => {
    const MAX_FRAME = 512 * 1024;
    const rnd = prng(18);
    let frames = 0;
    let packets = 0;
    for (let i = 0; i < 300; i++) {
      const data = mutate(stream, rnd);
      const out: MediaPacket[] = [];
      const p = new PsPacketizer((x) => out.push(x), () => {});
      const { frames: f, maxBuffered } = feedChunks(data, rnd, 1 + Math.floor(rnd() * 5000), { maxFrameBytes: MAX_FRAME, onError: () => {} });
      for (const x of f) p.push(x);
      // the unit buffer + one video and one audio stream, each capped
      expect(maxBuffered).toBeLessThan(200 * 1024 + 2 * MAX_FRAME);
      for (const x of f) expect(x.data.length).toBeLessThanOrEqual(MAX_FRAME);
      for (const x of out) {
        expect(Number.isFinite(x.dts) && Number.isFinite(x.pts)).toBe(true);
        expect(x.data.length).toBeGreaterThan(0);
      }
      frames += f.length;
      packets += out.length;
    }
    expect(frames).toBeGreaterThan(1000);
    expect(packets).toBeGreaterThan(1000);
  });

  test("truncations at every 997th byte: no throw, frames are a prefix of the whole", () => {
    const data = stream.subarray(0, 120_000);
    const full = demuxPs(data).map(key);
    for (let cut = 0; cut < data.length; cut += 997) {
      const got = demuxPs(data.subarray(0, cut)).map(key);
      // all but the last (cut short) frame match the full run
      expect(got.slice(0, -1)).toEqual(full.slice(0, Math.max(0, got.length - 1)));
    }
  });
});
