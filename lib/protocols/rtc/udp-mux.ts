/**
 * The one UDP port every WebRTC session shares (rtc_server.listen), as SRS does, and the routing of every packet
 * of every session, whether it came in a UDP datagram or in an ICE-TCP connection (tcp-mux.ts).
 *
 * A datagram finds its session in two steps:
 *  1. STUN binding requests carry USERNAME "<our ufrag>:<peer ufrag>": the ufrag names the session. The
 *     request must pass MESSAGE-INTEGRITY with that session's ICE password, then its source address is bound
 *     to the session.
 *  2. Everything else (DTLS, SRTP, SRTCP) is routed by source address among the bound ones. A datagram from an
 *     unknown address, or a STUN request with an unknown ufrag or a bad integrity, is dropped and counted.
 * A session may bind several addresses (Chromium checks from every interface); which one carries media is the
 * ICE agent's business (the nominated pair, see ice.ts), the mux only routes what arrives.
 *
 * "One port" may be one socket per address family: `rtc_server { listen 8000 [::]:8000; }` binds an IPv4 and an
 * IPv6 socket; replies leave by the socket of the peer's family (an IPv4 peer of a dual-stack `[::]` socket is
 * answered by its IPv4-mapped address).
 *
 * ICE over TCP (RFC 6544, rtc_server.tcp): each accepted connection is a "link" carrying RFC 4571 frames. Its
 * frames are routed by the same rules: its first frame must be a binding request that names a session and passes
 * MESSAGE-INTEGRITY (else the link is closed, as SRS does), which binds the link's address ("tcp" + ip:port) to
 * that session; later frames go to that session. Replies to a TCP address leave on its link. A link is bound to
 * one session for its life; its closing unbinds its address and tells the session (which ends when that link was
 * its selected path), and a session's end closes its links.
 *
 * Sending: werift's handshake traffic goes out one packet at a time (`send`); the viewers' media is built in
 * place (`target`, then `buffer` and `sendBuilt`) and leaves UDP in batches: under Bun one sendmmsg(2) per flush,
 * a flush at the end of the current job (a microtask) or when the 256 KB arena is full, so one media packet fanned
 * out to N viewers costs a few system calls instead of N (UdpSocket.sendMany, lib/runtime/udp.ts). Elsewhere, and on ICE-TCP
 * links, each built packet is its own buffer, sent at once.
 */
import { bindUdp, type UdpSocket } from "../../runtime/udp.ts";
import type { Log } from "../../log/logger.ts";
import { type FamilyBind, familyOf, portForFamily } from "../../net/endpoint.ts";
import { ATTR_USERNAME, datagramKind, parseStun, STUN_BINDING_REQUEST, stunAttr, stunUsername, verifyIntegrity } from "./stun.ts";

/** How a packet reached us: a UDP datagram or a frame on an ICE-TCP connection. */
export type RtcTransport = "udp" | "tcp";

/** A session's side of the mux. */
export interface MuxEndpoint {
  /** Our ICE username fragment (unique per session). */
  readonly ufrag: string;
  /** Our ICE password (checks MESSAGE-INTEGRITY). */
  readonly password: string;
  /** A packet for this session; `stun` says it is a verified binding request. */
  receive(d: Buffer, ip: string, port: number, stun: boolean, transport: RtcTransport): void;
  /** The TCP connection from `ip:port` closed: that address no longer reaches the peer. */
  detached?(ip: string, port: number, transport: RtcTransport): void;
}

/** An accepted ICE-TCP connection (tcp-mux.ts) as the mux sees it. */
export interface MuxLink {
  readonly ip: string;
  readonly port: number;
  /** Sends one packet (the link frames it); false when it was dropped (backlog full, closed). */
  send(d: Uint8Array): boolean;
  close(reason: string): void;
}

/** What the mux made of a frame from a link: "close" for a link that must be closed (not ICE-TCP, or unknown). */
export type LinkVerdict = "bound" | "routed" | "dropped" | "close";

