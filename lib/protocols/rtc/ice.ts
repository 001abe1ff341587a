/**
 * How werift is made to use the shared UDP port (with peer-close.ts, the only places that reach into werift's internals).
 *
 * werift's ICE agent (`Connection`, one per RTCIceTransport) normally opens one UDP socket per local address in
 * `gatherCandidates()`, wrapping each in a `StunProtocol` whose `transport` is a `UdpTransport`. We replace
 * that method on the session's Connection instance, after setRemoteDescription created the transport and
 * before setLocalDescription gathers: our version creates ONE StunProtocol whose `transport` is a virtual
 * transport (`MuxTransport`) that sends through the server's shared socket (udp-mux.ts) and receives what the
 * mux routed to this session (by ICE ufrag, then by source address). The host candidates advertised are the
 * configured ones (rtc_server.candidate / ?eip=) with the shared port. Everything above stays werift's: its
 * ICE-lite agent answers the checks; DTLS, SRTP, RTCP, NACK and retransmission are werift's too.
 *
 * Pair selection: Chromium, facing an ICE-lite agent, puts USE-CANDIDATE on the checks of EVERY pair (e.g.
 * from its loopback and its eth0 socket alike); werift keeps the first one nominated, which may not be the one
 * Chromium selects, and then its DTLS is never answered. RFC 8445 8.1.1: with several nominated pairs the
 * controlled agent uses the one of highest priority. So after each check we move werift's selected pair to the
 * highest-priority nominated pair, upward only: priorities are fixed, so this settles within the first checks
 * (before DTLS completes) and never flaps between addresses afterwards, unlike a "latest STUN wins" rule.
 */
import { Candidate, candidateFoundation, candidatePriority, type RTCPeerConnection, StunProtocol } from "werift";

export interface SharedPortSend {
  send(d: Uint8Array, ip: string, port: number): void;
}

/** A stand-in for werift's UdpTransport: the fields StunProtocol uses. */
class MuxTransport {
  readonly type = "udp";
  readonly socketType = "udp4";
  closed = false;
  onData: (data: Buffer, addr: readonly [string, number]) => void = () => {};

  constructor(private out: SharedPortSend, private host: string, private port: number) {}

  get address(): { address: string; port: number; family: string } {
    return { address: this.host, port: this.port, family: "IPv4" };
  }

  send = (data: Buffer, addr?: readonly [string, number]): Promise<void> => {
    if (!this.closed && addr) this.out.send(data, addr[0], addr[1]);
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
  /** Hands a datagram the mux routed to this session to werift's ICE/DTLS stack. */
  deliver(d: Buffer, ip: string, port: number): void;
  /** The address of the nominated pair, once ICE completed. */
  nominated(): { ip: string; port: number } | undefined;
  close(): void;
}

/**
 * Makes `pc` (after setRemoteDescription, before setLocalDescription) gather only `candidates` on the shared
 * port. `creds` pins our ICE ufrag/password (SRS's ?ice-ufrag=&ice-pwd=; else werift's random ones are kept).
 */
export function useSharedPort(
  pc: RTCPeerConnection,
  out: SharedPortSend,
  candidates: { ip: string; port: number }[],
  creds?: { ufrag: string; password: string },
  onSelect?: (ip: string, port: number, upgraded: boolean) => void,
): SharedPortIce {
  const transports = pc.iceTransports;
  if (transports.length !== 1) throw new Error(`expected one bundled ICE transport, got ${transports.length}`);
  const conn = transports[0]!.connection as unknown as WeriftIceConnection;
  if (creds) {
    conn.localUsername = creds.ufrag;
    conn.localPassword = creds.password;
  }
  const first = candidates[0];
  if (!first) throw new Error("no ICE candidate address");
  const transport = new MuxTransport(out, first.ip, first.port);
  const protocol = new StunProtocol();
  const internals = protocol as unknown as StunProtocolInternals;
  internals.transport = transport;
  transport.onData = (data, addr) => internals.datagramReceived(data, addr);

  conn.gatherCandidates = async () => {
    if (conn.localCandidatesStart) return;
    conn.localCandidatesStart = true;
    conn.ensureProtocol(protocol);
    internals.localIp = first.ip;
    conn.protocols.push(protocol);
    candidates.forEach((c, i) => {
      const cand = new Candidate(
        candidateFoundation("host", "udp", c.ip), 1, "udp", candidatePriority("host", { transport: "udp" }) - i,
        c.ip, c.port, "host", undefined, undefined, undefined, conn.generation, conn.localUsername,
      );
      if (i === 0) {
        internals.localCandidate = cand;
        conn.pairLocalProtocol(protocol);
      }
      conn.appendLocalCandidate(cand);
    });
    conn.localCandidatesEnd = true;
    conn.setState("completed");
  };

  return {
    ufrag: conn.localUsername,
    password: conn.localPassword,
    deliver: (d, ip, port) => {
      if (transport.closed) return;
      const before = conn.nominated;
      transport.onData(d, [ip, port]);
      // RFC 8445 8.1.1: the highest-priority nominated pair.
      let best = conn.nominated;
      for (const p of conn.checkList) {
        if (p.nominated && (!best || p.remoteCandidate.priority > best.remoteCandidate.priority)) best = p;
      }
      if (best && best !== conn.nominated && conn.nominated) conn.nominated = best;
      if (conn.nominated && conn.nominated !== before) {
        onSelect?.(conn.nominated.remoteAddr[0], conn.nominated.remoteAddr[1], before !== undefined);
      }
    },
    nominated: () => {
      const a = conn.nominated?.remoteAddr;
      return a ? { ip: a[0], port: a[1] } : undefined;
    },
    close: () => void transport.close(),
  };
}
