/**
 * MPEG-TS demuxer: the three TS clips against ffprobe -show_packets (counts, pts/dts to the ms, keyframes),
 * config records, chunking independence, our muxer -> demuxer round trip (incl. a 2^33 wrap), and malformed
 * tables/packets one by one.
 */
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { crc32Mpeg2 } from "../../../lib/formats/mpegts-crc.ts";
import { demuxTs, TsDemuxer, TsDemuxError } from "../../../lib/formats/mpegts-demux.ts";
import { TS_PACKET_SIZE, TsMuxer } from "../../../lib/formats/mpegts-mux.ts";
import { parseAudioSpecificConfig } from "../../../lib/media/aac.ts";
import { parseAvcConfig, parseAvcSps, splitAvcc } from "../../../lib/media/avc.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import { parseHevcConfig, parseHevcSps } from "../../../lib/media/hevc.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { type ClipName, clip } from "../../helpers/media.ts";

interface ProbePacket {
  codec_type: string;
  pts: number;
  dts: number;
  flags: string;
}

function probePackets(file: string): ProbePacket[] {
  const j = JSON.parse(execFileSync("ffprobe", [
    "-v", "error", "-show_entries", "packet=codec_type,pts,dts,flags", "-of", "json", file,
  ], { maxBuffer: 64 << 20 }).toString()) as { packets: ProbePacket[] };
  return j.packets;
}

function read(name: ClipName): Uint8Array {
  return new Uint8Array(readFileSync(clip(name)));
}

function frames(ps: MediaPacket[], kind: "video" | "audio"): MediaPacket[] {
  return ps.filter((p) => p.kind === kind && !p.config);
}

describe("clips against ffprobe", () => {
  for (const name of ["clip.ts", "clip-main.ts", "clip-hevc.ts"] as const) {
    test(name, () => {
      const ps = demuxTs(read(name), { strict: true });
      const probe = probePackets(clip(name));
      for (const kind of ["video", "audio"] as const) {
        const want = probe.filter((p) => p.codec_type === kind);
        const got = frames(ps, kind);
        expect(got.length).toBe(want.length);
        if (kind === "video") {
          expect(got.map((p) => p.pts)).toEqual(want.map((p) => Math.round(p.pts / 90)));
          expect(got.map((p) => p.dts)).toEqual(want.map((p) => Math.round(p.dts / 90)));
          expect(got.map((p) => p.keyframe)).toEqual(want.map((p) => p.flags.startsWith("K")));
        } else {
          // Audio frames after the first of a PES are interpolated (+1024 samples each). We round the exact
          // sample time; ffmpeg's running sum differs by under one 90 kHz tick, which shows only when the
          // time sits on a half millisecond: allow 1 ms there, and require almost all to be equal.
          let equal = 0;
          for (let i = 0; i < got.length; i++) {
            const w = Math.round(want[i]!.pts / 90);
            expect(Math.abs(got[i]!.pts - w)).toBeLessThanOrEqual(1);
            expect(got[i]!.dts).toBe(got[i]!.pts);
            if (got[i]!.pts === w) equal++;
          }
          expect(equal).toBeGreaterThanOrEqual(got.length - 10);
        }
      }
      expect(frames(ps, "video").length).toBe(250);
      expect(frames(ps, "audio").length).toBe(432);
      // configs come first on each track, then frames; data is length-prefixed without parameter sets or AUDs
      const v = ps.filter((p) => p.kind === "video");
      expect(v[0]!.config).toBe(true);
      expect(v.filter((p) => p.config).length).toBe(1);
      const hevc = name === "clip-hevc.ts";
      for (const p of v.filter((x) => !x.config)) {
        for (const n of splitAvcc(p.data)) {
          const t = hevc ? (n[0]! >> 1) & 0x3f : n[0]! & 0x1f;
          expect(hevc ? [32, 33, 34, 35] : [7, 8, 9]).not.toContain(t);
        }
        expect(p.codec).toBe(hevc ? "h265" : "h264");
      }
      if (hevc) {
        const c = parseHevcConfig(v[0]!.data);
        const sps = parseHevcSps(c.sps[0]!);
        expect([sps.width, sps.height]).toEqual([640, 360]);
        expect(c.vps.length).toBe(1);
        expect(c.pps.length).toBe(1);
      } else {
        const c = parseAvcConfig(v[0]!.data);
        const sps = parseAvcSps(c.sps[0]!);
        expect([sps.width, sps.height]).toEqual([640, 360]);
        expect(sps.profileIdc).toBe(name === "clip.ts" ? 66 : 77);
      }
      const a = ps.filter((p) => p.kind === "audio");
      expect(a[0]!.config).toBe(true);
      const asc = parseAudioSpecificConfig(a[0]!.data);
      expect([asc.objectType, asc.sampleRate, asc.channels]).toEqual([2, 44100, 2]);
      expect(a.filter((p) => p.config).length).toBe(1);
    });
  }
});

