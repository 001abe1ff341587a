/**
 * Audio-only HTTP live formats of `http_remux`: `.aac` (ADTS frames, ISO 14496-3 1.A.2) and `.mp3` (the MPEG
 * audio frames as they are, ISO 11172-3). Video and metadata are dropped. Each packet is encoded once per
 * hub and the bytes shared by every player of the format, as for FLV.
 */
import { FanOut, fanOutKey, type FanOutOptions } from "../../hub/fanout.ts";
import type { OutputSpec } from "../../hub/lease.ts";
import type { StreamHub } from "../../hub/stream-hub.ts";
import { type AudioSpecificConfig, buildAdtsHeader, parseAudioSpecificConfig } from "../../media/aac.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { KEYFRAME_MARK } from "./flv-stream.ts";

/** Video keyframes become KEYFRAME_MARK (see flv-stream.ts) so BytePlayer can start/resume players on them. */
function videoMark(p: MediaPacket): Uint8Array | null {
  return p.kind === "video" && p.keyframe && !p.config ? KEYFRAME_MARK : null;
}

/** ADTS encoder: the AudioSpecificConfig from the sequence header describes every following raw frame. */
export class AdtsEncoder {
  private asc: AudioSpecificConfig | undefined;
  private ascBytes: Uint8Array | undefined;

  constructor(private hub: StreamHub) {}

  private config(p?: MediaPacket): AudioSpecificConfig | undefined {
    const src = p ?? this.hub.audioConfigs().find((c) => c.codec === "aac");
    if (!src || src.codec !== "aac") return this.asc;
    if (src.data !== this.ascBytes) {
      try {
        this.asc = parseAudioSpecificConfig(src.data);
        this.ascBytes = src.data;
      } catch {
        this.asc = undefined;
      }
    }
    return this.asc;
  }

  encode(p: MediaPacket): Uint8Array | null {
    if (p.kind !== "audio") return videoMark(p);
    if (p.codec !== "aac") return null;
    if (p.config) {
      this.config(p);
      return null;
    }
    const asc = this.asc ?? this.config();
    if (!asc) return null;
    try {
      const h = buildAdtsHeader(asc, p.data.byteLength);
      const out = new Uint8Array(h.byteLength + p.data.byteLength);
      out.set(h, 0);
      out.set(p.data, h.byteLength);
      return out;
    } catch {
      return null; // not expressible in ADTS (e.g. an object type above 4)
    }
  }
}

export function encodeMp3Packet(p: MediaPacket): Uint8Array | null {
  if (p.kind !== "audio") return videoMark(p);
  return p.codec === "mp3" && !p.config ? p.data : null;
}

export function aacOutput(opts: FanOutOptions): OutputSpec<FanOut> {
  return {
    key: fanOutKey("aac", opts),
    create: (hub) => {
      const enc = new AdtsEncoder(hub);
      return new FanOut(hub, "aac", (p) => enc.encode(p), opts);
    },
  };
}

export function mp3Output(opts: FanOutOptions): OutputSpec<FanOut> {
  return { key: fanOutKey("mp3", opts), create: (hub) => new FanOut(hub, "mp3", encodeMp3Packet, opts) };
}
