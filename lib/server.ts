/**
 * The Server: owns the config, the log sink, the stream hubs, the clients and every listener. Nothing global
 * lives outside it. Lifecycle: start() -> [reload()]* -> stop(fast) | gracefulStop().
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ClientRegistry } from "./clients.ts";
import type { SrsConfig } from "./config/index.ts";
import { HubRegistry } from "./hub/registry.ts";
import { Log, LogSink, parseLogLevel } from "./log/logger.ts";
import type { StreamKey } from "./media/packet.ts";
import { RtmpServer } from "./protocols/rtmp/server.ts";
import { RtmpClient } from "./protocols/rtmp/client.ts";
import { HttpServers } from "./protocols/http/servers.ts";
import { mountLive } from "./protocols/http/live.ts";
import { RtcService } from "./protocols/rtc/service.ts";
import { mountRtc } from "./protocols/rtc/api.ts";
import { type HlsService, startHls } from "./protocols/hls/service.ts";
import { mountHls } from "./protocols/hls/http.ts";
import { hookOnHls, hookOnHlsNotify } from "./services/hooks/index.ts";
import { type SrtService, startSrt } from "./protocols/srt/bridge.ts";
import { type DvrService, startDvr } from "./services/dvr/service.ts";
import { type ForwardService, startForward } from "./services/forward/service.ts";
import { startAudioBridges } from "./services/audio-bridge.ts";
import { type AccessControl, OpenAccess } from "./access.ts";
import { mountApi, startHttpsApi } from "./services/api/index.ts";
import { startExporter } from "./services/exporter/index.ts";
import { Gate } from "./services/gate.ts";
import type { HttpListener } from "./runtime/http-serve.ts";
import { Stats } from "./services/stats.ts";
import { VERSION } from "./version.ts";

/**
 * Everything the adapters' ports ask of the server, together (each adapter declares its own few needs next to
 * itself: RtmpSessionPorts, SrtPorts, HookPorts, ...; none imports this module). The services are owned by the
 * server object (no module-level registries) and handed to the ports that need them.
 */
export interface ServerContext {
  /** The config in force (replaced on reload: always read it through this getter). */
  readonly config: SrsConfig;
  readonly hubs: HubRegistry;
  readonly clients: ClientRegistry;
  readonly log: Log;
  /** Security rules and HTTP callbacks every session passes through. */
  readonly access: AccessControl;
  /** Server id (as SRS's `server_id`) and service id (random per process). */
  readonly serverId: string;
  readonly serviceId: string;
  readonly startedAt: number;
  /** Client and stream statistics (the API, the exporter, the access gate). */
  readonly stats: Stats;
  /** The running forwards (the API, the exporter). */
  readonly forward?: ForwardService;
}

export interface ServerOptions {
  /** Config file path, for reload (undefined in env-only or built-in default mode). */
  configFile?: string;
  /** Re-reads the config (file + env) for SIGHUP; throws ConfigError on a bad config. */
  loadConfig: () => SrsConfig;
}

export class StartError extends Error {}

function randomId(n: number): string {
  const a = "0123456789abcdefghijklmnopqrstuvwxyz";
  let s = "";
  for (let i = 0; i < n; i++) s += a[Math.floor(Math.random() * a.length)];
  return s;
}

export class Server implements ServerContext {
  config: SrsConfig;
  readonly hubs: HubRegistry;
  readonly clients = new ClientRegistry();
  readonly log: Log;
  access: AccessControl = new OpenAccess();
  readonly sink: LogSink;
  readonly serviceId = randomId(8);
  readonly serverId: string;
  readonly startedAt = Date.now();
  readonly stats: Stats;
  forward: ForwardService | undefined;
  private hls: HlsService | undefined;
  private dvr: DvrService | undefined;
  private rtmp: RtmpServer | undefined;
  private http: HttpServers | undefined;
  private srt: SrtService | undefined;
  private rtc: RtcService | undefined;
  private extraListeners: HttpListener[] = [];
  private pidFile: string | undefined;
  private stopping = false;

  constructor(config: SrsConfig, private opts: ServerOptions) {
    this.config = config;
    this.sink = new LogSink({
      tank: config.logTank(),
      file: config.logFile(),
      level: parseLogLevel(config.logLevel()),
      utc: config.utcTime(),
    });
    this.log = new Log(this.sink, "srs-main");
    this.access = new Gate(this);
    this.serverId = config.serverId() || persistedServerId(this.log);
    this.hubs = new HubRegistry(this.log, (key: StreamKey) => {
      const play = this.config.vhost(key.vhost)?.play;
      return {
        gopCache: play?.gopCache ?? true,
        gopCacheMaxFrames: play?.gopCacheMaxFrames ?? 2500,
        timeJitter: play?.timeJitter ?? "full",
      };
    });
    // Sampled every few seconds by an unref'd timer from now on (the API's kbps, the exporter, the gate's counts).
    this.stats = new Stats(this);
  }

  /** Ports actually bound (useful when a test asked for port 0). */
  get ports(): { rtmp: number[]; http: number[]; api: number[] } {
    return { rtmp: this.rtmp?.ports ?? [], http: this.http?.httpPorts ?? [], api: this.http?.apiPorts ?? [] };
  }

