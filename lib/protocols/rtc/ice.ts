/**
 * How werift is made to use the shared UDP port (with peer-close.ts, werift-media.ts and dtls-x25519.ts, the only places that
 * reach into werift's internals).
 *
 * werift's ICE agent (`Connection`, one per RTCIceTransport) normally opens one UDP socket per local address in
 * `gatherCandidates()`, wrapping each in a `StunProtocol` whose `transport` is a `UdpTransport`. We replace
 * that method on the session's Connection instance, after setRemoteDescription created the transport and
 * before setLocalDescription gathers: our version creates ONE StunProtocol whose `transport` is a virtual
 * transport (`MuxTransport`) that sends through the server's shared socket (udp-mux.ts) and receives what the
 * mux routed to this session (by ICE ufrag, then by source address). The host candidates advertised are the
 * configured ones (rtc_server.candidate / ?eip=) with the shared port. Everything above stays werift's: its
 * ICE-lite agent answers the checks; DTLS, the publishers' SRTP and RTCP are werift's too (a viewer's media goes
 * out through rtp-send.ts once DTLS is up).
 *
 * ICE over TCP (RFC 6544, tcp-mux.ts): when TCP candidates are advertised, a second StunProtocol stands for the
 * passive TCP candidate(s) (`tcptype passive`), its transport sending to the TCP link bound to the peer's address.
 * A check arriving on a link reaches werift through that protocol, so the pair werift makes is a TCP pair (a
 * peer-reflexive `tcptype active` remote candidate, RFC 6544 section 7.2) and DTLS/SRTP of that pair go back on
 * the link. The two transports never share a pair, so a peer's UDP and TCP ports never get confused.
 *
 * Pair selection: Chromium, facing an ICE-lite agent, puts USE-CANDIDATE on the checks of EVERY pair (e.g.
 * from its loopback and its eth0 socket alike); werift keeps the first one nominated, which may not be the one
 * Chromium selects, and then its DTLS is never answered. RFC 8445 8.1.1: with several nominated pairs the
 * controlled agent uses the one of highest priority. So after each check we move werift's selected pair to the
 * highest-priority nominated pair, upward only: priorities are fixed, so this settles within the first checks
 * (before DTLS completes) and never flaps between addresses afterwards, unlike a "latest STUN wins" rule.
 * But the controlling agent's own choice may not be the highest-priority pair (Chromium ranks its pairs by
 * network cost first: with UDP and TCP candidates it may send over a TCP pair while a UDP check of another
 * interface also got nominated here, e.g. one whose responses never reach it). Its DTLS and SRTP travel only on
 * the pair it selected: so once non-STUN data (RFC 7983: first byte above 3) arrives on a nominated pair, that
 * pair is the one we send on, and priorities no longer move it; later data on another nominated pair (the peer
 * switched) moves it there. Only STUN is sent on every pair, so data never flaps.
 */
import { Candidate, candidateFoundation, candidatePriority, type RTCPeerConnection, StunProtocol } from "werift";

export type IceTransportKind = "udp" | "tcp";

export interface SharedPortSend {
  send(d: Uint8Array, ip: string, port: number, transport: IceTransportKind): void;
}

/** An address to advertise as a host candidate, on the shared UDP port or the ICE-TCP port. */
export interface SharedPortCandidate {
  ip: string;
  port: number;
  /** Default "udp"; "tcp" is a passive TCP candidate (RFC 6544 section 4.5). */
  transport?: IceTransportKind;
}

/** A stand-in for werift's UdpTransport: the fields StunProtocol uses. */
class MuxTransport {
  readonly socketType = "udp4";
  closed = false;
  onData: (data: Buffer, addr: readonly [string, number]) => void = () => {};

  constructor(private out: SharedPortSend, readonly type: IceTransportKind, private host: string, private port: number) {}

  get address(): { address: string; port: number; family: string } {
    return { address: this.host, port: this.port, family: "IPv4" };
  }

  send = (data: Buffer, addr?: readonly [string, number]): Promise<void> => {
    if (!this.closed && addr) this.out.send(data, addr[0], addr[1], this.type);
    return Promise.resolve();
  };

  close = (): Promise<void> => {
    this.closed = true;
    return Promise.resolve();
  };
}

/** The parts of werift's ICE Connection we touch (private in its typings). */
interface WeriftPair {
  nominated: boolean;
  protocol: unknown;
  remoteCandidate: { priority: number };
  remoteAddr: readonly [string, number];
}

interface WeriftIceConnection {
  checkList: WeriftPair[];
  localUsername: string;
  localPassword: string;
  generation: number;
  localCandidatesStart: boolean;
  localCandidatesEnd: boolean;
  protocols: StunProtocol[];
  nominated?: WeriftPair;
  ensureProtocol(p: StunProtocol): void;
  pairLocalProtocol(p: StunProtocol): void;
  appendLocalCandidate(c: Candidate): void;
  setState(s: string): void;
  gatherCandidates(): Promise<void>;
}

interface StunProtocolInternals {
  transport: unknown;
  localIp?: string;
  localCandidate?: Candidate;
  datagramReceived(data: Buffer, addr: readonly [string, number]): void;
}

