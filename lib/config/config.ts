/**
 * The typed accessors every other part of the server uses: `SrsConfig` (global settings and sections) and, through
 * `vhost()`, `VhostConfig` (vhost.ts). Loading lives in load.ts; each section's fields and SRS defaults live in the
 * file named for it (http-servers.ts, rtc.ts, srt.ts, cluster.ts, monitoring.ts, play.ts, hls.ts, dvr.ts, …).
 *
 * All of SRS's defaults live in the getters: callers never read the tree themselves and never re-parse.
 * Env (`SRS_*`) wins over the file and is applied in the getters (see env.ts). Booleans follow SRS per key:
 * "prefer false" settings (`boolOn`) are true only for `on`; "prefer true" settings (`boolNotOff`) are false only
 * for `off`.
 *
 * Units: durations are in the unit SRS uses in the config file and the field name or doc says which
 * (`...Ms` = milliseconds, otherwise seconds as in `hls_fragment`), so values compare directly to the docs.
 */
import process from "node:process";
import os from "node:os";
import { type HeartbeatConfig, heartbeatOf, type StreamCasterConfig, streamCastersOf } from "./cluster.ts";
import { type Env, Scope } from "./env.ts";
import { type HttpApiConfig, httpApiOf, type HttpServerConfig, httpServerOf } from "./http-servers.ts";
import {
  type CircuitBreakerConfig,
  circuitBreakerOf,
  type ExporterConfig,
  exporterOf,
  type StatsConfig,
  statsOf,
} from "./monitoring.ts";
import { type Directive, getChild } from "./parser.ts";
import { type RtcServerConfig, rtcServerOf } from "./rtc.ts";
import { type SrtServerConfig, srtServerOf } from "./srt.ts";
import { type RtspServerConfig, rtspServerOf } from "./rtsp-server.ts";
import { VhostConfig } from "./vhost.ts";

export { VhostConfig } from "./vhost.ts";
export type { ReferConfig, SecurityConfig, SecurityRule } from "./access.ts";
export type { ClusterConfig, HeartbeatConfig, StreamCasterConfig } from "./cluster.ts";
export type { DashConfig, HdsConfig } from "./dash.ts";
export type { DvrConfig } from "./dvr.ts";
export type { EngineConfig, ExecConfig, IngestConfig, TranscodeConfig } from "./ffmpeg.ts";
export type { ForwardConfig } from "./forward.ts";
export type { HlsConfig } from "./hls.ts";
export type { HttpHooksConfig } from "./hooks.ts";
export type { HttpApiConfig, HttpServerConfig, HttpsConfig } from "./http-servers.ts";
export type { HttpRemuxConfig, HttpStaticConfig } from "./http-vhost.ts";
export type { CircuitBreakerConfig, ExporterConfig, StatsConfig } from "./monitoring.ts";
export type { PlayConfig, PublishConfig, TimeJitter } from "./play.ts";
export type { RtcConfig, RtcServerConfig } from "./rtc.ts";
export type { SrtServerConfig, SrtVhostConfig } from "./srt.ts";

export const DEFAULT_VHOST = "__defaultVhost__";

/** The number of cores this process may use. */
function availableCores(): number {
  const n = (os as { availableParallelism?: () => number }).availableParallelism?.() ?? os.cpus().length;
  return n > 0 ? n : 1;
}

export class SrsConfig {
  readonly root: Directive;
  readonly file?: string;
  readonly env: Env;
  readonly envOnly: boolean;
  readonly cwd: string;
  /** The legacy rewrites applied (SRS logs them as warnings). */
  readonly notes: string[];
  private readonly g: Scope;

  constructor(root: Directive, opts: { file?: string; env?: Env; envOnly?: boolean; cwd?: string; notes?: string[] } = {}) {
    this.root = root;
    this.file = opts.file;
    this.env = opts.env ?? {};
    this.envOnly = opts.envOnly ?? false;
    this.cwd = opts.cwd ?? process.cwd();
    this.notes = opts.notes ?? [];
    this.g = new Scope(root, "SRS_", this.env);
  }

  /** The RTMP listens as configured (env `SRS_LISTEN`, `listen`, SRS 7's `rtmp.listen`); empty when none. */
  rtmpListens(): string[] {
    const fromEnv = this.g.list("listen", []);
    if (fromEnv.length > 0 || this.g.get("listen")) return fromEnv;
    return this.g.child("rtmp").get("listen")?.args.slice() ?? [];
  }

  /** RTMP listen endpoints (`[ip:]port`), default ["1935"]. */
  listen(): string[] {
    const l = this.rtmpListens();
    return l.length > 0 ? l : ["1935"];
  }

  pidFile(): string {
    return this.g.str("pid", "./objs/srs.pid");
  }

  /** Global RTMP chunk size, default 60000. */
  chunkSize(): number {
    if (this.g.raw("chunk_size") !== undefined) return this.g.int("chunk_size", 60000);
    return this.g.child("rtmp").int("chunk_size", 60000);
  }

  private logAlias(key: string): string[] {
    return [`SRS_SRS_LOG_${key.toUpperCase()}`, `SRS_LOG_${key.toUpperCase()}`];
  }

