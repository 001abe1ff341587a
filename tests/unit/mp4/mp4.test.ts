/**
 * The MP4 muxer against FFmpeg: clip.flv (H.264 baseline + AAC) and clip-main.flv (B-frames) are demuxed into
 * MediaPackets, muxed to fragmented MP4, then finalized in place to a progressive MP4. ffprobe must see h264 +
 * aac, 10 s, every frame, the source's pts - dts pattern; `ffmpeg -f null` must decode both without a word.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import {
  encodeFragment,
  encodeInitSegment,
  fileHandleAccess,
  finalizeFragmentedMp4,
  FragmentedMp4Muxer,
  type FragmentInfo,
  memoryAccess,
  type Mp4Track,
  topLevelTypes,
  videoTrack,
} from "../../../lib/formats/mp4/index.ts";
import { joinAvcc, splitAnnexB } from "../../../lib/media/avc.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import { buildHevcConfig, hevcNaluType } from "../../../lib/media/hevc.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";
import { tempDir } from "../../helpers/temp.ts";
import { clipPackets } from "../../helpers/clip-packets.ts";

const work = tempDir("srs-ts-mp4-");
afterAll(() => rmSync(work, { recursive: true, force: true }));


interface Muxed {
  init: Uint8Array;
  fragments: Uint8Array[];
  infos: FragmentInfo[];
  tracks: readonly Mp4Track[];
  warnings: string[];
}

function mux(packets: MediaPacket[], opts = {}): Muxed {
  const m: Muxed = { init: new Uint8Array(0), fragments: [], infos: [], tracks: [], warnings: [] };
  const muxer = new FragmentedMp4Muxer({
    init: (b, t) => {
      m.init = b;
      m.tracks = t;
    },
    fragment: (parts, info) => {
      m.fragments.push(Buffer.concat(parts));
      m.infos.push(info);
    },
    warn: (w) => m.warnings.push(w),
  }, opts);
  for (const p of packets) muxer.push(p);
  muxer.end();
  return m;
}

function lastBoxOffset(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  let last = 0;
  while (off + 8 <= b.length) {
    last = off;
    off += dv.getUint32(off);
  }
  return last;
}

function fileOf(m: Muxed): Uint8Array {
  return Buffer.concat([m.init, ...m.fragments]);
}

interface Probe {
  streams: { codec_name: string; codec_type: string; nb_frames?: string; nb_read_frames?: string; width?: number; sample_rate?: string }[];
  format: { duration: string };
}

function probe(file: string): Probe {
  const out = execFileSync("ffprobe", ["-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", file], {
    encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as Probe;
}

/** pts - dts (ms, rounded) of every video packet, in decode order. */
function videoCtoPattern(file: string): number[] {
  const out = execFileSync("ffprobe", [
    "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time", "-of", "csv=p=0", file,
  ], { encoding: "utf8", maxBuffer: 64 << 20 });
  return out.trim().split("\n").map((l) => {
    const [pts, dts] = l.split(",").map(Number);
    return Math.round((pts! - dts!) * 1000);
  });
}

function decodeErrors(file: string): string {
  const r = spawnSync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], { encoding: "utf8" });
  return `${r.status === 0 ? "" : `exit ${r.status}\n`}${r.stderr}`;
}

function checkFile(file: string, source: MediaPacket[]): void {
  const p = probe(file);
  const v = p.streams.find((s) => s.codec_type === "video")!;
  const a = p.streams.find((s) => s.codec_type === "audio")!;
  expect(v.codec_name).toBe("h264");
  expect(v.width).toBe(640);
  expect(a.codec_name).toBe("aac");
  expect(a.sample_rate).toBe("44100");
  expect(Math.abs(Number(p.format.duration) - 10)).toBeLessThan(0.1);
  const srcVideo = source.filter((x) => x.kind === "video" && !x.config);
  const srcAudio = source.filter((x) => x.kind === "audio" && !x.config);
  expect(Number(v.nb_read_frames)).toBe(srcVideo.length);
  expect(Number(a.nb_read_frames)).toBe(srcAudio.length);
  expect(videoCtoPattern(file)).toEqual(srcVideo.map((x) => x.pts - x.dts));
  expect(decodeErrors(file)).toBe("");
}

