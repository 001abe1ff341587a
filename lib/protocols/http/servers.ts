/**
 * The HTTP listeners: `http_server` (HLS, live streams, static files, embedded pages) and `http_api`
 * (the /api/v1 JSON). Each listens on every value of its `listen` (several ports, `ip:port`, IPv6 `[::]:8080`);
 * an API endpoint on a port the HTTP server listens on shares that listener, as SRS allows.
 *
 * Every response carries the `Server` header. CORS follows SRS (`crossdomain on` by default, per listener):
 * only a request with an `Origin` header gets the Access-Control-* headers (all `*`), and OPTIONS answers 200
 * with an empty body (405 when crossdomain is off). Static files come from `http_server.dir`; a path with a
 * `..` part (also percent-encoded) or a backslash/NUL is refused with 403; a directory serves its index.html;
 * files stream from disk with Range, HEAD, ETag/Last-Modified and 304 (lib/net/static-file.ts);
 * whatever the directory lacks is looked up in the pages embedded in the program (lib/runtime/assets.ts: the
 * binary, or the source tree, never the working directory), so `/` is the embedded home page when the
 * directory has no index.
 *
 * HTTPS (as SRS): `http_server.https` is a TLS listener serving the same routes as the HTTP server; when the API
 * shares the HTTP server (its `https.listen` then follows the HTTPS server's, config/http-servers.ts) the HTTPS
 * server serves the API and the WebRTC signalling too, else `http_api.https` is a TLS listener of its own with
 * the API routes. Their key/cert are re-read on every reload (SIGHUP): a renewed pair is swapped in place where
 * the runtime can (node:https, used under Deno), else taken by reopening the listener (Bun.serve; open requests,
 * e.g. HTTP-FLV players, go on over the old one); a bad pair is refused with an error and the running listener
 * keeps its old certificate.
 */
