/**
 * The RTMP listener(s): `listen 1935;`, several values, `ip:port` and IPv6 (`[::]:1935`, see net/endpoint.ts).
 * Each connection becomes an RtmpSession.
 */
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { formatEndpoint, ipv6OnlyFor, parseEndpoints } from "../../net/endpoint.ts";
import type { ServerContext } from "../../server.ts";
import { RtmpSession } from "./session.ts";

export class RtmpServer {
  private servers: NetServer[] = [];
  readonly ports: number[] = [];

  constructor(private ctx: ServerContext) {}

  async listen(addresses: string[]): Promise<void> {
    const eps = parseEndpoints(addresses);
    for (const ep of eps) {
      const server = createServer({ noDelay: false }, (s) => this.accept(s));
      await new Promise<void>((resolve, reject) => {
        server.once("error", (e: NodeJS.ErrnoException) => {
          const why = e.code === "EADDRINUSE" ? "address already in use" : e.message;
          reject(new Error(`listen rtmp tcp://${formatEndpoint(ep)}: ${why}`));
        });
        server.listen({ port: ep.port, host: ep.host, ipv6Only: ipv6OnlyFor(ep, eps) }, () => resolve());
      });
      server.on("error", (e) => this.ctx.log.error(`rtmp listener ${formatEndpoint(ep)}`, e));
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : ep.port;
      this.servers.push(server);
      this.ports.push(port);
      this.ctx.log.trace(`rtmp listen at tcp://${formatEndpoint({ host: ep.host, port })}`);
    }
  }

  private accept(socket: Socket): void {
    const full = this.ctx.clients.whyFull();
    if (full) {
      this.ctx.log.warn(`rtmp: reject ${socket.remoteAddress}: ${full}`);
      socket.destroy();
      return;
    }
    new RtmpSession(this.ctx, socket).start();
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers = [];
  }
}
