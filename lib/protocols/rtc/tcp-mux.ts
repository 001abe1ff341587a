/**
 * ICE over TCP (RFC 6544), as SRS has it (`rtc_server { tcp { enabled on; listen 8000; } protocol tcp|all; }`):
 * the server is a passive TCP candidate (`tcptype passive`): browsers that cannot use UDP connect to
 * rtc_server.tcp.listen and send RFC 4571 frames (lib/net/rfc4571.ts): STUN, then DTLS, then SRTP/SRTCP, exactly the
 * packets they would have sent in UDP datagrams. Each accepted connection is a link of the shared router
 * (udp-mux.ts): its first frame must be a binding request of a session (USERNAME + MESSAGE-INTEGRITY), which
 * binds it to that session; a first frame that is not closes it, as SRS does.
 *
 * Bounds, whatever a peer does:
 *  - at most MAX_UNBOUND connections that have not yet bound (more are refused at accept), each closed when it
 *    sends no valid binding request within UNBOUND_TIMEOUT_MS;
 *  - at most one partial frame buffered per connection (2 + 65,535 bytes), a frame of more than maxFrame bytes
 *    closes the connection; before it is bound, more than MAX_UNBOUND_FRAME (a binding request is ~100-200
 *    bytes): what is not ICE-TCP (an HTTP request, TLS, random bytes) is closed at once, not after the timeout;
 *  - the write backlog of a connection (a peer that reads slowly or not at all) is capped at MAX_BACKLOG bytes:
 *    packets beyond it are dropped (as a congested UDP path would lose them, and whole frames only, so the stream
 *    stays framed), and a connection whose backlog has not drained for STALL_CLOSE_MS is closed.
 */
import { listenTcp, type TcpConnection, type TcpServer } from "../../runtime/tcp.ts";
import type { Log } from "../../log/logger.ts";
import { type FamilyBind, familyOf, portForFamily } from "../../net/endpoint.ts";
import { frame, FramingError, RFC4571_MAX_FRAME, Rfc4571Deframer } from "../../net/rfc4571.ts";
import type { LinkVerdict, MuxLink } from "./udp-mux.ts";

/** The router a link hands its frames to (UdpMux). */
export interface LinkRouter {
  onLinkFrame(d: Buffer, link: MuxLink): LinkVerdict;
  onLinkClosed(link: MuxLink): void;
}

export interface TcpMuxLimits {
  /** Connections not yet bound to a session. */
  maxUnbound: number;
  /** An unbound connection is closed after this long. */
  unboundTimeoutMs: number;
  /** Largest frame accepted (RFC 4571 allows 65,535). */
  maxFrame: number;
  /** Largest frame accepted before the connection is bound (its first must be a STUN binding request). */
  maxUnboundFrame: number;
  /** Bytes queued for writing on one connection before packets are dropped. */
  maxBacklog: number;
  /** A connection dropping packets for this long without its backlog draining is closed. */
  stallCloseMs: number;
}

export const TCP_MUX_LIMITS: TcpMuxLimits = {
  maxUnbound: 256,
  unboundTimeoutMs: 8_000,
  maxFrame: RFC4571_MAX_FRAME,
  maxUnboundFrame: 1500,
  maxBacklog: 1 << 20,
  stallCloseMs: 10_000,
};

export interface TcpMuxStats {
  accepted: number;
  /** Refused at accept: too many unbound connections. */
  refused: number;
  /** Closed for a bad frame length or a first frame that bound nothing. */
  garbage: number;
  /** Closed for sending no binding request in time. */
  timedOut: number;
  /** Closed for a write backlog that would not drain. */
  stalled: number;
  /** The largest write backlog seen on a connection, in bytes (at most maxBacklog + one frame). */
  peakBacklog: number;
}

/** One accepted connection. */
class TcpLink implements MuxLink {
  readonly ip: string;
  readonly port: number;
  bound = false;
  closed = false;
  private deframer: Rfc4571Deframer;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When packets started being dropped for a full backlog (0: not dropping). */
  private droppingSince = 0;
  dropped = 0;

  constructor(private owner: RtcTcpMux, private socket: TcpConnection, private limits: TcpMuxLimits) {
    this.ip = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    this.port = socket.remotePort ?? 0;
    this.deframer = new Rfc4571Deframer(Math.min(limits.maxUnboundFrame, limits.maxFrame));
    socket.setNoDelay(true);
    socket.on("data", (chunk) => this.onData(chunk));
    socket.on("error", () => {}); // "close" follows
    socket.on("close", () => this.onClose());
    socket.on("drain", () => (this.droppingSince = 0));
    this.timer = setTimeout(() => {
      this.owner.stats.timedOut++;
      this.close(`no STUN binding request in ${limits.unboundTimeoutMs} ms`);
    }, limits.unboundTimeoutMs);
  }

