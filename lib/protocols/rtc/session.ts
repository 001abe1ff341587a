/**
 * One WebRTC session (a WHIP publisher or a WHEP/`/rtc/v1/play/` viewer), server side:
 *
 *   offer ──gate (on_publish/on_play)──▶ werift answer on the shared port ──ICE (lite)──▶ DTLS ──▶ media ──▶ closed
 *
 * Publisher: received RTP -> reorder buffer -> H.264 depacketizer / Opus -> MediaPackets into the stream hub
 * (so RTMP, HTTP-FLV, HLS and other WebRTC viewers get it). Lost packets are NACKed by werift's receiver
 * (rtc.nack); a broken frame is dropped and a PLI asks for a keyframe; a PLI also goes out every
 * rtc.pli_for_rtmp seconds and whenever a new WebRTC viewer joins.
 * Viewer: once DTLS is up, gets RtcUnits from the hub's shared RtcOutput and sends them through our own RTP
 * sender (rtp-send.ts: header template, our SRTP with the keys werift's DTLS exported, batched sends on the shared
 * port), not through werift's; werift still parses the viewer's RTCP: a NACK is answered from the sender's
 * history, a PLI asks the publisher (when it is a WebRTC one, at most every 500 ms) for a keyframe while the
 * viewer keeps getting every frame (its decoder recovers on the next keyframe). Sender reports go out every
 * second from the service's timer (everySecond).
 * Once the first SRTCP packet from the viewer authenticates with our own SRTP context (proof that its DTLS
 * handshake is complete: no flight of ours can still need a retransmission), werift is let go (releaseWerift): its
 * peer connection (~2,000 objects, ~180 KB per viewer) is freed and the session answers the rest itself: STUN
 * consent checks (stun.ts bindingSuccess, RFC 7675), the viewer's RTCP (rtcp.ts readRtcp: reports, NACK, PLI/FIR,
 * BYE) and a DTLS alert record, taken as the end (RFC 6347 4.1: after the handshake only alerts can come).
 * The session ends on DELETE, kick, a DTLS alert (close_notify), an RTCP BYE (RFC 3550 6.6), when nothing
 * (STUN, DTLS, SRTP, SRTCP) arrived from the peer for rtc.stun_timeout: stacks like pion send consent STUN
 * only while no media flows, so a viewer's receiver reports and NACKs are its liveness, as in SRS; or when the
 * ICE-TCP connection (tcp-mux.ts) carrying its selected pair closes (as SRS expires the session).
 */
