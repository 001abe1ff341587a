/**
 * HTTP live streaming (`http_remux`): [vhost]/[app]/[stream].flv|.ts|.aac|.mp3 served chunked from the hub,
 * the encoded bytes shared among all players of a stream.
 *
 * Matching, as SRS's HTTP mux does with the mounts of `http_remux`:
 *  - every enabled vhost with `http_remux { enabled on; }` has one mount template (default
 *    `[vhost]/[app]/[stream].flv`); the extension of the template picks the format;
 *  - `[vhost]` is optional in the URL: the default vhost serves `/live/s.flv`; a non-default vhost is chosen by
 *    the Host header (as SRS's host-specific patterns), by `?vhost=`, or by the URL's first path part naming it
 *    (`/v.example/live/s.flv`);
 *  - anything else falls through to the next handler (static files).
 *
 * On an edge vhost (cluster mode remote) a stream that is not live is pulled first: the player (after its gates,
 * so a refused one pulls nothing) wants the stream (`edge.awaitLive`) and waits for it, then plays; 404 when the
 * pull brought nothing in time.
 *
 * Elsewhere a stream that is not being published answers 404 at once, before any on_play hook: SRS 7 does the same
 * (its HTTP stream handler only exists while a publisher is active, so the request falls through to the file
 * server, "HTTP miss file"; SRS 6 and older kept the player waiting, ossrs/srs#4611). When the publisher
 * leaves, the response ends (players reconnect), as SRS unmounts the stream on unpublish.
 *
 * Origin cluster (beyond SRS, whose HTTP streams know nothing of the cluster): on a vhost with `origin_cluster on`,
 * a stream not published here is looked up among the coworkers (lib/services/cluster/origin-cluster.ts); when one
 * holds it and said where its http_server is (srs-ts's `http` field; a real SRS coworker does not say), the player
 * gets an HTTP 302 to the same path there, with its query (and `vhost=` when needed). Otherwise 404 as above.
 *
 * Streaming uses a web ReadableStream per player; its queue is the player's backlog (writableLength), so
 * FanOut/BytePlayer's batching and skip-ahead work unchanged. A client going away cancels the stream, which
 * frees the player at once.
 */
import type { Context, Hono } from "hono";
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { SrsConfig, VhostConfig } from "../../config/index.ts";
import { BytePlayer, type ByteSink, type FanOut, mergedWrites } from "../../hub/fanout.ts";
import type { Lease, OutputSpec, PlayLease } from "../../hub/lease.ts";
import type { StreamHub } from "../../hub/stream-hub.ts";
import { type Log, newContextId } from "../../log/logger.ts";
import type { StreamKey } from "../../media/packet.ts";
import { parseEndpoint } from "../../net/endpoint.ts";
import type { ServeInfo } from "../../runtime/http-serve.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import type { AccessControl } from "../../access.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import { aacOutput, mp3Output } from "./audio-stream.ts";
import { flvFileHeader, flvHeaderFlags, flvOutput } from "./flv-stream.ts";
import { tsOutput } from "../../outputs/ts-fanout.ts";
import { redirectQuery } from "../../net/cluster-url.ts";

export type LiveFormat = "flv" | "ts" | "aac" | "mp3";

/** What HTTP live streaming needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface HttpLivePorts {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: SrsConfig;
  readonly hubs: Pick<StreamHubs, "find">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "size" | "whyFull">;
  readonly access: AccessControl;
  readonly log: Log;
  /** Asked when a player of an `origin_cluster` vhost wants a stream nobody publishes here. */
  readonly originCluster?: HttpClusterLocator;
  /** The edge (lib/services/cluster/edge.ts): pulls a stream of an edge vhost for its first player. */
  readonly edge?: LiveEdgePort;
}

/** The origin cluster: which coworker holds a stream, and its http_server ("host:port") when it said. */
export interface HttpClusterLocator {
  locate(key: StreamKey, host: string, log: Log): Promise<{ http?: string } | undefined>;
}

/** What HTTP live streaming asks of an edge. */
export interface LiveEdgePort {
  /** Whether a player of `key`, not live here, waits for a pull (an edge vhost, a stream another worker owns). */
  canPull(key: StreamKey): boolean;
  /** Wants the stream and waits until it is live; the lease keeps it wanted until the player plays. */
  awaitLive(key: StreamKey, signal?: AbortSignal): Promise<Lease | undefined>;
}