  /** "console" or "file" (anything but `console` means file, as SRS). Default "file"; env-only: "console". */
  logTank(): "console" | "file" {
    return this.g.str("srs_log_tank", "file", this.logAlias("tank")) === "console" ? "console" : "file";
  }

  /** Effective log level: `srs_log_level_v2` if set, else `srs_log_level`, default "trace" (lower-cased). */
  logLevel(): string {
    const v2 = this.g.raw("srs_log_level_v2", this.logAlias("level_v2"));
    if (v2 !== undefined) return v2.toLowerCase();
    return this.g.str("srs_log_level", "trace", this.logAlias("level")).toLowerCase();
  }

  logFile(): string {
    return this.g.str("srs_log_file", "./objs/srs.log", this.logAlias("file"));
  }

  /** Prefer true, default on (env-only: off). */
  daemon(): boolean {
    return this.g.boolNotOff("daemon", true);
  }

  /**
   * srs-ts's `workers N;` (SRS has no such directive): how many processes serve the same ports (default 1, the
   * plain single process; `auto` = the number of cores). Env SRS_WORKERS. 0 when the value is no count.
   */
  workers(): number {
    const v = this.workersValue().trim().toLowerCase();
    if (v === "auto") return Math.max(1, availableCores());
    return /^\d+$/.test(v) ? Number(v) : 0;
  }

  /** `workers` as written (file or SRS_WORKERS), for messages. */
  workersValue(): string {
    return this.g.str("workers", "1");
  }

  workDir(): string {
    return this.g.str("work_dir", "./");
  }

  utcTime(): boolean {
    return this.g.boolOn("utc_time");
  }

  asprocess(): boolean {
    return this.g.boolOn("asprocess");
  }

  maxConnections(): number {
    return this.g.int("max_connections", 1000);
  }

  /** Milliseconds. */
  graceStartWait(): number {
    return this.g.int("grace_start_wait", 2300);
  }

  /** Milliseconds. */
  graceFinalWait(): number {
    return this.g.int("grace_final_wait", 3200);
  }

  forceGraceQuit(): boolean {
    return this.g.boolOn("force_grace_quit");
  }

  /** The configured server id (env/config), or undefined: the caller then persists one to `./objs/srs.id`. */
  serverId(): string | undefined {
    return this.g.raw("server_id");
  }

  pithyPrintMs(): number {
    return this.g.int("pithy_print_ms", 10000);
  }

  ffLogDir(): string {
    return this.g.str("ff_log_dir", "./objs");
  }

  ffLogLevel(): string {
    return this.g.str("ff_log_level", "info");
  }

  emptyIpOk(): boolean {
    return this.g.boolNotOff("empty_ip_ok");
  }

  inDocker(): boolean {
    return this.g.boolOn("in_docker");
  }

  disableDaemonForDocker(): boolean {
    return this.g.boolNotOff("disable_daemon_for_docker");
  }

  inotifyAutoReload(): boolean {
    return this.g.boolOn("inotify_auto_reload");
  }

  autoReloadForDocker(): boolean {
    return this.g.boolNotOff("auto_reload_for_docker");
  }

  queryLatestVersion(): boolean {
    return this.g.boolOn("query_latest_version");
  }

  /** Seconds. */
  firstWaitForQlv(): number {
    return this.g.int("first_wait_for_qlv", 300);
  }

  httpApi(): HttpApiConfig {
    return httpApiOf(this.g);
  }

  httpServer(): HttpServerConfig {
    return httpServerOf(this.g);
  }

  rtcServer(): RtcServerConfig {
    return rtcServerOf(this.g);
  }

  srtServer(): SrtServerConfig {
    return srtServerOf(this.g);
  }

  rtspServer(): RtspServerConfig {
    return rtspServerOf(this.g);
  }

  exporter(): ExporterConfig {
    return exporterOf(this.g);
  }

  heartbeat(): HeartbeatConfig {
    return heartbeatOf(this.g);
  }

  stats(): StatsConfig {
    return statsOf(this.g);
  }

  circuitBreaker(): CircuitBreakerConfig {
    return circuitBreakerOf(this.g);
  }

  /** Seconds, default 5. */
  threadsInterval(): number {
    return this.g.child("threads").num("interval", 5);
  }

  streamCasters(): StreamCasterConfig[] {
    return streamCastersOf(this.root, this.env);
  }

  /** Names of the configured vhosts, in file order. */
  vhosts(): string[] {
    return this.root.children.filter((c) => c.name === "vhost").map((c) => c.args[0] ?? "");
  }

  /** The vhost named exactly `name`, without the default-vhost fallback. */
  vhostExact(name: string): VhostConfig | undefined {
    const d = getChild(this.root, "vhost", name);
    return d ? new VhostConfig(this, d) : undefined;
  }

  /** The vhost `name`, falling back to `__defaultVhost__` (as SRS) when `name` is not configured. */
  vhost(name: string = DEFAULT_VHOST): VhostConfig | undefined {
    return this.vhostExact(name) ?? this.vhostExact(DEFAULT_VHOST);
  }

  /** A scope over `d` with env prefix `envPrefix` (null: no env overrides). */
  scopeOf(d: Directive | undefined, envPrefix: string | null): Scope {
    return new Scope(d, envPrefix, this.env);
  }
}
