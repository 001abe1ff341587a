/**
 * RTMP output format: a MediaPacket becomes one RTMP message (FLV tag body) split into chunks, encoded once
 * per packet and chunk size, and the bytes shared by every RTMP player of the stream. All players use message
 * stream id 1 (our createStream always answers 1, as SRS does), so the bytes are the same for everyone.
 */
import { FanOut, fanOutKey, type FanOutOptions } from "../../hub/fanout.ts";
import type { OutputSpec } from "../../hub/lease.ts";
import { flvPlayersDecode, packetToFlvBody } from "../../media/flv-codec.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { encodeChunks } from "./chunk-writer.ts";
import { CSID_AUDIO, CSID_DATA, CSID_VIDEO, MSG_AMF0_DATA, MSG_AUDIO, MSG_VIDEO } from "./messages.ts";

/** The message stream id every player gets from createStream. */
export const PLAY_STREAM_ID = 1;

export function encodeRtmpPacket(p: MediaPacket, chunkSize: number): Uint8Array | null {
  if (!flvPlayersDecode(p)) return null;
  let payload: Uint8Array;
  try {
    payload = p.kind === "data" ? p.data : packetToFlvBody(p);
  } catch {
    return null; // a codec RTMP cannot carry: players of this format skip it
  }
  const type = p.kind === "video" ? MSG_VIDEO : p.kind === "audio" ? MSG_AUDIO : MSG_AMF0_DATA;
  const csid = p.kind === "video" ? CSID_VIDEO : p.kind === "audio" ? CSID_AUDIO : CSID_DATA;
  return encodeChunks({ csid, type, streamId: PLAY_STREAM_ID, timestamp: p.dts % 0x100000000, payload }, chunkSize);
}

/** The shared RTMP encoder of a hub for one chunk size (players lease it with hub.play). */
export function rtmpOutput(chunkSize: number, opts: FanOutOptions): OutputSpec<FanOut> {
  const name = `rtmp/${chunkSize}`;
  return { key: fanOutKey(name, opts), create: (hub) => new FanOut(hub, name, (p) => encodeRtmpPacket(p, chunkSize), opts) };
}
