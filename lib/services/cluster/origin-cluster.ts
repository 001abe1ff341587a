/**
 * The origin cluster (SRS 4-7, `vhost { cluster { origin_cluster on; coworkers a:1985 b:1985; } }`): several origins
 * share the streams published to any of them. An origin asked for a stream it has no publisher for asks its
 * coworkers (their HTTP API, `/api/v1/clusters`) which one holds it, and sends the player there (RTMP: SRS's 302
 * redirect, lib/protocols/rtmp/session.ts; HTTP live streams, beyond SRS: an HTTP 302, lib/protocols/http/live.ts).
 *
 * Two halves, both here:
 *  - `clustersAnswer`: what this server answers on `/api/v1/clusters?vhost=&ip=&app=&stream=&coworker=`, for itself
 *    only: `{query:{ip,vhost,app,stream}, origin}` with origin `{ip, port, vhost, api, routers:[api]}` when it has an
 *    active publisher of the stream (any protocol), else null. As SRS (srs_app_coworkers.cpp): `port` is the first
 *    RTMP listen port; `ip` is the listen host unless that is a loopback/any address, in which case it is the host
 *    part of `coworker` (the address the asker reached us at); `api` is the http_api listen, prefixed with that ip
 *    when it is a bare port. srs-ts adds `http` ("ip:port" of http_server, when enabled), which SRS ignores.
 *  - `OriginCluster.locate`: asks every coworker of the vhost (all at once, each with a short timeout) and takes the
 *    first, in config order, that holds the stream. A coworker that is down, hangs, or answers something that is not
 *    SRS's JSON is skipped with a warning; the coworkers are read from the config on every query (a reload applies
 *    at once).
 */
import type { SrsConfig } from "../../config/index.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import type { Log } from "../../log/logger.ts";
import type { StreamKey } from "../../media/packet.ts";
import { formatEndpoint, parseEndpoint } from "../../net/endpoint.ts";
import { readCapped } from "../../net/body.ts";

/** How long one coworker may take to answer (the player waits for the slowest one before it in config order). */
export const COWORKER_TIMEOUT_MS = 3000;

/** A coworker's answer is small JSON; more than this is garbage. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** SRS's `data.origin` of /api/v1/clusters, plus srs-ts's `http`. */
export interface ClusterOrigin {
  ip: string;
  /** RTMP port. */
  port: number;
  vhost: string;
  /** "host:port" of the holder's HTTP API. */
  api: string;
  routers: string[];
  /** srs-ts only: "host:port" of the holder's http_server (live streams), absent when it serves none (or is SRS). */
  http?: string;
}

export interface ClustersQuery {
  ip: string;
  vhost: string;
  app: string;
  stream: string;
}

/** What answering /api/v1/clusters needs of the server. */
export interface ClustersAnswerPorts {
  readonly config: Pick<SrsConfig, "vhost" | "listen" | "httpApi" | "httpServer">;
  readonly hubs: Pick<StreamHubs, "find">;
}

/** SRS treats these listen hosts as "no host": the asker's view of us (the coworker address) is used instead. */
const NO_HOST = new Set(["", "127.0.0.1", "0.0.0.0", "::", "::0", "localhost", "::1"]);

/** Host part of "host:port" / "[v6]:port" / "host". */
export function hostOf(hostPort: string): string {
  const v = hostPort.trim();
  const m6 = /^\[([^\]]*)\](?::\d+)?$/.exec(v);
  if (m6) return m6[1]!;
  const i = v.indexOf(":");
  return i >= 0 && i === v.lastIndexOf(":") ? v.slice(0, i) : v;
}

/** "ip:port" for a listen value: SRS keeps a value with a host as it is, and prefixes a bare port with `ip`. */
function serviceAddress(listen: string, ip: string): string {
  const v = listen.trim();
  return /^\d+$/.test(v) ? formatEndpoint({ host: ip, port: Number(v) }) : v;
}

/**
 * The answer of /api/v1/clusters for this server. `requestHost` (the Host header's host) stands in for the public
 * address SRS would look up when the asker sent no `coworker`.
 */
export function clustersAnswer(
  ctx: ClustersAnswerPorts,
  params: URLSearchParams,
  requestHost = "",
): { query: ClustersQuery; origin: ClusterOrigin | null } {
  const q = (k: string) => params.get(k) ?? "";
  const query: ClustersQuery = { ip: q("ip"), vhost: q("vhost"), app: q("app"), stream: q("stream") };
  const coworker = q("coworker");
  const config = ctx.config;
  const vhost = config.vhost(query.vhost || undefined);
  if (!vhost || !query.app || !query.stream) return { query, origin: null };
  const hub = ctx.hubs.find({ vhost: vhost.name, app: query.app, stream: query.stream });
  if (!hub?.active) return { query, origin: null };

  let listenHost = "";
  let rtmpPort = 1935;
  const first = config.listen()[0];
  if (first !== undefined) {
    try {
      const ep = parseEndpoint(first, "");
      listenHost = ep.host;
      rtmpPort = ep.port;
    } catch {
      // a malformed listen is refused by the config check; keep SRS's default port
    }
  }
  let ip = NO_HOST.has(listenHost) ? "" : listenHost;
  if (!ip && coworker) ip = hostOf(coworker);
  if (!ip) ip = hostOf(requestHost) || "127.0.0.1";

  const api = serviceAddress(config.httpApi().listen, ip);
  const origin: ClusterOrigin = { ip, port: rtmpPort, vhost: vhost.name, api, routers: [api] };
  // Unlike SRS's api, a listen on an any/loopback address is given as `ip` too: players are sent there.
  const http = config.httpServer();
  if (http.enabled && http.listen) {
    try {
      const ep = parseEndpoint(http.listen, "");
      origin.http = formatEndpoint({ host: NO_HOST.has(ep.host) ? ip : ep.host, port: ep.port });
    } catch {
      // a malformed listen is refused by the config check
    }
  }
  return { query, origin };
}