export interface MuxStats {
  /** UDP datagrams. */
  received: number;
  sent: number;
  /** ICE-TCP frames. */
  tcpReceived: number;
  tcpSent: number;
  /** ICE-TCP frames not sent: the link's write backlog was full or it was gone. */
  tcpDropped: number;
  /** Non-STUN datagrams from addresses bound to no session. */
  unknownAddress: number;
  /** STUN requests naming no session. */
  unknownUfrag: number;
  /** STUN requests whose MESSAGE-INTEGRITY failed, or malformed STUN. */
  badStun: number;
  /** Built UDP datagrams the kernel did not take (send buffer full) or that failed to send. */
  sendDropped: number;
  /** UDP batches sent (system calls, under Bun). */
  flushes: number;
}

/** At most this many source addresses per session (interfaces × families is small; this bounds abuse). */
const MAX_ADDRESSES_PER_SESSION = 16;

export function addrKey(ip: string, port: number, transport: RtcTransport = "udp"): string {
  return transport === "udp" ? `${ip}:${port}` : `tcp/${ip}:${port}`;
}

/** Sends [bytes, port, address] triples, flattened, in one system call (UdpSocket.sendMany). */
interface DatagramSender {
  sendMany(list: (Uint8Array | number | string)[]): number;
}

interface MuxSocket extends FamilyBind {
  socket: UdpSocket;
  /** Bun's synchronous bulk send (undefined: node:dgram's send, one datagram at a time). */
  native: DatagramSender | undefined;
  /** Built datagrams waiting for the flush: [bytes, port, address, ...]. */
  pending: (Uint8Array | number | string)[];
}

/** Where one peer's packets go: resolved once (the socket of its family, or its ICE-TCP link by address). */
export interface MuxTarget {
  readonly ip: string;
  readonly port: number;
  readonly transport: RtcTransport;
  /** UDP: the address as the socket takes it (IPv4-mapped on a dual-stack socket) and the socket. */
  readonly address: string;
  readonly sock: MuxSocket | undefined;
}

/** Arena for built datagrams between flushes (Bun): ~200 full-size RTP packets. */
const ARENA_BYTES = 256 * 1024;

export class UdpMux {
  private sockets: MuxSocket[] = [];
  private byUfrag = new Map<string, MuxEndpoint>();
  private byAddr = new Map<string, MuxEndpoint>();
  private addrsOf = new Map<MuxEndpoint, Set<string>>();
  /** Bound ICE-TCP links by their address key. */
  private links = new Map<string, MuxLink>();
  readonly stats: MuxStats = {
    received: 0, sent: 0, tcpReceived: 0, tcpSent: 0, tcpDropped: 0, unknownAddress: 0, unknownUfrag: 0, badStun: 0, sendDropped: 0, flushes: 0,
  };
  port = 0;
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private arenaUsed = 0;
  private flushQueued = false;
  private readonly flushNow = () => this.flush();

  constructor(private log: Log) {}

  /**
   * Binds one shared socket (call once per listen address): `host` "0.0.0.0" = every IPv4 interface, an IPv6
   * address (`::`, `::1`) an IPv6 socket, IPv6-only when `ipv6Only` (another socket has the port on IPv4).
   */
  async listen(port: number, host = "0.0.0.0", ipv6Only = false): Promise<number> {
    const socket = await bindUdp({
      host,
      port,
      ipv6Only,
      onMessage: (d, r) => this.onMessage(d, r),
      onError: (e) => this.log.warn(`rtc udp socket error: ${e.message}`),
    });
    // Every session's STUN, DTLS and RTCP arrive on this one socket: a join burst or a stall of the event loop
    // overflowed the default ~208 KB receive buffer (handshake packets lost, retransmitted seconds later). Ask
    // for 4 MB (Linux caps it at net.core.rmem_max); best effort.
    socket.setBufferSizes(4 << 20, 4 << 20);
    const bound = socket.port;
    const sendMany = socket.sendMany;
    const native: DatagramSender | undefined = sendMany ? { sendMany } : undefined;
    this.sockets.push({ socket, port: bound, ...familyOf(host, ipv6Only), native, pending: [] });
    if (this.sockets.length === 1) this.port = bound;
    return bound;
  }

