/**
 * DVR as SRS (`vhost { dvr { enabled; dvr_apply; dvr_path; dvr_plan; dvr_duration; dvr_wait_keyframe;
 * time_jitter } }`): records published streams to FLV or MP4 files (by dvr_path suffix).
 *
 *  - `dvr_plan session`: one file per publish, closed at unpublish.
 *  - `dvr_plan segment`: a new file once the current one holds `dvr_duration` seconds; with
 *    `dvr_wait_keyframe on` the cut waits for the next video keyframe (audio-only streams cut on any packet).
 *  - `dvr_apply all` or a list of `app/stream`.
 *  - `time_jitter full|zero`: every file starts at timestamp 0; `off`: the stream's own timestamps.
 *  - Files are written as `<file>.tmp` and renamed when complete; `on_dvr` is POSTed after the rename.
 *  - Video before the first keyframe of a file is skipped when dvr_wait_keyframe is on (as SRS).
 *
 * The live stream never waits for the disk: onPacket only encodes and queues (see file.ts for the bounded
 * queue). A failure (unwritable dvr_path, disk full, too slow) is logged once with the reason, the file is
 * dropped, and recording starts again with the next segment (segment plan) or the next publish (session plan).
 *
 * Not done: SRS 2's DVR HTTP API (/api/v1/dvrs) and raw-API DVR controls — SRS 4+ removed them (its raw API
 * keeps only `rpc=reload`); `dvr_plan append` (removed in SRS 3).
 */
