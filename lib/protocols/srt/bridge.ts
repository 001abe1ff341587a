/**
 * The SRT service: SRT sessions <-> stream hubs (SRS's SrsSrtServer + SrsMpegtsSrtConn + SrsSrtFrameBuilder).
 *
 * Started from lib/server.ts when `srt_server.enabled`: binds the SRT listener (lib/protocols/srt/server.ts) with
 * the srt_server settings. Admission happens during the handshake (the listener's async accept hook), so a refused
 * caller gets an SRT rejection instead of a connection that closes at once:
 *  - the stream id is parsed as SRS does (streamid.ts) — bad: 1400; the vhost it names (or __defaultVhost__) is
 *    resolved through the config and must be enabled with `srt { enabled on; }` — else 1404;
 *  - the session registers as a client (type "srt-publish" / "srt-play", protocol "srt") and passes the access
 *    gates: on_connect, then on_publish or on_play — refused: 1403; a publisher claims the stream here — busy: 1409;
 *  - the established connection then attaches to its session (matched by peer address, port and socket id); a
 *    session whose connection never comes (the handshake failed after the accept) is dropped after a few seconds;
 *  - m=publish: the SRT payloads (MPEG-TS) go through our TS demuxer (lib/formats/mpegts-demux.ts) into
 *    MediaPackets published to the hub, so RTMP/FLV/HLS/TS players see the stream (`srt_to_rtmp on`, SRS's
 *    default). A busy stream refuses the second publisher. With `srt_to_rtmp off` the stream is not bridged:
 *    the TS bytes are relayed as they are to the SRT players of the same stream only (SRS's SRT-only source).
 *    No data for publish.firstpkt_timeout (before the first payload) / publish.normal_timeout ends the session;
 *  - m=request: the player joins the hub's shared TS encoder (lib/outputs/ts-fanout.ts, the same bytes as HTTP-TS players)
 *    through a BytePlayer whose sink cuts the bytes into 1316-byte SRT payloads (7 TS packets); the SRT
 *    player waits for a publisher like an RTMP player does;
 *  - on close: unpublish (on_unpublish) or on_stop, on_close, the client is forgotten.
 * Logs carry the session's context id; bytes in/out feed the API and stats.
 */
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { SrsConfig, VhostConfig } from "../../config/index.ts";
import { TsDemuxer } from "../../formats/mpegts-demux.ts";
import { BytePlayer, type ByteSink, everyTurn } from "../../hub/fanout.ts";
import type { PlayLease, PublishLease } from "../../hub/lease.ts";
import { PublishError, type PublisherInfo } from "../../hub/stream-hub.ts";
import { type Log, newContextId } from "../../log/logger.ts";
import { type StreamKey, streamKeyString } from "../../media/packet.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import type { AccessControl } from "../../access.ts";
import { type TsFanOut, tsOutput } from "../../outputs/ts-fanout.ts";
import { formatEndpoint, ipv6OnlyFor, parseEndpoints } from "../../net/endpoint.ts";
import type { Lifecycle } from "../../lifecycle.ts";
import {
  type AcceptResult,
  REJ_CLOSE,
  REJX_BAD_REQUEST,
  REJX_CONFLICT,
  REJX_FORBIDDEN,
  REJX_NOTFOUND,
  REJX_OVERLOAD,
  type SrtAcceptRequest,
  SrtServer,
} from "./server.ts";
import { parseSrtStreamId } from "./streamid.ts";
import { StallMeter } from "../../stall.ts";

const DEFAULT_VHOST = "__defaultVhost__";
/** SRT live payloads carry 7 TS packets (SRS `payloadsize 1316`). */
export const SRT_TS_PAYLOAD = 1316;
/** How long an admitted session waits for its connection to be established. */
const ATTACH_TIMEOUT_MS = 5000;
/** How often the publish timeout is checked, ms. */
const TIMEOUT_CHECK_MS = 1000;

