/**
 * Pulling cameras natively (vhost `rtsp_pull <id> { url; stream; }`, lib/config/rtsp-server.ts): our RTSP client
 * (RFC 2326) asks the camera for its stream and publishes it into the hub, no FFmpeg.
 *
 * One pull: TCP connect, OPTIONS, DESCRIBE (a 401 is answered once with Digest, RFC 2617 without or with
 * qop=auth, or Basic, from the URL's user:password), SETUP of every track we can take with RTP interleaved on the
 * connection (RFC 2326 10.12; channels 0-1, 2-3, ...) or over UDP to a socket pair of ours per track (`transport
 * udp`; RTP accepted from the camera's address only), PLAY; then RTP -> TrackReceiver (receiver.ts) -> the
 * stream's publish lease, and OPTIONS as keep-alive every half session timeout. The pull is a client of type
 * "rtsp-pull" (API, kick) and a publisher for the hooks: on_publish before it claims the stream (a refusal is
 * retried after the back-off), on_unpublish when it ends. No RTP for 10 s, a closed
 * connection or an error: the pull gives the stream back and connects again after a back-off (1 s doubling to
 * 30 s, reset once media flowed for a while). A busy stream (someone else publishes it) is retried the same way.
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "../../runtime/hash.ts";
import { connectTcp, type TcpConnection } from "../../runtime/tcp.ts";
import type { PublishLease } from "../../hub/lease.ts";
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { AccessControl } from "../../access.ts";
import { newContextId } from "../../log/logger.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import { PublishError } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import type { MediaPacket, StreamKey } from "../../media/packet.ts";
import { streamKeyString } from "../../media/packet.ts";
import { parseRtpPacket } from "../../formats/rtp-packet.ts";
import { digestResponse, parseDigestParams } from "../../net/digest.ts";
import { RtspHeaders, type RtspItem, RtspReader, type RtspResponse, serializeRequest } from "./message.ts";
import { parseSdp, type SdpTrack } from "./sdp.ts";
import { TrackReceiver } from "./receiver.ts";
import { bindPair, closePair, type UdpPair } from "./udp.ts";

export interface RtspPullPorts {
  readonly hubs: Pick<StreamHubs, "publish">;
  readonly log: Log;
  /** The pull shows in the API's clients (type "rtsp-pull") and passes on_publish / on_unpublish as a publisher. */
  readonly clients: Pick<ClientRegistry, "add" | "remove">;
  readonly access: AccessControl;
}

export interface RtspPullTarget {
  id: string;
  url: string;
  key: StreamKey;
  /** RTP interleaved on the RTSP connection, or UDP to a socket pair of ours per track. */
  transport: "tcp" | "udp";
}

const RESPONSE_TIMEOUT_MS = 10000;
const MEDIA_TIMEOUT_MS = 10000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;

class PullError extends Error {}

/** The URL without its credentials, and the credentials. */
export function splitRtspUrl(url: string): { url: string; host: string; port: number; user?: string; password?: string } {
  const m = /^rtsp:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/?]+)(?::(\d+))?(.*)$/i.exec(url.trim());
  if (!m) throw new PullError(`not an rtsp:// URL: ${url}`);
  const host = m[3]!.replace(/^\[(.*)\]$/, "$1");
  const port = m[4] ? Number(m[4]) : 554;
  const rest = m[5] || "/";
  const clean = `rtsp://${m[3]}${m[4] ? `:${m[4]}` : ""}${rest}`;
  return {
    url: clean, host, port,
    ...(m[1] ? { user: decodeURIComponent(m[1]) } : {}),
    ...(m[2] !== undefined ? { password: decodeURIComponent(m[2]) } : {}),
  };
}

