/**
 * The in-process audio codecs inside the standalone executables, x64 and arm64 alike: tests/probes/audio-probe.ts
 * is compiled by build.ts (`--entry`) for linux-x64 and linux-arm64 (one compile each), copied alone into an empty
 * folder and run there (the arm64 one under qemu-user). It runs AAC encode -> decode, AAC -> Opus -> AAC (the
 * opusscript WebAssembly must load from the executable) and MP3 decode + MP3 -> Opus of a file FFmpeg makes here,
 * and prints tone frequencies and sine-fit SNRs as JSON.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { VERSION } from "../../lib/version.ts";
import { tempDir } from "../helpers/temp.ts";

const REPO = resolve(import.meta.dir, "../..");
const QEMU_LIBS = "/usr/aarch64-linux-gnu";
const work = tempDir("srs-audio-bin-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Measure {
  freq: number[];
  snr: number[];
}
interface ProbeResult {
  arch: string;
  aac: Measure;
  aacOpusAac: Measure;
  mp3: Measure;
  mp3Opus: Measure;
  mp3Errors: number;
  mp3CpuPercent: number;
}

/** The MP3 the probes decode: 1000 Hz left, 440 Hz right, 44.1 kHz, 128 kbit/s, 3 s (libmp3lame). */
function mp3File(): string {
  const file = join(work, "tones.mp3");
  if (!existsSync(file)) {
    execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100:duration=3",
      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3", "-filter_complex", "amerge",
      "-c:a", "libmp3lame", "-b:a", "128k", file]);
  }
  return file;
}

/** Compiles the probe for `target` and returns the path of a copy alone in an empty folder. */
function buildProbe(target: string): string {
  const out = join(work, `out-${target}`);
  const b = spawnSync(process.execPath, [join(REPO, "build.ts"), "--targets", target, "--entry",
    join(REPO, "tests/probes/audio-probe.ts"), "--outdir", out], { cwd: work, encoding: "utf8", timeout: 280_000 });
  if (b.status !== 0) throw new Error(`build for ${target} failed (${b.status}):\n${b.stdout}\n${b.stderr}`);
  const alone = join(work, `alone-${target}`);
  mkdirSync(alone);
  const exe = join(alone, "probe");
  copyFileSync(join(out, `srs-ts-${VERSION}-${target}`), exe);
  chmodSync(exe, 0o755);
  rmSync(out, { recursive: true, force: true });
  return exe;
}

function runProbe(cmd: string, args: string[], cwd: string): ProbeResult {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 240_000 });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  expect(r.stderr).toBe("");
  const res = JSON.parse(r.stdout) as ProbeResult;
  console.log(`${res.arch} probe (${((performance.now() - t0) / 1000).toFixed(1)} s): ${r.stdout.trim()}`);
  return res;
}

function checkTones(res: ProbeResult): void {
  for (const [name, m] of Object.entries({ aac: res.aac, aacOpusAac: res.aacOpusAac, mp3: res.mp3, mp3Opus: res.mp3Opus })) {
    expect({ name, left: Math.abs(m.freq[0]! - 1000) < 1, right: Math.abs(m.freq[1]! - 440) < 1 }).toEqual({ name, left: true, right: true });
    expect({ name, snr: Math.min(...m.snr) >= 20 }).toEqual({ name, snr: true });
  }
  expect(res.mp3Errors).toBe(0);
  // codec output far above the bar: the encoders and decoders really ran (not a silent fallback)
  expect(Math.min(...res.aac.snr, ...res.mp3.snr)).toBeGreaterThan(40);
}

let x64: ProbeResult | undefined;

describe("audio codecs in the compiled executables", () => {
  test("linux-x64: AAC, AAC -> Opus -> AAC, MP3 and MP3 -> Opus keep the tones with SNR >= 20 dB", () => {
    const exe = buildProbe("linux-x64");
    x64 = runProbe("./probe", [mp3File()], join(exe, ".."));
    expect(x64.arch).toBe("x64");
    checkTones(x64);
  }, 300_000);

  test("linux-arm64 under qemu: the same codecs, the same measurements as x64", () => {
    const qemu = spawnSync("sh", ["-c", "command -v qemu-aarch64"], { encoding: "utf8" });
    if (qemu.status !== 0 || !existsSync(QEMU_LIBS)) throw new Error("qemu-aarch64 or the arm64 libc is missing: apt-get install -y qemu-user libc6-arm64-cross");
    const exe = buildProbe("linux-arm64");
    expect(execFileSync("file", ["-b", exe], { encoding: "utf8" })).toMatch(/ELF 64-bit LSB .*ARM aarch64/);
    const arm = runProbe("qemu-aarch64", ["-L", QEMU_LIBS, "./probe", mp3File()], join(exe, ".."));
    expect(arm.arch).toBe("arm64");
    checkTones(arm);
    if (x64) {
      // same program, same IEEE arithmetic: the measurements agree (rounded to 0.01 Hz / 0.1 dB)
      for (const k of ["aac", "aacOpusAac", "mp3", "mp3Opus"] as const) {
        for (let c = 0; c < 2; c++) {
          expect(Math.abs(arm[k].freq[c]! - x64[k].freq[c]!)).toBeLessThanOrEqual(0.05);
          expect(Math.abs(arm[k].snr[c]! - x64[k].snr[c]!)).toBeLessThanOrEqual(0.5);
        }
      }
    }
  }, 300_000);
});
