/**
 * Hub -> RTSP players. One `RtspOutput` per stream hub (players lease it: hubs.play(key, rtspOutput(), player))
 * packetizes each MediaPacket ONCE into `RtspUnit`s (RTP payloads per the codec's payload format, lib/formats/rtp)
 * that every player shares: a player only writes its own RTP header (SSRC, payload type, sequence number) in front
 * of each payload and sends it over its transport (interleaved TCP or UDP, session.ts).
 *
 * RTP timestamps come from the presentation time in the track's clock: 90 kHz video, the AAC sampling rate,
 * 48 kHz Opus, 8 kHz G.711 (the SDP says which, sdp.ts). A joining player first gets the hub's startup packets
 * (sequence headers + GOP cache) packetized for it, so it starts on a keyframe.
 */
import type { OutputSpec, SharedOutput } from "../../hub/lease.ts";
import type { HubSubscriber, StreamHub } from "../../hub/stream-hub.ts";
import { parseAvcConfig, splitAvcc } from "../../media/avc.ts";
import { parseHevcConfig } from "../../media/hevc.ts";
import { parseAudioSpecificConfig } from "../../media/aac.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { packetizeH264, type RtpPayload } from "../../formats/rtp/h264.ts";
import { packetizeH265 } from "../../formats/rtp/h265.ts";
import { packetizeAac } from "../../formats/rtp/aac.ts";
import { packetizeOpus } from "../../formats/rtp/opus.ts";
import { packetizeG711 } from "../../formats/rtp/g711.ts";

export interface RtspUnit {
  kind: "video" | "audio";
  codec: string;
  /** Payloads with their RTP timestamp offsets from `timestamp` (G.711 splits one frame into several). */
  payloads: (RtpPayload & { offset?: number })[];
  /** RTP timestamp in the track's clock. */
  timestamp: number;
  /** The track's clock rate (for sender reports). */
  clock: number;
  keyframe: boolean;
  /** The unit's interleaved frames made once (see interleavedTemplate), shared by every TCP player. */
  template?: InterleavedTemplate;
}

/**
 * Every payload of a unit as an interleaved frame (RFC 2326 10.12) holding its RTP packet, with what differs per
 * player left blank: channel, sequence number, SSRC (and the payload type, kept with the marker bit). A TCP player
 * copies the bytes once and fills those fields in at `offsets`.
 */
export interface InterleavedTemplate {
  bytes: Uint8Array;
  offsets: number[];
}

export function interleavedTemplate(u: RtspUnit): InterleavedTemplate {
  if (u.template) return u.template;
  let total = 0;
  for (const p of u.payloads) total += 16 + p.payload.byteLength;
  const bytes = new Uint8Array(total);
  const offsets: number[] = [];
  let o = 0;
  for (const p of u.payloads) {
    const n = 12 + p.payload.byteLength;
    const ts = (u.timestamp + (p.offset ?? 0)) >>> 0;
    offsets.push(o);
    bytes[o] = 0x24;
    bytes[o + 2] = n >> 8;
    bytes[o + 3] = n & 0xff;
    bytes[o + 4] = 0x80;
    bytes[o + 5] = p.marker ? 0x80 : 0;
    bytes[o + 8] = ts >>> 24;
    bytes[o + 9] = (ts >>> 16) & 0xff;
    bytes[o + 10] = (ts >>> 8) & 0xff;
    bytes[o + 11] = ts & 0xff;
    bytes.set(p.payload, o + 16);
    o += 4 + n;
  }
  u.template = { bytes, offsets };
  return u.template;
}

export interface RtspPlayerSink {
  send(u: RtspUnit): void;
  onUnpublish(): void;
  onPublish(): void;
}

/** Packetizes hub packets; stateful (parameter sets, the AAC clock). */
export class RtspPacketizer {
  private paramSets: Uint8Array[] | undefined;
  private audioClock = 44100;
  unsupported = new Set<string>();

