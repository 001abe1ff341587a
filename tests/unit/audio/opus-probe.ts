// Probe for the compiled-binary test: encodes and decodes a 1 kHz tone through Opus and prints a summary.
import { OpusDecoder, OpusEncoder } from "../../../lib/media/audio/opus.ts";
const enc = new OpusEncoder({ channels: 2, bitrate: 64000 });
const dec = new OpusDecoder({ channels: 2 });
const pcm = [new Float32Array(960), new Float32Array(960)];
let bytes = 0;
let energy = 0;
let samples = 0;
for (let f = 0; f < 50; f++) {
  for (let i = 0; i < 960; i++) {
    const t = (f * 960 + i) / 48000;
    pcm[0]![i] = 0.5 * Math.sin(2 * Math.PI * 1000 * t);
    pcm[1]![i] = 0.5 * Math.sin(2 * Math.PI * 440 * t);
  }
  const p = enc.encode(pcm, 0, 960);
  if (!p) throw new Error("encode failed");
  bytes += p.length;
  const r = dec.decode(f === 25 ? null : p);
  samples += r.samples;
  if (f > 5) for (let i = 0; i < r.samples; i++) energy += r.pcm[0]![i]! ** 2;
}
console.log(JSON.stringify({ bytes, samples, rms: Math.sqrt(energy / (44 * 960)) }));
