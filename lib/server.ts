/**
 * The Server: owns the config, the log sink, the stream hubs, the clients and every listener. Nothing global
 * lives outside it. Lifecycle: start() -> [reload()]* -> stop(fast) | gracefulStop(). Listeners, the session
 * registry and the services register with `lifecycle` (lib/lifecycle.ts): a stop is one event they all take part in.
 * DVR, DASH, forward, the FFmpeg services and the audio bridge are imported only when a config uses them
 * (lib/services/on-demand.ts), so an idle server with the default config does not hold their code.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { removePidFile, writePidFile } from "./pidfile.ts";
import { dirname } from "node:path";
import { ClientRegistry } from "./clients.ts";
import { type SrsConfig, unimplementedDirectives } from "./config/index.ts";
import { diffConfig } from "./config/diff.ts";
import { HubRegistry } from "./hub/registry.ts";
import { FAST_QUIT_BUDGET_MS, Lifecycle } from "./lifecycle.ts";
import { Log, LogSink, parseLogLevel } from "./log/logger.ts";
import type { StreamKey } from "./media/packet.ts";
import { RtmpServer } from "./protocols/rtmp/server.ts";
import { RtmpClient, RtmpStatusError } from "./protocols/rtmp/client.ts";
import { rtmpPull } from "./protocols/rtmp/pull.ts";
import { flvPull } from "./protocols/http/flv-pull.ts";
import { type EdgeService, startEdge } from "./services/cluster/edge.ts";
import { type EdgeConnectors, ProbeRefused } from "./services/cluster/upstream.ts";
import { HttpServers } from "./protocols/http/servers.ts";
import { mountLive } from "./protocols/http/live.ts";
import { RtcService } from "./protocols/rtc/service.ts";
import { mountRtc } from "./protocols/rtc/api.ts";
import { type HlsService, startHls } from "./protocols/hls/service.ts";
import { mountHls } from "./protocols/hls/http.ts";
import type { DashService } from "./protocols/dash/service.ts";
import type { DashHttp } from "./protocols/dash/http.ts";
import { dashReload } from "./protocols/dash/reload.ts";
import { hookOnHls, hookOnHlsNotify } from "./services/hooks/index.ts";
import { type SrtService, startSrt } from "./protocols/srt/bridge.ts";
import type { DvrService } from "./services/dvr/service.ts";
import type { ForwardService } from "./services/forward/service.ts";
import type { FfmpegServices } from "./services/ffmpeg/index.ts";
import { ffmpegReload } from "./services/ffmpeg/reload.ts";
import type { AudioBridgeService } from "./services/audio-bridge/service.ts";
import { OnDemand, usesAudioBridge, usesDash, usesDvr, usesFfmpeg, usesForward } from "./services/on-demand.ts";
import { type AccessControl, OpenAccess } from "./access.ts";
import { Api, mountApi } from "./services/api/index.ts";
import { Heartbeat, heartbeatReload } from "./services/cluster/heartbeat.ts";
import { startExporter } from "./services/exporter/index.ts";
import { Gate } from "./services/gate.ts";
import { OriginCluster } from "./services/cluster/origin-cluster.ts";
import type { HttpListener } from "./runtime/http-serve.ts";
import { type ReloadHandler, type ReloadOutcome, runReload } from "./reload/handler.ts";
import { coreReload } from "./reload/core.ts";
import { rtmpReload } from "./protocols/rtmp/reload.ts";
import { httpReload } from "./protocols/http/reload.ts";
import { srtReload } from "./protocols/srt/reload.ts";
import type { RtspService } from "./protocols/rtsp/server.ts";
import { rtspReload } from "./protocols/rtsp/reload.ts";
import type { RtspPullService } from "./protocols/rtsp/pull.ts";
import { CasterService } from "./services/casters/index.ts";
import { casterReload } from "./services/casters/reload.ts";
import { rtcReload } from "./protocols/rtc/reload.ts";
import { hlsReload } from "./protocols/hls/reload.ts";
import { dvrReload } from "./services/dvr/reload.ts";
import { forwardReload } from "./services/forward/reload.ts";
import { exporterReload } from "./services/exporter/reload.ts";
import type { HubOptions } from "./hub/stream-hub.ts";
import { Stats } from "./services/stats.ts";
import { History } from "./services/history.ts";
import { VERSION } from "./version.ts";
import type { WorkerEnv } from "./runtime/worker-env.ts";
import { serveHttp } from "./runtime/http-serve.ts";
import { type Context, Hono, type Next } from "hono";
import { mountWorkersApi } from "./services/workers/api.ts";
import { type WorkerChannel, WorkerLink } from "./services/workers/link.ts";
import type { WorkersGatePort } from "./services/gate.ts";
import { systemClock } from "./time/local-time.ts";

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
  /** The console's graphs: the last hour at 5 s (GET /api/v1/history). */
  readonly history?: History;
  /** The running forwards (the API, the exporter). */
  readonly forward?: ForwardService;
  /** The edge's pulls and relays (the gate, HTTP live streams, the API). */
  readonly edge?: EdgeService;
  /** Stop (and start failure) as one event: listeners, sessions and services register their part. */
  readonly lifecycle: Lifecycle;
}

