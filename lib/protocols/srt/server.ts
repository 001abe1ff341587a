/**
 * SrtServer: an SRT v5 listener (live mode) over one node:dgram socket.
 *
 * ## API (stable; used by the server integration / bridge)
 *
 * ```ts
 * import { SrtServer, REJX_FORBIDDEN, REJX_NOTFOUND } from "./lib/protocols/srt/server.ts";
 *
 * const srt = new SrtServer(
 *   { port: 10080, host: "0.0.0.0", latency: 120, passphrase: "…", pbkeylen: 16, log },
 *   {
 *     // Optional: decide from the stream id before the connection exists (may be async; the caller's
 *     // repeated CONCLUSIONs are absorbed meanwhile). true = accept, false = reject 1403, or a code.
 *     accept(req: SrtAcceptRequest): AcceptResult | Promise<AcceptResult>,
 *   },
 * );
 * srt.onConnection((conn: SrtConnection) => {
 *   conn.streamId; conn.remoteAddress; conn.remotePort; conn.socketId; conn.encrypted;
 *   conn.onData((payload: Uint8Array) => {});   // in order, TSBPD-delivered; view valid during the call only
 *   conn.send(payload: Uint8Array): boolean;    // one message, split at payloadsize (1316) if larger
 *   conn.close(reason?: string): void;          // sends SHUTDOWN
 *   conn.onClose((reason: string) => {});       // peer shutdown, idle timeout, close(), server close
 *   conn.stats(): SrtStats;                     // bytesIn/Out, pktRetrans, pktLoss, pktRcvDrop, rttMs, rates…
 * });
 * const { port } = await srt.listen();
 * srt.connectionCount; srt.connections(); srt.stats();
 * await srt.close();
 * ```
 *
 * Options (all optional; SRS names in brackets): port [listen] 10080, host "0.0.0.0", latency 120 ms,
 * recvlatency / peerlatency (default latency) → negotiated latency is the max of both sides, tlpktdrop true,
 * tsbpdmode true, connectTimeout 3000 ms (async accept bound), peerIdleTimeout 10000 ms [peer_idle_timeout],
 * mss 1500, payloadsize 1316, passphrase (10–79 chars) + pbkeylen 0/16/24/32, maxbw bytes/s (0 = auto pacing),
 * maxConnections 1000, rcvBufPackets 8192, sndBufPackets 8192, handshakeRatePerIp 200/s, log.
 *
 * Bounded state: no state at all before a valid cookie (stateless HMAC cookies), pending async accepts
 * (≤ maxPendingAccepts), a small cache of recent rejections, per-IP handshake reply rate, max connections,
 * receive/send buffers in packets.
 */
import { bindUdp, type UdpRemote as RemoteInfo, type UdpSocket } from "../../runtime/udp.ts";
import { reusePort } from "../../runtime/worker-env.ts";
import { randomInt } from "../../runtime/hash.ts";
import { Log, LogSink } from "../../log/logger.ts";
import { validPassphrase } from "./crypto.ts";
import { SrtConnection, type SrtConnectionParams, type SrtSendScheduler, type SrtTransport, nowUs } from "./connection.ts";
import {
  CookieJar,
  decodeHandshake,
  encodeHandshake,
  type Handshake,
  HS_CONCLUSION,
  HS_INDUCTION,
  negotiateConclusion,
  peerIpBytes,
  REJ_BACKLOG,
  REJ_CLOSE,
  REJ_RESOURCE,
  REJ_TIMEOUT,
  REJ_VERSION,
  REJX_FORBIDDEN,
  SRT_MAGIC,
  SRT_OPT_REXMITFLG,
} from "./handshake.ts";
import { CTRL_HANDSHAKE, HEADER_SIZE, MAX_PACKET_SIZE, readU32, SrtPacketError, writeControlHeader } from "./packet.ts";

export type { SrtStats } from "./connection.ts";
export { SrtConnection } from "./connection.ts";
export {
  REJ_BADSECRET,
  REJ_CLOSE,
  REJ_RESOURCE,
  REJ_UNSECURE,
  REJX_BAD_REQUEST,
  REJX_CONFLICT,
  REJX_FORBIDDEN,
  REJX_NOTFOUND,
  REJX_OVERLOAD,
  REJX_UNAUTHORIZED,
} from "./handshake.ts";

