/**
 * GB28181 media path cost without sockets: a GB28181-shaped program stream (clip-main.ts, H.264 with B-frames +
 * AAC, PSM per keyframe, frames split over 1400-byte PES) cut into RTP packets and RFC 4571 frames, pushed through
 * GbMediaReceiver (deframe -> RTP -> PS demux -> MediaPackets) in 1500-byte chunks. Prints MB/s and the share of a core
 * one camera at the clip's bitrate costs; also the PS demuxer alone.
 *
 *   bun bench/ps-demux.ts [rounds=20]
 */
import { demuxPs } from "../lib/formats/ps/demux.ts";
import { buildRtpPacket } from "../lib/formats/rtp-packet.ts";
import { frame } from "../lib/net/rfc4571.ts";
import { GbMediaReceiver } from "../lib/protocols/gb28181/media.ts";
import { gbPsFromClip } from "../tests/helpers/ps-mux.ts";

const rounds = Number(process.argv[2] ?? 20);
const { ps, source } = gbPsFromClip("clip-main.ts", 10);
const seconds = (source.at(-1)!.dts - source[0]!.dts) / 1000;
const rtp: Uint8Array[] = [];
for (let o = 0, seq = 0; o < ps.length; o += 1400, seq++) rtp.push(frame(buildRtpPacket({ payloadType: 96, sequence: seq, timestamp: 0, ssrc: 1, payload: ps.subarray(o, o + 1400) })));
const wire = Buffer.concat(rtp);

function time(label: string, run: () => number): void {
  run(); // warm up
  const t0 = performance.now();
  let out = 0;
  for (let i = 0; i < rounds; i++) out += run();
  const ms = (performance.now() - t0) / rounds;
  const mbps = (ps.length * 8) / seconds / 1e6;
  console.log(`${label}: ${(ps.length / 1e6 / (ms / 1000)).toFixed(1)} MB/s, ${ms.toFixed(2)} ms per ${seconds.toFixed(1)} s of ${mbps.toFixed(2)} Mbps media ` +
    `(${((ms / seconds / 1000) * 100).toFixed(3)}% of a core per camera at that rate), ${Math.round(out / rounds)} outputs`);
}

time("PS demuxer alone (whole buffer)", () => demuxPs(ps).length);
time("RFC 4571 -> RTP -> PS -> MediaPacket (1500-byte chunks)", () => {
  let n = 0;
  const r = new GbMediaReceiver(() => n++);
  for (let o = 0; o < wire.length; o += 1500) r.pushTcp(wire.subarray(o, o + 1500));
  r.close();
  return n;
});