export interface ServerOptions {
  /** What the config came from, for the log: its file, "(environment)" or "(built-in default)". */
  configName: string;
  /** Re-reads the config (file + env) for SIGHUP; throws ConfigError on a bad config. */
  loadConfig: () => SrsConfig | Promise<SrsConfig>;
  /** One worker of several (srs-ts's `workers N;`): its channel to the primary (lib/workers/primary.ts). */
  worker?: { env: WorkerEnv; channel: WorkerChannel };
}

export class StartError extends Error {}

/** The services the server loads on demand (see Server.onDemandServices), in the order they start. */
interface OnDemandServices {
  readonly dash: OnDemand<{ service: DashService; http: DashHttp }>;
  readonly dvr: OnDemand<DvrService>;
  readonly forward: OnDemand<ForwardService>;
  readonly audioBridge: OnDemand<AudioBridgeService>;
  readonly ffmpeg: OnDemand<FfmpegServices>;
}

function randomId(n: number): string {
  const a = "0123456789abcdefghijklmnopqrstuvwxyz";
  let s = "";
  for (let i = 0; i < n; i++) s += a[Math.floor(Math.random() * a.length)];
  return s;
}

export class Server implements ServerContext {
  config: SrsConfig;
  readonly hubs: HubRegistry;
  readonly clients = new ClientRegistry(() => this.config.maxConnections());
  readonly log: Log;
  access: AccessControl = new OpenAccess();
  readonly sink: LogSink;
  readonly serviceId = randomId(8);
  readonly serverId: string;
  readonly startedAt = Date.now();
  readonly stats: Stats;
  /** The console's graphs: the last hour at 5 s (GET /api/v1/history). */
  readonly history: History;
  /**
   * DVR, DASH, forward, the audio bridge and the FFmpeg services: their modules are imported (and the service
   * started) only once a config uses them, at start or at a reload (lib/services/on-demand.ts).
   */
  private readonly onDemand: OnDemandServices = this.onDemandServices();
  /** The running forwards (undefined while no config has used forward). */
  get forward(): ForwardService | undefined {
    return this.onDemand.forward.current();
  }
  /** The origin cluster's coworker query (RTMP redirects, HTTP 302s); reads the coworkers from the config in force. */
  readonly originCluster: OriginCluster;
  edge: EdgeService | undefined;
  /** Ingest, transcode and exec: the FFmpegs and programs the server runs (the API lists them); loaded on demand. */
  get ffmpeg(): FfmpegServices | undefined {
    return this.onDemand.ffmpeg.current();
  }
  /** srs-ts's workers: this worker's link to the primary (undefined in a single process). */
  readonly workerLink: WorkerLink | undefined;
  /** The gate's view of the workers: internal pulls, publish claims (a claim ends this worker's pull first). */
  readonly workers: WorkersGatePort | undefined;
  /** A worker's private loopback RTMP listener, where the other workers pull its streams. */
  private privateRtmp: RtmpServer | undefined;
  private hls: HlsService | undefined;
  private get dash(): DashService | undefined {
    return this.onDemand.dash.current()?.service;
  }
  private get dvr(): DvrService | undefined {
    return this.onDemand.dvr.current();
  }
  private rtmp: RtmpServer | undefined;
  private http: HttpServers | undefined;
  private srt: SrtService | undefined;
  private rtsp: RtspService | undefined;
  private rtspPulls: RtspPullService | undefined;
  /** The stream casters (MPEG-TS over UDP, FLV over HTTP POST). */
  casters: CasterService | undefined;
  private rtc: RtcService | undefined;
  readonly lifecycle: Lifecycle;
  private exporter: HttpListener | undefined;
  private pidFile: string | undefined;
  private heartbeat: Heartbeat | undefined;
  /** One reload handler per component (SRS: ISrsReloadHandler), in the order they apply. */
  private readonly reloadHandlers: ReloadHandler[];
  /** Reloads run one after another (SIGHUPs and API calls may arrive while one is applying). */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(config: SrsConfig, private opts: ServerOptions) {
    this.config = config;
    this.sink = new LogSink({
      tank: config.logTank(),
      file: config.logFile(),
      level: parseLogLevel(config.logLevel()),
      utc: config.utcTime(),
    });
    this.log = new Log(this.sink, "srs-main");
    this.lifecycle = new Lifecycle(this.log);
    this.lifecycle.register(this.clients);
    const w = opts.worker;
    this.workerLink = w ? new WorkerLink(this, w.env, w.channel) : undefined;
    const link = this.workerLink;
    this.workers = link
      ? {
        isInternal: (c) => link.isInternal(c),
        claim: async (key) => {
          const r = await link.claim(key);
          if (r.ok) await this.edge?.yieldPull(key);
          return r;
        },
      }
      : undefined;
    this.access = new Gate(this);
    this.originCluster = new OriginCluster(this);
    this.serverId = config.serverId() || persistedServerId(this.log);
    this.hubs = new HubRegistry(this.log, (key) => this.hubOptions(key));
    // Sampled every few seconds by an unref'd timer from now on (the API's kbps, the exporter, the gate's counts).
    this.stats = new Stats(this);
    this.history = new History(this);
    this.reloadHandlers = [
      coreReload({ hubs: this.hubs, clients: this.clients, hubOptions: (k) => this.hubOptions(k) }),
      rtmpReload(() => this.rtmp),
      httpReload(() => this.http),
      exporterReload(this, { get: () => this.exporter, set: (l) => (this.exporter = l) }),
      rtcReload(this, { get: () => this.rtc, set: (r) => (this.rtc = r) }),
      srtReload(this, { get: () => this.srt, set: (x) => (this.srt = x) }),
      rtspReload(this, { get: () => this.rtsp, set: (x) => (this.rtsp = x) }, () => this.rtspPullService()),
      casterReload(() => this.casters),
      hlsReload(this, () => this.hls),
      dashReload(this, () => this.dash),
      dvrReload(this, () => this.dvr),
      forwardReload(this, () => this.forward),
      ffmpegReload(this, () => this.ffmpeg),
      heartbeatReload(() => this.heartbeat),
    ];
  }

