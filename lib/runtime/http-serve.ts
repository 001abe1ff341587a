/**
 * The one place that starts an HTTP(S) server, per runtime: Bun.serve under Bun, Deno.serve under Deno,
 * node:http (with @hono/node-server) elsewhere. Everything above it speaks web-standard Request/Response (hono's `fetch`).
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";

export interface ServeInfo {
  remoteAddr: string;
  remotePort: number;
}

export type FetchHandler = (req: Request, info: ServeInfo) => Response | Promise<Response>;

export interface HttpListener {
  readonly hostname: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: FetchHandler;
  tls?: { key: string; cert: string };
}

interface BunServer {
  port: number;
  stop(closeActive?: boolean): void;
  requestIP(req: Request): { address: string; port: number } | null;
}
interface BunLike {
  serve(o: {
    hostname: string;
    port: number;
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
      close: () => {
        server.stop(true);
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
    return { hostname: opts.hostname, port: server.addr.port ?? port, close: () => server.shutdown() };
  }
  return await serveNode(opts);
}

/**
 * node:http (Node, or any runtime with neither Bun.serve nor Deno.serve), through @hono/node-server's request
 * listener: IncomingMessage → Request, Response → ServerResponse, with backpressure on streamed bodies (a live
 * stream's queue stays in the body stream, where a slow player's skip-ahead watches it). Loaded only here.
 * Exported for its test (the server never takes this path under Bun or Deno).
 */
export async function serveNode(opts: ServeOptions): Promise<HttpListener> {
  const { getRequestListener } = await import("@hono/node-server");
  const handler = getRequestListener(
    (req, env) => {
      const socket = env.incoming.socket;
      return opts.fetch(req, { remoteAddr: socket.remoteAddress ?? "", remotePort: socket.remotePort ?? 0 });
    },
    // keep the runtime's own Request/Response (the package would replace the globals with its own by default)
    { overrideGlobalObjects: false },
  );
  const server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => resolve());
  });
  const addr = server.address();
  return {
    hostname: opts.hostname,
    port: typeof addr === "object" && addr ? addr.port : opts.port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
