/**
 * One stream a caster publishes (SRS: the RTMP client an SrsMpegtsOverUdp / SrsDynamicHttpConn opens to its
 * `output`). Every caster kind (mpegts_over_udp, flv, later gb28181) turns its input into MediaPackets and hands
 * them to a CasterSession, which is the publisher the rest of the server sees:
 *
 *  - `output` is an RTMP URL template; the caster fills its variables ([app], [stream], [vhost]) first.
 *  - Where it goes: when the URL's host is this server (a loopback address, `localhost`, or one of our listen
 *    addresses) and its port is one of our RTMP ports (1935 when the URL names none), the session publishes
 *    straight into the local hub (no RTMP round trip); the stream is `vhost/app/stream` resolved as an RTMP
 *    publisher's would be (an IP host means __defaultVhost__, `?vhost=` wins). Any other host is another server:
 *    the session pushes there with the RTMP client the composition root gives (as forward does), without a
 *    local stream.
 *  - A local publish is a real publisher: it registers as a client (the API lists it with its caster type,
 *    "mpegts-publish" / "flv-publish" / "gb28181-publish"), passes on_connect and on_publish (security rules and HTTP hooks; a
 *    refusal ends the session), claims the stream (busy: refused), and gives on_unpublish and on_close back.
 */
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { SrsConfig } from "../../config/index.ts";
import type { AccessControl } from "../../access.ts";
import type { PublishLease } from "../../hub/lease.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import { PublishError } from "../../hub/stream-hub.ts";
import { type Log, newContextId } from "../../log/logger.ts";
import { flvPlayersDecode, packetToFlvBody } from "../../media/flv-codec.ts";
import type { MediaPacket, StreamKey } from "../../media/packet.ts";
import { DEFAULT_RTMP_PORT, DEFAULT_VHOST, parseRtmpUrl, streamWithQuery } from "../../net/stream-url.ts";
import { parseEndpoint, portOf } from "../../net/endpoint.ts";
import type { Upstream, UpstreamConnector } from "../push-upstream.ts";
import type { GbEngineFactory } from "../../gb-engine.ts";

export type { Upstream, UpstreamConnector } from "../push-upstream.ts";

/** What the casters need of the server (lib/server.ts satisfies it). */
export interface CasterPorts {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: Pick<SrsConfig, "vhost" | "listen" | "streamCasters">;
  readonly hubs: Pick<StreamHubs, "publish">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "whyFull">;
  readonly access: AccessControl;
  readonly log: Log;
  /** Connects to an RTMP URL of another server (our RTMP client), for outputs that are not this server. */
  readonly connectUpstream?: UpstreamConnector;
  /** Builds the GB28181 SIP server + media port of a `caster gb28181` block (lib/protocols/gb28181/server.ts). */
  readonly gb28181?: GbEngineFactory;
}

/** Fills an output template: `[app]`, `[stream]` and `[vhost]` (SRS's srs_string_replace on the output). */
export function fillOutput(template: string, vars: { app?: string; stream?: string; vhost?: string }): string {
  let s = template;
  if (vars.vhost !== undefined) s = s.replaceAll("[vhost]", vars.vhost);
  if (vars.app !== undefined) s = s.replaceAll("[app]", vars.app);
  if (vars.stream !== undefined) s = s.replaceAll("[stream]", vars.stream);
  return s;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""]);

/** Whether `url` (a filled output) names this server: a local host (or a listen address) and one of our RTMP ports. */
export function isLocalOutput(url: string, rtmpListens: readonly string[]): boolean {
  const u = parseRtmpUrl(url);
  const port = u.port || DEFAULT_RTMP_PORT;
  const host = u.host.toLowerCase().replace(/^\[|\]$/g, "");
  return rtmpListens.some((l) => {
    if (portOf(l) !== port) return false;
    return LOCAL_HOSTS.has(host) || parseEndpoint(l).host.toLowerCase() === host;
  });
}

export interface CasterSessionOptions {
  /** The caster kind, for the log: "mpegts_over_udp", "flv". */
  caster: string;
  /** The API client type: "mpegts-publish", "flv-publish", "gb28181-publish". */
  type: string;
  /** The input's protocol for the API: "udp", "http". */
  protocol: string;
  ip: string;
  port: number;
  /** The filled output URL. */
  url: string;
  log: Log;
}

export class CasterSession implements ClientInfo {
  readonly id = newContextId();
  readonly type: string;
  readonly protocol: string;
  readonly ip: string;
  readonly connectedAt = Date.now();
  stream?: StreamKey;
  tcUrl?: string;
  param?: string;
  readonly log: Log;
  /** Where the packets go: "local" (the hub) or the remote URL. */
  target = "";
  private lease: PublishLease | undefined;
  private upstream: Upstream | undefined;
  private waitKeyframe = true;
  private draining = false;
  private registered = false;
  private connectAllowed = false;
  private closed = false;
  private received = 0;
  private sent = 0;
  packets = 0;
  private closeListeners: ((reason: string) => void)[] = [];

  constructor(private ctx: CasterPorts, readonly o: CasterSessionOptions) {
    this.type = o.type;
    this.protocol = o.protocol;
    this.ip = o.ip.replace(/^::ffff:/, "");
    this.log = o.log.child(this.id);
  }

