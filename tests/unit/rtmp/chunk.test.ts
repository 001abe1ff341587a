import { describe, expect, test } from "bun:test";
import { ChunkReader } from "../../../lib/protocols/rtmp/chunk-reader.ts";
import { ChunkWriter, encodeChunks, encodedLength } from "../../../lib/protocols/rtmp/chunk-writer.ts";
import {
  abortMessage,
  MSG_AUDIO,
  MSG_VIDEO,
  RtmpProtocolError,
  setChunkSizeMessage,
} from "../../../lib/protocols/rtmp/messages.ts";
import type { RtmpMessage } from "../../../lib/protocols/rtmp/messages.ts";
import { prng as rng } from "../../helpers/prng.ts";


function payload(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const strip = (m: RtmpMessage) => ({ ...m, payload: Buffer.from(m.payload).toString("hex") });

describe("chunk writer", () => {
  test("fmt0 header layout, little-endian stream id, fmt3 continuations", () => {
    const b = encodeChunks({ csid: 4, type: 9, streamId: 1, timestamp: 0x010203, payload: payload(300, 1) }, 128);
    expect(Array.from(b.subarray(0, 12))).toEqual([0x04, 1, 2, 3, 0, 0x01, 0x2c, 9, 1, 0, 0, 0]);
    expect(b[12 + 128]).toBe(0xc4);
    expect(b[12 + 128 + 1 + 128]).toBe(0xc4);
    expect(b.length).toBe(12 + 300 + 2);
    expect(b.length).toBe(encodedLength(4, 300, 0x010203, 128));
  });

  test("2- and 3-byte basic headers", () => {
    const b2 = encodeChunks({ csid: 64 + 5, type: 8, streamId: 0, timestamp: 0, payload: payload(10, 0) }, 128);
    expect(Array.from(b2.subarray(0, 2))).toEqual([0x00, 5]);
    const b3 = encodeChunks({ csid: 65599, type: 8, streamId: 0, timestamp: 0, payload: payload(200, 0) }, 128);
    expect(Array.from(b3.subarray(0, 3))).toEqual([0x01, 0xff, 0xff]);
    expect(Array.from(b3.subarray(3 + 11 + 128, 3 + 11 + 128 + 3))).toEqual([0xc1, 0xff, 0xff]);
    expect(() => encodeChunks({ csid: 1, type: 8, streamId: 0, timestamp: 0, payload: payload(1, 0) }, 128)).toThrow();
  });

  test("extended timestamp repeated on fmt3 chunks; timestamps mod 2^32", () => {
    const b = encodeChunks({ csid: 3, type: 9, streamId: 1, timestamp: 0x1_2345_6789, payload: payload(200, 2) }, 128);
    expect(Array.from(b.subarray(1, 4))).toEqual([0xff, 0xff, 0xff]);
    expect(Array.from(b.subarray(12, 16))).toEqual([0x23, 0x45, 0x67, 0x89]);
    const c = 16 + 128;
    expect(Array.from(b.subarray(c, c + 5))).toEqual([0xc3, 0x23, 0x45, 0x67, 0x89]);
  });

  test("empty payload is one header", () => {
    expect(encodeChunks({ csid: 3, type: 20, streamId: 0, timestamp: 0, payload: new Uint8Array(0) }, 128).length).toBe(12);
  });

  test("ChunkWriter switches size after Set Chunk Size", () => {
    const w = new ChunkWriter();
    const scs = w.write(setChunkSizeMessage(4096));
    expect(scs.length).toBe(16);
    expect(w.chunkSize).toBe(4096);
    expect(w.write({ csid: 6, type: 8, streamId: 1, timestamp: 0, payload: payload(4096, 0) }).length).toBe(12 + 4096);
  });
});

function roundTrip(msgs: RtmpMessage[], chunkSize: number, feedSizes?: (r: () => number) => number): RtmpMessage[] {
  const w = new ChunkWriter();
  const parts: Uint8Array[] = [];
  if (chunkSize !== 128) parts.push(w.write(setChunkSizeMessage(chunkSize)));
  for (const m of msgs) parts.push(w.write(m));
  const wire = concat(parts);
  const reader = new ChunkReader();
  const out: RtmpMessage[] = [];
  if (!feedSizes) out.push(...reader.feed(wire));
  else {
    const r = rng(chunkSize);
    for (let o = 0; o < wire.length;) {
      const n = Math.max(1, feedSizes(r));
      out.push(...reader.feed(wire.slice(o, o + n)));
      o += n;
    }
  }
  expect(reader.bufferedBytes).toBe(0);
  return chunkSize !== 128 ? out.slice(1) : out;
}

describe("chunk reader round trips", () => {
  const sizes = [0, 1, 2, 127, 128, 129, 255, 256, 1000, 4095, 4096, 4097, 59999, 60000, 60001, 70000, 200000];
  for (const cs of [128, 4096, 60000]) {
    test(`chunk size ${cs}, payloads of many sizes, interleaved csids, whole and split feeds`, () => {
      const msgs: RtmpMessage[] = sizes.map((n, i) => ({
        csid: [3, 4, 6, 7, 70, 400][i % 6]!,
        type: i % 2 === 0 ? MSG_VIDEO : MSG_AUDIO,
        streamId: i % 3,
        timestamp: i * 1000 + (i % 4 === 0 ? 0xfffff0 : 0),
        payload: payload(n, i),
      }));
      const want = msgs.map(strip);
      expect(roundTrip(msgs, cs).map(strip)).toEqual(want);
      expect(roundTrip(msgs, cs, (r) => Math.floor(r() * 3000)).map(strip)).toEqual(want);
      expect(roundTrip(msgs, cs, (r) => Math.floor(r() * 20)).map(strip)).toEqual(want);
    });
  }

  test("interleaved chunks of different csids (hand-built) reassemble", () => {
    const a = encodeChunks({ csid: 6, type: 8, streamId: 1, timestamp: 10, payload: payload(300, 1) }, 128);
    const v = encodeChunks({ csid: 7, type: 9, streamId: 1, timestamp: 20, payload: payload(200, 2) }, 128);
    // a: [12+128][1+128][1+44]  v: [12+128][1+72]
    const wire = concat([a.subarray(0, 140), v.subarray(0, 140), a.subarray(140, 269), v.subarray(140), a.subarray(269)]);
    const out = new ChunkReader().feed(wire);
    expect(out.map((m) => [m.csid, m.timestamp, m.payload.length])).toEqual([[7, 20, 200], [6, 10, 300]]);
    expect(Buffer.from(out[1]!.payload).equals(Buffer.from(payload(300, 1)))).toBe(true);
  });

  test("split feeds at every byte boundary", () => {
    const msgs: RtmpMessage[] = [
      { csid: 3, type: 20, streamId: 0, timestamp: 0, payload: payload(150, 1) },
      { csid: 70, type: 9, streamId: 1, timestamp: 0x1000000, payload: payload(300, 2) },
      { csid: 3, type: 20, streamId: 0, timestamp: 5, payload: payload(3, 3) },
      { csid: 400, type: 8, streamId: 1, timestamp: 7, payload: payload(0, 0) },
      { csid: 70, type: 9, streamId: 1, timestamp: 0x1000021, payload: payload(130, 4) },
    ];
    const wire = concat(msgs.map((m) => encodeChunks(m, 128)));
    const want = msgs.map(strip);
    for (let i = 0; i <= wire.length; i++) {
      for (const j of [i, Math.min(wire.length, i + 1), Math.min(wire.length, i + 17)]) {
        const r = new ChunkReader();
        const out = [...r.feed(wire.slice(0, i)), ...r.feed(wire.slice(i, j)), ...r.feed(wire.slice(j))];
        expect(out.map(strip)).toEqual(want);
      }
    }
  });

  test("single-chunk message in one buffer is a zero-copy view", () => {
    const wire = encodeChunks({ csid: 6, type: 8, streamId: 1, timestamp: 0, payload: payload(100, 1) }, 128);
    const [m] = new ChunkReader().feed(wire);
    expect(m!.payload.buffer).toBe(wire.buffer);
    expect(m!.payload.byteOffset).toBe(12);
  });
});

/** Build chunks by hand: fmt, csid, header fields. */
function chunk(fmt: number, csid: number, fields: number[], body: number[] = []): number[] {
  const bh = csid < 64 ? [(fmt << 6) | csid] : [fmt << 6, csid - 64];
  return [...bh, ...fields, ...body];
}
const u24 = (v: number) => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const u32 = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

describe("chunk reader header types", () => {
  test("fmt1/fmt2/fmt3 timestamp deltas; fmt3 new message after fmt0 adds the fmt0 timestamp", () => {
    const bytes = [
      ...chunk(0, 4, [...u24(1000), ...u24(2), 8, 1, 0, 0, 0], [1, 2]),
      ...chunk(1, 4, [...u24(20), ...u24(1), 9], [3]),
      ...chunk(2, 4, [...u24(30)], [4]),
      ...chunk(3, 4, [], [5]),
      ...chunk(0, 5, [...u24(100), ...u24(1), 8, 1, 0, 0, 0], [6]),
      ...chunk(3, 5, [], [7]),
    ];
    const out = new ChunkReader().feed(new Uint8Array(bytes));
    expect(out.map((m) => [m.csid, m.type, m.streamId, m.timestamp, Array.from(m.payload)])).toEqual([
      [4, 8, 1, 1000, [1, 2]],
      [4, 9, 1, 1020, [3]],
      [4, 9, 1, 1050, [4]],
      [4, 9, 1, 1080, [5]],
      [5, 8, 1, 100, [6]],
      [5, 8, 1, 200, [7]],
    ]);
  });

  test("extended timestamp: fmt3 continuation with and without the repeated field", () => {
    const body = Array.from({ length: 130 }, (_, i) => i & 0xff);
    const head = chunk(0, 4, [0xff, 0xff, 0xff, ...u24(130), 9, 1, 0, 0, 0, ...u32(0x12345678)], body.slice(0, 128));
    const withExt = [...head, ...chunk(3, 4, u32(0x12345678), body.slice(128))];
    const without = [...head, ...chunk(3, 4, [], body.slice(128))];
    for (const b of [withExt, without]) {
      const [m] = new ChunkReader().feed(new Uint8Array(b));
      expect(m!.timestamp).toBe(0x12345678);
      expect(Array.from(m!.payload)).toEqual(body);
    }
    // Split right after the fmt3 basic header: the reader must wait to decide.
    for (const b of [withExt, without]) {
      for (let cut = head.length; cut <= head.length + 5; cut++) {
        const r = new ChunkReader();
        const out = [...r.feed(new Uint8Array(b.slice(0, cut))), ...r.feed(new Uint8Array(b.slice(cut)))];
        expect(out.length).toBe(1);
        expect(Array.from(out[0]!.payload)).toEqual(body);
      }
    }
  });

  test("fmt3 new message with extended delta", () => {
    const b = [
      ...chunk(0, 4, [0xff, 0xff, 0xff, ...u24(1), 9, 1, 0, 0, 0, ...u32(0x1000000)], [1]),
      ...chunk(3, 4, u32(0x1000000), [2]),
    ];
    const out = new ChunkReader().feed(new Uint8Array(b));
    expect(out.map((m) => m.timestamp)).toEqual([0x1000000, 0x2000000]);
  });

  test("set chunk size applies to the rest of the same buffer; abort drops a partial message", () => {
    const w = new ChunkWriter();
    const big = payload(1000, 9);
    const wire = concat([
      w.write(setChunkSizeMessage(500)),
      w.write({ csid: 6, type: 8, streamId: 1, timestamp: 1, payload: big }),
    ]);
    const out = new ChunkReader().feed(wire);
    expect(out.length).toBe(2);
    expect(Buffer.from(out[1]!.payload).equals(Buffer.from(big))).toBe(true);

    const partial = encodeChunks({ csid: 6, type: 8, streamId: 1, timestamp: 1, payload: payload(300, 1) }, 128).subarray(0, 140);
    const r = new ChunkReader();
    r.feed(concat([partial, encodeChunks(abortMessage(6), 128)]));
    expect(r.bufferedBytes).toBe(0);
    const next = r.feed(encodeChunks({ csid: 6, type: 8, streamId: 1, timestamp: 2, payload: payload(5, 1) }, 128));
    expect(next.map((m) => m.payload.length)).toEqual([5]);
  });

  test("fmt1 on a fresh csid is accepted (librtmp ping), fmt2/fmt3 are errors", () => {
    const ok = new ChunkReader().feed(new Uint8Array(chunk(1, 2, [...u24(0), ...u24(6), 4], [0, 6, 0, 0, 0, 1])));
    expect(ok[0]!.type).toBe(4);
    expect(() => new ChunkReader().feed(new Uint8Array(chunk(2, 9, u24(0), [1])))).toThrow(RtmpProtocolError);
    expect(() => new ChunkReader().feed(new Uint8Array(chunk(3, 9, [], [1])))).toThrow(RtmpProtocolError);
  });
});

describe("chunk reader bounds", () => {
  test("huge declared length -> error without allocating", () => {
    const r = new ChunkReader({ maxMessageLength: 1024 * 1024 });
    expect(() => r.feed(new Uint8Array(chunk(0, 4, [...u24(0), ...u24(0xffffff), 9, 1, 0, 0, 0], [1, 2, 3])))).toThrow(
      /exceeds the limit/,
    );
  });

  test("declared 16 MiB messages on many csids don't allocate their declared size", () => {
    const r = new ChunkReader();
    // Each first chunk is complete (128 bytes), so the next header belongs to the next csid.
    const body = Array(128).fill(1);
    for (let cs = 3; cs < 60; cs++) r.feed(new Uint8Array(chunk(0, cs, [...u24(0), ...u24(0xfffff0), 9, 1, 0, 0, 0], body)));
    expect(r.bufferedBytes).toBe(57 * 128);
  });

  test("too many partial csids", () => {
    const r = new ChunkReader({ maxPartialStreams: 4 });
    const open = (cs: number) =>
      r.feed(new Uint8Array(chunk(0, cs, [...u24(0), ...u24(1000), 9, 1, 0, 0, 0], Array(128).fill(1))));
    for (let cs = 3; cs < 7; cs++) open(cs);
    expect(() => open(7)).toThrow(RtmpProtocolError);
  });

  test("pending bytes bound", () => {
    const r = new ChunkReader({ maxPendingBytes: 1000, chunkSize: 600 });
    const open = (cs: number) =>
      r.feed(new Uint8Array(chunk(0, cs, [...u24(0), ...u24(100000), 9, 1, 0, 0, 0], Array(600).fill(1))));
    open(3);
    expect(() => open(4)).toThrow(/more than 1000 bytes/);
  });

  test("set chunk size 0 is an error; top bit is ignored", () => {
    const zero = encodeChunks({ csid: 2, type: 1, streamId: 0, timestamp: 0, payload: new Uint8Array(4) }, 128);
    expect(() => new ChunkReader().feed(zero)).toThrow(RtmpProtocolError);
    const r = new ChunkReader();
    r.feed(encodeChunks({ csid: 2, type: 1, streamId: 0, timestamp: 0, payload: new Uint8Array(u32(0x80001000)) }, 128));
    expect(r.chunkSize).toBe(0x1000);
  });

  test("fmt0 with a different length inside an unfinished message is an error", () => {
    const r = new ChunkReader();
    r.feed(new Uint8Array(chunk(0, 4, [...u24(0), ...u24(200), 9, 1, 0, 0, 0], Array(128).fill(0))));
    expect(() => r.feed(new Uint8Array(chunk(0, 4, [...u24(0), ...u24(5), 9, 1, 0, 0, 0], [1])))).toThrow(RtmpProtocolError);
  });
});

describe("chunk reader fuzz", () => {
  test("random and mutated input: only RtmpProtocolError, bounded, no hang", () => {
    const r = rng(1234);
    const base = concat([
      encodeChunks(setChunkSizeMessage(200), 128),
      ...Array.from({ length: 20 }, (_, i) =>
        encodeChunks(
          { csid: [3, 4, 70, 400][i % 4]!, type: 8 + (i % 2), streamId: 1, timestamp: i * 0x7fffff, payload: payload(i * 37, i) },
          200,
        )),
    ]);
    const t0 = Date.now();
    for (let iter = 0; iter < 3000; iter++) {
      let input: Uint8Array;
      if (iter % 3 === 0) input = new Uint8Array(Math.floor(r() * 400)).map(() => Math.floor(r() * 256));
      else {
        input = base.slice();
        const n = 1 + Math.floor(r() * 6);
        for (let j = 0; j < n; j++) input[Math.floor(r() * input.length)] = Math.floor(r() * 256);
        if (r() < 0.3) input = input.subarray(0, Math.floor(r() * input.length));
      }
      const reader = new ChunkReader({ maxMessageLength: 1 << 20, maxPendingBytes: 1 << 20 });
      try {
        for (let o = 0; o < input.length;) {
          const n = 1 + Math.floor(r() * 300);
          for (const m of reader.feed(input.subarray(o, o + n))) expect(m.payload.length).toBeLessThanOrEqual(1 << 20);
          o += n;
        }
      } catch (e) {
        if (!(e instanceof RtmpProtocolError)) throw e;
      }
      expect(reader.bufferedBytes).toBeLessThanOrEqual((1 << 20) + 18);
    }
    expect(Date.now() - t0).toBeLessThan(20000);
  });
});
