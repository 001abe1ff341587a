/**
 * The HTTP listeners: `http_server` (HLS, live streams, static files, embedded pages) and `http_api`
 * (the /api/v1 JSON). When both listen on the same port they share one listener, as SRS allows.
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
import { parseEndpoint } from "../../net/endpoint.ts";
import { assetContentType, getAsset, wwwAssetForUrl } from "../../runtime/assets.ts";
import { type HttpListener, type ServeInfo, serveHttp } from "../../runtime/http-serve.ts";
import type { ServerContext } from "../../server.ts";
import { mountApi } from "../../services/api/index.ts";
import { SERVER_SIGNATURE, SRS_COMPAT_VERSION, VERSION } from "../../version.ts";
import { mountHls } from "../hls/http.ts";
import { mountRtc } from "../rtc/api.ts";
import { mountLive } from "./live.ts";
import { serveFile } from "./static-file.ts";

type Env = { Bindings: Partial<ServeInfo> };


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

export class HttpServers {
  private listeners: { kind: "http" | "api" | "both"; l: HttpListener }[] = [];

  constructor(private ctx: ServerContext) {}

  get httpPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "api").map((x) => x.l.port);
  }
  get apiPorts(): number[] {
    return this.listeners.filter((x) => x.kind !== "http").map((x) => x.l.port);
  }

  async start(): Promise<void> {
    const c = this.ctx.config;
    const http = c.httpServer();
    const api = c.httpApi();
    const httpEp = http.enabled ? parseEndpoint(http.listen) : undefined;
    const apiEp = api.enabled ? parseEndpoint(api.listen) : undefined;
    const shared = httpEp && apiEp && httpEp.port === apiEp.port && httpEp.port !== 0;
    const apiCors = () => this.ctx.config.httpApi().crossdomain;
    const httpCors = () => this.ctx.config.httpServer().crossdomain;
    if (shared) {
      const app = this.newApp((p) => (isApiPath(p) ? apiCors() : httpCors()));
      mountApi(app, this.ctx);
      mountRtc(app, this.ctx);
      this.mountHttp(app);
      await this.listen("both", httpEp.host, httpEp.port, app);
      return;
    }
    if (apiEp) {
      const app = this.newApp(apiCors);
      mountApi(app, this.ctx);
      mountRtc(app, this.ctx);
      await this.listen("api", apiEp.host, apiEp.port, app);
    }
    if (httpEp) {
      const app = this.newApp(httpCors);
      this.mountHttp(app);
      await this.listen("http", httpEp.host, httpEp.port, app);
    }
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

  private async listen(kind: "http" | "api" | "both", host: string, port: number, app: Hono): Promise<void> {
    try {
      const l = await serveHttp({ hostname: host, port, fetch: (req, info) => app.fetch(req, info) });
      this.listeners.push({ kind, l });
      this.ctx.log.trace(`${kind === "api" ? "http api" : "http server"} listen at tcp://${host}:${l.port}`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "EADDRINUSE" || /in use/i.test(String(e)) ? "address already in use" : (e as Error).message;
      throw new Error(`listen ${kind === "api" ? "http_api" : "http_server"} tcp://${host}:${port}: ${why}`);
    }
  }

  /** The HTTP server's routes, in order: HLS (playlists, segments), live streams, then static files/pages. */
  private mountHttp(app: Hono): void {
    mountHls(app, this.ctx);
    mountLive(app, this.ctx);
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
    const body = {
      version: VERSION,
      srs: SRS_COMPAT_VERSION,
      http: this.httpPorts[0] ?? port(cfg.httpServer().listen),
      api: this.apiPorts[0] ?? (api.enabled ? port(api.listen) : null),
      auth: api.enabled && api.auth.enabled,
      rtmp: port(cfg.listen()[0]),
      rtc: rtc.enabled ? rtc.listen : null,
      srt: srt.enabled ? srt.listen : null,
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

  async close(): Promise<void> {
    for (const { l } of this.listeners.splice(0)) await l.close();
  }
}