  unit(p: MediaPacket): RtspUnit | undefined {
    if (p.kind === "video") {
      if (p.codec !== "h264" && p.codec !== "h265") {
        this.unsupported.add(p.codec);
        return undefined;
      }
      const hevc = p.codec === "h265";
      if (p.config) {
        try {
          const c = hevc ? parseHevcConfig(p.data) : parseAvcConfig(p.data);
          this.paramSets = [...(hevc ? (c as ReturnType<typeof parseHevcConfig>).vps : []), ...c.sps, ...c.pps].map((x) => x.slice());
        } catch {
          this.paramSets = undefined;
        }
        return undefined;
      }
      let nalus: Uint8Array[];
      try {
        nalus = splitAvcc(p.data);
      } catch {
        return undefined;
      }
      const ps = p.keyframe ? this.paramSets : undefined;
      const payloads = hevc ? packetizeH265(nalus, ps) : packetizeH264(nalus, ps);
      if (!payloads.length) return undefined;
      return { kind: "video", codec: p.codec, payloads, timestamp: Math.round(p.pts * 90) >>> 0, clock: 90000, keyframe: p.keyframe };
    }
    if (p.kind !== "audio") return undefined;
    if (p.codec === "aac") {
      if (p.config) {
        try {
          this.audioClock = parseAudioSpecificConfig(p.data).sampleRate;
        } catch {
          // keep the last clock
        }
        return undefined;
      }
      const payloads = packetizeAac(p.data);
      if (!payloads.length) return undefined;
      return { kind: "audio", codec: "aac", payloads, timestamp: Math.round((p.pts * this.audioClock) / 1000) >>> 0, clock: this.audioClock, keyframe: false };
    }
    if (p.codec === "opus") {
      if (p.config) return undefined;
      return { kind: "audio", codec: "opus", payloads: packetizeOpus(p.data), timestamp: Math.round(p.pts * 48) >>> 0, clock: 48000, keyframe: false };
    }
    if (p.codec === "pcma" || p.codec === "pcmu") {
      if (p.config) return undefined;
      return { kind: "audio", codec: p.codec, payloads: packetizeG711(p.data), timestamp: Math.round(p.pts * 8) >>> 0, clock: 8000, keyframe: false };
    }
    this.unsupported.add(p.codec);
    return undefined;
  }
}

/** The hub's shared RTSP output. */
export function rtspOutput(): OutputSpec<RtspOutput> {
  return { key: "rtsp", create: (hub) => new RtspOutput(hub) };
}

export class RtspOutput implements HubSubscriber, SharedOutput<RtspPlayerSink> {
  private players = new Set<RtspPlayerSink>();
  private packetizer = new RtspPacketizer();
  private warned = new Set<string>();

  constructor(private hub: StreamHub) {
    // Attached without replay: take the current sequence headers now.
    if (hub.active) for (const p of hub.startupPackets()) if (p.config) this.packetizer.unit(p);
  }

  get size(): number {
    return this.players.size;
  }

  /** Adds a player: it first gets the startup packets (sequence headers + GOP cache), packetized for it. */
  add(v: RtspPlayerSink): void {
    if (this.hub.active) {
      const own = new RtspPacketizer();
      for (const p of this.hub.startupPackets()) {
        const u = own.unit(p);
        if (u) v.send(u);
      }
    }
    this.players.add(v);
  }

  remove(v: RtspPlayerSink): void {
    this.players.delete(v);
  }

  onPacket(p: MediaPacket): void {
    if (!this.players.size) {
      if (p.config) this.packetizer.unit(p);
      return;
    }
    const u = this.packetizer.unit(p);
    for (const c of this.packetizer.unsupported) {
      if (this.warned.has(c)) continue;
      this.warned.add(c);
      this.hub.log.warn(`rtsp ${this.hub.name}: codec ${c} cannot be sent over RTSP (H.264, H.265, AAC, Opus, G.711)`);
    }
    if (!u) return;
    for (const v of this.players) v.send(u);
  }

  onPublish(): void {
    for (const v of [...this.players]) v.onPublish();
  }

  onUnpublish(): void {
    for (const v of [...this.players]) v.onUnpublish();
  }
}
