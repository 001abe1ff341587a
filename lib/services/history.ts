/**
 * The console's graphs: the last hour of the server's and each stream's figures, sampled every 5 s into fixed
 * rings (720 points per series), for GET /api/v1/history. No database: lost on restart, bounded whatever happens.
 *
 * Server series: process CPU (percent of one core, from stats.ts), resident memory (MB), bandwidth in/out (kbps
 * over the last interval, from the byte totals stats.ts keeps), connections (the server's clients).
 * Stream series (keyed by the API's stream id): media kbps in (the publisher's bytes over the interval), frames per
 * second (video frames over the interval), clients (all) and players by protocol (`players.<protocol>`).
 *
 * A stream's rings are made when its hub is first seen and sampled while the hub lives; once the hub is gone they
 * are kept (no new points) until their last point leaves the window, then dropped, so a stream that ended a
 * minute ago still shows on the graphs and the number of rings is bounded by the streams of the last hour.
 *
 * One History per server (made by the composition root); its timer is unref'd and stops with stop().
 */
import type { ClientInfo } from "../clients.ts";
import { isPublishType } from "../clients.ts";
import type { StreamHub } from "../hub/stream-hub.ts";
import type { ServerView } from "./server-view.ts";

export const HISTORY_INTERVAL_MS = 5000;
export const HISTORY_POINTS = 720;

/** A fixed-size ring of numbers: push overwrites the oldest once full; values() is oldest first. */
export class Ring {
  private buf: Float64Array;
  private head = 0;
  private n = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new Error(`history ring: capacity ${capacity} is not a positive integer`);
    this.buf = new Float64Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  push(v: number): void {
    this.buf[this.head] = Number.isFinite(v) ? v : 0;
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
  }

  /** The newest value, or undefined when empty. */
  last(): number | undefined {
    return this.n === 0 ? undefined : this.buf[(this.head - 1 + this.capacity) % this.capacity];
  }

  values(): number[] {
    const out = new Array<number>(this.n);
    const start = (this.head - this.n + this.capacity) % this.capacity;
    for (let i = 0; i < this.n; i++) out[i] = this.buf[(start + i) % this.capacity]!;
    return out;
  }
}

/** Rings that grow together: one time column `t` (epoch ms) and named value columns, all of the same length. */
export class SeriesSet {
  readonly t: Ring;
  private cols = new Map<string, Ring>();

  constructor(readonly capacity: number, names: readonly string[]) {
    this.t = new Ring(capacity);
    for (const n of names) this.cols.set(n, new Ring(capacity));
  }

  /**
   * One point: every known column gets its value (0 when missing); a new name (a protocol seen for the first
   * time) gets a column padded with 0 for the earlier points.
   */
  push(t: number, row: Record<string, number>): void {
    for (const name of Object.keys(row)) {
      if (this.cols.has(name)) continue;
      const r = new Ring(this.capacity);
      for (let i = 0; i < this.t.length; i++) r.push(0);
      this.cols.set(name, r);
    }
    this.t.push(t);
    for (const [name, r] of this.cols) r.push(row[name] ?? 0);
  }

  get length(): number {
    return this.t.length;
  }

  /** The last point's time, or undefined when empty. */
  lastTime(): number | undefined {
    return this.t.last();
  }

  toJson(): Record<string, number[]> {
    const out: Record<string, number[]> = { t: this.t.values() };
    for (const [name, r] of this.cols) out[name] = r.values();
    return out;
  }
}

/** What the history reads of the server: streams, clients, and the stats' byte totals and CPU. */
export type HistoryPorts = Pick<ServerView, "hubs" | "clients"> & {
  readonly stats: { readonly server: { recv: number; send: number }; readonly cpuRatio: number; collect(): void };
  /** srs-ts's workers: another worker's pull is no client of this server. */
  readonly workers?: { isInternal(c: ClientInfo): boolean };
};

export interface HistoryOptions {
  intervalMs?: number;
  points?: number;
  /** Resident memory in bytes (tests give their own). */
  rss?: () => number;
  /** Start no timer (tests call sample() themselves). */
  manual?: boolean;
}

const SERVER_COLUMNS = ["cpu", "mem_mb", "recv_kbps", "send_kbps", "conns"] as const;
const STREAM_COLUMNS = ["kbps", "fps", "clients"] as const;

