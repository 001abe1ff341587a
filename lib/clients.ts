/**
 * Every connected client (publisher or player, any protocol), for stats, the API's kick and quit: the registry
 * is the sessions' part in a stop (lib/lifecycle.ts): it kicks them all, or lets a graceful quit wait for them.
 */
import type { Closer } from "./lifecycle.ts";
import type { StreamKey } from "./media/packet.ts";

export interface ClientInfo {
  /** The session's context id (also its log id). */
  readonly id: string;
  /** SRS client type: "rtmp-play", "fmle-publish", "flash-publish", "flv-play", "srt-publish", ... */
  type: string;
  readonly ip: string;
  readonly protocol: string;
  stream?: StreamKey;
  tcUrl?: string;
  pageUrl?: string;
  swfUrl?: string;
  param?: string;
  readonly connectedAt: number;
  bytesIn(): number;
  bytesOut(): number;
  /** Ends the session (API kick, forced quit). */
  kick(reason: string): void;
}

export class ClientRegistry implements Closer {
  readonly name = "clients";
  readonly phase = "sessions" as const;
  private clients = new Map<string, ClientInfo>();
  private waiters: (() => void)[] = [];

  add(c: ClientInfo): void {
    this.clients.set(c.id, c);
  }

  remove(id: string): void {
    this.clients.delete(id);
    if (this.clients.size === 0) for (const w of this.waiters.splice(0)) w();
  }

  get(id: string): ClientInfo | undefined {
    return this.clients.get(id);
  }

  get size(): number {
    return this.clients.size;
  }

  all(): ClientInfo[] {
    return [...this.clients.values()];
  }

  kickAll(reason: string): void {
    for (const c of [...this.clients.values()]) {
      try {
        c.kick(reason);
      } catch {
        // one broken session must not keep the others (or a quit) going
        this.remove(c.id);
      }
    }
  }

  /** Quit: every session ends now. */
  close(reason: string): void {
    this.kickAll(reason);
  }

  /** Resolves when every client has gone, or after `ms`. */
  drained(ms: number): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
