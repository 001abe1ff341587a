/**
 * Test media: deterministic 10 s clips made by the project itself with ffmpeg, generated once into tests/.media/
 * (git-ignored) and reused by every test file. A missing ffmpeg is a failure, never a skip.
 *
 * Every clip: 640x360 at 25 fps from lavfi's testsrc2 (moving pattern and frame counter), GOP 2 s (50 frames,
 * closed, no scene-cut keyframes); audio AAC-LC 96 kb/s, 44.1 kHz stereo, a 1 kHz sine on the left channel and
 * 440 Hz on the right (so a swapped or mixed-down channel shows).
 *
 *   clip.flv       H.264 Constrained Baseline (no B-frames) + AAC in FLV
 *   clip.ts        the same streams in MPEG-TS (SRT, HLS, HTTP-TS)
 *   clip-main.flv  H.264 Main with B-frames (PTS != DTS: FLV composition time) + AAC
 *   clip-main.ts   the same in MPEG-TS
 *   clip-hevc.ts   HEVC Main (libx265, no B-frames) + AAC in MPEG-TS. Debian's ffmpeg 5.1 cannot put HEVC in FLV.
 *
 * Reproducible byte for byte with a given ffmpeg/x264/x265 build: one thread, bitexact flags, no metadata.
 * Each file is written under a unique temporary name and renamed into place, so test processes running at once
 * never see a half-written clip.
 *
 * Run directly to make (or with --force, remake) them all: `bun tests/helpers/media.ts [--force]`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir ?? new URL(".", import.meta.url).pathname, "../..");
export const MEDIA_DIR = join(REPO_ROOT, "tests/.media");

export type ClipName = "clip.flv" | "clip.ts" | "clip-main.flv" | "clip-main.ts" | "clip-hevc.ts";

const SECONDS = 10;
const FPS = 25;
const GOP = FPS * 2;

/** lavfi inputs: 0 is the picture, 1 the two sines merged into one stereo stream. */
function sources(): string[] {
  const sine = (hz: number, label: string) => `sine=frequency=${hz}:sample_rate=44100:duration=${SECONDS}[${label}]`;
  return [
    "-f", "lavfi", "-i", `testsrc2=size=640x360:rate=${FPS}:duration=${SECONDS}`,
    "-f", "lavfi", "-i", `${sine(1000, "left")};${sine(440, "right")};[left][right]amerge=inputs=2`,
  ];
}

/** What every clip shares after the inputs: stream map, determinism, AAC-LC audio. */
const SHARED_OUTPUT = [
  "-map", "0:v", "-map", "1:a", "-t", String(SECONDS),
  "-threads", "1", "-filter_threads", "1",
  "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
  "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2",
];

/** Fixed GOP for x264: a keyframe every 2 s exactly. */
const X264_GOP = ["-g", String(GOP), "-keyint_min", String(GOP), "-sc_threshold", "0"];
const X264_RATE = ["-b:v", "900k", "-maxrate", "1000k", "-bufsize", "1000k"];

/** H.264 Constrained Baseline: zerolatency (no lookahead), no B-frames, profile-level-id 42e01f for WebRTC. */
const H264_BASELINE = [
  "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-tune", "zerolatency",
  ...X264_GOP, ...X264_RATE,
  "-profile:v", "baseline", "-level", "3.1", "-x264-params", "bframes=0:open-gop=0",
];

/** H.264 Main with two B-frames, so decode order differs from presentation order. */
const H264_MAIN = [
  "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-profile:v", "main", "-level", "3.1",
  ...X264_GOP, "-bf", "2", "-x264-params", "open-gop=0:rc-lookahead=10",
  ...X264_RATE,
];

/** HEVC Main, single-threaded x265 with the same fixed GOP. */
const HEVC = [
  "-c:v", "libx265", "-pix_fmt", "yuv420p", "-preset", "veryfast",
  "-x265-params",
  `keyint=${GOP}:min-keyint=${GOP}:scenecut=0:bframes=0:open-gop=0:pools=1:frame-threads=1:log-level=error:info=0`,
  "-b:v", "700k", "-maxrate", "800k", "-bufsize", "800k",
];

/** TS muxing for the baseline clip: a discontinuity flag on the first packets, no repeated headers, VBR. */
const TS_BASELINE_MUX = ["-mpegts_flags", "+initial_discontinuity-resend_headers", "-muxrate", "0"];

/** How each clip is made: video codec options and container (in the order they are generated). */
const RECIPES: Record<ClipName, { video: string[]; format: string[] }> = {
  "clip.flv": { video: H264_BASELINE, format: ["-f", "flv"] },
  "clip.ts": { video: H264_BASELINE, format: [...TS_BASELINE_MUX, "-f", "mpegts"] },
  "clip-main.flv": { video: H264_MAIN, format: ["-f", "flv"] },
  "clip-main.ts": { video: H264_MAIN, format: ["-f", "mpegts"] },
  "clip-hevc.ts": { video: HEVC, format: ["-f", "mpegts"] },
};

export const CLIP_NAMES = Object.keys(RECIPES) as ClipName[];

function ffmpegArgs(name: ClipName, outFile: string): string[] {
  const r = RECIPES[name];
  return ["-hide_banner", "-loglevel", "error", "-y", ...sources(), ...SHARED_OUTPUT, ...r.video, ...r.format, outFile];
}

/** Writes one clip into `dir` (replacing it when `force`); returns its path. */
export function makeClip(name: ClipName, dir = MEDIA_DIR, force = false): string {
  const target = join(dir, name);
  if (!force && existsSync(target) && statSync(target).size > 0) return target;
  mkdirSync(dir, { recursive: true });
  const partial = join(dir, `.${name}.${process.pid}.partial`);
  try {
    execFileSync("ffmpeg", ffmpegArgs(name, partial), { stdio: "pipe" });
  } catch (e) {
    rmSync(partial, { force: true });
    const err = e as { code?: string; stderr?: Buffer; message: string };
    const why = err.code === "ENOENT" ? "ffmpeg not found (apt-get install ffmpeg)" : (err.stderr?.toString().trim() || err.message);
    throw new Error(`making test clip ${name}: ${why}`);
  }
  renameSync(partial, target);
  return target;
}

/** Path of a test clip, generating it on first use. */
export function clip(name: ClipName): string {
  return makeClip(name);
}

if (import.meta.main) {
  const force = process.argv.includes("--force");
  for (const name of CLIP_NAMES) {
    const p = makeClip(name, MEDIA_DIR, force);
    console.log(`${name}: ${statSync(p).size} bytes`);
  }
}
