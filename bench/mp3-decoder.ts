/**
 * MP3 decoders compared: the one in lib/media/audio/mp3-decoder.ts now (mpg123-decoder, libmpg123 in WebAssembly)
 * and our own Layer III decoder as it was at a git revision (removed after this comparison), on a 10 s MP3 made
 * by FFmpeg (libmp3lame, 44.1 kHz stereo 128k: a 440 Hz tone left, pink noise right).
 *
 *   bun bench/mp3-decoder.ts [--ours 0b7457c] [--runs 5]
 *   deno run -A bench/mp3-decoder.ts --ours 0b7457c
 *
 * Prints, per decoder: decode time of the 10 s (frame by frame, as the bridge decodes; median of the runs after a
 * warm-up) and the RMS / max difference from FFmpeg's own decode of the same file (aligned by correlation on the
 * noise channel, over 5 s).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Mp3Decoder, mp3FrameSpans } from "../lib/media/audio/mp3-decoder.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const RUNS = Number(arg("runs") ?? 5);
const OURS = arg("ours") ?? "0b7457c";
const REPO = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");

const work = mkdtempSync(join(tmpdir(), "srs-mp3bench-"));
const mp3 = join(work, "test.mp3");
execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=10:sample_rate=44100", "-f", "lavfi", "-i",
  "anoisesrc=d=10:c=pink:r=44100:a=0.2", "-filter_complex", "[0][1]amerge=inputs=2", "-c:a", "libmp3lame", "-b:a", "128k", mp3]);
const ref = new Float32Array(new Uint8Array(execFileSync("ffmpeg", ["-v", "error", "-i", mp3, "-f", "f32le", "-"], { maxBuffer: 1 << 26 })).buffer);
const refR = ref.filter((_, i) => i % 2 === 1);
const bytes = new Uint8Array(readFileSync(mp3));
const frames = mp3FrameSpans(bytes).map(([s, e]) => bytes.subarray(s, e));

interface FrameDecoder {
  decodeFrame(f: Uint8Array): { samples: number; pcm: Float32Array[] };
}

/** Decodes every frame; returns the right channel and the time taken. */
function decodeAll(dec: FrameDecoder): { right: Float32Array; ms: number } {
  const right = new Float32Array(frames.length * 1152);
  let n = 0;
  const t0 = performance.now();
  for (const f of frames) {
    const r = dec.decodeFrame(f);
    right.set(r.pcm[1]!.subarray(0, r.samples), n);
    n += r.samples;
  }
  return { right: right.subarray(0, n), ms: performance.now() - t0 };
}

function accuracy(x: Float32Array): string {
  const start = 44100;
  const len = 5 * 44100;
  let lag = 0;
  let best = Infinity;
  for (let l = 0; l < 4000; l++) {
    let e = 0;
    for (let i = start; i < start + len; i += 5) {
      const d = x[i + l]! - refR[i]!;
      e += d * d;
    }
    if (e < best) [best, lag] = [e, l];
  }
  let e = 0;
  let max = 0;
  for (let i = start; i < start + len; i++) {
    const d = Math.abs(x[i + lag]! - refR[i]!);
    e += d * d;
    max = Math.max(max, d);
  }
  return `RMS ${Math.sqrt(e / len).toExponential(1)}, max ${max.toExponential(1)} (lag ${lag})`;
}

async function run(name: string, make: () => Promise<FrameDecoder>): Promise<void> {
  const times: number[] = [];
  let right: Float32Array = new Float32Array(0);
  for (let r = 0; r <= RUNS; r++) {
    const d = decodeAll(await make());
    if (r > 0) times.push(d.ms); // run 0 warms up the JIT
    right = d.right;
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)]!;
  console.log(`| ${name} | ${med.toFixed(1)} ms (${((med / 10000) * 100).toFixed(2)}% of a core) | ${accuracy(right)} |`);
}

const runtime = (globalThis as { Deno?: unknown }).Deno ? "deno" : `bun ${(globalThis as { Bun?: { version: string } }).Bun?.version}`;
console.log(`${runtime}: ${frames.length} frames (10 s, 44.1 kHz stereo 128k), median of ${RUNS} runs`);
console.log("| decoder | decode 10 s | difference from FFmpeg |\n|---|---|---|");
await run("mpg123-decoder (lib/media/audio/mp3-decoder.ts)", () => Mp3Decoder.create());
// our own decoder, from git: lib/media/ of that revision extracted beside the work files
const old = join(work, "old");
execFileSync("sh", ["-c", `mkdir -p '${old}' && git -C '${REPO}' archive ${OURS} lib/media | tar -x -C '${old}'`]);
const mod = await import(join(old, "lib/media/audio/mp3-decoder.ts")) as { Mp3Decoder: new () => FrameDecoder };
await run(`ours at ${OURS} (ISO 11172-3 Layer III in TypeScript)`, () => Promise.resolve(new mod.Mp3Decoder()));
rmSync(work, { recursive: true, force: true });
