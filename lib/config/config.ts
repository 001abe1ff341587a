/**
 * Loading a config (file, text, YAML or env-only) and the typed accessors every other part of the server uses.
 *
 * All of SRS's defaults live here, in the getters: callers never read the tree themselves and never re-parse.
 * Env (`SRS_*`) wins over the file and is applied in the getters (see env.ts). Booleans follow SRS per key:
 * "prefer false" settings (`boolOn`) are true only for `on`; "prefer true" settings (`boolNotOff`) are false only
 * for `off`.
 *
 * Units: durations are in the unit SRS uses in the config file and the field name or doc says which
 * (`...Ms` = milliseconds, otherwise seconds as in `hls_fragment`), so values compare directly to the docs.
 */
import process from "node:process";
import { checkSemantics, checkTree } from "./check.ts";
import { type Env, envOnlyDefaults, envValue, expandDollar, isEnvOnly, Scope } from "./env.ts";
import { ConfigError } from "./errors.ts";
import {
  type Directive,
  extensionOf,
  getChild,
  getOrCreate,
  type IncludeContext,
  newDirective,
  newIncludeContext,
  parseConfText,
  parseFileInto,
} from "./parser.ts";
import { transformConfig } from "./transform.ts";
import { parseYamlInto } from "./yaml.ts";

export const DEFAULT_VHOST = "__defaultVhost__";

export interface LoadOptions {
  /** Config file path (`-c`). `SRS_CONFIG_FILE` in env overrides it (as SRS), unless `text` is given. */
  file?: string;
  /** Config text (instead of reading `file`; `file` then only names it in errors and picks the format). */
  text?: string;
  /** Text format when `text` is given without a `.yaml`/`.yml` file name. */
  format?: "conf" | "yaml";
  /** `-e`: no config file at all (also when `SRS_ENV_ONLY` is set in env). */
  envOnly?: boolean;
  /** Environment (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Working directory for relative paths and includes (default `process.cwd()`). */
  cwd?: string;
}

function includeContext(cwd: string): IncludeContext {
  return newIncludeContext(cwd, { ".yaml": parseYamlInto, ".yml": parseYamlInto });
}

/**
 * Loads, transforms and checks a config; throws `ConfigError` on any problem. Never returns an invalid config.
 */
export function loadConfig(opts: LoadOptions): SrsConfig {
  let env: Env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const envOnly = opts.envOnly === true || isEnvOnly(env);
  const ctx = includeContext(cwd);

  let file: string | undefined = opts.file;
  let root: Directive;
  if (envOnly) {
    root = newDirective("", [], file ?? "<env>", 0);
  } else if (opts.text !== undefined) {
    const label = file ?? "<text>";
    root = newDirective("", [], label, 0);
    const yaml = opts.format === "yaml" || (opts.format === undefined && [".yaml", ".yml"].includes(extensionOf(label)));
    if (yaml) parseYamlInto(opts.text, label, root, ctx);
    else parseConfText(opts.text, label, ctx, root);
  } else {
    file = envValue(env, "SRS_CONFIG_FILE") ?? file;
    if (file === undefined || file === "") throw new ConfigError("no config file (use -c FILE or -e)", { file: "<cli>" });
    root = newDirective("", [], file, 0);
    parseFileInto(file, root, ctx);
  }

  const notes = transformConfig(root);
  if (envOnly) {
    env = envOnlyDefaults(env);
    if (root.children.length === 0) getOrCreate(root, "vhost", DEFAULT_VHOST);
  }
  checkTree(root);
  const cfg = new SrsConfig(root, { file, env, envOnly, cwd, notes });
  checkSemantics(cfg);
  return cfg;
}

