/**
 * Segmenter cost: clip.flv's packets (10 s, ~1 Mbps H.264 + AAC) muxed into 2 s TS segments 100 times.
 * Prints µs per second of media and the share of one core at real time; fails above 2%. The same for fMP4
 * segments with LL-HLS parts every 0.5 s, kept in an LlHls whose playlist is rendered after every part (as a
 * blocking reload would).
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { Fmp4Container } from "../../../lib/protocols/hls/fmp4.ts";
import { LlHls } from "../../../lib/protocols/hls/ll.ts";
import { HlsSegmenter, TsContainer } from "../../../lib/protocols/hls/segmenter.ts";
import { clip } from "../../helpers/media.ts";

test("HLS segmenting one stream costs well under 2% of a core", () => {
  const pk: MediaPacket[] = [];
  for (const t of demuxFlv(new Uint8Array(readFileSync(clip("clip.flv")))).tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) pk.push(p);
  }
  const media = (pk[pk.length - 1]!.dts - pk[0]!.dts) / 1000;
  const N = 100;
  const shifted = (i: number): MediaPacket[] => pk.map((p) => ({ ...p, dts: p.dts + i * 10040, pts: p.pts + i * 10040 }));
  const rounds = Array.from({ length: N }, (_, i) => shifted(i));
  let best = Infinity;
  let bytes = 0;
  for (let r = 0; r < 3; r++) {
    const seg = new HlsSegmenter({ fragment: 2, aofRatio: 2.1, waitKeyframe: true }, new TsContainer(), {
      onOpen() {}, onData(b) { bytes += b.length; }, onClose() {},
    });
    const t0 = performance.now();
    for (const list of rounds) for (const p of list) seg.push(p);
    seg.finish();
    best = Math.min(best, performance.now() - t0);
  }
  const usPerSecond = (best * 1000) / (media * N);
  const pct = usPerSecond / 1e4;
  console.log(`hls segmenter: ${usPerSecond.toFixed(1)} µs per second of media (${(bytes / 3 / N / media * 8 / 1e6).toFixed(2)} Mbps TS) = ${pct.toFixed(3)}% of a core`);
  expect(pct).toBeLessThan(2);
});

test("fMP4 + LL-HLS (0.5 s parts, playlist rendered per part) costs well under 2% of a core", () => {
  const pk: MediaPacket[] = [];
  for (const t of demuxFlv(new Uint8Array(readFileSync(clip("clip.flv")))).tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) pk.push(p);
  }
  const media = (pk[pk.length - 1]!.dts - pk[0]!.dts) / 1000;
  const N = 100;
  const rounds = Array.from({ length: N }, (_, i) => pk.map((p) => ({ ...p, dts: p.dts + i * 10040, pts: p.pts + i * 10040 })));
  let best = Infinity;
  let parts = 0;
  for (let r = 0; r < 3; r++) {
    const ll = new LlHls({ partTarget: 0.5, window: 10, targetDuration: () => 2 });
    ll.map = "s/init.mp4";
    parts = 0;
    const seg = new HlsSegmenter({ fragment: 2, aofRatio: 2.1, waitKeyframe: true, partTarget: 0.5 }, new Fmp4Container({ onInit() {} }), {
      onOpen(s) { ll.open(s.seq, s.discontinuity, `live/s-${s.seq}.m4s`, `s-${s.seq}.m4s`); },
      onData() {},
      onPart(p) { ll.part(p); parts++; ll.render(); },
      onClose(s) { ll.close(s.seq, s.duration, `live/s-${s.seq}.m4s`, `s-${s.seq}.m4s`); },
    });
    const t0 = performance.now();
    for (const list of rounds) for (const p of list) seg.push(p);
    seg.finish();
    best = Math.min(best, performance.now() - t0);
  }
  const usPerSecond = (best * 1000) / (media * N);
  const pct = usPerSecond / 1e4;
  console.log(`hls fmp4+ll segmenter: ${usPerSecond.toFixed(1)} µs per second of media, ${parts} parts = ${pct.toFixed(3)}% of a core`);
  expect(parts).toBeGreaterThan(N * 20);
  expect(pct).toBeLessThan(2);
});
