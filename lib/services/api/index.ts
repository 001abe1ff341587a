/**
 * The HTTP API (/api/v1/*), mounted on the API listener (or the HTTP server's when they share a port), with SRS's
 * shapes and quirks (as recorded from SRS 7 in tests/fixtures/srs-samples):
 *
 *  - every body starts {"code","server","service","pid"} (pid as a string); errors are HTTP 200 `{"code":N}`
 *    (2048 stream, 2049 client, 2014 vhost, 1061 raw api disabled, 1090 exporter disabled);
 *  - the mux is prefix based: an unknown /api/v1/xxx answers the /api/v1/ index, an unknown /api/xxx the /api/
 *    index, and on an API-only listener any other path the root index;
 *  - `?callback=cb` wraps the JSON as JSONP; CORS (crossdomain, default on) when the request has an Origin,
 *    OPTIONS answers 200 empty; `http_api.auth` guards every path containing /api/ with basic auth (401);
 *  - wrong method on vhosts/streams/clients → HTTP 405 text.
 */
import { CORS_HEADERS } from "../../net/cors.ts";
import type { Context, Hono } from "hono";
import type { ClientInfo } from "../../clients.ts";
import { parseEndpoints } from "../../net/endpoint.ts";
import type { ExporterPorts } from "../exporter/index.ts";
import { SERVER_SIGNATURE, SRS_COMPAT_VERSION, VERSION } from "../../version.ts";
import { formatLocalTime } from "../../time/local-time.ts";
import { renderMetrics } from "../exporter/index.ts";
import { clientJson, serverClients, type ShapesPorts, streamJson, vhostJson, vhostNames } from "./shapes.ts";
import { clustersAnswer } from "../cluster/origin-cluster.ts";
import { recordingsRoute } from "./recordings.ts";
import { configText, envOverrides } from "./config-view.ts";
import type { ProcessInfo } from "../ffmpeg/process.ts";
import {
  connCounts, cpuCount, diskRates, loadAverages, memInfos, netBytes, round2, rssKbytes, rusages, selfProcStats,
  systemCpuRatio, systemProcStats, systemUptime,
} from "./system.ts";

/** SRS error codes the API answers with (HTTP 200, body {"code":N}). */
export const ERROR_SYSTEM_CONFIG_INVALID = 1023;
export const ERROR_SYSTEM_CONFIG_RAW = 1060;
export const ERROR_SYSTEM_CONFIG_RAW_DISABLED = 1061;
export const ERROR_SYSTEM_CONFIG_RAW_NOT_ALLOWED = 1062;
export const ERROR_SYSTEM_CONFIG_RAW_PARAMS = 1063;
export const ERROR_EXPORTER_DISABLE = 1090;
export const ERROR_RTMP_VHOST_NOT_FOUND = 2014;
export const ERROR_RTMP_STREAM_NOT_FOUND = 2048;
export const ERROR_RTMP_CLIENT_NOT_FOUND = 2049;

const V1_URLS = {
  versions: "the version of SRS",
  summaries: "the summary(pid, argv, pwd, cpu, mem) of SRS",
  rusages: "the rusage of SRS",
  self_proc_stats: "the self process stats",
  system_proc_stats: "the system process stats",
  meminfos: "the meminfo of system",
  authors: "the license, copyright, authors and contributors",
  features: "the supported features of SRS",
  requests: "the request itself, for http debug",
  vhosts: "manage all vhosts or specified vhost",
  streams: "manage all streams or specified stream",
  clients: "manage all clients or specified client, default query top 10 clients",
  raw: "raw api for srs, support CUID srs for instance the config",
  clusters: "origin cluster server API",
  perf: "System performance stat",
  tcmalloc: "tcmalloc api with params ?page=summary|api",
};
const V1_TESTS = {
  requests: "show the request info",
  errors: "always return an error 100",
  redirects: "always redirect to /api/v1/test/errors",
  "[vhost]": "http vhost for http://error.srs.com:1985/api/v1/tests/errors",
};

/** A server that can reload its config (the real Server; the API's raw?rpc=reload calls it). */
interface Reloadable {
  reload(): boolean | Promise<boolean>;
}
function canReload(x: unknown): x is Reloadable {
  return typeof (x as { reload?: unknown }).reload === "function";
}