interface StreamRow {
  series: SeriesSet;
  hub: StreamHub | undefined;
  url: string;
  lastBytes: number;
  lastFrames: number;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export class History {
  readonly intervalMs: number;
  readonly points: number;
  private server: SeriesSet;
  private streams = new Map<string, StreamRow>();
  private lastAt = 0;
  private lastRecv = 0;
  private lastSend = 0;
  private rss: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private ctx: HistoryPorts, opts: HistoryOptions = {}) {
    this.intervalMs = opts.intervalMs ?? HISTORY_INTERVAL_MS;
    this.points = opts.points ?? HISTORY_POINTS;
    this.rss = opts.rss ?? (() => process.memoryUsage.rss());
    this.server = new SeriesSet(this.points, SERVER_COLUMNS);
    if (!opts.manual) {
      this.timer = setInterval(() => this.sample(), this.intervalMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** How long a point stays: points × interval (an hour by default). */
  get windowMs(): number {
    return this.points * this.intervalMs;
  }

  /** Number of stream series kept (live and recently ended streams). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** One point of every series (every intervalMs). */
  sample(now = Date.now()): void {
    const { stats } = this.ctx;
    stats.collect();
    const first = this.lastAt === 0;
    const dt = first ? 0 : now - this.lastAt;
    const kbps = (delta: number) => (dt > 0 ? Math.max(0, Math.round((delta * 8) / dt)) : 0);
    const clients = this.ctx.workers ? this.ctx.clients.all().filter((c) => !this.ctx.workers!.isInternal(c)) : this.ctx.clients.all();
    this.server.push(now, {
      cpu: round1(stats.cpuRatio * 100),
      mem_mb: round1(this.rss() / (1024 * 1024)),
      recv_kbps: kbps(stats.server.recv - this.lastRecv),
      send_kbps: kbps(stats.server.send - this.lastSend),
      conns: clients.length,
    });
    this.lastRecv = stats.server.recv;
    this.lastSend = stats.server.send;

    // Clients per stream id: all, and players by protocol.
    const perStream = new Map<string, { all: number; players: Record<string, number> }>();
    for (const c of clients) {
      if (!c.stream || !c.stream.stream) continue;
      const hub = this.ctx.hubs.find(c.stream);
      if (!hub) continue;
      let e = perStream.get(hub.id);
      if (!e) perStream.set(hub.id, (e = { all: 0, players: {} }));
      e.all++;
      if (!isPublishType(c.type)) {
        const k = `players_${c.protocol || "other"}`;
        e.players[k] = (e.players[k] ?? 0) + 1;
      }
    }

    const live = new Set<string>();
    for (const hub of this.ctx.hubs.all()) {
      live.add(hub.id);
      let row = this.streams.get(hub.id);
      if (!row || row.hub !== hub) {
        row = row ?? { series: new SeriesSet(this.points, STREAM_COLUMNS), hub, url: hub.url, lastBytes: hub.bytesIn, lastFrames: hub.videoFrames };
        row.hub = hub;
        row.lastBytes = hub.bytesIn;
        row.lastFrames = hub.videoFrames;
        this.streams.set(hub.id, row);
      }
      // A new publish resets the hub's counters: count from 0 again.
      const bytes = hub.bytesIn >= row.lastBytes ? hub.bytesIn - row.lastBytes : hub.bytesIn;
      const frames = hub.videoFrames >= row.lastFrames ? hub.videoFrames - row.lastFrames : hub.videoFrames;
      row.lastBytes = hub.bytesIn;
      row.lastFrames = hub.videoFrames;
      const e = perStream.get(hub.id);
      row.series.push(now, {
        kbps: hub.active ? kbps(bytes) : 0,
        fps: hub.active && dt > 0 ? round1((frames * 1000) / dt) : 0,
        clients: e?.all ?? 0,
        ...e?.players,
      });
    }
    for (const [id, row] of this.streams) {
      if (live.has(id)) continue;
      row.hub = undefined;
      const last = row.series.lastTime();
      if (last === undefined || now - last >= this.windowMs) this.streams.delete(id);
    }
    this.lastAt = now;
  }

  /**
   * The /api/v1/history body (without the API's code/server fields). Each stream also carries its `url`
   * (/app/stream, kept after the stream ends) and `live` (its hub still exists).
   */
  toJson(): { interval_s: number; server: Record<string, number[]>; streams: Record<string, Record<string, number[] | string | boolean>> } {
    const streams: Record<string, Record<string, number[] | string | boolean>> = {};
    for (const [id, row] of this.streams) streams[id] = { url: row.url, live: row.hub !== undefined, ...row.series.toJson() };
    return { interval_s: this.intervalMs / 1000, server: this.server.toJson(), streams };
  }
}
