/**
 * Hub -> RTSP players. One `RtspOutput` per stream hub (players lease it: hubs.play(key, rtspOutput(), player))
 * packetizes each MediaPacket ONCE into `RtspUnit`s (RTP payloads per the codec's payload format, lib/formats/rtp)
 * that every player shares, with one SSRC and sequence numbering per stream and kind (RtpNumbering): the RTP
 * packets (UDP) and interleaved frames (TCP, per channel) are made once and every player sends the same bytes.
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
import { SharedPacketizer } from "../../outputs/shared-packetizer.ts";

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
  /** The stream's SSRC for this kind, and the sequence number of the first payload (set by `number`). */
  ssrc: number;
  seq: number;
  /** The RTP packets (UDP players) and the interleaved frames per channel (TCP players), made once, shared. */
  rtp?: Uint8Array[];
  frames?: Map<number, Uint8Array>;
}

/** The static payload type each codec is sent with (the SDP says the same, sdp.ts). */
export function payloadTypeOf(codec: string): number {
  return codec === "pcmu" ? 0 : codec === "pcma" ? 8 : codec === "h264" || codec === "h265" ? 96 : 97;
}

function rtpHeader(b: Uint8Array, o: number, u: RtspUnit, i: number): void {
  const p = u.payloads[i]!;
  const ts = (u.timestamp + (p.offset ?? 0)) >>> 0;
  const seq = (u.seq + i) & 0xffff;
  b[o] = 0x80;
  b[o + 1] = (p.marker ? 0x80 : 0) | payloadTypeOf(u.codec);
  b[o + 2] = seq >> 8;
  b[o + 3] = seq & 0xff;
  b[o + 4] = ts >>> 24;
  b[o + 5] = (ts >>> 16) & 0xff;
  b[o + 6] = (ts >>> 8) & 0xff;
  b[o + 7] = ts & 0xff;
  b[o + 8] = u.ssrc >>> 24;
  b[o + 9] = (u.ssrc >>> 16) & 0xff;
  b[o + 10] = (u.ssrc >>> 8) & 0xff;
  b[o + 11] = u.ssrc & 0xff;
  b.set(p.payload, o + 12);
}

/** The unit's RTP packets (RFC 3550 5.1), made on first use and shared by every UDP player. */
export function rtpPackets(u: RtspUnit): Uint8Array[] {
  if (u.rtp) return u.rtp;
  u.rtp = u.payloads.map((p, i) => {
    const b = new Uint8Array(12 + p.payload.byteLength);
    rtpHeader(b, 0, u, i);
    return b;
  });
  return u.rtp;
}

/**
 * The unit's packets as interleaved frames (RFC 2326 10.12) on RTP channel `channel`, one buffer, made on first
 * use per channel and shared by every TCP player of that channel (FFmpeg, GStreamer and VLC all ask for 0-1 and
 * 2-3: in practice one buffer per unit).
 */
export function interleavedFrames(u: RtspUnit, channel: number): Uint8Array {
  u.frames ??= new Map();
  let b = u.frames.get(channel);
  if (b) return b;
  let total = 0;
  for (const p of u.payloads) total += 16 + p.payload.byteLength;
  b = new Uint8Array(total);
  let o = 0;
  for (let i = 0; i < u.payloads.length; i++) {
    const n = 12 + u.payloads[i]!.payload.byteLength;
    b[o] = 0x24;
    b[o + 1] = channel;
    b[o + 2] = n >> 8;
    b[o + 3] = n & 0xff;
    rtpHeader(b, o + 4, u, i);
    o += 4 + n;
  }
  u.frames.set(channel, b);
  return b;
}

/**
 * Sequence numbers and SSRC of a stream's RTSP output, one per kind: every player of the output gets the same
 * packets (RTP-Info names no sequence number, so a player starts wherever it joins). A joining player's startup
 * units are numbered just before the next live packet, so its sequence runs on without a gap.
 */
export class RtpNumbering {
  private next = new Map<string, number>();
  private ssrcs = new Map<string, number>();

  ssrc(kind: string): number {
    let s = this.ssrcs.get(kind);
    if (s === undefined) {
      s = (Math.random() * 0x100000000) >>> 0;
      this.ssrcs.set(kind, s);
    }
    return s;
  }

  private seq(kind: string): number {
    let n = this.next.get(kind);
    if (n === undefined) {
      n = Math.floor(Math.random() * 0x8000);
      this.next.set(kind, n);
    }
    return n;
  }

  /** Numbers a live unit. */
  live(u: RtspUnit): RtspUnit {
    u.ssrc = this.ssrc(u.kind);
    u.seq = this.seq(u.kind);
    this.next.set(u.kind, (u.seq + u.payloads.length) & 0xffff);
    return u;
  }

  /** Numbers a joining player's startup units so they end right before the next live packet of their kind. */
  startup(units: RtspUnit[]): RtspUnit[] {
    const counts = new Map<string, number>();
    for (const u of units) counts.set(u.kind, (counts.get(u.kind) ?? 0) + u.payloads.length);
    const at = new Map<string, number>();
    for (const [k, n] of counts) at.set(k, (this.seq(k) - n) & 0xffff);
    for (const u of units) {
      u.ssrc = this.ssrc(u.kind);
      u.seq = at.get(u.kind)!;
      at.set(u.kind, (u.seq + u.payloads.length) & 0xffff);
    }
    return units;
  }
}