for (const name of ["clip.flv", "clip-main.flv"] as const) {
  describe(`mp4 from ${name}`, () => {
    const source = clipPackets(name);
    const m = mux(source);

    test("init segment + fragments of 1-2 s, each starting on a keyframe", () => {
      expect(m.tracks.map((t) => `${t.kind}:${t.codec}`)).toEqual(["video:h264", "audio:aac"]);
      expect(topLevelTypes(m.init)).toEqual(["ftyp", "moov"]);
      expect(m.warnings).toEqual([]);
      expect(m.fragments.length).toBeGreaterThanOrEqual(5);
      for (const i of m.infos.slice(0, -1)) {
        expect(i.durationMs).toBeGreaterThanOrEqual(999);
        expect(i.durationMs).toBeLessThanOrEqual(2100); // GOP 2 s
        expect(i.keyframe).toBe(true);
      }
    });

    test("fragmented MP4 plays in FFmpeg (codecs, duration, frames, pts/dts)", () => {
      const f = join(work, `${name}.frag.mp4`);
      writeFileSync(f, fileOf(m));
      checkFile(f, source);
    });

    test("finalized in place to a progressive MP4 (stts/ctts/stss/stsz/stco), same media", async () => {
      const f = join(work, `${name}.final.mp4`);
      writeFileSync(f, fileOf(m));
      const h = await open(f, "r+");
      const r = await finalizeFragmentedMp4(fileHandleAccess(h), m.tracks);
      await h.close();
      expect(r.fragments).toBe(m.fragments.length);
      expect(r.truncated).toBe(0);
      expect(Math.abs(r.durationMs - 10000)).toBeLessThan(100);
      const bytes = new Uint8Array(readFileSync(f));
      const types = topLevelTypes(bytes);
      expect(types[0]).toBe("ftyp");
      expect(types.at(-1)).toBe("moov");
      expect(types.filter((t) => t === "moov").length).toBe(1);
      expect(types).not.toContain("moof");
      const moov = Buffer.from(bytes.subarray(lastBoxOffset(bytes)));
      for (const box of ["stts", "stss", "stsz", "stco", "stsc", "avcC", "esds"]) expect(moov.includes(box)).toBe(true);
      expect(moov.includes("mvex")).toBe(false);
      expect(moov.includes("ctts")).toBe(name === "clip-main.flv");
      checkFile(f, source);
    });

    test("a crash mid-fragment: the partial tail is ignored by players and cut by the finalizer", async () => {
      const whole = fileOf(m);
      const cut = whole.subarray(0, whole.length - Math.floor(m.fragments.at(-1)!.length / 2));
      const f = join(work, `${name}.crash.mp4`);
      writeFileSync(f, cut);
      const p = probe(f);
      expect(Number(p.format.duration)).toBeGreaterThan(7);
      const io = memoryAccess(cut);
      const r = await finalizeFragmentedMp4(io, m.tracks);
      expect(r.fragments).toBe(m.fragments.length - 1);
      expect(r.truncated).toBeGreaterThan(0);
      writeFileSync(f, io.bytes());
      expect(decodeErrors(f)).toBe("");
      expect(Math.abs(Number(probe(f).format.duration) - r.durationMs / 1000)).toBeLessThan(0.1);
    });
  });
}

test("B-frames: trun carries composition offsets; negative offsets switch to version 1", () => {
  const source = clipPackets("clip-main.flv");
  const cfg = source.find((p) => p.kind === "video" && p.config)!;
  const t = videoTrack(1, cfg);
  const frag = encodeFragment(1, [{
    track: t, baseDts: 0, samples: [
      { duration: 3600, cto: 7200, sync: true, data: new Uint8Array(4) },
      { duration: 3600, cto: -3600, sync: false, data: new Uint8Array(4) },
    ],
  }]);
  const trunAt = Buffer.from(frag).indexOf("trun");
  expect(frag[trunAt + 4]).toBe(1); // version 1
  expect(((frag[trunAt + 6]! << 8) | frag[trunAt + 7]!) & 0x800).toBe(0x800); // sample_composition_time_offsets_present
  expect(topLevelTypes(frag)).toEqual(["moof", "mdat"]);
  expect(topLevelTypes(encodeInitSegment([t]))).toEqual(["ftyp", "moov"]);
});

test("audio-only and video-only streams", () => {
  const source = clipPackets("clip.flv");
  const audio = mux(source.filter((p) => p.kind !== "video"));
  expect(audio.tracks.map((t) => t.codec)).toEqual(["aac"]);
  const fa = join(work, "audio.mp4");
  writeFileSync(fa, fileOf(audio));
  expect(probe(fa).streams.map((s) => s.codec_name)).toEqual(["aac"]);
  expect(decodeErrors(fa)).toBe("");
  const video = mux(source.filter((p) => p.kind !== "audio"));
  expect(video.tracks.map((t) => t.codec)).toEqual(["h264"]);
  const fv = join(work, "video.mp4");
  writeFileSync(fv, fileOf(video));
  expect(Number(probe(fv).streams[0]!.nb_read_frames)).toBe(250);
});

