/**
 * The edge (SRS `vhost { cluster { mode remote; origin a:1935 b:1935; ... } }`, srs_app_edge.cpp).
 *
 * Play edge: the first player of a stream (any output: a play lease on the hub, or an HTTP player's demand lease
 * while it waits) starts one EdgeIngester (edge-ingester.ts) that pulls the stream from the origins and publishes
 * it locally; when the last player leaves, the pull stops LINGER_MS later (SRS stops at once; the linger spares a
 * reconnect to a player that comes straight back). Publish edge: a client publishing on an edge vhost publishes
 * locally (edge players play it directly) and the stream is relayed to an origin by a Forwarder whose every
 * connect goes to the next origin (failover).
 *
 * token_traverse: every client of the vhost is authorized by an origin before the edge's own gates: the edge
 * connects to the first reachable origin with the client's query and plays (or publishes) the stream there
 * (ProbeConnector); the origin's hooks decide, a refusal refuses the client even when the stream is pulled
 * already. An edge vhost with no origin refuses its clients.
 */
import { type ClientInfo, isPublishType } from "../../clients.ts";
import type { ClusterConfig } from "../../config/index.ts";
import type { Lease } from "../../hub/lease.ts";
import { type StreamHub, WORKER_PULL_TYPE } from "../../hub/stream-hub.ts";
import { type AccessResult, ALLOWED } from "../../access.ts";
import type { StreamKey } from "../../media/packet.ts";
import { streamKeyString } from "../../media/packet.ts";
import type { ServerView } from "../server-view.ts";
import { VERSION } from "../../version.ts";
import { Forwarder, type Upstream, type UpstreamConnector } from "../forward/forwarder.ts";
import { EDGE_INGEST_TYPE, EdgeIngester, type IngesterOptions } from "./edge-ingester.ts";
import { type EdgeConnectors, ProbeRefused } from "./upstream.ts";
import { upstreamUrl, upstreamVhost } from "./url.ts";

/** What the edge needs of the server. */
export type EdgePorts = Pick<ServerView, "config" | "hubs" | "clients" | "log" | "serverId" | "lifecycle">;

export interface EdgeOptions extends IngesterOptions {
  /** How long a pull outlives its last player, ms (an edge's 2000, a worker's 10000). */
  lingerMs?: number;
  /** How long an HTTP player waits for the pull to bring the stream, ms (an edge's 10000, a worker's 20000). */
  waitMs?: number;
  /** How long an HLS playlist request keeps the stream wanted, ms (30000). */
  hlsWantMs?: number;
  /** srs-ts's workers: streams published on another worker are pulled from it as from an origin. */
  workers?: WorkerUpstreams;
}

/**
 * Where a worker pulls a stream that another worker owns (lib/services/workers/link.ts): the owner's private
 * loopback RTMP port, and the query that makes it an internal client there (no hooks, not counted twice).
 */
export interface WorkerUpstreams {
  /** "127.0.0.1:port" of the worker that publishes `key`, when that is another worker. */
  origin(key: StreamKey): string | undefined;
  readonly param: string;
}

/**
 * A worker's pull from the owner: a local socket, so retries come fast (no need to back off long). The timeouts
 * are generous: a dead owner is known from the primary (its streams leave the owner registry), so they only
 * guard against a hung one, and an owner whose CPU is taken by a burst of joining players (seen in
 * bench/workers-capacity.ts: 1250 players joining at once on a worker held to a tenth of a core) can take
 * longer than 2 s to answer the handshake; a pull that gives up then costs the other worker's players the stream.
 */
const WORKER_PULL_OPTIONS: IngesterOptions = { connectTimeoutMs: 10000, recvTimeoutMs: 10000, minBackoffMs: 300, maxBackoffMs: 1000 };
/**
 * A worker's pull outlives its last player longer than an edge's (a loopback copy costs little), so players that
 * come back, or a burst of joins on a busy owner, find it running.
 */
const WORKER_PULL_LINGER_MS = 10000;
/** How long an HTTP player waits for a worker's pull: the owner is alive (the primary says so), at worst busy. */
const WORKER_PULL_WAIT_MS = 20000;

/** One upstream of the edge, for metrics. */
export interface EdgeUpstreamStat {
  key: StreamKey;
  mode: "play" | "publish";
  /** The origin now (a publish relay: the list it rotates over). */
  origin: string;
  connected: boolean;
  connects: number;
  failures: number;
}

