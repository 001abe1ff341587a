/**
 * One RTMP connection, server side, readable top to bottom:
 *
 *   handshake ──▶ wait-connect ──connect──▶ connected ──createStream/publish──▶ publishing ──▶ closed
 *                                                    └──createStream/play─────▶ playing ────▶ closed
 *
 * Commands are checked against the state before they run (a publish before connect is a protocol error).
 * Publishing: audio/video/data messages become MediaPackets for the stream hub. Playing: the player joins the
 * hub's shared RTMP encoder (output.ts) and receives the same bytes as every other player.
 * Specs: RTMP 1.0 (Adobe, 2012) sections 5 (chunking, control) and 7 (commands); FLV 10.1 for payloads.
 */
import type { TcpConnection, TcpErrorLike } from "../../runtime/tcp.ts";
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { SrsConfig, VhostConfig } from "../../config/index.ts";
import { type Amf0Object, type Amf0Value, isAmf0Object } from "../../formats/amf0.ts";
import { BytePlayer, type FanOut, mergedWrites } from "../../hub/fanout.ts";
import type { Lease, PlayLease, PublishLease } from "../../hub/lease.ts";
import { PublishError, type PublisherInfo, type StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import { newContextId } from "../../log/logger.ts";
import { flvAudioToPacket, flvScriptToPacket, flvVideoToPacket } from "../../media/flv-codec.ts";
import type { StreamKey } from "../../media/packet.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import type { AccessControl } from "../../access.ts";
import { SRS_COMPAT_VERSION, VERSION } from "../../version.ts";
import { StallMeter } from "../../stall.ts";
import { ChunkReader } from "./chunk-reader.ts";
import { ChunkWriter } from "./chunk-writer.ts";
import {
  connectError,
  connectResult,
  createStreamResult,
  dataStart,
  decodeCommand,
  getStreamLengthResult,
  onBWDone,
  onFCPublish,
  onFCUnpublish,
  pauseNotify,
  playPublishNotify,
  playReset,
  playStart,
  playStreamNotFound,
  playUnpublishNotify,
  publishBadName,
  redirectStatus,
  publishStart,
  type RtmpCommand,
  sampleAccess,
  simpleResult,
  unpauseNotify,
  unpublishSuccess,
} from "./commands.ts";
import { HandshakeError, ServerHandshake } from "./handshake.ts";
import {
  AckWindow,
  MSG_ACK,
  MSG_AGGREGATE,
  MSG_AMF0_COMMAND,
  MSG_AMF0_DATA,
  MSG_AMF3_COMMAND,
  MSG_AMF3_DATA,
  MSG_AUDIO,
  MSG_SET_PEER_BANDWIDTH,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  MSG_WINDOW_ACK_SIZE,
  parseUserControl,
  parseWindowAckSize,
  type RtmpMessage,
  RtmpProtocolError,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  splitAggregate,
  UC_PING_REQUEST,
  UC_STREAM_BEGIN,
  UC_STREAM_EOF,
  userControlMessage,
  windowAckSizeMessage,
} from "./messages.ts";
import { RtmpTagReader } from "./media-tags.ts";
import { PLAY_STREAM_ID, rtmpOutput } from "./output.ts";
import { DEFAULT_VHOST, resolveRtmpRequest, StreamUrlError } from "../../net/stream-url.ts";
import { rtmpRedirectUrl } from "../../net/cluster-url.ts";

type State = "handshake" | "wait-connect" | "connected" | "publishing" | "playing" | "closed";

/** Messages held while a hook decides (a publisher pipelining media after publish): beyond this, refuse. */
const MAX_PENDING_MESSAGES = 10000;

/** How long a connection may take to finish handshake + connect before it is dropped. */
const CONNECT_TIMEOUT_MS = 20000;
/** How often the connect and publish timeouts are checked, ms. */
const TIMEOUT_CHECK_MS = 1000;

/** After an origin-cluster redirect, how long the player may take to answer before it is closed (SRS: 3 s). */
const REDIRECT_WAIT_MS = 3000;

/**
 * The origin cluster (lib/services/cluster/origin-cluster.ts): which coworker holds a stream this server has no
 * publisher for, as the RTMP address SRS's redirect names; undefined when none does.
 */
export interface RtmpClusterLocator {
  locate(key: StreamKey, host: string, log: Log): Promise<{ ip: string; port: number } | undefined>;
}

/** What an RTMP session needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface RtmpSessionPorts {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: Pick<SrsConfig, "vhost">;
  readonly hubs: Pick<StreamHubs, "publish" | "play" | "find">;
  readonly clients: Pick<ClientRegistry, "add" | "remove">;
  readonly access: AccessControl;
  readonly log: Log;
  /** Asked when a player of an `origin_cluster` vhost wants a stream nobody publishes here. */
  readonly originCluster?: RtmpClusterLocator;
}