  get isClosed(): boolean {
    return this.closed;
  }
  bytesIn(): number {
    return this.received;
  }
  bytesOut(): number {
    return this.sent;
  }
  /** Counts input bytes (datagrams, body chunks) for the API. */
  addBytesIn(n: number): void {
    this.received += n;
  }
  details(): Record<string, unknown> {
    return { caster: { kind: this.o.caster, output: this.o.url, target: this.target, packets: this.packets } };
  }
  kick(reason: string): void {
    this.log.trace(`caster ${this.o.caster} session kicked: ${reason}`);
    this.close(reason);
  }
  onClose(cb: (reason: string) => void): void {
    this.closeListeners.push(cb);
  }

  /** Resolves the output and claims it; undefined when publishing, else why not (the session is then closed). */
  async start(): Promise<string | undefined> {
    let u;
    try {
      u = parseRtmpUrl(this.o.url);
    } catch (e) {
      return this.refuse(`bad output ${this.o.url}: ${(e as Error).message}`);
    }
    if (!isLocalOutput(this.o.url, this.ctx.config.listen())) return await this.startRemote();
    this.target = "local";
    const full = this.ctx.clients.whyFull();
    if (full) return this.refuse(full);
    const vhost = this.ctx.config.vhost(u.vhost);
    if (!vhost || !vhost.enabled) return this.refuse(`vhost ${u.vhost} not found or disabled`);
    const key: StreamKey = { vhost: vhost.name || DEFAULT_VHOST, app: u.app, stream: u.stream };
    this.stream = key;
    this.tcUrl = u.tcUrl;
    this.param = u.param;
    this.ctx.clients.add(this);
    this.registered = true;
    const conn = await this.ctx.access.onConnect(this);
    if (this.closed) return "closed";
    if (!conn.ok) return this.refuse(`connect refused: ${conn.reason}`);
    this.connectAllowed = true;
    const gate = await this.ctx.access.onPublish(this, key);
    if (this.closed) return "closed";
    if (!gate.ok) return this.refuse(`publish ${key.app}/${key.stream} refused: ${gate.reason}`);
    try {
      this.lease = this.ctx.hubs.publish(key, { clientId: this.id, type: this.type, ip: this.ip, kick: (r) => this.kick(r) });
    } catch (e) {
      if (e instanceof PublishError) return this.refuse(e.message);
      throw e;
    }
    this.log.trace(`caster ${this.o.caster}: ${this.ip}:${this.o.port} publishes ${key.vhost}/${key.app}/${key.stream} (${this.o.url})`);
    return undefined;
  }

  /** Another server: push with our RTMP client (no local stream, no local hooks: the destination has its own). */
  private async startRemote(): Promise<string | undefined> {
    const connect = this.ctx.connectUpstream;
    if (!connect) return this.refuse(`output ${this.o.url} is not this server and no RTMP client is available`);
    this.target = this.o.url;
    const u = parseRtmpUrl(this.o.url);
    const url = `${u.tcUrl}/${streamWithQuery(u.host, u.vhost, u.stream, u.param)}`;
    try {
      const up = await connect(url, { timeoutMs: 5000 });
      if (this.closed) {
        up.destroy();
        return "closed";
      }
      this.upstream = up;
      await up.publish();
      void up.closed.then(() => this.close(`output ${this.o.url} closed the connection`));
    } catch (e) {
      return this.refuse(`output ${this.o.url}: ${(e as Error).message}`);
    }
    this.log.trace(`caster ${this.o.caster}: ${this.ip}:${this.o.port} pushes to ${this.o.url}`);
    return undefined;
  }

  private refuse(reason: string): string {
    this.log.warn(`caster ${this.o.caster}: ${this.ip}:${this.o.port} refused: ${reason}`);
    this.close(reason);
    return reason;
  }

  /** One packet of the input. */
  push(p: MediaPacket): void {
    if (this.closed) return;
    this.packets++;
    if (this.lease) {
      this.lease.push(p);
      return;
    }
    const up = this.upstream;
    if (!up || !flvPlayersDecode(p)) return;
    // A remote output that does not keep up: everything is dropped until its socket drains, then until the next
    // keyframe (memory stays bounded whatever the destination does).
    if (this.draining) return;
    if (this.waitKeyframe && p.kind === "video" && !p.config && !p.keyframe) return;
    if (p.kind === "video" && p.keyframe) this.waitKeyframe = false;
    const body = packetToFlvBody(p);
    this.sent += body.byteLength;
    if (!up.sendMedia(p.kind, p.dts, body)) {
      this.draining = true;
      void up.drain().then(() => {
        this.draining = false;
        this.waitKeyframe = true;
      }, () => this.close(`output ${this.o.url}: write failed`));
    }
  }

  /** Why the session ended ("" while it runs). */
  closeReason = "";

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    const key = this.stream;
    if (this.lease && key) {
      this.lease.dispose();
      this.ctx.access.onUnpublish(this, key);
      this.log.trace(`caster ${this.o.caster}: unpublish ${key.app}/${key.stream} (${reason}), ${this.packets} packets, in=${this.received}B`);
    }
    this.lease = undefined;
    if (this.upstream) {
      this.upstream.destroy();
      this.log.trace(`caster ${this.o.caster}: push to ${this.o.url} ended (${reason}), ${this.packets} packets`);
    }
    this.upstream = undefined;
    if (this.registered) this.ctx.clients.remove(this.id);
    if (this.connectAllowed) this.ctx.access.onClose(this);
    for (const cb of this.closeListeners.splice(0)) cb(reason);
  }
}