export interface SrtServerOptions {
  port?: number;
  host?: string;
  /** Bind `::` IPv6-only (another socket has the port on IPv4); default dual-stack. */
  ipv6Only?: boolean;
  latency?: number;
  recvlatency?: number;
  peerlatency?: number;
  tlpktdrop?: boolean;
  tsbpdmode?: boolean;
  connectTimeout?: number;
  peerIdleTimeout?: number;
  mss?: number;
  payloadsize?: number;
  passphrase?: string;
  pbkeylen?: number;
  maxbw?: number;
  maxConnections?: number;
  maxPendingAccepts?: number;
  rcvBufPackets?: number;
  sndBufPackets?: number;
  handshakeRatePerIp?: number;
  /**
   * How long closing a connection (e.g. a player when its publisher leaves) may wait for its send buffer to
   * drain, ms (default: its send latency + 1000). Closing the server does not linger.
   */
  linger?: number;
  log?: Log;
}

export interface SrtAcceptRequest {
  streamId: string;
  peer: { address: string; port: number };
  /** The caller's socket id. */
  socketId: number;
  encrypted: boolean;
}

/** true: accept; false: reject with 1403 (REJX_FORBIDDEN); or a rejection code (1000–1999). */
export type AcceptResult = boolean | { reject: number; reason?: string };

export interface SrtServerHooks {
  accept?(req: SrtAcceptRequest): AcceptResult | Promise<AcceptResult>;
}

export interface SrtServerStats {
  connections: number;
  handshakesIn: number;
  rejected: number;
  rateLimited: number;
  badPackets: number;
  unknownDest: number;
}

/** The connections' transport: the listener's socket (its `send` lets the caller reuse the bytes at once). */
class DatagramOut implements SrtTransport {
  constructor(private sock: UdpSocket) {}

  send(buf: Uint8Array, len: number, port: number, address: string): void {
    try {
      this.sock.send(len === buf.byteLength ? buf : buf.subarray(0, len), port, address);
    } catch {
      // a bad address or a closed socket: the datagram is lost, as on the network
    }
  }
}

/** Datagrams one connection sends per round-robin visit, and all connections per event-loop turn. */
const PACER_PER_VISIT = 4;
const PACER_PER_TURN = 256;

/**
 * The listener's shared sender: connections with packets to send queue here (SrtConnection.send only copies into
 * the send buffer), and every event-loop turn the pacer visits them round-robin, a few datagrams each within
 * their token bucket, at most PACER_PER_TURN in all before yielding to I/O (the peers' ACKs/NAKs, the
 * publishers' data). A fan-out of one frame to hundreds of players thus leaves interleaved and spread over
 * successive turns instead of as one synchronous burst per player, and one timer serves every token-limited
 * connection (no timer per connection).
 */
export class SrtPacer implements SrtSendScheduler {
  private ready: SrtConnection[] = [];
  private waiting: SrtConnection[] = [];
  private immediate = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAtUs = 0;
  private stopped = false;
  /** Datagrams sent, turns run, turns that hit the per-turn budget (statistics). */
  sent = 0;
  turns = 0;
  fullTurns = 0;
  private readonly runBound = () => {
    this.immediate = false;
    this.run();
  };
  private readonly timerBound = () => {
    this.timer = null;
    this.run();
  };

  constructor(private perVisit = PACER_PER_VISIT, private perTurn = PACER_PER_TURN) {}

  wake(c: SrtConnection): void {
    if (this.stopped) return;
    if (!c.pacerQueued) {
      c.pacerQueued = true;
      this.ready.push(c);
    }
    if (!this.immediate) {
      this.immediate = true;
      setImmediate(this.runBound);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const c of this.ready) c.pacerQueued = false;
    for (const c of this.waiting) c.pacerQueued = false;
    this.ready = [];
    this.waiting = [];
  }

