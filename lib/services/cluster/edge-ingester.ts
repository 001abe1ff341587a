/**
 * The play edge's upstream for one stream (SRS: SrsEdgeIngester + SrsPlayEdge): pulls the stream from an
 * origin and publishes it on the local hub, so every local player (RTMP, HTTP-FLV/TS, WebRTC, SRT, HLS) is fed
 * by one upstream connection whatever their number.
 *
 * Origins are taken round-robin (SRS: `count++ % n` over `cluster.origin`). A failed or broken upstream moves to
 * the next origin at once; once every origin failed in a row, it waits (SRS's 3 s, doubling to 30 s) before the
 * next round. The hub lease is taken at the first media and kept across upstream switches, so players never see
 * an unpublish. Each upstream's timestamps are rebased to continue the last one's (whatever time_jitter is), and
 * its metadata and sequence headers reach the players as updates. An upstream that sends nothing for
 * `recvTimeoutMs` (SRS: 5 s) is dropped. stop() ends it (no players left, server stop).
 */
import type { PublishLease } from "../../hub/lease.ts";
import type { StreamHubs } from "../../hub/registry.ts";
import { PublishError } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import { newContextId } from "../../log/logger.ts";
import { flvAudioToPacket, flvScriptToPacket, flvVideoToPacket } from "../../media/flv-codec.ts";
import type { MediaPacket, StreamKey } from "../../media/packet.ts";
import { streamKeyString } from "../../media/packet.ts";
import type { ClusterConfig } from "../../config/index.ts";
import type { PullConnector, PullUpstream, TagKind } from "./upstream.ts";
import { type EdgeProtocol, upstreamUrl, upstreamVhost } from "./url.ts";
import { Waker } from "../waker.ts";

/** The SRS client type of the edge's upstream publisher on its own hub. */
export const EDGE_INGEST_TYPE = "edge-ingest";

export interface IngesterPorts {
  readonly hubs: Pick<StreamHubs, "publish">;
  readonly log: Log;
  /** The vhost's cluster block in force (read at every connect: a reload applies to the next upstream). */
  cluster(vhost: string): ClusterConfig | undefined;
  /** The client whose query and tcUrl travel upstream (the first player), if any is known. */
  client(): { tcUrl?: string; param?: string; protocol?: string } | undefined;
  connectors: { rtmp: PullConnector; flv: PullConnector };
  /** The edge's identity for debug_srs_upnode. */
  upnode: { serverId: string; version: string };
  /** The client type it publishes as on the local hub (EDGE_INGEST_TYPE; a worker's pull: WORKER_PULL_TYPE). */
  type?: string;
}

export interface IngesterOptions {
  connectTimeoutMs?: number;
  recvTimeoutMs?: number;
  /** First and largest wait after a whole round of origins failed, ms (3000, 30000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

type State = "connecting" | "playing" | "waiting" | "stopped";

export class EdgeIngester {
  readonly id = newContextId();
  readonly name: string;
  /** The client type it publishes as on the local hub (EDGE_INGEST_TYPE, or a worker's pull: WORKER_PULL_TYPE). */
  readonly type: string;
  private state: State = "connecting";
  private lease: PublishLease | undefined;
  private upstream: PullUpstream | undefined;
  private stopped = false;
  /** Resolves at stop(): a connect in progress is abandoned at once (its upstream destroyed if it comes). */
  private readonly stopping: Promise<undefined>;
  private stopNow!: () => void;
  private readonly waker = new Waker();
  private running: Promise<void> | undefined;
  private rr = 0;
  private readonly log: Log;
  // Timestamps: each upstream's are shifted to continue where the previous one stopped.
  private offset = 0;
  private rebase = false;
  private lastDts = -1;
  private lastTagAt = 0;
  /** Statistics (API). */
  origin = "";
  url = "";
  protocol: EdgeProtocol = "rtmp";
  connects = 0;
  failures = 0;
  switches = 0;
  tags = 0;
  badTags = 0;
  lastError = "";
  since = Date.now();

