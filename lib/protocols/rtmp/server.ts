/** The RTMP listener(s): `listen 1935;` (several `ip:port` allowed). Each connection becomes an RtmpSession. */
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { formatEndpoint, parseEndpoint } from "../../net/endpoint.ts";
import type { ClientRegistry } from "../../clients.ts";
import type { SrsConfig } from "../../config/index.ts";
import { RtmpSession, type RtmpSessionPorts } from "./session.ts";

/** What the RTMP listener needs of the server: its sessions' ports, plus max_connections and the client count. */
export interface RtmpServerPorts extends RtmpSessionPorts {
  readonly config: Pick<SrsConfig, "vhost" | "maxConnections">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "size">;
}

export class RtmpServer {
  private servers: NetServer[] = [];
  readonly ports: number[] = [];

  constructor(private ctx: RtmpServerPorts) {}

  async listen(addresses: string[]): Promise<void> {
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

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers = [];
  }
}
