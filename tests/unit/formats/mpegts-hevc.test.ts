/**
 * HEVC through the muxer: clip-hevc.ts is demuxed minimally here (video PES only), turned into MediaPackets
 * (HEVC record + length-prefixed frames without parameter sets/AUDs) and muxed again; ffprobe must see the
 * same frames, hevc 640x360, and the muxer must have put VPS/SPS/PPS back before every keyframe.
 */
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TsMuxer } from "../../../lib/formats/mpegts-mux.ts";
import { joinAvcc, splitAnnexB } from "../../../lib/media/avc.ts";
import { buildHevcConfig, hevcNaluType, isHevcIrapType } from "../../../lib/media/hevc.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { clip } from "../../helpers/media.ts";
import { tempDir } from "../../helpers/temp.ts";

const work = tempDir("srs-ts-hevc-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

function readTs(v: Uint8Array, o: number): number {
  return (((v[o]! >> 1) & 7) * 1073741824) + (v[o + 1]! << 22) + ((v[o + 2]! >> 1) << 15) + (v[o + 3]! << 7) + (v[o + 4]! >> 1);
}

/** Video PES payloads of a TS file with their PTS/DTS (90 kHz). */
function videoPes(ts: Uint8Array): { pts: number; dts: number; data: Uint8Array }[] {
  let videoPid = -1;
  let pmtPid = -1;
  const out: { pts: number; dts: number; data: Uint8Array }[] = [];
  let cur: { pts: number; dts: number; parts: Uint8Array[] } | undefined;
  const done = () => {
    if (cur) out.push({ pts: cur.pts, dts: cur.dts, data: Buffer.concat(cur.parts) });
  };
  for (let o = 0; o + 188 <= ts.length; o += 188) {
    const pid = ((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!;
    const pusi = (ts[o + 1]! & 0x40) !== 0;
    const afc = (ts[o + 3]! >> 4) & 3;
    let p = o + 4;
    if (afc & 2) p += 1 + ts[p]!;
    if (!(afc & 1)) continue;
    const payload = ts.subarray(p, o + 188);
    if (pid === 0 && pusi) pmtPid = ((payload[1 + 10]! & 0x1f) << 8) | payload[1 + 11]!;
    else if (pid === pmtPid && pusi) {
      const s = payload.subarray(1 + payload[0]!);
      const secLen = ((s[1]! & 0x0f) << 8) | s[2]!;
      const piLen = ((s[10]! & 0x0f) << 8) | s[11]!;
      for (let e = 12 + piLen; e < 3 + secLen - 4; ) {
        if (s[e] === 0x24) videoPid = ((s[e + 1]! & 0x1f) << 8) | s[e + 2]!;
        e += 5 + (((s[e + 3]! & 0x0f) << 8) | s[e + 4]!);
      }
    } else if (pid === videoPid) {
      if (pusi) {
        done();
        const flags = payload[7]!;
        const pts = readTs(payload, 9);
        const dts = flags & 0x40 ? readTs(payload, 14) : pts;
        cur = { pts, dts, parts: [payload.subarray(9 + payload[8]!)] };
      } else cur?.parts.push(payload);
    }
  }
  done();
  return out;
}

test("HEVC: clip-hevc.ts -> MediaPackets -> our TS, same frames, parameter sets before keyframes", () => {
  const pes = videoPes(new Uint8Array(readFileSync(clip("clip-hevc.ts"))));
  expect(pes.length).toBeGreaterThan(200);
  const base = pes[0]!.dts;
  let vps: Uint8Array[] = [];
  let sps: Uint8Array[] = [];
  let pps: Uint8Array[] = [];
  const packets: MediaPacket[] = [];
  for (const f of pes) {
    const nalus = splitAnnexB(f.data);
    const frame: Uint8Array[] = [];
    let key = false;
    for (const n of nalus) {
      const t = hevcNaluType(n);
      if (t === 32) vps = [n];
      else if (t === 33) sps = [n];
      else if (t === 34) pps = [n];
      else if (t !== 35) {
        frame.push(n);
        if (isHevcIrapType(t)) key = true;
      }
    }
    if (!packets.length) packets.push({ kind: "video", codec: "h265", dts: 0, pts: 0, keyframe: true, config: true, data: buildHevcConfig(vps, sps, pps) });
    packets.push({ kind: "video", codec: "h265", dts: (f.dts - base) / 90, pts: (f.pts - base) / 90, keyframe: key, config: false, data: joinAvcc(frame) });
  }
  const m = new TsMuxer();
  const parts: Uint8Array[] = [];
  for (const p of packets) {
    const b = m.mux(p);
    if (b) parts.push(b);
  }
  const file = join(work, "hevc.ts");
  writeFileSync(file, Buffer.concat(parts));
  const j = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_streams", "-count_packets", "-of", "json", file]).toString()) as {
    streams: { codec_name: string; width: number; height: number; nb_read_packets: string }[];
  };
  expect(j.streams.length).toBe(1);
  expect(j.streams[0]!.codec_name).toBe("hevc");
  expect([j.streams[0]!.width, j.streams[0]!.height]).toEqual([640, 360]);
  expect(Number(j.streams[0]!.nb_read_packets)).toBe(packets.length - 1);
  // every keyframe PES of ours starts with AUD, VPS, SPS, PPS
  const ours = videoPes(Buffer.concat(parts));
  let keys = 0;
  ours.forEach((f, i) => {
    const types = splitAnnexB(f.data).map(hevcNaluType);
    expect(types[0]).toBe(35);
    if (packets[i + 1]!.keyframe) {
      keys++;
      expect(types.slice(1, 4)).toEqual([32, 33, 34]);
    }
    expect(Math.abs(f.dts - Math.round(packets[i + 1]!.dts * 90))).toBeLessThanOrEqual(1);
  });
  expect(keys).toBeGreaterThanOrEqual(4);
  const err = execFileSync("bash", ["-c", `ffmpeg -hide_banner -v error -i '${file}' -f null - 2>&1`]).toString();
  expect(err).toBe("");
});
