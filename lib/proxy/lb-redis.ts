/**
 * The load balancer in Redis (PROXY_LOAD_BALANCER_TYPE=redis): several proxies share the origins, the stream ->
 * origin choice and the HLS/WebRTC sessions, with SRS 7's keys (proxy/srs.go), so a stream published through one
 * proxy is played through any other:
 *
 *   srs-proxy-server:<server>-<service>-<pid>  the origin's heartbeat (JSON), expires after 300 s
 *   srs-proxy-all-servers                      JSON array of those keys (expired ones pruned at each heartbeat)
 *   srs-proxy-url:<vhost/app/stream>           the origin key a stream is on (no expiry: sticky)
 *   srs-proxy-hls:<stream> / srs-proxy-spbhid:<id>   an HLS session (JSON), 120 s
 *   srs-proxy-rtc:<stream> / srs-proxy-ufrag:<ufrag> a WebRTC session (JSON), 120 s
 *
 * Redis down: everything this proxy learnt is also kept in memory (lb-memory.ts), so streams it already routes go
 * on routing (and new ones are picked from the origins it knows); it logs when Redis goes and comes back. When
 * Redis returns (possibly empty after a restart), a stream this proxy knows is written back, so the other proxies
 * find it again.
 */
import { type Backend, backendId } from "./backend.ts";
import {
  HLS_ALIVE_MS, type HlsSession, isAlive, type LoadBalancer, NoBackendError, randomOf, RTC_ALIVE_MS, type RtcSession,
  SERVER_ALIVE_MS,
} from "./lb.ts";
import { MemoryLoadBalancer } from "./lb-memory.ts";
import { RedisClient, type RedisOptions } from "./redis.ts";

export const KEY_ALL_SERVERS = "srs-proxy-all-servers";
export const keyServer = (id: string): string => `srs-proxy-server:${id}`;
export const keyUrl = (streamUrl: string): string => `srs-proxy-url:${streamUrl}`;
export const keyHls = (streamUrl: string): string => `srs-proxy-hls:${streamUrl}`;
export const keySpbhid = (id: string): string => `srs-proxy-spbhid:${id}`;
export const keyRtc = (streamUrl: string): string => `srs-proxy-rtc:${streamUrl}`;
export const keyUfrag = (ufrag: string): string => `srs-proxy-ufrag:${ufrag}`;

/** A JSON value read from Redis, or undefined when absent or not the expected shape. */
function parseJson<T>(text: string | null, check: (v: Record<string, unknown>) => boolean): T | undefined {
  if (text === null) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v) && check(v as Record<string, unknown>)) return v as T;
  } catch {
    // not ours, or damaged: treated as absent
  }
  return undefined;
}
const isBackend = (v: Record<string, unknown>) => typeof v.ip === "string" && Array.isArray(v.rtmp);
const isHls = (v: Record<string, unknown>) => typeof v.spbhid === "string" && typeof v.stream_url === "string";
const isRtc = (v: Record<string, unknown>) => typeof v.ufrag === "string" && typeof v.stream_url === "string";