/** What the HTTP API reads of the server: everything the exporter reads (stats, forwards, the view). */
export type ApiPorts = ExporterPorts & Pick<ShapesPorts, "edge"> & {
  /** Ingest, transcode and exec processes (lib/services/ffmpeg), for /api/v1/processes. */
  readonly ffmpeg?: { processes(): ProcessInfo[] };
  /** srs-ts's workers: another worker's pull is no client of the server (left out of lists and counts). */
  readonly workers?: { isInternal(c: ClientInfo): boolean };
  /** The stream casters: SRS's POST /gb/v1/publish/ (a GB28181 session set up by an external SIP server). */
  readonly casters?: { gbPublish(id: string, ssrc: string): { port: number } | string };
  /** The console's graphs (lib/services/history.ts), for /api/v1/history. */
  readonly history?: { toJson(): Record<string, unknown> };
  /** The log sink's last lines (lib/log/logger.ts LogRing), for /api/v1/logs. */
  readonly sink?: { readonly ring: { recent(cid: string | undefined, lines: number): { cid: string; line: string }[] } };
};

/** True when the API shares the HTTP server's listener (then "/" and other paths belong to the HTTP server). */
function sharesHttpServer(ctx: ApiPorts): boolean {
  const c = ctx.config;
  const http = c.httpServer();
  const api = c.httpApi();
  if (!http.enabled || !api.enabled) return false;
  try {
    const a = parseEndpoints(http.listens);
    return parseEndpoints(api.listens).some((b) => b.port !== 0 && a.some((x) => x.port === b.port));
  } catch {
    return false;
  }
}

/** "2026-11-21 22:23:51" in local time. */
export function formatDate(ms: number): string {
  return formatLocalTime(ms);
}

type Json = Record<string, unknown>;

/** The API's headers: SRS's Server and Connection, CORS (crossdomain) when the request has an Origin. */
export function apiHeaders(ctx: Pick<ApiPorts, "config">, req: Request): Headers {
  const h = new Headers({ Server: SERVER_SIGNATURE, Connection: "Close" });
  if (ctx.config.httpApi().crossdomain && req.headers.has("Origin")) {
    for (const [k, v] of CORS_HEADERS) h.set(k, v);
  }
  return h;
}

/** An API answer: JSON (or JSONP with ?callback=) with the API's headers (apiHeaders). */
export function apiJson(ctx: Pick<ApiPorts, "config">, req: Request, body: unknown, status = 200): Response {
  const url = new URL(req.url);
  const cb = url.searchParams.get("callback");
  const text = JSON.stringify(body);
  const headers = apiHeaders(ctx, req);
  if (cb && /^[A-Za-z_$][\w$.]*$/.test(cb)) {
    headers.set("Content-Type", "text/javascript");
    return new Response(`${cb}(${text})`, { status, headers });
  }
  headers.set("Content-Type", "application/json");
  return new Response(text, { status, headers });
}

/** `?start=&count=` of a list request: start >= 0, count >= 10 (SRS's minimum), whole numbers. */
export function page(url: URL): [number, number] {
  const start = Math.max(0, Math.floor(Number(url.searchParams.get("start") ?? 0)) || 0);
  const count = Math.max(10, Math.floor(Number(url.searchParams.get("count") ?? 0)) || 0);
  return [start, count];
}

export class Api {
  private lastReload = { err: 0, msg: "Success", state: 0, rid: "" };

  constructor(private ctx: ApiPorts) {}

  private base(): Json {
    return { code: 0, server: this.ctx.serverId, service: this.ctx.serviceId, pid: String(process.pid) };
  }

  /** JSON (or JSONP with ?callback=) with SRS's headers. */
  private json(req: Request, body: Json, status = 200): Response {
    return apiJson(this.ctx, req, body, status);
  }