/** What the SRT service needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface SrtPorts {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: Pick<SrsConfig, "vhost" | "srtServer" | "maxConnections">;
  readonly hubs: Pick<StreamHubs, "publish" | "play" | "find">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "whyFull">;
  readonly access: AccessControl;
  readonly log: Log;
  /** Quit: stop taking handshakes at "accept", close the sockets at "finish". */
  readonly lifecycle: Pick<Lifecycle, "register">;
}

/** What a session needs of an established SRT connection (lib/protocols/srt/connection.ts's SrtConnection). */
export interface SrtConn {
  readonly streamId: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The caller's socket id (what the accept request called `socketId`). */
  readonly peerSocketId: number;
  /** In-order payloads; the view is only valid during the callback. */
  onData(cb: (payload: Uint8Array) => void): void;
  onClose(cb: (reason: string) => void): void;
  /** Queues a payload (copied); larger than the payload size is split. */
  send(payload: Uint8Array): unknown;
  close(reason?: string): void;
  /** Packets unacknowledged or unsent in the send buffer (backpressure; read per packet, so no stats object). */
  readonly sendBufferedPackets: number;
  stats(): { sndBufPackets: number; rttMs?: number; rttVarMs?: number; pktLoss?: number; pktRetrans?: number; pktRcvDrop?: number; rcvLatencyMs?: number; sndLatencyMs?: number };
}

/** The caller identity shared by the accept request and the established connection. */
export interface SrtCaller {
  streamId: string;
  address: string;
  port: number;
  socketId: number;
}

function callerKey(c: { address: string; port: number; socketId: number }): string {
  return `${c.address}:${c.port}/${c.socketId}`;
}

/** Raw TS relay of an SRT publisher when `srt_to_rtmp off`: its bytes go to the SRT players of the stream only. */
interface RawRelay {
  publisher: SrtSession;
  players: Set<SrtSession>;
}

/** The sessions of one server (admitted, attached, and the srt-only relays), no global state. */
export class SrtSessions {
  readonly relays = new Map<string, RawRelay>();
  readonly active = new Set<SrtSession>();
  private admitted = new Map<string, SrtSession>();

  constructor(readonly ctx: SrtPorts) {}

  /** False once the server stops accepting (a quit): new callers are rejected, current sessions go on. */
  accepting = true;

  /** The handshake's accept decision: true, or an SRT rejection code (the session keeps its claim until attach). */
  async admit(req: SrtCaller): Promise<AcceptResult> {
    if (!this.accepting) return { reject: REJ_CLOSE, reason: "server quitting" };
    const s = new SrtSession(this, req);
    this.active.add(s);
    const r = await s.admit();
    if (r !== true) return r;
    if (s.closed) return { reject: REJX_FORBIDDEN, reason: "session closed during admission" };
    const key = callerKey(req);
    this.admitted.get(key)?.close("replaced by a new handshake");
    this.admitted.set(key, s);
    const t = setTimeout(() => {
      if (this.admitted.get(key) === s) {
        this.admitted.delete(key);
        s.close("connection not established");
      }
    }, ATTACH_TIMEOUT_MS);
    t.unref?.();
    return true;
  }

  /** An established connection: attach it to the session admitted for it (or refuse it). */
  attach(conn: SrtConn): void {
    const key = callerKey({ address: conn.remoteAddress, port: conn.remotePort, socketId: conn.peerSocketId });
    const s = this.admitted.get(key);
    if (!s) {
      this.ctx.log.warn(`srt: connection from ${key} without an admitted session, closing`);
      conn.close("not admitted");
      return;
    }
    this.admitted.delete(key);
    s.attach(conn);
  }

  closeAll(reason: string): void {
    for (const s of [...this.active]) s.kick(reason);
  }

  /** Calls `cb` once no session is left (at once when none is). */
  whenEmpty(cb: () => void): void {
    if (this.active.size === 0) cb();
    else this.emptyWaiters.push(cb);
  }

  private emptyWaiters: (() => void)[] = [];