  private run(): void {
    if (this.stopped) return;
    const now = nowUs();
    this.turns++;
    // Token-limited connections get another look every turn (their wait may be over).
    let queue = this.waiting.length ? this.ready.concat(this.waiting) : this.ready;
    this.ready = [];
    this.waiting = [];
    let budget = this.perTurn;
    let minWaitUs = Infinity;
    while (queue.length) {
      const next: SrtConnection[] = [];
      for (let i = 0; i < queue.length; i++) {
        const c = queue[i]!;
        if (budget <= 0) {
          next.push(c);
          continue;
        }
        const before = c.pktSent;
        const r = c.pump(now, Math.min(this.perVisit, budget));
        const n = c.pktSent - before;
        budget -= n;
        this.sent += n;
        if (r < 0) c.pacerQueued = false;
        else if (r === 0) next.push(c);
        else {
          this.waiting.push(c);
          if (r < minWaitUs) minWaitUs = r;
        }
      }
      queue = next;
      if (budget <= 0) break;
    }
    if (queue.length) {
      // Budget spent: the rest goes on after the pending I/O.
      this.fullTurns++;
      for (const c of queue) this.ready.push(c);
      // Anything woken during this turn was appended to this.ready already; keep the order (round-robin).
    }
    if (this.ready.length) {
      if (!this.immediate) {
        this.immediate = true;
        setImmediate(this.runBound);
      }
    } else if (this.waiting.length) {
      const at = now + minWaitUs;
      if (this.timer !== null && this.timerAtUs <= at) return;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timerAtUs = at;
      this.timer = setTimeout(this.timerBound, Math.max(1, Math.ceil(minWaitUs / 1000)));
    }
  }
}

const DEFAULTS = {
  port: 10080, host: "0.0.0.0", latency: 120, tlpktdrop: true, tsbpdmode: true, connectTimeout: 3000,
  peerIdleTimeout: 10000, mss: 1500, payloadsize: 1316, pbkeylen: 0, maxbw: 0, maxConnections: 1000,
  maxPendingAccepts: 256, rcvBufPackets: 8192, sndBufPackets: 8192, handshakeRatePerIp: 200,
};

interface Rejection {
  packet: Uint8Array;
  expires: number;
}

export class SrtServer {
  private o: typeof DEFAULTS & SrtServerOptions;
  private log: Log;
  private sock: UdpSocket | null = null;
  private out: DatagramOut | null = null;
  private pacer = new SrtPacer();
  private conns = new Map<number, SrtConnection>();
  private byPeer = new Map<string, SrtConnection>();
  private pending = new Set<string>();
  private rejections = new Map<string, Rejection>();
  private rate = new Map<string, number>();
  private rateWindow = 0;
  private cookies = new CookieJar();
  private listenerId = randomInt(1, 0x7fffffff);
  private ticker: ReturnType<typeof setInterval> | null = null;
  private connCbs: Array<(c: SrtConnection) => void> = [];
  private closing = false;
  private st: Omit<SrtServerStats, "connections"> = {
    handshakesIn: 0, rejected: 0, rateLimited: 0, badPackets: 0, unknownDest: 0,
  };

  constructor(opts: SrtServerOptions = {}, private hooks: SrtServerHooks = {}) {
    const clean = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as SrtServerOptions;
    this.o = { ...DEFAULTS, ...clean };
    this.log = opts.log ?? new Log(new LogSink({ level: "warn" }), "srt00000");
    if (this.o.passphrase !== undefined && this.o.passphrase !== "" && !validPassphrase(this.o.passphrase)) {
      throw new Error("srt: passphrase must be 10 to 79 characters");
    }
    if (this.o.passphrase === "") this.o.passphrase = undefined;
    if (![0, 16, 24, 32].includes(this.o.pbkeylen)) throw new Error(`srt: pbkeylen must be 0, 16, 24 or 32 (got ${this.o.pbkeylen})`);
    if (this.o.payloadsize < 188 || this.o.payloadsize > this.o.mss - 44) {
      throw new Error(`srt: payloadsize ${this.o.payloadsize} out of range (188..mss-44)`);
    }
  }

  onConnection(cb: (c: SrtConnection) => void): void {
    this.connCbs.push(cb);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  connections(): SrtConnection[] {
    return [...this.conns.values()];
  }

  stats(): SrtServerStats {
    return { connections: this.conns.size, ...this.st };
  }

  get port(): number {
    return this.sock?.port ?? 0;
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.sock) throw new Error("srt: already listening");
    // SO_REUSEPORT in a worker (srs-ts's workers): the kernel hashes each peer's address to one worker's socket,
    // so a session stays with the worker that took its first packet (the Node typings lack the option).
    const sock = await bindUdp({
      host: this.o.host,
      port: this.o.port,
      ipv6Only: this.o.ipv6Only === true,
      reusePort: reusePort(this.o.port),
      onMessage: (msg, rinfo) => this.onMessage(msg, rinfo),
      onError: (e) => this.log.warn(`srt: socket error: ${e.message}`),
    });
    this.sock = sock;
    sock.setBufferSizes(8 << 20, 8 << 20); // best effort
    this.out = new DatagramOut(sock);
    this.log.trace(`srt: listening on udp ${this.o.host}:${sock.port}`);
    return { host: this.o.host, port: sock.port };
  }

