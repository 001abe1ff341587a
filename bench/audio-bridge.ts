/**
 * CPU cost of the in-process audio bridge, per second of audio, one stream per direction:
 *   AAC -> Opus: our AAC-LC decoder (44.1 kHz stereo, the test clip's audio) -> 48 kHz resampler -> libopus (wasm)
 *   Opus -> AAC: libopus decoder -> our AAC-LC encoder (48 kHz, no resampling; and 44.1 kHz with resampling)
 *
 *   bun bench/audio-bridge.ts [seconds of audio, default 60]
 *
 * Prints the CPU time (user + system of this process, JIT warm-up included) per second of audio as a percentage
 * of one core.
 * Target: under 3 % per stream and direction.
 */
import { AacToOpus, OpusToAac } from "../lib/media/audio/transcoder.ts";
import type { MediaPacket } from "../lib/media/packet.ts";
import { clipAudio } from "../tests/unit/audio/util.ts";

const seconds = Number(process.argv[2] ?? 60);
const { asc, frames } = clipAudio("clip.flv");
const frameMs = (1024 * 1000) / 44100;
const count = Math.ceil((seconds * 1000) / frameMs);

function aacPackets(): MediaPacket[] {
  const out: MediaPacket[] = [{ kind: "audio", codec: "aac", dts: 0, pts: 0, keyframe: false, config: true, data: asc }];
  for (let k = 0; k < count; k++) {
    const dts = Math.round(k * frameMs);
    out.push({ ...frames[k % frames.length]!, dts, pts: dts });
  }
  return out;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function measure(name: string, packets: MediaPacket[], push: (p: MediaPacket) => MediaPacket[], audioSeconds: number): MediaPacket[] {
  const out: MediaPacket[] = [];
  const c0 = cpuMs();
  const t0 = performance.now();
  for (const p of packets) for (const o of push(p)) out.push(o);
  const cpu = cpuMs() - c0;
  const wall = performance.now() - t0;
  const pct = (cpu / 1000 / audioSeconds) * 100;
  console.log(`${name.padEnd(34)} ${audioSeconds.toFixed(0)} s of audio: cpu ${cpu.toFixed(0)} ms (wall ${wall.toFixed(0)} ms) = ${pct.toFixed(2)} % of a core${pct < 3 ? "" : "  (over the 3 % target)"}`);
  return out;
}

const input = aacPackets();
const audioSeconds = (count * 1024) / 44100;
const a2o = new AacToOpus({ bitrate: 64000 });
const opus = measure("AAC -> Opus (44.1k stereo, 64k)", input, (p) => a2o.push(p), audioSeconds);
a2o.close();
const o2a48 = new OpusToAac({ bitrate: 96000, sampleRate: 48000 });
measure("Opus -> AAC (48k stereo, 96k)", opus, (p) => o2a48.push(p), audioSeconds);
o2a48.close();
const o2a44 = new OpusToAac({ bitrate: 96000, sampleRate: 44100 });
measure("Opus -> AAC (44.1k stereo, 96k)", opus, (p) => o2a44.push(p), audioSeconds);
o2a44.close();