import type { ClientInfo } from "../../clients.ts";
import type { DvrConfig } from "../../config/config.ts";
import type { Lease } from "../../hub/lease.ts";
import { type HubSubscriber, isWorkerCopy, type StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import { flvPlayersDecode } from "../../media/flv-codec.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { FAST_QUIT_BUDGET_MS } from "../../lifecycle.ts";
import type { ServerView } from "../server-view.ts";
import { dvrPayload, notifyHooks } from "../hooks/index.ts";
import { type DvrEncoder, FlvDvrEncoder, Mp4DvrEncoder } from "./encoders.ts";
import { DvrFile } from "./file.ts";
import { dvrApplies, dvrFilePath, dvrFormat } from "./path.ts";

/** What DVR needs of the server: the vhost's dvr/hooks, publish events, the publisher, ids, log. */
export type DvrPorts = Pick<ServerView, "config" | "hubs" | "clients" | "log" | "serverId" | "serviceId" | "lifecycle">;

/** A finished DVR file (what on_dvr reports, for other listeners too). */
export interface DvrFileEvent {
  hub: StreamHub;
  client: ClientInfo | undefined;
  file: string;
  durationMs: number;
  bytes: number;
}

interface Segment {
  file: DvrFile;
  encoder: DvrEncoder;
  /** Hub timestamp that becomes 0 in the file (time_jitter full/zero). */
  base: number;
  /** Hub dts of the first frame, for the segment duration. */
  firstDts: number;
  sawKeyframe: boolean;
}

export class DvrStream implements HubSubscriber {
  /** This subscriber's place on the hub (hub.subscribe), given back when it stops. */
  private subscription: Lease | undefined;
  private seg: Segment | undefined;
  private metadata: MediaPacket | undefined;
  private videoConfig: MediaPacket | undefined;
  private audioConfig: MediaPacket | undefined;
  private stopped = false;
  /** Session plan after a failure: wait for the next publish. */
  private givenUp = false;
  private lastError = "";
  private closing: Promise<void>[] = [];
  files = 0;
  errors = 0;

  constructor(
    readonly hub: StreamHub,
    private cfg: DvrConfig,
    private log: Log,
    private client: ClientInfo | undefined,
    private emit: (e: DvrFileEvent) => void,
  ) {}

  start(): void {
    this.log.trace(`dvr: ${this.hub.name} start, plan=${this.cfg.plan} path=${this.cfg.path}` +
      (this.cfg.plan === "segment" ? ` duration=${this.cfg.duration}s wait_keyframe=${this.cfg.waitKeyframe}` : ""));
    this.subscription?.dispose();
    this.subscription = this.hub.subscribe(this, true);
  }

  onPacket(p: MediaPacket): void {
    if (this.stopped) return;
    // One audio rendition per file, the one FLV/MP4 players decode: Opus (a WebRTC publisher's, or the audio
    // bridge's for WebRTC viewers) is left out; an Opus publisher's audio arrives as the bridge's AAC.
    if (!flvPlayersDecode(p)) return;
    if (p.kind === "data") {
      this.metadata = p;
      return;
    }
    if (p.config) {
      if (p.kind === "video") this.videoConfig = p;
      else this.audioConfig = p;
      if (this.seg) this.write(this.seg, p);
      return;
    }
    let seg = this.seg;
    if (seg && this.cfg.plan === "segment" && seg.firstDts >= 0 && this.shouldReap(seg, p)) {
      this.closeSegment();
      seg = undefined;
    }
    if (!seg) {
      if (this.givenUp) return;
      seg = this.openSegment(p);
      if (!seg) return;
    }
    if (seg.firstDts < 0) {
      seg.firstDts = p.dts;
      if (this.cfg.timeJitter !== "off") seg.base = p.dts;
    }
    if (seg.file.failed) return;
    if (p.kind === "video") {
      if (p.keyframe) seg.sawKeyframe = true;
      else if (!seg.sawKeyframe && this.cfg.waitKeyframe) return;
    }
    this.write(seg, p);
  }

  private shouldReap(seg: Segment, p: MediaPacket): boolean {
    if (p.dts - seg.firstDts < this.cfg.duration * 1000) return false;
    if (!this.cfg.waitKeyframe || !this.videoConfig) return true;
    return p.kind === "video" && p.keyframe;
  }

  private write(seg: Segment, p: MediaPacket): void {
    if (seg.file.failed) return;
    const dts = Math.max(0, p.dts - seg.base);
    const q: MediaPacket = p.config ? { ...p, dts: 0, pts: 0 } : { ...p, dts, pts: Math.max(dts, p.pts - seg.base) };
    try {
      seg.encoder.push(q);
    } catch (e) {
      this.fail(seg.file.path, `mux ${p.kind} ${p.codec}`, e);
    }
  }

  private openSegment(first: MediaPacket): Segment | undefined {
    const path = dvrFilePath(this.cfg.path, this.hub.key, new Date());
    const file = new DvrFile(path, (what, e) => this.onFileError(path, what, e));
    const format = dvrFormat(path);
    let encoder: DvrEncoder;
    try {
      encoder = format === "mp4"
        ? new Mp4DvrEncoder(file, (m) => this.log.warn(`dvr: ${this.hub.name} ${path}: ${m}`))
        : new FlvDvrEncoder(file, {
          hasAudio: this.audioConfig !== undefined || first.kind === "audio" || !this.videoConfig,
          hasVideo: this.videoConfig !== undefined || first.kind === "video" || !this.audioConfig,
          metadata: this.metadata,
        });
    } catch (e) {
      this.fail(path, "open", e);
      return undefined;
    }
    const seg: Segment = { file, encoder, base: 0, firstDts: -1, sawKeyframe: false };
    this.seg = seg;
    this.log.trace(`dvr: ${this.hub.name} recording ${format} to ${path}`);
    for (const c of [this.videoConfig, this.audioConfig]) if (c) this.write(seg, c);
    return seg;
  }

  private closeSegment(): void {
    const seg = this.seg;
    this.seg = undefined;
    if (!seg) return;
    const job = this.finish(seg);
    this.closing.push(job);
    void job.then(() => {
      this.closing = this.closing.filter((j) => j !== job);
    });
  }

  private async finish(seg: Segment): Promise<void> {
    const path = seg.file.path;
    try {
      seg.encoder.end();
    } catch (e) {
      this.fail(path, "finish mux", e);
    }
    const empty = seg.encoder.frames === 0 || (seg.encoder instanceof Mp4DvrEncoder && !seg.encoder.hasMedia);
    if (empty || seg.file.failed) {
      await seg.file.discard();
      if (empty && !seg.file.failed) this.log.warn(`dvr: ${this.hub.name} ${path}: no media recorded, file dropped`);
      return;
    }
    const ok = await seg.file.close((h, size) => seg.encoder.finalize(h, size));
    if (!ok) return;
    this.files++;
    this.lastError = "";
    const durationMs = seg.encoder.durationMs;
    this.log.trace(`dvr: ${this.hub.name} file ${path} done, ${(durationMs / 1000).toFixed(3)}s ${seg.file.size}B`);
    try {
      this.emit({ hub: this.hub, client: this.client, file: path, durationMs, bytes: seg.file.size });
    } catch (e) {
      this.log.error(`dvr: ${this.hub.name} on_dvr listener failed`, e);
    }
  }

  private onFileError(path: string, what: string, e: unknown): void {
    this.errors++;
    const msg = e instanceof Error ? e.message : String(e);
    const next = this.cfg.plan === "segment" ? "the next segment" : "the next publish";
    const line = `dvr: ${this.hub.name} cannot record ${path}: ${what}: ${msg}; recording resumes with ${next}, ` +
      `the live stream is not affected`;
    // One line per distinct failure (an unwritable dvr_path would otherwise log every segment).
    if (line.replace(path, "") !== this.lastError) this.log.error(line);
    this.lastError = line.replace(path, "");
    if (this.cfg.plan === "session" && this.seg?.file.path === path) this.givenUp = true;
  }

  private fail(path: string, what: string, e: unknown): void {
    this.onFileError(path, what, e);
    if (this.seg?.file.path === path) {
      const seg = this.seg;
      this.seg = undefined;
      if (this.cfg.plan === "session") this.givenUp = true;
      void seg.file.discard();
    }
  }

  /** The publisher left: close the file (on_dvr follows once it is renamed). */
  onUnpublish(): void {
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.subscription?.dispose();
    this.subscription = undefined;
    this.closeSegment();
  }

  /** Resolves when every file closed so far is finished (tests, shutdown). */
  async flushed(): Promise<void> {
    while (this.closing.length) await Promise.all(this.closing);
  }
}

export class DvrService {
  private streams = new Map<string, DvrStream>();
  /** Every recorder that may still be finishing a file (for shutdown). */
  private recent = new Set<DvrStream>();
  private listeners: ((e: DvrFileEvent) => void)[] = [];

  constructor(private ctx: DvrPorts) {}

  /** Registers a listener of finished files; returns its remover. */
  onFile(l: (e: DvrFileEvent) => void): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  stream(name: string): DvrStream | undefined {
    return this.streams.get(name);
  }

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => {
        const s = this.streams.get(hub.name);
        if (s?.hub === hub) this.streams.delete(hub.name);
        s?.stop();
      },
    });
  }

  /**
   * Reload of the stream's vhost `dvr` (SRS: SrsOriginHub::on_reload_vhost_dvr): the file being written is
   * finalized, and a new one starts with the new plan/path when DVR still applies to the stream.
   */
  reload(hub: StreamHub): "restarted" | "started" | "stopped" | "none" {
    if (!hub.active) return "none";
    const s = this.streams.get(hub.name);
    const running = s?.hub === hub ? s : undefined;
    if (running) {
      this.streams.delete(hub.name);
      running.stop();
    }
    this.onPublish(hub);
    const now = this.streams.get(hub.name);
    return now ? (running ? "restarted" : "started") : running ? "stopped" : "none";
  }

  private onPublish(hub: StreamHub): void {
    if (isWorkerCopy(hub)) return; // the owner worker runs it
    const cfg = this.ctx.config.vhost(hub.key.vhost)?.dvr;
    if (!cfg?.enabled || !dvrApplies(cfg.apply, hub.key)) return;
    this.streams.get(hub.name)?.stop();
    const client = hub.publisher ? this.ctx.clients.get(hub.publisher.clientId) : undefined;
    const s = new DvrStream(hub, cfg, this.ctx.log, client, (e) => this.onFileDone(e));
    this.streams.set(hub.name, s);
    this.recent.add(s);
    s.start();
  }

  /** Shutdown: waits (at most `ms`) until every file being closed is finalized and renamed. */
  async drain(ms: number): Promise<void> {
    const all = [...this.recent];
    this.recent.clear();
    for (const s of all) s.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
    await Promise.race([Promise.all(all.map((s) => s.flushed())), timeout]);
    clearTimeout(timer);
  }

  private onFileDone(e: DvrFileEvent): void {
    for (const l of this.listeners) l(e);
    const hooks = this.ctx.config.vhost(e.hub.key.vhost)?.httpHooks;
    if (!hooks?.enabled || hooks.onDvr.length === 0) return;
    if (!e.client) {
      this.ctx.log.warn(`dvr: ${e.hub.name} ${e.file}: publisher unknown, on_dvr not sent`);
      return;
    }
    // The hooks' own payload builder, with the recorded stream's id: by the time a session file is renamed the
    // publisher has left and the registry may have forgotten the hub (SRS still reports its stream_id).
    const payload = dvrPayload(this.ctx, { client: e.client, key: e.hub.key, file: e.file }, e.hub.id);
    void this.ctx.lifecycle.track(notifyHooks(this.ctx.log, "on_dvr", hooks.onDvr, payload));
  }
}

/** Starts DVR for a server (the composition root keeps the service). */
export function startDvr(ctx: DvrPorts): DvrService {
  const s = new DvrService(ctx);
  s.start();
  // Quit: the files the ended sessions were recording are finalized (index, duration) and renamed.
  ctx.lifecycle.register({ name: "dvr", phase: "finish", close: () => s.drain(FAST_QUIT_BUDGET_MS) });
  return s;
}