  /**
   * The 10 ms timer (connections' timers, the handshake rate window, rejections kept for retransmitted handshakes)
   * runs only while there is something to tick: an idle listener wakes nobody.
   */
  private wake(): void {
    if (this.ticker || this.closing) return;
    this.rateWindow = nowUs();
    this.ticker = setInterval(() => this.tick(), 10);
  }

  private tick(): void {
    const now = nowUs();
    if (this.conns.size === 0 && this.rate.size === 0 && this.rejections.size === 0) {
      if (this.ticker) clearInterval(this.ticker);
      this.ticker = null;
      return;
    }
    for (const c of this.conns.values()) c.tick(now);
    if (now - this.rateWindow > 1_000_000) {
      this.rate.clear();
      this.rateWindow = now;
      const ms = Date.now();
      for (const [k, r] of this.rejections) if (r.expires < ms) this.rejections.delete(k);
    }
  }

  private onMessage(msg: Uint8Array, rinfo: RemoteInfo): void {
    const len = msg.length;
    if (len < HEADER_SIZE) {
      this.st.badPackets++;
      return;
    }
    const dest = readU32(msg, 12);
    if (dest !== 0) {
      const c = this.conns.get(dest);
      if (c === undefined || c.remotePort !== rinfo.port || c.remoteAddress !== rinfo.address) {
        this.st.unknownDest++;
        return;
      }
      c.handlePacket(msg, len, nowUs());
      return;
    }
    // Destination 0: only handshakes.
    const w0 = readU32(msg, 0);
    if ((w0 & 0x80000000) === 0 || ((w0 >>> 16) & 0x7fff) !== CTRL_HANDSHAKE) {
      this.st.badPackets++;
      return;
    }
    try {
      this.onHandshake(msg, rinfo, nowUs());
    } catch (e) {
      if (e instanceof SrtPacketError) {
        this.st.badPackets++;
        this.log.verbose(`srt: bad handshake from ${rinfo.address}:${rinfo.port}: ${e.message}`);
      } else {
        this.log.error(`srt: handshake from ${rinfo.address}:${rinfo.port} failed`, e);
      }
    }
  }

  /** Per-IP handshake reply budget (per second). */
  private allowReply(address: string): boolean {
    const n = this.rate.get(address) ?? 0;
    if (n >= this.o.handshakeRatePerIp) {
      this.st.rateLimited++;
      return false;
    }
    if (this.rate.size >= 10000 && n === 0) {
      this.st.rateLimited++;
      return false;
    }
    this.rate.set(address, n + 1);
    this.wake();
    return true;
  }

  private sendHandshake(hs: Handshake, destId: number, ts: number, rinfo: RemoteInfo): Uint8Array {
    const cif = encodeHandshake(hs);
    const pkt = new Uint8Array(HEADER_SIZE + cif.length);
    writeControlHeader(pkt, CTRL_HANDSHAKE, 0, 0, ts, destId);
    pkt.set(cif, HEADER_SIZE);
    this.out!.send(pkt, pkt.length, rinfo.port, rinfo.address);
    return pkt;
  }

