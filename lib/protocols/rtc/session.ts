/**
 * One WebRTC session (a WHIP publisher or a WHEP/`/rtc/v1/play/` viewer), server side:
 *
 *   offer ──gate (on_publish/on_play)──▶ werift answer on the shared port ──ICE (lite)──▶ DTLS ──▶ media ──▶ closed
 *
 * Publisher: received RTP -> reorder buffer -> H.264 depacketizer / Opus -> MediaPackets into the stream hub
 * (so RTMP, HTTP-FLV, HLS and other WebRTC viewers get it). Lost packets are NACKed by werift's receiver
 * (rtc.nack); a broken frame is dropped and a PLI asks for a keyframe; a PLI also goes out every
 * rtc.pli_for_rtmp seconds and whenever a new WebRTC viewer joins.
 * Viewer: gets RtcUnits from the hub's shared RtcOutput and sends a copy per packet with its own sequence
 * numbers; a PLI from the viewer asks the publisher (when it is a WebRTC one, at most every 500 ms) for a
 * keyframe while the viewer keeps getting every frame (its decoder recovers on the next keyframe).
 * The session ends on DELETE, kick, a DTLS alert (close_notify), an RTCP BYE (RFC 3550 6.6), when nothing
 * (STUN, DTLS, SRTP, SRTCP) arrived from the peer for rtc.stun_timeout: stacks like pion send consent STUN
 * only while no media flows, so a viewer's receiver reports and NACKs are its liveness, as in SRS; or when the
 * ICE-TCP connection (tcp-mux.ts) carrying its selected pair closes (as SRS expires the session).
 */
