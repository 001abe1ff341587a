/**
 * The RTMP listener(s): `listen 1935;`, several values, `ip:port` and IPv6 (`[::]:1935`, see net/endpoint.ts).
 * Each connection becomes an RtmpSession. On reload, `rebind()` opens the addresses that are new and stops
 * accepting on the ones that are gone; the listeners of unchanged addresses, and every connected session, are left
 * alone (SRS: on_reload_listen).
 */
import { reusePort } from "../../runtime/worker-env.ts";
import { listenTcp, type TcpConnection, type TcpServer } from "../../runtime/tcp.ts";
import { type Endpoint, formatEndpoint, ipv6OnlyFor, parseEndpoint, parseEndpoints } from "../../net/endpoint.ts";
import type { ClientRegistry } from "../../clients.ts";
import type { SrsConfig } from "../../config/index.ts";
import type { Lifecycle } from "../../lifecycle.ts";
import { RtmpSession, type RtmpSessionPorts } from "./session.ts";

/** What the RTMP listener needs of the server: its sessions' ports, plus max_connections and the quit event. */
export interface RtmpServerPorts extends RtmpSessionPorts {
  readonly config: Pick<SrsConfig, "vhost" | "maxConnections">;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "size" | "whyFull">;
  readonly lifecycle: Pick<Lifecycle, "register">;
}

interface Bound {
  /** The listen value as configured (`1935`, `127.0.0.1:1935`): what reload compares. */
  address: string;
  server: TcpServer;
  port: number;
}

export class RtmpServer {
  private bound: Bound[] = [];
  private unregister: (() => void) | undefined;
  private closed = false;

  constructor(private ctx: RtmpServerPorts) {}

  /** Ports bound, in config order. */
  get ports(): number[] {
    return this.bound.map((b) => b.port);
  }

  async listen(addresses: string[]): Promise<void> {
    this.unregister ??= this.ctx.lifecycle.register({ name: "rtmp listeners", phase: "accept", close: () => this.close() });
    const all = parseEndpoints(addresses);
    for (const a of new Set(addresses.map((x) => x.trim()))) this.bound.push(await this.bind(a, all));
  }

  private async bind(address: string, all: readonly Endpoint[]): Promise<Bound> {
    const ep = parseEndpoint(address);
    let server: TcpServer;
    try {
      server = await listenTcp(
        { host: ep.host, port: ep.port, ipv6Only: ipv6OnlyFor(ep, all), reusePort: reusePort(ep.port), noDelay: false },
        (s) => this.accept(s),
      );
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new Error(`listen rtmp tcp://${formatEndpoint(ep)}: ${code === "EADDRINUSE" ? "address already in use" : (e as Error).message}`);
    }
    const port = server.port;
    this.ctx.log.trace(`rtmp listen at tcp://${formatEndpoint({ host: ep.host, port })}`);
    return { address, server, port };
  }

  /**
   * Listens on exactly `addresses`: binds the new ones first (a failure closes what it bound and throws, the old
   * listeners keep running), then stops accepting on the removed ones (their sessions go on). Returns what changed.
   * A quit that closed the server while this was binding wins: what was bound meanwhile stops accepting.
   */
  async rebind(addresses: string[]): Promise<{ added: string[]; removed: string[] }> {
    const want = [...new Set(addresses.map((a) => a.trim()))];
    const added = want.filter((a) => !this.bound.some((b) => b.address === a));
    const gone = this.bound.filter((b) => !want.includes(b.address));
    const all = parseEndpoints(want);
    const fresh: Bound[] = [];
    const early = new Set<Bound>();
    try {
      for (const a of added) {
        // The same port on another host spelling (1935 → 0.0.0.0:1935) is taken by us: free it first.
        const port = parseEndpoint(a).port;
        for (const g of gone) {
          if (g.port !== port) continue;
          stopAccepting(g.server);
          early.add(g);
        }
        fresh.push(await this.bind(a, all));
      }
    } catch (e) {
      for (const f of fresh) stopAccepting(f.server);
      // Listeners freed early for a respelled address are bound again, so a failed reload leaves what it found.
      const again: Bound[] = [];
      for (const g of early) {
        try {
          again.push(await this.bind(g.address, all));
        } catch (e2) {
          this.ctx.log.error(`rtmp: cannot listen at ${g.address} again after a failed reload`, e2);
        }
      }
      this.bound = this.bound.map((b) => (early.has(b) ? again.find((x) => x.address === b.address) : b)).filter((b): b is Bound => !!b);
      throw e;
    }
    if (this.closed) {
      for (const f of fresh) stopAccepting(f.server);
      throw new Error("the server is quitting");
    }
    for (const g of gone) {
      stopAccepting(g.server);
      this.ctx.log.trace(`rtmp stop listening at ${g.address} (port ${g.port})`);
    }
    this.bound = want.map((a) => this.bound.find((b) => b.address === a) ?? fresh.find((f) => f.address === a)!)
      .filter((b): b is Bound => !!b);
    return { added, removed: gone.map((g) => g.address) };
  }

  private accept(socket: TcpConnection): void {
    const full = this.ctx.clients.whyFull();
    if (full) {
      this.ctx.log.warn(`rtmp: reject ${socket.remoteAddress}: ${full}`);
      socket.destroy();
      return;
    }
    new RtmpSession(this.ctx, socket).start();
  }

  /**
   * Stops accepting now. Open connections are left to their sessions (TcpServer.close's promise would wait
   * for every one of them: a connected publisher would hold a quit for as long as it streams).
   */
  close(): Promise<void> {
    this.closed = true;
    this.unregister?.();
    this.unregister = undefined;
    for (const b of this.bound.splice(0)) stopAccepting(b.server);
    return Promise.resolve();
  }
}

/** Stops accepting; the connections already accepted are not waited for (TcpServer.close's promise would). */
function stopAccepting(s: TcpServer): void {
  void s.close();
}
