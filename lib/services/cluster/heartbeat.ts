/**
 * SRS's `heartbeat`: every `interval` seconds, POST a JSON document to `url` telling who this server is. SRS 7's
 * proxy (and srs-ts's, lib/proxy) registers origins from it. The payload, as SRS 7 sends it:
 *
 *   { "device_id": "<heartbeat.device_id>", "ip": "<SRS_DEVICE_IP or a local IPv4 (stats.network)>",
 *     "server": "<server_id>", "service": "<service id, new per process>", "pid": "<pid as a string>",
 *     "summaries": {...}                         // only with `summaries on` (the /api/v1/summaries data)
 *     "rtmp": ["<each listen value>"],           // the rest only with `ports on`
 *     "http": ["<http_server.listen>"],          // when http_server is enabled
 *     "api": ["<http_api.listen>"],              // when http_api is enabled
 *     "srt": ["udp://0.0.0.0:<port>"],           // when srt_server is enabled
 *     "rtc": ["udp://0.0.0.0:<port>", "tcp://0.0.0.0:<port>"] }  // when rtc_server is enabled (tcp when on)
 *
 * The listen values are sent as configured (`19351`, `127.0.0.1:19351`), as SRS does. A failed post is logged
 * (once per failure streak, then again when it recovers) and retried at the next tick; posts never overlap.
 * The config is read at each tick, so a reload applies at once; a changed interval restarts the timer.
 */
import { networkInterfaces } from "node:os";
import type { SrsConfig } from "../../config/index.ts";
import { globalChange } from "../../config/diff.ts";
import type { Log } from "../../log/logger.ts";
import { applied, type ReloadHandler } from "../../reload/handler.ts";

/** What the heartbeat reads of the server. */
export interface HeartbeatPorts {
  readonly config: SrsConfig;
  readonly log: Log;
  readonly serverId: string;
  readonly serviceId: string;
  /** The /api/v1/summaries data, for `summaries on`. */
  summaries(): unknown;
}

/** The payload SRS 7 posts (see the header). */
export interface HeartbeatPayload {
  device_id: string;
  ip: string;
  server: string;
  service: string;
  pid: string;
  summaries?: unknown;
  rtmp?: string[];
  http?: string[];
  api?: string[];
  srt?: string[];
  rtc?: string[];
}

/** The IP SRS reports: env SRS_DEVICE_IP, else the `stats.network`-th local IPv4 (not loopback), else 127.0.0.1. */
export function heartbeatIp(config: SrsConfig): string {
  const fromEnv = config.env["SRS_DEVICE_IP"];
  if (fromEnv) return fromEnv;
  const ips: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) ips.push(a.address);
  }
  if (ips.length === 0) return "127.0.0.1";
  return ips[Math.max(0, config.stats().network) % ips.length]!;
}

/** Builds the heartbeat document from the config in force. */
export function heartbeatPayload(p: HeartbeatPorts): HeartbeatPayload {
  const c = p.config;
  const hb = c.heartbeat();
  const out: HeartbeatPayload = {
    device_id: hb.deviceId,
    ip: heartbeatIp(c),
    server: p.serverId,
    service: p.serviceId,
    pid: String(process.pid),
  };
  if (hb.summaries) out.summaries = p.summaries();
  if (hb.ports) {
    out.rtmp = c.listen().slice();
    if (c.httpServer().enabled) out.http = [c.httpServer().listen];
    if (c.httpApi().enabled) out.api = [c.httpApi().listen];
    const srt = c.srtServer();
    if (srt.enabled) out.srt = [`udp://0.0.0.0:${srt.listen}`];
    const rtc = c.rtcServer();
    if (rtc.enabled) {
      out.rtc = [`udp://0.0.0.0:${rtc.listen}`];
      if (rtc.tcp.enabled) out.rtc.push(`tcp://0.0.0.0:${rtc.tcp.listen}`);
    }
  }
  return out;
}

export class Heartbeat {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: AbortController | undefined;
  private failing = false;
  private stopped = false;
  private intervalMs = 0;
  /** Bumped by every (re)start and stop: a tick of an older generation does not schedule the next one. */
  private gen = 0;

  constructor(private readonly p: HeartbeatPorts) {}

  /** Starts (or restarts, after a reload) the ticks when the config enables the heartbeat. */
  start(): void {
    this.clear();
    if (this.stopped) return;
    const hb = this.p.config.heartbeat();
    if (!hb.enabled) return;
    this.intervalMs = Math.max(100, Math.round(hb.interval * 1000));
    this.p.log.trace(`heartbeat: every ${hb.interval}s to ${hb.url}${hb.ports ? " with ports" : ""}` +
      `${hb.summaries ? " with summaries" : ""}`);
    // SRS posts its first heartbeat one interval after start; we post at once so a proxy learns us sooner.
    this.schedule(0);
  }

  /** Ends the ticks and any post in flight. */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    this.gen++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.inflight?.abort();
    this.inflight = undefined;
  }

  private schedule(ms: number): void {
    const gen = this.gen;
    this.timer = setTimeout(() => void this.tick(gen), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async tick(gen: number): Promise<void> {
    const hb = this.p.config.heartbeat();
    if (this.stopped || !hb.enabled || gen !== this.gen) return;
    const ac = new AbortController();
    this.inflight = ac;
    const limit = setTimeout(() => ac.abort(), Math.max(1000, this.intervalMs));
    try {
      const body = JSON.stringify(heartbeatPayload(this.p));
      const res = await fetch(hb.url, {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json" },
        signal: ac.signal,
      });
      await res.arrayBuffer();
      if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}`);
      if (this.failing) this.p.log.trace(`heartbeat: ${hb.url} answers again`);
      this.failing = false;
    } catch (e) {
      if (!this.stopped && !this.failing) {
        this.p.log.warn(`heartbeat: post to ${hb.url} failed: ${(e as Error).message} (retrying every ${hb.interval}s)`);
      }
      this.failing = true;
    } finally {
      clearTimeout(limit);
      if (this.inflight === ac) this.inflight = undefined;
    }
    if (!this.stopped && gen === this.gen) this.schedule(this.intervalMs);
  }
}

/** Reload: the heartbeat block is read at each tick; enabling, disabling or a new interval restarts the timer. */
export function heartbeatReload(get: () => Heartbeat | undefined): ReloadHandler {
  return {
    name: "heartbeat",
    reload(e) {
      if (!globalChange(e.diff, "heartbeat")) return [];
      get()?.start();
      const hb = e.next.heartbeat();
      return [applied("heartbeat", hb.enabled ? `every ${hb.interval}s to ${hb.url}` : "off")];
    },
  };
}
