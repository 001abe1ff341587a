/**
 * One RTSP connection (RFC 2326), player or publisher, and its RTSP session (one per connection).
 *
 * States (checked before every request, RFC 2326 A.1):
 *   init --DESCRIBE--> described --SETUP*--> ready --PLAY--> playing
 *   init --ANNOUNCE--> announced --SETUP*(mode=record)--> ready --RECORD--> recording
 * OPTIONS, GET_PARAMETER/SET_PARAMETER (keep-alives) are answered in any state; TEARDOWN ends the session and the
 * connection. A request out of order gets 455, an unknown method 501, a malformed stream 400 and the close.
 *
 * URLs: rtsp://host:port/app/stream?query (vhost from `?vhost=`, else the host when it names a vhost, else the
 * default; query kept as the hooks' param). SETUP URLs add the track's control (`/trackID=0`, FFmpeg's
 * `/streamid=0`), matched against the SDP.
 *
 * Admission: max_connections at accept; DESCRIBE/ANNOUNCE run the access gates (on_connect, then on_play or
 * on_publish, which see the query) after the optional Basic/Digest check (auth.ts); a publisher claims its stream
 * at ANNOUNCE (a busy stream: 406 Not Acceptable, RFC 2326 has no code for it).
 *
 * Media:
 *  - play: the player leases the hub's shared RtspOutput (output.ts) at PLAY; each unit goes out as RTP over the
 *    transport SETUP chose: interleaved `$` frames on this connection (10.12) or UDP datagrams to the client's
 *    ports from a socket pair of ours, the same bytes for every player. TCP players write at the output's merged
 *    write (mw_latency), one shared buffer for the players in step (flushBatch). RTCP sender reports every 5 s per
 *    track (RFC 3550 6.4.1). A player whose TCP backlog grows skips to the next keyframe; one hopelessly behind is
 *    closed. The publisher leaving ends the session (an RTSP player cannot take new SDP).
 *  - publish: RTP from interleaved frames or UDP -> the track's depacketizer (lib/formats/rtp) -> MediaPackets into
 *    the hub. Parameter sets from the SDP (sprop-*) and in band become the decoder configuration record; AAC's
 *    config= the AudioSpecificConfig (receiver.ts). Timestamps: each track's RTP clock unwrapped, the track's first
 *    packet placed at its arrival time relative to the first packet of the session (RTCP SR not used yet).
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "../../runtime/hash.ts";
import type { TcpConnection } from "../../runtime/tcp.ts";
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { SrsConfig, VhostConfig } from "../../config/index.ts";
import type { AccessControl } from "../../access.ts";
import type { Lease, PlayLease, PublishLease } from "../../hub/lease.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import { PublishError, type StreamHub } from "../../hub/stream-hub.ts";
import { type Log, newContextId } from "../../log/logger.ts";
import type { MediaPacket, StreamKey } from "../../media/packet.ts";
import { streamKeyString } from "../../media/packet.ts";
import { parseRtpPacket } from "../../formats/rtp-packet.ts";
import { senderReport } from "../../formats/rtp/rtcp-sr.ts";
import { DEFAULT_VHOST, resolveRtmpRequest } from "../../net/stream-url.ts";
import { interleavedFrame, RtspError, RtspHeaders, type RtspItem, RtspReader, type RtspRequest, serializeResponse } from "./message.ts";
import { buildSdp, controlMatches, parseSdp, type SdpTrack, trackFor } from "./sdp.ts";
import { TrackReceiver } from "./receiver.ts";
import { bindPair, closePair, type UdpPair } from "./udp.ts";
import { formatTransport, parseTransport, type RtspTransport } from "./transport.ts";
import { interleavedFrames, rtpPackets, type RtspOutput, rtspOutput, type RtspPlayerSink, type RtspUnit } from "./output.ts";
import type { RtspAuth } from "./auth.ts";

/** What an RTSP session needs of the server (lib/server.ts satisfies it). */
export interface RtspPorts {
  readonly config: Pick<SrsConfig, "vhost" | "rtspServer">;
  readonly hubs: Pick<StreamHubs, "publish" | "play" | "find" | "demand">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "whyFull">;
  readonly access: AccessControl;
  readonly log: Log;
}