import { CORS_HEADERS } from "../../net/cors.ts";
import { stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { type Endpoint, formatEndpoint, ipv6OnlyFor, parseEndpoint, parseEndpoints } from "../../net/endpoint.ts";
import { assetContentType, getAsset, wwwAssetForUrl } from "../../runtime/assets.ts";
import { type HttpListener, type ServeInfo, serveHttp } from "../../runtime/http-serve.ts";
import type { SrsConfig } from "../../config/index.ts";
import type { Log } from "../../log/logger.ts";
import type { Lifecycle } from "../../lifecycle.ts";
import { SERVER_SIGNATURE, SRS_COMPAT_VERSION, VERSION } from "../../version.ts";
import { serveFile } from "../../net/static-file.ts";
import { loadTlsPair, type TlsPair } from "./tls-pair.ts";
import type { HttpsConfig } from "../../config/http-servers.ts";

type Env = { Bindings: Partial<ServeInfo> };

/** What the HTTP listeners need of the server: the config in force (a reload replaces it) and the log. */
export interface HttpServersPorts {
  readonly config: SrsConfig;
  readonly log: Log;
  readonly lifecycle: Lifecycle;
}

/** Mounts one service's routes on a listener's app (the API, WebRTC signalling, HLS, live streams). */
export type RouteMount = (app: Hono) => void;

/**
 * The routes of every service, given by the composition root (lib/server.ts), so this module imports no other
 * protocol or service. Each list is mounted in order.
 */
export interface HttpRoutes {
  /** On the http_api listener (or the shared one). */
  api: readonly RouteMount[];
  /** On the http_server listener, before the embedded pages and static files. */
  http: readonly RouteMount[];
}


/** API paths on a shared listener follow http_api.crossdomain, the rest http_server.crossdomain. */
function isApiPath(path: string): boolean {
  return path.startsWith("/api/") || path === "/api" || path.startsWith("/rtc/") || path === "/metrics";
}

/**
 * Server header + CORS for every response of a listener. `cors(path)` says whether crossdomain is on for it
 * (read per request: a reload may change it).
 */
export function commonHeaders(cors: (path: string) => boolean): MiddlewareHandler<Env> {
  return async (c, next) => {
    const req = c.req.raw;
    const path = c.req.path;
    const enabled = cors(path);
    const required = enabled && req.headers.has("origin");
    if (req.method === "OPTIONS") {
      const h = new Headers({ Server: SERVER_SIGNATURE, "Content-Length": "0" });
      if (required) for (const [k, v] of CORS_HEADERS) h.set(k, v);
      return new Response(null, { status: enabled ? 200 : 405, headers: h });
    }
    await next();
    try {
      const h = c.res.headers;
      h.set("Server", SERVER_SIGNATURE);
      if (required) for (const [k, v] of CORS_HEADERS) h.set(k, v);
    } catch {
      // immutable headers (a fetched Response): rebuild it
      const h = new Headers(c.res.headers);
      h.set("Server", SERVER_SIGNATURE);
      if (required) for (const [k, v] of CORS_HEADERS) h.set(k, v);
      c.res = new Response(c.res.body, { status: c.res.status, statusText: c.res.statusText, headers: h });
    }
  };
}

function plain(status: number, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", Server: SERVER_SIGNATURE } });
}

/**
 * The file-system-relative path a URL path names, or "forbidden" (a `..` part, NUL, backslash, bad
 * encoding). The result has no leading slash; a trailing slash is kept (directory).
 */
export function safeRelativePath(urlPath: string): string | "forbidden" {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return "forbidden";
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return "forbidden";
  const parts = decoded.split("/");
  if (parts.some((p) => p === "..")) return "forbidden";
  return parts.filter((p, i) => p !== "." && (p !== "" || i === parts.length - 1)).join("/");
}

/** One listener the config asks for: `both` when http_api and http_server share a port (SRS allows it). */
interface PlannedListener extends Endpoint {
  kind: "http" | "api" | "both";
  /** `[::]` bound IPv6-only because the same port is also listed for IPv4 (net/endpoint.ts). */
  ipv6Only: boolean;
  /** HTTPS: the key/cert it serves (http_server.https's; http_api.https's for an API-only one). */
  tls?: TlsPair;
}

/** The listener, whatever its certificate. */
const slotKey = (p: PlannedListener, tls = p.tls !== undefined) => `${tls ? "https" : "http"}:${p.kind}@${formatEndpoint(p)}${p.ipv6Only ? "/v6only" : ""}`;
/** The listener with its certificate: a renewed one is another listener (reopened). */
const planKey = (p: PlannedListener) => `${slotKey(p)}${p.tls ? `#${p.tls.id}` : ""}`;
const KIND_NAME = { http: "http_server", api: "http_api", both: "http_server+http_api" } as const;
const TLS_KIND_NAME = { http: "http_server.https", api: "http_api.https", both: "http_server.https+http_api" } as const;
const kindName = (p: PlannedListener) => (p.tls ? TLS_KIND_NAME : KIND_NAME)[p.kind];

/** What a plan could not load (a bad key/cert): the listener keeps its old pair, or is not opened. */
interface PlanResult {
  want: PlannedListener[];
  errors: string[];
}

export class HttpServers {
  /** `port` and `address` as configured (port 0 binds a free one: `l.port` says which). */
  private listeners: { kind: "http" | "api" | "both"; key: string; port: number; address: string; plan: PlannedListener; l: HttpListener }[] = [];
  /** The TLS pair last logged as taken from the shipped files, so a reload does not warn again. */
  private shippedNoted = new Set<string>();
  private unregister: (() => void) | undefined;
  private closed = false;

  constructor(private ctx: HttpServersPorts, private routes: HttpRoutes) {}

  get httpPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "api" && !x.plan.tls).map((x) => x.l.port);
  }
  get apiPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "http" && !x.plan.tls).map((x) => x.l.port);
  }
  /** The HTTPS server's ports (http_server.https). */
  get httpsPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "api" && x.plan.tls).map((x) => x.l.port);
  }
  /** Where the API answers over TLS (the HTTPS server's port when it serves the API, or http_api.https's). */
  get httpsApiPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "http" && x.plan.tls).map((x) => x.l.port);
  }

  /** The listeners the running config asks for: plain HTTP, then HTTPS. */
  private plan(): PlanResult {
    const errors: string[] = [];
    const want = [...this.planHttp(), ...this.planHttps(errors)];
    return { want, errors };
  }

  /**
   * The HTTPS listeners: http_server.https (serving the API too when http_api.https.listen is its port, which is
   * the default when the API shares the HTTP server, as SRS), and http_api.https on a port of its own.
   */
  private planHttps(errors: string[]): PlannedListener[] {
    const c = this.ctx.config;
    const http = c.httpServer();
    const api = c.httpApi();
    const out: PlannedListener[] = [];
    const endpoint = (listen: string, what: string): Endpoint | undefined => {
      try {
        return parseEndpoint(listen);
      } catch (e) {
        errors.push(`${what}: listen ${listen}: ${(e as Error).message}`);
        return undefined;
      }
    };
    const httpsEp = http.enabled && http.https.enabled ? endpoint(http.https.listen, "http_server.https") : undefined;
    const apisEp = api.enabled && api.https.enabled ? endpoint(api.https.listen, "http_api.https") : undefined;
    let apiShared = false;
    if (httpsEp) {
      const apiListen = api.enabled ? endpoint(api.https.listen, "http_api.https") : undefined;
      apiShared = apiListen !== undefined && httpsEp.port !== 0 && apiListen.port === httpsEp.port;
      const p: PlannedListener = { kind: apiShared ? "both" : "http", ...httpsEp, ipv6Only: false };
      const tls = this.tlsFor(p, http.https, errors);
      if (tls) out.push({ ...p, tls });
    }
    if (apisEp && !apiShared) {
      const p: PlannedListener = { kind: "api", ...apisEp, ipv6Only: false };
      const tls = this.tlsFor(p, api.https, errors);
      if (tls) out.push({ ...p, tls });
    }
    return out;
  }

  /**
   * The key/cert of an HTTPS listener, read and checked now. When they cannot be, the error is noted and the
   * running listener keeps the pair it has (undefined when there is none: the listener is not opened).
   */
  private tlsFor(p: PlannedListener, https: HttpsConfig, errors: string[]): TlsPair | undefined {
    const slot = slotKey(p, true);
    const running = this.listeners.find((x) => slotKey(x.plan) === slot)?.plan.tls;
    const notes = { shipped: [] as string[] };
    try {
      const pair = loadTlsPair(https.key, https.cert, notes);
      if (notes.shipped.length && !this.shippedNoted.has(slot + pair.id)) {
        this.shippedNoted.add(slot + pair.id);
        for (const n of notes.shipped) this.ctx.log.warn(`${TLS_KIND_NAME[p.kind]}: ${n}`);
      }
      return pair;
    } catch (e) {
      const keep = running ? `, keeping the running certificate (${running.subject}, sha256 ${running.fingerprint})` : "";
      errors.push(`${TLS_KIND_NAME[p.kind]} ${formatEndpoint(p)}: ${(e as Error).message}${keep}`);
      return running;
    }
  }

  /** The plain HTTP listeners. */
  private planHttp(): PlannedListener[] {
    const c = this.ctx.config;
    const http = c.httpServer();
    const api = c.httpApi();
    const httpEps = http.enabled ? parseEndpoints(http.listens) : [];
    const apiEps = api.enabled ? parseEndpoints(api.listens) : [];
    const all = [...httpEps, ...apiEps];
    const samePort = (e: Endpoint, list: Endpoint[]) => e.port !== 0 && list.some((o) => o.port === e.port);
    const out: PlannedListener[] = [];
    for (const e of apiEps) {
      if (samePort(e, httpEps)) continue; // served by the HTTP server's listener on that port
      out.push({ kind: "api", ...e, ipv6Only: ipv6OnlyFor(e, all) });
    }
    for (const e of httpEps) out.push({ kind: samePort(e, apiEps) ? "both" : "http", ...e, ipv6Only: ipv6OnlyFor(e, all) });
    return out;
  }

  async start(): Promise<void> {
    this.unregister ??= this.ctx.lifecycle.register({ name: "http listeners", phase: "accept", close: () => this.close() });
    const { want, errors } = this.plan();
    if (errors.length) throw new Error(errors.join("; "));
    for (const p of want) await this.open(p);
  }

  /**
   * Reload: opens the listeners the config now asks for and closes the ones it no longer does (their open
   * requests, e.g. HTTP-FLV players, go on); a listener whose kind, host and port are unchanged is not touched.
   * New listeners are opened first: if one fails, what was opened is closed again and the error is thrown.
   * An HTTPS listener whose key/cert files changed takes them in place or is reopened with them (`renewed`); one
   * whose files cannot be loaded keeps its pair (`errors`, also logged).
   */
  async rebind(): Promise<{ opened: string[]; closed: string[]; renewed: string[]; errors: string[] }> {
    const { want, errors } = this.plan();
    for (const e of errors) this.ctx.log.error(`reload: ${e}`);
    // A renewed key/cert on a listener that can swap it in place (node:https): no reopen.
    const renewed: string[] = [];
    for (const p of want) {
      const x = this.listeners.find((l) => p.tls && l.l.setTls && slotKey(l.plan) === slotKey(p) && l.key !== planKey(p));
      if (!x || !p.tls) continue;
      try {
        x.l.setTls!({ key: p.tls.key, cert: p.tls.cert });
      } catch (e) {
        errors.push(`${kindName(p)} ${formatEndpoint(p)}: ${(e as Error).message}, keeping the running certificate`);
        continue;
      }
      x.key = planKey(p);
      x.plan = p;
      renewed.push(`${kindName(p)} ${formatEndpoint(p)} certificate ${p.tls.subject} sha256 ${p.tls.fingerprint}`);
    }
    const wantKeys = new Set(want.map(planKey));
    const toOpen = want.filter((p) => !this.listeners.some((x) => x.key === planKey(p)));
    const toClose = this.listeners.filter((x) => !wantKeys.has(x.key));
    // A port that stays but changes role (api → shared) must be freed before it is bound again.
    const reused = toClose.filter((x) => toOpen.some((p) => p.port === x.l.port || p.port === x.port));
    for (const x of reused) await x.l.close({ keepConnections: true });
    const before = this.listeners.length;
    try {
      for (const p of toOpen) await this.open(p);
    } catch (e) {
      for (const x of this.listeners.splice(before)) await x.l.close();
      this.listeners = this.listeners.filter((x) => !reused.includes(x));
      // Listeners freed for a port changing role are opened again, so a failed reload leaves what it found.
      for (const x of reused) {
        try {
          await this.open(x.plan);
        } catch (e2) {
          this.ctx.log.error(`${kindName(x.plan)}: cannot listen at ${x.address} again after a failed reload`, e2);
        }
      }
      throw e;
    }
    if (this.closed) {
      // A quit closed the listeners while these were opening: it wins.
      for (const x of this.listeners.splice(0)) await x.l.close();
      throw new Error("the server is quitting");
    }
    for (const x of toClose) {
      if (!reused.includes(x)) await x.l.close({ keepConnections: true });
      this.ctx.log.trace(`${kindName(x.plan)} stop listening at tcp://${x.address}`);
    }
    this.listeners = this.listeners.filter((x) => !toClose.includes(x));
    // Same listener, new key/cert: a renewal, not a move.
    const renewedPlans = toOpen.filter((p) => p.tls && toClose.some((x) => slotKey(x.plan) === slotKey(p)));
    renewed.push(...renewedPlans.map((p) => `${kindName(p)} ${formatEndpoint(p)} certificate ${p.tls!.subject} sha256 ${p.tls!.fingerprint}`));
    for (const r of renewed) this.ctx.log.trace(`reload: ${r}`);
    const moved = (p: PlannedListener) => !renewedPlans.some((r) => slotKey(r) === slotKey(p));
    return {
      opened: toOpen.filter(moved).map((p) => `${kindName(p)} ${formatEndpoint(p)}`),
      closed: toClose.filter((x) => moved(x.plan)).map((x) => `${kindName(x.plan)} ${x.address}`),
      renewed,
      errors,
    };
  }

  private async open(p: PlannedListener): Promise<void> {
    const apiCors = () => this.ctx.config.httpApi().crossdomain;
    const httpCors = () => this.ctx.config.httpServer().crossdomain;
    const app = this.newApp(p.kind === "both" ? (path) => (isApiPath(path) ? apiCors() : httpCors()) : p.kind === "api" ? apiCors : httpCors);
    if (p.kind !== "http") this.mountApi(app);
    if (p.kind !== "api") this.mountHttp(app);
    await this.listen(p, app);
  }

  private newApp(cors: (path: string) => boolean): Hono {
    const app = new Hono<Env>();
    app.use("*", commonHeaders(cors));
    app.notFound(() => plain(404, "Not Found"));
    app.onError((e) => {
      this.ctx.log.warn(`http handler error: ${(e as Error).message}`);
      return plain(500, "Internal Server Error");
    });
    return app as unknown as Hono;
  }

  private async listen(p: PlannedListener, app: Hono): Promise<void> {
    const { kind, host, port, ipv6Only, tls } = p;
    try {
      const l = await serveHttp({
        hostname: host,
        port,
        ipv6Only,
        fetch: (req, info) => app.fetch(req, info),
        tls: tls ? { key: tls.key, cert: tls.cert } : undefined,
      });
      this.listeners.push({ kind, key: planKey(p), port, address: formatEndpoint(p), plan: p, l });
      const what = `${kind === "api" ? "http api" : "http server"}${tls ? " https" : ""}`;
      const cert = tls ? `, cert ${tls.subject} sha256 ${tls.fingerprint} until ${tls.validTo}` : "";
      this.ctx.log.trace(`${what} listen at tcp://${formatEndpoint({ host, port: l.port })}${cert}`);
      if (tls && Date.parse(tls.validTo) < Date.now()) this.ctx.log.warn(`${kindName(p)}: the certificate ${tls.subject} expired ${tls.validTo}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "EADDRINUSE" || /in use/i.test(String(err)) ? "address already in use" : (err as Error).message;
      throw new Error(`listen ${kindName(p)} tcp://${formatEndpoint(p)}: ${why}`);
    }
  }

  private mountApi(app: Hono): void {
    for (const mount of this.routes.api) mount(app);
  }

  /** The HTTP server's routes, in order: the services' (HLS, live streams), then static files/pages. */
  private mountHttp(app: Hono): void {
    for (const mount of this.routes.http) mount(app);
    app.get("/console/config.json", (c: Context) => this.pagesConfig(c));
    this.mountStatic(app);
  }

  /**
   * What the embedded pages (home, console, players) need to build URLs: the ports each service listens on (null
   * when off; the API's is the bound port, the HTTP server's when they share one) and whether the API asks for
   * credentials. Hosts are left to the page (the one it was loaded from).
   */
  private pagesConfig(c: Context): Response {
    const cfg = this.ctx.config;
    const port = (listen: string | undefined): number | null => {
      try {
        return listen ? parseEndpoint(listen).port : null;
      } catch {
        return null;
      }
    };
    const api = cfg.httpApi();
    const rtc = cfg.rtcServer();
    const srt = cfg.srtServer();
    const rtsp = cfg.rtspServer();
    const body = {
      version: VERSION,
      srs: SRS_COMPAT_VERSION,
      http: this.httpPorts[0] ?? port(cfg.httpServer().listen),
      api: this.apiPorts[0] ?? (api.enabled ? port(api.listen) : null),
      // HTTPS (null when off): the HTTPS server's port, and where the API answers over TLS.
      https: this.httpsPorts[0] ?? null,
      https_api: this.httpsApiPorts[0] ?? null,
      auth: api.enabled && api.auth.enabled,
      rtmp: port(cfg.listen()[0]),
      rtc: rtc.enabled ? rtc.listen : null,
      srt: srt.enabled ? srt.listen : null,
      rtsp: rtsp.enabled ? rtsp.listen : null,
      /** Vhosts with DASH on (the pages list a .mpd URL for their streams). */
      dash: cfg.vhosts().filter((n) => {
        const v = cfg.vhostExact(n);
        return !!v?.enabled && v.dash.enabled;
      }),
    };
    return c.json(body, 200, { "Cache-Control": "no-cache" });
  }

  private mountStatic(app: Hono): void {
    app.get("*", async (c: Context) => {
      const urlPath = c.req.path;
      const rel = safeRelativePath(urlPath);
      if (rel === "forbidden") return plain(403, "Forbidden");
      // Files in http_server.dir win; otherwise the embedded pages (home, console, players).
      const local = await this.localFile(c.req.raw, this.ctx.config.httpServer().dir, rel);
      if (local) return local;
      const asset = wwwAssetForUrl("/" + rel);
      if (asset) {
        const body = getAsset(asset)!;
        return new Response(body as Uint8Array<ArrayBuffer>, {
          headers: { "Content-Type": assetContentType(asset), Server: SERVER_SIGNATURE },
        });
      }
      // A directory without its slash: redirect, as file servers do.
      if (rel !== "" && !rel.endsWith("/") && wwwAssetForUrl("/" + rel + "/")) {
        return new Response(null, { status: 301, headers: { Location: `/${rel}/`, Server: SERVER_SIGNATURE } });
      }
      return plain(404, "Not Found");
    });
  }

  /** A file of http_server.dir, streamed from disk with Range, HEAD and validators (lib/net/static-file.ts). */
  private async localFile(req: Request, dir: string, rel: string): Promise<Response | undefined> {
    const root = resolve(dir);
    let file = resolve(root, rel);
    if (file !== root && !file.startsWith(root + sep)) return undefined;
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        if (rel !== "" && !rel.endsWith("/")) {
          return new Response(null, { status: 301, headers: { Location: `/${rel}/`, Server: SERVER_SIGNATURE } });
        }
        file = join(file, "index.html");
        st = await stat(file);
      }
      if (!st.isFile()) return undefined;
      return serveFile(req, file, st);
    } catch {
      return undefined;
    }
  }

  /** Stops accepting; open responses (live streams) go on until their sessions end them. */
  async close(): Promise<void> {
    this.closed = true;
    this.unregister?.();
    this.unregister = undefined;
    await Promise.all(this.listeners.splice(0).map(({ l }) => l.close()));
  }
}