describe("chunking", () => {
  test("any chunk sizes give the same packets as the whole file", () => {
    const data = read("clip-main.ts");
    const whole = demuxTs(data);
    for (const sizes of [[1], [7], [188], [1316], [187, 189, 5, 1000]]) {
      const out: MediaPacket[] = [];
      const d = new TsDemuxer((p) => out.push(p), { strict: true });
      let off = 0;
      let i = 0;
      while (off < data.length) {
        const n = sizes[i++ % sizes.length]!;
        d.feed(data.subarray(off, off + n));
        off += n;
      }
      d.flush();
      expect(out.length).toBe(whole.length);
      expect(out.map((p) => [p.kind, p.dts, p.pts, p.data.length])).toEqual(whole.map((p) => [p.kind, p.dts, p.pts, p.data.length]));
    }
  });

  test("packets are emitted as soon as they are complete (audio with a PES length, video at the next PES)", () => {
    const data = read("clip.ts");
    const out: MediaPacket[] = [];
    const d = new TsDemuxer((p) => out.push(p));
    d.feed(data.subarray(0, 188 * 200));
    const n = out.length;
    expect(n).toBeGreaterThan(5);
    d.feed(data.subarray(188 * 200));
    d.flush();
    expect(out.length).toBe(684);
  });
});

function flvPackets(name: "clip.flv" | "clip-main.flv"): MediaPacket[] {
  const out: MediaPacket[] = [];
  for (const t of demuxFlv(new Uint8Array(readFileSync(clip(name)))).tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p && p.kind !== "data") out.push(p);
  }
  return out;
}

function stripParams(p: MediaPacket): Uint8Array {
  const keep = splitAvcc(p.data).filter((n) => ![7, 8, 9, 12].includes(n[0]! & 0x1f));
  let size = 0;
  for (const n of keep) size += 4 + n.length;
  const out = new Uint8Array(size);
  let o = 0;
  for (const n of keep) {
    new DataView(out.buffer).setUint32(o, n.length);
    out.set(n, o + 4);
    o += 4 + n.length;
  }
  return out;
}

function muxAll(ps: readonly MediaPacket[], shift = 0): Uint8Array {
  const m = new TsMuxer({ video: "h264", audio: "aac" }); // tracks known up front: PAT/PMT only in packets 0 and 1
  const parts: Uint8Array[] = [m.tables()];
  for (const p of ps) {
    const b = m.mux({ ...p, dts: p.dts + shift, pts: p.pts + shift });
    if (b) parts.push(b);
  }
  return Buffer.concat(parts);
}