export class RtmpSession implements ClientInfo {
  readonly id = newContextId();
  readonly protocol = "rtmp";
  type = "rtmp-connect";
  readonly ip: string;
  readonly connectedAt = Date.now();
  stream?: StreamKey;
  tcUrl?: string;
  pageUrl?: string;
  swfUrl?: string;
  param?: string;

  private readonly log: Log;
  private state: State = "handshake";
  private handshake = new ServerHandshake();
  private c0Checked = false;
  /** Bounded per connection: one message up to 16 MiB (the format allows 16 MiB - 1), 16 MiB unfinished in all. */
  private reader = new ChunkReader({ maxPendingBytes: 16 * 1024 * 1024 });
  private writer = new ChunkWriter();
  private ack = new AckWindow();
  private vhost: VhostConfig | undefined;
  private app = "";
  private objectEncoding = 0;
  private sawFCPublish = false;
  private sawReleaseStream = false;
  private outChunkSize = 60000;
  /** The stream published or played. */
  private hub: StreamHub | undefined;
  // publishing
  private publishing: PublishLease | undefined;
  private tags = new RtmpTagReader();
  private mediaPackets = 0;
  private lastMediaAt = 0;
  /** The timeout check's view of this process's stalls (not the publisher's silence). */
  private readonly stall = new StallMeter(TIMEOUT_CHECK_MS);
  private timer: ReturnType<typeof setInterval> | undefined;
  // playing
  private playing: PlayLease<FanOut> | undefined;
  private player: BytePlayer | undefined;
  /** While paused the player leaves the output; this keeps the hub. */
  private pauseHold: Lease | undefined;
  private paused = false;
  // message queue while an async gate (hook) runs
  private pending: RtmpMessage[] = [];
  private blocked = false;
  private connectAllowed = false;
  /** Sent an origin-cluster redirect: the next command from the player (or a timer) closes the connection. */
  private redirected = false;

  constructor(private ctx: RtmpSessionPorts, private socket: TcpConnection) {
    this.ip = socket.remoteAddress?.replace(/^::ffff:/, "") ?? "";
    this.log = ctx.log.child(this.id);
  }

  start(): void {
    this.ctx.clients.add(this);
    this.log.trace(`rtmp client connected, ip=${this.ip}:${this.socket.remotePort}`);
    this.socket.on("data", (d) => this.onData(d));
    this.socket.on("error", (e: TcpErrorLike) => {
      // A peer that goes away mid-stream is normal life for a media server, not a warning.
      const benign = e.code === "ECONNRESET" || e.code === "EPIPE";
      if (benign) this.log.info(`rtmp socket ${e.code}`);
      else this.log.warn(`rtmp socket error: ${e.message}`);
    });
    this.socket.on("close", () => this.cleanup("peer closed"));
    this.timer = setInterval(() => this.checkTimeouts(), TIMEOUT_CHECK_MS);
  }

  bytesIn(): number {
    return this.socket.bytesRead;
  }
  bytesOut(): number {
    return this.socket.bytesWritten;
  }

