/**
 * WebRTC in srs-ts: the service owning the shared UDP port, the sessions and the per-stream outputs.
 *
 * How it fits together (see each file's header):
 *  - udp-mux.ts  ONE node:dgram socket on rtc_server.listen for all sessions; datagrams are routed by STUN
 *                USERNAME (our ICE ufrag, after MESSAGE-INTEGRITY) and then by the bound source address.
 *  - tcp-mux.ts  ICE over TCP (rtc_server.tcp, RFC 6544): one TCP listener whose connections carry RFC 4571
 *                frames (lib/net/rfc4571.ts), routed by the same router as the datagrams; `protocol` picks the
 *                candidates advertised (udp, tcp or all).
 *  - ice.ts      werift's ICE agent is kept, but its gathering is replaced per session so its single
 *                StunProtocol sends/receives through the mux instead of its own sockets (ICE-lite; media go
 *                on the nominated pair the browser sends its DTLS/SRTP on).
 *  - session.ts  a publisher (RTP -> hub) or a viewer (hub -> RTP), with werift doing ICE, DTLS and the publishers'
 *                SRTP/RTCP/NACK; a viewer's media goes out through rtp-send.ts + srtp.ts (our sender, batched sends)
 *                and, after its first SRTCP, the session answers it without werift.
 *  - lib/formats/rtp/h264.ts our RFC 6184 packetizer/depacketizer; output.ts the per-hub shared packetizer.
 *  - api.ts      SRS's signalling: /rtc/v1/publish/, /rtc/v1/play/, WHIP/WHEP and DELETE.
 * The bridges are the stream hub: a WebRTC publisher feeds RTMP/FLV/HLS players and WebRTC viewers; an
 * RTMP/SRT publisher feeds WebRTC viewers (H.264). Unlike SRS, video needs no rtc_to_rtmp/rtmp_to_rtc (the hub is
 * shared; vhost rtc.enabled is needed); those two switch the audio bridge (lib/services/audio-bridge/bridge.ts): Opus -> AAC
 * for RTMP-side players, AAC -> Opus for WebRTC viewers (only while one watches).
 */
import type { RTCCertificate } from "werift";
import type { StreamHub } from "../../hub/stream-hub.ts";
import type { StreamKey } from "../../media/packet.ts";
import { formatEndpoint, ipv6OnlyFor, parseEndpoints } from "../../net/endpoint.ts";
import { workerPortOffset } from "../../runtime/worker-env.ts";
import type { SrsConfig } from "../../config/index.ts";
import type { Lifecycle } from "../../lifecycle.ts";
import { HandshakeGate } from "./admission.ts";
import { candidateAddresses, type OfferInfo, prepareOffer, SdpError } from "./sdp.ts";
import { RtcRefused } from "./refused.ts";
import type { RtcRole, RtcServiceView, RtcSession, RtcSessionPorts } from "./session.ts";
import { RtcTcpMux } from "./tcp-mux.ts";
import { UdpMux } from "./udp-mux.ts";

/** What the WebRTC service needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface RtcServicePorts extends RtcSessionPorts {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: Pick<SrsConfig, "vhost" | "rtcServer">;
  /** Quit: the service closes its sockets in the finish phase. */
  readonly lifecycle: Pick<Lifecycle, "register">;
}

export interface OfferRequest {
  role: RtcRole;
  key: StreamKey;
  param: string;
  clientIp: string;
  tcUrl: string;
  sdp: string;
  /** `?eip=` / `?candidate=` override. */
  eip?: string;
  /** The Host the API was reached at (api_as_candidates). */
  apiHost?: string;
  creds?: { ufrag: string; password: string };
}

export interface OfferResult {
  session: RtcSession;
  answer: string;
}

/** Sessions in their ICE/DTLS handshake at once (admission.ts); more wait for a slot, at most JOIN_WAIT_MS. */
export const MAX_HANDSHAKES = 24;
const JOIN_WAIT_MS = 20_000;
/** A slot is freed after this even if the client never completes its handshake. */
const HANDSHAKE_SLOT_MS = 10_000;

export class RtcService implements RtcServiceView {
  readonly mux: UdpMux;
  /** The ICE-TCP listener (rtc_server.tcp); listening only with `tcp { enabled on; }`. */
  readonly tcp: RtcTcpMux;
  readonly gate = new HandshakeGate(MAX_HANDSHAKES, JOIN_WAIT_MS, HANDSHAKE_SLOT_MS);
  /** The server's one DTLS certificate (ECDSA P-256, self-signed), made with the engine, shared by every session. */
  certificate: RTCCertificate | undefined;
  /**
   * werift and the session code (session.ts, ice.ts, ...), imported on the first offer, with the certificate: a
   * server that never sees a WebRTC session does not pay for them (~20 MB of heap and ~200 ms of start-up).
   */
  private engine: Promise<typeof import("./session.ts")> | undefined;
  private sessions = new Map<string, RtcSession>();
  private publishers = new Map<StreamHub, RtcSession>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private unregister: (() => void) | undefined;