  /** Every bound UDP port. */
  ports(): number[] {
    return this.sockets.map((s) => s.port);
  }

  /** The port peers of `family` reach us on, undefined when no socket takes that family. */
  portFor(family: "ipv4" | "ipv6"): number | undefined {
    return portForFamily(this.sockets, family);
  }

  /** The socket (and the address to use) for a peer at `ip`. */
  private route(ip: string): { sock: MuxSocket; ip: string } | undefined {
    if (ip.includes(":")) {
      const s = this.sockets.find((x) => x.v6);
      return s && { sock: s, ip };
    }
    const v4 = this.sockets.find((x) => !x.v6);
    if (v4) return { sock: v4, ip };
    const dual = this.sockets.find((x) => x.dualStack);
    return dual && { sock: dual, ip: `::ffff:${ip}` };
  }

  /** The target for a peer's address (undefined: no UDP socket of its family); valid until close(). */
  target(ip: string, port: number, transport: RtcTransport = "udp"): MuxTarget | undefined {
    if (transport === "tcp") return { ip, port, transport, address: ip, sock: undefined };
    const r = this.route(ip);
    return r && { ip, port, transport, address: r.ip, sock: r.sock };
  }

  /**
   * A buffer of `n` bytes to build one packet for `t` in, then passed to sendBuilt(): a slice of the batch arena
   * for UDP under Bun (valid until the next flush), else a buffer of its own.
   */
  buffer(t: MuxTarget, n: number): Uint8Array {
    if (!t.sock?.native || n > ARENA_BYTES) return Buffer.allocUnsafe(n);
    if (this.arenaUsed + n > ARENA_BYTES) this.flush();
    const b = this.arena.subarray(this.arenaUsed, this.arenaUsed + n);
    this.arenaUsed += n;
    return b;
  }