/** Seconds a client may stay silent (Session timeout=, 12.37): UDP players keep alive with GET_PARAMETER. */
export const SESSION_TIMEOUT_S = 60;
const SR_INTERVAL_MS = 5000;
const CHECK_MS = 1000;
/** A TCP player's socket backlog over this skips to the next keyframe; over MAX closes the player. */
const SKIP_BACKLOG = 4 * 1024 * 1024;
const MAX_BACKLOG = 32 * 1024 * 1024;
/** Requests a client may have waiting for their turn (pipelined behind a slow hook). */
const MAX_WAITING_REQUESTS = 32;
const PUBLIC = "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

interface Track {
  sdp: SdpTrack;
  transport?: RtspTransport;
  udp?: UdpPair;
  // sending (the SSRC is the stream's, output.ts)
  ssrc: number;
  packets: number;
  octets: number;
  lastTs: number;
  lastWall: number;
  // receiving
  recv?: TrackReceiver;
}

type State = "init" | "described" | "announced" | "playing" | "recording" | "closed";

function randomU32(): number {
  const b = randomBytes(4);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** The stream a URL names, and its param (query with "?"), the control suffix of SETUP URLs removed. */
export function rtspStream(url: string, knownControls: readonly string[] = []): { host: string; vhost: string; app: string; stream: string; param: string } {
  let u = url;
  for (const c of knownControls) if (c && !/^rtsp:/i.test(c)) u = u.replace(`/${c}`, "");
  u = u.replace(/\/(trackID|streamid|track)=\d+\/?$/i, "").replace(/\/(trackID|streamid|track)=\d+(?=[?/]|$)/i, "");
  const q = u.indexOf("?");
  const path = (q < 0 ? u : u.slice(0, q)).replace(/\/+$/, "");
  const slash = path.lastIndexOf("/");
  const r = resolveRtmpRequest(path.slice(0, slash), path.slice(slash + 1) + (q < 0 ? "" : u.slice(q)));
  return { host: r.host, vhost: r.vhost, app: r.app, stream: r.stream, param: r.param };
}

export class RtspSession implements ClientInfo {
  readonly id = newContextId();
  readonly protocol = "rtsp";
  type = "rtsp-play";
  readonly ip: string;
  readonly connectedAt = Date.now();
  stream?: StreamKey;
  tcUrl?: string;
  param?: string;
  readonly log: Log;
  private reader: RtspReader;
  private state: State = "init";
  private sessionId: string | undefined;
  private tracks: Track[] = [];
  private baseUrl = "";
  private vhost: VhostConfig | undefined;
  private connectAllowed = false;
  private registered = false;
  private publishing: PublishLease | undefined;
  private playLease: PlayLease<RtspOutput> | undefined;
  /** A player's demand for a stream not live here yet, from DESCRIBE until PLAY (waitForStream). */
  private want: Lease | undefined;
  private queue: Promise<void> = Promise.resolve();
  private waitingRequests = 0;
  private received = 0;
  private sent = 0;
  private lastActivity = Date.now();
  private lastMediaAt = Date.now();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSr = 0;
  private waitKeyframe = false;
  private skips = 0;
  private mediaPackets = 0;
  private firstArrival: number | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private flushQueued = false;
  /**
   * Whether what is pending is exactly the output's batch so far (the shared buffer can be written instead):
   * `inStep` stays true while only live units were queued since the last merged write, `batchUnits` counts them.
   */
  private inStep = true;
  private batchUnits = 0;

  constructor(private ctx: RtspPorts, private socket: TcpConnection, private auth: RtspAuth | undefined, private onEnd: (s: RtspSession) => void) {
    this.ip = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    this.log = ctx.log.child(this.id);
    this.reader = new RtspReader((item) => this.onItem(item));
  }

  bytesIn(): number {
    return this.received;
  }
  bytesOut(): number {
    return this.sent;
  }
  kick(reason: string): void {
    this.log.trace(`rtsp client kicked: ${reason}`);
    this.close(reason);
  }
  get closed(): boolean {
    return this.state === "closed";
  }
  /** Admitted (in the client registry, which ends it on a quit); not yet: only this service knows of it. */
  get admitted(): boolean {
    return this.registered;
  }
  /** The transport of the session's tracks ("tcp", "udp"), for the API. */
  get transport(): string | undefined {
    return this.tracks.find((t) => t.transport)?.transport?.protocol;
  }
  details(): Record<string, unknown> {
    return {
      rtsp: {
        state: this.state,
        session: this.sessionId,
        transport: this.transport,
        tracks: this.tracks.map((t) => ({ codec: t.sdp.codec, control: t.sdp.control, transport: t.transport ? formatTransport(t.transport) : undefined, packets: t.packets })),
        skips: this.skips,
      },
    };
  }

  start(): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.on("data", (d: Buffer) => {
      this.received += d.byteLength;
      this.lastActivity = Date.now();
      try {
        this.reader.feed(d);
      } catch (e) {
        const err = e instanceof RtspError ? e : new RtspError((e as Error).message);
        this.log.warn(`rtsp ${this.ip}: ${err.message}`);
        this.write(serializeResponse(err.status, undefined, new RtspHeaders()));
        this.close(err.message);
      }
    });
    s.on("error", (e) => this.close(`socket error: ${e.message}`));
    s.on("close", () => this.close("connection closed"));
    this.timer = setInterval(() => this.tick(), CHECK_MS);
    this.timer.unref?.();
    this.log.trace(`rtsp client ${this.ip}:${s.remotePort} connected`);
  }

  private write(b: Uint8Array): void {
    if (this.socket.destroyed) return;
    this.sent += b.byteLength;
    this.socket.write(b);
  }

  private onItem(item: RtspItem): void {
    if (item.type === "frame") {
      this.onInterleaved(item.channel, item.data);
      return;
    }
    if (item.type === "response") return; // we send no requests
    const req = item;
    // Requests run one at a time, in order (the gates are asynchronous); a client that piles them up is closed.
    if (++this.waitingRequests > MAX_WAITING_REQUESTS) {
      this.log.warn(`rtsp ${this.ip}: more than ${MAX_WAITING_REQUESTS} requests waiting, closing`);
      this.respond(req, 503);
      this.close("too many requests");
      return;
    }
    this.queue = this.queue.then(() => this.handle(req)).catch((e) => {
      this.log.error(`rtsp ${req.method} failed`, e);
      this.respond(req, 500);
    }).finally(() => this.waitingRequests--);
  }

  private respond(req: RtspRequest, status: number, headers = new RtspHeaders(), body?: string): void {
    if (this.sessionId && !headers.has("Session")) headers.set("Session", `${this.sessionId};timeout=${SESSION_TIMEOUT_S}`);
    headers.set("Server", "srs-ts");
    this.write(serializeResponse(status, req.cseq, headers, body));
  }

  private async handle(req: RtspRequest): Promise<void> {
    if (this.closed) return;
    const m = req.method.toUpperCase();
    if (m === "OPTIONS") return this.respond(req, 200, new RtspHeaders().add("Public", PUBLIC));
    if (m === "GET_PARAMETER" || m === "SET_PARAMETER") return this.respond(req, 200);
    if (m === "TEARDOWN") {
      this.respond(req, 200);
      this.close("teardown");
      return;
    }
    if (this.sessionId && (m === "PLAY" || m === "RECORD" || m === "SETUP")) {
      const sid = req.headers.get("Session")?.split(";")[0]?.trim();
      if (sid !== undefined && sid !== this.sessionId) return this.respond(req, 454);
    }
    switch (m) {
      case "DESCRIBE":
        return this.describe(req);
      case "ANNOUNCE":
        return this.announce(req);
      case "SETUP":
        return this.setup(req);
      case "PLAY":
        return this.play(req);
      case "RECORD":
        return this.record(req);
      case "PAUSE":
        return this.respond(req, 501);
      default:
        return this.respond(req, 501);
    }
  }

  /** Resolves the URL's stream and vhost; answers and returns undefined when it cannot. */
  private resolve(req: RtspRequest): StreamKey | undefined {
    let r;
    try {
      r = rtspStream(req.uri);
    } catch (e) {
      this.log.warn(`rtsp ${req.method} ${req.uri}: ${(e as Error).message}`);
      this.respond(req, 400);
      return undefined;
    }
    if (!r.stream || r.app === "__defaultApp__") {
      this.respond(req, 404);
      return undefined;
    }
    const vhost = this.ctx.config.vhost(r.vhost) ?? this.ctx.config.vhost(DEFAULT_VHOST);
    if (!vhost || !vhost.enabled || !vhost.rtsp.enabled) {
      this.log.warn(`rtsp ${req.method} ${req.uri}: vhost ${r.vhost} not found or disabled${vhost && !vhost.rtsp.enabled ? " (rtsp { enabled off; })" : ""}`);
      this.respond(req, 404);
      return undefined;
    }
    this.vhost = vhost;
    this.param = r.param;
    this.tcUrl = `rtsp://${r.host}/${r.app}`;
    this.baseUrl = req.uri.replace(/\/+$/, "");
    return { vhost: vhost.name || DEFAULT_VHOST, app: r.app, stream: r.stream };
  }

  /** Basic/Digest when configured, then on_connect and on_play/on_publish; false when answered with a refusal. */
  private async admit(req: RtspRequest, key: StreamKey, publish: boolean): Promise<boolean> {
    if (this.auth) {
      const r = this.auth.check(req.method, req.headers.get("Authorization"), publish);
      if (!r.ok) {
        this.log.warn(`rtsp ${req.method} ${req.uri}: ${r.reason}`);
        const h = new RtspHeaders();
        for (const c of r.challenges) h.add("WWW-Authenticate", c);
        this.respond(req, 401, h);
        return false;
      }
    }
    this.stream = key;
    this.type = publish ? "rtsp-publish" : "rtsp-play";
    if (!this.registered) {
      this.ctx.clients.add(this);
      this.registered = true;
    }
    if (!this.connectAllowed) {
      const c = await this.ctx.access.onConnect(this);
      if (this.closed) return false;
      if (!c.ok) {
        this.log.warn(`rtsp connect refused: ${c.reason}`);
        this.respond(req, 403);
        this.close("connect refused");
        return false;
      }
      this.connectAllowed = true;
    }
    const g = publish ? await this.ctx.access.onPublish(this, key) : await this.ctx.access.onPlay(this, key);
    if (this.closed) return false;
    if (!g.ok) {
      this.log.warn(`rtsp ${publish ? "publish" : "play"} ${streamKeyString(key)} refused: ${g.reason}`);
      this.respond(req, 403);
      this.close(`${publish ? "publish" : "play"} refused`);
      return false;
    }
    return true;
  }

  private async describe(req: RtspRequest): Promise<void> {
    if (this.state !== "init" && this.state !== "described") return this.respond(req, 455);
    const key = this.resolve(req);
    if (!key) return;
    if (!(await this.admit(req, key, false))) return;
    const hub = await this.waitForStream(key);
    if (this.closed) return;
    if (!hub) {
      this.log.trace(`rtsp describe ${streamKeyString(key)}: no such stream`);
      return this.respond(req, 404);
    }
    const tracks: SdpTrack[] = [];
    try {
      const v = hub.videoConfig;
      if (v) {
        const t = trackFor(v, v.codec, tracks.length);
        if (t) tracks.push(t);
      }
      const a = hub.audioConfig ?? hub.startupPackets().find((p) => p.kind === "audio");
      if (a) {
        const t = trackFor(a.config ? a : undefined, a.codec, tracks.length);
        if (t) tracks.push(t);
      }
    } catch (e) {
      this.log.warn(`rtsp describe ${streamKeyString(key)}: bad sequence header: ${(e as Error).message}`);
    }
    if (!tracks.length) {
      this.log.warn(`rtsp describe ${streamKeyString(key)}: no codec RTSP can carry (video ${hub.videoConfig?.codec ?? "none"}, audio ${hub.audioConfig?.codec ?? "none"})`);
      return this.respond(req, 415);
    }
    this.tracks = tracks.map((sdp) => newTrack(sdp));
    this.state = "described";
    const sdp = buildSdp({ sessionId: String(randomU32()), address: this.socket.localAddress?.replace(/^::ffff:/, "") ?? "0.0.0.0", name: `${key.app}/${key.stream}`, tracks });
    this.respond(req, 200, new RtspHeaders().add("Content-Base", `${this.baseUrl}/`).add("Content-Type", "application/sdp"), sdp);
  }

  /**
   * The stream's hub when it is live, given a moment after a publish starts for both sequence headers to come
   * (audio first, video next, or the other way). A stream not live here is wanted (a demand lease: an edge, or the
   * worker that does not own the stream, pulls it) for up to 3 s; the demand is kept until PLAY takes the stream.
   */
  private async waitForStream(key: StreamKey): Promise<StreamHub | undefined> {
    if (!this.ctx.hubs.find(key)?.active) {
      this.want?.dispose();
      const want = this.ctx.hubs.demand(key);
      this.want = want;
      for (let i = 0; i < 60 && !want.hub.active && !this.closed; i++) await new Promise((r) => setTimeout(r, 50));
      if (!want.hub.active || this.closed) {
        want.dispose();
        if (this.want === want) this.want = undefined;
        return undefined;
      }
    }
    for (let i = 0; ; i++) {
      const hub = this.ctx.hubs.find(key);
      if (!hub?.active) return undefined;
      const audio = !!hub.audioConfig || hub.startupPackets().some((p) => p.kind === "audio");
      const settled = Date.now() - hub.publishedAt > 1000;
      if ((hub.videoConfig && audio) || ((hub.videoConfig || audio) && settled) || i >= 20) return hub;
      await new Promise((r) => setTimeout(r, 100));
      if (this.closed) return undefined;
    }
  }

  private async announce(req: RtspRequest): Promise<void> {
    if (this.state !== "init") return this.respond(req, 455);
    const key = this.resolve(req);
    if (!key) return;
    const ct = req.headers.get("Content-Type") ?? "";
    if (!/application\/sdp/i.test(ct)) return this.respond(req, 415);
    let parsed;
    try {
      parsed = parseSdp(new TextDecoder().decode(req.body));
    } catch (e) {
      this.log.warn(`rtsp announce: ${(e as Error).message}`);
      return this.respond(req, 400);
    }
    if (!parsed.tracks.length) {
      this.log.warn(`rtsp announce ${streamKeyString(key)}: no media we can take (${parsed.unsupported.join(", ")})`);
      return this.respond(req, 415);
    }
    for (const u of parsed.unsupported) this.log.warn(`rtsp announce ${streamKeyString(key)}: ${u} not supported, dropped`);
    if (!(await this.admit(req, key, true))) return;
    try {
      this.publishing = this.ctx.hubs.publish(key, { clientId: this.id, type: this.type, ip: this.ip, kick: (r) => this.kick(r) });
    } catch (e) {
      if (!(e instanceof PublishError)) throw e;
      this.log.warn(`rtsp publish refused: ${e.message}`);
      this.respond(req, 406);
      this.close("stream busy");
      return;
    }
    this.tracks = parsed.tracks.map((sdp) => newTrack(sdp));
    this.state = "announced";
    this.respond(req, 200);
  }

  private trackOf(url: string): Track | undefined {
    const byControl = this.tracks.find((t) => controlMatches(url, t.sdp.control));
    if (byControl) return byControl;
    if (this.tracks.length === 1) return this.tracks[0];
    return undefined;
  }

  private async setup(req: RtspRequest): Promise<void> {
    if (this.state !== "described" && this.state !== "announced") {
      return this.respond(req, this.state === "init" ? 455 : 455);
    }
    const track = this.trackOf(req.uri);
    if (!track) return this.respond(req, 404);
    const th = req.headers.get("Transport");
    const t = th ? parseTransport(th) : undefined;
    if (!t) return this.respond(req, 461);
    const record = this.state === "announced";
    const index = this.tracks.indexOf(track);
    const answer: RtspTransport = { protocol: t.protocol, record };
    if (t.protocol === "tcp") {
      const ch = t.interleaved ?? [index * 2, index * 2 + 1];
      if (this.tracks.some((o) => o !== track && o.transport?.interleaved && o.transport.interleaved[0] === ch[0])) return this.respond(req, 461);
      answer.interleaved = ch;
    } else {
      if (this.tracks.some((o) => o.transport && o.transport.protocol !== "udp")) return this.respond(req, 461);
      try {
        track.udp?.rtp.close();
        track.udp?.rtcp.close();
        track.udp = await bindPair(this.socket.localAddress ?? "0.0.0.0");
      } catch (e) {
        this.log.warn(`rtsp setup udp: ${(e as Error).message}`);
        return this.respond(req, 453);
      }
      if (this.closed) {
        closePair(track.udp);
        return;
      }
      answer.clientPort = t.clientPort;
      answer.serverPort = track.udp.ports;
      this.listenUdp(track);
    }
    track.transport = { ...answer, clientPort: t.clientPort };
    this.sessionId ??= Buffer.from(randomBytes(8)).toString("hex");
    this.respond(req, 200, new RtspHeaders().add("Transport", formatTransport(answer)));
  }

  private async play(req: RtspRequest): Promise<void> {
    if (this.state === "playing") return this.respond(req, 200);
    if (this.state !== "described") return this.respond(req, 455);
    const ready = this.tracks.filter((t) => t.transport);
    if (!ready.length) return this.respond(req, 455);
    const key = this.stream!;
    // No seq/rtptime: every player of the stream shares one numbering and starts where it joins (output.ts).
    const info = ready.map((t) => `url=${this.baseUrl}/${t.sdp.control}`).join(",");
    this.respond(req, 200, new RtspHeaders().add("Range", "npt=0.000-").add("RTP-Info", info));
    this.state = "playing";
    const tcp = ready.some((t) => t.transport?.protocol === "tcp");
    const sink: RtspPlayerSink = {
      send: (u, live) => this.sendUnit(u, live),
      onPublish: () => undefined,
      onUnpublish: () => this.close("stream unpublished"),
      ...(tcp ? {
        channelOf: (kind: "video" | "audio") => this.tracks.find((t) => t.sdp.kind === kind && t.transport?.protocol === "tcp")?.transport?.interleaved?.[0],
        flushBatch: (units: number, shared: () => Uint8Array) => this.flushBatch(units, shared),
      } : {}),
    };
    this.playLease = this.ctx.hubs.play(key, rtspOutput(this.mwLatency()), sink);
    this.want?.dispose();
    this.want = undefined;
    if (!this.playLease.hub.active) {
      this.close("stream not live");
      return;
    }
    this.log.trace(`rtsp play ${streamKeyString(key)}${this.param ?? ""} over ${this.transport}, tracks ${ready.map((t) => t.sdp.codec).join("+")}`);
  }

  private record(req: RtspRequest): void {
    if (this.state === "recording") return this.respond(req, 200);
    if (this.state !== "announced") return this.respond(req, 455);
    const ready = this.tracks.filter((t) => t.transport);
    if (!ready.length) return this.respond(req, 455);
    this.respond(req, 200);
    this.state = "recording";
    this.lastMediaAt = Date.now();
    for (const t of ready) t.recv = new TrackReceiver(t.sdp, (p) => this.pushMedia(p), this.log);
    this.log.trace(`rtsp publish ${streamKeyString(this.stream!)}${this.param ?? ""} over ${this.transport}, tracks ${ready.map((t) => t.sdp.codec).join("+")}`);
  }

  private pushMedia(p: MediaPacket): void {
    this.mediaPackets++;
    this.publishing?.push(p);
  }

  // --- receiving media ---------------------------------------------------------------------------------------

  private onInterleaved(channel: number, data: Uint8Array): void {
    if (this.state !== "recording") return; // a player's RTCP receiver reports are not used
    const track = this.tracks.find((t) => t.transport?.interleaved?.[0] === channel);
    if (track) this.onRtp(track, data);
  }

  private onRtp(track: Track, data: Uint8Array): void {
    const recv = track.recv;
    if (!recv) return;
    const p = parseRtpPacket(data);
    if (typeof p === "string") return;
    const now = Date.now();
    this.lastMediaAt = now;
    this.firstArrival ??= now;
    recv.push(p.payload, p.sequence, p.timestamp, p.marker, p.payloadType, now - this.firstArrival);
  }

  private listenUdp(track: Track): void {
    const u = track.udp!;
    u.onRtp = (msg, from) => {
      if (from.address.replace(/^::ffff:/, "") !== this.ip) return;
      this.received += msg.byteLength;
      if (this.state === "recording") this.onRtp(track, msg);
    };
    u.onRtcp = (msg, from) => {
      if (from.address.replace(/^::ffff:/, "") !== this.ip) return;
      this.received += msg.byteLength;
      this.lastActivity = Date.now();
    };
  }

  // --- sending media -----------------------------------------------------------------------------------------

  private sendUnit(u: RtspUnit, live: boolean): void {
    if (this.closed) return;
    // A live unit not queued as the output's batch has it puts this player out of step with the shared buffer.
    const step = this.inStep;
    if (live) this.inStep = false;
    const track = this.tracks.find((t) => t.transport && t.sdp.kind === u.kind);
    if (!track || track.sdp.codec !== u.codec) return;
    const tcp = track.transport!.protocol === "tcp";
    if (tcp) {
      const backlog = this.socket.writableLength + this.pendingBytes;
      if (backlog > MAX_BACKLOG) {
        this.close(`slow player: ${backlog} bytes queued`);
        return;
      }
      if (backlog > SKIP_BACKLOG && !this.waitKeyframe) {
        this.waitKeyframe = true;
        this.skips++;
      }
      if (this.waitKeyframe) {
        const hasVideo = this.tracks.some((t) => t.transport && t.sdp.kind === "video");
        if (!(u.kind === "video" && u.keyframe && backlog < SKIP_BACKLOG / 2) && (hasVideo || backlog > SKIP_BACKLOG / 2)) return;
        this.waitKeyframe = false;
      }
    }
    track.lastTs = u.timestamp;
    track.lastWall = Date.now();
    track.ssrc = u.ssrc;
    track.packets += u.payloads.length;
    for (const p of u.payloads) track.octets += p.payload.byteLength;
    if (tcp) {
      const b = interleavedFrames(u, track.transport!.interleaved![0]);
      if (live) {
        // the output's merged write flushes it (flushBatch)
        this.pending.push(b);
        this.pendingBytes += b.byteLength;
        this.batchUnits++;
        this.inStep = step;
      } else {
        this.queueTcp([b], b.byteLength);
      }
      return;
    }
    const port = track.transport!.clientPort![0];
    for (const b of rtpPackets(u)) {
      this.sent += b.byteLength;
      track.udp!.rtp.send(b, port, this.ip);
    }
  }

  /**
   * TCP players write in batches as RTMP players do (SRS's merged write): every `play.mw_latency` ms, or on the
   * next turn of the event loop with `min_latency on` (or mw_latency 0). Fewer, larger writes: the CPU per player
   * is mostly system calls.
   */
  private queueTcp(frames: Uint8Array[], total: number): void {
    for (const f of frames) this.pending.push(f);
    this.pendingBytes += total;
    this.inStep = false;
    if (this.flushTimer !== undefined || this.flushQueued) return;
    const mw = this.mwLatency();
    if (mw <= 0) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    } else {
      this.flushTimer = setTimeout(() => this.flush(), mw);
    }
  }

  /** The merged-write interval of this player's vhost (SRS's mw_latency; 0 with min_latency on). */
  private mwLatency(): number {
    const v = this.vhost;
    return !v || v.minLatency ? 0 : v.play.mwLatency;
  }

  /** The output's merged write: the shared buffer when this player queued exactly its `units` live units. */
  private flushBatch(units: number, shared: () => Uint8Array): void {
    if (this.closed || !this.pending.length) {
      this.resetStep();
      return;
    }
    if (this.inStep && this.batchUnits === units && this.pending.length === units) {
      this.pending = [];
      this.pendingBytes = 0;
      this.write(shared());
      this.resetStep();
      return;
    }
    this.flush();
    // the batch is over: from now on this player queues exactly what the next one holds
    this.resetStep();
  }

  private resetStep(): void {
    this.batchUnits = 0;
    this.inStep = true;
  }

  private flush(): void {
    this.flushTimer = undefined;
    this.flushQueued = false;
    if (!this.pending.length || this.closed) {
      this.resetStep();
      return;
    }
    const list = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.write(list.length === 1 ? list[0]! : Buffer.concat(list, bytes));
    // What the output's batch holds from before this write is gone: out of step until its next merged write.
    this.batchUnits = 0;
    this.inStep = false;
  }

  private sendReports(): void {
    const now = Date.now();
    for (const t of this.tracks) {
      if (!t.transport || !t.packets) continue;
      const rtpTimestamp = (t.lastTs + Math.round(((now - t.lastWall) * t.sdp.clockRate) / 1000)) >>> 0;
      const sr = senderReport({ ssrc: t.ssrc, unixMs: now, rtpTimestamp, packets: t.packets, octets: t.octets }, "srs-ts");
      if (t.transport.protocol === "tcp") this.queueTcp([interleavedFrame(t.transport.interleaved![1], sr)], sr.byteLength + 4);
      else if (t.udp && t.transport.clientPort) {
        this.sent += sr.byteLength;
        t.udp.rtcp.send(sr, t.transport.clientPort[1], this.ip);
      }
    }
  }

  private tick(): void {
    const now = Date.now();
    if (this.state === "playing" && now - this.lastSr >= SR_INTERVAL_MS) {
      this.lastSr = now;
      this.sendReports();
    }
    if (this.state === "recording" && this.vhost) {
      const limit = this.mediaPackets === 0 ? this.vhost.publish.firstpktTimeout : this.vhost.publish.normalTimeout;
      if (now - this.lastMediaAt > limit) {
        this.log.warn(`rtsp publish timeout: no media for ${now - this.lastMediaAt}ms (limit ${limit}ms)`);
        this.close("publish timeout");
      }
    }
    if (this.state !== "playing" && this.state !== "recording" && now - this.lastActivity > SESSION_TIMEOUT_S * 1000) {
      this.close("session timeout");
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    const was = this.state;
    this.state = "closed";
    if (this.timer) clearInterval(this.timer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.pending = [];
    for (const t of this.tracks) if (t.udp) closePair(t.udp);
    const key = this.stream;
    this.want?.dispose();
    this.playLease?.dispose();
    if (this.publishing && key) {
      for (const t of this.tracks) t.recv?.flush();
      this.publishing.dispose();
      this.ctx.access.onUnpublish(this, key);
      this.log.trace(`rtsp unpublish ${streamKeyString(key)} (${reason}), ${this.mediaPackets} packets`);
    }
    if (this.playLease && key) this.ctx.access.onStop(this, key);
    if (this.registered) this.ctx.clients.remove(this.id);
    if (this.connectAllowed) this.ctx.access.onClose(this);
    if (!this.socket.destroyed) this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref?.();
    this.onEnd(this);
    this.log.trace(`rtsp client closed (${reason}) in state ${was}, in=${this.received}B out=${this.sent}B, ` +
      `alive=${((Date.now() - this.connectedAt) / 1000).toFixed(1)}s`);
  }
}

function newTrack(sdp: SdpTrack): Track {
  return { sdp, ssrc: 0, packets: 0, octets: 0, lastTs: 0, lastWall: Date.now() };
}

