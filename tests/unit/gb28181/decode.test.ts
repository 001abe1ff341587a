/**
 * What a user would see: the MediaPackets the GB28181 media path makes (RFC 4571 -> RTP -> PS -> packets) are
 * written as FLV with srs-ts's own FLV encoder and decoded by FFmpeg: every video frame decodes, audio decodes,
 * and nothing is reported as an error. H.264 (B-frames) + AAC, and H.264 + G.711 A-law as most cameras send.
 */
import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFlvHeader, encodePacketFlvTag } from "../../../lib/formats/flv.ts";
import { demuxTs } from "../../../lib/formats/mpegts-demux.ts";
import { buildRtpPacket } from "../../../lib/formats/rtp-packet.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { frame } from "../../../lib/net/rfc4571.ts";
import { GbMediaReceiver } from "../../../lib/protocols/gb28181/media.ts";
import { clip } from "../../helpers/media.ts";
import { esUnits, gbPsFromClip, muxGb, type PsEsUnit } from "../../helpers/ps-mux.ts";
import { tempDir } from "../../helpers/temp.ts";

const dir = tempDir("srs-gb-decode-");

function receive(ps: Uint8Array): { packets: MediaPacket[]; errors: string[] } {
  const wire: Uint8Array[] = [];
  for (let o = 0, seq = 0; o < ps.length; o += 1400, seq++) wire.push(frame(buildRtpPacket({ payloadType: 96, sequence: seq, timestamp: 0, ssrc: 1, payload: ps.subarray(o, o + 1400) })));
  const packets: MediaPacket[] = [];
  const errors: string[] = [];
  const r = new GbMediaReceiver((p) => packets.push(p), { ssrc: 1, onError: (m) => errors.push(m) });
  const all = Buffer.concat(wire);
  for (let o = 0; o < all.length; o += 1500) r.pushTcp(all.subarray(o, o + 1500));
  r.close();
  return { packets, errors };
}

function decode(packets: MediaPacket[], name: string): { video: number; audio: number; log: string } {
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([encodeFlvHeader({ hasAudio: true, hasVideo: true }), ...packets.map((p) => encodePacketFlvTag(p))]));
  const count = (sel: string) => Number(execFileSync("ffprobe", ["-v", "error", "-select_streams", sel, "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file]).toString().trim());
  const log = execFileSync("ffmpeg", ["-hide_banner", "-v", "error", "-i", file, "-f", "null", "-"], { stdio: ["ignore", "pipe", "pipe"] }).toString();
  return { video: count("v"), audio: count("a"), log };
}

test("H.264 (B-frames) + AAC through RTP/PS: every frame decodes in FFmpeg", () => {
  const { ps } = gbPsFromClip("clip-main.ts", 6);
  const { packets, errors } = receive(ps);
  expect(errors).toEqual([]);
  const d = decode(packets, "h264-aac.flv");
  expect(d.log).toBe("");
  expect(d.video).toBe(packets.filter((p) => p.kind === "video" && !p.config).length);
  expect(d.audio).toBe(packets.filter((p) => p.kind === "audio" && !p.config).length);
  expect(d.video).toBeGreaterThan(100);
});

test("H.264 + G.711 A-law (stream_type 0x90) through RTP/PS: video and audio decode", () => {
  const video = esUnits(demuxTs(readFileSync(clip("clip.ts")))).filter((u) => u.streamId === 0xe0).slice(0, 125); // 5 s
  const alaw = new Uint8Array(execFileSync("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=6", "-ac", "1", "-f", "alaw", "-",
  ], { maxBuffer: 1 << 20 }));
  const t0 = video[0]!.dts;
  const audio: PsEsUnit[] = [];
  for (let i = 0; (i + 1) * 320 <= alaw.length; i++) audio.push({ streamId: 0xc0, pts: t0 + i * 3600, dts: t0 + i * 3600, data: alaw.subarray(i * 320, (i + 1) * 320) });
  const units = [...video, ...audio].sort((a, b) => a.dts - b.dts || (a.streamId === 0xe0 ? -1 : 1));
  const ps = muxGb(units, { psm: [{ streamType: 0x1b, streamId: 0xe0 }, { streamType: 0x90, streamId: 0xc0 }] });
  const { packets, errors } = receive(ps);
  expect(errors).toEqual([]);
  expect(packets.filter((p) => p.codec === "pcma").length).toBe(audio.length);
  const d = decode(packets, "h264-pcma.flv");
  expect(d.log).toBe("");
  expect(d.video).toBe(packets.filter((p) => p.kind === "video" && !p.config).length);
  expect(d.audio).toBe(audio.length);
});