  /** True from a successful start() until close(): the API routes offer sessions only then. */
  running = false;

  constructor(readonly ctx: RtcServicePorts) {
    this.mux = new UdpMux(ctx.log);
    this.tcp = new RtcTcpMux(ctx.log, this.mux);
  }

  /** The UDP port. */
  get port(): number {
    return this.mux.port;
  }

  /** Where it listens, for reload's messages: "udp 8000" or "udp 8000, tcp 8000". */
  get listening(): string {
    const t = this.tcp.ports();
    return `udp ${this.mux.ports().join(",")}${t.length ? `, tcp ${t.join(",")}` : ""}`;
  }

  /** Whether the service holds one of the ports `c` would bind (those must be freed before the new one starts). */
  holdsPortsOf(c: { listens: string[]; tcp: { enabled: boolean; listens: string[] } }): boolean {
    const ports = (values: string[]) => {
      try {
        return parseEndpoints(values).map((e) => e.port);
      } catch {
        return [];
      }
    };
    const udp = this.mux.ports();
    const tcp = this.tcp.ports();
    return ports(c.listens).some((p) => udp.includes(p)) || (c.tcp.enabled && ports(c.tcp.listens).some((p) => tcp.includes(p)));
  }

  async start(): Promise<void> {
    const c = this.ctx.config.rtcServer();
    // The UDP port is always bound, as SRS (protocol only chooses the candidates advertised).
    const at: string[] = [];
    const bind = async (kind: "udp" | "tcp", listens: string[]) => {
      // srs-ts's workers: each worker has its own port (rtc_server.listen + worker id - 1), advertised in its
      // candidates, so the peer's packets come to the worker that answered the offer.
      const offset = workerPortOffset();
      const eps = parseEndpoints(listens).map((e) => (offset && e.port > 0 ? { ...e, port: e.port + offset } : e));
      for (const ep of eps) {
        try {
          const port = kind === "udp"
            ? await this.mux.listen(ep.port, ep.host, ipv6OnlyFor(ep, eps))
            : await this.tcp.listen(ep.port, ep.host, ipv6OnlyFor(ep, eps));
          at.push(`${kind}://${formatEndpoint({ host: ep.host, port })}`);
        } catch (e) {
          throw new Error(`listen rtc_server${kind === "tcp" ? ".tcp" : ""} ${kind}://${formatEndpoint(ep)}: ${(e as Error).message}`);
        }
      }
    };
    try {
      await bind("udp", c.listens);
      if (c.tcp.enabled) await bind("tcp", c.tcp.listens);
    } catch (e) {
      // Nothing half-bound stays behind (a reload that fails keeps the old service as it was).
      await this.tcp.close();
      await this.mux.close();
      throw e;
    }
    if (c.protocol !== "udp" && !c.tcp.enabled) {
      this.ctx.log.warn(`rtc_server: protocol ${c.protocol} needs tcp { enabled on; }: advertising udp candidates only`);
    }
    this.running = true;
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions.values()) s.everySecond(now);
    }, 1000);
    // Quit: the sessions end with the other clients; then the shared UDP sockets and the ICE-TCP listener close.
    this.unregister = this.ctx.lifecycle.register({ name: "rtc server", phase: "finish", close: () => this.close() });
    this.ctx.log.trace(`rtc server listen at ${at.join(" ")}, candidate=${c.candidate}, ip_family=${c.ipFamily}, ` +
      `protocol=${this.candidateProtocol(c.protocol)}`);
  }

  async close(): Promise<void> {
    this.unregister?.();
    this.unregister = undefined;
    if (this.timer) clearInterval(this.timer);
    this.gate.close();
    this.running = false;
    // Stop accepting ICE-TCP first; each session's end closes its TCP connections; then the rest (unbound) go.
    this.tcp.stopAccepting();
    await Promise.all([...this.sessions.values()].map((s) => s.close("server quit")));
    await this.tcp.close();
    await this.mux.close();
  }

  /** Loads werift and the session code once (the first offer waits for it; a failed load is retried by the next). */
  private loadEngine(): Promise<typeof import("./session.ts")> {
    if (this.engine) return this.engine;
    const engine = (async () => {
      // reflect-metadata (werift's certificate code, @peculiar/x509, needs it through tsyringe) is loaded first, on
      // its own: in a `bun build --compile` bundle, Bun 1.4.5 runs a lazily imported module's ES imports before
      // its CommonJS ones, so tsyringe threw "requires a reflect polyfill" on the first offer.
      await import("reflect-metadata");
      const session = await import("./session.ts");
      const { RTCDtlsTransport } = await import("werift");
      // Here, not at start: it brings tweetnacl (40 KB of code and its tables) that only werift's DTLS needs.
      const { useNativeX25519 } = await import("./dtls-x25519.ts");
      // werift's DTLS does its x25519 ECDHE in JS (~3.4 ms a handshake); node:crypto's is ~0.1 ms (dtls-x25519.ts).
      if (!useNativeX25519()) this.ctx.log.warn("rtc: native X25519 unavailable in this runtime, DTLS key exchange stays in JS");
      // One certificate for the whole server, as SRS: werift would otherwise make (and cache process-wide) its
      // own on every first session, delaying that join by its key generation + self-signing (~60 ms).
      const cert = await RTCDtlsTransport.SetupCertificate();
      const fingerprints = cert.getFingerprints();
      cert.getFingerprints = () => fingerprints; // parsed once, not per answer
      this.certificate = cert;
      return session;
    })();
    engine.catch(() => {
      if (this.engine === engine) this.engine = undefined;
    });
    this.engine = engine;
    return engine;
  }

  /** What `protocol` gives with the listeners we have: tcp/all fall back to udp without an ICE-TCP listener. */
  private candidateProtocol(p: "udp" | "tcp" | "all"): "udp" | "tcp" | "all" {
    return this.tcp.listening ? p : "udp";
  }

  /** Validates an offer, creates the session and returns its answer; throws RtcRefused/SdpError. */
  async offer(r: OfferRequest): Promise<OfferResult> {
    let offer: OfferInfo;
    try {
      offer = prepareOffer(r.sdp);
    } catch (e) {
      if (e instanceof SdpError) throw new RtcRefused(`bad offer: ${e.message}`, 400, 5012);
      throw e;
    }
    if (r.role === "publish" && !offer.video && !offer.audio) throw new RtcRefused("offer has no media", 400, 5012);
    const vhost = this.ctx.config.vhost(r.key.vhost);
    if (!vhost || !vhost.enabled) throw new RtcRefused(`vhost ${r.key.vhost} not found`, 404, 2014);
    if (!vhost.rtc.enabled) throw new RtcRefused(`rtc disabled for vhost ${vhost.name}`, 403, 5021);
    const key = { ...r.key, vhost: vhost.name };
    const { RtcSession } = await this.loadEngine();
    // SRS's ERROR_EXCEED_CONNECTIONS (1074); WHIP/WHEP answer 503.
    const full = this.ctx.clients.whyFull();
    if (full) throw new RtcRefused(full, 503, 1074);
    const c = this.ctx.config.rtcServer();
    // SRS: udp -> UDP host candidates, tcp -> passive TCP ones only, all -> both (TCP's priority is lower,
    // RFC 6544 4.2, so a browser that can use UDP does). `?eip=ip:port` sets the port of both, as SRS.
    const protocol = this.candidateProtocol(c.protocol);
    const addresses = (port: number | undefined, port6: number | undefined) => candidateAddresses({
      candidate: c.candidate, port, port6, ipFamily: c.ipFamily, eip: r.eip, apiHost: r.apiHost, apiAsCandidates: c.apiAsCandidates,
    });
    const candidates = [
      ...(protocol !== "tcp" ? addresses(this.mux.portFor("ipv4"), this.mux.portFor("ipv6")) : []),
      ...(protocol !== "udp"
        ? addresses(this.tcp.portFor("ipv4"), this.tcp.portFor("ipv6")).map((a) => ({ ...a, transport: "tcp" as const }))
        : []),
    ];
    // Admission: hold this join (its HTTP answer) until fewer than MAX_HANDSHAKES sessions are handshaking.
    const release = await this.gate.acquire();
    if (!release) throw new RtcRefused(`too many WebRTC joins in progress (${this.gate.stats.queued} waiting), retry later`, 503, 5000);
    // Again after the wait (others may have joined meanwhile); session.start() counts this one synchronously.
    const fullNow = this.ctx.clients.whyFull();
    if (fullNow) {
      release();
      throw new RtcRefused(fullNow, 503, 1074);
    }
    const session = new RtcSession(this, {
      role: r.role, key, param: r.param, clientIp: r.clientIp, tcUrl: r.tcUrl, offer, candidates, creds: r.creds,
    }, vhost.rtc, release);
    const answer = await session.start();
    this.sessions.set(session.sessionId, session);
    return { session, answer };
  }

  find(sessionId: string): RtcSession | undefined {
    return this.sessions.get(sessionId);
  }

  /** DELETE: ends a session when the token matches. */
  async remove(sessionId: string, token: string): Promise<boolean> {
    const s = this.sessions.get(sessionId);
    if (!s || s.token !== token) return false;
    await s.close("DELETE by client");
    return true;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  publisherOf(hub: StreamHub): RtcSession | undefined {
    return this.publishers.get(hub);
  }

  setPublisher(hub: StreamHub, s: RtcSession | undefined): void {
    if (s) this.publishers.set(hub, s);
    else this.publishers.delete(hub);
  }

  removed(s: RtcSession): void {
    if (this.sessions.get(s.sessionId) === s) this.sessions.delete(s.sessionId);
  }
}

export { RtcRefused };