  /**
   * SRS 7's `POST /gb/v1/publish/` `{"id": "<device id>", "ssrc": "<ssrc>"}` (gb28181-without-sip.conf): device
   * `id` will send RTP(PS) with that SSRC to the gb28181 caster's media port; answered
   * `{"code": 0, "port": <port>, "is_tcp": true}`, or a code and `desc` (3008 bad body, 1028 busy), as SRS.
   */
  private async gbPublish(req: Request): Promise<Response> {
    const denied = this.checkAuth(req);
    if (denied) return denied;
    const fail = (code: number, desc: string) => {
      this.ctx.log.warn(`http api gb publish: ${desc}`);
      return this.json(req, { code, desc });
    };
    const text = await req.text().catch(() => "");
    if (text.length > 4096) return fail(3008, "body over 4096 bytes");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return fail(3008, `invalid body ${JSON.stringify(text.slice(0, 80))}`);
    }
    const o = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
    if (typeof o.id !== "string") return fail(3008, "id required");
    if (typeof o.ssrc !== "string") return fail(3008, "ssrc required");
    const r = this.ctx.casters?.gbPublish(o.id, o.ssrc) ?? "no gb28181 stream_caster";
    if (typeof r === "string") return fail(1028, r);
    this.ctx.log.trace(`http api gb publish: id=${o.id} ssrc=${o.ssrc} port=${r.port}`);
    return this.json(req, { code: 0, port: r.port, is_tcp: true });
  }

  private code(req: Request, code: number): Response {
    return this.json(req, { code });
  }

  private headers(req: Request): Headers {
    return apiHeaders(this.ctx, req);
  }

  private text(req: Request, status: number, body: string): Response {
    const h = this.headers(req);
    h.set("Content-Type", "text/plain; charset=utf-8");
    return new Response(body, { status, headers: h });
  }

  /** The answer to an API request, or undefined when the path is not the API's (another handler serves it). */
  async handle(req: Request, fallbackToRoot: boolean): Promise<Response | undefined> {
    let path: string;
    try {
      path = new URL(req.url).pathname;
    } catch {
      return undefined;
    }
    const isApi = path.startsWith("/api/") || path === "/api" || path === "/metrics";
    const isGb = path === "/gb/v1/publish/" || path === "/gb/v1/publish";
    if (!isApi && !isGb && !fallbackToRoot) return undefined;
    try {
      if (isGb) return await this.gbPublish(req);
      return await this.route(req, path);
    } catch (e) {
      this.ctx.log.error(`http api ${req.method} ${path} failed`, e);
      return this.text(req, 500, "Internal Server Error");
    }
  }

  private async route(req: Request, path: string): Promise<Response> {
    const method = req.method.toUpperCase();
    if (method === "OPTIONS" && this.ctx.config.httpApi().crossdomain) return new Response(null, { status: 200, headers: this.headers(req) });
    if (path.includes("/api/")) {
      const denied = this.checkAuth(req);
      if (denied) return denied;
    }
    if (path === "/metrics") return this.metrics(req);
    if (!path.startsWith("/api/")) return this.json(req, { ...this.base(), urls: { api: "the api root", rtc: { v1: { play: "Play stream", publish: "Publish stream", nack: "Simulate the NACK" } } } });
    if (!path.startsWith("/api/v1/") && path !== "/api/v1") return this.json(req, { ...this.base(), urls: { v1: "the api version 1.0" } });
    const rest = path.slice("/api/v1/".length);
    const [first = "", second = "", ...more] = rest.split("/");
    const url = new URL(req.url);
    switch (first) {
      case "versions":
        if (second || more.length) break;
        return this.versions(req);
      case "summaries":
        if (second) break;
        return this.json(req, { ...this.base(), data: this.summaries() });
      case "rusages":
        if (second) break;
        return this.json(req, { ...this.base(), data: rusages() });
      case "self_proc_stats":
        if (second) break;
        return this.json(req, { ...this.base(), data: selfProcStats(this.ctx.stats.cpuRatio) });
      case "system_proc_stats":
        if (second) break;
        return this.json(req, { ...this.base(), data: systemProcStats() });
      case "meminfos":
        if (second) break;
        return this.json(req, { ...this.base(), data: memInfos() });
      case "authors":
        if (second) break;
        return this.json(req, {
          ...this.base(),
          data: { license: "MIT", contributors: "https://github.com/ossrs/srs/blob/develop/trunk/AUTHORS.md#contributors" },
        });
      case "features":
        if (second) break;
        return this.json(req, { ...this.base(), data: this.features() });
      case "vhosts":
        return this.vhosts(req, method, second);
      case "streams":
        return this.streams(req, method, second, url);
      case "clients":
        return this.clients(req, method, second, url);
      case "raw":
        if (second) break;
        return this.raw(req, url);
      case "clusters":
        if (second) break;
        return this.clusters(req, url);
      case "forwards":
        // srs-ts extension (not in SRS, not listed in the v1 index): where each stream is forwarded to.
        if (second) break;
        return this.json(req, { ...this.base(), forwards: forwardStats(this.ctx) });
      case "processes":
        // srs-ts extension (not in SRS, not listed in the v1 index): the FFmpegs and programs of ingest,
        // transcode and exec: command line, pid, uptime, restarts, last exit.
        if (second) break;
        return this.json(req, { ...this.base(), processes: this.ctx.ffmpeg?.processes() ?? [] });
      case "history":
        // srs-ts extension (the console's graphs): the last hour of server and stream figures at 5 s.
        if (second) break;
        if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
        return this.json(req, { ...this.base(), ...(this.ctx.history?.toJson() ?? { interval_s: 5, server: {}, streams: {} }) });
      case "recordings":
        // srs-ts extension (the console's recordings): DVR files listed, served with Range, deleted.
        return await recordingsRoute({
          config: this.ctx.config, log: this.ctx.log,
          json: (r, body) => this.json(r, { ...this.base(), ...body }), text: (r, status, body) => this.text(r, status, body),
        }, req, method, [second, ...more].filter((x, i) => i === 0 || x !== ""), url);
      case "config": {
        // srs-ts extension (the console's config view): the running config, secrets masked.
        if (second) break;
        if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
        const c = this.ctx.config;
        const raw = c.httpApi().rawApi;
        return this.json(req, {
          ...this.base(), file: c.file ?? "", text: configText(c.root), env: envOverrides(c.env),
          reload: { raw_api: raw.enabled, allow_reload: raw.allowReload },
        });
      }
      case "logs": {
        // srs-ts extension (the console's log panel): the last `lines` log lines, of client `cid` when given.
        if (second) break;
        if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
        const cid = url.searchParams.get("cid") || undefined;
        const lines = Math.min(2000, Math.max(1, Number(url.searchParams.get("lines")) || 200));
        return this.json(req, { ...this.base(), lines: this.ctx.sink?.ring.recent(cid, lines) ?? [] });
      }
      case "tests":
        if (second === "errors" && !more.length) return this.code(req, 100);
        if (second === "redirects" && !more.length) {
          const h = this.headers(req);
          h.set("Location", "/api/v1/tests/errors");
          return new Response(null, { status: 301, headers: h });
        }
        if (second === "requests" && !more.length) return this.requests(req, url);
        break;
    }
    return this.json(req, { ...this.base(), urls: V1_URLS, tests: V1_TESTS });
  }

  private checkAuth(req: Request): Response | undefined {
    const auth = this.ctx.config.httpApi().auth;
    if (!auth.enabled) return undefined;
    const h = req.headers.get("Authorization") ?? "";
    const m = /^Basic\s+(\S+)$/i.exec(h);
    if (m) {
      let decoded = "";
      try {
        decoded = atob(m[1]!);
      } catch {
        decoded = "";
      }
      const i = decoded.indexOf(":");
      if (i >= 0 && decoded.slice(0, i) === auth.username && decoded.slice(i + 1) === auth.password) return undefined;
    }
    const res = this.text(req, 401, "Unauthorized");
    res.headers.set("WWW-Authenticate", `Basic realm="SRS"`);
    return res;
  }

  private versions(req: Request): Response {
    const [major = 0, minor = 0, revision = 0] = SRS_COMPAT_VERSION.split(".").map(Number);
    return this.json(req, { ...this.base(), data: { major, minor, revision, version: SRS_COMPAT_VERSION } });
  }

  /** The /api/v1/summaries data (also the heartbeat's `summaries`). */
  summaries(): Json {
    const stats = this.ctx.stats;
    stats.collect();
    const mem = memInfos();
    const rss = rssKbytes();
    const sys = systemCpuRatio();
    const up = systemUptime();
    const [l1, l5, l15] = loadAverages();
    const net = netBytes();
    const disk = diskRates();
    const conn = connCounts();
    const now = Date.now();
    return {
      ok: true,
      now_ms: now,
      self: {
        version: SRS_COMPAT_VERSION,
        pid: process.pid,
        ppid: process.ppid,
        argv: process.argv.join(" "),
        cwd: process.cwd(),
        mem_kbyte: rss,
        mem_percent: mem.MemTotal > 0 ? round2(rss / mem.MemTotal) : 0,
        cpu_percent: round2(stats.cpuRatio),
        srs_uptime: Math.floor((now - this.ctx.startedAt) / 1000),
      },
      system: {
        cpu_percent: round2(sys.percent),
        disk_read_KBps: disk.readKBps,
        disk_write_KBps: disk.writeKBps,
        disk_busy_percent: disk.busyPercent,
        mem_ram_kbyte: mem.MemTotal,
        mem_ram_percent: mem.percent_ram,
        mem_swap_kbyte: mem.SwapTotal,
        mem_swap_percent: mem.percent_swap,
        cpus: cpuCount(),
        cpus_online: cpuCount(),
        uptime: up.uptime,
        ilde_time: up.idle,
        load_1m: l1,
        load_5m: l5,
        load_15m: l15,
        net_sample_time: now,
        net_recv_bytes: net.recv,
        net_send_bytes: net.send,
        net_recvi_bytes: net.recvi,
        net_sendi_bytes: net.sendi,
        srs_sample_time: now,
        srs_recv_bytes: stats.server.recv,
        srs_send_bytes: stats.server.send,
        conn_sys: conn.sys,
        conn_sys_et: conn.et,
        conn_sys_tw: conn.tw,
        conn_sys_udp: conn.udp,
        conn_srs: serverClients(this.ctx).length,
      },
    };
  }

  private features(): Json {
    const c = this.ctx.config;
    return {
      options: `srs-ts/${VERSION}`,
      options2: "--hls=on --dvr=on --https=on --transcode=on --ingest=on --http-callback=on --http-server=on --http-api=on --stat=on",
      build: formatDate(this.ctx.startedAt),
      build2: String(Math.floor(this.ctx.startedAt / 1000)),
      features: {
        ssl: true,
        hls: true,
        hds: false,
        callback: true,
        api: c.httpApi().enabled,
        httpd: c.httpServer().enabled,
        dvr: true,
        transcode: true,
        ingest: true,
        stat: true,
        caster: false,
        complex_send: true,
        tcp_nodelay: true,
        so_sendbuf: false,
        mr: true,
      },
    };
  }

  private vhosts(req: Request, method: string, id: string): Response {
    if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
    const stats = this.ctx.stats;
    stats.collect();
    const names = vhostNames(this.ctx);
    if (id) {
      const name = names.find((n) => stats.vhostId(n) === id);
      if (!name) return this.code(req, ERROR_RTMP_VHOST_NOT_FOUND);
      return this.json(req, { ...this.base(), vhost: vhostJson(this.ctx, stats, name) });
    }
    return this.json(req, { ...this.base(), vhosts: names.map((n) => vhostJson(this.ctx, stats, n)) });
  }

  private streams(req: Request, method: string, id: string, url: URL): Response {
    const stats = this.ctx.stats;
    stats.collect();
    if (id) {
      const hub = this.ctx.hubs.findById(id);
      if (!hub) return this.code(req, ERROR_RTMP_STREAM_NOT_FOUND);
      if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
      return this.json(req, { ...this.base(), stream: streamJson(this.ctx, stats, hub) });
    }
    if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
    const [start, count] = page(url);
    const list = this.ctx.hubs.all().slice(start, start + count).map((h) => streamJson(this.ctx, stats, h));
    return this.json(req, { ...this.base(), streams: list });
  }

  private clients(req: Request, method: string, id: string, url: URL): Response {
    const stats = this.ctx.stats;
    stats.collect();
    if (id) {
      const c = this.ctx.clients.get(id);
      if (!c) return this.code(req, ERROR_RTMP_CLIENT_NOT_FOUND);
      if (method === "DELETE") {
        this.ctx.log.trace(`http api: kick client ${id} (${c.type} ip=${c.ip})`);
        c.kick("kicked by http api");
        return this.json(req, this.base());
      }
      if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
      return this.json(req, { ...this.base(), client: clientJson(this.ctx, stats, c, true) });
    }
    if (method !== "GET") return this.text(req, 405, "Method Not Allowed");
    const [start, count] = page(url);
    const all = serverClients(this.ctx).filter((c) => c.stream && c.stream.stream);
    return this.json(req, { ...this.base(), clients: all.slice(start, start + count).map((c) => clientJson(this.ctx, stats, c)) });
  }

  /**
   * SRS's raw API (srs_app_http_api.cpp SrsGoApiRaw): `rpc=raw` answers the raw_api settings (even when the raw
   * API is off); otherwise the raw API must be enabled (1061); `rpc=reload` needs allow_reload (1061), starts the
   * reload and answers {"code":0} at once, as SRS (a refused config shows in `rpc=reload-fetch`: err 1023);
   * any other rpc is 1060.
   */
  private raw(req: Request, url: URL): Response {
    const api = this.ctx.config.httpApi();
    const raw = api.rawApi;
    const rpc = url.searchParams.get("rpc") ?? "";
    if (rpc === "raw") {
      return this.json(req, {
        code: 0,
        http_api: {
          enabled: api.enabled, listen: api.listen, crossdomain: api.crossdomain,
          raw_api: { enabled: raw.enabled, allow_reload: raw.allowReload, allow_query: raw.allowQuery, allow_update: raw.allowUpdate },
        },
      });
    }
    if (!raw.enabled) return this.code(req, ERROR_SYSTEM_CONFIG_RAW_DISABLED);
    if (rpc === "reload") {
      if (!raw.allowReload) return this.code(req, ERROR_SYSTEM_CONFIG_RAW_DISABLED);
      const rid = Math.random().toString(36).slice(2, 9);
      this.lastReload = { err: 0, msg: "Success", state: 30, rid };
      const done = (ok: boolean) => {
        if (this.lastReload.rid !== rid) return;
        this.lastReload = { err: ok ? 0 : ERROR_SYSTEM_CONFIG_INVALID, msg: ok ? "Success" : "reload failed, the running config is kept", state: ok ? 90 : 10, rid };
        this.ctx.log.trace(`http api: raw reload ${ok ? "ok" : "failed"}`);
      };
      if (canReload(this.ctx)) void Promise.resolve(this.ctx.reload()).then(done, () => done(false));
      else done(false);
      return this.code(req, 0);
    }
    if (rpc === "reload-fetch") {
      return this.json(req, { code: 0, data: { ...this.lastReload } });
    }
    return this.code(req, ERROR_SYSTEM_CONFIG_RAW);
  }

  /** Origin cluster: whether this server holds the stream (lib/services/cluster/origin-cluster.ts). */
  private clusters(req: Request, url: URL): Response {
    const host = req.headers.get("host") ?? url.host;
    return this.json(req, { code: 0, data: clustersAnswer(this.ctx, url.searchParams, host) });
  }

  private requests(req: Request, url: URL): Response {
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      if (k.toLowerCase() !== "authorization") headers[k] = v;
    });
    return this.json(req, {
      ...this.base(),
      data: {
        uri: url.pathname + url.search,
        path: url.pathname,
        METHOD: req.method,
        headers,
        server: { sigature: "srs-ts", version: SRS_COMPAT_VERSION, link: { url: "" }, time: Date.now() },
      },
    });
  }

  private metrics(req: Request): Response {
    if (!this.ctx.config.exporter().enabled) return this.code(req, ERROR_EXPORTER_DISABLE);
    const h = this.headers(req);
    h.set("Content-Type", "text/plain; charset=utf-8");
    return new Response(renderMetrics(this.ctx), { headers: h });
  }
}

