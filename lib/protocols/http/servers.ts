/**
 * The HTTP listeners: `http_server` (HLS, live streams, static files, embedded pages) and `http_api`
 * (the /api/v1 JSON). Each listens on every value of its `listen` (several ports, `ip:port`, IPv6 `[::]:8080`);
 * an API endpoint on a port the HTTP server listens on shares that listener, as SRS allows.
 *
 * Every response carries the `Server` header. CORS follows SRS (`crossdomain on` by default, per listener):
 * only a request with an `Origin` header gets the Access-Control-* headers (all `*`), and OPTIONS answers 200
 * with an empty body (405 when crossdomain is off). Static files come from `http_server.dir`; a path with a
 * `..` part (also percent-encoded) or a backslash/NUL is refused with 403; a directory serves its index.html;
 * files stream from disk with Range, HEAD, ETag/Last-Modified and 304 (static-file.ts);
 * whatever the directory lacks is looked up in the pages embedded in the program (lib/runtime/assets.ts: the
 * binary, or the source tree, never the working directory), so `/` is the embedded home page when the
 * directory has no index.
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
import { serveFile } from "./static-file.ts";

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
}

const planKey = (p: PlannedListener) => `${p.kind}@${formatEndpoint(p)}${p.ipv6Only ? "/v6only" : ""}`;
const KIND_NAME = { http: "http_server", api: "http_api", both: "http_server+http_api" } as const;

export class HttpServers {
  /** `port` and `address` as configured (port 0 binds a free one: `l.port` says which). */
  private listeners: { kind: "http" | "api" | "both"; key: string; port: number; address: string; plan: PlannedListener; l: HttpListener }[] = [];
  private unregister: (() => void) | undefined;
  private closed = false;

  constructor(private ctx: HttpServersPorts, private routes: HttpRoutes) {}

  get httpPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "api").map((x) => x.l.port);
  }
  get apiPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "http").map((x) => x.l.port);
  }

  /** The listeners the running config asks for. */
  private plan(): PlannedListener[] {
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
    for (const p of this.plan()) await this.open(p);
  }

  /**
   * Reload: opens the listeners the config now asks for and closes the ones it no longer does (their open
   * requests, e.g. HTTP-FLV players, go on); a listener whose kind, host and port are unchanged is not touched.
   * New listeners are opened first: if one fails, what was opened is closed again and the error is thrown.
   */
  async rebind(): Promise<{ opened: string[]; closed: string[] }> {
    const want = this.plan();
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
          this.ctx.log.error(`${KIND_NAME[x.kind]}: cannot listen at ${x.address} again after a failed reload`, e2);
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
      this.ctx.log.trace(`${KIND_NAME[x.kind]} stop listening at tcp://${x.address}`);
    }
    this.listeners = this.listeners.filter((x) => !toClose.includes(x));
    return {
      opened: toOpen.map((p) => `${KIND_NAME[p.kind]} ${formatEndpoint(p)}`),
      closed: toClose.map((x) => `${KIND_NAME[x.kind]} ${x.address}`),
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
    const { kind, host, port, ipv6Only } = p;
    try {
      const l = await serveHttp({ hostname: host, port, ipv6Only, fetch: (req, info) => app.fetch(req, info) });
      this.listeners.push({ kind, key: planKey(p), port, address: formatEndpoint(p), plan: p, l });
      this.ctx.log.trace(`${kind === "api" ? "http api" : "http server"} listen at tcp://${formatEndpoint({ host, port: l.port })}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "EADDRINUSE" || /in use/i.test(String(err)) ? "address already in use" : (err as Error).message;
      throw new Error(`listen ${kind === "api" ? "http_api" : "http_server"} tcp://${formatEndpoint(p)}: ${why}`);
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
      auth: api.enabled && api.auth.enabled,
      rtmp: port(cfg.listen()[0]),
      rtc: rtc.enabled ? rtc.listen : null,
      srt: srt.enabled ? srt.listen : null,
      rtsp: rtsp.enabled ? rtsp.listen : null,
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

  /** A file of http_server.dir, streamed from disk with Range, HEAD and validators (static-file.ts). */
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
