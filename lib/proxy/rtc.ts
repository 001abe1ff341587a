/**
 * WHIP/WHEP through the proxy (SRS 7 proxy/rtc.go). Signalling: the offer (POST /rtc/v1/whip/ or /rtc/v1/whep/ on
 * PROXY_HTTP_API, ?app=&stream=) goes to the stream's origin's HTTP API; in its answer the origin's UDP port in the
 * host candidates (`<port> typ host`) becomes the proxy's PROXY_WEBRTC_SERVER port, and the session is stored by its
 * ICE username `answerUfrag:offerUfrag` (RFC 8445 7.2.2: what the player puts in its STUN checks' USERNAME,
 * RFC 8489 14.3). Media: the proxy's UDP port reads the USERNAME of the first STUN packet from a player address,
 * finds the session (here or, through Redis, one another proxy signalled) and relays every datagram between that
 * address and the origin's UDP port, each session on its own socket to the origin. DTLS and SRTP stay end to end.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { Log } from "../log/logger.ts";
import { parseStun, stunUsername } from "../protocols/rtc/stun.ts";
import { describeBackend, endpointPort, firstPort } from "./backend.ts";
import { type LoadBalancer, NoBackendError } from "./lb.ts";
import { formatEndpoint } from "../net/endpoint.ts";
import { corsHeaders, fetchOrigin, originHeaders, readBounded, text } from "./http.ts";
import { httpStreamUrl } from "./stream-url.ts";
import { listenUdp, type UdpListener } from "./udp.ts";

/** Largest SDP offer read. */
const MAX_OFFER = 64 * 1024;
/** A relay with no datagram either way for this long is closed. */
const IDLE_MS = 30_000;
/** Most relays at once (each holds a UDP socket). */
const MAX_RELAYS = 4096;

/** The ice-ufrag of an SDP (session or first media level, RFC 8839 5.4). */
export function iceUfrag(sdp: string): string | undefined {
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith("a=ice-ufrag:")) return line.slice("a=ice-ufrag:".length).trim();
  }
  return undefined;
}

/** The answer with the origin's UDP port replaced by ours in its host candidates (as SRS's proxy does). */
export function rewriteCandidates(sdp: string, originPorts: number[], proxyPort: number): string {
  return sdp.split("\n").map((line) => {
    if (!line.startsWith("a=candidate:")) return line;
    const f = line.split(" ");
    // a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
    if (f.length >= 8 && f[6] === "typ" && f[7]?.startsWith("host") && originPorts.includes(Number(f[5]))) {
      f[5] = String(proxyPort);
    }
    return f.join(" ");
  }).join("\n");
}

interface Relay {
  streamUrl: string;
  ufrag: string;
  toOrigin: Socket;
  client: RemoteInfo;
  last: number;
  addrs: Set<string>;
}

export class RtcProxy {
  private byUfrag = new Map<string, Relay>();
  /** Relays being opened, by ufrag. */
  private opening = new Map<string, Promise<Relay | undefined>>();
  private byAddr = new Map<string, Relay>();
  private udp: UdpListener | undefined;

  constructor(private lb: LoadBalancer, private log: Log) {}

  async listen(value: string): Promise<void> {
    this.udp = await listenUdp(value, "WebRTC", this.log, (d, r) => this.onDatagram(d, r), () => this.expire());
  }

  /** The UDP port listened on (0 before listen()). */
  get port(): number {
    return this.udp?.port ?? 0;
  }

  close(): void {
    for (const r of this.byUfrag.values()) r.toOrigin.close();
    this.byUfrag.clear();
    this.byAddr.clear();
    this.udp?.close();
  }

