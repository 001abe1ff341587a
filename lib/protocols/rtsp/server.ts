/**
 * The RTSP service: `rtsp_server { enabled on; listen 8554; }` — TCP listener(s), one RtspSession per connection
 * (session.ts). Started from lib/server.ts when enabled. A quit stops accepting at "accept" and the sessions end
 * with the other clients (they are in the client registry); a reload that moves or disables the listener retires
 * this service: no new connection, its sessions go on until they end (as RTMP sessions outlive a closed
 * listener), see reload.ts.
 */
import { listenTcp, type TcpServer } from "../../runtime/tcp.ts";
import { reusePort } from "../../runtime/worker-env.ts";
import { formatEndpoint, ipv6OnlyFor, parseEndpoints } from "../../net/endpoint.ts";
import type { Lifecycle } from "../../lifecycle.ts";
import { rtspAuth } from "./auth.ts";
import { type RtspPorts, RtspSession } from "./session.ts";

export interface RtspServicePorts extends RtspPorts {
  readonly lifecycle: Pick<Lifecycle, "register">;
}

export class RtspService {
  readonly sessions = new Set<RtspSession>();
  private servers: TcpServer[] = [];
  private bound: number[] = [];
  private unregister: (() => void)[] = [];
  private emptyWaiters: (() => void)[] = [];

  constructor(private ctx: RtspServicePorts) {}

  /** TCP ports bound, in config order. */
  get ports(): number[] {
    return this.bound;
  }

  get port(): number | undefined {
    return this.bound[0];
  }

  async start(): Promise<void> {
    const c = this.ctx.config.rtspServer();
    const eps = parseEndpoints(c.listens);
    try {
      for (const ep of eps) {
        let server: TcpServer;
        try {
          const opts = { host: ep.host, port: ep.port, ipv6Only: ipv6OnlyFor(ep, eps), reusePort: reusePort(ep.port), noDelay: true };
          server = await listenTcp(opts, (socket) => {
            const full = this.ctx.clients.whyFull();
            if (full) {
              this.ctx.log.warn(`rtsp: reject ${socket.remoteAddress}: ${full}`);
              socket.destroy();
              return;
            }
            const rc = this.ctx.config.rtspServer();
            const auth = rc.auth.enabled ? rtspAuth(rc.auth) : undefined;
            const s = new RtspSession(this.ctx, socket, auth, (x) => this.ended(x));
            this.sessions.add(s);
            s.start();
          });
        } catch (e) {
          const c = (e as { code?: string }).code;
          throw new Error(`listen rtsp tcp://${formatEndpoint(ep)}: ${c === "EADDRINUSE" ? "address already in use" : (e as Error).message}`);
        }
        this.servers.push(server);
        this.bound.push(server.port);
        this.ctx.log.trace(`rtsp listen at tcp://${formatEndpoint({ host: ep.host, port: server.port })}${c.auth.enabled ? ", auth on" : ""}`);
      }
    } catch (e) {
      this.stopAccepting();
      throw e;
    }
    this.unregister.push(this.ctx.lifecycle.register({ name: "rtsp listeners", phase: "accept", close: () => this.close("server quit") }));
  }

  private ended(s: RtspSession): void {
    this.sessions.delete(s);
    if (this.sessions.size === 0) for (const cb of this.emptyWaiters.splice(0)) cb();
  }

  /** Stops accepting; the connections already accepted are not waited for (TcpServer.close's promise would). */
  private stopAccepting(): void {
    for (const s of this.servers.splice(0)) void s.close();
  }

  /** Reload moved or disabled the listener: no new connection; the sessions go on until they end. */
  retire(): void {
    for (const off of this.unregister.splice(0)) off();
    const ports = this.bound.join(",");
    this.stopAccepting();
    this.ctx.log.trace(`rtsp on tcp ${ports}: no new connections, ${this.sessions.size} sessions go on until they end`);
  }

  /**
   * Quit: stop accepting, and end the connections that never got as far as DESCRIBE/ANNOUNCE; admitted sessions
   * are clients and end with the client registry (at once, or after a graceful quit's wait).
   */
  close(reason: string): Promise<void> {
    for (const off of this.unregister.splice(0)) off();
    this.stopAccepting();
    for (const s of [...this.sessions]) if (!s.admitted) s.close(reason);
    return Promise.resolve();
  }
}

/** Starts the RTSP service when `rtsp_server.enabled` (undefined otherwise). */
export async function startRtsp(ctx: RtspServicePorts): Promise<RtspService | undefined> {
  if (!ctx.config.rtspServer().enabled) return undefined;
  const s = new RtspService(ctx);
  await s.start();
  return s;
}