  constructor(readonly key: StreamKey, private ports: IngesterPorts, private opts: IngesterOptions = {}) {
    this.name = streamKeyString(key);
    this.type = ports.type ?? EDGE_INGEST_TYPE;
    this.log = ports.log.child(this.id);
    this.stopping = new Promise((r) => (this.stopNow = () => r(undefined)));
  }

  get status(): State {
    return this.state;
  }

  /** Whether the stream is published on the hub by this ingester. */
  get publishing(): boolean {
    return this.lease !== undefined;
  }

  /** Starts pulling; the promise resolves when the ingester has ended (stopped, or gave up by itself). */
  start(): Promise<void> {
    this.log.trace(`edge pull ${this.name}: start`);
    this.running = this.run();
    return this.running;
  }

  /** Ends the pull: the upstream closes and the stream is unpublished locally. */
  async stop(reason: string): Promise<void> {
    if (this.stopped) return this.running;
    this.stopped = true;
    this.state = "stopped";
    this.log.trace(`edge pull ${this.name}: stop (${reason}), ${this.tags} tags from ${this.connects} upstreams`);
    this.upstream?.destroy();
    this.stopNow();
    this.waker.wake();
    await this.running;
  }

  private async run(): Promise<void> {
    const minBackoff = this.opts.minBackoffMs ?? 3000;
    const maxBackoff = this.opts.maxBackoffMs ?? 30000;
    let delay = minBackoff;
    let failedInRow = 0;
    try {
      while (!this.stopped) {
        const cfg = this.ports.cluster(this.key.vhost);
        if (!cfg?.isEdge) {
          this.log.warn(`edge pull ${this.name}: vhost ${this.key.vhost} is no edge any more, stop`);
          break;
        }
        const origins = cfg.origin;
        if (origins.length === 0) {
          this.lastError = "no origin configured";
          this.log.error(`edge pull ${this.name}: vhost ${this.key.vhost} has no cluster.origin; retry in ${delay / 1000}s`);
          this.state = "waiting";
          await this.waker.sleep(delay);
          delay = Math.min(delay * 2, maxBackoff);
          continue;
        }
        const origin = origins[this.rr++ % origins.length]!;
        let ok = false;
        try {
          ok = await this.session(origin, cfg);
        } catch (e) {
          if (this.stopped) break;
          this.failures++;
          this.lastError = `${origin}: ${(e as Error).message}`;
          this.log.warn(`edge pull ${this.name}: origin ${origin} failed: ${(e as Error).message}`);
        } finally {
          this.upstream?.destroy();
          this.upstream = undefined;
        }
        if (this.stopped) break;
        if (ok) {
          // It played: the next origin is tried at once (failover), and a whole round starts again.
          failedInRow = 0;
          delay = minBackoff;
          this.switches++;
          continue;
        }
        failedInRow++;
        if (failedInRow < origins.length) continue;
        failedInRow = 0;
        this.state = "waiting";
        this.log.warn(`edge pull ${this.name}: every origin failed (${origins.join(" ")}); retry in ${delay / 1000}s`);
        await this.waker.sleep(delay);
        delay = Math.min(delay * 2, maxBackoff);
      }
    } finally {
      this.state = "stopped";
      this.lease?.dispose();
      this.lease = undefined;
    }
  }

