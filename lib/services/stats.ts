/**
 * Live statistics for the API and the exporter: bytes and kbps per client, per stream, per vhost and for the
 * server, plus the client counters SRS reports.
 *
 * Kbps semantics (as SRS's `recv_30s`/`send_30s`): the average bit rate over the last 30 seconds. The window is
 * sampled every KBPS_SAMPLE_MS (2 s), so a rate is known two seconds after bytes start to flow; until 30 s of
 * samples exist the average covers the samples there are (a stream 6 s old shows its 6 s average).
 *
 * Bytes: a client's bytes are its socket's; a stream's are the sum of the bytes of every client that was on it
 * (publisher and players, as SRS counts them), a vhost's the sum of its streams', the server's the sum of all.
 * Deltas are collected on each sample and whenever the API asks (collect()), and once more when a client goes.
 *
 * One Stats per server (made by the composition root, lib/server.ts); its timer is unref'd and stops with stop().
 */
import type { ClientInfo } from "../clients.ts";
import type { StreamHub } from "../hub/stream-hub.ts";
import type { StreamKey } from "../media/packet.ts";
import { streamKeyString } from "../media/packet.ts";
import type { ServerView } from "./server-view.ts";

export const KBPS_SAMPLE_MS = 2000;
export const KBPS_WINDOW_MS = 30000;
const RING = Math.ceil(KBPS_WINDOW_MS / KBPS_SAMPLE_MS) + 2;

/** What the stats need of the server: its clients and streams. */
export type StatsPorts = Pick<ServerView, "clients" | "hubs">;

/** A 30 s sliding window of (time, bytes in, bytes out) samples. */
export class KbpsWindow {
  private t = new Float64Array(RING);
  private i = new Float64Array(RING);
  private o = new Float64Array(RING);
  private n = 0;
  private head = 0;

  sample(now: number, bytesIn: number, bytesOut: number): void {
    this.t[this.head] = now;
    this.i[this.head] = bytesIn;
    this.o[this.head] = bytesOut;
    this.head = (this.head + 1) % RING;
    if (this.n < RING) this.n++;
  }

  /** [recv kbps, send kbps] averaged over the samples of the last 30 s. */
  rates(): [number, number] {
    if (this.n < 2) return [0, 0];
    const last = (this.head - 1 + RING) % RING;
    const tLast = this.t[last]!;
    let first = last;
    for (let k = 1; k < this.n; k++) {
      const idx = (last - k + RING) % RING;
      if (tLast - this.t[idx]! > KBPS_WINDOW_MS) break;
      first = idx;
    }
    const dt = tLast - this.t[first]!;
    if (dt <= 0) return [0, 0];
    const kbps = (d: number) => Math.max(0, Math.round((d * 8) / dt));
    return [kbps(this.i[last]! - this.i[first]!), kbps(this.o[last]! - this.o[first]!)];
  }
}

interface Totals {
  recv: number;
  send: number;
  kbps: KbpsWindow;
}

interface ClientTrack extends Totals {
  c: ClientInfo;
  lastIn: number;
  lastOut: number;
}

export interface StreamTrack extends Totals {
  id: string;
  key: StreamKey;
}

export interface VhostTrack extends Totals {
  id: string;
  name: string;
}

function randomId(n: number): string {
  const a = "0123456789abcdefghijklmnopqrstuvwxyz";
  let s = "";
  for (let i = 0; i < n; i++) s += a[Math.floor(Math.random() * a.length)];
  return s;
}

function totals(): Totals {
  return { recv: 0, send: 0, kbps: new KbpsWindow() };
}

