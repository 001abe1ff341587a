/**
 * CPU cost of HLS segmenting one stream, per second of media: clip.flv's packets (10 s, ~1 Mbps H.264 + AAC) muxed
 * 100 times over, best of 3 rounds,
 *   - into 2 s MPEG-TS segments;
 *   - into fMP4 segments with LL-HLS parts every 0.5 s, kept in an LlHls whose playlist is rendered after every
 *     part (as a blocking playlist reload would).
 *
 *   bun bench/hls-segmenter.ts
 *
 * Prints µs per second of media and the share of one core at real time. Target: well under 2% of a core.
 * (Moved here from the unit tests: a CPU figure is a measurement, not a pass/fail test.)
 */
import { readFileSync } from "node:fs";
import { demuxFlv } from "../lib/formats/flv.ts";
import { flvTagToPacket } from "../lib/media/flv-codec.ts";
import type { MediaPacket } from "../lib/media/packet.ts";
import { Fmp4Container } from "../lib/protocols/hls/fmp4.ts";
import { LlHls } from "../lib/protocols/hls/ll.ts";
import { HlsSegmenter, TsContainer } from "../lib/protocols/hls/segmenter.ts";
import { clip } from "../tests/helpers/media.ts";

const ROUNDS = 100;
const CLIP_SPAN_MS = 10040;

const packets: MediaPacket[] = [];
for (const t of demuxFlv(new Uint8Array(readFileSync(clip("clip.flv")))).tags) {
  const p = flvTagToPacket(t.type, t.timestamp, t.data);
  if (p) packets.push(p);
}
const mediaSeconds = ((packets[packets.length - 1]!.dts - packets[0]!.dts) / 1000) * ROUNDS;
/** The clip ROUNDS times, back to back. */
const stream = Array.from({ length: ROUNDS }, (_, i) =>
  packets.map((p) => ({ ...p, dts: p.dts + i * CLIP_SPAN_MS, pts: p.pts + i * CLIP_SPAN_MS }))).flat();

/** Best wall time of 3 runs of `once` (ms). */
function best(once: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    once();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

function report(name: string, ms: number, extra: string): void {
  const usPerSecond = (ms * 1000) / mediaSeconds;
  console.log(`${name}: ${usPerSecond.toFixed(1)} µs per second of media = ${(usPerSecond / 1e4).toFixed(3)}% of a core${extra}`);
}

let tsBytes = 0;
const tsMs = best(() => {
  tsBytes = 0;
  const seg = new HlsSegmenter({ fragment: 2, aofRatio: 2.1, waitKeyframe: true }, new TsContainer(), {
    onOpen() {},
    onData(b) {
      tsBytes += b.length;
    },
    onClose() {},
  });
  for (const p of stream) seg.push(p);
  seg.finish();
});
report("TS segments", tsMs, ` (${((tsBytes * 8) / mediaSeconds / 1e6).toFixed(2)} Mbps of TS)`);

let parts = 0;
const llMs = best(() => {
  const ll = new LlHls({ partTarget: 0.5, window: 10, targetDuration: () => 2 });
  ll.map = "s/init.mp4";
  parts = 0;
  const seg = new HlsSegmenter({ fragment: 2, aofRatio: 2.1, waitKeyframe: true, partTarget: 0.5 }, new Fmp4Container({ onInit() {} }), {
    onOpen(s) {
      ll.open(s.seq, s.discontinuity, `live/s-${s.seq}.m4s`, `s-${s.seq}.m4s`);
    },
    onData() {},
    onPart(p) {
      ll.part(p);
      parts++;
      ll.render();
    },
    onClose(s) {
      ll.close(s.seq, s.duration, `live/s-${s.seq}.m4s`, `s-${s.seq}.m4s`);
    },
  });
  for (const p of stream) seg.push(p);
  seg.finish();
});
report("fMP4 + LL-HLS parts (playlist per part)", llMs, `, ${parts} parts`);
