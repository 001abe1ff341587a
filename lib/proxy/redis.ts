/**
 * The proxy's Redis connection: ioredis, set up for a proxy that must keep routing while Redis is down.
 *  - no offline queue: while the connection is down a command fails at once (the load balancer then routes from
 *    memory) instead of waiting for a reconnect; only the first connect (and a reconnect in progress) is waited for,
 *    at most `timeoutMs`;
 *  - every command times out after `timeoutMs`; a lost connection is re-opened every `retryMs` in the background.
 * The load balancer (lb-redis.ts) needs GET, SET [PX] and PING; AUTH and SELECT come from the options.
 */
import Redis from "ioredis";

export interface RedisOptions {
  host: string;
  port: number;
  password?: string;
  db?: number;
  timeoutMs?: number;
  retryMs?: number;
}

export type RedisValue = string | number | null | RedisValue[];

export class RedisClient {
  private readonly redis: Redis;
  private lastError = "";

  constructor(readonly o: RedisOptions) {
    const timeout = o.timeoutMs ?? 2000;
    this.redis = new Redis({
      host: o.host,
      port: o.port,
      password: o.password || undefined,
      db: o.db ?? 0,
      connectTimeout: timeout,
      commandTimeout: timeout,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => o.retryMs ?? 1000,
      // The load balancer logs "down"/"back" once per outage; ioredis's own events are only remembered.
      lazyConnect: false,
    });
    this.redis.on("error", (e: Error) => (this.lastError = e.message));
  }

  get address(): string {
    return `${this.o.host}:${this.o.port}/${this.o.db ?? 0}`;
  }

  /** Resolves when connected; a connection being made is waited for (bounded), a lost one fails at once. */
  private async ready(): Promise<void> {
    const s = this.redis.status;
    if (s === "ready") return;
    if (s === "end" || s === "close" || s === "reconnecting") {
      throw new Error(`redis ${this.address} is down${this.lastError ? ` (${this.lastError})` : ""}`);
    }
    // "wait", "connecting", "connect": the first connect, or a reconnect under way
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error) => {
        clearTimeout(t);
        this.redis.off("ready", ok);
        this.redis.off("close", closed);
        if (e) reject(e);
        else resolve();
      };
      const ok = () => done();
      const closed = () => done(new Error(`redis ${this.address}: connection failed${this.lastError ? ` (${this.lastError})` : ""}`));
      const t = setTimeout(() => done(new Error(`redis ${this.address}: connect timed out`)), this.o.timeoutMs ?? 2000);
      this.redis.once("ready", ok);
      this.redis.once("close", closed);
    });
  }

  async command(args: readonly string[]): Promise<RedisValue> {
    await this.ready();
    const [name, ...rest] = args;
    return (await this.redis.call(name!, ...rest)) as RedisValue;
  }

  async get(key: string): Promise<string | null> {
    await this.ready();
    return await this.redis.get(key);
  }

  /** SET key value [PX ttl]. */
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.ready();
    if (ttlMs) await this.redis.set(key, value, "PX", Math.round(ttlMs));
    else await this.redis.set(key, value);
  }

  close(): void {
    this.redis.disconnect(false);
  }
}