  private hubOptions(key: StreamKey): HubOptions {
    const play = this.config.vhost(key.vhost)?.play;
    return {
      gopCache: play?.gopCache ?? true,
      gopCacheMaxFrames: play?.gopCacheMaxFrames ?? 2500,
      timeJitter: play?.timeJitter ?? "full",
    };
  }

  /** Ports actually bound (useful when a test asked for port 0). */
  get ports(): { rtmp: number[]; http: number[]; api: number[]; https: number[]; httpsApi: number[] } {
    return {
      rtmp: this.rtmp?.ports ?? [],
      http: this.http?.httpPorts ?? [],
      api: this.http?.apiPorts ?? [],
      https: this.http?.httpsPorts ?? [],
      httpsApi: this.http?.httpsApiPorts ?? [],
    };
  }

  async start(): Promise<void> {
    const c = this.config;
    this.log.trace(`srs-ts/${VERSION} starting, pid=${process.pid}, config=${this.opts.configName}`);
    for (const u of unimplementedDirectives(c)) this.log.warn(u.text);
    const tz = systemClock().fallbackReason;
    if (tz) this.log.warn(`local time: ${tz}; the runtime's time zone (ICU) is used instead`);
    // With workers the primary keeps the pid file.
    if (!this.workerLink) this.writePidFile(c.pidFile());
    try {
      this.hls = startHls(this);
      this.wireHlsHooks(this.hls);
      // The services loaded on demand, when this config uses them, in the order they always started.
      const { dash, dvr, forward, audioBridge, ffmpeg } = this.onDemand;
      await dash.ensure(c);
      await dvr.ensure(c);
      await forward.ensure(c);
      // The edge pulls over RTMP or HTTP-FLV, relays publishers and probes origins with our clients.
      this.edge = startEdge(this, edgeConnectors(), this.workerLink ? { workers: this.workerLink } : undefined);
      this.loadAudioBridgeAtPublish(audioBridge);
      this.rtmp = new RtmpServer(this);
      await this.rtmp.listen(c.listen());
      // Transcode and exec follow publishes from now on; ingests start once every listener is up.
      await ffmpeg.ensure(c);
      const server = this;
      if (this.workerLink) {
        // The other workers pull this worker's streams here (loopback, its own port: no SO_REUSEPORT).
        this.privateRtmp = new RtmpServer(this);
        await this.privateRtmp.listen(["127.0.0.1:0"]);
        // And answer the API for this worker alone here (the shared API port merges every worker's answers).
        const privateApp = new Hono();
        mountApi(privateApp, this);
        const privateApi = await serveHttp({ hostname: "127.0.0.1", port: 0, fetch: (req, info) => privateApp.fetch(req, info) });
        this.lifecycle.register({ name: "worker private api", phase: "accept", close: () => privateApi.close() });
        const link = this.workerLink;
        const edge = this.edge;
        link.start({ rtmp: this.privateRtmp.ports[0] ?? 0, api: privateApi.port }, () => edge.ownersChanged());
        this.lifecycle.register({ name: "worker link", phase: "finish", close: () => link.stop() });
        this.log.trace(`worker ${link.id}/${link.env.count}: pid=${process.pid}, private rtmp port ${this.privateRtmp.ports[0]}`);
      }
      // The composition root mounts every service's HTTP routes: the API and WebRTC signalling on http_api,
      // HLS and the live streams on http_server (protocols never import each other); their HTTPS listeners
      // (http_server.https, http_api.https) serve the same routes.
      this.http = new HttpServers(this, {
        api: [(app) => {
          if (this.workerLink) mountWorkersApi(app, this.workerLink, this);
        }, (app) => mountApi(app, this), (app) => mountRtc(app, this, () => (this.rtc?.running ? this.rtc : undefined))],
        http: [
          (app) => app.get("*", (ctx: Context, next: Next) => this.dashHttp(ctx, next)),
          (app) => mountHls(app, this, () => this.hls),
          (app) => mountLive(app, this),
        ],
      });
      await this.http.start();
      this.exporter = await startExporter(this);
      if (c.rtcServer().enabled) {
        this.rtc = new RtcService(this);
        await this.rtc.start();
      }
      this.srt = await startSrt(this);
      // RTSP's modules load only when it is on (start or reload), as the casters'.
      if (c.rtspServer().enabled) this.rtsp = await (await import("./protocols/rtsp/server.ts")).startRtsp(this);
      // Casters publish into the local hub (or push to another server with our RTMP client); the UDP ones run in
      // worker 1 only (see lib/services/casters/registry.ts).
      const casters = new CasterService({
        get config() {
          return server.config;
        },
        hubs: this.hubs,
        clients: this.clients,
        get access() {
          return server.access;
        },
        log: this.log,
        connectUpstream: (url, o) => RtmpClient.connect(url, o),
        gb28181: async (o) => new (await import("./protocols/gb28181/server.ts")).GbServer(o),
      }, !this.workerLink || this.workerLink.id === 1);
      this.casters = casters;
      this.lifecycle.register({ name: "stream casters", phase: "accept", close: () => casters.stop("server quit") });
      await casters.start();
      this.startHeartbeat();
      this.ffmpeg?.startIngest();
      // Cameras pulled natively (vhost rtsp_pull), once every listener is up.
      (await this.rtspPullService())?.reconcile();
    } catch (e) {
      await this.lifecycle.stop({ reason: "start failed", budgetMs: FAST_QUIT_BUDGET_MS });
      this.removePidFile();
      throw e instanceof StartError ? e : new StartError((e as Error).message);
    }
    const p = this.ports;
    const https = p.https.length || p.httpsApi.length ? ` https=${p.https.join(",")} https_api=${p.httpsApi.join(",")}` : "";
    this.log.trace(`server started: rtmp=${p.rtmp.join(",")} http=${p.http.join(",")} api=${p.api.join(",")}${https}`);
  }

