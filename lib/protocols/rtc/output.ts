/**
 * Hub -> WebRTC viewers. One `RtcOutput` per stream hub (viewers lease it: hub.play(rtcOutput(...))) packetizes
 * each MediaPacket ONCE (H.264 per RFC 6184 with our packetizer, Opus as is per RFC 7587) into `RtcUnit`s whose
 * payloads every viewer shares: each viewer only writes its own RTP header (SSRC, payload type, sequence number)
 * in front of them and encrypts (rtp-send.ts), and keeps references to them for NACKs.
 * A joining viewer first gets the startup packets (sequence headers + GOP cache) packetized once per GOP too:
 * viewers joining during the same GOP share those units (`startup`).
 *
 * RTP timestamps come from the presentation time: 90 kHz video, 48 kHz Opus. B-frames (a frame presented
 * before one already sent) are dropped unless keep_bframe: browsers' RTP receivers expect presentation order.
 * Only Opus audio is sent: with an AAC publisher the hub's audio bridge makes an Opus rendition while viewers
 * watch (each viewer counts in hub.wantAudio("opus")); AAC/MP3 packets are skipped (the session logs whether
 * audio is bridged).
 */
import type { OutputSpec, SharedOutput } from "../../hub/lease.ts";
import type { HubSubscriber, StreamHub } from "../../hub/stream-hub.ts";
import { parseAvcConfig, splitAvcc } from "../../media/avc.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { packetizeH264, type RtpPayload } from "../../formats/rtp/h264.ts";
import { SharedPacketizer } from "../../outputs/shared-packetizer.ts";

export interface RtcUnit {
  kind: "video" | "audio";
  payloads: RtpPayload[];
  /** RTP timestamp in the track's clock (before any per-viewer offset). */
  timestamp: number;
  /** Presentation time in ms (the sender reports map it to the wallclock). */
  ptsMs: number;
  keyframe: boolean;
}

export interface RtcViewerSink {
  send(u: RtcUnit): void;
  onUnpublish(): void;
  onPublish(): void;
}

export interface RtcOutputOptions {
  keepBframe: boolean;
  keepSei: boolean;
}

/** Packetizes hub packets; stateful (parameter sets, B-frame detection). */
export class RtcPacketizer {
  private paramSets: Uint8Array[] | undefined;
  private maxPts = -Infinity;
  droppedBframes = 0;
  unsupported = new Set<string>();

  constructor(private opts: RtcOutputOptions) {}

  reset(): void {
    this.maxPts = -Infinity;
  }

  unit(p: MediaPacket): RtcUnit | undefined {
    if (p.kind === "video") {
      if (p.codec !== "h264") {
        this.unsupported.add(p.codec);
        return undefined;
      }
      if (p.config) {
        try {
          const c = parseAvcConfig(p.data);
          this.paramSets = [...c.sps, ...c.pps].map((x) => x.slice());
        } catch {
          this.paramSets = undefined;
        }
        return undefined;
      }
      if (p.keyframe) this.maxPts = -Infinity;
      if (p.pts < this.maxPts && !this.opts.keepBframe) {
        this.droppedBframes++;
        return undefined;
      }
      this.maxPts = Math.max(this.maxPts, p.pts);
      let nalus: Uint8Array[];
      try {
        nalus = splitAvcc(p.data);
      } catch {
        return undefined;
      }
      const payloads = packetizeH264(nalus, p.keyframe ? this.paramSets : undefined, { keepSei: this.opts.keepSei });
      if (!payloads.length) return undefined;
      return { kind: "video", payloads, timestamp: Math.round(p.pts * 90) >>> 0, ptsMs: p.pts, keyframe: p.keyframe };
    }
    if (p.kind === "audio") {
      // AAC/MP3: the publisher's rendition; the audio bridge's Opus one (when running) is what viewers get.
      if (p.codec !== "opus") return undefined;
      if (p.config) return undefined;
      return { kind: "audio", payloads: [{ payload: p.data, marker: false }], timestamp: Math.round(p.pts * 48) >>> 0, ptsMs: p.pts, keyframe: false };
    }
    return undefined;
  }
}

/** The hub's shared RTC output (viewers lease it with hub.play). */
export function rtcOutput(opts: RtcOutputOptions): OutputSpec<RtcOutput> {
  return { key: `rtc?keep_bframe=${opts.keepBframe}&keep_sei=${opts.keepSei}`, create: (hub) => new RtcOutput(hub, opts) };
}

/**
 * The startup packets packetized once: `units[i]` is the unit of `packets[i]` (undefined: nothing to send), made
 * by `packetizer` in order, so a later list that starts with the same packets only packetizes its new tail.
 */
interface StartupUnits {
  packets: MediaPacket[];
  units: (RtcUnit | undefined)[];
  packetizer: RtcPacketizer;
}

export class RtcOutput implements HubSubscriber, SharedOutput<RtcViewerSink> {
  private viewers = new Set<RtcViewerSink>();
  private live: SharedPacketizer<RtcUnit, RtcPacketizer>;
  private startup: StartupUnits | undefined;

  constructor(private hub: StreamHub, private opts: RtcOutputOptions) {
    this.live = new SharedPacketizer(new RtcPacketizer(opts),
      (c) => hub.log.warn(`rtc ${hub.name}: video codec ${c} cannot be sent over WebRTC (H.264 only)`));
    // The hub attaches us without replay: take the current sequence header now, or the live keyframes would go
    // without SPS/PPS, and a viewer that missed the startup keyframe (or had no GOP cache) would never decode.
    this.live.takeSequenceHeaders(hub);
  }

  get size(): number {
    return this.viewers.size;
  }

  /** Adds a viewer: it first gets the hub's startup packets (parameter sets + GOP cache) packetized for it. */
  add(v: RtcViewerSink): void {
    if (this.hub.active) {
      for (const u of this.startupUnits()) if (u) v.send(u);
    }
    this.viewers.add(v);
    this.hub.wantAudio("opus", +1);
  }

  /** The startup packets as units, reusing those of the previous join when the GOP is the same. */
  private startupUnits(): (RtcUnit | undefined)[] {
    const packets = this.hub.startupPackets();
    let s = this.startup;
    if (!s || s.packets.length > packets.length || s.packets.some((p, i) => packets[i] !== p)) {
      s = { packets: [], units: [], packetizer: new RtcPacketizer(this.opts) };
      this.startup = s;
    }
    for (let i = s.packets.length; i < packets.length; i++) {
      const p = packets[i]!;
      s.packets.push(p);
      s.units.push(s.packetizer.unit(p));
    }
    return s.units;
  }

  remove(v: RtcViewerSink): void {
    if (this.viewers.delete(v)) this.hub.wantAudio("opus", -1);
  }

  onPacket(p: MediaPacket): void {
    // A new GOP (or new parameter sets): the next join starts from it, the cached units can go.
    if (p.kind === "video" && (p.keyframe || p.config)) this.startup = undefined;
    const u = this.live.unit(p, this.viewers.size > 0);
    if (!u) return;
    for (const v of this.viewers) v.send(u);
  }

  onPublish(): void {
    this.live.packetizer.reset();
    this.startup = undefined;
    for (const v of this.viewers) v.onPublish();
  }

  onUnpublish(): void {
    this.startup = undefined;
    for (const v of this.viewers) v.onUnpublish();
  }
}