function parseKeys(text: string | null): string[] {
  if (text === null) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export interface RedisLbLog {
  trace(msg: string): void;
  warn(msg: string): void;
}

export class RedisLoadBalancer implements LoadBalancer {
  readonly kind = "redis" as const;
  readonly redis: RedisClient;
  /** What this proxy knows, for when Redis is down. */
  readonly local = new MemoryLoadBalancer();
  private down = false;

  constructor(opts: RedisOptions, private log: RedisLbLog) {
    this.redis = new RedisClient(opts);
  }

  /** Connects once (a proxy configured for Redis that cannot reach it at start says so, but still starts). */
  async init(): Promise<void> {
    try {
      await this.redis.command(["PING"]);
      this.log.trace(`redis load balancer: connected to redis ${this.redis.address}`);
    } catch (e) {
      this.redisFailed(e, "start");
    }
  }

  private redisFailed(e: unknown, what: string): void {
    if (!this.down) {
      this.log.warn(`redis ${this.redis.address} is down (${what}: ${(e as Error).message}): routing the streams this ` +
        `proxy knows from memory until it returns`);
    }
    this.down = true;
  }

  private redisOk(): void {
    if (this.down) this.log.trace(`redis ${this.redis.address} is back: sharing state again`);
    this.down = false;
  }

  async update(b: Backend): Promise<void> {
    await this.local.update(b);
    const key = keyServer(backendId(b));
    try {
      await this.redis.set(key, JSON.stringify(b), SERVER_ALIVE_MS);
      const keys = parseKeys(await this.redis.get(KEY_ALL_SERVERS));
      const alive: string[] = [];
      for (const k of keys) if (k !== key && (await this.redis.get(k)) !== null) alive.push(k);
      alive.push(key);
      await this.redis.set(KEY_ALL_SERVERS, JSON.stringify(alive));
      this.redisOk();
    } catch (e) {
      this.redisFailed(e, `update ${key}`);
    }
  }

  async pick(streamUrl: string): Promise<Backend> {
    const uk = keyUrl(streamUrl);
    try {
      const serverKey = await this.redis.get(uk);
      if (serverKey !== null) {
        const b = parseJson<Backend>(await this.redis.get(serverKey), isBackend);
        if (b) {
          this.redisOk();
          await this.local.update(b);
          this.local.remember(streamUrl, b);
          return b;
        }
      }
      // Redis does not know it (first time, or Redis lost its data): a stream this proxy routes keeps its origin.
      const cached = this.local.pickedOf(streamUrl);
      // Only an origin still alive to our knowledge: an expired one is not brought back to life.
      if (cached && isAlive(cached)) {
        const ck = keyServer(backendId(cached));
        await this.redis.command(["SET", ck, JSON.stringify(cached), "PX", String(SERVER_ALIVE_MS), "NX"]);
        await this.redis.set(uk, ck);
        this.redisOk();
        return cached;
      }
      const keys = parseKeys(await this.redis.get(KEY_ALL_SERVERS));
      this.redisOk();
      for (let i = 0; i < 3 && keys.length; i++) {
        const k = randomOf(keys);
        const b = parseJson<Backend>(await this.redis.get(k), isBackend);
        if (!b) continue;
        await this.redis.set(uk, k);
        await this.local.update(b);
        this.local.remember(streamUrl, b);
        return b;
      }
      // No origin in Redis: one this proxy heard from itself, if any (Redis restarted before the next heartbeat).
      return await this.local.pick(streamUrl);
    } catch (e) {
      if (e instanceof NoBackendError) throw e;
      this.redisFailed(e, `pick ${streamUrl}`);
      return await this.local.pick(streamUrl);
    }
  }

  async loadOrStoreHls(streamUrl: string, s: HlsSession): Promise<HlsSession> {
    try {
      const k = keyHls(streamUrl);
      await this.redis.command(["SET", k, JSON.stringify(s), "PX", String(HLS_ALIVE_MS), "NX"]);
      const actual = parseJson<HlsSession>(await this.redis.get(k), isHls) ?? s;
      // Every playlist request keeps the session alive.
      await this.redis.set(k, JSON.stringify(actual), HLS_ALIVE_MS);
      await this.redis.set(keySpbhid(actual.spbhid), JSON.stringify(actual), HLS_ALIVE_MS);
      this.redisOk();
      this.local.cacheHls(actual);
      return actual;
    } catch (e) {
      this.redisFailed(e, `hls ${streamUrl}`);
      return this.local.loadOrStoreHls(streamUrl, s);
    }
  }

  async loadHlsBySpbhid(spbhid: string): Promise<HlsSession | undefined> {
    try {
      const s = parseJson<HlsSession>(await this.redis.get(keySpbhid(spbhid)), isHls);
      this.redisOk();
      if (s) {
        this.local.cacheHls(s);
        return s;
      }
      return this.local.loadHlsBySpbhid(spbhid);
    } catch (e) {
      this.redisFailed(e, `hls session ${spbhid}`);
      return this.local.loadHlsBySpbhid(spbhid);
    }
  }

  async storeRtc(streamUrl: string, s: RtcSession): Promise<void> {
    await this.local.storeRtc(streamUrl, s);
    try {
      await this.redis.set(keyRtc(streamUrl), JSON.stringify(s), RTC_ALIVE_MS);
      await this.redis.set(keyUfrag(s.ufrag), JSON.stringify(s), RTC_ALIVE_MS);
      this.redisOk();
    } catch (e) {
      this.redisFailed(e, `rtc ${streamUrl}`);
    }
  }

  async loadRtcByUfrag(ufrag: string): Promise<RtcSession | undefined> {
    const mine = await this.local.loadRtcByUfrag(ufrag);
    if (mine) return mine;
    try {
      const s = parseJson<RtcSession>(await this.redis.get(keyUfrag(ufrag)), isRtc);
      this.redisOk();
      if (s) await this.local.storeRtc(s.stream_url, s);
      return s;
    } catch (e) {
      this.redisFailed(e, `rtc session ${ufrag}`);
      return undefined;
    }
  }

  close(): Promise<void> {
    this.redis.close();
    return Promise.resolve();
  }
}
