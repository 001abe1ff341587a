/**
 * The one place that starts an HTTP(S) server, per runtime: Bun.serve under Bun, Deno.serve under Deno,
 * node:http elsewhere. Everything above it speaks web-standard Request/Response (hono's `fetch`).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { Readable } from "node:stream";

export interface ServeInfo {
  remoteAddr: string;
  remotePort: number;
}

export type FetchHandler = (req: Request, info: ServeInfo) => Response | Promise<Response>;

export interface HttpListener {
  readonly hostname: string;
  readonly port: number;
  /**
   * Stops accepting now and resolves at once, never waiting for the open connections (a quit or a reload must
   * not hang on a player). With `keepConnections` the requests in flight (live streams) go on until their
   * sessions end them (quit, reload moving a port); without it they are cut too.
   */
  close(opts?: { keepConnections?: boolean }): Promise<void>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: FetchHandler;
  tls?: { key: string; cert: string };
  /** Bind `[::]` IPv6-only (another listener has the port on IPv4); Deno has no such option and ignores it. */
  ipv6Only?: boolean;
}

interface BunServer {
  port: number;
  stop(closeActive?: boolean): Promise<void> | void;
  requestIP(req: Request): { address: string; port: number } | null;
}
interface BunLike {
  serve(o: {
    hostname: string;
    port: number;
    ipv6Only?: boolean;
    idleTimeout?: number;
    tls?: { key: string; cert: string };
    fetch(req: Request, server: BunServer): Response | Promise<Response>;
    error?(e: Error): Response;
  }): BunServer;
}
interface DenoLike {
  serve(
    o: { hostname: string; port: number; key?: string; cert?: string; onListen?: (a: { port: number }) => void },
    h: (req: Request, info: { remoteAddr: { hostname: string; port: number } }) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
}

export async function serveHttp(opts: ServeOptions): Promise<HttpListener> {
  const g = globalThis as unknown as { Bun?: BunLike; Deno?: DenoLike };
  if (g.Bun) {
    const server = g.Bun.serve({
      hostname: opts.hostname,
      port: opts.port,
      ipv6Only: opts.ipv6Only === true,
      idleTimeout: 0, // live streams stay open for hours
      tls: opts.tls,
      fetch(req, srv) {
        const ip = srv.requestIP(req);
        return opts.fetch(req, { remoteAddr: ip?.address ?? "", remotePort: ip?.port ?? 0 });
      },
    });
    return {
      hostname: opts.hostname,
      port: server.port,
      close: (o) => {
        void Promise.resolve(server.stop(!o?.keepConnections)).catch(() => undefined);
        return Promise.resolve();
      },
    };
  }
  if (g.Deno) {
    let port = opts.port;
    const server = g.Deno.serve(
      {
        hostname: opts.hostname,
        port: opts.port,
        key: opts.tls?.key,
        cert: opts.tls?.cert,
        onListen: (a) => {
          port = a.port;
        },
      },
      (req, info) => opts.fetch(req, { remoteAddr: info.remoteAddr.hostname, remotePort: info.remoteAddr.port }),
    );
    return {
      hostname: opts.hostname,
      port: server.addr.port ?? port,
      close: () => {
        void server.shutdown().catch(() => undefined);
        return Promise.resolve();
      },
    };
  }
  return await serveNode(opts);
}

async function serveNode(opts: ServeOptions): Promise<HttpListener> {
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
      const method = req.method ?? "GET";
      const body = method === "GET" || method === "HEAD" ? undefined : (Readable.toWeb(req) as unknown as ReadableStream);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) for (const x of v) headers.append(k, x);
        else if (v !== undefined) headers.set(k, v);
      }
      const request = new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
      const response = await opts.fetch(request, {
        remoteAddr: req.socket.remoteAddress ?? "",
        remotePort: req.socket.remotePort ?? 0,
      });
      const h: Record<string, string> = {};
      response.headers.forEach((v, k) => (h[k] = v));
      res.writeHead(response.status, h);
      if (!response.body) return void res.end();
      const reader = response.body.getReader();
      res.on("close", () => void reader.cancel().catch(() => {}));
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // Backpressure: stop reading the body while the socket is full, so a live stream's queue (which a
        // slow player's skip-ahead watches) stays in the body stream instead of piling up in node's buffers.
        if (!res.write(value) && !res.destroyed) {
          await new Promise<void>((resolve) => {
            const go = () => {
              res.off("drain", go);
              res.off("close", go);
              resolve();
            };
            res.on("drain", go);
            res.on("close", go);
          });
        }
        if (res.destroyed) break;
      }
      res.end();
    } catch {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  };
  const server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: opts.port, host: opts.hostname, ipv6Only: opts.ipv6Only === true }, () => resolve());
  });
  const addr = server.address();
  return {
    hostname: opts.hostname,
    port: typeof addr === "object" && addr ? addr.port : opts.port,
    close: (o) => {
      server.close();
      if (o?.keepConnections) server.closeIdleConnections();
      else server.closeAllConnections();
      return Promise.resolve();
    },
  };
}