  get name(): string {
    return `${this.ip.includes(":") ? `[${this.ip}]` : this.ip}:${this.port}`;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Buffer[];
    try {
      frames = this.deframer.push(chunk);
    } catch (e) {
      this.owner.stats.garbage++;
      this.close(e instanceof FramingError ? e.message : `bad stream: ${(e as Error).message}`);
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      let v: LinkVerdict;
      try {
        v = this.owner.router.onLinkFrame(f, this);
      } catch (e) {
        // A session's handling failed: that is its bug, not the peer's; log it and keep the connection.
        this.owner.log.warn(`rtc tcp ${this.name}: frame handling failed: ${(e as Error).message}`);
        continue;
      }
      if (v === "close") {
        this.owner.stats.garbage++;
        this.close(this.bound ? "bad frame" : "first frame is not a STUN binding request of a session");
        return;
      }
      if (v === "bound" && !this.bound) {
        this.bound = true;
        this.deframer.maxFrame = this.limits.maxFrame;
        clearTimeout(this.timer);
        this.owner.onBound(this);
      }
    }
  }

  send(d: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.socket.writableLength > this.limits.maxBacklog) {
      const now = Date.now();
      if (!this.droppingSince) {
        this.droppingSince = now;
        this.owner.log.info(`rtc tcp ${this.name}: write backlog over ${this.limits.maxBacklog} bytes, dropping packets`);
      } else if (now - this.droppingSince > this.limits.stallCloseMs) {
        this.owner.stats.stalled++;
        this.close(`write backlog not drained for ${this.limits.stallCloseMs} ms`);
      }
      this.dropped++;
      return false;
    }
    let f: Buffer;
    try {
      f = frame(d);
    } catch {
      return false;
    }
    this.socket.write(f);
    const backlog = this.socket.writableLength;
    if (backlog > this.owner.stats.peakBacklog) this.owner.stats.peakBacklog = backlog;
    return true;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.owner.log.info(`rtc tcp ${this.name}: closed (${reason})${this.dropped ? `, ${this.dropped} packets dropped` : ""}`);
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.owner.onClosed(this);
  }
}

/** The ICE-TCP listeners (one per rtc_server.tcp.listen address) and their connections. */
export class RtcTcpMux {
  private servers: (FamilyBind & { server: TcpServer })[] = [];
  private links = new Set<TcpLink>();
  private unbound = 0;
  readonly stats: TcpMuxStats = { accepted: 0, refused: 0, garbage: 0, timedOut: 0, stalled: 0, peakBacklog: 0 };

  constructor(readonly log: Log, readonly router: LinkRouter, private limits: TcpMuxLimits = TCP_MUX_LIMITS) {}

  /** Listens on `host:port` (0: any free port); returns the bound port. */
  async listen(port: number, host = "0.0.0.0", ipv6Only = false): Promise<number> {
    const server = await listenTcp({ host, port, ipv6Only, noDelay: true }, (s) => this.accept(s));
    const bound = server.port;
    this.servers.push({ server, port: bound, ...familyOf(host, ipv6Only) });
    return bound;
  }

  /** Every listening port. */
  ports(): number[] {
    return this.servers.map((s) => s.port);
  }

  /** The port peers of `family` reach us on, undefined when no listener takes that family. */
  portFor(family: "ipv4" | "ipv6"): number | undefined {
    return portForFamily(this.servers, family);
  }

  get listening(): boolean {
    return this.servers.length > 0;
  }

  get connections(): number {
    return this.links.size;
  }

  get unboundConnections(): number {
    return this.unbound;
  }

  private accept(s: TcpConnection): void {
    if (this.unbound >= this.limits.maxUnbound) {
      this.stats.refused++;
      s.on("error", () => {});
      s.destroy();
      return;
    }
    this.stats.accepted++;
    this.unbound++;
    this.links.add(new TcpLink(this, s, this.limits));
  }

  /** @internal a link bound to a session. */
  onBound(_link: TcpLink): void {
    this.unbound--;
  }

  /** @internal a link closed. */
  onClosed(link: TcpLink): void {
    if (!this.links.delete(link)) return;
    if (!link.bound) this.unbound--;
    this.router.onLinkClosed(link);
  }

  /** Listeners closing (their close completes once their connections are gone). */
  private closing: Promise<void>[] = [];

  /** Stops accepting; the connections stay. */
  stopAccepting(): void {
    for (const s of this.servers) this.closing.push(s.server.close());
    this.servers = [];
  }

  /** Stops accepting and destroys every connection. */
  async close(): Promise<void> {
    this.stopAccepting();
    for (const l of [...this.links]) l.close("server quit");
    const closing = this.closing;
    this.closing = [];
    await Promise.all(closing);
  }
}