export const LIVE_CONTENT_TYPES: Record<LiveFormat, string> = {
  flv: "video/x-flv",
  ts: "video/MP2T",
  aac: "audio/aac",
  mp3: "audio/mpeg",
};

const DEFAULT_VHOST = "__defaultVhost__";

// ---------------------------------------------------------------------------------------------------------
// Mount templates

interface Mount {
  vhost: string;
  format: LiveFormat;
  /** The template started with `[vhost]`: the vhost name may also be the URL's first path part. */
  withVhost: boolean;
  re: RegExp;
  /** App fixed by the template (no `[app]`): the path's directory. */
  hasApp: boolean;
}

export interface LiveMatch {
  vhost: string;
  format: LiveFormat;
  key: StreamKey;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles a mount template (`[vhost]/[app]/[stream].flv`) for one vhost; undefined when not a live format. */
export function compileMount(vhost: string, template: string): Mount | undefined {
  const dot = template.lastIndexOf(".");
  const ext = dot >= 0 ? template.slice(dot + 1).toLowerCase() : "";
  if (ext !== "flv" && ext !== "ts" && ext !== "aac" && ext !== "mp3") return undefined;
  let t = template.trim();
  const withVhost = t.startsWith("[vhost]");
  if (withVhost) t = t.slice("[vhost]".length);
  if (!t.startsWith("/")) t = "/" + t;
  let re = "^";
  let hasApp = false;
  let hasStream = false;
  for (const part of t.split(/(\[app\]|\[stream\])/)) {
    if (part === "[app]") {
      re += "(?<app>.+?)";
      hasApp = true;
    } else if (part === "[stream]") {
      re += "(?<stream>[^/]+?)";
      hasStream = true;
    } else re += escapeRe(part);
  }
  if (!hasStream) return undefined;
  return { vhost, format: ext, withVhost, re: new RegExp(re + "$"), hasApp };
}

const mountCache = new WeakMap<SrsConfig, Mount[]>();

/** The live mounts of a config (computed once per loaded config; a reload brings a new config object). */
export function liveMounts(config: SrsConfig): Mount[] {
  let list = mountCache.get(config);
  if (list) return list;
  list = [];
  for (const name of config.vhosts()) {
    const v: VhostConfig | undefined = config.vhostExact(name);
    if (!v || !v.enabled || !v.httpRemux.enabled) continue;
    const m = compileMount(v.name, v.httpRemux.mount);
    if (m) list.push(m);
  }
  mountCache.set(config, list);
  return list;
}

function tryMount(m: Mount, path: string): LiveMatch | undefined {
  const r = m.re.exec(path);
  if (!r?.groups) return undefined;
  const stream = r.groups.stream ?? "";
  let app = r.groups.app;
  if (app === undefined) {
    // A template with a fixed app (`/live/[stream].flv`): the app is the path's directory.
    const slash = path.lastIndexOf("/");
    app = path.slice(1, slash);
  }
  app = app.replace(/^\/+|\/+$/g, "");
  if (!stream || !app || app.split("/").some((s) => s === "" || s === "." || s === "..")) return undefined;
  return { vhost: m.vhost, format: m.format, key: { vhost: m.vhost, app, stream } };
}

/**
 * Which live stream a request names, if any. `pathname` is the raw (still percent-encoded) URL path.
 */
export function matchLive(config: SrsConfig, pathname: string, host: string, query: URLSearchParams): LiveMatch | undefined {
  const mounts = liveMounts(config);
  if (mounts.length === 0) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (path.includes("\0")) return undefined;
  const hostName = host.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const named = query.get("vhost") || query.get("domain") || hostName;
  // 1. A vhost named by ?vhost= or the Host header.
  for (const m of mounts) {
    if (m.vhost !== DEFAULT_VHOST && m.vhost === named) {
      const hit = tryMount(m, path);
      if (hit) return hit;
    }
  }
  // 2. The vhost as the first path part (`/v.example/live/s.flv`).
  const second = path.indexOf("/", 1);
  if (second > 1) {
    const first = path.slice(1, second);
    for (const m of mounts) {
      if (m.withVhost && m.vhost !== DEFAULT_VHOST && m.vhost === first) {
        const hit = tryMount(m, path.slice(second));
        if (hit) return hit;
      }
    }
  }
  // 3. The default vhost.
  for (const m of mounts) {
    if (m.vhost === DEFAULT_VHOST) {
      const hit = tryMount(m, path);
      if (hit) return hit;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// One player: a client (for stats, kick, hooks) and a ByteSink over its response stream.

/** The queue of a response stream counts bytes: desiredSize = 0 - queued bytes. */
const STRATEGY: QueuingStrategy<Uint8Array> = { highWaterMark: 0, size: (c) => c?.byteLength ?? 0 };

/**
 * How a response's bytes reach Bun's sink (Bun 1.4.5, HTTPServerWritable): a chunk of 2 KB or more that finds the
 * sink's buffer empty goes straight to the socket (uWS queues what the socket does not take); a chunk that finds
 * bytes already in the buffer is appended to it first, and the buffer keeps that capacity for the life of the
 * response. So a small chunk followed by a large one in the same read costs the response a buffer as large as the
 * large one: the 13-byte FLV header enqueued before the start-up burst made every HTTP-FLV player hold a 16 KB
 * buffer (500 players of a 1 Mbps stream: server RSS +26 KB per player; without that header +6 KB, in a probe
 * with Bun.serve alone).
 *
 * Hence: (1) while a player starts, small writes (the header) are held and joined to the first JOIN bytes of the
 * start-up burst, or enqueued alone when no burst follows; (2) a write larger than SPLIT_ABOVE (a joining player's
 * start-up burst: metadata, sequence headers, GOP, ~130 KB for a 2 s GOP at 1 Mbps) is enqueued as views of PIECE
 * bytes, the remainder joined to the last piece, so no piece is small (a whole 130 KB chunk would make its own
 * buffer as large as the part the socket did not take at once). The merged writes of live packets (mw_latency)
 * stay whole: cutting those too saved a little more memory but cost 50% more CPU.
 */
const SPLIT_ABOVE = 64 * 1024;
const PIECE = 16 * 1024;
/** Bytes of a start-up burst joined to the held header: more than the sink's 2 KB high-water mark. */
const JOIN = 4 * 1024;

class HttpLivePlayer implements ClientInfo, ByteSink {
  readonly id = newContextId();
  readonly protocol = "http";
  type = "flv-play";
  readonly connectedAt = Date.now();
  stream?: StreamKey;
  tcUrl?: string;
  pageUrl?: string;
  swfUrl?: string;
  param?: string;
  /** SRS's client name for HTTP streams keeps the extension ("livestream.flv"), unlike stream.stream. */
  name = "";
  destroyed = false;
  readonly body: ReadableStream<Uint8Array>;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private written = 0;
  private playLease: PlayLease<FanOut> | undefined;
  private player: BytePlayer | undefined;
  private playing = false;
  /** True during start(): small writes are held in `held` (see SPLIT_ABOVE). */
  private starting = false;
  private held: Uint8Array | undefined;
  readonly log: Log;

  constructor(
    private ctx: HttpLivePorts,
    readonly ip: string,
    private requestBytes: number,
  ) {
    this.log = ctx.log.child(this.id);
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        cancel: () => this.finish("client closed"),
      },
      STRATEGY,
    );
  }

  // ByteSink
  get writableLength(): number {
    const d = this.controller?.desiredSize;
    return d === null || d === undefined || d >= 0 ? 0 : -d;
  }

  write(data: Uint8Array): boolean {
    if (this.destroyed || !this.controller || data.byteLength === 0) return !this.destroyed;
    if (this.starting && data.byteLength < PIECE) {
      // Held until the start-up burst (see SPLIT_ABOVE): joined to its first piece, or enqueued by start().
      this.held = this.held ? Buffer.concat([this.held, data]) : data;
      this.written += data.byteLength;
      return true;
    }
    try {
      const n = data.byteLength;
      let from = 0;
      if (this.held) {
        // The held bytes go out joined to the first JOIN bytes of this write (a small copy, not the burst's).
        from = n - JOIN < JOIN ? n : JOIN;
        this.controller.enqueue(Buffer.concat([this.held, data.subarray(0, from)]));
        this.held = undefined;
      }
      const rest = n - from;
      if (rest > 0 && rest <= SPLIT_ABOVE) this.controller.enqueue(from ? data.subarray(from) : data);
      else if (rest > 0) {
        const pieces = Math.floor(rest / PIECE);
        for (let k = 0; k < pieces; k++) {
          this.controller.enqueue(data.subarray(from + k * PIECE, k === pieces - 1 ? n : from + (k + 1) * PIECE));
        }
      }
      this.written += n;
      return true;
    } catch {
      this.finish("response closed");
      return false;
    }
  }

  // ClientInfo
  bytesIn(): number {
    return this.requestBytes;
  }
  bytesOut(): number {
    return this.written;
  }
  kick(reason: string): void {
    this.log.trace(`http stream client kicked: ${reason}`);
    this.finish(reason, "close");
  }

  /** Starts streaming: header bytes first, then (via the shared output) metadata, sequence headers, GOP, live. */
  start(hub: StreamHub, output: OutputSpec<FanOut>, header: Uint8Array | undefined): void {
    this.playing = true;
    this.player = new BytePlayer(this, {
      onOverflow: (reason) => this.finish(`slow player: ${reason}`, "abort"),
      // The stream is gone: deliver what is queued and end the response (SRS unmounts it).
      onUnpublish: () => this.finish("stream unpublished", "close"),
    });
    this.starting = true;
    try {
      if (header) this.player.writeNow(header);
      this.playLease = hub.play(output, this.player);
    } finally {
      this.starting = false;
    }
    const held = this.held;
    this.held = undefined;
    if (held && !this.destroyed) {
      try {
        this.controller?.enqueue(held);
      } catch {
        this.finish("response closed");
      }
    }
  }

  /**
   * Ends the session once: frees the player, forgets the client, on_stop. `how`: "close" ends the response
   * after what is queued, "abort" errors it (the connection is cut), "none" when the client already left.
   */
  finish(reason: string, how: "close" | "abort" | "none" = "none"): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.playLease?.dispose();
    this.ctx.clients.remove(this.id);
    if (this.playing && this.stream) this.ctx.access.onStop(this, this.stream);
    this.ctx.access.onClose(this);
    try {
      if (how === "close") this.controller?.close();
      else if (how === "abort") this.controller?.error(new Error(reason));
    } catch {
      // already closed by the runtime
    }
    this.log.trace(`http stream client closed (${reason}), out=${this.written}B skips=${this.player?.skips ?? 0} ` +
      `alive=${((Date.now() - this.connectedAt) / 1000).toFixed(1)}s`);
  }
}

// ---------------------------------------------------------------------------------------------------------

type Env = { Bindings: Partial<ServeInfo> };

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", Server: SERVER_SIGNATURE } });
}

