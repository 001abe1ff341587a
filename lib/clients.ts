/**
 * Every connected client (publisher or player, any protocol), for stats, the API's kick, quit and
 * `max_connections`. The registry is the sessions' part in a stop (lib/lifecycle.ts): it kicks them all, or lets a
 * graceful quit wait for them. Every protocol adapter asks `whyFull()` before it takes a new client (RTMP at accept,
 * HTTP-FLV/TS players and new HLS sessions before their response, SRT in its handshake, WebRTC before its answer)
 * and refuses it with the protocol's own error. The HTTP API and the exporter are not counted, so a full server can
 * still be inspected (SRS counts every TCP connection, the API's too).
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
  /** How the media goes, when the protocol has a choice (RTSP: "tcp" interleaved or "udp"). */
  readonly transport?: string;
  /** Ends the session (API kick, forced quit). */
  kick(reason: string): void;
  /** Protocol state for `/api/v1/clients/<id>` (e.g. a WebRTC session's ICE pair, RTT, NACKs), keyed by protocol. */
  details?(): Record<string, unknown>;
}

/** True for a publisher's client type (SRS's "*-publish": "fmle-publish", "srt-publish", ...). */
export function isPublishType(type: string): boolean {
  return type.endsWith("-publish");
}

export class ClientRegistry implements Closer {
  readonly name = "clients";
  readonly phase = "sessions" as const;
  private clients = new Map<string, ClientInfo>();
  private waiters: (() => void)[] = [];

  /** `limit`: the most clients at once (`max_connections`, read on each check so a reload applies). */
  constructor(private readonly limit: () => number = () => Number.POSITIVE_INFINITY) {}

  /** Why one more client may not connect (`max_connections` reached), or undefined when it may. */
  whyFull(): string | undefined {
    const max = this.limit();
    return this.clients.size >= max ? `max_connections ${max} reached (${this.clients.size} clients)` : undefined;
  }

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