export class EdgeService {
  private ingesters = new Map<string, EdgeIngester>();
  private lingers = new Map<string, ReturnType<typeof setTimeout>>();
  private relays = new Map<StreamHub, Forwarder>();
  /** HLS viewers' demand, by stream: a lease released 30 s after the last playlist request. */
  private hlsWants = new Map<string, { lease: Lease; timer: ReturnType<typeof setTimeout> }>();
  private stopping = false;

  constructor(private ctx: EdgePorts, private connectors: EdgeConnectors, private opts: EdgeOptions = {}) {}

  private cluster(vhost: string): ClusterConfig | undefined {
    const c = this.ctx.config.vhost(vhost)?.cluster;
    return c?.isEdge ? c : undefined;
  }

  /** Whether `vhost` is an edge (its players wait for a pull instead of "not found"). */
  isEdge(vhost: string): boolean {
    return this.cluster(vhost) !== undefined;
  }

  /** Whether a player of `key`, not live here, waits for a pull: an edge vhost, or a stream another worker owns. */
  canPull(key: StreamKey): boolean {
    return this.isEdge(key.vhost) || this.opts.workers?.origin(key) !== undefined;
  }

  /** The upstream settings of a pull of `key`: the edge vhost's cluster, else the owner worker as the origin. */
  private pullConfig(key: StreamKey): ClusterConfig | undefined {
    const edge = this.cluster(key.vhost);
    if (edge || !this.opts.workers) return edge;
    const owner = this.opts.workers.origin(key);
    return {
      mode: "remote",
      isEdge: true,
      origin: owner ? [owner] : [],
      tokenTraverse: false,
      vhost: "",
      debugSrsUpnode: false,
      originCluster: false,
      coworkers: [],
      protocol: "rtmp",
      followClient: false,
    };
  }

  /**
   * The owners changed (a worker's registry update): a pull whose stream nobody else publishes any more ends
   * (its players see the unpublish, as on one process), and every stream wanted here and owned elsewhere is pulled.
   */
  ownersChanged(): void {
    const workers = this.opts.workers;
    if (this.stopping || !workers) return;
    for (const [name, i] of this.ingesters) {
      if (i.type === WORKER_PULL_TYPE && workers.origin(i.key) === undefined) {
        this.ingesters.delete(name);
        void i.stop("the stream is no longer published on another worker");
      }
    }
    for (const hub of this.ctx.hubs.all()) {
      if (hub.demandCount > 0) this.onDemand(hub, true);
    }
  }