/** An HTTP 302 to the coworker that holds the stream (see the header comment), or undefined. */
async function clusterRedirect(
  ctx: HttpLivePorts,
  vhost: VhostConfig,
  m: LiveMatch,
  url: URL,
  host: string,
): Promise<Response | undefined> {
  const cluster = vhost.cluster;
  if (!cluster.originCluster || cluster.isEdge || !ctx.originCluster) return undefined;
  const hostName = host.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const origin = await ctx.originCluster.locate(m.key, hostName, ctx.log);
  if (!origin) return undefined;
  const what = `${m.key.app}/${m.key.stream}.${m.format}`;
  if (!origin.http) {
    ctx.log.warn(`http stream ${what}: the coworker holding it did not say where its http_server is (an SRS ` +
      `coworker does not): not redirected`);
    return undefined;
  }
  const location = `http://${origin.http}${url.pathname}${redirectQuery({ host: hostName, vhost: m.vhost, param: url.search })}`;
  ctx.log.trace(`http stream ${what}: redirect in cluster to ${location}`);
  return new Response(null, { status: 302, headers: { Location: location, Server: SERVER_SIGNATURE } });
}

function firstRtmpPort(config: SrsConfig): number {
  try {
    return parseEndpoint(config.listen()[0] ?? "1935").port;
  } catch {
    return 1935;
  }
}