  /**
   * The native camera pulls (vhost rtsp_pull): made, and their modules loaded, once some vhost has such a block;
   * by worker 1 only, as ingests.
   */
  private async rtspPullService(): Promise<RtspPullService | undefined> {
    if (this.rtspPulls) return this.rtspPulls;
    if (this.workerLink && this.workerLink.id !== 1) return undefined;
    const c = this.config;
    if (!c.vhosts().some((n) => (c.vhost(n)?.rtspPulls.length ?? 0) > 0)) return undefined;
    const { RtspPullService } = await import("./protocols/rtsp/pull.ts");
    if (this.rtspPulls) return this.rtspPulls;
    const pulls = new RtspPullService(this);
    this.rtspPulls = pulls;
    this.lifecycle.register({ name: "rtsp pulls", phase: "accept", close: () => pulls.stop() });
    return pulls;
  }

  /**
   * The services imported only when a config uses them (lib/services/on-demand.ts): each `load` imports the
   * service's modules and starts it as the server always did; the server reads them through `current()`.
   */
  private onDemandServices(): OnDemandServices {
    const loaded = <T>(name: string, v: T): T => {
      this.log.trace(`${name}: loaded, the config uses it`);
      return v;
    };
    return {
      dash: new OnDemand({
        name: "dash",
        wanted: usesDash,
        load: async () => {
          const [{ startDash }, { DashHttp }] = await Promise.all([
            import("./protocols/dash/service.ts"),
            import("./protocols/dash/http.ts"),
          ]);
          const service = startDash(this);
          return loaded("dash", { service, http: new DashHttp(this, () => service) });
        },
      }),
      dvr: new OnDemand({
        name: "dvr",
        wanted: usesDvr,
        load: async () => loaded("dvr", (await import("./services/dvr/service.ts")).startDvr(this)),
      }),
      forward: new OnDemand({
        name: "forward",
        wanted: usesForward,
        // Forwards push over RTMP: the composition root hands the forward service our RTMP client.
        load: async () => {
          const { startForward } = await import("./services/forward/service.ts");
          return loaded("forward", startForward(this, (url, o) => RtmpClient.connect(url, o)));
        },
      }),
      audioBridge: new OnDemand({
        name: "audio bridge",
        wanted: (c) => usesAudioBridge(c),
        load: async () => {
          const { AudioBridgeService } = await import("./services/audio-bridge/service.ts");
          const bridges = new AudioBridgeService({
            log: this.log,
            listen: (l) => this.hubs.listen(l),
            rtcSettings: (vhost) => this.config.vhost(vhost)?.rtc,
          });
          bridges.start();
          this.lifecycle.register({ name: "audio bridge workers", phase: "finish", close: () => bridges.stop() });
          return loaded("audio bridge", bridges);
        },
      }),
      ffmpeg: new OnDemand({
        name: "ffmpeg",
        wanted: usesFfmpeg,
        // Loaded once the RTMP listener is up (ingest/transcode publish to it); loaded by a reload, the ingests
        // start from ffmpegReload's reconcile.
        load: async () => {
          const { FfmpegServices } = await import("./services/ffmpeg/index.ts");
          const server = this;
          const ffmpeg = new FfmpegServices({
            get config() {
              return server.config;
            },
            hubs: this.hubs,
            clients: this.clients,
            log: this.log,
            lifecycle: this.lifecycle,
            rtmpPort: () => server.rtmp?.ports[0],
            runsIngest: !this.workerLink || this.workerLink.id === 1,
          });
          ffmpeg.start();
          return loaded("ffmpeg", ffmpeg);
        },
      }),
    };
  }