  async start(): Promise<void> {
    const c = this.config;
    this.log.trace(`srs-ts/${VERSION} starting, pid=${process.pid}, config=${this.opts.configFile ?? "(built-in)"}`);
    this.writePidFile(c.pidFile());
    try {
      this.hls = startHls(this);
      this.wireHlsHooks(this.hls);
      this.dvr = startDvr(this);
      // Forwards push over RTMP: the composition root hands the forward service our RTMP client.
      this.forward = startForward(this, (url, o) => RtmpClient.connect(url, o));
      startAudioBridges(this);
      this.rtmp = new RtmpServer(this);
      await this.rtmp.listen(c.listen());
      // The composition root mounts every service's HTTP routes: the API and WebRTC signalling on http_api,
      // HLS and the live streams on http_server (protocols never import each other).
      this.http = new HttpServers(this, {
        api: [(app) => mountApi(app, this), (app) => mountRtc(app, this, () => (this.rtc?.running ? this.rtc : undefined))],
        http: [(app) => mountHls(app, this, () => this.hls), (app) => mountLive(app, this)],
      });
      await this.http.start();
      const httpsApi = await startHttpsApi(this);
      if (httpsApi) this.extraListeners.push(httpsApi);
      const exporter = await startExporter(this);
      if (exporter) this.extraListeners.push(exporter);
      if (c.rtcServer().enabled) {
        this.rtc = new RtcService(this);
        await this.rtc.start();
      }
      this.srt = await startSrt(this);
    } catch (e) {
      await this.closeListeners();
      this.removePidFile();
      throw e instanceof StartError ? e : new StartError((e as Error).message);
    }
    this.log.trace(`server started: rtmp=${this.ports.rtmp.join(",")} http=${this.ports.http.join(",")} api=${this.ports.api.join(",")}`);
  }

  /** on_hls (POST) and on_hls_notify (GET) after every HLS segment, with the publisher as the client. */
  private wireHlsHooks(hls: HlsService): void {
    hls.onSegment((e) => {
      const client = this.clients.get(e.clientId);
      if (!client) return;
      const { key, duration, file, url, m3u8, m3u8Url, seqNo } = e;
      void hookOnHls(this, { client, key, duration, file, url, m3u8, m3u8Url, seqNo });
      void hookOnHlsNotify(this, { client, key, tsUrl: url });
    });
  }

  /** SIGHUP: re-read the config; a bad config is refused and the old one keeps running. */
  reload(): boolean {
    let next: SrsConfig;
    try {
      next = this.opts.loadConfig();
    } catch (e) {
      this.log.error(`reload failed, keeping the running config`, e);
      return false;
    }
    this.config = next;
    const level = parseLogLevel(next.logLevel());
    this.log.trace(`reload ok: config ${this.opts.configFile ?? "(env)"} applied (log level ${level})`);
    this.sink.level = level;
    return true;
  }

  /** SIGUSR1: reopen the log file (logrotate). */
  reopenLog(): void {
    try {
      this.sink.reopen();
      this.log.trace(`log file reopened: ${this.sink.target}`);
    } catch (e) {
      this.log.error(`reopen log failed`, e);
    }
  }

  /** SIGTERM: quit now. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.trace(`fast quit: closing ${this.clients.size} clients`);
    await this.closeListeners();
    this.clients.kickAll("server quit");
    await this.finishRecordings();
    this.removePidFile();
    this.log.trace(`server stopped`);
  }

  /**
   * SIGQUIT: graceful quit as SRS: wait grace_start_wait (load balancers notice), stop accepting, let sessions
   * end within grace_final_wait, then quit (force_grace_quit: do the same even for SIGTERM — handled by main).
   */
  async gracefulStop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const c = this.config;
    this.log.trace(`graceful quit: wait ${c.graceStartWait()}ms, then stop accepting`);
    await new Promise((r) => setTimeout(r, c.graceStartWait()));
    await this.closeListeners();
    this.log.trace(`graceful quit: waiting up to ${c.graceFinalWait()}ms for ${this.clients.size} clients`);
    await this.clients.drained(c.graceFinalWait());
    this.clients.kickAll("server quit");
    await this.finishRecordings();
    this.removePidFile();
    this.log.trace(`server stopped gracefully`);
  }

  /** DVR files being written are finalized (MP4 index, FLV duration) and renamed before the process exits. */
  private async finishRecordings(): Promise<void> {
    await this.dvr?.drain(5000);
  }

  private async closeListeners(): Promise<void> {
    await this.rtmp?.close();
    await this.http?.close();
    await this.srt?.close();
    this.srt = undefined;
    await this.rtc?.close();
    this.rtc = undefined;
    for (const l of this.extraListeners.splice(0)) await l.close();
  }

  private writePidFile(path: string): void {
    if (!path) return;
    if (existsSync(path)) {
      const old = Number(readFileSync(path, "utf8").trim());
      if (old > 0 && old !== process.pid && processAlive(old)) {
        throw new StartError(`pid file ${path}: srs-ts is already running as pid ${old}`);
      }
    }
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${process.pid}\n`);
      this.pidFile = path;
    } catch (e) {
      throw new StartError(`write pid file ${path}: ${(e as Error).message}`);
    }
  }

  private removePidFile(): void {
    if (!this.pidFile) return;
    try {
      const cur = Number(readFileSync(this.pidFile, "utf8").trim());
      if (cur === process.pid) unlinkSync(this.pidFile);
    } catch {
      // already gone
    }
    this.pidFile = undefined;
  }
}

/** SRS keeps a generated server id in ./objs/srs.id so it survives restarts; a bad or unwritable file gets a fresh id. */
function persistedServerId(log: Log): string {
  const path = "./objs/srs.id";
  try {
    const id = readFileSync(path, "utf8").trim();
    if (/^[\w.-]{1,64}$/.test(id)) return id;
  } catch {
    // first run
  }
  const id = `vid-${randomId(7)}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, id);
  } catch (e) {
    log.warn(`cannot persist server id to ${path}: ${(e as Error).message}`);
  }
  return id;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