/** Mounts the API on a Hono app (the API listener's, or the HTTP server's when they share a port). */
export function mountApi(app: Hono, ctx: ApiPorts): void {
  const api = new Api(ctx);
  const handle = async (c: Context, fallbackToRoot: boolean) => await api.handle(c.req.raw, fallbackToRoot);
  app.use("*", async (c, next) => {
    const res = await handle(c, false);
    if (res) return res;
    await next();
  });
  // On an API-only listener every other path is the root index (SRS's "/" pattern), unless a later route
  // (RTC, …) serves it.
  app.notFound(async (c) => {
    if (sharesHttpServer(ctx)) return new Response("Not Found", { status: 404, headers: { Server: SERVER_SIGNATURE } });
    return (await handle(c, true)) ?? new Response("Not Found", { status: 404 });
  });
}

/** The running forwards: stream, destination URL, state and counters. */
export function forwardStats(ctx: ApiPorts): Record<string, string | number | boolean>[] {
  return (ctx.forward?.all() ?? []).map(({ hub, forwarder: f }) => ({
    stream: hub.id,
    url: hub.url,
    destination: f.url,
    connected: f.isConnected,
    send_bytes: f.sentBytes,
    sent_packets: f.sentPackets,
    dropped_packets: f.droppedPackets,
    connects: f.connects,
    failures: f.failures,
    last_error: f.lastError,
  }));
}
