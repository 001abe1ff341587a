/**
 * One vhost's settings. Every section is a read-only property computed on first access (tree + env are fixed once
 * loaded), with SRS's defaults for whatever is unset, e.g. `cfg.vhost("x")?.hls.fragment`. Each section's fields
 * and defaults live in the file named for it (play.ts, hls.ts, dvr.ts, …).
 */
import { type ReferConfig, referOf, type SecurityConfig, securityOf } from "./access.ts";
import { type ClusterConfig, clusterOf } from "./cluster.ts";
import type { SrsConfig } from "./config.ts";
import { type DashConfig, dashOf, type HdsConfig, hdsOf } from "./dash.ts";
import { type DvrConfig, dvrOf } from "./dvr.ts";
import { Scope } from "./env.ts";
import { type RtspPullConfig, rtspPullsOf } from "./rtsp-server.ts";
import { type ExecConfig, execOf, type IngestConfig, ingestsOf, type TranscodeConfig, transcodesOf } from "./ffmpeg.ts";
import { type ForwardConfig, forwardOf } from "./forward.ts";
import { type HlsConfig, hlsOf } from "./hls.ts";
import { type HttpHooksConfig, httpHooksOf } from "./hooks.ts";
import { type HttpRemuxConfig, httpRemuxOf, type HttpStaticConfig, httpStaticOf } from "./http-vhost.ts";
import type { Directive } from "./parser.ts";
import { type PlayConfig, playOf, type PublishConfig, publishOf } from "./play.ts";
import { type RtcConfig, rtcOf } from "./rtc.ts";
import { type SrtVhostConfig, srtVhostOf } from "./srt.ts";

export class VhostConfig {
  readonly name: string;
  private readonly v: Scope;
  private readonly cache = new Map<string, unknown>();

  constructor(
    private readonly cfg: SrsConfig,
    readonly dir: Directive,
  ) {
    this.name = dir.args[0] ?? "";
    this.v = new Scope(dir, "SRS_VHOST_", cfg.env);
  }

  private memo<T>(key: string, build: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, build());
    return this.cache.get(key) as T;
  }

  /** The sub-block `name`; `env` false for the blocks SRS gives no env overrides. */
  private block(name: string, env = true): Scope {
    const s = this.v.child(name);
    return env ? s : new Scope(s.dir, null, this.cfg.env);
  }

  /** Prefer true (only `enabled off` disables). Not env-overridable. */
  get enabled(): boolean {
    return this.memo("enabled", () => new Scope(this.dir, null, this.cfg.env).boolNotOff("enabled"));
  }

  /** Vhost chunk size, falling back to the global one. */
  get chunkSize(): number {
    return this.memo("chunkSize", () =>
      this.v.raw("chunk_size") !== undefined ? this.v.int("chunk_size", 60000) : this.cfg.chunkSize());
  }

  get tcpNodelay(): boolean {
    return this.memo("tcpNodelay", () => this.v.boolOn("tcp_nodelay"));
  }

  get minLatency(): boolean {
    return this.memo("minLatency", () => this.v.boolOn("min_latency"));
  }

  get inAckSize(): number {
    return this.memo("inAckSize", () => this.v.int("in_ack_size", 0));
  }

  get outAckSize(): number {
    return this.memo("outAckSize", () => this.v.int("out_ack_size", 2500000));
  }

  get play(): PlayConfig {
    return this.memo("play", () => playOf(this.block("play")));
  }

  get publish(): PublishConfig {
    return this.memo("publish", () => publishOf(this.block("publish")));
  }

  get hls(): HlsConfig {
    return this.memo("hls", () => hlsOf(this.block("hls")));
  }

  get httpRemux(): HttpRemuxConfig {
    return this.memo("httpRemux", () => httpRemuxOf(this.block("http_remux")));
  }

  get httpStatic(): HttpStaticConfig {
    return this.memo("httpStatic", () => httpStaticOf(this.block("http_static")));
  }

  get httpHooks(): HttpHooksConfig {
    return this.memo("httpHooks", () => httpHooksOf(this.block("http_hooks")));
  }

  get dvr(): DvrConfig {
    return this.memo("dvr", () => dvrOf(this.block("dvr")));
  }

  get forward(): ForwardConfig {
    return this.memo("forward", () => forwardOf(this.block("forward", false)));
  }

  get security(): SecurityConfig {
    return this.memo("security", () => securityOf(this.block("security", false)));
  }

  get refer(): ReferConfig {
    return this.memo("refer", () => referOf(this.block("refer", false)));
  }

  get cluster(): ClusterConfig {
    return this.memo("cluster", () => clusterOf(this.block("cluster", false)));
  }

  get rtc(): RtcConfig {
    return this.memo("rtc", () => rtcOf(this.block("rtc")));
  }

  /**
   * SRS 7's `rtsp { enabled; }`: srs-ts plays every vhost over RTSP while rtsp_server is on, so only an explicit
   * `enabled off` counts (RTSP players and publishers of this vhost are refused).
   */
  get rtsp(): { enabled: boolean } {
    return this.memo("rtsp", () => ({ enabled: this.block("rtsp").boolNotOff("enabled") }));
  }

  get srt(): SrtVhostConfig {
    return this.memo("srt", () => srtVhostOf(this.block("srt")));
  }

  get dash(): DashConfig {
    return this.memo("dash", () => dashOf(this.block("dash")));
  }

  get hds(): HdsConfig {
    return this.memo("hds", () => hdsOf(this.block("hds")));
  }

  get exec(): ExecConfig {
    return this.memo("exec", () => execOf(this.block("exec", false)));
  }

  /** srs-ts's `rtsp_pull <id> { url; stream; transport; }` blocks: cameras pulled natively (rtsp-server.ts). */
  get rtspPulls(): RtspPullConfig[] {
    return this.memo("rtspPulls", () => rtspPullsOf(this.v));
  }

  get ingests(): IngestConfig[] {
    return this.memo("ingests", () => ingestsOf(this.v));
  }

  get transcodes(): TranscodeConfig[] {
    return this.memo("transcodes", () => transcodesOf(this.v));
  }
}
