/**
 * The one place that starts an HTTP(S) server, per runtime: Bun.serve under Bun, Deno.serve under Deno (HTTPS:
 * node:https, see below), node:http (with @hono/node-server) elsewhere. Everything above it speaks web-standard Request/Response (hono's `fetch`).
 */
import { reusePort } from "./worker-env.ts";

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
  /**
   * A TLS listener whose runtime can swap its key/cert in place (node:https's setSecureContext): new connections
   * get the new pair, open ones keep theirs. Absent under Bun.serve (no such call: a renewal reopens the listener).
   */
  setTls?(tls: { key: string; cert: string }): void;
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
    reusePort?: boolean;
    idleTimeout?: number;
    tls?: { key: string; cert: string };
    fetch(req: Request, server: BunServer): Response | Promise<Response>;
    error?(e: Error): Response;
  }): BunServer;
}
interface DenoLike {
  serve(
    o: { hostname: string; port: number; reusePort?: boolean; onListen?: (a: { port: number }) => void },
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
      reusePort: reusePort(opts.port),
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
  // Deno.serve keeps its port until every open request ended after shutdown(), so a TLS listener could not be
  // reopened with a renewed certificate while players are connected: under Deno TLS goes through node:https,
  // whose setSecureContext swaps the pair in place.
  if (g.Deno && !opts.tls) {
    let port = opts.port;
    const server = g.Deno.serve(
      {
        hostname: opts.hostname,
        port: opts.port,
        reusePort: reusePort(opts.port),
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

/**
 * node:http (Node, or any runtime with neither Bun.serve nor Deno.serve), through @hono/node-server's request
 * listener: IncomingMessage → Request, Response → ServerResponse, with backpressure on streamed bodies (a live
 * stream's queue stays in the body stream, where a slow player's skip-ahead watches it). Loaded only here, as
 * node:http and node:https: importing those two under Bun costs ~2.3 MB of RSS that Bun.serve never needs.
 * Exported for its test (the server never takes this path under Bun or Deno).
 */
export async function serveNode(opts: ServeOptions): Promise<HttpListener> {
  const { getRequestListener } = await import("@hono/node-server");
  const { createServer: createHttpServer } = await import("node:http");
  const { createServer: createHttpsServer } = await import("node:https");
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
    server.listen({ port: opts.port, host: opts.hostname, ipv6Only: opts.ipv6Only === true, reusePort: reusePort(opts.port) }, () => resolve());
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
    ...("setSecureContext" in server ? { setTls: (tls: { key: string; cert: string }) => server.setSecureContext({ key: tls.key, cert: tls.cert }) } : {}),
  };
}