  /** A session ended (cleanup): wakes whenEmpty's waiters when it was the last. */
  ended(s: SrtSession): void {
    this.active.delete(s);
    if (this.active.size === 0) for (const cb of this.emptyWaiters.splice(0)) cb();
  }
}

/** A ByteSink over an SRT connection: TS bytes cut into 1316-byte payloads (the connection copies them). */
class SrtTsSink implements ByteSink {
  destroyed = false;
  written = 0;
  conn: SrtConn | undefined;
  get writableLength(): number {
    return this.conn ? this.conn.sendBufferedPackets * SRT_TS_PAYLOAD : 0;
  }
  write(data: Uint8Array): boolean {
    const conn = this.conn;
    if (this.destroyed || !conn) return false;
    const n = data.byteLength;
    for (let off = 0; off < n; off += SRT_TS_PAYLOAD) conn.send(data.subarray(off, Math.min(n, off + SRT_TS_PAYLOAD)));
    this.written += n;
    return true;
  }
}

export class SrtSession implements ClientInfo {
  readonly id = newContextId();
  readonly protocol = "srt";
  type = "srt-play";
  readonly ip: string;
  readonly connectedAt = Date.now();
  stream?: StreamKey;
  tcUrl?: string;
  param?: string;
  readonly log: Log;
  private conn: SrtConn | undefined;
  private vhost: VhostConfig | undefined;
  private publishing: PublishLease | undefined;
  private relay: RawRelay | undefined;
  private demuxer: TsDemuxer | undefined;
  private playLease: PlayLease<TsFanOut> | undefined;
  private player: BytePlayer | undefined;
  private sink = new SrtTsSink();
  private state: "admitting" | "admitted" | "publishing" | "playing" | "closed" = "admitting";
  private mode: "publish" | "request" = "request";
  private connectAllowed = false;
  private playing = false;
  private received = 0;
  private lastDataAt = Date.now();
  private mediaPackets = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The timeout check's view of this process's stalls (not the publisher's silence). */
  private readonly stall = new StallMeter(TIMEOUT_CHECK_MS);
  private ctx: SrtPorts;

  constructor(private sessions: SrtSessions, readonly caller: SrtCaller) {
    this.ctx = sessions.ctx;
    this.ip = caller.address.replace(/^::ffff:/, "");
    this.log = this.ctx.log.child(this.id);
  }

  bytesIn(): number {
    return this.received;
  }
  bytesOut(): number {
    return this.sink.written;
  }

  /** `/api/v1/clients/<id>` (and the stream's health: the publisher's RTT): the connection's SRT statistics. */
  details(): Record<string, unknown> {
    const st = this.conn?.stats();
    if (!st) return {};
    return {
      srt: {
        rtt_ms: st.rttMs, rtt_var_ms: st.rttVarMs, loss: st.pktLoss, retrans: st.pktRetrans, rcv_drop: st.pktRcvDrop,
        rcv_latency_ms: st.rcvLatencyMs, snd_latency_ms: st.sndLatencyMs,
      },
    };
  }

  kick(reason: string): void {
    this.log.trace(`srt client kicked: ${reason}`);
    this.close(reason);
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Stream id, vhost, gates, and a publisher's claim on the stream; true or the SRT rejection. */
  async admit(): Promise<AcceptResult> {
    const ctx = this.ctx;
    const streamId = this.caller.streamId;
    const who = `${this.ip}:${this.caller.port}`;
    const full = ctx.clients.whyFull();
    if (full) {
      this.log.warn(`srt client ${who} refused: ${full}`);
      return this.refuse(REJX_OVERLOAD, "max_connections reached");
    }
    let sid;
    try {
      sid = parseSrtStreamId(streamId, ctx.config.srtServer().defaultApp);
    } catch (e) {
      this.log.warn(`srt client ${who} refused: ${(e as Error).message}`);
      return this.refuse(REJX_BAD_REQUEST, "bad streamid");
    }
    const vhost = ctx.config.vhost(sid.vhost || DEFAULT_VHOST);
    if (!vhost || !vhost.enabled) {
      this.log.warn(`srt client ${who} refused: vhost ${sid.vhost || DEFAULT_VHOST} not found or disabled, streamid=${streamId}`);
      return this.refuse(REJX_NOTFOUND, "vhost not found");
    }
    if (!vhost.srt.enabled) {
      this.log.warn(`srt client ${who} refused: srt not enabled on vhost ${vhost.name}, streamid=${streamId}`);
      return this.refuse(REJX_NOTFOUND, "srt disabled on vhost");
    }
    this.vhost = vhost;
    this.mode = sid.mode;
    const key: StreamKey = { vhost: vhost.name || DEFAULT_VHOST, app: sid.app, stream: sid.stream };
    this.stream = key;
    this.param = sid.param;
    this.tcUrl = `srt://${sid.vhost || "127.0.0.1"}/${sid.app}`;
    this.type = sid.mode === "publish" ? "srt-publish" : "srt-play";
    ctx.clients.add(this);
    this.log.trace(`srt client ${who} streamid=${streamId} mode=${sid.mode} stream=${streamKeyString(key)}${sid.param}`);

    const conn = await ctx.access.onConnect(this);
    if (this.closed) return { reject: REJX_FORBIDDEN, reason: "closed" };
    if (!conn.ok) {
      this.log.warn(`srt connect refused: ${conn.reason}`);
      return this.refuse(REJX_FORBIDDEN, "connect refused");
    }
    this.connectAllowed = true;
    const gate = sid.mode === "publish" ? await ctx.access.onPublish(this, key) : await ctx.access.onPlay(this, key);
    if (this.closed) return { reject: REJX_FORBIDDEN, reason: "closed" };
    if (!gate.ok) {
      this.log.warn(`srt ${sid.mode === "publish" ? "publish" : "play"} ${key.app}/${key.stream} refused: ${gate.reason}`);
      return this.refuse(REJX_FORBIDDEN, `${sid.mode} refused`);
    }
    if (sid.mode === "publish") {
      const busy = this.claim(key, vhost);
      if (busy) {
        this.log.warn(`srt publish refused: ${busy}`);
        return this.refuse(REJX_CONFLICT, "stream busy");
      }
    } else {
      this.playing = true;
    }
    this.state = "admitted";
    return true;
  }

  private refuse(code: number, reason: string): AcceptResult {
    this.close(reason);
    return { reject: code, reason };
  }

  /** A publisher claims its stream (the hub, or the srt-only relay); returns why not when busy. */
  private claim(key: StreamKey, vhost: VhostConfig): string | undefined {
    const name = streamKeyString(key);
    const relay = this.sessions.relays.get(name);
    if (relay) return `stream ${name} is busy: published by client ${relay.publisher.id}`;
    if (!vhost.srt.srtToRtmp) {
      const hub = this.ctx.hubs.find(key);
      if (hub?.active) return `stream ${name} is busy: published by client ${hub.publisher?.clientId}`;
      this.relay = { publisher: this, players: new Set() };
      this.sessions.relays.set(name, this.relay);
      return undefined;
    }
    const publisher: PublisherInfo = { clientId: this.id, type: this.type, ip: this.ip, kick: (r) => this.kick(r) };
    try {
      this.publishing = this.ctx.hubs.publish(key, publisher);
    } catch (e) {
      if (e instanceof PublishError) return e.message;
      throw e;
    }
    return undefined;
  }

  /** The established connection: data flows from here on. */
  attach(conn: SrtConn): void {
    if (this.closed) {
      conn.close("session closed");
      return;
    }
    this.conn = conn;
    this.sink.conn = conn;
    conn.onClose((reason) => this.cleanup(reason));
    conn.onData((payload) => this.onData(payload));
    const key = this.stream!;
    const name = streamKeyString(key);
    if (this.mode === "publish") {
      this.state = "publishing";
      const lease = this.publishing;
      if (lease) {
        this.demuxer = new TsDemuxer((p) => {
          this.mediaPackets++;
          lease.push(p);
        }, { dropSei: false, onWarning: (m) => this.log.info(m) });
      }
      this.lastDataAt = Date.now();
      this.timer = setInterval(() => this.checkTimeout(), TIMEOUT_CHECK_MS);
      this.timer.unref?.();
      this.log.trace(`srt publish ${name}${this.param ?? ""} started, ${lease ? "bridged to rtmp" : "srt only (srt_to_rtmp off)"}`);
      return;
    }
    this.state = "playing";
    const relay = this.sessions.relays.get(name);
    if (relay) {
      this.relay = relay;
      relay.players.add(this);
      this.log.trace(`srt play ${name}${this.param ?? ""} started (srt relay of ${relay.publisher.id})`);
      return;
    }
    // SRT has no merged-write: every batch goes out on the next turn of the event loop.
    const output = tsOutput(everyTurn(this.vhost!), everyTurn);
    this.player = new BytePlayer(this.sink, {
      onOverflow: (reason) => this.close(`slow player: ${reason}`),
      onUnpublish: () => this.log.trace(`srt play: stream unpublished, waiting`),
    });
    // A live stream's player gets PAT+PMT first (the TS output sends them), then the GOP and live packets.
    this.playLease = this.ctx.hubs.play(key, output, this.player);
    const hub = this.playLease.hub;
    this.log.trace(`srt play ${name}${this.param ?? ""} started, ${hub.active ? "stream is live" : "waiting for publisher"}`);
  }

  private onData(payload: Uint8Array): void {
    this.received += payload.byteLength;
    if (this.state !== "publishing") return; // a player's bytes are ignored
    this.lastDataAt = Date.now();
    if (this.demuxer) this.demuxer.feed(payload);
    else if (this.relay) for (const p of this.relay.players) p.relayed(payload);
  }

  /** Raw TS from the publisher of an srt_to_rtmp-off stream. */
  private relayed(payload: Uint8Array): void {
    if (!this.closed) this.sink.write(payload);
  }

  private checkTimeout(): void {
    this.lastDataAt += this.stall.stalledMs();
    if (this.state !== "publishing" || !this.vhost) return;
    const pub = this.vhost.publish;
    const limit = this.received === 0 ? pub.firstpktTimeout : pub.normalTimeout;
    const idle = Date.now() - this.lastDataAt;
    if (idle > limit) {
      this.log.warn(`srt publish timeout: no data for ${idle}ms (limit ${limit}ms)`);
      this.close("publish timeout");
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.cleanup(reason);
    try {
      this.conn?.close(reason);
    } catch {
      // already gone
    }
  }

  private cleanup(reason: string): void {
    if (this.closed) return;
    this.state = "closed";
    this.sink.destroyed = true;
    this.sessions.ended(this);
    if (this.timer) clearInterval(this.timer);
    const key = this.stream;
    const claimed = this.publishing || this.relay?.publisher === this;
    if (claimed && key) {
      if (this.publishing) {
        this.demuxer?.flush();
        this.publishing.dispose();
      }
      if (this.relay?.publisher === this) {
        // srt-only stream: its players have nothing left to relay
        this.sessions.relays.delete(streamKeyString(key));
        for (const p of [...this.relay.players]) p.close("stream unpublished");
      }
      this.ctx.access.onUnpublish(this, key);
      const st = this.demuxer?.stats;
      this.log.trace(`srt unpublish ${streamKeyString(key)} (${reason}), ${this.mediaPackets} packets` +
        (st ? `, ts cc errors=${st.ccErrors} sync losses=${st.syncLosses}` : ""));
    }
    if (this.relay && this.relay.publisher !== this) this.relay.players.delete(this);
    this.playLease?.dispose();
    this.player = undefined;
    if (this.playing && key) this.ctx.access.onStop(this, key);
    this.ctx.clients.remove(this.id);
    if (this.connectAllowed) this.ctx.access.onClose(this);
    this.log.trace(`srt client closed (${reason}), in=${this.received}B out=${this.sink.written}B, ` +
      `alive=${((Date.now() - this.connectedAt) / 1000).toFixed(1)}s`);
  }
}

/**
 * The SRT listeners of a server with their sessions; started when `srt_server.enabled`. One UDP socket per
 * `srt_server.listen` value (a port, `ip:port` or `[ipv6]:port`), all feeding the same sessions.
 */
export class SrtService {
  readonly sessions: SrtSessions;
  private servers: SrtServer[] = [];
  private unregister: (() => void)[] = [];

  constructor(private ctx: SrtPorts) {
    this.sessions = new SrtSessions(ctx);
  }

  get port(): number | undefined {
    return this.servers[0]?.port;
  }

  async start(): Promise<void> {
    const c = this.ctx.config.srtServer();
    const perPacket = Math.max(188, c.mss - 28);
    const eps = parseEndpoints(c.listens);
    for (const ep of eps) {
      const server = new SrtServer({
        port: ep.port,
        host: ep.host,
        ipv6Only: ipv6OnlyFor(ep, eps),
        latency: c.latency,
        recvlatency: c.recvlatency,
        peerlatency: c.peerlatency,
        tlpktdrop: c.tlpktdrop,
        tsbpdmode: c.tsbpdmode,
        connectTimeout: c.connectTimeout,
        peerIdleTimeout: c.peerIdleTimeout,
        mss: c.mss,
        payloadsize: c.payloadsize,
        passphrase: c.passphrase || undefined,
        pbkeylen: c.pbkeylen,
        maxbw: c.maxbw > 0 ? c.maxbw : 0,
        maxConnections: this.ctx.config.maxConnections(),
        rcvBufPackets: Math.max(32, Math.floor(c.recvbuf / perPacket)),
        sndBufPackets: Math.max(32, Math.floor(c.sendbuf / perPacket)),
        log: this.ctx.log,
      }, {
        accept: (req: SrtAcceptRequest) =>
          this.sessions.admit({ streamId: req.streamId, address: req.peer.address, port: req.peer.port, socketId: req.socketId }),
      });
      server.onConnection((conn) => this.sessions.attach(conn));
      let port: number;
      try {
        port = (await server.listen()).port;
      } catch (e) {
        throw new Error(`listen srt_server udp://${formatEndpoint(ep)}: ${(e as Error).message}`);
      }
      this.servers.push(server);
      this.ctx.log.trace(`srt server listening on udp ${formatEndpoint({ host: ep.host, port })}, latency=${c.latency}ms, ` +
        `default_app=${c.defaultApp}` + (c.passphrase ? `, encrypted (pbkeylen ${c.pbkeylen})` : ""));
    }
    // Quit: one UDP socket carries every SRT connection of its address, so "stop accepting" refuses new handshakes
    // and the sockets close only once the sessions have ended.
    this.unregister.push(
      this.ctx.lifecycle.register({ name: "srt listener", phase: "accept", close: () => void (this.sessions.accepting = false) }),
      this.ctx.lifecycle.register({ name: "srt server", phase: "finish", close: () => this.close() }),
    );
  }

  /**
   * Reload moved (or turned off) the SRT port: this socket takes no new caller, its sessions go on until they
   * end (as RTMP sessions outlive their closed listener), then it closes. A quit still closes it at once.
   */
  retire(): void {
    this.sessions.accepting = false;
    this.ctx.log.trace(`srt server on udp ${this.port}: no new callers, closing when its ${this.sessions.active.size} sessions end`);
    this.sessions.whenEmpty(() => {
      const port = this.port;
      void this.close().then(() => this.ctx.log.trace(`srt server on udp ${port} closed: its last session ended`));
    });
  }

  async close(): Promise<void> {
    for (const off of this.unregister.splice(0)) off();
    this.sessions.closeAll("server quit");
    const servers = this.servers;
    this.servers = [];
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Starts the SRT service when `srt_server.enabled` (undefined otherwise). */
export async function startSrt(ctx: SrtPorts): Promise<SrtService | undefined> {
  if (!ctx.config.srtServer().enabled) return undefined;
  const s = new SrtService(ctx);
  await s.start();
  return s;
}