function approxRequestBytes(req: Request, url: URL): number {
  let n = req.method.length + url.pathname.length + url.search.length + 12;
  req.headers.forEach((v, k) => (n += k.length + v.length + 4));
  return n;
}

export function mountLive(app: Hono, ctx: HttpLivePorts): void {
  app.get("*", async (c: Context<Env>, next) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    const host = req.headers.get("host") ?? url.host;
    const m = matchLive(ctx.config, url.pathname, host, url.searchParams);
    if (!m) return next();
    return await serveLive(ctx, req, url, host, m, c.env?.remoteAddr ?? "");
  });
}

async function serveLive(
  ctx: HttpLivePorts,
  req: Request,
  url: URL,
  host: string,
  m: LiveMatch,
  remoteAddr: string,
): Promise<Response> {
  const config = ctx.config;
  const vhost = config.vhostExact(m.vhost);
  if (!vhost) return text(404, "Not Found");
  const what = `${m.key.app}/${m.key.stream}.${m.format}`;
  let hub = ctx.hubs.find(m.key);
  const pull = (!hub || !hub.active) && req.method !== "HEAD" && ctx.edge?.canPull(m.key) === true;
  // SRS 7: no publisher, no stream handler: 404 before any hook (see the header comment). An edge pulls it; an
  // origin of an origin cluster sends the player to the coworker that holds it.
  if (!pull && (!hub || !hub.active)) {
    const moved = await clusterRedirect(ctx, vhost, m, url, host);
    if (moved) return moved;
    ctx.log.info(`http stream ${what} vhost=${m.vhost}: not found (not published)`);
    return text(404, "Not Found");
  }
  const headers = { "Content-Type": LIVE_CONTENT_TYPES[m.format], Server: SERVER_SIGNATURE };
  // HEAD: the headers only; no player is created.
  if (req.method === "HEAD") return new Response(null, { status: 200, headers });

  const ip = remoteAddr.replace(/^::ffff:/, "");
  const full = ctx.clients.whyFull();
  if (full) {
    ctx.log.warn(`http stream ${what} ip=${ip} refused: ${full}`);
    return new Response("Service Unavailable\n", { status: 503, headers: { Server: SERVER_SIGNATURE, "Retry-After": "5" } });
  }
  const client = new HttpLivePlayer(ctx, ip, approxRequestBytes(req, url));
  const hostName = host.replace(/:\d+$/, "");
  client.stream = m.key;
  client.name = `${m.key.stream}.${m.format}`;
  // SRS's quirk: the HTTP client's tcUrl is http:// with the RTMP port.
  client.tcUrl = `http://${hostName}:${firstRtmpPort(config)}/${m.key.app}`;
  client.pageUrl = req.headers.get("referer") ?? "";
  client.param = url.search;
  ctx.clients.add(client);
  client.log.trace(`http stream play ${url.pathname}${url.search} vhost=${m.vhost} ip=${ip} ` +
    `format=${m.format} clients=${ctx.clients.size}`);

  const gate = await ctx.access.onPlay(client, m.key);
  if (!gate.ok) {
    client.log.warn(`http stream play ${what} refused: ${gate.reason}`);
    client.finish("play refused");
    return text(403, "Forbidden");
  }
  if (client.destroyed || req.signal.aborted) {
    client.finish("client closed");
    return text(499, "Client Closed Request");
  }
  let want: Lease | undefined;
  if (pull && !ctx.hubs.find(m.key)?.active) {
    want = await ctx.edge!.awaitLive(m.key, req.signal);
    if (!want) {
      client.log.warn(`http stream ${what}: the edge could not pull it in time`);
      client.finish("edge pull failed");
      return text(404, "Not Found");
    }
  }
  hub = ctx.hubs.find(m.key);
  if (!hub?.active || client.destroyed) {
    want?.dispose();
    client.finish("stream unpublished");
    return text(404, "Not Found");
  }
  const remux = vhost.httpRemux;
  const opts = mergedWrites(vhost);
  let output: OutputSpec<FanOut>;
  let header: Uint8Array | undefined;
  switch (m.format) {
    case "flv": {
      const flags = flvHeaderFlags(hub, remux);
      const drop = remux.dropIfNotMatch;
      output = flvOutput({ dropAudio: drop && !flags.hasAudio, dropVideo: drop && !flags.hasVideo }, opts);
      header = flvFileHeader(flags);
      break;
    }
    case "aac":
      output = aacOutput(opts);
      break;
    case "mp3":
      output = mp3Output(opts);
      break;
    case "ts":
      // The shared TS muxer of the hub (lib/outputs/ts-fanout.ts); it sends PAT+PMT first so the player can
      // decode at once.
      output = tsOutput(opts);
      break;
  }
  req.signal.addEventListener("abort", () => client.finish("client closed"), { once: true });
  client.start(hub, output, header);
  want?.dispose();
  return new Response(client.body, { status: 200, headers });
}
