/**
 * The HTTP listeners: `http_server` (static files, embedded pages, later HTTP-FLV/HLS) and `http_api`
 * (the /api/v1 JSON). When both listen on the same port they share one listener, as SRS allows.
 */
import { readFile, stat } from "node:fs/promises";
import { join, normalize } from "node:path";
import { Hono } from "hono";
import { parseEndpoint } from "../../net/endpoint.ts";
import { assetContentType, getAsset, wwwAssetForUrl } from "../../runtime/assets.ts";
import { type HttpListener, serveHttp } from "../../runtime/http-serve.ts";
import type { ServerContext } from "../../server.ts";
import { mountApi } from "../../services/api/index.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import { mountHls } from "../hls/http.ts";
import { mountLive } from "./live.ts";

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
    if (shared) {
      const app = new Hono();
      mountApi(app, this.ctx);
      this.mountHttp(app);
      await this.listen("both", httpEp.host, httpEp.port, app);
      return;
    }
    if (apiEp) {
      const app = new Hono();
      mountApi(app, this.ctx);
      await this.listen("api", apiEp.host, apiEp.port, app);
    }
    if (httpEp) {
      const app = new Hono();
      this.mountHttp(app);
      await this.listen("http", httpEp.host, httpEp.port, app);
    }
  }

  private async listen(kind: "http" | "api" | "both", host: string, port: number, app: Hono): Promise<void> {
    try {
      const l = await serveHttp({ hostname: host, port, fetch: (req) => app.fetch(req) });
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
    this.mountStatic(app);
  }

  private mountStatic(app: Hono): void {
    const dir = this.ctx.config.httpServer().dir;
    app.get("*", async (c) => {
      const path = new URL(c.req.url).pathname;
      // Files in http_server.dir win; otherwise the embedded pages (home, console, players).
      const local = await this.readLocal(dir, path);
      if (local) return local;
      const asset = wwwAssetForUrl(path);
      if (asset) {
        const body = getAsset(asset)!;
        return new Response(body as Uint8Array<ArrayBuffer>, { headers: { "Content-Type": assetContentType(asset), Server: SERVER_SIGNATURE } });
      }
      return new Response("Not Found", { status: 404, headers: { Server: SERVER_SIGNATURE } });
    });
  }

  private async readLocal(dir: string, urlPath: string): Promise<Response | undefined> {
    let rel: string;
    try {
      rel = normalize(decodeURIComponent(urlPath));
    } catch {
      return undefined;
    }
    if (rel.includes("..")) return undefined;
    let file = join(dir, rel);
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        file = join(file, "index.html");
        st = await stat(file);
      }
      if (!st.isFile()) return undefined;
      const body = await readFile(file);
      return new Response(body, { headers: { "Content-Type": assetContentType(file), Server: SERVER_SIGNATURE } });
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    for (const { l } of this.listeners.splice(0)) await l.close();
  }
}