import { randomBytes } from "node:crypto";
import {
  type MediaStreamTrack,
  type RtcpPacket,
  type RtcpRrPacket,
  type RTCCertificate,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
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
import { H264Depacketizer } from "../../formats/rtp/h264.ts";
import { type IceTransportKind, type SharedPortIce, useSharedPort } from "./ice.ts";
import { TWCC_URI, TwccRecorder } from "./twcc.ts";
import { watchPeerClose } from "./peer-close.ts";
import { type RtcOutput, rtcOutput, type RtcUnit, type RtcViewerSink } from "./output.ts";
import { ReorderBuffer, RtpTimestampUnwrapper } from "./reorder.ts";
import { RtcRefused } from "./refused.ts";
import { type DatagramOut, RtpStream, ViewerRtpSender } from "./rtp-send.ts";
import type { CandidateAddress, OfferInfo } from "./sdp.ts";
import { RTCP_RR, readRtcp, SrtcpReplay } from "./rtcp.ts";
import { SrtpContext, srtpProfileName } from "./srtp.ts";
import { bindingSuccess, datagramKind, parseStun } from "./stun.ts";
import type { MuxEndpoint, MuxTarget, RtcTransport, UdpMux } from "./udp-mux.ts";
import { type SendParams, sendParams, srtpKeying } from "./werift-media.ts";

/** Video packets a viewer keeps for NACKs (~10 s at 1 Mbps, ~2 s at 5 Mbps); references to shared payloads. */
const NACK_HISTORY = 1024;

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

export { RtcRefused };

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
  /** Our ICE credentials (the mux routes and checks STUN with them, also after werift is let go). */
  private iceCreds = { ufrag: "", password: "" };
  private dtlsRole = "";
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
  /** Our RTP sender, from DTLS connected on. */
  private rtp: ViewerRtpSender | undefined;
  /** Where the viewer's media goes: the nominated pair's address on the shared port. */
  private target: MuxTarget | undefined;
  /** The viewer's SRTCP, decrypted by us; its first packet lets werift go (releaseWerift). */
  private srtcpIn: SrtpContext | undefined;
  private replay = new SrtcpReplay();
  /** werift let go: STUN, DTLS alerts and RTCP are ours. */
  private released = false;
  private nacks = 0;
  private plis = 0;
  private waitKeyframe = true;
  private playLease: PlayLease<RtcOutput> | undefined;
  framesOut = 0;

  /** Frees this session's handshake slot (admission.ts): on connected, failed or closed. */
  private releaseSlot: () => void;

  constructor(private svc: RtcServiceView, private req: RtcRequest, private rtc: RtcConfig, releaseSlot?: () => void) {
    // Once: then forget it (its closure holds the admission's timer for as long as the session lives).
    this.releaseSlot = () => {
      this.releaseSlot = () => {};
      releaseSlot?.();
    };
    this.type = req.role === "publish" ? "rtc-publish" : "rtc-play";
    this.ip = req.clientIp;
    this.stream = req.key;
    this.param = req.param;
    this.tcUrl = req.tcUrl;
    this.log = svc.ctx.log.child(this.id);
  }

  get ufrag(): string {
    return this.iceCreds.ufrag;
  }
  get password(): string {
    return this.iceCreds.password;
  }
  bytesIn(): number {
    return this.inBytes;
  }
  bytesOut(): number {
    return this.outBytes;
  }

  /** `/api/v1/clients/<id>`: the session's WebRTC state (ICE pair, DTLS role, RTT, feedback counters). */
  details(): Record<string, unknown> {
    const pair = this.target ?? this.ice?.nominated();
    const out: Record<string, unknown> = {
      role: this.req.role,
      session: this.sessionId,
      state: this.closed ? "closed" : this.released ? "connected" : this.pc?.connectionState ?? "new",
      ice: {
        // the candidates offered (a TCP one as "tcp/ip:port"), the selected pair's remote address and transport
        local: this.req.candidates.map((c) => `${c.transport === "tcp" ? "tcp/" : ""}${c.ip}:${c.port}`),
        remote: pair ? `${pair.ip}:${pair.port}` : "",
        protocol: pair?.transport ?? "",
      },
      dtls_role: this.dtlsRole,
      last_seen_ms: Date.now() - this.lastSeenAt,
    };
    if (this.req.role === "play") {
      // Our sender's counters (rtp-send.ts); NACKs and PLIs as werift, then we, read them.
      out.rtt_ms = this.rtp?.rttMs;
      out.video = { frames: this.framesOut, packets: this.rtp?.video?.packets ?? 0, nacks: this.nacks, retransmitted: this.rtp?.video?.retransmitted ?? 0, plis: this.plis };
      out.audio = { packets: this.rtp?.audio?.packets ?? 0 };
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
      if (this.req.role === "publish") {
        // The reorder buffer's timeouts (publishers only).
        this.timer = setInterval(() => this.tick(), 20);
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
    const play = this.req.role === "play";
    // Viewers: no transport-cc (we do no sender-side bandwidth estimation; its per-packet feedback cost more
    // than the media) and no abs-send-time; the MID only, fixed per stream (rtp-send.ts).
    const fb = [
      ...(rtc.nack ? [{ type: "nack" }] : []),
      { type: "nack", parameter: "pli" },
      ...(rtc.twcc && !play ? [{ type: "transport-cc" }] : []),
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
        }),
        // A viewer that offers RTX (RFC 4588) gets its retransmissions that way (rtp-send.ts).
        ...(play && rtc.nack && offer.video?.rtx !== undefined
          ? [new RTCRtpCodecParameters({ mimeType: "video/rtx", clockRate: 90000, parameters: `apt=${offer.video.pt}` })]
          : [])],
        audio: [new RTCRtpCodecParameters({ mimeType: "audio/opus", clockRate: 48000, channels: 2 })],
      },
      headerExtensions: play ? { video: [useSdesMid()], audio: [useSdesMid()] } : {
        video: [useSdesMid(), useAbsSendTime(), ...(rtc.twcc ? [useTransportWideCC()] : [])],
        audio: [useSdesMid(), useAbsSendTime()],
      },
    });
    this.pc = pc;
    pc.connectionStateChange.subscribe((s) => {
      if (this.released) return; // werift let go on purpose (its close comes here)
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
      this.dtlsRole = dtls.role === "server" ? "passive" : "active";
    }
    // Our own ICE credentials unless pinned by ?ice-ufrag=: werift's 4-character ufrags collide on a busy port
    // (~16% at 150 sessions); 8 characters like SRS's, drawn until unused on the shared port.
    const creds = this.req.creds ?? this.uniqueIceCreds();
    this.ice = useSharedPort(pc, { send: (d, ip, port, t) => this.sendDatagram(d, ip, port, t) }, this.req.candidates, creds,
      (ip, port, t, changed, byData) => {
        this.log.info(`rtc ICE selected pair -> ${t} ${ip}:${port}` +
          `${!changed ? "" : byData ? " (the peer sends its DTLS/SRTP there)" : " (higher-priority nomination, RFC 8445 8.1.1)"}`);
        if (this.target) this.target = this.svc.mux.target(ip, port, t);
      });
    this.iceCreds = { ufrag: this.ice.ufrag, password: this.ice.password };
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
    watchPeerClose(pc, (why) => {
      if (!this.released) void this.close(why);
    });
    for (const t of [this.videoTx, this.audioTx]) {
      // Receiver reports about our SSRCs (werift routes them by SSRC): the RTT against our SRs.
      t?.sender.onRtcp.subscribe((p) => {
        if (p.type !== RTCP_RR || !this.rtp) return;
        for (const r of (p as RtcpRrPacket).reports) this.rtp.receiverReport(r.ssrc, r.lsr, r.dlsr, Date.now());
      });
    }
    if (this.videoTx) {
      // Keep sending: holding the viewer until the next keyframe froze it for up to a GOP on every PLI (browsers
      // send them on loss). The request goes upstream, rate-limited there (requestKeyframe).
      this.videoTx.sender.onPictureLossIndication.subscribe(() => this.viewerPli());
      // werift parses the NACK (RFC 4585 6.2.1) and finds nothing in its own cache (we do not send through
      // it): our sender answers from its history.
      this.videoTx.sender.onGenericNack.subscribe((nack) => {
        this.nacks++;
        this.rtp?.nack(nack.mediaSourceSsrc, nack.lost);
      });
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new Error("no local description");
    if (this.req.role === "publish") this.setupTwcc(pc);
    return sdp;
  }

  /**
   * Publisher: our own TWCC feedback (twcc.ts) from every decrypted RTP packet's transport-wide sequence number
   * (werift's receiver-side TWCC is turned off: Chromium's estimate stayed at its 300 kbps start with it).
   */
  private setupTwcc(pc: RTCPeerConnection): void {
    // the negotiated id of the transport-wide sequence number extension (as werift-media.ts reads the MID's)
    const id = pc.getTransceivers().map((t) => t.headerExtensions.find((e) => e.uri === TWCC_URI)?.id).find((x) => x !== undefined);
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

  /**
   * DTLS is up: a viewer sets up its own RTP sender with werift's SRTP keys, joins the hub's RTC output (GOP
   * cache first) and asks a WebRTC publisher for a keyframe.
   */
  private onConnected(): void {
    if (this.req.role !== "play" || this.playLease || this.closed || !this.hub || !this.pc) return;
    const keying = srtpKeying(this.pc);
    const at = this.ice?.nominated();
    if (!keying || !at) {
      void this.close(`connected without ${keying ? "a nominated pair" : "SRTP keys"}`);
      return;
    }
    let srtp: SrtpContext;
    try {
      srtp = SrtpContext.fromMaster(keying.profile, keying.local.key, keying.local.salt);
      this.srtcpIn = SrtpContext.fromMaster(keying.profile, keying.remote.key, keying.remote.salt);
    } catch (e) {
      void this.close(`SRTP: ${(e as Error).message}`);
      return;
    }
    this.target = this.svc.mux.target(at.ip, at.port, at.transport);
    const mux = this.svc.mux;
    const out: DatagramOut = {
      buffer: (n) => (this.target ? mux.buffer(this.target, n) : undefined),
      send: (d) => {
        const t = this.target!;
        this.outBytes += d.byteLength;
        this.packets[t.transport].out++;
        mux.sendBuilt(t, d);
      },
    };
    const stream = (t: RTCRtpTransceiver | undefined, history: number): RtpStream | undefined => {
      const p: SendParams | undefined = t && sendParams(t);
      if (!p) return undefined;
      const mid = p.mid && p.midExtId ? [{ id: p.midExtId, data: new TextEncoder().encode(p.mid) }] : [];
      return new RtpStream({ ssrc: p.ssrc, payloadType: p.payloadType, clockRate: p.clockRate, extensions: mid, history, rtx: p.rtx });
    };
    const video = stream(this.videoTx, this.rtc.nack ? NACK_HISTORY : 0);
    this.rtp = new ViewerRtpSender(srtp, out, this.pc.cname, video, stream(this.audioTx, 0));
    this.log.trace(`rtc play: SRTP ${srtpProfileName(keying.profile)}, video ssrc=${video?.ssrc ?? "-"}` +
      `${video && this.videoTx && sendParams(this.videoTx)?.rtx ? " +rtx" : ""}, audio ssrc=${this.rtp.audio?.ssrc ?? "-"}`);
    this.playLease = this.hub.play(rtcOutput({ keepBframe: this.rtc.keepBframe, keepSei: this.rtc.keepAvcNaluSei }), this);
    this.svc.publisherOf(this.hub)?.requestKeyframe("new viewer");
  }

  private sendDatagram(d: Uint8Array, ip: string, port: number, transport: IceTransportKind): void {
    this.outBytes += d.byteLength;
    this.packets[transport].out++;
    this.svc.mux.send(d, ip, port, transport);
  }

  /**
   * From the mux: a packet for us (a UDP datagram or an ICE-TCP frame; `stun`: a binding request whose
   * MESSAGE-INTEGRITY the mux checked).
   */
  receive(d: Buffer, ip: string, port: number, stun: boolean, transport: RtcTransport): void {
    if (this.closed) return;
    this.inBytes += d.byteLength;
    this.packets[transport].in++;
    this.lastSeenAt = Date.now();
    if (this.released) {
      this.receiveOwn(d, ip, port, stun, transport);
      return;
    }
    if (this.srtcpIn && isRtcp(d)) {
      const r = this.srtcpIn.unprotectRtcp(d);
      if (r && this.replay.accept(d.readUInt32BE(4), r.index)) {
        this.releaseWerift();
        this.onRtcp(r.rtcp, ip, port, transport);
        return;
      }
    }
    this.ice?.deliver(d, ip, port, transport);
  }

  /** From the mux: the ICE-TCP connection from ip:port closed. The session ends when it carried the selected pair. */
  detached(ip: string, port: number, transport: RtcTransport): void {
    const n = this.target ?? this.ice?.nominated();
    if (this.closed || !n || n.transport !== transport || n.ip !== ip || n.port !== port) return;
    void this.close(`${transport} connection ${ip}:${port} of the selected pair closed`);
  }

  /**
   * A viewer's first SRTCP authenticated: its DTLS handshake is over on both sides. werift's peer connection
   * goes (its close sends nothing: no alert, no BYE); from now on receiveOwn() handles what the viewer sends.
   */
  private releaseWerift(): void {
    this.released = true;
    const pc = this.pc;
    const ice = this.ice;
    this.pc = undefined;
    this.ice = undefined;
    this.videoTx = undefined;
    this.audioTx = undefined;
    ice?.close();
    void pc?.close().catch(() => {});
    this.log.trace("rtc play: first SRTCP from the viewer, werift released (STUN, RTCP, DTLS alerts handled here)");
  }

  /** werift released: consent checks answered, DTLS alerts end the session, SRTCP read; the rest is dropped. */
  private receiveOwn(d: Buffer, ip: string, port: number, stun: boolean, transport: RtcTransport): void {
    const kind = datagramKind(d);
    if (kind === "stun") {
      const m = stun ? parseStun(d) : undefined;
      if (!m) return;
      const res = bindingSuccess(m.transactionId, ip, port, this.iceCreds.password);
      this.sendDatagram(res, ip, port, transport);
    } else if (kind === "dtls") {
      // RFC 6347 4.1 / RFC 5246 6.2.1: content type 21 is an alert (close_notify when the peer closes).
      if (d[0] === 21) void this.close("DTLS closed by peer (alert)");
    } else if (kind === "rtp" && isRtcp(d) && this.srtcpIn) {
      const r = this.srtcpIn.unprotectRtcp(d);
      if (r && this.replay.accept(d.readUInt32BE(4), r.index)) this.onRtcp(r.rtcp, ip, port, transport);
    }
  }

  /**
   * What a viewer's (decrypted, authenticated) compound RTCP asks of us. It also names the path: the peer sends on
   * the pair it selected (ice.ts), so media follow it when it moves (another interface, UDP <-> TCP).
   */
  private onRtcp(rtcp: Uint8Array, ip: string, port: number, transport: RtcTransport): void {
    const t = this.target;
    if (t && (t.ip !== ip || t.port !== port || t.transport !== transport)) {
      const moved = this.svc.mux.target(ip, port, transport);
      if (moved) {
        this.target = moved;
        this.log.info(`rtc play: the viewer's RTCP comes from ${transport} ${ip}:${port}: media follow`);
      }
    }
    const now = Date.now();
    for (const it of readRtcp(rtcp)) {
      if (it.type === "report") this.rtp?.receiverReport(it.ssrc, it.lsr, it.dlsr, now);
      else if (it.type === "nack") {
        this.nacks++;
        this.rtp?.nack(it.ssrc, it.seqs);
      } else if (it.type === "keyframe") {
        if (it.ssrc === this.rtp?.video?.ssrc) this.viewerPli();
      } else if (it.type === "bye") {
        void this.close("RTCP BYE from peer");
        return;
      }
    }
  }

  /** A viewer's PLI/FIR: counted, and asked of a WebRTC publisher (rate-limited there); the viewer keeps going. */
  private viewerPli(): void {
    this.plis++;
    if (this.hub) this.svc.publisherOf(this.hub)?.requestKeyframe("viewer PLI");
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
    const rtp = this.rtp;
    if (this.closed || !rtp) return;
    const stream = u.kind === "video" ? rtp.video : rtp.audio;
    if (!stream) return;
    if (u.kind === "video") {
      if (this.waitKeyframe && !u.keyframe) return;
      this.waitKeyframe = false;
      this.framesOut++;
    }
    rtp.send(stream, u.payloads, u.timestamp, u.ptsMs, Date.now());
  }

  onPublish(): void {
    this.waitKeyframe = true;
  }

  onUnpublish(): void {
    this.waitKeyframe = true;
  }

  // ---------------------------------------------------------------------------------------------------------

  /** The service's one-second tick: a viewer's sender reports, then the liveness check. */
  everySecond(now: number): void {
    if (!this.closed) this.rtp?.reports(now);
    this.checkTimeout(now);
  }

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
    const v = this.rtp?.video;
    this.rtp = undefined;
    this.target = undefined;
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
      `frames in=${this.framesIn} out=${this.framesOut} dropped=${this.droppedFrames} lost=${this.reorder.lost}` +
      `${v ? `, nacks=${this.nacks} retransmitted=${v.retransmitted}` : ""}, ` +
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

/** RTCP rather than RTP on a shared port (RFC 5761 4): the second byte (payload type field) is 192-223. */
function isRtcp(d: Uint8Array): boolean {
  return d.byteLength >= 8 && (d[0]! & 0xc0) === 0x80 && d[1]! >= 192 && d[1]! <= 223;
}