  kick(reason: string): void {
    this.log.trace(`rtmp client kicked: ${reason}`);
    this.close(reason);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Input

  private onData(d: Uint8Array): void {
    if (this.state === "closed") return;
    try {
      if (this.state === "handshake") {
        // C0 is the first byte: anything but 3 (plain RTMP) is refused at once, as SRS does, instead of
        // answering garbage (an HTTP request, a TLS hello) with S0S1S2 or waiting for a whole C1.
        if (!this.c0Checked && d.byteLength > 0) {
          this.c0Checked = true;
          const v = d[0]!;
          if (v !== 3) {
            throw new HandshakeError(v === 6 || v === 8
              ? `encrypted RTMP (C0 version ${v}) is not supported`
              : `bad handshake: C0 version ${v} is not RTMP (only version 3 is supported)`);
          }
        }
        const step = this.handshake.feed(d);
        if (step.send) this.socket.write(step.send);
        if (!step.done) return;
        this.log.info(`rtmp handshake done (${this.handshake.complex ? "complex" : "simple"})`);
        this.state = "wait-connect";
        if (!step.rest) return;
        d = step.rest;
      }
      const ackMsg = this.ack.received(d.byteLength);
      if (ackMsg) this.send(ackMsg);
      const msgs = this.reader.feed(d);
      if (this.blocked || this.pending.length) {
        for (const m of msgs) this.pending.push(m);
        if (this.pending.length > MAX_PENDING_MESSAGES) throw new RtmpProtocolError(`too many messages while waiting`);
        return;
      }
      for (let i = 0; i < msgs.length; i++) {
        this.dispatch(msgs[i]!);
        if (this.isClosed()) return;
        if (this.blocked) {
          for (let j = i + 1; j < msgs.length; j++) this.pending.push(msgs[j]!);
          return;
        }
      }
    } catch (e) {
      this.fail(e);
    }
  }

  /** Runs one message; an async step (a hook) blocks the queue until it settles. */
  private dispatch(m: RtmpMessage): void {
    const r = this.onMessage(m);
    if (r) {
      this.blocked = true;
      r.then(
        () => {
          this.blocked = false;
          this.drain();
        },
        (e) => this.fail(e),
      );
    }
  }

  private drain(): void {
    try {
      while (!this.blocked && this.pending.length && !this.isClosed()) this.dispatch(this.pending.shift()!);
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (this.isClosed()) return;
    const what = e instanceof RtmpProtocolError || e instanceof StreamUrlError ? "rtmp protocol error" : "rtmp session error";
    this.log.error(`${what} in state ${this.state}, closing`, e);
    this.close(what);
  }

  private onMessage(m: RtmpMessage): Promise<void> | void {
    switch (m.type) {
      case MSG_AUDIO:
      case MSG_VIDEO:
      case MSG_AMF0_DATA:
      case MSG_AMF3_DATA:
        return this.onMediaMessage(m);
      case MSG_AGGREGATE:
        for (const sub of splitAggregate(m)) this.onMediaMessage(sub);
        return;
      case MSG_AMF0_COMMAND:
      case MSG_AMF3_COMMAND:
        return this.onCommand(decodeCommand(m.payload, m.type));
      case MSG_WINDOW_ACK_SIZE:
        this.ack.setWindow(parseWindowAckSize(m.payload));
        return;
      case MSG_USER_CONTROL: {
        const ev = parseUserControl(m.payload);
        if (ev.event === UC_PING_REQUEST) this.send(userControlMessage(7, ev.value));
        return;
      }
      case MSG_ACK:
      case MSG_SET_PEER_BANDWIDTH:
        return; // nothing to do: we never wait for the peer's acks
      default:
        // Set Chunk Size and Abort are applied inside the chunk reader.
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Commands (RTMP spec 7.2)

  private onCommand(c: RtmpCommand): Promise<void> | void {
    this.log.info(`rtmp command ${c.name} tid=${c.transactionId} in state ${this.state}`);
    if (this.redirected) return this.close(`redirected, the player answered ${c.name}`);
    switch (c.name) {
      case "connect":
        return this.onConnect(c);
      case "releaseStream":
        this.requireState(c, "connected");
        this.sawReleaseStream = true;
        return this.send(simpleResult(c.transactionId));
      case "FCPublish":
        this.requireState(c, "connected");
        this.sawFCPublish = true;
        this.send(onFCPublish(asString(c.args[0])));
        return this.send(simpleResult(c.transactionId));
      case "createStream":
        this.requireState(c, "connected", "publishing", "playing");
        return this.send(createStreamResult(c.transactionId, PLAY_STREAM_ID));
      case "publish":
        this.requireState(c, "connected");
        return this.onPublish(c);
      case "play":
        this.requireState(c, "connected");
        return this.onPlay(c);
      case "pause":
        return this.onPause(c);
      case "getStreamLength":
        return this.send(getStreamLengthResult(c.transactionId, 0));
      case "FCUnpublish":
        this.send(onFCUnpublish(asString(c.args[0])));
        if (c.transactionId > 0) this.send(simpleResult(c.transactionId));
        return this.stopPublishing("FCUnpublish");
      case "deleteStream":
      case "closeStream":
        if (this.state === "publishing") this.stopPublishing(c.name);
        else if (this.state === "playing") this.close(c.name);
        return;
      default:
        // _checkbw, onBWDone replies, setPeerInfo, custom calls: SRS ignores them too.
        this.log.info(`rtmp: ignore command ${c.name}`);
    }
  }

  private requireState(c: RtmpCommand, ...allowed: State[]): void {
    if (!allowed.includes(this.state)) {
      throw new RtmpProtocolError(`command ${c.name} not allowed in state ${this.state}`);
    }
  }

  private async onConnect(c: RtmpCommand): Promise<void> {
    this.requireState(c, "wait-connect");
    const obj = (c.commandObject ?? {}) as Amf0Object;
    const tcUrl = asString(obj.tcUrl);
    this.app = asString(obj.app);
    this.pageUrl = asString(obj.pageUrl);
    this.swfUrl = asString(obj.swfUrl);
    this.objectEncoding = typeof obj.objectEncoding === "number" ? obj.objectEncoding : 0;
    // Some clients send a tcUrl without the app; SRS rebuilds it from the app.
    this.tcUrl = tcUrl || `rtmp://${this.socket.localAddress ?? "127.0.0.1"}/${this.app}`;
    const req = resolveRtmpRequest(this.tcUrl);
    const vhost = this.ctx.config.vhost(req.vhost);
    if (!vhost || !vhost.enabled) {
      this.log.warn(`rtmp connect refused: vhost ${req.vhost} not found or disabled, tcUrl=${this.tcUrl}`);
      this.send(connectError(`vhost ${req.vhost} not found`, "NetConnection.Connect.Rejected", c.transactionId));
      return this.close("vhost not found");
    }
    this.vhost = vhost;
    this.stream = { vhost: vhost.name, app: req.app, stream: "" };
    this.param = req.param;
    const gate = await this.ctx.access.onConnect(this);
    if (this.isClosed()) return;
    if (!gate.ok) {
      this.log.warn(`rtmp connect refused: ${gate.reason}`);
      this.send(connectError(`connect refused: ${gate.reason}`, "NetConnection.Connect.Rejected", c.transactionId));
      return this.close("connect refused");
    }
    this.connectAllowed = true;
    this.outChunkSize = vhost.chunkSize;
    this.socket.setNoDelay(vhost.tcpNodelay);
    this.log.trace(`rtmp connect app=${this.app}, tcUrl=${this.tcUrl}, pageUrl=${this.pageUrl}, vhost=${vhost.name}, ` +
      `encoding=${this.objectEncoding}`);
    // An SRS/srs-ts edge with debug_srs_upnode says who it is in connect's optional arguments.
    const up = c.args[0];
    if (isAmf0Object(up) && typeof up.srs_sig === "string") {
      this.log.trace(`rtmp connect from an edge: srs_server=${String(up.srs_server)}, srs_id=${String(up.srs_id)}, ` +
        `srs_pid=${String(up.srs_pid)}, srs_server_ip=${String(up.srs_server_ip)}`);
    }
    this.send(windowAckSizeMessage(vhost.outAckSize));
    this.send(setPeerBandwidthMessage(vhost.outAckSize, 2));
    this.send(setChunkSizeMessage(this.outChunkSize));
    this.send(connectResult({
      transactionId: c.transactionId,
      objectEncoding: this.objectEncoding,
      data: {
        srs_sig: "srs-ts",
        srs_server: `srs-ts/${VERSION} (SRS/${SRS_COMPAT_VERSION} compatible)`,
        srs_version: SRS_COMPAT_VERSION,
        srs_pid: process.pid,
        srs_id: this.id,
      },
    }));
    this.send(onBWDone());
    this.state = "connected";
  }

  /** Resolves the stream key of a publish/play: the vhost resolved through the config, as SRS does. */
  private resolveStream(name: string): StreamKey {
    const req = resolveRtmpRequest(this.tcUrl ?? "rtmp://127.0.0.1/", name);
    const vhost = this.ctx.config.vhost(req.vhost);
    if (!vhost || !vhost.enabled) throw new RtmpProtocolError(`vhost ${req.vhost} not found or disabled`);
    this.vhost = vhost;
    this.param = req.param;
    if (!req.stream) throw new RtmpProtocolError(`empty stream name`);
    return { vhost: vhost.name || DEFAULT_VHOST, app: req.app, stream: req.stream };
  }

  private async onPublish(c: RtmpCommand): Promise<void> {
    const name = asString(c.args[0]);
    const key = this.resolveStream(name);
    this.stream = key;
    // SRS: FMLE (OBS, FFmpeg) sends releaseStream/FCPublish first; Flash just createStream + publish.
    this.type = this.sawFCPublish ? (this.sawReleaseStream ? "fmle-publish" : "haivision-publish") : "flash-publish";
    const gate = await this.ctx.access.onPublish(this, key);
    if (this.isClosed()) return;
    if (!gate.ok) {
      this.log.warn(`rtmp publish ${key.app}/${key.stream} refused: ${gate.reason}`);
      this.send(publishBadName(PLAY_STREAM_ID, { clientid: this.id, description: `publish refused: ${gate.reason}` }));
      return this.close("publish refused");
    }
    const publisher: PublisherInfo = { clientId: this.id, type: this.type, ip: this.ip, kick: (r) => this.kick(r) };
    try {
      this.publishing = this.ctx.hubs.publish(key, publisher);
    } catch (e) {
      if (!(e instanceof PublishError)) throw e;
      this.log.warn(`rtmp publish refused: ${e.message}`);
      this.send(publishBadName(PLAY_STREAM_ID, { clientid: this.id }));
      return this.close("stream busy");
    }
    const hub = this.publishing.hub;
    this.hub = hub;
    this.state = "publishing";
    this.lastMediaAt = Date.now();
    if (this.type === "flash-publish") this.send(userControlMessage(UC_STREAM_BEGIN, PLAY_STREAM_ID));
    this.send(publishStart(PLAY_STREAM_ID, { clientid: this.id }));
    this.log.trace(`rtmp ${this.type} ${hub.name}${this.param ?? ""} started`);
  }

  private async onPlay(c: RtmpCommand): Promise<void> {
    const name = asString(c.args[0]);
    const key = this.resolveStream(name);
    this.stream = key;
    this.type = "rtmp-play";
    const gate = await this.ctx.access.onPlay(this, key);
    if (this.isClosed()) return;
    if (!gate.ok) {
      this.log.warn(`rtmp play ${key.app}/${key.stream} refused: ${gate.reason}`);
      this.send(playStreamNotFound(PLAY_STREAM_ID, { clientid: this.id, description: `play refused: ${gate.reason}` }));
      return this.close("play refused");
    }
    const vhost = this.vhost!;
    this.state = "playing";
    // SRS (SrsRtmpConn::playing): an origin of an origin cluster without the stream sends the player to the
    // coworker that holds it, or refuses it; a player never waits there for a publisher. SRS sends Play.Start
    // first and the redirect after it; srs-ts sends the redirect instead of Play.Start, so a client that takes
    // Play.Start as success (FFmpeg, our own RTMP client) sees the redirect as the answer to its play. Clients
    // that follow SRS's redirect read it in their message loop, where either order works.
    const cluster = vhost.cluster;
    if (cluster.originCluster && !cluster.isEdge && !this.ctx.hubs.find(key)?.active && this.ctx.originCluster) {
      return this.redirectInCluster(this.ctx.originCluster, key);
    }
    // Spec 7.2.2.1: StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess, Data.Start.
    const extra = { clientid: this.id, details: name };
    this.send(userControlMessage(UC_STREAM_BEGIN, PLAY_STREAM_ID));
    this.send(playReset(PLAY_STREAM_ID, extra));
    this.send(playStart(PLAY_STREAM_ID, extra));
    this.send(sampleAccess(PLAY_STREAM_ID, false, false));
    this.send(dataStart(PLAY_STREAM_ID, extra));
    const hub = this.joinFanOut(vhost, key);
    // Timeouts only matter while connecting and publishing: 500 players need no 500 timers.
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.log.trace(`rtmp play ${hub.name}${this.param ?? ""} started, ${hub.active ? "stream is live" : "waiting for publisher"}`);
  }

  /**
   * Asks the coworkers where `key` is published; sends SRS's RTMP 302 naming it, then closes at the player's next
   * command or after REDIRECT_WAIT_MS. No coworker holds it: NetStream.Play.StreamNotFound and close (SRS sends
   * Play.Start, then closes without a status).
   */
  private async redirectInCluster(cluster: RtmpClusterLocator, key: StreamKey): Promise<void> {
    let host = "";
    try {
      host = resolveRtmpRequest(this.tcUrl ?? "").host;
    } catch {
      // the tcUrl was checked at connect; keep "" (no vhost guess from the host)
    }
    const origin = await cluster.locate(key, host, this.log);
    if (this.isClosed()) return;
    this.ctx.access.onStop(this, key);
    if (!origin) {
      this.send(playStreamNotFound(PLAY_STREAM_ID, {
        clientid: this.id,
        description: `no origin of the cluster publishes ${key.app}/${key.stream}`,
      }));
      return this.close("origin cluster: no coworker holds the stream");
    }
    const { tcUrl, url } = rtmpRedirectUrl(origin, {
      host,
      vhost: key.vhost,
      app: key.app,
      stream: key.stream,
      param: this.param ?? "",
    });
    this.log.trace(`rtmp: redirect in cluster ${key.app}/${key.stream} to ${url}`);
    this.send(redirectStatus(tcUrl, url));
    this.redirected = true;
    setTimeout(() => this.close("redirected"), REDIRECT_WAIT_MS).unref?.();
  }

  /** Leases the stream's shared RTMP output for this player; returns the stream's hub. */
  private joinFanOut(vhost: VhostConfig, key: StreamKey): StreamHub {
    const output = rtmpOutput(this.outChunkSize, mergedWrites(vhost));
    const player = new BytePlayer(this.socket, {
      onOverflow: (reason) => this.close(`slow player: ${reason}`),
      onUnpublish: () => {
        this.player?.writeNow(this.writer.write(userControlMessage(UC_STREAM_EOF, PLAY_STREAM_ID)));
        this.player?.writeNow(this.writer.write(playUnpublishNotify(PLAY_STREAM_ID, { clientid: this.id })));
      },
      onPublish: () => {
        this.player?.writeNow(this.writer.write(userControlMessage(UC_STREAM_BEGIN, PLAY_STREAM_ID)));
        this.player?.writeNow(this.writer.write(playPublishNotify(PLAY_STREAM_ID, { clientid: this.id })));
      },
    });
    this.player = player;
    this.playing = this.ctx.hubs.play(key, output, player);
    this.hub = this.playing.hub;
    return this.hub;
  }

  private onPause(c: RtmpCommand): void {
    if (this.state !== "playing" || !this.hub || !this.vhost) return;
    const pause = c.args[0] === true;
    if (pause && !this.paused) {
      this.paused = true;
      this.pauseHold = this.hub.hold();
      this.playing?.dispose();
      this.playing = undefined;
      this.player = undefined;
      this.send(pauseNotify(PLAY_STREAM_ID, { clientid: this.id }));
    } else if (!pause && this.paused) {
      this.paused = false;
      this.send(unpauseNotify(PLAY_STREAM_ID, { clientid: this.id }));
      this.joinFanOut(this.vhost, this.hub.key);
      this.pauseHold?.dispose();
      this.pauseHold = undefined;
    }
    this.log.trace(`rtmp ${pause ? "pause" : "unpause"} at ${c.args[1]}`);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Publishing: RTMP messages -> MediaPackets

  private onMediaMessage(m: RtmpMessage): void {
    if (this.state !== "publishing" || !this.publishing) {
      if (m.type === MSG_AUDIO || m.type === MSG_VIDEO) this.log.verbose(`rtmp: drop media before publish`);
      return;
    }
    const kind = this.tags.read(m);
    if (kind === undefined) return;
    const { timestamp, body } = this.tags;
    const p = kind === "video"
      ? flvVideoToPacket(body, timestamp)
      : kind === "audio"
      ? flvAudioToPacket(body, timestamp)
      : flvScriptToPacket(body, timestamp);
    if (!p) return;
    this.mediaPackets++;
    this.lastMediaAt = Date.now();
    this.publishing.push(p);
  }

  private stopPublishing(why: string): void {
    if (this.state !== "publishing" || !this.publishing) return;
    const hub = this.publishing.hub;
    this.publishing.dispose();
    this.publishing = undefined;
    this.ctx.access.onUnpublish(this, hub.key);
    this.log.trace(`rtmp unpublish ${hub.name} (${why}), ${this.mediaPackets} packets`);
    this.send(unpublishSuccess(PLAY_STREAM_ID, { clientid: this.id }));
    this.hub = undefined;
    this.state = "connected";
  }

  private checkTimeouts(): void {
    const now = Date.now();
    this.lastMediaAt += this.stall.stalledMs(now);
    if (this.state === "handshake" || this.state === "wait-connect") {
      if (now - this.connectedAt > CONNECT_TIMEOUT_MS) this.close("connect timeout");
      return;
    }
    if (this.state === "publishing" && this.vhost) {
      const pub = this.vhost.publish;
      const limit = this.mediaPackets === 0 ? pub.firstpktTimeout : pub.normalTimeout;
      if (now - this.lastMediaAt > limit) {
        this.log.warn(`rtmp publish timeout: no media for ${now - this.lastMediaAt}ms (limit ${limit}ms)`);
        this.close("publish timeout");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Output and teardown

  private send(m: RtmpMessage): void {
    if (this.state === "closed" || this.socket.destroyed) return;
    const bytes = this.writer.write(m);
    if (this.player) this.player.writeNow(bytes);
    else this.socket.write(bytes);
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  private close(reason: string): void {
    if (this.state === "closed") return;
    this.cleanup(reason);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref?.();
  }

  private cleanup(reason: string): void {
    if (this.state === "closed") return;
    if (this.state === "handshake" && reason === "peer closed" && this.socket.bytesRead > 0) {
      this.log.warn(`rtmp handshake incomplete: peer closed after ${this.socket.bytesRead} bytes (${reason})`);
    }
    if (this.state === "publishing") this.stopPublishing(reason);
    this.state = "closed";
    if (this.timer) clearInterval(this.timer);
    if (this.type === "rtmp-play" && this.hub) this.ctx.access.onStop(this, this.hub.key);
    this.playing?.dispose();
    this.playing = undefined;
    this.player = undefined;
    this.pauseHold?.dispose();
    this.pauseHold = undefined;
    this.ctx.clients.remove(this.id);
    if (this.connectAllowed) this.ctx.access.onClose(this);
    this.log.trace(`rtmp client closed (${reason}), in=${this.bytesIn()}B out=${this.bytesOut()}B, ` +
      `alive=${((Date.now() - this.connectedAt) / 1000).toFixed(1)}s`);
  }
}

function asString(v: Amf0Value): string {
  return typeof v === "string" ? v : "";
}