  /** One upstream: resolves true when it played some media before it ended, throws when it could not start. */
  private async session(origin: string, cfg: ClusterConfig): Promise<boolean> {
    const client = this.ports.client();
    let protocol: EdgeProtocol = cfg.protocol;
    if (cfg.followClient && client?.protocol) protocol = client.protocol === "http" ? (protocol === "rtmp" ? "flv" : protocol) : "rtmp";
    const vhost = upstreamVhost(cfg.vhost, this.key.vhost);
    const url = upstreamUrl(origin, protocol, this.key, vhost, client ?? {});
    this.state = "connecting";
    this.origin = origin;
    this.protocol = protocol;
    this.url = url;
    this.log.trace(`edge pull ${this.name}: connecting to origin ${origin}, ${url}`);
    const connect = protocol === "rtmp" ? this.ports.connectors.rtmp : this.ports.connectors.flv;
    const timeoutMs = this.opts.connectTimeoutMs ?? 5000;
    const upnode = this.ports.upnode;
    let gotMedia = false;
    this.rebase = this.lastDts >= 0;
    const connecting = connect({
      url,
      timeoutMs,
      log: this.log,
      connectArgs: cfg.debugSrsUpnode
        ? (ip) => ({
          srs_sig: "srs-ts",
          srs_server: `srs-ts/${upnode.version}`,
          srs_version: upnode.version,
          srs_pid: process.pid,
          srs_id: this.id,
          srs_server_ip: ip,
          srs_server_id: upnode.serverId,
        })
        : undefined,
      onRedirect: (to) => this.log.trace(`edge pull ${this.name}: origin ${origin} redirects to ${to}`),
      onTag: (kind, ts, body) => {
        if (this.stopped) return;
        if (this.onTag(kind, ts, body) && kind !== "data") gotMedia = true;
      },
    });
    const up = await Promise.race([connecting, this.stopping]);
    if (!up) {
      void connecting.then((u) => u.destroy(), () => {});
      return false;
    }
    this.upstream = up;
    if (this.stopped) return false;
    this.connects++;
    this.url = up.url;
    this.state = "playing";
    this.lastTagAt = Date.now();
    this.log.trace(`edge pull ${this.name}: playing from origin ${origin} (${up.url}), upstream #${this.connects}`);
    const recvTimeout = this.opts.recvTimeoutMs ?? 5000;
    let timer: ReturnType<typeof setInterval> | undefined;
    const idle = new Promise<string>((resolve) => {
      timer = setInterval(() => {
        if (Date.now() - this.lastTagAt > recvTimeout) resolve(`no media for ${recvTimeout} ms`);
      }, 500);
    });
    const why = await Promise.race([up.closed, idle]).finally(() => clearInterval(timer));
    if (this.stopped) return gotMedia;
    this.log.warn(`edge pull ${this.name}: upstream ${origin} ended: ${why}; ${gotMedia ? "switching origin" : "no media from it"}`);
    if (!gotMedia) throw new Error(why);
    return true;
  }

  /** One tag from the upstream: to a packet, timestamps rebased, onto the hub. False when it was dropped. */
  private onTag(kind: TagKind, ts: number, body: Uint8Array): boolean {
    this.lastTagAt = Date.now();
    let p: MediaPacket | null;
    try {
      p = kind === "video" ? flvVideoToPacket(body, ts) : kind === "audio" ? flvAudioToPacket(body, ts) : flvScriptToPacket(body, ts);
    } catch (e) {
      if (this.badTags++ % 100 === 0) this.log.warn(`edge pull ${this.name}: bad ${kind} tag dropped: ${(e as Error).message}`);
      return false;
    }
    if (!p) return false;
    this.tags++;
    if (p.kind !== "data" && !p.config) {
      if (this.rebase) {
        // The first frame of a new upstream continues the timeline one nominal frame after the last one.
        this.offset = this.lastDts + 10 - p.dts;
        this.rebase = false;
      }
      p.dts += this.offset;
      p.pts += this.offset;
      this.lastDts = p.dts;
    } else if (p.kind !== "data") {
      const at = Math.max(0, this.lastDts);
      p.pts = at + (p.pts - p.dts);
      p.dts = at;
    }
    if (!this.lease) {
      try {
        this.lease = this.ports.hubs.publish(this.key, {
          clientId: this.id,
          type: this.type,
          ip: this.origin,
          kick: (r) => void this.stop(r),
        });
      } catch (e) {
        if (!(e instanceof PublishError)) throw e;
        this.log.warn(`edge pull ${this.name}: ${e.message}; stop pulling`);
        void this.stop("stream published locally");
        return false;
      }
    }
    this.lease.push(p);
    return true;
  }
}
