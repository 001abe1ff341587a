/** The RTMP listener(s): `listen 1935;` (several `ip:port` allowed). Each connection becomes an RtmpSession. */
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { formatEndpoint, parseEndpoint } from "../../net/endpoint.ts";
import type { ServerContext } from "../../server.ts";
import { RtmpSession } from "./session.ts";

export class RtmpServer {
  private servers: NetServer[] = [];
  readonly ports: number[] = [];
  private unregister: (() => void) | undefined;

  constructor(private ctx: ServerContext) {}

  async listen(addresses: string[]): Promise<void> {
    this.unregister ??= this.ctx.lifecycle.register({ name: "rtmp listeners", phase: "accept", close: () => this.close() });
    for (const a of addresses) {
      const ep = parseEndpoint(a);
      const server = createServer({ noDelay: false }, (s) => this.accept(s));
      await new Promise<void>((resolve, reject) => {
        server.once("error", (e: NodeJS.ErrnoException) => {
          const why = e.code === "EADDRINUSE" ? "address already in use" : e.message;
          reject(new Error(`listen rtmp tcp://${formatEndpoint(ep)}: ${why}`));
        });
        server.listen(ep.port, ep.host, () => resolve());
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
    const max = this.ctx.config.maxConnections();
    if (this.ctx.clients.size >= max) {
      this.ctx.log.warn(`rtmp: reject ${socket.remoteAddress}: max_connections ${max} reached`);
      socket.destroy();
      return;
    }
    new RtmpSession(this.ctx, socket).start();
  }

  /**
   * Stops accepting now. Open connections are left to their sessions (net.Server.close's callback would wait
   * for every one of them: a connected publisher would hold a quit for as long as it streams).
   */
  close(): Promise<void> {
    this.unregister?.();
    this.unregister = undefined;
    for (const s of this.servers.splice(0)) s.close();
    return Promise.resolve();
  }
}