/** Why a coworker's answer was not used, or the origin it names (null: it does not hold the stream). */
export type CoworkerAnswer = { origin: ClusterOrigin | null } | { error: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads a coworker's /api/v1/clusters body as SRS's discover_co_workers does: a JSON object with integer code 0 and
 * an object `data`; `data.origin` null means "not here", else it needs a string ip and an integer port (an empty ip
 * or port 0 is skipped, as SRS does). `http` is taken when it is a "host:port" string.
 */
export function parseClustersAnswer(text: string): CoworkerAnswer {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return { error: `not JSON: ${preview(text)}` };
  }
  if (!isObject(j)) return { error: `not a JSON object: ${preview(text)}` };
  if (j.code !== 0) return { error: `code ${JSON.stringify(j.code)}: ${preview(text)}` };
  const data = j.data;
  if (!isObject(data)) return { error: `no data object: ${preview(text)}` };
  const o = data.origin;
  if (o === null || o === undefined) return { origin: null };
  if (!isObject(o)) return { error: `data.origin is not an object: ${preview(text)}` };
  if (typeof o.ip !== "string" || typeof o.port !== "number" || !Number.isInteger(o.port)) {
    return { error: `data.origin without ip/port: ${preview(text)}` };
  }
  if (!o.ip || o.port <= 0 || o.port > 65535 || /[\s/?#@]/.test(o.ip)) {
    return { error: `data.origin has an unusable ip/port ${JSON.stringify(o.ip)}:${o.port}` };
  }
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const origin: ClusterOrigin = {
    ip: o.ip,
    port: o.port,
    vhost: str(o.vhost),
    api: str(o.api),
    routers: Array.isArray(o.routers) ? o.routers.filter((r): r is string => typeof r === "string").slice(0, 16) : [],
  };
  if (typeof o.http === "string" && /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/.test(o.http)) origin.http = o.http;
  return { origin };
}

function preview(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return JSON.stringify(one.length > 120 ? `${one.slice(0, 120)}…` : one);
}

/** What locating a stream in the cluster needs of the server. */
export interface OriginClusterPorts {
  readonly config: Pick<SrsConfig, "vhost">;
  readonly log: Log;
}

/** The coworker query (the narrow ports of rtmp/session.ts and http/live.ts are satisfied by `locate`). */
export class OriginCluster {
  constructor(private ctx: OriginClusterPorts, private timeoutMs = COWORKER_TIMEOUT_MS) {}

  /**
   * The coworker holding `key`, or undefined when none does (or the vhost is no origin cluster). `host` is the
   * host the player asked for (SRS sends it as `ip`). `log` is the session's log (its context id in each line).
   */
  async locate(key: StreamKey, host: string, log: Log = this.ctx.log): Promise<ClusterOrigin | undefined> {
    const cluster = this.ctx.config.vhost(key.vhost)?.cluster;
    if (!cluster?.originCluster || cluster.isEdge) return undefined;
    const coworkers = cluster.coworkers;
    const what = `${key.vhost}/${key.app}/${key.stream}`;
    if (coworkers.length === 0) {
      log.warn(`origin cluster: ${what}: no coworkers configured`);
      return undefined;
    }
    const abort = new AbortController();
    // Asked all at once; the first in config order that holds the stream wins.
    const asks = coworkers.map((c) => this.ask(c, key, host, abort.signal));
    try {
      for (let i = 0; i < coworkers.length; i++) {
        const r = await asks[i]!;
        if ("error" in r) {
          log.warn(`origin cluster: coworker ${coworkers[i]} skipped for ${what}: ${r.error}`);
          continue;
        }
        if (r.origin) {
          log.trace(`origin cluster: ${what} is at coworker ${coworkers[i]}: rtmp ${formatEndpoint({ host: r.origin.ip, port: r.origin.port })}` +
            `${r.origin.http ? `, http ${r.origin.http}` : ""}`);
          return r.origin;
        }
        log.info(`origin cluster: coworker ${coworkers[i]} does not hold ${what}`);
      }
    } finally {
      abort.abort();
    }
    log.warn(`origin cluster: no coworker of ${coworkers.join(" ")} holds ${what}`);
    return undefined;
  }

  /** One coworker's answer; never throws. */
  private async ask(coworker: string, key: StreamKey, host: string, signal: AbortSignal): Promise<CoworkerAnswer> {
    const qs = new URLSearchParams({ vhost: key.vhost, ip: host, app: key.app, stream: key.stream, coworker });
    let url: string;
    try {
      url = new URL(`http://${coworker}/api/v1/clusters?${qs}`).toString();
    } catch {
      return { error: `not a host:port` };
    }
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(url, { signal: AbortSignal.any([signal, timeout]), redirect: "manual" });
      if (res.status !== 200 && res.status !== 201) {
        await res.body?.cancel();
        return { error: `HTTP ${res.status}` };
      }
      const text = await readCapped(res.body, MAX_ANSWER_BYTES);
      if (text === undefined) return { error: `answer larger than ${MAX_ANSWER_BYTES} bytes` };
      return parseClustersAnswer(text);
    } catch (e) {
      if (timeout.aborted) return { error: `no answer within ${this.timeoutMs} ms` };
      if (signal.aborted) return { error: `query cancelled` };
      const err = e as Error & { code?: string; cause?: { code?: string } };
      const code = err.code ?? err.cause?.code;
      return { error: `unreachable: ${code ? `${code} ` : ""}${err.message}` };
    }
  }
}

