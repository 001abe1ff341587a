/** A test clip's FLV tags as the hub's MediaPackets (metadata, configs, frames), in file order. */
import { readFileSync } from "node:fs";
import { demuxFlv } from "../../lib/formats/flv.ts";
import { flvTagToPacket } from "../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../lib/media/packet.ts";
import { clip, type ClipName } from "./media.ts";

export function clipPackets(name: ClipName = "clip.flv"): MediaPacket[] {
  const { tags } = demuxFlv(new Uint8Array(readFileSync(clip(name))));
  const out: MediaPacket[] = [];
  for (const t of tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) out.push(p);
  }
  return out;
}