  private onHandshake(msg: Uint8Array, rinfo: RemoteInfo, now: number): void {
    this.st.handshakesIn++;
    const hs = decodeHandshake(msg.subarray(HEADER_SIZE));
    const peerTs = readU32(msg, 8);
    const key = `${rinfo.address}:${rinfo.port}:${hs.socketId}`;
    if (hs.type === HS_INDUCTION) {
      if (!this.allowReply(rinfo.address)) return;
      const pb = this.o.passphrase ? this.o.pbkeylen : 0;
      this.sendHandshake({
        version: 5, encryption: pb ? pb / 8 : 0, extension: SRT_MAGIC, isn: hs.isn, mtu: this.o.mss,
        flowWindow: 8192, type: HS_INDUCTION, socketId: this.listenerId, cookie: this.cookies.make(rinfo.address, rinfo.port),
        peerIp: peerIpBytes(rinfo.address), extensions: [],
      }, hs.socketId, 0, rinfo);
      return;
    }
    if (hs.type !== HS_CONCLUSION) return; // rendezvous (WAVEAHAND/AGREEMENT) is not supported
    const existing = this.byPeer.get(key);
    if (existing) {
      if (existing.handshakeResponse && this.allowReply(rinfo.address)) {
        this.out!.send(existing.handshakeResponse, existing.handshakeResponse.length, rinfo.port, rinfo.address);
      }
      return;
    }
    if (this.pending.has(key)) return;
    const rej = this.rejections.get(key);
    if (rej) {
      if (this.allowReply(rinfo.address)) this.out!.send(rej.packet, rej.packet.length, rinfo.port, rinfo.address);
      return;
    }
    if (!this.cookies.check(rinfo.address, rinfo.port, hs.cookie)) {
      this.log.verbose(`srt: CONCLUSION with a bad cookie from ${rinfo.address}:${rinfo.port}`);
      return;
    }
    if (!this.allowReply(rinfo.address)) return;
    if (hs.version !== 5) {
      this.reject(hs, key, rinfo, REJ_VERSION, `handshake version ${hs.version} (HSv4 callers are not supported)`);
      return;
    }
    const neg = negotiateConclusion(hs, {
      latency: this.o.latency, recvLatency: this.o.recvlatency, peerLatency: this.o.peerlatency,
      tlpktdrop: this.o.tlpktdrop, tsbpd: this.o.tsbpdmode, passphrase: this.o.passphrase, pbkeylen: this.o.pbkeylen,
      mtu: this.o.mss, flowWindow: 8192,
    });
    if (!neg.ok) {
      this.reject(hs, key, rinfo, neg.code, neg.reason);
      return;
    }
    if (this.closing) {
      this.reject(hs, key, rinfo, REJ_CLOSE, "server closing");
      return;
    }
    if (this.conns.size >= this.o.maxConnections) {
      this.reject(hs, key, rinfo, REJ_RESOURCE, `too many connections (${this.conns.size})`);
      return;
    }
    const v = neg.value;
    const req: SrtAcceptRequest = {
      streamId: v.streamId, peer: { address: rinfo.address, port: rinfo.port }, socketId: hs.socketId,
      encrypted: v.crypto !== null,
    };
    const tsbpdBaseUs = now - peerTs;
    const finish = (r: AcceptResult): void => {
      if (r === true) this.establish(hs, key, rinfo, v, tsbpdBaseUs);
      else if (r === false) this.reject(hs, key, rinfo, REJX_FORBIDDEN, `stream id "${v.streamId}" refused`);
      else this.reject(hs, key, rinfo, r.reject, r.reason ?? `stream id "${v.streamId}" refused`);
    };
    if (!this.hooks.accept) {
      finish(true);
      return;
    }
    let res: AcceptResult | Promise<AcceptResult>;
    try {
      res = this.hooks.accept(req);
    } catch (e) {
      this.log.error("srt: accept hook threw", e);
      finish({ reject: REJ_RESOURCE, reason: "accept hook failed" });
      return;
    }
    if (typeof res === "object" && res !== null && "then" in res) {
      if (this.pending.size >= this.o.maxPendingAccepts) {
        this.reject(hs, key, rinfo, REJ_BACKLOG, "too many pending accepts");
        return;
      }
      this.pending.add(key);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.pending.delete(key);
        this.reject(hs, key, rinfo, REJ_TIMEOUT, `accept did not answer within ${this.o.connectTimeout} ms`);
      }, this.o.connectTimeout);
      res.then(
        (r) => {
          if (timedOut) return;
          clearTimeout(timer);
          this.pending.delete(key);
          finish(r);
        },
        (e: unknown) => {
          if (timedOut) return;
          clearTimeout(timer);
          this.pending.delete(key);
          this.log.error("srt: accept hook failed", e);
          finish({ reject: REJ_RESOURCE, reason: "accept hook failed" });
        },
      );
      return;
    }
    finish(res);
  }

  private reject(hs: Handshake, key: string, rinfo: RemoteInfo, code: number, reason: string): void {
    this.st.rejected++;
    this.log.warn(`srt: reject ${rinfo.address}:${rinfo.port} socket ${hs.socketId}: ${code} ${reason}`);
    const pkt = this.sendHandshake({
      version: 5, encryption: 0, extension: 0, isn: hs.isn, mtu: this.o.mss, flowWindow: 8192, type: code,
      socketId: this.listenerId, cookie: hs.cookie, peerIp: peerIpBytes(rinfo.address), extensions: [],
    }, hs.socketId, 0, rinfo);
    if (this.rejections.size >= 1024) this.rejections.clear();
    this.rejections.set(key, { packet: pkt, expires: Date.now() + 5000 });
  }

  private newSocketId(): number {
    for (;;) {
      const id = randomInt(1, 0x7fffffff);
      if (!this.conns.has(id) && id !== this.listenerId) return id;
    }
  }

  private establish(
    hs: Handshake, key: string, rinfo: RemoteInfo, v: Extract<ReturnType<typeof negotiateConclusion>, { ok: true }>["value"],
    tsbpdBaseUs: number,
  ): void {
    if (this.closing || !this.sock) return;
    if (this.conns.size >= this.o.maxConnections) {
      this.reject(hs, key, rinfo, REJ_RESOURCE, `too many connections (${this.conns.size})`);
      return;
    }
    const socketId = this.newSocketId();
    const startUs = nowUs();
    const log = this.log.child();
    const crypto = v.crypto;
    const params: SrtConnectionParams = {
      socketId, peerSocketId: hs.socketId, remoteAddress: rinfo.address, remotePort: rinfo.port, streamId: v.streamId,
      sndIsn: hs.isn, rcvIsn: hs.isn, rcvLatencyMs: v.rcvLatencyMs, sndLatencyMs: v.sndLatencyMs, tsbpd: v.tsbpd,
      tlpktdrop: v.tlpktdrop, payloadSize: this.o.payloadsize, rcvBufPackets: Math.min(this.o.rcvBufPackets, v.flowWindow * 4),
      sndBufPackets: this.o.sndBufPackets, peerIdleTimeoutMs: this.o.peerIdleTimeout, maxBw: this.o.maxbw,
      rcvEven: crypto?.even ?? null, rcvOdd: crypto?.odd ?? null, sndCipher: crypto ? (crypto.even ?? crypto.odd) : null,
      tsbpdBaseUs, startUs, passphrase: this.o.passphrase, peerRexmitFlag: (v.peerFlags & SRT_OPT_REXMITFLG) !== 0, transport: this.out!, scheduler: this.pacer, log,
      lingerMs: this.o.linger ?? v.sndLatencyMs + 1000,
    };
    const conn = new SrtConnection(params);
    const pkt = this.sendHandshake({
      version: 5, encryption: hs.encryption, extension: v.responseExtFlags, isn: hs.isn, mtu: v.mtu,
      flowWindow: v.flowWindow, type: HS_CONCLUSION, socketId, cookie: hs.cookie, peerIp: peerIpBytes(rinfo.address),
      extensions: v.responseExtensions,
    }, hs.socketId, 0, rinfo);
    conn.handshakeResponse = pkt;
    this.conns.set(socketId, conn);
    this.byPeer.set(key, conn);
    conn.onClose((reason) => {
      this.conns.delete(socketId);
      if (this.byPeer.get(key) === conn) this.byPeer.delete(key);
      const s = conn.stats();
      log.trace(
        `srt: closed ${rinfo.address}:${rinfo.port} "${v.streamId}": ${reason}; in ${s.bytesIn}B/${s.pktIn}p out ${s.bytesOut}B/${s.pktOut}p ` +
          `loss ${s.pktLoss} drop ${s.pktRcvDrop} retrans ${s.pktRetrans} rtt ${s.rttMs.toFixed(1)}ms`,
      );
    });
    log.trace(
      `srt: connected ${rinfo.address}:${rinfo.port} socket ${socketId}<-${hs.socketId} streamid "${v.streamId}" ` +
        `latency rcv ${v.rcvLatencyMs}ms snd ${v.sndLatencyMs}ms${crypto ? ` aes-${crypto.klen * 8}` : ""}`,
    );
    for (const cb of this.connCbs) {
      try {
        cb(conn);
      } catch (e) {
        log.error("srt: connection callback failed", e);
      }
    }
  }

  /** Closes every connection (SHUTDOWN) and the socket. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const c of [...this.conns.values()]) c.close("server closing", 0);
    this.pacer.stop();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const sock = this.sock;
    this.sock = null;
    if (sock) {
      // Let the SHUTDOWNs leave before the socket goes.
      await new Promise((r) => setTimeout(r, 5));
      await sock.close();
    }
  }
}
