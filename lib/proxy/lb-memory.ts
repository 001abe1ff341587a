/**
 * The load balancer in memory (PROXY_LOAD_BALANCER_TYPE=memory): one proxy alone. Also the Redis balancer's local
 * cache (what this proxy knows when Redis is down). Maps are bounded: session entries expire (HLS/RTC TTL),
 * stream stickiness is dropped for streams untouched for a day, and each map is capped.
 */
import { type Backend, backendId } from "./backend.ts";
import {
  HLS_ALIVE_MS, type HlsSession, isAlive, type LoadBalancer, NoBackendError, randomOf, RTC_ALIVE_MS, type RtcSession,
  SERVER_ALIVE_MS,
} from "./lb.ts";

/** Most entries per map (a flood of new stream names or sessions cannot grow memory without bound). */
const MAX_ENTRIES = 100_000;
/** A stream's stickiness is forgotten after this long unused. */
const PICK_IDLE_MS = 24 * 3600_000;

/** A map whose entries expire; the oldest is dropped when full. */
export class TtlMap<V> {
  private m = new Map<string, { v: V; until: number }>();
  constructor(private ttlMs: number, private max = MAX_ENTRIES) {}
  get(k: string, now = Date.now()): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until <= now) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  /** Stores, or refreshes the expiry when `touch` (reads that keep an entry alive). */
  set(k: string, v: V, now = Date.now()): void {
    this.m.delete(k);
    if (this.m.size >= this.max) {
      const oldest = this.m.keys().next().value;
      if (oldest !== undefined) this.m.delete(oldest);
    }
    this.m.set(k, { v, until: now + this.ttlMs });
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  values(now = Date.now()): V[] {
    const out: V[] = [];
    for (const [k, e] of this.m) {
      if (e.until <= now) this.m.delete(k);
      else out.push(e.v);
    }
    return out;
  }
  get size(): number {
    return this.m.size;
  }
}

export class MemoryLoadBalancer implements LoadBalancer {
  readonly kind: "memory" | "redis" = "memory";
  /** Origins by id; kept past SERVER_ALIVE_MS (SRS falls back to every known one when none is alive). */
  private servers = new TtlMap<Backend>(10 * SERVER_ALIVE_MS, 1024);
  private picked = new TtlMap<Backend>(PICK_IDLE_MS);
  private hlsByUrl = new TtlMap<HlsSession>(HLS_ALIVE_MS);
  private hlsById = new TtlMap<HlsSession>(HLS_ALIVE_MS);
  private rtcByUrl = new TtlMap<RtcSession>(RTC_ALIVE_MS);
  private rtcByUfrag = new TtlMap<RtcSession>(RTC_ALIVE_MS);

  update(b: Backend): Promise<void> {
    this.servers.set(backendId(b), b);
    return Promise.resolve();
  }

  /** Every origin known (alive ones first is up to the caller). */
  knownServers(): Backend[] {
    return this.servers.values();
  }

  /** The stream's origin if this balancer knows it (no pick). */
  pickedOf(streamUrl: string): Backend | undefined {
    const picked = this.picked.get(streamUrl);
    if (!picked) return undefined;
    // The origin's latest heartbeat (same id), so its ports and liveness are current.
    const b = this.servers.get(backendId(picked)) ?? picked;
    this.picked.set(streamUrl, b);
    return b;
  }

  remember(streamUrl: string, b: Backend): void {
    this.picked.set(streamUrl, b);
  }

  pick(streamUrl: string): Promise<Backend> {
    const all = this.servers.values();
    const now = Date.now();
    const alive = all.filter((b) => isAlive(b, now));
    const known = this.pickedOf(streamUrl);
    // Sticky, unless its origin went silent (no heartbeat for 300 s) while another is alive: as in Redis, where
    // the origin's key expires and the stream is picked again.
    if (known && (isAlive(known, now) || alive.length === 0)) return Promise.resolve(known);
    const from = alive.length ? alive : all;
    if (!from.length) return Promise.reject(new NoBackendError(`no origin available for ${streamUrl} (none registered)`));
    const b = randomOf(from);
    this.picked.set(streamUrl, b);
    return Promise.resolve(b);
  }

  loadOrStoreHls(streamUrl: string, s: HlsSession): Promise<HlsSession> {
    const actual = this.hlsByUrl.get(streamUrl) ?? s;
    this.hlsByUrl.set(streamUrl, actual);
    this.hlsById.set(actual.spbhid, actual);
    return Promise.resolve(actual);
  }

  loadHlsBySpbhid(spbhid: string): Promise<HlsSession | undefined> {
    return Promise.resolve(this.hlsById.get(spbhid));
  }

  /** Caches an HLS session learnt elsewhere (Redis). */
  cacheHls(s: HlsSession): void {
    this.hlsByUrl.set(s.stream_url, s);
    this.hlsById.set(s.spbhid, s);
  }

  storeRtc(streamUrl: string, s: RtcSession): Promise<void> {
    this.rtcByUrl.set(streamUrl, s);
    this.rtcByUfrag.set(s.ufrag, s);
    return Promise.resolve();
  }

  loadRtcByUfrag(ufrag: string): Promise<RtcSession | undefined> {
    return Promise.resolve(this.rtcByUfrag.get(ufrag));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