  /**
   * The audio bridge reads the vhost's rtc block at each publish (a reload applies to the next one), and the
   * built-in default config turns it on: it is loaded at the first publish on a vhost that bridges audio, not at
   * start, so an idle server never loads it. That stream's bridges start once the module is in (mid-stream, from
   * the publisher's sequence header, as for a viewer arriving late); later publishes find the service loaded.
   */
  private loadAudioBridgeAtPublish(bridge: OnDemand<AudioBridgeService>): void {
    this.hubs.listen({
      onPublish: (hub) => {
        if (bridge.current() || !usesAudioBridge(this.config, hub.key.vhost)) return;
        bridge.load().then((b) => b.catchUp(hub), (e: unknown) => this.log.error(`${hub.name}: audio bridge not started`, e));
      },
      onUnpublish: () => {},
    });
  }

  /** DASH's HTTP routes: served by DASH once loaded; before, they fall through (as with DASH off everywhere). */
  private dashHttp(c: Context, next: Next): Promise<Response | void> {
    const d = this.onDemand.dash.current();
    return d ? d.http.handle(c, next) : next();
  }

  /** SRS's heartbeat (a proxy registers us from it): ticks until the stop. */
  private startHeartbeat(): void {
    const api = new Api(this);
    const server = this;
    const hb = new Heartbeat({
      get config() {
        return server.config;
      },
      log: this.log,
      serverId: this.serverId,
      serviceId: this.serviceId,
      summaries: () => api.summaries(),
    });
    this.heartbeat = hb;
    hb.start();
    this.lifecycle.register({ name: "heartbeat", phase: "accept", close: () => hb.stop() });
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

  /**
   * SIGHUP or `/api/v1/raw?rpc=reload`: re-read the config; a bad config is refused and the old one keeps
   * running. Otherwise the old and new configs are compared, the new one is put in force, and every component
   * applies what concerns it (lib/reload): one log line per change, "applied" or "needs a restart". Resolves
   * false when the config was refused.
   */
  reload(): Promise<boolean> {
    const run = this.reloading.then(() => this.doReload());
    this.reloading = run.catch(() => undefined);
    return run.then((r) => r !== undefined);
  }

  /** The outcomes of the last reload that was not refused (tests, API). */
  lastReload: ReloadOutcome[] = [];

  private async doReload(): Promise<ReloadOutcome[] | undefined> {
    if (this.lifecycle.stopping) {
      this.log.warn(`reload ignored: the server is quitting`);
      return undefined;
    }
    let next: SrsConfig;
    try {
      next = await this.opts.loadConfig();
    } catch (e) {
      this.log.error(`reload failed, keeping the running config`, e);
      return undefined;
    }
    const old = this.config;
    const diff = diffConfig(old, next);
    this.config = next;
    // A service the new config is the first to use is loaded before the handlers run: its own reload handler
    // then starts it on the live streams (lib/reload/live-streams.ts), as for a service loaded at start.
    // (The audio bridge applies at the next publish: it loads then, see loadAudioBridgeAtPublish.)
    const { dash, dvr, forward, ffmpeg } = this.onDemand;
    for (const s of [dash, dvr, forward, ffmpeg]) {
      try {
        await s.ensure(next);
      } catch (e) {
        this.log.error(`reload: ${s.name} not started`, e);
      }
    }
    const outcomes = await runReload(this.reloadHandlers, { old, next, diff }, this.log);
    this.lastReload = outcomes;
    const restart = outcomes.filter((o) => o.result === "restart").length;
    const failed = outcomes.filter((o) => o.result === "failed").length;
    this.log.trace(`reload ok: config ${this.opts.configName}: ${outcomes.length} changes, ` +
      `${outcomes.length - restart - failed} applied, ${restart} need a restart, ${failed} failed`);
    this.sink.level = parseLogLevel(next.logLevel());
    return outcomes;
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

  /**
   * SIGTERM/SIGINT: quit now. Listeners close without waiting for their connections, every session ends (its
   * hooks are sent), DVR/HLS files are finalized, pending hooks get what is left of FAST_QUIT_BUDGET_MS.
   * Called again while a stop runs (a second signal), it cuts the running one's graceful waits short.
   */
  async stop(reason = "stop"): Promise<void> {
    await this.lifecycle.stop({ reason, budgetMs: FAST_QUIT_BUDGET_MS });
    this.removePidFile();
    this.log.trace(`server stopped`);
  }

  /**
   * SIGQUIT: SRS's graceful quit. Wait grace_start_wait (still accepting: load balancers notice), stop
   * accepting, let sessions end within grace_final_wait, then end the rest as stop() does. Unlike SRS, which
   * waits for every connection without a limit and then sleeps grace_final_wait, the wait for sessions is
   * bounded, so a publisher that never leaves cannot hold the process (with force_grace_quit, main.ts routes
   * SIGTERM here too).
   */
  async gracefulStop(reason = "stop"): Promise<void> {
    const c = this.config;
    await this.lifecycle.stop({
      reason,
      budgetMs: FAST_QUIT_BUDGET_MS,
      graceful: { startWaitMs: c.graceStartWait(), finalWaitMs: c.graceFinalWait() },
    });
    this.removePidFile();
    this.log.trace(`server stopped gracefully`);
  }

  private writePidFile(path: string): void {
    if (!path) return;
    try {
      writePidFile(path);
    } catch (e) {
      throw new StartError((e as Error).message);
    }
    this.pidFile = path;
  }

  private removePidFile(): void {
    if (!this.pidFile) return;
    removePidFile(this.pidFile);
    this.pidFile = undefined;
  }
}

/** The edge's network: RTMP/HTTP-FLV pulls, the publish relay and the token_traverse probe (our clients). */
function edgeConnectors(): EdgeConnectors {
  return {
    rtmp: (req) => rtmpPull(req),
    flv: (req) => flvPull(req),
    push: (url, o) => RtmpClient.connect(url, o),
    probe: async (url, method, timeoutMs) => {
      let c: RtmpClient | undefined;
      try {
        if (method === "play") c = await RtmpClient.connectPlay(url, { timeoutMs });
        else {
          c = await RtmpClient.connect(url, { timeoutMs });
          await c.publish();
        }
      } catch (e) {
        if (e instanceof RtmpStatusError) throw new ProbeRefused(e.message);
        throw e;
      } finally {
        c?.destroy();
      }
    },
  };
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