describe("round trip through our muxer", () => {
  for (const name of ["clip.flv", "clip-main.flv"] as const) {
    test(name, () => {
      const src = flvPackets(name);
      const out = demuxTs(muxAll(src), { strict: true });
      for (const kind of ["video", "audio"] as const) {
        const a = frames(src, kind);
        const b = frames(out, kind);
        expect(b.length).toBe(a.length);
        expect(b.map((p) => [p.dts, p.pts, p.keyframe])).toEqual(a.map((p) => [p.dts, p.pts, p.keyframe]));
        for (let i = 0; i < a.length; i++) {
          const want = kind === "video" ? stripParams(a[i]!) : a[i]!.data;
          expect(Buffer.compare(Buffer.from(b[i]!.data), Buffer.from(want))).toBe(0);
        }
      }
      const vc = src.find((p) => p.kind === "video" && p.config)!;
      const vc2 = out.find((p) => p.kind === "video" && p.config)!;
      expect(parseAvcConfig(vc2.data).sps[0]).toEqual(parseAvcConfig(vc.data).sps[0]!);
      const ac = src.find((p) => p.kind === "audio" && p.config)!;
      const ac2 = out.find((p) => p.kind === "audio" && p.config)!;
      expect(parseAudioSpecificConfig(ac2.data).sampleRate).toBe(parseAudioSpecificConfig(ac.data).sampleRate);
    });
  }

  test("timestamps continue across the 2^33 wrap (26.5 hours)", () => {
    const src = flvPackets("clip.flv");
    const wrapMs = 8589934592 / 90;
    const shift = Math.round(wrapMs - 3000); // wraps 3 s into the clip
    const out = demuxTs(muxAll(src, shift), { strict: true });
    const v = frames(out, "video");
    const a = frames(src, "video");
    expect(v.length).toBe(a.length);
    for (let i = 0; i < v.length; i++) expect(Math.abs(v[i]!.dts - (a[i]!.dts + shift))).toBeLessThanOrEqual(1);
    for (let i = 1; i < v.length; i++) expect(v[i]!.dts).toBeGreaterThan(v[i - 1]!.dts);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed input, one defect at a time, on a small valid stream.

function smallStream(): Uint8Array {
  const src = flvPackets("clip.flv").slice(0, 60);
  return muxAll(src);
}

function run(data: Uint8Array, strict = false): { out: MediaPacket[]; d: TsDemuxer; warnings: string[] } {
  const out: MediaPacket[] = [];
  const warnings: string[] = [];
  const d = new TsDemuxer((p) => out.push(p), { strict, onWarning: (m) => warnings.push(m) });
  d.feed(data);
  d.flush();
  return { out, d, warnings };
}

function pidOf(b: Uint8Array, i: number): number {
  return ((b[i * 188 + 1]! & 0x1f) << 8) | b[i * 188 + 2]!;
}

describe("malformed input", () => {
  const good = smallStream();
  const goodOut = run(good).out;
  const nPackets = good.length / TS_PACKET_SIZE;

  test("the reference stream is clean", () => {
    const { d, warnings } = run(good, true);
    expect(warnings).toEqual([]);
    expect(d.tracks.map((t) => t.codec)).toEqual(["h264", "aac"]);
    expect(goodOut.length).toBeGreaterThan(50);
  });

  const cases: { name: string; lenient?: true; mutate(b: Uint8Array): Uint8Array; check(r: ReturnType<typeof run>): void }[] = [
    {
      name: "PAT with a bad CRC: no program, nothing out",
      mutate: (b) => {
        b[5 + 12] ^= 0xff; // first byte of the PAT CRC (every PAT of this stream is in packet 0)
        return b;
      },
      check: (r) => {
        expect(r.d.stats.crcErrors).toBe(1);
        expect(r.out.length).toBe(0);
      },
    },
    {
      name: "PMT with a bad CRC",
      mutate: (b) => {
        b[188 + 5 + 10] ^= 0x01;
        return b;
      },
      check: (r) => {
        expect(r.d.stats.crcErrors).toBe(1);
        expect(r.d.tracks.length).toBe(0);
      },
    },
    {
      name: "PMT section_length past 1021 is refused",
      mutate: (b) => {
        b[188 + 5 + 1] = 0xbf;
        b[188 + 5 + 2] = 0xff;
        return b;
      },
      check: (r) => {
        expect(r.d.stats.tableErrors).toBe(1);
        expect(r.out.length).toBe(0);
      },
    },
    {
      name: "pointer_field past the packet",
      mutate: (b) => {
        b[4] = 200;
        return b;
      },
      check: (r) => expect(r.d.stats.tableErrors).toBe(1),
    },
    {
      name: "garbage before and inside the stream: resync on 0x47",
      mutate: (b) => {
        const junk = new Uint8Array(77).fill(0x47); // sync bytes that do not repeat every 188 bytes
        return Buffer.concat([Uint8Array.of(1, 2, 3, 0x47, 9), b.subarray(0, 188 * 300), junk, b.subarray(188 * 300)]);
      },
      check: (r) => {
        expect(r.d.stats.syncLosses).toBe(2);
        expect(r.d.stats.skippedBytes).toBe(5 + 77);
        expect(r.out.length).toBe(goodOut.length);
      },
    },
    {
      name: "a lost packet (continuity gap) drops only the PES it belonged to",
      mutate: (b) => {
        // a packet in the middle of the second video PES (not the keyframe, whose loss would cost the GOP)
        let lost = -1;
        let starts = 0;
        for (let i = 2; i < nPackets && lost < 0; i++) {
          if (pidOf(b, i) !== 0x100) continue;
          if (b[i * 188 + 1]! & 0x40) starts++;
          else if (starts === 2) lost = i;
        }
        return Buffer.concat([b.subarray(0, lost * 188), b.subarray((lost + 1) * 188)]);
      },
      check: (r) => {
        expect(r.d.stats.ccErrors).toBe(1);
        expect(frames(r.out, "video").length).toBe(frames(goodOut, "video").length - 1);
        expect(frames(r.out, "audio").length).toBe(frames(goodOut, "audio").length);
      },
    },
    {
      name: "a duplicated packet is ignored",
      lenient: true, // allowed by 2.4.3.3: not an error even in strict mode
      mutate: (b) => {
        const i = 30;
        return Buffer.concat([b.subarray(0, (i + 1) * 188), b.subarray(i * 188, (i + 1) * 188), b.subarray((i + 1) * 188)]);
      },
      check: (r) => {
        expect(r.d.stats.duplicates).toBe(1);
        expect(r.out.length).toBe(goodOut.length);
      },
    },
    {
      name: "transport_error_indicator drops the packet",
      mutate: (b) => {
        for (let i = 10; i < nPackets; i++) if (pidOf(b, i) === 0x101) { b[i * 188 + 1] |= 0x80; break; }
        return b;
      },
      check: (r) => {
        expect(r.d.stats.transportErrors).toBe(1);
        expect(r.d.stats.ccErrors).toBe(1); // the next packet of that PID then shows the gap
      },
    },
    {
      name: "adaptation_field_length 184 with payload",
      mutate: (b) => {
        for (let i = 2; i < nPackets; i++) if ((b[i * 188 + 3]! & 0x30) === 0x30) { b[i * 188 + 4] = 184; break; }
        return b;
      },
      check: (r) => expect(r.d.stats.pesErrors).toBeGreaterThanOrEqual(1),
    },
    {
      name: "a PES without the 00 00 01 start code",
      mutate: (b) => {
        for (let i = 2; i < nPackets; i++) {
          if (pidOf(b, i) === 0x101 && b[i * 188 + 1]! & 0x40) {
            const af = (b[i * 188 + 3]! & 0x20) ? 1 + b[i * 188 + 4]! : 0;
            b[i * 188 + 4 + af + 2] = 7;
            break;
          }
        }
        return b;
      },
      check: (r) => {
        expect(r.d.stats.pesErrors).toBe(1);
        expect(frames(r.out, "audio").length).toBe(frames(goodOut, "audio").length - 1);
      },
    },
    {
      name: "scrambled payload is dropped",
      mutate: (b) => {
        for (let i = 2; i < nPackets; i++) if (pidOf(b, i) === 0x101) { b[i * 188 + 3] |= 0x80; break; }
        return b;
      },
      check: (r) => expect(r.d.stats.scrambled).toBe(1),
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const data = c.mutate(Uint8Array.from(good)); // (Buffer.slice would be a view)
      c.check(run(data));
      if (c.lenient) expect(run(data, true).out.length).toBe(goodOut.length);
      else expect(() => run(data, true)).toThrow(TsDemuxError);
    });
  }

  test("a PES over maxPesBytes is dropped, memory stays bounded", () => {
    const out: MediaPacket[] = [];
    const d = new TsDemuxer((p) => out.push(p), { maxPesBytes: 4096 });
    d.feed(good);
    d.flush();
    expect(d.stats.pesOverflows).toBeGreaterThan(0);
    expect(frames(out, "audio").length).toBe(frames(goodOut, "audio").length);
    expect(d.bufferedBytes).toBeLessThan(4096 * 2 + 10000);
  });

  test("a PMT split over two packets, and a second PMT version replacing the tracks", () => {
    // hand-made PMT (program 1, PCR 0x100) listing H.264 on 0x100 with a long ES descriptor to force 2 packets
    const section = (version: number, streams: [number, number][], pad: number): Uint8Array => {
      const es: number[] = [];
      for (const [st, pid] of streams) {
        const desc = new Array<number>(pad).fill(0);
        if (pad) {
          desc[0] = 0xf0; // user private descriptor tag
          desc[1] = pad - 2;
        }
        es.push(st, 0xe0 | (pid >> 8), pid & 0xff, 0xf0 | (desc.length >> 8), desc.length & 0xff, ...desc);
      }
      const len = 9 + es.length + 4;
      const s = [0x02, 0xb0 | (len >> 8), len & 0xff, 0, 1, 0xc1 | (version << 1), 0, 0, 0xe1, 0x00, 0xf0, 0, ...es];
      const crc = crc32Mpeg2(Uint8Array.from(s));
      return Uint8Array.from([...s, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
    };
    const packets = (pid: number, bytes: Uint8Array, cc0: number): Uint8Array[] => {
      const out: Uint8Array[] = [];
      const payload = Uint8Array.from([0, ...bytes]);
      for (let o = 0, cc = cc0; o < payload.length; o += 184, cc++) {
        const p = new Uint8Array(188).fill(0xff);
        p.set([0x47, (o === 0 ? 0x40 : 0) | (pid >> 8), pid & 0xff, 0x10 | (cc & 15)]);
        p.set(payload.subarray(o, o + 184), 4);
        out.push(p);
      }
      return out;
    };
    const m = new TsMuxer();
    const pat = m.tables().subarray(0, 188);
    const big = section(0, [[0x1b, 0x100]], 250);
    const parts = [pat, ...packets(0x1001, big, 0)];
    expect(parts.length).toBe(3);
    const d = new TsDemuxer(() => {}, { strict: true });
    d.feed(Buffer.concat(parts));
    expect(d.tracks).toEqual([{ pid: 0x100, streamType: 0x1b, codec: "h264" }]);
    const v1 = section(1, [[0x24, 0x200], [0x0f, 0x201], [0x03, 0x202]], 0);
    d.feed(Buffer.concat(packets(0x1001, v1, 2)));
    expect(d.tracks).toEqual([{ pid: 0x200, streamType: 0x24, codec: "h265" }, { pid: 0x201, streamType: 0x0f, codec: "aac" }]);
  });

  test("Opus (stream type 6, registration 'Opus'): OpusHead then one packet per access unit", () => {
    const pmt = (() => {
      const es = [0x06, 0xe1, 0x01, 0xf0, 10, 0x05, 4, 0x4f, 0x70, 0x75, 0x73, 0x7f, 2, 0x80, 2];
      const len = 9 + es.length + 4;
      const s = [0x02, 0xb0, len, 0, 1, 0xc1, 0, 0, 0xe1, 0x01, 0xf0, 0, ...es];
      const crc = crc32Mpeg2(Uint8Array.from(s));
      return Uint8Array.from([0, ...s, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
    })();
    const ts = (pid: number, payload: Uint8Array, pusi: boolean, cc: number): Uint8Array => {
      const p = new Uint8Array(188).fill(0xff);
      const stuff = 184 - payload.length;
      p.set([0x47, (pusi ? 0x40 : 0) | (pid >> 8), pid & 0xff, (stuff ? 0x30 : 0x10) | cc]);
      if (stuff) {
        p[4] = stuff - 1;
        if (stuff > 1) p[5] = 0;
      }
      p.set(payload, 4 + stuff);
      return p;
    };
    // two 20 ms CELT frames (TOC config 31 -> 20 ms, code 0) of 5 bytes, in one PES at pts 90000 (1 s)
    const au = [0x7f, 0xe0, 5, 0xf8, 1, 2, 3, 4];
    const esData = [...au, ...au];
    const pesLen = 3 + 5 + esData.length;
    const pes = Uint8Array.from([0, 0, 1, 0xbd, 0, pesLen, 0x80, 0x80, 5, 0x21, 0x00, 0x05, 0xbf, 0x21, ...esData]);
    const pat = new TsMuxer().tables().subarray(0, 188).slice();
    // point the PAT at PMT pid 0x1001 (as the muxer does) and send our PMT there
    const out = demuxTs(Buffer.concat([pat, ts(0x1001, pmt, true, 0), ts(0x101, pes, true, 0)]), { strict: true });
    expect(out.map((p) => [p.codec, p.config, p.dts, p.data.length])).toEqual([
      ["opus", true, 1000, 19],
      ["opus", false, 1000, 5],
      ["opus", false, 1020, 5],
    ]);
    expect(new TextDecoder().decode(out[0]!.data.subarray(0, 8))).toBe("OpusHead");
  });
});