export interface RtspPlayerSink {
  /** A unit for the player; `live`: one of the output's batch (not a startup unit made for this player alone). */
  send(u: RtspUnit, live: boolean): void;
  onUnpublish(): void;
  onPublish(): void;
  /** TCP players: the RTP channel each kind goes on (undefined: not set up over TCP). */
  channelOf?(kind: "video" | "audio"): number | undefined;
  /**
   * TCP players, at the output's merged write: `units` live units went out since the last one; `shared()` is them
   * as this player's interleaved frames, one buffer made once for every player of the same channels. A player that
   * queued exactly those writes it; one that queued anything else writes its own batch.
   */
  flushBatch?(units: number, shared: () => Uint8Array): void;
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
      return { kind: "video", codec: p.codec, payloads, timestamp: Math.round(p.pts * 90) >>> 0, clock: 90000, keyframe: p.keyframe, ssrc: 0, seq: 0 };
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
      return { kind: "audio", codec: "aac", payloads, timestamp: Math.round((p.pts * this.audioClock) / 1000) >>> 0, clock: this.audioClock, keyframe: false, ssrc: 0, seq: 0 };
    }
    if (p.codec === "opus") {
      if (p.config) return undefined;
      return { kind: "audio", codec: "opus", payloads: packetizeOpus(p.data), timestamp: Math.round(p.pts * 48) >>> 0, clock: 48000, keyframe: false, ssrc: 0, seq: 0 };
    }
    if (p.codec === "pcma" || p.codec === "pcmu") {
      if (p.config) return undefined;
      return { kind: "audio", codec: p.codec, payloads: packetizeG711(p.data), timestamp: Math.round(p.pts * 8) >>> 0, clock: 8000, keyframe: false, ssrc: 0, seq: 0 };
    }
    this.unsupported.add(p.codec);
    return undefined;
  }
}

/**
 * The hub's shared RTSP output; `mwMs` is its players' merged-write interval (SRS's `mw_latency`, 0 for every turn
 * with `min_latency on`): players asking for another one get their own output.
 */
export function rtspOutput(mwMs: number): OutputSpec<RtspOutput> {
  return { key: `rtsp?mw_latency=${mwMs}`, create: (hub) => new RtspOutput(hub, mwMs) };
}

export class RtspOutput implements HubSubscriber, SharedOutput<RtspPlayerSink> {
  private players = new Set<RtspPlayerSink>();
  private live: SharedPacketizer<RtspUnit>;
  private numbering = new RtpNumbering();
  /** Live units since the last merged write, and its timer. */
  private batch: RtspUnit[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate = false;

  constructor(private hub: StreamHub, private mwMs = 0) {
    this.live = new SharedPacketizer(new RtspPacketizer(),
      (c) => hub.log.warn(`rtsp ${hub.name}: codec ${c} cannot be sent over RTSP (H.264, H.265, AAC, Opus, G.711)`));
    // Attached without replay: take the current sequence headers now.
    this.live.takeSequenceHeaders(hub);
  }

  get size(): number {
    return this.players.size;
  }

  /** Adds a player: it first gets the startup packets (sequence headers + GOP cache), packetized for it. */
  add(v: RtspPlayerSink): void {
    if (this.hub.active) {
      const own = new RtspPacketizer();
      const units: RtspUnit[] = [];
      for (const p of this.hub.startupPackets()) {
        const u = own.unit(p);
        if (u) units.push(u);
      }
      for (const u of this.numbering.startup(units)) v.send(u, false);
    }
    this.players.add(v);
  }

  remove(v: RtspPlayerSink): void {
    this.players.delete(v);
  }

  onPacket(p: MediaPacket): void {
    const u = this.live.unit(p, this.players.size > 0);
    if (!u) return;
    this.numbering.live(u);
    this.batch.push(u);
    for (const v of this.players) v.send(u, true);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.immediate) return;
    if (this.mwMs <= 0) {
      this.immediate = true;
      setImmediate(() => this.flush());
    } else {
      this.timer = setTimeout(() => this.flush(), this.mwMs);
    }
  }

  /** The merged write: every TCP player writes the batch (the same buffer for the players of the same channels). */
  private flush(): void {
    this.timer = undefined;
    this.immediate = false;
    const units = this.batch;
    this.batch = [];
    if (!units.length) return;
    const made = new Map<string, Uint8Array>();
    for (const v of this.players) {
      if (!v.flushBatch || !v.channelOf) continue;
      const ch = v.channelOf;
      const key = `${ch("video")}/${ch("audio")}`;
      v.flushBatch(units.length, () => {
        let b = made.get(key);
        if (!b) {
          const parts = units.map((u) => interleavedFrames(u, ch(u.kind) ?? 0));
          b = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
          made.set(key, b);
        }
        return b;
      });
    }
  }

  onPublish(): void {
    for (const v of [...this.players]) v.onPublish();
  }

  onUnpublish(): void {
    for (const v of [...this.players]) v.onUnpublish();
  }
}
