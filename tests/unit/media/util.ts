/** Shared helpers for the media/format unit tests. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { clip } from "../../helpers/media.ts";
import type { ClipName } from "../../helpers/media.ts";
export { prng as rng } from "../../helpers/prng.ts";

export function readClip(name: ClipName): Uint8Array {
  return new Uint8Array(readFileSync(clip(name)));
}

export interface ProbePacket {
  type: "video" | "audio";
  pts: number;
  dts: number;
  key: boolean;
  size: number;
}

/** ffprobe -show_packets of a clip (FLV time base is 1/1000, so pts/dts are ms). */
export function probePackets(name: ClipName): ProbePacket[] {
  const out = execFileSync("ffprobe", [
    "-v", "error", "-show_entries", "packet=codec_type,pts,dts,flags,size", "-of", "csv=p=0", clip(name),
  ], { encoding: "utf8", maxBuffer: 64 << 20 });
  return out.trim().split("\n").map((l) => {
    const [type, pts, dts, size, flags] = l.split(",");
    return { type: type as "video" | "audio", pts: Number(pts), dts: Number(dts), size: Number(size), key: (flags ?? "").startsWith("K") };
  });
}


export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * The first video PES payload (Annex-B) of an MPEG-TS file: a minimal TS walk (PAT/PMT ignored, the video
 * PID is the first one whose PES starts with stream id 0xE0).
 */
export function firstVideoPes(ts: Uint8Array): Uint8Array {
  let pid = -1;
  const parts: Uint8Array[] = [];
  for (let off = 0; off + 188 <= ts.length; off += 188) {
    if (ts[off] !== 0x47) throw new Error(`TS: lost sync at ${off}`);
    const pusi = (ts[off + 1]! & 0x40) !== 0;
    const p = ((ts[off + 1]! & 0x1f) << 8) | ts[off + 2]!;
    const afc = (ts[off + 3]! >> 4) & 3;
    let start = off + 4;
    if (afc & 2) start += 1 + ts[start]!;
    if (!(afc & 1) || start >= off + 188) continue;
    const payload = ts.subarray(start, off + 188);
    if (pid < 0) {
      if (pusi && payload[0] === 0 && payload[1] === 0 && payload[2] === 1 && payload[3] === 0xe0) {
        pid = p;
        parts.push(payload);
      }
      continue;
    }
    if (p !== pid) continue;
    if (pusi) break;
    parts.push(payload);
  }
  const total = parts.reduce((n, x) => n + x.length, 0);
  const pes = new Uint8Array(total);
  let o = 0;
  for (const x of parts) {
    pes.set(x, o);
    o += x.length;
  }
  return pes.subarray(9 + pes[8]!);
}