  /** A local publisher takes `key` (this worker now owns it): its worker pull, if any, ends first. */
  async yieldPull(key: StreamKey): Promise<void> {
    const name = streamKeyString(key);
    const i = this.ingesters.get(name);
    if (!i || this.cluster(key.vhost)) return;
    this.ingesters.delete(name);
    await i.stop("the stream is published on this worker");
  }

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => this.onUnpublish(hub),
      onDemand: (hub, wanted) => this.onDemand(hub, wanted),
    });
    this.ctx.lifecycle.register({ name: "edge upstreams", phase: "sessions", close: () => this.stop() });
  }

  /** Ends every pull and relay now (server stop). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.lingers.values()) clearTimeout(t);
    this.lingers.clear();
    for (const w of this.hlsWants.values()) {
      clearTimeout(w.timer);
      w.lease.dispose();
    }
    this.hlsWants.clear();
    const all: Promise<void>[] = [];
    for (const i of this.ingesters.values()) all.push(i.stop("server stop"));
    for (const f of this.relays.values()) all.push(f.stop());
    this.ingesters.clear();
    this.relays.clear();
    await Promise.all(all);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Play edge

  private onDemand(hub: StreamHub, wanted: boolean): void {
    if (this.stopping) return;
    const edge = this.cluster(hub.key.vhost) !== undefined;
    if (!edge && !this.opts.workers) return;
    const name = hub.name;
    if (wanted) {
      const t = this.lingers.get(name);
      if (t) {
        clearTimeout(t);
        this.lingers.delete(name);
      }
      if (this.ingesters.has(name)) return;
      if (hub.publisher && hub.publisher.type !== EDGE_INGEST_TYPE && hub.publisher.type !== WORKER_PULL_TYPE) return; // published here
      if (!edge && this.opts.workers?.origin(hub.key) === undefined) return; // nobody else publishes it
      this.startPull(hub.key, edge);
      return;
    }
    if (!this.ingesters.has(name) || this.lingers.has(name)) return;
    const linger = this.opts.lingerMs ?? (edge ? 2000 : WORKER_PULL_LINGER_MS);
    this.lingers.set(name, setTimeout(() => {
      this.lingers.delete(name);
      if ((this.ctx.hubs.find(hub.key)?.demandCount ?? 0) > 0) return;
      const i = this.ingesters.get(name);
      this.ingesters.delete(name);
      void i?.stop(`no players for ${linger} ms`);
    }, linger));
  }

  private startPull(key: StreamKey, edge: boolean): EdgeIngester {
    const name = streamKeyString(key);
    const workers = this.opts.workers;
    const i = new EdgeIngester(key, {
      hubs: this.ctx.hubs,
      log: this.ctx.log,
      cluster: edge ? (v) => this.cluster(v) : () => this.pullConfig(key),
      client: edge || !workers ? () => this.firstPlayer(key) : () => ({ param: workers.param }),
      connectors: this.connectors,
      upnode: { serverId: this.ctx.serverId, version: VERSION },
      type: edge ? EDGE_INGEST_TYPE : WORKER_PULL_TYPE,
    }, edge ? this.opts : { ...this.opts, ...WORKER_PULL_OPTIONS });
    this.ingesters.set(name, i);
    void i.start().then(() => {
      if (this.ingesters.get(name) === i) this.ingesters.delete(name);
    });
    return i;
  }

  /**
   * A player of `key` (its query and tcUrl go upstream, as SRS's edge uses its first player's request); HLS
   * viewers last (their query is the HLS session's, not the stream's).
   */
  private firstPlayer(key: StreamKey): { tcUrl?: string; param?: string; protocol?: string } | undefined {
    const players = this.ctx.clients.all().filter((c) =>
      c.stream?.vhost === key.vhost && c.stream.app === key.app && c.stream.stream === key.stream && !isPublishType(c.type)
    );
    const p = players.find((c) => c.type !== "hls-play");
    if (p) return { tcUrl: p.tcUrl, param: p.param, protocol: p.protocol };
    return players[0] ? { tcUrl: players[0].tcUrl, protocol: players[0].protocol } : undefined;
  }

  /**
   * An HTTP player of an edge stream that is not live: wants the stream (the pull starts) and waits until it is
   * published, at most `waitMs`. The lease keeps the demand until the player plays; undefined when the wait
   * failed (timeout, client gone, no edge).
   */
  async awaitLive(key: StreamKey, signal?: AbortSignal): Promise<Lease | undefined> {
    if (!this.canPull(key) || this.stopping) return undefined;
    const want = this.ctx.hubs.demand(key);
    const end = Date.now() + (this.opts.waitMs ?? (this.cluster(key.vhost) ? 10000 : WORKER_PULL_WAIT_MS));
    while (Date.now() < end && !signal?.aborted) {
      // Live, with its sequence headers (the FLV header's audio/video flags come from them).
      const h = want.hub;
      if (h.active && (h.videoConfig !== undefined || h.packetsIn > 20)) return want;
      await new Promise((r) => setTimeout(r, 50));
    }
    want.dispose();
    return undefined;
  }

  /**
   * An HLS playlist request on an edge vhost: the stream is wanted for `hlsWantMs` (30 s) after the last one,
   * so the edge pulls it and HLS is written while viewers keep asking.
   */
  want(key: StreamKey): void {
    if (!this.cluster(key.vhost) || this.stopping) return;
    const name = streamKeyString(key);
    const w = this.hlsWants.get(name);
    if (w) clearTimeout(w.timer);
    const lease = w?.lease ?? this.ctx.hubs.demand(key);
    const timer = setTimeout(() => {
      this.hlsWants.delete(name);
      lease.dispose();
    }, this.opts.hlsWantMs ?? 30000);
    this.hlsWants.set(name, { lease, timer });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Publish edge

  private onPublish(hub: StreamHub): void {
    const cfg = this.cluster(hub.key.vhost);
    if (!cfg || this.stopping || !hub.publisher || hub.publisher.type === EDGE_INGEST_TYPE) return;
    // A publisher on the edge wins over a pull that has not brought anything yet (its players play it now).
    const pulling = this.ingesters.get(hub.name);
    if (pulling) {
      this.ingesters.delete(hub.name);
      void pulling.stop("the stream is published on this edge");
    }
    const client = this.ctx.clients.get(hub.publisher.clientId);
    const key = hub.key;
    let rr = 0;
    // Every (re)connect goes to the next origin of the list in force: a broken relay fails over.
    const connect: UpstreamConnector = (_url, o): Promise<Upstream> => {
      const now = this.cluster(key.vhost);
      const origins = now?.origin ?? [];
      if (!now || origins.length === 0) return Promise.reject(new Error(`vhost ${key.vhost}: no origin configured`));
      const origin = origins[rr++ % origins.length]!;
      const url = upstreamUrl(origin, "rtmp", key, upstreamVhost(now.vhost, key.vhost), client ?? {});
      this.ctx.log.trace(`edge publish ${hub.name}: relay to origin ${origin}, ${url}`);
      return this.connectors.push(url, o);
    };
    const f = new Forwarder(hub, `origin(${cfg.origin.join(",")})`, connect, this.ctx.log, {
      minBackoffMs: 500,
      maxBackoffMs: 3000,
      connectTimeoutMs: 3000,
    });
    this.relays.set(hub, f);
    f.start();
  }

  private onUnpublish(hub: StreamHub): void {
    const f = this.relays.get(hub);
    if (!f) return;
    this.relays.delete(hub);
    void f.stop();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Authorization (the access gate asks before its own checks)

  /**
   * For clients of an edge vhost: refuses when the vhost has no origin; with token_traverse, asks the first
   * reachable origin with the client's query (a refusal refuses the client). Undefined for other vhosts.
   */
  async authorize(c: ClientInfo, key: StreamKey, method: "play" | "publish"): Promise<AccessResult | undefined> {
    const cfg = this.cluster(key.vhost);
    if (!cfg) return undefined;
    if (cfg.origin.length === 0) return { ok: false, reason: `edge vhost ${key.vhost} has no cluster.origin` };
    if (!cfg.tokenTraverse) return ALLOWED;
    const log = this.ctx.log.child(c.id);
    const vhost = upstreamVhost(cfg.vhost, key.vhost);
    const errors: string[] = [];
    for (const origin of cfg.origin) {
      let url: string;
      try {
        url = upstreamUrl(origin, "rtmp", key, vhost, c);
      } catch (e) {
        errors.push((e as Error).message);
        continue;
      }
      try {
        await this.connectors.probe(url, method, this.opts.connectTimeoutMs ?? 5000);
        log.trace(`edge token_traverse: origin ${origin} allows ${method} ${url}`);
        return ALLOWED;
      } catch (e) {
        if (e instanceof ProbeRefused) {
          log.warn(`edge token_traverse: origin ${origin} refuses ${method} ${url}: ${e.message}`);
          return { ok: false, reason: `origin ${origin} refused: ${e.message}` };
        }
        log.warn(`edge token_traverse: origin ${origin} unreachable: ${(e as Error).message}`);
        errors.push(`${origin}: ${(e as Error).message}`);
      }
    }
    return { ok: false, reason: `token_traverse: no origin reachable (${errors.join("; ")})` };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Stats

  /** The upstream of a stream (API `edge` field), or undefined when it has none. */
  describe(hub: StreamHub): Record<string, unknown> | undefined {
    const i = this.ingesters.get(hub.name);
    if (i) {
      return {
        mode: "play",
        state: i.status,
        origin: i.origin,
        url: i.url,
        protocol: i.protocol,
        upstream_id: i.id,
        connects: i.connects,
        failures: i.failures,
        switches: i.switches,
        last_error: i.lastError,
      };
    }
    const f = this.relays.get(hub);
    if (f) {
      return {
        mode: "publish",
        state: f.isConnected ? "publishing" : "connecting",
        origin: f.url,
        connects: f.connects,
        failures: f.failures,
        last_error: f.lastError,
        sent_packets: f.sentPackets,
      };
    }
    return undefined;
  }

  /** Every upstream, pulls and publish relays (metrics). */
  upstreams(): EdgeUpstreamStat[] {
    const out: EdgeUpstreamStat[] = [];
    for (const i of this.ingesters.values()) {
      out.push({ key: i.key, mode: "play", origin: i.origin, connected: i.status === "playing", connects: i.connects, failures: i.failures });
    }
    for (const [hub, f] of this.relays) {
      out.push({ key: hub.key, mode: "publish", origin: f.url, connected: f.isConnected, connects: f.connects, failures: f.failures });
    }
    return out;
  }

  /** Running pulls (tests, API). */
  pulls(): EdgeIngester[] {
    return [...this.ingesters.values()];
  }
}

/** Starts the edge service (the composition root keeps it). */
export function startEdge(ctx: EdgePorts, connectors: EdgeConnectors, opts?: EdgeOptions): EdgeService {
  const s = new EdgeService(ctx, connectors, opts);
  s.start();
  return s;
}