export interface SharedPortIce {
  readonly ufrag: string;
  readonly password: string;
  /** Hands a packet the mux routed to this session to werift's ICE/DTLS stack. */
  deliver(d: Buffer, ip: string, port: number, transport: IceTransportKind): void;
  /** The address (and transport) of the nominated pair, once ICE completed. */
  nominated(): { ip: string; port: number; transport: IceTransportKind } | undefined;
  close(): void;
}

/**
 * Makes `pc` (after setRemoteDescription, before setLocalDescription) gather only `candidates` on the shared
 * port. `creds` pins our ICE ufrag/password (SRS's ?ice-ufrag=&ice-pwd=; else werift's random ones are kept).
 */
export function useSharedPort(
  pc: RTCPeerConnection,
  out: SharedPortSend,
  candidates: SharedPortCandidate[],
  creds?: { ufrag: string; password: string },
  onSelect?: (ip: string, port: number, transport: IceTransportKind, changed: boolean, byData: boolean) => void,
): SharedPortIce {
  const transports = pc.iceTransports;
  if (transports.length !== 1) throw new Error(`expected one bundled ICE transport, got ${transports.length}`);
  const conn = transports[0]!.connection as unknown as WeriftIceConnection;
  if (creds) {
    conn.localUsername = creds.ufrag;
    conn.localPassword = creds.password;
  }
  if (!candidates.length) throw new Error("no ICE candidate address");
  // One StunProtocol per transport advertised, each with its own virtual transport on the shared port.
  const sides = new Map<IceTransportKind, { transport: MuxTransport; protocol: StunProtocol; list: SharedPortCandidate[] }>();
  for (const c of candidates) {
    const kind = c.transport ?? "udp";
    let side = sides.get(kind);
    if (!side) {
      const transport = new MuxTransport(out, kind, c.ip, c.port);
      const protocol = new StunProtocol();
      const internals = protocol as unknown as StunProtocolInternals;
      internals.transport = transport;
      transport.onData = (data, addr) => internals.datagramReceived(data, addr);
      side = { transport, protocol, list: [] };
      sides.set(kind, side);
    }
    side.list.push(c);
  }
  const kindOf = (p: unknown): IceTransportKind => (sides.get("tcp")?.protocol === p ? "tcp" : "udp");

  conn.gatherCandidates = async () => {
    if (conn.localCandidatesStart) return;
    conn.localCandidatesStart = true;
    for (const [kind, side] of sides) {
      const { protocol, list } = side;
      const internals = protocol as unknown as StunProtocolInternals;
      conn.ensureProtocol(protocol);
      internals.localIp = list[0]!.ip;
      conn.protocols.push(protocol);
      // RFC 8445 5.1.2.1: type preference host 126 (UDP); RFC 6544 4.2: TCP host candidates below UDP ones
      // (werift's table: 105) with the passive direction preference. Earlier addresses first.
      const tcptype = kind === "tcp" ? "passive" : undefined;
      list.forEach((c, i) => {
        const cand = new Candidate(
          candidateFoundation("host", kind, c.ip), 1, kind, candidatePriority("host", { transport: kind, tcptype }) - i,
          c.ip, c.port, "host", undefined, undefined, tcptype, conn.generation, conn.localUsername,
        );
        if (i === 0) {
          internals.localCandidate = cand;
          conn.pairLocalProtocol(protocol);
        }
        conn.appendLocalCandidate(cand);
      });
    }
    conn.localCandidatesEnd = true;
    conn.setState("completed");
  };

  let closed = false;
  /** Non-STUN data arrived on a nominated pair: the peer's choice rules from then on. */
  let peerChose = false;
  return {
    ufrag: conn.localUsername,
    password: conn.localPassword,
    deliver: (d, ip, port, kind) => {
      const side = sides.get(kind);
      if (closed || !side) return;
      const before = conn.nominated;
      const data = d.byteLength > 0 && d[0]! > 3;
      if (data) {
        // DTLS/SRTP/SRTCP: the pair the peer uses (see the file comment); chosen before werift answers it.
        const at = (p: WeriftPair | undefined) =>
          p !== undefined && p.nominated && p.protocol === side.protocol && p.remoteAddr[0] === ip && p.remoteAddr[1] === port;
        const used = at(conn.nominated) ? conn.nominated : conn.checkList.find(at);
        if (used) {
          peerChose = true;
          if (conn.nominated !== used) conn.nominated = used;
        }
      }
      side.transport.onData(d, [ip, port]);
      if (!data && !peerChose) {
        // RFC 8445 8.1.1: the highest-priority nominated pair.
        let best = conn.nominated;
        for (const p of conn.checkList) {
          if (p.nominated && (!best || p.remoteCandidate.priority > best.remoteCandidate.priority)) best = p;
        }
        if (best && best !== conn.nominated && conn.nominated) conn.nominated = best;
      }
      if (conn.nominated && conn.nominated !== before) {
        const n = conn.nominated;
        onSelect?.(n.remoteAddr[0], n.remoteAddr[1], kindOf(n.protocol), before !== undefined, peerChose);
      }
    },
    nominated: () => {
      const n = conn.nominated;
      return n ? { ip: n.remoteAddr[0], port: n.remoteAddr[1], transport: kindOf(n.protocol) } : undefined;
    },
    close: () => {
      closed = true;
      for (const side of sides.values()) void side.transport.close();
    },
  };
}