import { randomBytes } from "node:crypto";
import {
  type MediaStreamTrack,
  type RtcpPacket,
  type RTCCertificate,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  RtpHeader,
  RtpPacket,
  useAbsSendTime,
  useSdesMid,
  useTransportWideCC,
} from "werift";
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { RtcConfig } from "../../config/index.ts";
import type { HubHold, PlayLease, PublishLease } from "../../hub/lease.ts";
import { PublishError, type PublisherInfo, type StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import { newContextId } from "../../log/logger.ts";
import { buildAvcConfig, joinAvcc } from "../../media/avc.ts";
import type { MediaPacket, StreamKey } from "../../media/packet.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import type { AccessControl } from "../../access.ts";
import { H264Depacketizer } from "./h264-rtp.ts";
import { type IceTransportKind, type SharedPortIce, useSharedPort } from "./ice.ts";
import { TWCC_URI, TwccRecorder } from "./twcc.ts";
import { watchPeerClose } from "./peer-close.ts";
import { type RtcOutput, rtcOutput, type RtcUnit, type RtcViewerSink } from "./output.ts";
import { ReorderBuffer, RtpTimestampUnwrapper } from "./reorder.ts";
import type { CandidateAddress, OfferInfo } from "./sdp.ts";
import type { MuxEndpoint, RtcTransport, UdpMux } from "./udp-mux.ts";

export type RtcRole = "publish" | "play";

/** What a WebRTC session needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface RtcSessionPorts {
  readonly hubs: Pick<StreamHubs, "publish" | "hold">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "whyFull">;
  readonly access: AccessControl;
  readonly log: Log;
}

/** What a session needs from the RTC service. */
export interface RtcServiceView {
  readonly ctx: RtcSessionPorts;
  readonly mux: UdpMux;
  /** The server's shared DTLS certificate (undefined: werift's process-wide one). */
  readonly certificate?: RTCCertificate;
  publisherOf(hub: StreamHub): RtcSession | undefined;
  setPublisher(hub: StreamHub, s: RtcSession | undefined): void;
  removed(s: RtcSession): void;
}

export interface RtcRequest {
  role: RtcRole;
  key: StreamKey;
  /** Extra query kept for hooks (`?token=…`), with its leading `?`, or "". */
  param: string;
  clientIp: string;
  tcUrl: string;
  offer: OfferInfo;
  candidates: CandidateAddress[];
  creds?: { ufrag: string; password: string };
}

/** A refused offer: the HTTP status and SRS-style code the API answers with. */
export class RtcRefused extends Error {
  constructor(message: string, readonly status: number, readonly code: number) {
    super(message);
  }
}

/** OpusHead (RFC 7845 5.1) for the 48 kHz stereo Opus browsers send: the hub's audio config packet. */
export function opusHead(channels = 2, preSkip = 312): Uint8Array {
  const b = new Uint8Array(19);
  b.set(new TextEncoder().encode("OpusHead"), 0);
  b[8] = 1;
  b[9] = channels;
  b[10] = preSkip & 0xff;
  b[11] = preSkip >> 8;
  const rate = 48000;
  b[12] = rate & 0xff;
  b[13] = (rate >> 8) & 0xff;
  b[14] = (rate >> 16) & 0xff;
  b[15] = rate >>> 24;
  return b;
}

/** What a WebRTC viewer of `hub` gets as audio, for the log (undefined: Opus as published, or no audio yet). */
export function playAudioNote(hub: StreamHub, rtc: RtcConfig): string | undefined {
  if (!hub.active) return undefined;
  const codec = hub.audioConfig?.codec ?? hub.gop.snapshot().find((p) => p.kind === "audio" && !p.derived)?.codec;
  if (!codec || codec === "opus") return undefined;
  if (codec !== "aac" && codec !== "mp3") return `audio not bridged: ${codec} → opus not available, video only`;
  return rtc.rtmpToRtc
    ? `audio bridged ${codec}→opus at ${rtc.opusBitrate} bps`
    : `audio not bridged: rtmp_to_rtc off in vhost ${hub.key.vhost}, video only`;
}

export class RtcSession implements ClientInfo, MuxEndpoint, RtcViewerSink {
  readonly id = newContextId();
  readonly protocol = "rtc";
  readonly type: "rtc-publish" | "rtc-play";
  readonly ip: string;
  readonly connectedAt = Date.now();
  readonly stream: StreamKey;
  readonly param: string;
  readonly tcUrl: string;
  readonly token = newContextId() + newContextId();
  readonly log: Log;
  sessionId = "";
  /** When the peer last sent anything (STUN, DTLS, SRTP, SRTCP): its liveness. */
  lastSeenAt = Date.now();
  closed = false;
  private pc: RTCPeerConnection | undefined;
  private ice: SharedPortIce | undefined;
  private inBytes = 0;
  private outBytes = 0;
  /** Packets in/out per transport (the close log line; tests check which path carried a session). */
  private packets = { udp: { in: 0, out: 0 }, tcp: { in: 0, out: 0 } };
  private hub: StreamHub | undefined;
  /** A publisher's claim on the stream; a viewer holds the hub until it joins the output (playLease). */
  private publishing: PublishLease | undefined;
  private hold: HubHold | undefined;
  private nominatedLogged = false;
  // publishing
  private videoTrack: MediaStreamTrack | undefined;
  private videoReceiver: RTCRtpTransceiver | undefined;
  private reorder = new ReorderBuffer<{ payload: Uint8Array; seq: number; ts: number; marker: boolean }>();
  private depack = new H264Depacketizer();
  private tsVideo = new RtpTimestampUnwrapper();
  private tsAudio = new RtpTimestampUnwrapper();
  private anchor: { video?: { ts: number; ms: number }; audio?: { ts: number; ms: number } } = {};
  private needKeyframe = true;
  private lastPliAt = 0;
  private plisSent = 0;
  /** Transport-wide congestion control feedback to the publisher (twcc.ts), when negotiated. */
  private twcc: TwccRecorder | undefined;
  private twccTicks = 0;
  private paramSets = "";
  private audioConfigSent = false;
  private framesIn = 0;
  private droppedFrames = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private pliTimer: ReturnType<typeof setInterval> | undefined;
  // playing
  private videoTx: RTCRtpTransceiver | undefined;
  private audioTx: RTCRtpTransceiver | undefined;
  private seq = { video: Math.floor(Math.random() * 0x8000), audio: Math.floor(Math.random() * 0x8000) };
  private waitKeyframe = true;
  private playLease: PlayLease<RtcOutput> | undefined;
  framesOut = 0;

  /** Frees this session's handshake slot (admission.ts): on connected, failed or closed. */
  private releaseSlot: () => void;

  constructor(private svc: RtcServiceView, private req: RtcRequest, private rtc: RtcConfig, releaseSlot?: () => void) {
    this.releaseSlot = releaseSlot ?? (() => {});
    this.type = req.role === "publish" ? "rtc-publish" : "rtc-play";
    this.ip = req.clientIp;
    this.stream = req.key;
    this.param = req.param;
    this.tcUrl = req.tcUrl;
    this.log = svc.ctx.log.child(this.id);
  }

  get ufrag(): string {
    return this.ice?.ufrag ?? "";
  }
  get password(): string {
    return this.ice?.password ?? "";
  }
  bytesIn(): number {
    return this.inBytes;
  }
  bytesOut(): number {
    return this.outBytes;
  }

  /** `/api/v1/clients/<id>`: the session's WebRTC state (ICE pair, DTLS role, RTT, feedback counters). */
  details(): Record<string, unknown> {
    const pair = this.ice?.nominated();
    const dtls = this.pc?.dtlsTransports[0];
    const out: Record<string, unknown> = {
      role: this.req.role,
      session: this.sessionId,
      state: this.closed ? "closed" : this.pc?.connectionState ?? "new",
      ice: {
        // the candidates offered (a TCP one as "tcp/ip:port"), the selected pair's remote address and transport
        local: this.req.candidates.map((c) => `${c.transport === "tcp" ? "tcp/" : ""}${c.ip}:${c.port}`),
        remote: pair ? `${pair.ip}:${pair.port}` : "",
        protocol: pair?.transport ?? "",
      },
      dtls_role: dtls ? (dtls.role === "server" ? "passive" : dtls.role === "client" ? "active" : "auto") : "",
      last_seen_ms: Date.now() - this.lastSeenAt,
    };
    if (this.req.role === "play") {
      const v = senderCounters(this.videoTx);
      const a = senderCounters(this.audioTx);
      out.rtt_ms = v.rtt ?? a.rtt;
      out.video = { frames: this.framesOut, packets: v.packets, nacks: v.nacks, retransmitted: v.retransmitted, plis: v.plis };
      out.audio = { packets: a.packets };
    } else {
      out.video = { frames: this.framesIn, dropped: this.droppedFrames, lost: this.reorder.lost, plis_sent: this.plisSent };
      out.twcc = this.twcc ? { reports: this.twcc.reports, packets: this.twcc.recorded } : undefined;
    }
    return { rtc: out };
  }

  kick(reason: string): void {
    this.log.trace(`rtc session kicked: ${reason}`);
    void this.close(reason);
  }

  /** Runs the gate, claims the stream (publish) and negotiates: returns the SDP answer. */
  async start(): Promise<string> {
    const ctx = this.svc.ctx;
    const key = this.req.key;
    ctx.clients.add(this);
    try {
      const gate = this.req.role === "publish" ? await ctx.access.onPublish(this, key) : await ctx.access.onPlay(this, key);
      if (!gate.ok) throw new RtcRefused(`${this.req.role} refused: ${gate.reason}`, 403, 5021);
      if (this.closed) throw new RtcRefused("session closed", 500, 5000);
      if (this.req.role === "publish") {
        const pub: PublisherInfo = { clientId: this.id, type: this.type, ip: this.ip, kick: (r) => this.kick(r) };
        try {
          this.publishing = ctx.hubs.publish(key, pub);
        } catch (e) {
          if (e instanceof PublishError) throw new RtcRefused(e.message, 409, 1028);
          throw e;
        }
        this.hub = this.publishing.hub;
        this.svc.setPublisher(this.hub, this);
      } else {
        this.hold = ctx.hubs.hold(key);
        this.hub = this.hold.hub;
      }
      const hub: StreamHub = this.hub;
      const answer = await this.negotiate();
      this.sessionId = `${this.ufrag}:${this.req.offer.iceUfrag}`;
      this.svc.mux.register(this);
      this.timer = setInterval(() => this.tick(), 20);
      if (this.req.role === "publish") {
        this.pliTimer = setInterval(() => this.requestKeyframe("pli_for_rtmp"), Math.round(this.rtc.pliForRtmp * 1000));
      } else {
        // The viewer joins the hub's output once DTLS is up (see onConnected): packets before that are lost.
        const why = playAudioNote(hub, this.rtc);
        if (why?.startsWith("audio bridged")) this.log.trace(`rtc play ${hub.name}: ${why}`);
        else if (why) this.log.warn(`rtc play ${hub.name}: ${why}`);
      }
      this.log.trace(`rtc ${this.req.role} ${hub.name}${this.param} session=${this.sessionId} ip=${this.ip} ` +
        `candidates=${this.req.candidates.map((c) => `${c.transport ?? "udp"}/${c.ip.includes(":") ? `[${c.ip}]` : c.ip}:${c.port}`).join(",")}` +
        `${this.req.offer.video ? ` h264 pt=${this.req.offer.video.pt}` : ""}${this.req.offer.audio ? ` opus pt=${this.req.offer.audio.pt}` : ""}`);
      return answer;
    } catch (e) {
      await this.close(e instanceof RtcRefused ? e.message : `negotiation failed: ${(e as Error).message}`);
      throw e;
    }
  }

  private async negotiate(): Promise<string> {
    const rtc = this.rtc;
    const fb = [
      ...(rtc.nack ? [{ type: "nack" }] : []),
      { type: "nack", parameter: "pli" },
      ...(rtc.twcc ? [{ type: "transport-cc" }] : []),
    ];
    const offer = this.req.offer;
    const pc = new RTCPeerConnection({
      iceServers: [],
      ...(this.svc.certificate ? { certificates: [this.svc.certificate] } : {}),
      iceLite: true,
      bundlePolicy: "max-bundle",
      codecs: {
        video: [new RTCRtpCodecParameters({
          mimeType: "video/H264",
          clockRate: 90000,
          rtcpFeedback: fb,
          parameters: offer.video?.fmtp || "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        })],
        audio: [new RTCRtpCodecParameters({ mimeType: "audio/opus", clockRate: 48000, channels: 2 })],
      },
      headerExtensions: {
        video: [useSdesMid(), useAbsSendTime(), ...(rtc.twcc ? [useTransportWideCC()] : [])],
        audio: [useSdesMid(), useAbsSendTime()],
      },
    });
    this.pc = pc;
    pc.connectionStateChange.subscribe((s) => {
      this.log.info(`rtc connection state ${s}`);
      if (s === "connected" || s === "failed" || s === "closed") this.releaseSlot();
      if (s === "connected") {
        const n = this.ice?.nominated();
        if (n && !this.nominatedLogged) {
          this.nominatedLogged = true;
          this.log.trace(`rtc ${this.req.role} connected: ICE nominated ${n.transport} ${n.ip}:${n.port}, DTLS done`);
        }
        this.onConnected();
      }
      if (s === "failed" || s === "closed") void this.close(`connection ${s}`);
    });
    if (this.req.role === "publish") {
      pc.onTrack.subscribe((track) => this.onTrack(track));
    }
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    // DTLS role (RFC 5763 5): an offer's actpass lets us choose: rtc.dtls_role, passive by default as SRS (we are
    // the DTLS server, the client drives the handshake and its retransmissions); an offer's active/passive binds.
    const dtls = pc.dtlsTransports[0];
    if (dtls) {
      const setup = /^a=setup:(\w+)/m.exec(offer.sdp)?.[1];
      dtls.role = setup === "active" ? "server" : setup === "passive" ? "client" : rtc.dtlsRole === "active" ? "client" : "server";
    }
    // Our own ICE credentials unless pinned by ?ice-ufrag=: werift's 4-character ufrags collide on a busy port
    // (~16% at 150 sessions); 8 characters like SRS's, drawn until unused on the shared port.
    const creds = this.req.creds ?? this.uniqueIceCreds();
    this.ice = useSharedPort(pc, { send: (d, ip, port, t) => this.sendDatagram(d, ip, port, t) }, this.req.candidates, creds,
      (ip, port, t, changed, byData) => this.log.info(`rtc ICE selected pair -> ${t} ${ip}:${port}` +
        `${!changed ? "" : byData ? " (the peer sends its DTLS/SRTP there)" : " (higher-priority nomination, RFC 8445 8.1.1)"}`));
    if (this.svc.mux.hasUfrag(this.ice.ufrag)) throw new RtcRefused(`ice-ufrag ${this.ice.ufrag} in use`, 400, 5023);
    for (const t of pc.getTransceivers()) {
      if (this.req.role === "play") {
        t.setDirection("sendonly");
        if (t.kind === "video") this.videoTx = t;
        else if (t.kind === "audio") this.audioTx = t;
      } else {
        t.setDirection("recvonly");
        if (t.kind === "video") this.videoReceiver = t;
      }
    }
    watchPeerClose(pc, (why) => void this.close(why));
    for (const t of [this.videoTx, this.audioTx]) {
      // werift's sender bandwidth estimator (unused here: we send what the publisher sends) records every sent
      // packet's transport-wide sequence number in an object that its pruning never shrinks (it iterates the
      // new entry's keys, not the table's): with transport-cc negotiated (browsers) that grew to 65,536 entries,
      // ~0.9 MB per viewer after 4–5 minutes, plus an Object.keys + sort per packet. Turn it off for viewers.
      const bwe = t?.sender.senderBWE;
      if (bwe) {
        bwe.rtpPacketSent = () => {};
        bwe.receiveTWCC = () => {};
      }
    }
    if (this.videoTx) {
      // Keep sending: holding the viewer until the next keyframe froze it for up to a GOP on every PLI (browsers
      // send them on loss). The request goes upstream, rate-limited there (requestKeyframe).
      this.videoTx.sender.onPictureLossIndication.subscribe(() => {
        if (this.hub) this.svc.publisherOf(this.hub)?.requestKeyframe("viewer PLI");
      });
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new Error("no local description");
    if (this.req.role === "publish") this.setupTwcc(pc, sdp);
    return sdp;
  }

  /**
   * Publisher: our own TWCC feedback (twcc.ts) from every decrypted RTP packet's transport-wide sequence number
   * (werift's receiver-side TWCC is turned off: Chromium's estimate stayed at its 300 kbps start with it).
   */
  private setupTwcc(pc: RTCPeerConnection, answer: string): void {
    const id = Number(new RegExp(`^a=extmap:(\\d+)(?:/\\w+)? ${TWCC_URI.replace(/[.]/g, "\\.")}`, "m").exec(answer)?.[1] ?? 0);
    const dtls = pc.dtlsTransports[0];
    if (!this.rtc.twcc || !id || !dtls) return;
    for (const t of pc.getTransceivers()) t.receiver.setupTWCC = () => {};
    const twcc = new TwccRecorder(this.videoReceiver?.receiver.rtcpSsrc ?? 1, 0);
    this.twcc = twcc;
    dtls.onRtp.subscribe((rtp) => {
      for (const e of rtp.header.extensions) {
        if (e.id !== id || e.payload.byteLength < 2) continue;
        twcc.record((e.payload[0]! << 8) | e.payload[1]!, Math.round(performance.now() * 1000));
        break;
      }
    });
  }

  /** Every 100 ms (from tick): the TWCC report of what arrived since the last one. */
  private sendTwcc(): void {
    const twcc = this.twcc;
    const dtls = this.pc?.dtlsTransports[0];
    if (!twcc || !dtls || dtls.state !== "connected") return;
    if (this.videoTrack?.ssrc) twcc.setMediaSsrc(this.videoTrack.ssrc);
    const fb = twcc.feedback();
    if (!fb) return;
    const packet = { serialize: () => Buffer.from(fb.buffer, fb.byteOffset, fb.byteLength) } as unknown as RtcpPacket;
    dtls.sendRtcp([packet]).catch(() => {});
  }

  /** DTLS is up: a viewer joins the hub's RTC output (GOP cache first) and asks a WebRTC publisher for a keyframe. */
  private onConnected(): void {
    if (this.req.role !== "play" || this.playLease || this.closed || !this.hub) return;
    this.playLease = this.hub.play(rtcOutput({ keepBframe: this.rtc.keepBframe, keepSei: this.rtc.keepAvcNaluSei }), this);
    this.svc.publisherOf(this.hub)?.requestKeyframe("new viewer");
  }

  private sendDatagram(d: Uint8Array, ip: string, port: number, transport: IceTransportKind): void {
    this.outBytes += d.byteLength;
    this.packets[transport].out++;
    this.svc.mux.send(d, ip, port, transport);
  }

  /** From the mux: a packet for us (a UDP datagram or an ICE-TCP frame). */
  receive(d: Buffer, ip: string, port: number, stun: boolean, transport: RtcTransport): void {
    if (this.closed) return;
    this.inBytes += d.byteLength;
    this.packets[transport].in++;
    this.lastSeenAt = Date.now();
    this.ice?.deliver(d, ip, port, transport);
  }

  /** From the mux: the ICE-TCP connection from ip:port closed. The session ends when it carried the selected pair. */
  detached(ip: string, port: number, transport: RtcTransport): void {
    const n = this.ice?.nominated();
    if (this.closed || !n || n.transport !== transport || n.ip !== ip || n.port !== port) return;
    void this.close(`${transport} connection ${ip}:${port} of the selected pair closed`);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Publishing: RTP -> MediaPackets

  private uniqueIceCreds(): { ufrag: string; password: string } {
    const draw = (n: number) => {
      const a = "abcdefghijklmnopqrstuvwxyz0123456789";
      const b = randomBytes(n);
      let out = "";
      for (let i = 0; i < n; i++) out += a[b[i]! % a.length];
      return out;
    };
    let ufrag = draw(8);
    while (this.svc.mux.hasUfrag(ufrag)) ufrag = draw(8);
    return { ufrag, password: draw(32) };
  }

  private onTrack(track: MediaStreamTrack): void {
    this.log.info(`rtc publish track ${track.kind} ssrc=${track.ssrc}`);
    if (track.kind === "video") {
      this.videoTrack = track;
      track.onReceiveRtp.subscribe((rtp) => {
        const h = rtp.header;
        for (const p of this.reorder.push(h.sequenceNumber, { payload: rtp.payload, seq: h.sequenceNumber, ts: h.timestamp, marker: h.marker }, Date.now())) {
          this.onVideoPayload(p);
        }
      });
      this.requestKeyframe("start");
    } else if (track.kind === "audio") {
      track.onReceiveRtp.subscribe((rtp) => this.onAudio(rtp.payload, rtp.header.timestamp));
    }
  }

  private tick(): void {
    for (const p of this.reorder.tick(Date.now())) this.onVideoPayload(p);
    if (this.twcc && ++this.twccTicks >= 5) {
      this.twccTicks = 0;
      this.sendTwcc();
    }
  }

  private msOf(kind: "video" | "audio", ext: number, clock: number): number {
    let a = this.anchor[kind];
    if (!a) {
      a = { ts: ext, ms: Date.now() - this.connectedAt };
      this.anchor[kind] = a;
    }
    return Math.max(0, Math.round(a.ms + ((ext - a.ts) * 1000) / clock));
  }

  private onVideoPayload(p: { payload: Uint8Array; seq: number; ts: number; marker: boolean }): void {
    for (const f of this.depack.push(p.payload, p.seq, p.ts, p.marker)) {
      const ms = this.msOf("video", this.tsVideo.unwrap(f.timestamp), 90000);
      if (f.broken) {
        this.droppedFrames++;
        this.needKeyframe = true;
        this.requestKeyframe("packet loss");
        continue;
      }
      if (this.needKeyframe && !f.keyframe) {
        this.droppedFrames++;
        continue;
      }
      const sps = f.nalus.filter((n) => (n[0]! & 0x1f) === 7);
      const pps = f.nalus.filter((n) => (n[0]! & 0x1f) === 8);
      if (sps.length && pps.length) {
        const sig = [...sps, ...pps].map((n) => Buffer.from(n).toString("base64")).join(",");
        if (sig !== this.paramSets) {
          this.paramSets = sig;
          this.publishPacket({ kind: "video", codec: "h264", dts: ms, pts: ms, keyframe: true, config: true, data: buildAvcConfig(sps, pps) });
        }
      }
      if (!this.paramSets) {
        this.droppedFrames++;
        this.requestKeyframe("no SPS/PPS yet");
        continue;
      }
      this.needKeyframe = false;
      const nalus = f.nalus.filter((n) => {
        const t = n[0]! & 0x1f;
        return t !== 7 && t !== 8 && t !== 9;
      });
      if (!nalus.length) continue;
      this.framesIn++;
      this.publishPacket({ kind: "video", codec: "h264", dts: ms, pts: ms, keyframe: f.keyframe, config: false, data: joinAvcc(nalus) });
    }
  }

  private onAudio(payload: Uint8Array, ts: number): void {
    const ms = this.msOf("audio", this.tsAudio.unwrap(ts), 48000);
    if (!this.audioConfigSent) {
      this.audioConfigSent = true;
      this.publishPacket({ kind: "audio", codec: "opus", dts: ms, pts: ms, keyframe: false, config: true, data: opusHead() });
      const name = `${this.stream.app}/${this.stream.stream}`;
      if (this.rtc.rtcToRtmp) this.log.trace(`rtc publish ${name}: audio bridged opus→aac at ${this.rtc.aacBitrate} bps for RTMP/FLV/TS/HLS players`);
      else this.log.warn(`rtc publish ${name}: audio not bridged: rtc_to_rtmp off in vhost ${this.stream.vhost}, RTMP/FLV/TS/HLS players get video only`);
    }
    this.publishPacket({ kind: "audio", codec: "opus", dts: ms, pts: ms, keyframe: false, config: false, data: payload });
  }

  private publishPacket(p: MediaPacket): void {
    this.publishing?.push(p);
  }

  /** Asks the publishing browser for a keyframe (RTCP PLI, RFC 4585 6.3.1), at most every 500 ms. */
  requestKeyframe(why: string): void {
    if (this.closed || !this.videoTrack?.ssrc || !this.videoReceiver) return;
    const now = Date.now();
    if (now - this.lastPliAt < 500) return;
    this.lastPliAt = now;
    this.plisSent++;
    this.log.info(`rtc publish: PLI (${why})`);
    this.videoReceiver.receiver.sendRtcpPLI(this.videoTrack.ssrc).catch(() => {});
  }

  // ---------------------------------------------------------------------------------------------------------
  // Playing: RtcUnits -> RTP per viewer

  send(u: RtcUnit): void {
    if (this.closed) return;
    const tx = u.kind === "video" ? this.videoTx : this.audioTx;
    if (!tx || !this.pc || this.pc.connectionState !== "connected") return;
    if (u.kind === "video") {
      if (this.waitKeyframe && !u.keyframe) return;
      this.waitKeyframe = false;
      this.framesOut++;
    }
    for (const p of u.payloads) {
      const seq = this.seq[u.kind];
      this.seq[u.kind] = (seq + 1) & 0xffff;
      const header = new RtpHeader({ sequenceNumber: seq, timestamp: u.timestamp, marker: p.marker, payloadType: 0, ssrc: 0 });
      tx.sender.sendRtp(new RtpPacket(header, Buffer.from(p.payload.buffer, p.payload.byteOffset, p.payload.byteLength))).catch(() => {});
    }
  }

  onPublish(): void {
    this.waitKeyframe = true;
  }

  onUnpublish(): void {
    this.waitKeyframe = true;
  }

  // ---------------------------------------------------------------------------------------------------------

  checkTimeout(now: number): void {
    if (!this.closed && now - this.lastSeenAt > this.rtc.stunTimeout * 1000) {
      this.log.warn(`rtc session ${this.sessionId}: nothing from the peer for ${((now - this.lastSeenAt) / 1000).toFixed(1)}s ` +
        `(stun_timeout ${this.rtc.stunTimeout}s), closing`);
      void this.close("stun timeout");
    }
  }

  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseSlot();
    const ctx = this.svc.ctx;
    if (this.timer) clearInterval(this.timer);
    if (this.pliTimer) clearInterval(this.pliTimer);
    this.svc.mux.unregister(this);
    this.playLease?.dispose();
    this.playLease = undefined;
    const hub = this.hub;
    if (hub && this.publishing) {
      this.publishing.dispose();
      this.publishing = undefined;
      this.svc.setPublisher(hub, undefined);
      ctx.access.onUnpublish(this, hub.key);
    } else if (hub && this.type === "rtc-play" && this.sessionId) {
      ctx.access.onStop(this, hub.key);
    }
    this.hold?.dispose();
    this.hold = undefined;
    ctx.clients.remove(this.id);
    this.svc.removed(this);
    const k = this.packets;
    this.log.trace(`rtc ${this.req.role} session closed (${reason}), in=${this.inBytes}B out=${this.outBytes}B, ` +
      `packets udp in=${k.udp.in} out=${k.udp.out} tcp in=${k.tcp.in} out=${k.tcp.out}, ` +
      `frames in=${this.framesIn} out=${this.framesOut} dropped=${this.droppedFrames} lost=${this.reorder.lost}, ` +
      `alive=${((Date.now() - this.connectedAt) / 1000).toFixed(1)}s`);
    const pc = this.pc;
    this.pc = undefined;
    try {
      await pc?.close();
    } catch {
      // already gone
    }
    this.ice?.close();
  }
}

/** werift's RTCRtpSender counters (private in its typings; read for the API only). */
interface WeriftSenderCounters {
  packetCount?: number;
  rtt?: number;
  nackCount?: number;
  pliCount?: number;
  retransmittedPacketsSent?: number;
}

function senderCounters(t: RTCRtpTransceiver | undefined): { packets: number; rtt?: number; nacks: number; plis: number; retransmitted: number } {
  const c = (t?.sender ?? {}) as WeriftSenderCounters;
  return {
    packets: c.packetCount ?? 0,
    rtt: c.rtt === undefined ? undefined : Math.round(c.rtt * 1000),
    nacks: c.nackCount ?? 0,
    plis: c.pliCount ?? 0,
    retransmitted: c.retransmittedPacketsSent ?? 0,
  };
}