test("video before its first keyframe is skipped; unsupported codecs are reported once", () => {
  const source = clipPackets("clip.flv");
  const firstKey = source.findIndex((p) => p.kind === "video" && p.keyframe && !p.config);
  const secondKey = source.findIndex((p, i) => i > firstKey && p.kind === "video" && p.keyframe && !p.config);
  const cut = [...source.filter((p) => p.config), ...source.slice(firstKey + 1)];
  const opus: MediaPacket = { kind: "audio", codec: "opus", dts: 0, pts: 0, keyframe: false, config: false, data: new Uint8Array(3) };
  const m = mux([opus, ...cut, opus]);
  expect(m.warnings.filter((w) => w.includes("opus")).length).toBe(1);
  const f = join(work, "nokey.mp4");
  writeFileSync(f, fileOf(m));
  const frames = Number(probe(f).streams.find((s) => s.codec_type === "video")!.nb_read_frames);
  const expected = source.slice(secondKey).filter((p) => p.kind === "video").length;
  expect(frames).toBe(expected);
});

test("MP3 audio goes into mp4a/esds with the MPEG-1 audio object type", () => {
  const f = join(work, "tone.mp3");
  execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "flv", f + ".flv"]);
  const { tags } = demuxFlv(new Uint8Array(readFileSync(f + ".flv")));
  const packets = tags.map((t) => flvTagToPacket(t.type, t.timestamp, t.data)).filter((p): p is MediaPacket => p !== null);
  const m = mux(packets);
  expect(m.tracks.map((t) => t.codec)).toEqual(["mp3"]);
  const out = join(work, "mp3.mp4");
  writeFileSync(out, fileOf(m));
  const p = probe(out);
  expect(p.streams[0]!.codec_name).toBe("mp3");
  expect(Math.abs(Number(p.format.duration) - 3)).toBeLessThan(0.1);
  expect(decodeErrors(out)).toBe("");
});

/** clip-hevc.ts's video as MediaPackets: ffmpeg writes the raw Annex B packets back to back, ffprobe gives each one's size and times. */
function hevcPackets(): MediaPacket[] {
  const src = clip("clip-hevc.ts");
  const raw = new Uint8Array(execFileSync("ffmpeg", ["-v", "error", "-i", src, "-map", "0:v:0", "-c", "copy", "-f", "hevc", "-"], {
    maxBuffer: 256 << 20,
  }));
  const rows = execFileSync("ffprobe", [
    "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time,size,flags", "-of", "csv=p=0", src,
  ], { encoding: "utf8", maxBuffer: 64 << 20 }).split("\n").filter((l) => l.trim() !== "").map((l) => l.split(","));
  const out: MediaPacket[] = [];
  let off = 0;
  let t0: number | undefined;
  const ps: Uint8Array[][] = [[], [], []];
  for (const [pts, dts, size, flags] of rows) {
    const au = raw.subarray(off, off + Number(size));
    off += Number(size);
    const nalus = splitAnnexB(au);
    const frame = nalus.filter((n) => {
      const t = hevcNaluType(n);
      if (t >= 32 && t <= 34 && ps[t - 32]!.length === 0) ps[t - 32]!.push(n.slice());
      return t < 32 || t > 35;
    });
    t0 ??= Number(dts) * 1000;
    const d = Math.round(Number(dts) * 1000 - t0);
    if (out.length === 0) {
      out.push({ kind: "video", codec: "h265", dts: 0, pts: 0, keyframe: true, config: true, data: buildHevcConfig(ps[0]!, ps[1]!, ps[2]!) });
    }
    out.push({
      kind: "video", codec: "h265", dts: d, pts: Math.round(Number(pts) * 1000 - t0), keyframe: (flags ?? "").startsWith("K"),
      config: false, data: joinAvcc(frame),
    });
  }
  expect(off).toBe(raw.length);
  return out;
}

test("HEVC goes into hvc1/hvcC and plays (fragmented and finalized)", async () => {
  const packets = hevcPackets();
  const m = mux(packets);
  expect(m.tracks.map((t) => `${t.codec}:${t.width}x${t.height}`)).toEqual(["h265:640x360"]);
  const f = join(work, "hevc.mp4");
  writeFileSync(f, fileOf(m));
  const frames = packets.filter((p) => !p.config).length;
  for (const stage of ["fragmented", "finalized"]) {
    if (stage === "finalized") {
      const h = await open(f, "r+");
      await finalizeFragmentedMp4(fileHandleAccess(h), m.tracks);
      await h.close();
    }
    const p = probe(f);
    expect(p.streams[0]!.codec_name).toBe("hevc");
    expect(Number(p.streams[0]!.nb_read_frames)).toBe(frames);
    expect(decodeErrors(f)).toBe("");
  }
  expect(Buffer.from(readFileSync(f)).includes("hvcC")).toBe(true);
});