  /** Sends a packet built in a buffer() for `t` (UDP under Bun: batched, out by the end of the current job). */
  sendBuilt(t: MuxTarget, d: Uint8Array): void {
    const sock = t.sock;
    if (!sock) {
      this.send(d, t.ip, t.port, t.transport);
      return;
    }
    this.stats.sent++;
    if (!sock.native) {
      try {
        if (!sock.socket.send(d, t.port, t.address)) this.stats.sendDropped++;
      } catch {
        this.stats.sendDropped++;
      }
      return;
    }
    sock.pending.push(d, t.port, t.address);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Sends every built datagram now (one system call per socket under Bun) and frees the arena. */
  flush(): void {
    this.flushQueued = false;
    for (const s of this.sockets) {
      const list = s.pending;
      if (!list.length || !s.native) continue;
      this.sendList(s.native, list);
      list.length = 0;
    }
    this.arenaUsed = 0;
  }

  /**
   * sendmmsg(2) until every datagram of `list` went out. An ICMP port unreachable for an earlier datagram (a
   * viewer that went away without a word, until stun_timeout) makes the kernel fail the NEXT send once, so a
   * batch stops short: the datagram it stopped at was not sent and goes again in the next call. Two failures in
   * a row (send buffer full, a bad address) drop the rest of the batch.
   */
  private sendList(native: DatagramSender, list: (Uint8Array | number | string)[]): void {
    const count = list.length / 3;
    let off = 0;
    let failures = 0;
    let error = "";
    while (off < count) {
      let n = 0;
      try {
        n = native.sendMany(off ? list.slice(off * 3) : list);
      } catch (e) {
        error = (e as Error).message;
      }
      this.stats.flushes++;
      if (n > 0) {
        off += n;
        failures = 0;
        continue;
      }
      if (++failures < 2) continue;
      this.stats.sendDropped += count - off;
      this.log.info(`rtc udp: ${count - off} of ${count} datagrams not sent${error ? `: ${error}` : " (send buffer full)"}`);
      return;
    }
  }

  register(ep: MuxEndpoint): void {
    if (this.byUfrag.has(ep.ufrag)) throw new Error(`ice ufrag ${ep.ufrag} already in use`);
    this.byUfrag.set(ep.ufrag, ep);
    this.addrsOf.set(ep, new Set());
  }

  /** A session ends: its addresses are unbound and its ICE-TCP links closed. */
  unregister(ep: MuxEndpoint): void {
    if (this.byUfrag.get(ep.ufrag) === ep) this.byUfrag.delete(ep.ufrag);
    const keys = this.addrsOf.get(ep) ?? [];
    this.addrsOf.delete(ep);
    for (const k of keys) {
      if (this.byAddr.get(k) === ep) this.byAddr.delete(k);
      this.dropLink(k, "session closed");
    }
  }

  hasUfrag(ufrag: string): boolean {
    return this.byUfrag.has(ufrag);
  }

  get sessions(): number {
    return this.byUfrag.size;
  }

  /** The session bound to a source address (tests, diagnostics). */
  endpointAt(ip: string, port: number, transport: RtcTransport = "udp"): MuxEndpoint | undefined {
    return this.byAddr.get(addrKey(ip, port, transport));
  }

  /** Bound ICE-TCP links (tests, diagnostics). */
  get linkCount(): number {
    return this.links.size;
  }

  /** Sends a packet to a peer address: by the UDP socket of its family, or on the TCP link bound to it. */
  send(d: Uint8Array, ip: string, port: number, transport: RtcTransport = "udp"): void {
    if (transport === "tcp") {
      const link = this.links.get(addrKey(ip, port, "tcp"));
      if (link?.send(d)) this.stats.tcpSent++;
      else this.stats.tcpDropped++;
      return;
    }
    const to = this.route(ip);
    if (!to) return;
    this.stats.sent++;
    try {
      if (to.sock.native) this.sendList(to.sock.native, [d, port, to.ip]);
      else to.sock.socket.send(d, port, to.ip);
    } catch (e) {
      this.log.info(`rtc udp send to ${ip}:${port} failed: ${(e as Error).message}`);
    }
  }

  /** Routes one datagram (public for tests: the socket calls it for every datagram). */
  onMessage(d: Buffer, r: { address: string; port: number }): void {
    this.stats.received++;
    const ip = r.address.replace(/^::ffff:/, "");
    const key = addrKey(ip, r.port);
    if (datagramKind(d) === "stun") {
      const m = parseStun(d);
      if (!m) {
        this.stats.badStun++;
        return;
      }
      if (m.type !== STUN_BINDING_REQUEST) {
        // Responses/indications: an ICE-lite agent sends no requests, so only a bound peer's can matter.
        const ep = this.byAddr.get(key);
        if (ep) ep.receive(d, ip, r.port, false, "udp");
        return;
      }
      const user = stunAttr(m, ATTR_USERNAME) ? stunUsername(m) : undefined;
      const ep = user ? this.byUfrag.get(user.local) : undefined;
      if (!ep) {
        this.stats.unknownUfrag++;
        this.log.verbose(`rtc udp: drop stun from ${key}, unknown username`);
        return;
      }
      if (!verifyIntegrity(d, m, ep.password)) {
        this.stats.badStun++;
        this.log.info(`rtc udp: drop stun from ${key} for ${ep.ufrag}: bad MESSAGE-INTEGRITY`);
        return;
      }
      this.bind(ep, key);
      ep.receive(d, ip, r.port, true, "udp");
      return;
    }
    const ep = this.byAddr.get(key);
    if (!ep) {
      this.stats.unknownAddress++;
      return;
    }
    ep.receive(d, ip, r.port, false, "udp");
  }

  /**
   * Routes one frame from an ICE-TCP link (tcp-mux.ts calls it for every frame). An unbound link's frame must be
   * a binding request for a registered session with a valid MESSAGE-INTEGRITY ("bound"), anything else closes it
   * ("close"). A bound link's frames go to its session; a binding request on it naming another session or failing
   * MESSAGE-INTEGRITY is dropped.
   */
  onLinkFrame(d: Buffer, link: MuxLink): LinkVerdict {
    this.stats.tcpReceived++;
    const ip = link.ip.replace(/^::ffff:/, "");
    const key = addrKey(ip, link.port, "tcp");
    const bound = this.links.get(key) === link ? this.byAddr.get(key) : undefined;
    const stun = datagramKind(d) === "stun" ? parseStun(d) : undefined;
    if (!stun || stun.type !== STUN_BINDING_REQUEST) {
      if (!bound) {
        if (stun || datagramKind(d) === "stun") this.stats.badStun++;
        else this.stats.unknownAddress++;
        return "close";
      }
      bound.receive(d, ip, link.port, false, "tcp");
      return "routed";
    }
    const user = stunAttr(stun, ATTR_USERNAME) ? stunUsername(stun) : undefined;
    const ep = user ? this.byUfrag.get(user.local) : undefined;
    if (!ep || (bound && ep !== bound)) {
      this.stats.unknownUfrag++;
      this.log.verbose(`rtc tcp: stun from ${key}: ${ep ? "names another session than its link's" : "unknown username"}`);
      return bound ? "dropped" : "close";
    }
    if (!verifyIntegrity(d, stun, ep.password)) {
      this.stats.badStun++;
      this.log.info(`rtc tcp: stun from ${key} for ${ep.ufrag}: bad MESSAGE-INTEGRITY`);
      return bound ? "dropped" : "close";
    }
    if (!bound) {
      const other = this.links.get(key);
      if (other && other !== link) this.dropLink(key, "replaced by a new connection from the same address");
      this.links.set(key, link);
      this.bind(ep, key);
    }
    ep.receive(d, ip, link.port, true, "tcp");
    return bound ? "routed" : "bound";
  }

  /** An ICE-TCP link closed (by the peer, an error or us): its address is unbound and its session told. */
  onLinkClosed(link: MuxLink): void {
    const ip = link.ip.replace(/^::ffff:/, "");
    const key = addrKey(ip, link.port, "tcp");
    if (this.links.get(key) !== link) return;
    this.links.delete(key);
    const ep = this.byAddr.get(key);
    if (!ep) return;
    this.byAddr.delete(key);
    this.addrsOf.get(ep)?.delete(key);
    ep.detached?.(ip, link.port, "tcp");
  }

  /** Forgets and closes the link bound at `key`, if any (the caller has unbound the address). */
  private dropLink(key: string, reason: string): void {
    const link = this.links.get(key);
    if (!link) return;
    this.links.delete(key);
    link.close(reason);
  }

  private bind(ep: MuxEndpoint, key: string): void {
    const cur = this.byAddr.get(key);
    if (cur === ep) return;
    if (cur) this.addrsOf.get(cur)?.delete(key);
    const set = this.addrsOf.get(ep);
    if (!set) return;
    if (set.size >= MAX_ADDRESSES_PER_SESSION) {
      const oldest = set.values().next().value as string;
      set.delete(oldest);
      if (this.byAddr.get(oldest) === ep) this.byAddr.delete(oldest);
      this.dropLink(oldest, `more than ${MAX_ADDRESSES_PER_SESSION} addresses for one session`);
    }
    set.add(key);
    this.byAddr.set(key, ep);
  }

  /** Closes the UDP sockets and every bound ICE-TCP link (the TCP listener closes its own, tcp-mux.ts). */
  async close(): Promise<void> {
    this.flush();
    const sockets = this.sockets;
    this.sockets = [];
    const links = [...this.links.values()];
    this.links.clear();
    for (const l of links) l.close("server quit");
    this.byUfrag.clear();
    this.byAddr.clear();
    this.addrsOf.clear();
    await Promise.all(sockets.map((s) => s.socket.close()));
  }
}
