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
import { Fmp4Container } from "../lib/protocols/hls/fmp4.ts";
import { LlHls } from "../lib/protocols/hls/ll.ts";
import { HlsSegmenter, TsContainer } from "../lib/protocols/hls/segmenter.ts";
import { clipPackets } from "../tests/helpers/clip-packets.ts";
import { best, looped, reportPerMediaSecond } from "./media-cpu.ts";

const ROUNDS = 100;

const packets = clipPackets("clip.flv");
const mediaSeconds = ((packets[packets.length - 1]!.dts - packets[0]!.dts) / 1000) * ROUNDS;
/** The clip ROUNDS times, back to back. */
const stream = looped(packets, ROUNDS);

function report(name: string, ms: number, extra: string): void {
  reportPerMediaSecond(name, ms, mediaSeconds, extra);
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