  /** POST (or DELETE) /rtc/v1/whip/ or /rtc/v1/whep/: to the origin's API, the answer rewritten. */
  async signal(req: Request): Promise<Response> {
    if (req.method === "OPTIONS") return new Response(null, { status: 200, headers: corsHeaders() });
    const url = new URL(req.url);
    const { streamUrl } = httpStreamUrl(url, req.headers.get("host"));
    let offer = "";
    try {
      if (req.method === "POST") offer = await readBounded(req, MAX_OFFER);
    } catch (e) {
      return text(400, `proxy: offer refused: ${(e as Error).message}`);
    }
    let b;
    try {
      b = await this.lb.pick(streamUrl);
    } catch (e) {
      return text(e instanceof NoBackendError ? 503 : 502, `proxy: ${(e as Error).message}`);
    }
    const api = firstPort(b.api);
    if (api < 0) return text(502, `proxy: origin ${describeBackend(b)} has no HTTP API`);
    const origin = formatEndpoint({ host: b.ip, port: api });
    const target = `http://${origin}${url.pathname}${url.search}`;
    let res: Response;
    try {
      res = await fetchOrigin(target, {
        method: req.method,
        body: req.method === "POST" ? offer : undefined,
        headers: { "Content-Type": req.headers.get("content-type") ?? "application/sdp" },
      });
    } catch (e) {
      return text(502, `proxy: ${(e as Error).message}`);
    }
    const body = await res.text();
    const headers = originHeaders(res);
    if (req.method !== "POST" || (res.status !== 200 && res.status !== 201)) {
      return new Response(body, { status: res.status, headers });
    }
    const originPorts = (b.rtc ?? []).filter((e) => !e.startsWith("tcp://")).map(endpointPort);
    const answer = rewriteCandidates(body, originPorts, this.port);
    const local = iceUfrag(answer);
    const remote = iceUfrag(offer);
    if (!local || !remote) return text(502, `proxy: no ice-ufrag in the ${local ? "offer" : "origin's answer"}`);
    await this.lb.storeRtc(streamUrl, { stream_url: streamUrl, ufrag: `${local}:${remote}` });
    this.log.trace(`proxy: WebRTC ${url.pathname} ${streamUrl} -> origin ${origin}, ufrag ${local}:${remote}`);
    return new Response(answer, { status: res.status, headers });
  }

  /** A relayed datagram goes out at once; only a STUN check from an unknown address waits for attach(). */
  private onDatagram(d: Uint8Array, from: RemoteInfo): void {
    const relay = this.byAddr.get(`${from.address}:${from.port}`);
    if (relay) {
      relay.client = from;
      relay.last = Date.now();
      relay.toOrigin.send(d);
      return;
    }
    const m = parseStun(d);
    const u = m ? stunUsername(m) : undefined;
    if (!u) return;
    const ufrag = `${u.local}:${u.remote}`;
    void this.attach(ufrag, d, from).catch((e: Error) => this.log.warn(`proxy: WebRTC relay ${ufrag}: ${e.message}`));
  }

  /**
   * Binds a new player address to the session `ufrag` (opening its relay unless one exists or is being opened:
   * checks that come before open() finishes share it), then relays `d`.
   */
  private async attach(ufrag: string, d: Uint8Array, from: RemoteInfo): Promise<void> {
    let relay = this.byUfrag.get(ufrag);
    if (!relay) {
      let opening = this.opening.get(ufrag);
      if (!opening) {
        opening = this.open(ufrag, from).finally(() => this.opening.delete(ufrag));
        this.opening.set(ufrag, opening);
      }
      relay = await opening;
    }
    if (!relay) return;
    const key = `${from.address}:${from.port}`;
    relay.addrs.add(key);
    this.byAddr.set(key, relay);
    relay.client = from;
    relay.last = Date.now();
    relay.toOrigin.send(d);
  }

  private async open(ufrag: string, from: RemoteInfo): Promise<Relay | undefined> {
    if (this.byUfrag.size >= MAX_RELAYS) return undefined;
    const s = await this.lb.loadRtcByUfrag(ufrag);
    if (!s) return undefined;
    const again = this.byUfrag.get(ufrag);
    if (again) return again;
    let b;
    try {
      b = await this.lb.pick(s.stream_url);
    } catch (e) {
      this.log.warn(`proxy: WebRTC ${s.stream_url}: ${(e as Error).message}`);
      return undefined;
    }
    const port = firstPort(b.rtc, true);
    if (port < 0) {
      this.log.warn(`proxy: WebRTC ${s.stream_url}: origin ${describeBackend(b)} has no UDP port`);
      return undefined;
    }
    const toOrigin = createSocket(b.ip.includes(":") ? "udp6" : "udp4");
    const relay: Relay = { streamUrl: s.stream_url, ufrag, toOrigin, client: from, last: Date.now(), addrs: new Set() };
    toOrigin.on("message", (m) => {
      relay.last = Date.now();
      this.udp?.sock.send(m, relay.client.port, relay.client.address);
    });
    toOrigin.on("error", (e) => this.log.warn(`proxy: WebRTC relay ${ufrag}: ${e.message}`));
    await new Promise<void>((resolve) => toOrigin.connect(port, b.ip, () => resolve()));
    this.byUfrag.set(ufrag, relay);
    this.log.trace(`proxy: WebRTC relay ${s.stream_url} ${from.address}:${from.port} <-> origin ${b.ip}:${port}`);
    return relay;
  }

  private expire(): void {
    const now = Date.now();
    for (const [u, r] of this.byUfrag) {
      if (now - r.last < IDLE_MS) continue;
      r.toOrigin.close();
      this.byUfrag.delete(u);
      for (const a of r.addrs) this.byAddr.delete(a);
      this.log.trace(`proxy: WebRTC relay ${r.streamUrl} ${u} idle, closed`);
    }
  }
}
