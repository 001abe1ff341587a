/**
 * CPU cost of our MP3 decoder per second of audio: a 5 s stereo 44.1 kHz 128 kb/s libmp3lame file (1 kHz left,
 * 440 Hz right) decoded whole 20 times.
 *
 *   bun bench/mp3-decoder.ts
 *
 * Prints the share of one core per second of audio. README: about 1–2% of a core per stereo 44.1 kHz stream.
 * (Moved here from the unit tests: a CPU figure is a measurement, not a pass/fail test.)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMp3 } from "../lib/media/audio/mp3-decoder.ts";

const dir = mkdtempSync(join(tmpdir(), "srs-bench-mp3-"));
try {
  const file = join(dir, "tones.mp3");
  const sine = (hz: number) => ["-f", "lavfi", "-i", `sine=frequency=${hz}:sample_rate=44100:duration=5`];
  execFileSync("ffmpeg", ["-v", "error", "-y", ...sine(1000), ...sine(440), "-filter_complex", "amerge",
    "-c:a", "libmp3lame", "-b:a", "128k", file]);
  const bytes = new Uint8Array(readFileSync(file));
  decodeMp3(bytes); // warm-up (JIT)
  const runs = 20;
  let seconds = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const d = decodeMp3(bytes);
    seconds += d.pcm[0]!.length / d.sampleRate;
  }
  const ms = performance.now() - t0;
  console.log(`MP3 decode (44.1 kHz stereo 128k): ${((ms / (seconds * 1000)) * 100).toFixed(2)}% of a core per second of audio`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