/** `srs -t -c FILE`: ok, or the first error. Env overrides apply as when running (default `process.env`). */
export function checkConfigFile(
  path: string,
  cwd?: string,
  env: Record<string, string | undefined> = process.env,
): { ok: true } | { ok: false; error: ConfigError } {
  try {
    loadConfig({ file: path, cwd, env });
    return { ok: true };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, error: e };
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Global sections.

export interface HttpsConfig {
  enabled: boolean;
  listen: string;
  key: string;
  cert: string;
}

export interface HttpApiConfig {
  enabled: boolean;
  /** First listen endpoint (`[ip:]port`), default "1985". */
  listen: string;
  listens: string[];
  crossdomain: boolean;
  rawApi: { enabled: boolean; allowReload: boolean; allowQuery: boolean; allowUpdate: boolean };
  auth: { enabled: boolean; username: string; password: string };
  https: HttpsConfig;
}

export interface HttpServerConfig {
  enabled: boolean;
  listen: string;
  listens: string[];
  /** Document root, default "./objs/nginx/html". */
  dir: string;
  crossdomain: boolean;
  https: HttpsConfig;
}

export interface RtcServerConfig {
  enabled: boolean;
  /** UDP port, default 8000. */
  listen: number;
  /** Candidate IP/host, `$VAR` expanded (unset var → `*`), default `*`. */
  candidate: string;
  protocol: "udp" | "tcp" | "all";
  tcp: { enabled: boolean; listen: number };
  ipFamily: "ipv4" | "ipv6" | "all";
  apiAsCandidates: boolean;
  resolveApiDomain: boolean;
  keepApiDomain: boolean;
  useAutoDetectNetworkIp: boolean;
  ecdsa: boolean;
  encrypt: boolean;
  reuseport: number;
  mergeNalus: boolean;
  blackHole: { enabled: boolean; addr: string };
}

export interface SrtServerConfig {
  enabled: boolean;
  /** UDP port, default 10080. */
  listen: number;
  /** Milliseconds. */
  latency: number;
  recvlatency: number;
  peerlatency: number;
  tsbpdmode: boolean;
  tlpktdrop: boolean;
  /** Milliseconds. */
  connectTimeout: number;
  /** Milliseconds. */
  peerIdleTimeout: number;
  mss: number;
  payloadsize: number;
  /** Bytes/s, -1 = unlimited. */
  maxbw: number;
  sendbuf: number;
  recvbuf: number;
  passphrase: string;
  pbkeylen: number;
  defaultApp: string;
  seiFilter: boolean;
}

export interface ExporterConfig {
  enabled: boolean;
  listen: string;
  label: string;
  tag: string;
}

export interface HeartbeatConfig {
  enabled: boolean;
  /** Seconds (float), default 9.9. */
  interval: number;
  url: string;
  deviceId: string;
  summaries: boolean;
  ports: boolean;
}

export interface StatsConfig {
  enabled: boolean;
  network: number;
  disk: string[];
}

export interface StreamCasterConfig {
  enabled: boolean;
  caster: string;
  output: string;
  listen: string;
  sip: { enabled: boolean; listen: string; timeout: number; reinvite: number; candidate: string };
}

export interface CircuitBreakerConfig {
  enabled: boolean;
  highThreshold: number;
  highPulse: number;
  criticalThreshold: number;
  criticalPulse: number;
  dyingThreshold: number;
  dyingPulse: number;
}

// ------------------------------------------------------------------------------------------------------------------

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

  private https(s: Scope, defListen: string): HttpsConfig {
    return {
      enabled: s.boolOn("enabled"),
      listen: s.list("listen", [defListen])[0] ?? defListen,
      key: s.str("key", "./conf/server.key"),
      cert: s.str("cert", "./conf/server.crt"),
    };
  }

  httpApi(): HttpApiConfig {
    const s = this.g.child("http_api");
    const listens = s.list("listen", ["1985"]);
    const serverListens = this.httpServerListens();
    // The HTTPS API shares the HTTPS server port when the API shares the HTTP server port.
    const sameHttp = listens.length === serverListens.length && listens.every((x, i) => x === serverListens[i]);
    const httpsDefault = sameHttp ? this.httpServerHttps().listen : "1990";
    const raw = s.child("raw_api");
    const auth = s.child("auth");
    return {
      enabled: s.boolOn("enabled"),
      listen: listens[0] ?? "",
      listens,
      crossdomain: s.boolNotOff("crossdomain"),
      rawApi: {
        enabled: raw.boolOn("enabled"),
        allowReload: raw.boolOn("allow_reload"),
        // SRS removed query/update of the raw API; always off.
        allowQuery: false,
        allowUpdate: false,
      },
      auth: { enabled: auth.boolOn("enabled"), username: auth.str("username", ""), password: auth.str("password", "") },
      https: this.https(s.child("https"), httpsDefault),
    };
  }

  private httpServerListens(): string[] {
    return this.g.child("http_server").list("listen", ["8080"]);
  }

  private httpServerHttps(): HttpsConfig {
    return this.https(this.g.child("http_server").child("https"), "8088");
  }

  httpServer(): HttpServerConfig {
    const s = this.g.child("http_server");
    const listens = this.httpServerListens();
    return {
      enabled: s.boolOn("enabled"),
      listen: listens[0] ?? "",
      listens,
      dir: s.str("dir", "./objs/nginx/html"),
      crossdomain: s.boolNotOff("crossdomain"),
      https: this.httpServerHttps(),
    };
  }

  rtcServer(): RtcServerConfig {
    const s = this.g.child("rtc_server");
    const tcp = s.child("tcp");
    const bh = s.child("black_hole");
    const protocol = s.str("protocol", "udp");
    const family = s.str("ip_family", "ipv4");
    return {
      enabled: s.boolOn("enabled"),
      listen: s.int("listen", 8000),
      candidate: expandDollar(s.str("candidate", "*"), this.env),
      protocol: protocol === "tcp" || protocol === "all" ? protocol : "udp",
      tcp: { enabled: tcp.boolOn("enabled"), listen: tcp.int("listen", 8000) },
      ipFamily: family === "ipv6" || family === "all" ? family : "ipv4",
      apiAsCandidates: s.boolNotOff("api_as_candidates"),
      resolveApiDomain: s.boolNotOff("resolve_api_domain"),
      keepApiDomain: s.boolOn("keep_api_domain"),
      useAutoDetectNetworkIp: s.boolNotOff("use_auto_detect_network_ip"),
      ecdsa: s.boolNotOff("ecdsa"),
      encrypt: s.boolNotOff("encrypt"),
      reuseport: s.int("reuseport", 1),
      mergeNalus: s.boolOn("merge_nalus"),
      blackHole: { enabled: bh.boolOn("enabled"), addr: bh.str("addr", "") },
    };
  }

  srtServer(): SrtServerConfig {
    const s = this.g.child("srt_server");
    return {
      enabled: s.boolOn("enabled"),
      listen: s.int("listen", 10080),
      latency: s.int("latency", 120),
      recvlatency: s.int("recvlatency", 120),
      peerlatency: s.int("peerlatency", 0),
      tsbpdmode: s.boolNotOff("tsbpdmode"),
      tlpktdrop: s.boolNotOff("tlpktdrop"),
      connectTimeout: s.int("connect_timeout", 3000),
      peerIdleTimeout: s.int("peer_idle_timeout", 10000),
      mss: s.int("mss", 1500),
      payloadsize: s.int("payloadsize", 1316),
      maxbw: s.int("maxbw", -1),
      sendbuf: s.int("sendbuf", 8192 * (1500 - 28)),
      recvbuf: s.int("recvbuf", 8192 * (1500 - 28)),
      passphrase: s.str("passphrase", ""),
      pbkeylen: s.int("pbkeylen", 0),
      defaultApp: s.str("default_app", "live"),
      seiFilter: s.boolNotOff("sei_filter"),
    };
  }

  exporter(): ExporterConfig {
    const s = this.g.child("exporter");
    return { enabled: s.boolOn("enabled"), listen: s.str("listen", "9972"), label: s.str("label", ""), tag: s.str("tag", "") };
  }

  heartbeat(): HeartbeatConfig {
    const s = this.g.child("heartbeat");
    return {
      enabled: s.boolOn("enabled"),
      interval: s.num("interval", 9.9),
      url: s.str("url", "http://127.0.0.1:8085/api/v1/servers"),
      deviceId: s.str("device_id", ""),
      summaries: s.boolOn("summaries"),
      ports: s.boolOn("ports"),
    };
  }

  stats(): StatsConfig {
    const s = this.g.child("stats");
    return { enabled: s.boolNotOff("enabled"), network: s.int("network", 0), disk: s.list("disk", []) };
  }

  circuitBreaker(): CircuitBreakerConfig {
    const s = this.g.child("circuit_breaker");
    return {
      enabled: s.boolNotOff("enabled"),
      highThreshold: s.int("high_threshold", 90),
      highPulse: s.int("high_pulse", 2),
      criticalThreshold: s.int("critical_threshold", 95),
      criticalPulse: s.int("critical_pulse", 1),
      dyingThreshold: s.int("dying_threshold", 99),
      dyingPulse: s.int("dying_pulse", 5),
    };
  }

  /** Seconds, default 5. */
  threadsInterval(): number {
    return this.g.child("threads").num("interval", 5);
  }

  streamCasters(): StreamCasterConfig[] {
    return this.root.children
      .filter((c) => c.name === "stream_caster")
      .map((d) => {
        const s = new Scope(d, null, this.env);
        const sip = s.child("sip");
        return {
          enabled: s.boolOn("enabled"),
          caster: s.str("caster", ""),
          output: s.str("output", ""),
          listen: s.str("listen", ""),
          sip: {
            enabled: sip.boolNotOff("enabled"),
            listen: sip.str("listen", "5060"),
            timeout: sip.num("timeout", 60),
            reinvite: sip.num("reinvite", 5),
            candidate: expandDollar(sip.str("candidate", "*"), this.env),
          },
        };
      });
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

  /** @internal scope helper for VhostConfig. */
  scopeOf(d: Directive | undefined, envPrefix: string | null): Scope {
    return new Scope(d, envPrefix, this.env);
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Vhost sections.

export type TimeJitter = "full" | "zero" | "off";

function timeJitter(v: string): TimeJitter {
  return v === "full" ? "full" : v === "zero" ? "zero" : "off";
}

export interface PlayConfig {
  gopCache: boolean;
  gopCacheMaxFrames: number;
  /** Seconds. */
  queueLength: number;
  timeJitter: TimeJitter;
  mixCorrect: boolean;
  atc: boolean;
  atcAuto: boolean;
  mwLatency: number;
  mwMsgs: number;
  /** Milliseconds. */
  sendMinInterval: number;
  reduceSequenceHeader: boolean;
}

export interface PublishConfig {
  mr: boolean;
  /** Milliseconds. */
  mrLatency: number;
  /** Milliseconds. */
  firstpktTimeout: number;
  /** Milliseconds. */
  normalTimeout: number;
  parseSps: boolean;
  tryAnnexbFirst: boolean;
  /** Seconds, 0 = never kick. */
  kickoffForIdle: number;
}

export interface HlsConfig {
  enabled: boolean;
  entryPrefix: string;
  path: string;
  /** Seconds. */
  fragment: number;
  /** Seconds. */
  window: number;
  tdRatio: number;
  aofRatio: number;
  onError: "ignore" | "disconnect" | "continue";
  acodec: string;
  vcodec: string;
  m3u8File: string;
  tsFile: string;
  tsFloor: boolean;
  cleanup: boolean;
  nbNotify: number;
  waitKeyframe: boolean;
  /** Seconds. */
  dispose: number;
  keys: boolean;
  fragmentsPerKey: number;
  keyFile: string;
  keyFilePath: string;
  keyUrl: string;
  dtsDirectly: boolean;
  ctx: boolean;
  tsCtx: boolean;
  /** hls_use_fmp4 (SRS 6): fMP4 segments (hls_fmp4_file) with an init segment (hls_init_file). */
  useFmp4: boolean;
  fmp4File: string;
  initFile: string;
  recover: boolean;
  /** hls_ll (ours, not SRS): Low-Latency HLS, partial segments and blocking reload; implies fMP4. */
  ll: boolean;
  /** hls_ll_part (ours): LL-HLS part target, seconds (default 0.5). */
  llPart: number;
}

export interface HttpRemuxConfig {
  enabled: boolean;
  mount: string;
  /** Seconds of audio cache, 0 = off. */
  fastCache: number;
  dropIfNotMatch: boolean;
  hasAudio: boolean;
  hasVideo: boolean;
  guessHasAv: boolean;
}

export interface HttpStaticConfig {
  enabled: boolean;
  mount: string;
  dir: string;
}

export interface HttpHooksConfig {
  enabled: boolean;
  onConnect: string[];
  onClose: string[];
  onPublish: string[];
  onUnpublish: string[];
  onPlay: string[];
  onStop: string[];
  onDvr: string[];
  onHls: string[];
  onHlsNotify: string[];
}

export interface DvrConfig {
  enabled: boolean;
  /** `["all"]` or `app/stream` ids. */
  apply: string[];
  path: string;
  plan: "session" | "segment";
  /** Seconds. */
  duration: number;
  waitKeyframe: boolean;
  timeJitter: TimeJitter;
}

export interface ForwardConfig {
  enabled: boolean;
  destination: string[];
  backend: string;
}

export interface SecurityRule {
  action: "allow" | "deny";
  method: "play" | "publish";
  /** `all`, an IP or a CIDR. */
  target: string;
}

export interface SecurityConfig {
  enabled: boolean;
  rules: SecurityRule[];
}

export interface ReferConfig {
  enabled: boolean;
  all: string[];
  publish: string[];
  play: string[];
}

export interface ClusterConfig {
  mode: "local" | "remote";
  isEdge: boolean;
  origin: string[];
  tokenTraverse: boolean;
  /** The vhost to use upstream (edge transform); "" = same vhost. */
  vhost: string;
  debugSrsUpnode: boolean;
  originCluster: boolean;
  coworkers: string[];
  protocol: "rtmp" | "flv" | "flvs";
  followClient: boolean;
}

export interface RtcConfig {
  enabled: boolean;
  nack: boolean;
  nackNoCopy: boolean;
  twcc: boolean;
  /** Seconds. */
  stunTimeout: number;
  stunStrictCheck: boolean;
  dtlsRole: "passive" | "active";
  dtlsVersion: "auto" | "dtls1.0" | "dtls1.2";
  dropForPt: number;
  rtmpToRtc: boolean;
  rtcToRtmp: boolean;
  /** Seconds (float) between PLIs when bridging to RTMP, clamped to [0.5, 30]. */
  pliForRtmp: number;
  keepBframe: boolean;
  keepAvcNaluSei: boolean;
  opusBitrate: number;
  aacBitrate: number;
}

export interface SrtVhostConfig {
  enabled: boolean;
  srtToRtmp: boolean;
}

export interface DashConfig {
  enabled: boolean;
  /** Seconds. */
  fragment: number;
  /** Seconds. */
  updatePeriod: number;
  /** Seconds. */
  timeshift: number;
  path: string;
  mpdFile: string;
  windowSize: number;
  cleanup: boolean;
  /** Seconds. */
  dispose: number;
}

export interface HdsConfig {
  enabled: boolean;
  fragment: number;
  window: number;
  path: string;
}

export interface ExecConfig {
  enabled: boolean;
  /** One command line (argument list) per `publish` directive. */
  publish: string[][];
}

/** An FFmpeg engine of `transcode`/`ingest`. FFmpeg parameter blocks are flattened to `-name value…`. */
export interface EngineConfig {
  name: string;
  enabled: boolean;
  iformat: string;
  vfilter: string[];
  vcodec: string;
  vbitrate: number;
  vfps: number;
  vwidth: number;
  vheight: number;
  vthreads: number;
  vprofile: string;
  vpreset: string;
  vparams: string[];
  acodec: string;
  abitrate: number;
  asampleRate: number;
  achannels: number;
  aparams: string[];
  oformat: string;
  output: string;
  perfile: string[];
}

export interface TranscodeConfig {
  /** `""`, `app` or `app/stream`: which streams this applies to. */
  scope: string;
  enabled: boolean;
  ffmpeg: string;
  engines: EngineConfig[];
}

export interface IngestConfig {
  id: string;
  enabled: boolean;
  input: { type: string; url: string };
  ffmpeg: string;
  engines: EngineConfig[];
}

function flattenParams(d: Directive | undefined): string[] {
  const out: string[] = [];
  for (const c of d?.children ?? []) out.push(`-${c.name}`, ...c.args);
  return out;
}

function engineOf(cfg: SrsConfig, d: Directive): EngineConfig {
  const s = cfg.scopeOf(d, null);
  return {
    name: d.args[0] ?? "",
    enabled: s.boolOn("enabled"),
    iformat: s.str("iformat", "flv"),
    vfilter: flattenParams(s.get("vfilter")),
    vcodec: s.str("vcodec", ""),
    vbitrate: s.int("vbitrate", 0),
    vfps: s.num("vfps", 0),
    vwidth: s.int("vwidth", 0),
    vheight: s.int("vheight", 0),
    vthreads: s.int("vthreads", 1),
    vprofile: s.str("vprofile", ""),
    vpreset: s.str("vpreset", ""),
    vparams: flattenParams(s.get("vparams")),
    acodec: s.str("acodec", ""),
    abitrate: s.int("abitrate", 0),
    asampleRate: s.int("asample_rate", 0),
    achannels: s.int("achannels", 0),
    aparams: flattenParams(s.get("aparams")),
    oformat: s.str("oformat", "flv"),
    output: s.str("output", ""),
    perfile: flattenParams(s.get("perfile")),
  };
}

/**
 * One vhost's settings. Every section is a read-only property computed on first access (tree + env are fixed once
 * loaded), with SRS's defaults for whatever is unset, e.g. `cfg.vhost("x")?.hls.fragment`.
 */
export class VhostConfig {
  readonly name: string;
  private readonly v: Scope;

  constructor(
    private readonly cfg: SrsConfig,
    readonly dir: Directive,
  ) {
    this.name = dir.args[0] ?? "";
    this.v = cfg.scopeOf(dir, "SRS_VHOST_");
  }

  private readonly cache = new Map<string, unknown>();
  private memo<T>(key: string, build: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, build());
    return this.cache.get(key) as T;
  }

  get enabled(): boolean {
    return this.memo("enabled", () => this.build_enabled());
  }

  get chunkSize(): number {
    return this.memo("chunkSize", () => this.build_chunkSize());
  }

  get tcpNodelay(): boolean {
    return this.memo("tcpNodelay", () => this.build_tcpNodelay());
  }

  get minLatency(): boolean {
    return this.memo("minLatency", () => this.build_minLatency());
  }

  get inAckSize(): number {
    return this.memo("inAckSize", () => this.build_inAckSize());
  }

  get outAckSize(): number {
    return this.memo("outAckSize", () => this.build_outAckSize());
  }

  get play(): PlayConfig {
    return this.memo("play", () => this.build_play());
  }

  get publish(): PublishConfig {
    return this.memo("publish", () => this.build_publish());
  }

  get hls(): HlsConfig {
    return this.memo("hls", () => this.build_hls());
  }

  get httpRemux(): HttpRemuxConfig {
    return this.memo("httpRemux", () => this.build_httpRemux());
  }

  get httpStatic(): HttpStaticConfig {
    return this.memo("httpStatic", () => this.build_httpStatic());
  }

  get httpHooks(): HttpHooksConfig {
    return this.memo("httpHooks", () => this.build_httpHooks());
  }

  get dvr(): DvrConfig {
    return this.memo("dvr", () => this.build_dvr());
  }

  get forward(): ForwardConfig {
    return this.memo("forward", () => this.build_forward());
  }

  get security(): SecurityConfig {
    return this.memo("security", () => this.build_security());
  }

  get refer(): ReferConfig {
    return this.memo("refer", () => this.build_refer());
  }

  get cluster(): ClusterConfig {
    return this.memo("cluster", () => this.build_cluster());
  }

  get rtc(): RtcConfig {
    return this.memo("rtc", () => this.build_rtc());
  }

  get srt(): SrtVhostConfig {
    return this.memo("srt", () => this.build_srt());
  }

  get dash(): DashConfig {
    return this.memo("dash", () => this.build_dash());
  }

  get hds(): HdsConfig {
    return this.memo("hds", () => this.build_hds());
  }

  get exec(): ExecConfig {
    return this.memo("exec", () => this.build_exec());
  }

  get ingests(): IngestConfig[] {
    return this.memo("ingests", () => this.build_ingests());
  }

  get transcodes(): TranscodeConfig[] {
    return this.memo("transcodes", () => this.build_transcodes());
  }

  private block(name: string, env = true): Scope {
    const s = this.v.child(name);
    return env ? s : this.cfg.scopeOf(s.dir, null);
  }

  /** Prefer true (only `enabled off` disables). Not env-overridable. */
  private build_enabled(): boolean {
    return this.cfg.scopeOf(this.dir, null).boolNotOff("enabled");
  }

  /** Vhost chunk size, falling back to the global one. */
  private build_chunkSize(): number {
    return this.v.raw("chunk_size") !== undefined ? this.v.int("chunk_size", 60000) : this.cfg.chunkSize();
  }

  private build_tcpNodelay(): boolean {
    return this.v.boolOn("tcp_nodelay");
  }

  private build_minLatency(): boolean {
    return this.v.boolOn("min_latency");
  }

  private build_inAckSize(): number {
    return this.v.int("in_ack_size", 0);
  }

  private build_outAckSize(): number {
    return this.v.int("out_ack_size", 2500000);
  }

  private build_play(): PlayConfig {
    const s = this.block("play");
    return {
      gopCache: s.boolNotOff("gop_cache"),
      gopCacheMaxFrames: s.int("gop_cache_max_frames", 2500),
      queueLength: s.num("queue_length", 30),
      timeJitter: timeJitter(s.str("time_jitter", "full")),
      mixCorrect: s.boolOn("mix_correct"),
      atc: s.boolOn("atc"),
      atcAuto: s.boolOn("atc_auto"),
      mwLatency: s.int("mw_latency", 350),
      mwMsgs: s.int("mw_msgs", 8),
      sendMinInterval: s.num("send_min_interval", 0),
      reduceSequenceHeader: s.boolOn("reduce_sequence_header"),
    };
  }

  private build_publish(): PublishConfig {
    const s = this.block("publish");
    return {
      mr: s.boolOn("mr"),
      mrLatency: s.int("mr_latency", 350),
      firstpktTimeout: s.int("firstpkt_timeout", 20000),
      normalTimeout: s.int("normal_timeout", 5000),
      parseSps: s.boolNotOff("parse_sps"),
      tryAnnexbFirst: s.boolNotOff("try_annexb_first"),
      kickoffForIdle: s.num("kickoff_for_idle", 0),
    };
  }

  private build_hls(): HlsConfig {
    const s = this.block("hls");
    const onError = s.str("hls_on_error", "continue");
    const path = s.str("hls_path", "./objs/nginx/html");
    return {
      enabled: s.boolOn("enabled"),
      entryPrefix: s.str("hls_entry_prefix", ""),
      path,
      fragment: s.num("hls_fragment", 10),
      window: s.num("hls_window", 60),
      tdRatio: s.num("hls_td_ratio", 1.0),
      aofRatio: s.num("hls_aof_ratio", 2.1),
      onError: onError === "ignore" || onError === "disconnect" ? onError : "continue",
      acodec: s.str("hls_acodec", "aac"),
      vcodec: s.str("hls_vcodec", "h264"),
      m3u8File: s.str("hls_m3u8_file", "[app]/[stream].m3u8"),
      tsFile: s.str("hls_ts_file", "[app]/[stream]-[seq].ts"),
      tsFloor: s.boolOn("hls_ts_floor"),
      cleanup: s.boolNotOff("hls_cleanup"),
      nbNotify: s.int("hls_nb_notify", 64),
      waitKeyframe: s.boolNotOff("hls_wait_keyframe"),
      dispose: s.num("hls_dispose", 120),
      keys: s.boolOn("hls_keys"),
      fragmentsPerKey: s.int("hls_fragments_per_key", 5),
      keyFile: s.str("hls_key_file", "[app]/[stream]-[seq].key"),
      keyFilePath: s.str("hls_key_file_path", path),
      keyUrl: s.str("hls_key_url", ""),
      dtsDirectly: s.boolNotOff("hls_dts_directly"),
      ctx: s.boolNotOff("hls_ctx"),
      tsCtx: s.boolNotOff("hls_ts_ctx"),
      useFmp4: s.boolOn("hls_use_fmp4"),
      fmp4File: s.str("hls_fmp4_file", "[app]/[stream]-[seq].m4s"),
      initFile: s.str("hls_init_file", "[app]/[stream]/init.mp4"),
      recover: s.boolNotOff("hls_recover"),
      ll: s.boolOn("hls_ll"),
      llPart: Math.min(5, Math.max(0.1, s.num("hls_ll_part", 0.5))),
    };
  }

  private build_httpRemux(): HttpRemuxConfig {
    const s = this.block("http_remux");
    return {
      enabled: s.boolOn("enabled"),
      mount: s.str("mount", "[vhost]/[app]/[stream].flv"),
      fastCache: s.num("fast_cache", 0),
      dropIfNotMatch: s.boolNotOff("drop_if_not_match"),
      hasAudio: s.boolNotOff("has_audio"),
      hasVideo: s.boolNotOff("has_video"),
      guessHasAv: s.boolNotOff("guess_has_av"),
    };
  }

  private build_httpStatic(): HttpStaticConfig {
    const s = this.block("http_static");
    return { enabled: s.boolOn("enabled"), mount: s.str("mount", "[vhost]/"), dir: s.str("dir", "./objs/nginx/html") };
  }

  private build_httpHooks(): HttpHooksConfig {
    const s = this.block("http_hooks");
    return {
      enabled: s.boolOn("enabled"),
      onConnect: s.list("on_connect"),
      onClose: s.list("on_close"),
      onPublish: s.list("on_publish"),
      onUnpublish: s.list("on_unpublish"),
      onPlay: s.list("on_play"),
      onStop: s.list("on_stop"),
      onDvr: s.list("on_dvr"),
      onHls: s.list("on_hls"),
      onHlsNotify: s.list("on_hls_notify"),
    };
  }

  private build_dvr(): DvrConfig {
    const s = this.block("dvr");
    return {
      enabled: s.boolOn("enabled"),
      apply: s.list("dvr_apply", ["all"]),
      path: s.str("dvr_path", "./objs/nginx/html/[app]/[stream].[timestamp].flv"),
      plan: s.str("dvr_plan", "session") === "segment" ? "segment" : "session",
      duration: s.num("dvr_duration", 30),
      waitKeyframe: s.boolNotOff("dvr_wait_keyframe"),
      timeJitter: timeJitter(s.str("time_jitter", "full")),
    };
  }

  private build_forward(): ForwardConfig {
    const s = this.block("forward", false);
    return { enabled: s.boolOn("enabled"), destination: s.list("destination"), backend: s.str("backend", "") };
  }

  private build_security(): SecurityConfig {
    const s = this.block("security", false);
    const rules: SecurityRule[] = [];
    for (const d of s.dir?.children ?? []) {
      if (d.name !== "allow" && d.name !== "deny") continue;
      const method = d.args[0];
      if (method !== "play" && method !== "publish") continue;
      rules.push({ action: d.name, method, target: d.args[1] ?? "all" });
    }
    return { enabled: s.boolOn("enabled"), rules };
  }

  private build_refer(): ReferConfig {
    const s = this.block("refer", false);
    return { enabled: s.boolOn("enabled"), all: s.list("all"), publish: s.list("publish"), play: s.list("play") };
  }

  private build_cluster(): ClusterConfig {
    const s = this.block("cluster", false);
    const mode = s.str("mode", "local") === "remote" ? "remote" : "local";
    const protocol = s.str("protocol", "rtmp");
    return {
      mode,
      isEdge: mode === "remote",
      origin: s.list("origin"),
      tokenTraverse: s.boolOn("token_traverse"),
      vhost: s.str("vhost", ""),
      debugSrsUpnode: s.boolNotOff("debug_srs_upnode"),
      originCluster: s.boolOn("origin_cluster"),
      coworkers: s.list("coworkers"),
      protocol: protocol === "flv" || protocol === "flvs" ? protocol : "rtmp",
      followClient: s.boolOn("follow_client"),
    };
  }

  private build_rtc(): RtcConfig {
    const s = this.block("rtc");
    const role = s.str("dtls_role", "passive");
    const version = s.str("dtls_version", "auto");
    let pli = s.num("pli_for_rtmp", 6.0);
    if (pli < 0.5 || pli > 30) pli = 6.0;
    return {
      enabled: s.boolOn("enabled"),
      nack: s.boolNotOff("nack"),
      nackNoCopy: s.boolNotOff("nack_no_copy"),
      twcc: s.boolNotOff("twcc"),
      stunTimeout: s.num("stun_timeout", 30),
      stunStrictCheck: s.boolOn("stun_strict_check"),
      dtlsRole: role === "active" ? "active" : "passive",
      dtlsVersion: version === "dtls1.0" || version === "dtls1.2" ? version : "auto",
      dropForPt: s.int("drop_for_pt", 0),
      rtmpToRtc: s.boolOn("rtmp_to_rtc"),
      rtcToRtmp: s.boolOn("rtc_to_rtmp"),
      pliForRtmp: pli,
      keepBframe: s.boolOn("keep_bframe"),
      keepAvcNaluSei: s.boolNotOff("keep_avc_nalu_sei"),
      opusBitrate: s.int("opus_bitrate", 48000),
      aacBitrate: s.int("aac_bitrate", 48000),
    };
  }

  private build_srt(): SrtVhostConfig {
    const s = this.block("srt");
    return { enabled: s.boolOn("enabled"), srtToRtmp: s.boolNotOff("srt_to_rtmp", true, ["SRS_VHOST_SRT_TO_RTMP"]) };
  }

  private build_dash(): DashConfig {
    const s = this.block("dash");
    return {
      enabled: s.boolOn("enabled"),
      fragment: s.num("dash_fragment", 30),
      updatePeriod: s.num("dash_update_period", 150),
      timeshift: s.num("dash_timeshift", 300),
      path: s.str("dash_path", "./objs/nginx/html"),
      mpdFile: s.str("dash_mpd_file", "[app]/[stream].mpd"),
      windowSize: s.int("dash_window_size", 5),
      cleanup: s.boolNotOff("dash_cleanup"),
      dispose: s.num("dash_dispose", 120),
    };
  }

  private build_hds(): HdsConfig {
    const s = this.block("hds");
    return {
      enabled: s.boolOn("enabled"),
      fragment: s.num("hds_fragment", 10),
      window: s.num("hds_window", 60),
      path: s.str("hds_path", "./objs/nginx/html"),
    };
  }

  private build_exec(): ExecConfig {
    const s = this.block("exec", false);
    return { enabled: s.boolOn("enabled"), publish: s.all("publish").map((d) => [...d.args]) };
  }

  private build_ingests(): IngestConfig[] {
    return this.v.all("ingest").map((d) => {
      const s = this.cfg.scopeOf(d, null);
      const input = s.child("input");
      return {
        id: d.args[0] ?? "",
        enabled: s.boolOn("enabled"),
        input: { type: input.str("type", "file"), url: input.str("url", "") },
        ffmpeg: s.str("ffmpeg", ""),
        engines: s.all("engine").map((e) => engineOf(this.cfg, e)),
      };
    });
  }

  private build_transcodes(): TranscodeConfig[] {
    return this.v.all("transcode").map((d) => {
      const s = this.cfg.scopeOf(d, null);
      return {
        scope: d.args[0] ?? "",
        enabled: s.boolOn("enabled"),
        ffmpeg: s.str("ffmpeg", ""),
        engines: s.all("engine").map((e) => engineOf(this.cfg, e)),
      };
    });
  }
}