export class Stats {
  private clientTracks = new Map<string, ClientTrack>();
  private streamTracks = new Map<string, StreamTrack>();
  private vhostTracks = new Map<string, VhostTrack>();
  readonly server: Totals = totals();
  /** Every client ever seen (SRS's srs_clients_total) and those refused or failed (srs_clients_errs_total). */
  clientsTotal = 0;
  clientsErrs = 0;
  /** Process CPU use as a ratio of one CPU over the last sample (0.5 = 50% of a core). */
  cpuRatio = 0;
  private lastCpu = process.cpuUsage();
  private lastCpuAt = Date.now();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private ctx: StatsPorts) {
    this.timer = setInterval(() => this.tick(), KBPS_SAMPLE_MS);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Registers a client now (so a client that lives less than a sample still counts). */
  noteClient(c: ClientInfo): void {
    if (this.clientTracks.has(c.id)) return;
    this.clientTracks.set(c.id, { c, lastIn: 0, lastOut: 0, ...totals() });
    this.clientsTotal++;
  }

  /** A client refused by a gate or ended by an error. */
  noteClientError(): void {
    this.clientsErrs++;
  }

  /** A stable `vid-xxxxxxx` id per vhost name, for the life of the process. */
  vhostId(name: string): string {
    return this.vhost(name).id;
  }

  private vhost(name: string): VhostTrack {
    let v = this.vhostTracks.get(name);
    if (!v) {
      v = { id: `vid-${randomId(7)}`, name, ...totals() };
      this.vhostTracks.set(name, v);
    }
    return v;
  }

  private streamOf(key: StreamKey | undefined): StreamTrack | undefined {
    if (!key || !key.stream) return undefined;
    const hub = this.ctx.hubs.find(key);
    if (!hub) return undefined;
    let s = this.streamTracks.get(hub.id);
    if (!s) {
      s = { id: hub.id, key: hub.key, ...totals() };
      this.streamTracks.set(hub.id, s);
    }
    return s;
  }

  /** Moves every client's new bytes into its stream, vhost and the server totals. */
  collect(): void {
    const live = new Set<string>();
    for (const c of this.ctx.clients.all()) {
      live.add(c.id);
      let t = this.clientTracks.get(c.id);
      if (!t) {
        t = { c, lastIn: 0, lastOut: 0, ...totals() };
        this.clientTracks.set(c.id, t);
        this.clientsTotal++;
      }
      this.account(t);
    }
    for (const [id, t] of this.clientTracks) {
      if (live.has(id)) continue;
      // Gone: count its final bytes (its socket still knows them), then forget it.
      this.account(t);
      this.clientTracks.delete(id);
    }
    // Streams whose hub has gone are forgotten (bounded by the live hubs).
    const hubIds = new Set(this.ctx.hubs.all().map((h) => h.id));
    for (const id of this.streamTracks.keys()) if (!hubIds.has(id)) this.streamTracks.delete(id);
  }

  private account(t: ClientTrack): void {
    const bin = safeNum(t.c.bytesIn());
    const bout = safeNum(t.c.bytesOut());
    const din = Math.max(0, bin - t.lastIn);
    const dout = Math.max(0, bout - t.lastOut);
    t.lastIn = bin;
    t.lastOut = bout;
    t.recv = bin;
    t.send = bout;
    if (din === 0 && dout === 0) return;
    this.server.recv += din;
    this.server.send += dout;
    const key = t.c.stream;
    if (key && key.vhost) {
      const v = this.vhost(key.vhost);
      v.recv += din;
      v.send += dout;
    }
    const s = this.streamOf(key);
    if (s) {
      s.recv += din;
      s.send += dout;
    }
  }

  /** One sample of every window (every KBPS_SAMPLE_MS). */
  tick(now = Date.now()): void {
    this.collect();
    for (const t of this.clientTracks.values()) t.kbps.sample(now, t.recv, t.send);
    for (const s of this.streamTracks.values()) s.kbps.sample(now, s.recv, s.send);
    for (const v of this.vhostTracks.values()) v.kbps.sample(now, v.recv, v.send);
    this.server.kbps.sample(now, this.server.recv, this.server.send);
    const cpu = process.cpuUsage();
    const wallUs = (now - this.lastCpuAt) * 1000;
    if (wallUs > 0) {
      this.cpuRatio = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / wallUs;
    }
    this.lastCpu = cpu;
    this.lastCpuAt = now;
  }

  client(id: string): { recv: number; send: number; kbps: [number, number] } {
    const t = this.clientTracks.get(id);
    if (!t) return { recv: 0, send: 0, kbps: [0, 0] };
    return { recv: t.recv, send: t.send, kbps: t.kbps.rates() };
  }

  stream(hub: StreamHub): { recv: number; send: number; kbps: [number, number] } {
    const s = this.streamTracks.get(hub.id) ?? this.streamOf(hub.key);
    if (!s) return { recv: 0, send: 0, kbps: [0, 0] };
    return { recv: s.recv, send: s.send, kbps: s.kbps.rates() };
  }

  vhostTotals(name: string): { recv: number; send: number; kbps: [number, number] } {
    const v = this.vhost(name);
    return { recv: v.recv, send: v.send, kbps: v.kbps.rates() };
  }

  /** Clients whose stream is `key` (publisher and players). */
  clientsOf(key: StreamKey): ClientInfo[] {
    const name = streamKeyString(key);
    return this.ctx.clients.all().filter((c) => c.stream && c.stream.stream && streamKeyString(c.stream) === name);
  }
}

function safeNum(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