/** A track's SETUP URL: an absolute control, or the control relative to the base (RFC 2326 C.1.1). */
export function controlUrl(base: string, control: string): string {
  if (/^rtsp:\/\//i.test(control)) return control;
  if (!control || control === "*") return base;
  return base.endsWith("/") ? base + control : `${base}/${control}`;
}

export class RtspPull {
  private stopped = false;
  private socket: TcpConnection | undefined;
  private backoff = BACKOFF_MIN_MS;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly log: Log;
  /** Times connected and played (tests, logs). */
  sessions = 0;

  constructor(private ctx: RtspPullPorts, readonly target: RtspPullTarget) {
    this.log = ctx.log.child(`pull-${target.id}`);
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const t0 = Date.now();
      try {
        await this.once();
      } catch (e) {
        if (!this.stopped) this.log.warn(`rtsp pull ${this.target.id} ${splitRtspUrl(this.target.url).url}: ${(e as Error).message}`);
      }
      if (this.stopped) return;
      if (Date.now() - t0 > 60000) this.backoff = BACKOFF_MIN_MS;
      this.log.trace(`rtsp pull ${this.target.id}: connecting again in ${this.backoff} ms`);
      await new Promise<void>((r) => (this.timer = setTimeout(r, this.backoff)));
      this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
    }
  }

  /** One session with the camera: resolves or throws when it ends. */
  private async once(): Promise<void> {
    const u = splitRtspUrl(this.target.url);
    let socket: TcpConnection;
    try {
      socket = await connectTcp({ host: u.host, port: u.port, noDelay: true });
    } catch (e) {
      throw new PullError(`connection: ${(e as Error).message}`);
    }
    if (this.stopped) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    return new Promise<void>((resolve, reject) => {
      let cseq = 0;
      const waiting = new Map<number, (r: RtspResponse) => void>();
      let auth: ((method: string, uri: string) => string) | undefined;
      let session: string | undefined;
      let lease: PublishLease | undefined;
      let client: ClientInfo | undefined;
      let bytesIn = 0;
      let keepAlive: ReturnType<typeof setInterval> | undefined;
      let lastMedia = Date.now();
      let done = false;
      const byChannel = new Map<number, TrackReceiver>();
      const pairs: UdpPair[] = [];
      let firstArrival: number | undefined;
      const onRtp = (r: TrackReceiver, data: Uint8Array): void => {
        const p = parseRtpPacket(data);
        if (typeof p === "string") return;
        const now = Date.now();
        lastMedia = now;
        firstArrival ??= now;
        r.push(p.payload, p.sequence, p.timestamp, p.marker, p.payloadType, now - firstArrival);
      };
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        if (keepAlive) clearInterval(keepAlive);
        for (const r of byChannel.values()) r.flush();
        for (const u of pairs) closePair(u);
        if (lease && client) {
          lease.dispose();
          this.ctx.access.onUnpublish(client, this.target.key);
          this.log.trace(`rtsp pull ${this.target.id}: unpublished ${streamKeyString(this.target.key)}`);
        }
        if (client) this.ctx.clients.remove(client.id);
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      const reader = new RtspReader((item: RtspItem) => {
        if (item.type === "frame") {
          const r = byChannel.get(item.channel);
          if (r) onRtp(r, item.data);
        } else if (item.type === "response" && item.cseq !== undefined) {
          waiting.get(item.cseq)?.(item);
          waiting.delete(item.cseq);
        }
      });
      const request = (method: string, uri: string, headers = new RtspHeaders()): Promise<RtspResponse> => {
        const n = ++cseq;
        headers.set("User-Agent", "srs-ts");
        if (session) headers.set("Session", session);
        if (auth) headers.set("Authorization", auth(method, uri));
        socket.write(serializeRequest(method, uri, n, headers));
        return new Promise((res, rej) => {
          const t = setTimeout(() => {
            waiting.delete(n);
            rej(new PullError(`no answer to ${method} in ${RESPONSE_TIMEOUT_MS} ms`));
          }, RESPONSE_TIMEOUT_MS);
          waiting.set(n, (r) => {
            clearTimeout(t);
            res(r);
          });
        });
      };
      /** A request answered 401 once gets credentials from the URL and goes again. */
      const send = async (method: string, uri: string, headers?: () => RtspHeaders): Promise<RtspResponse> => {
        let r = await request(method, uri, headers?.());
        if (r.status === 401 && !auth && u.user !== undefined) {
          auth = this.credentials(r, u.user, u.password ?? "");
          r = await request(method, uri, headers?.());
        }
        if (r.status !== 200) throw new PullError(`${method} answered ${r.status} ${r.reason}`);
        return r;
      };
      socket.on("data", (d: Buffer) => {
        bytesIn += d.byteLength;
        try {
          reader.feed(d);
        } catch (e) {
          finish(e as Error);
        }
      });
      socket.on("error", (e) => finish(new PullError(`connection: ${e.message}`)));
      socket.on("close", () => finish(done ? undefined : new PullError("the camera closed the connection")));
      // connected: the requests, in order
      void (async () => {
        await send("OPTIONS", u.url);
        const d = await send("DESCRIBE", u.url, () => new RtspHeaders().add("Accept", "application/sdp"));
        const base = d.headers.get("Content-Base") ?? d.headers.get("Content-Location") ?? u.url;
        const sdp = parseSdp(new TextDecoder().decode(d.body));
        for (const x of sdp.unsupported) this.log.warn(`rtsp pull ${this.target.id}: ${x} not supported, dropped`);
        if (!sdp.tracks.length) throw new PullError("no track we can take");
        const tracks: SdpTrack[] = sdp.tracks;
        let timeoutS = 60;
        const udp = this.target.transport === "udp";
        for (let i = 0; i < tracks.length; i++) {
          const t = tracks[i]!;
          let pair: UdpPair | undefined;
          if (udp) {
            pair = await bindPair(socket.localAddress ?? "0.0.0.0");
            pairs.push(pair);
            if (done) return;
          }
          const spec = pair ? `RTP/AVP;unicast;client_port=${pair.ports[0]}-${pair.ports[1]}` : `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}`;
          const r = await send("SETUP", controlUrl(base, t.control), () => new RtspHeaders().add("Transport", spec));
          const sh = r.headers.get("Session");
          if (sh) {
            session = sh.split(";")[0]!.trim();
            const m = /timeout=(\d+)/.exec(sh);
            if (m) timeoutS = Math.max(5, Number(m[1]));
          }
          const receiver = new TrackReceiver(t, (p: MediaPacket) => lease?.push(p), this.log);
          if (pair) {
            // RTP from the camera's address only (its server_port may differ from what it says behind NAT).
            const from = (socket.remoteAddress ?? u.host).replace(/^::ffff:/, "");
            pair.onRtp = (m, rinfo) => {
              if (rinfo.address.replace(/^::ffff:/, "") !== from) return;
              bytesIn += m.byteLength;
              onRtp(receiver, m);
            };
            if (/RTP\/AVP\/TCP/i.test(r.headers.get("Transport") ?? "")) throw new PullError("the camera answered UDP with TCP");
          } else {
            const tr = /interleaved=(\d+)/.exec(r.headers.get("Transport") ?? "");
            byChannel.set(tr ? Number(tr[1]) : 2 * i, receiver);
          }
        }
        const key = this.target.key;
        const kick = (why: string): void => finish(new PullError(`kicked: ${why}`));
        client = {
          id: newContextId(), type: "rtsp-pull", protocol: "rtsp", ip: u.host, stream: key, connectedAt: Date.now(),
          tcUrl: u.url.replace(/\/[^/]*$/, ""), param: "", transport: this.target.transport,
          bytesIn: () => bytesIn, bytesOut: () => 0, kick,
        };
        this.ctx.clients.add(client);
        const gate = await this.ctx.access.onPublish(client, key);
        if (done) return;
        if (!gate.ok) throw new PullError(`on_publish refused: ${gate.reason}`);
        try {
          lease = this.ctx.hubs.publish(key, { clientId: client.id, type: "rtsp-pull", ip: u.host, kick });
        } catch (e) {
          if (e instanceof PublishError) throw new PullError(`stream busy: ${e.message}`);
          throw e;
        }
        await send("PLAY", base.replace(/\/$/, "") || u.url, () => new RtspHeaders().add("Range", "npt=0.000-"));
        this.sessions++;
        lastMedia = Date.now();
        this.log.trace(`rtsp pull ${this.target.id}: ${u.url} -> ${streamKeyString(this.target.key)} over ${this.target.transport}, tracks ${tracks.map((t) => t.codec).join("+")}`);
        let keepAliveAt = Date.now();
        keepAlive = setInterval(() => {
          if (Date.now() - lastMedia > MEDIA_TIMEOUT_MS) {
            finish(new PullError(`no media for ${MEDIA_TIMEOUT_MS} ms`));
            return;
          }
          if (Date.now() - keepAliveAt > (timeoutS * 1000) / 2) {
            keepAliveAt = Date.now();
            request("OPTIONS", u.url).catch(() => undefined);
          }
        }, 1000);
      })().catch((e) => finish(e as Error));
    });
  }

  /** The Authorization value for each request after a 401 (Digest preferred, RFC 2617 3.2.2; else Basic). */
  private credentials(r: RtspResponse, user: string, password: string): (method: string, uri: string) => string {
    const challenges = r.headers.getAll("WWW-Authenticate");
    const digest = challenges.map((c) => parseDigestParams(c)).find((p) => p !== undefined);
    if (digest) {
      const realm = digest.get("realm") ?? "";
      const nonce = digest.get("nonce") ?? "";
      const opaque = digest.get("opaque");
      const qop = (digest.get("qop") ?? "").split(",").map((x) => x.trim()).includes("auth") ? "auth" : undefined;
      let nc = 0;
      const q = (s: string) => s.replace(/["\\]/g, "");
      return (method, uri) => {
        const cnonce = Buffer.from(randomBytes(8)).toString("hex");
        const ncs = (++nc).toString(16).padStart(8, "0");
        const response = digestResponse({ username: user, realm, password, method, uri, nonce, ...(qop ? { qop, nc: ncs, cnonce } : {}) });
        return `Digest username="${q(user)}", realm="${q(realm)}", nonce="${q(nonce)}", uri="${q(uri)}", response="${response}"` +
          (qop ? `, qop=auth, nc=${ncs}, cnonce="${cnonce}"` : "") + (opaque ? `, opaque="${q(opaque)}"` : "") + ", algorithm=MD5";
      };
    }
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    return () => basic;
  }
}

/** The pulls of a server, matched to the config on start and on every reload. */
export class RtspPullService {
  private pulls = new Map<string, { sig: string; pull: RtspPull }>();

  constructor(private ctx: RtspPullPorts & { readonly config: { vhosts(): string[]; vhost(name: string): { enabled: boolean; name: string; rtspPulls: { id: string; enabled: boolean; url: string; app: string; stream: string; transport: string }[] } | undefined } }) {}

  get running(): RtspPull[] {
    return [...this.pulls.values()].map((p) => p.pull);
  }

  /** Starts the pulls the config has and this service does not, stops the ones gone or changed. */
  reconcile(): { started: number; stopped: number } {
    const want = new Map<string, { sig: string; target: RtspPullTarget }>();
    for (const name of this.ctx.config.vhosts()) {
      const v = this.ctx.config.vhost(name);
      if (!v || !v.enabled) continue;
      for (const p of v.rtspPulls) {
        if (!p.enabled || !p.url) continue;
        if (p.transport !== "tcp" && p.transport !== "udp") this.ctx.log.warn(`rtsp_pull ${p.id}: transport ${p.transport} unknown, pulling over tcp`);
        const transport = p.transport === "udp" ? "udp" : "tcp";
        const key: StreamKey = { vhost: v.name, app: p.app, stream: p.stream };
        const id = `${v.name}/${p.id}`;
        want.set(id, { sig: JSON.stringify([p.url, key, transport]), target: { id: p.id, url: p.url, key, transport } });
      }
    }
    let started = 0;
    let stopped = 0;
    for (const [id, cur] of [...this.pulls]) {
      if (want.get(id)?.sig === cur.sig) continue;
      cur.pull.stop();
      this.pulls.delete(id);
      stopped++;
    }
    for (const [id, w] of want) {
      if (this.pulls.has(id)) continue;
      const pull = new RtspPull(this.ctx, w.target);
      this.pulls.set(id, { sig: w.sig, pull });
      pull.start();
      started++;
    }
    return { started, stopped };
  }

  stop(): void {
    for (const p of this.pulls.values()) p.pull.stop();
    this.pulls.clear();
  }
}
