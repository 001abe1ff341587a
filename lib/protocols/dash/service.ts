/**
 * MPEG-DASH on disk, as SRS configures it (vhost `dash {}`): one DashStream per published stream on a vhost with
 * DASH enabled, started from HubRegistry.listen. Layout as SRS: the MPD at dash_path/dash_mpd_file
 * ([app]/[stream].mpd), the segments next to it in a folder named for the stream:
 * `[stream]/video-init.mp4`, `[stream]/video-<n>.m4s`, `[stream]/audio-init.mp4`, `[stream]/audio-<n>.m4s`.
 *
 * Segmenting: video and audio are separate fMP4 representations, each with its own FragmentedMp4Muxer
 * (lib/formats/mp4, the muxer fMP4 HLS uses) with its own cutting off. A segment starts at a video keyframe
 * (audio-only: any frame) and ends at the first keyframe once it lasts >= dash_fragment (or at any video frame
 * once it lasts 2 x dash_fragment: a huge GOP still gets segments; at any packet after 4 x dash_fragment: video
 * that stopped coming does not grow the open segment forever); both muxers cut there (cutBefore), so video
 * segment n and audio segment n cover the same span of the stream (each track keeps its own numbers, since a
 * track can be absent from a publish).
 *
 * Timeline (what DASH-IF IOP 4.3 live timing needs): presentation time 0 is availabilityStartTime, fixed when
 * the stream state is created (first publish); at each publish the stream's timestamps are shifted so that its
 * first packet sits at "now - availabilityStartTime" (never before the previous publish's end), so a segment is
 * available (AST + its end) about when it is written. Within a publish the timeline has no gaps (each segment
 * starts where the previous one ended, exactly, in track ticks); a republish continues the numbers and the
 * timeline resumes at the wall-clock time of the republish (the outage is a gap in time, as on the wire).
 *
 * Files: each segment is written to `<file>.tmp` and renamed, then listed; the MPD (kept in memory, served
 * from there by http.ts with the server's clock in UTCTiming, and written to disk tmp+rename for other web
 * servers) lists the last dash_window_size segments of each track. dash_cleanup removes a segment once it has
 * been out of the MPD for another window (players that loaded an older MPD may still ask for it); dash_dispose
 * removes every file dash_dispose seconds after the unpublish (0: never).
 *
 * File IO never blocks the live stream: onPacket only muxes and queues; writes run on a per-stream promise
 * chain, bounded (a segment is dropped with a log line when too much is queued). Errors are logged and the
 * next segment tried again (SRS has no dash_on_error).
 *
 * Reload: fragment, window, update period, timeshift, cleanup and dispose apply at the next segment; a changed
 * dash_path or dash_mpd_file starts a new presentation there at the next keyframe.
 */
import { mkdir, open, rename } from "node:fs/promises";
import { dirname, join, posix, sep } from "node:path";
import type { DashConfig } from "../../config/config.ts";
import { expandTemplate } from "../../formats/path-template.ts";
import { type FragmentInfo, FragmentedMp4Muxer, mp4CodecString, type Mp4Track } from "../../formats/mp4/index.ts";
import type { Lease } from "../../hub/lease.ts";
import type { HubSubscriber, StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { replaceFile } from "../../outputs/replace-file.ts";
import { removeFiles, StreamFiles } from "../../outputs/stream-files.ts";
import { startStreamOutput, StreamOutputService, type StreamOutputPorts } from "../../outputs/stream-output-service.ts";
import { type MpdSegment, type MpdTrack, renderMpd } from "./mpd.ts";

/** Bytes a stream may have queued for the disk before a segment is dropped. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

interface ListedSegment extends MpdSegment {
  bytes: number;
  /** Path as configured (dash_path joined). */
  file: string;
}

/** One representation (video or audio): its muxer for the current publish and its segment list. */
class DashTrack {
  muxer: FragmentedMp4Muxer | undefined;
  track: Mp4Track | undefined;
  codecs = "";
  private out: Uint8Array[] = [];
  private info: FragmentInfo | undefined;
  nextNumber = 1;
  /** End of the last segment, ms on the presentation timeline (the next publish must not start before it). */
  endMs = 0;
  listed: ListedSegment[] = [];
  retired: ListedSegment[] = [];
  /** Init segment path relative to dash_path, once written. */
  initRel = "";

  constructor(readonly id: "video" | "audio") {}

  /** A muxer for a new publish; `onInit` gets the init segment. */
  begin(onInit: (bytes: Uint8Array, track: Mp4Track) => void, warn: (m: string) => void): void {
    this.out = [];
    this.info = undefined;
    this.muxer = new FragmentedMp4Muxer({
      init: (bytes, tracks) => {
        // Another timescale (audio sample rate) than the listed segments': those leave the MPD.
        if (this.track && tracks[0] && this.track.timescale !== tracks[0].timescale) this.retired.push(...this.listed.splice(0));
        this.track = tracks[0];
        if (this.track) {
          this.codecs = mp4CodecString(this.track);
          onInit(bytes, this.track);
        }
      },
      fragment: (parts, info) => {
        for (const b of parts) this.out.push(b);
        this.info = info;
      },
      warn,
    }, { fragmentMs: Infinity, maxFragmentMs: Infinity, trackWaitMs: 0 });
  }

  /** The fragment cut since the last call: bytes, start and duration in ticks. */
  take(): { bytes: Uint8Array[]; size: number; t: number; d: number } | undefined {
    const info = this.info;
    const ts = this.track?.timescale;
    if (!info || !ts || this.out.length === 0) return undefined;
    const bytes = this.out;
    this.out = [];
    this.info = undefined;
    const t = Math.round((info.startMs * ts) / 1000);
    const d = Math.max(1, Math.round((info.durationMs * ts) / 1000));
    return { bytes, size: bytes.reduce((n, b) => n + b.length, 0), t, d };
  }

  /** Estimated bits per second over the listed segments. */
  bandwidth(): number {
    const ts = this.track?.timescale ?? 1;
    let bytes = 0;
    let ticks = 0;
    for (const s of this.listed) {
      bytes += s.bytes;
      ticks += s.d;
    }
    return ticks > 0 ? (bytes * 8 * ts) / ticks : 0;
  }
}

/** One stream's DASH state; survives unpublish until dash_dispose so a republish continues the presentation. */
export class DashStream implements HubSubscriber {
  private cfg: DashConfig;
  private switchTo: DashConfig | undefined;
  readonly video = new DashTrack("video");
  readonly audio = new DashTrack("audio");
  /** availabilityStartTime, ms since the epoch. */
  readonly ast: number;
  publishTime = new Date();
  /** ms added to the hub's timestamps in this publish (undefined until its first media packet). */
  private offset: number | undefined;
  private hasVideo = false;
  /** Start (hub ms) of the open segment, undefined when none is open. */
  private segStart: number | undefined;
  private lastDts = 0;
  /** File operations in order, and the dispose timer. */
  private disk = new StreamFiles();
  private pending = 0;
  private subscription: Lease | undefined;
  private lastError = "";
  /** MPD path relative to dash_path, e.g. live/livestream.mpd, and the segment folder relative to the MPD. */
  mpdRel = "";
  private homeRel = "";
  publishing = false;
  disposed = false;
  /** Statistics. */
  segments = 0;
  errors = 0;

  constructor(
    public hub: StreamHub,
    cfg: DashConfig,
    private log: Log,
    private forget: (s: DashStream) => void,
    now = Date.now(),
  ) {
    this.cfg = cfg;
    this.ast = now;
    this.paths(cfg);
  }

  get config(): DashConfig {
    return this.cfg;
  }

  /** The MPD file as configured (dash_path joined). */
  get mpdFile(): string {
    return join(this.cfg.path, this.mpdRel);
  }

  private paths(cfg: DashConfig): void {
    const k = this.hub.key;
    this.mpdRel = toPosix(expandTemplate(cfg.mpdFile, { vhost: k.vhost, app: k.app, stream: k.stream, time: new Date() })).replace(/^\/+/, "");
    this.homeRel = k.stream;
  }

  /** Same files (a reload that changes them starts a new presentation). */
  sameFiles(cfg: DashConfig): boolean {
    return cfg.path === this.cfg.path && cfg.mpdFile === this.cfg.mpdFile;
  }

  start(cfg: DashConfig): void {
    this.disk.cancelDispose();
    this.cfg = cfg;
    this.switchTo = undefined;
    this.publishing = true;
    this.beginPublish();
    this.subscription?.dispose();
    this.subscription = this.hub.subscribe(this, true);
    this.log.trace(`dash: ${this.hub.name} start, mpd=${this.mpdFile}, fragment=${cfg.fragment}s window=${cfg.windowSize}, ` +
      `video #${this.video.nextNumber} audio #${this.audio.nextNumber}`);
  }

  private beginPublish(): void {
    this.offset = undefined;
    this.hasVideo = false;
    this.segStart = undefined;
    const warn = (m: string) => this.log.warn(`dash: ${this.hub.name} ${m}`);
    for (const tr of [this.video, this.audio]) {
      tr.begin((bytes) => this.onInit(tr, bytes), warn);
    }
  }

  /** Reload: settings apply at the next segment (at the next keyframe). */
  reload(cfg: DashConfig): void {
    if (this.publishing) this.switchTo = cfg;
    else this.cfg = cfg;
  }

  onPacket(p: MediaPacket): void {
    if (p.kind === "data" || !this.publishing) return;
    try {
      this.push(p);
    } catch (e) {
      this.fail(`mux ${p.kind} ${p.codec} packet`, e);
    }
  }

  private push(p: MediaPacket): void {
    const tr = p.kind === "video" ? this.video : this.audio;
    if (p.kind === "video") this.hasVideo = true;
    if (p.config) {
      tr.muxer?.push(p);
      return;
    }
    const isKey = p.kind === "video" && p.keyframe;
    if (this.offset === undefined) {
      if (this.hasVideo && !isKey) return;
      // The wall-clock position of this publish on the presentation timeline (never before the last end).
      const prevEnd = Math.max(this.video.endMs, this.audio.endMs);
      this.offset = Math.max(Date.now() - this.ast, Math.ceil(prevEnd)) - p.dts;
      this.lastDts = p.dts;
    }
    if (this.segStart === undefined) {
      if (this.hasVideo && !isKey) return; // start on a keyframe
      this.segStart = p.dts;
    } else {
      const dur = (p.dts - this.segStart) / 1000;
      const f = this.cfg.fragment;
      const cut = dur < -1 ||
        (this.hasVideo ? (p.kind === "video" && ((isKey && dur >= f) || dur >= 2 * f)) : dur >= f) ||
        dur >= 4 * f || // video stopped coming (audio only for a while): memory stays bounded
        (this.switchTo !== undefined && (this.hasVideo ? isKey : true));
      if (cut) {
        // Timestamps went back (a reset): the timeline goes on one frame after the newest packet.
        if (dur < -1) this.offset = this.lastDts + 40 + this.offset - p.dts;
        this.cut(p.dts + this.offset);
        this.segStart = p.dts;
        this.lastDts = p.dts;
        if (this.switchTo) this.applySwitch();
      }
    }
    if (p.dts > this.lastDts) this.lastDts = p.dts;
    const shifted = this.offset === 0 ? p : { ...p, dts: p.dts + this.offset, pts: p.pts + this.offset };
    tr.muxer?.push(shifted);
  }

  private applySwitch(): void {
    const cfg = this.switchTo!;
    this.switchTo = undefined;
    this.cfg = cfg;
    this.log.trace(`dash: ${this.hub.name} reloaded: fragment=${cfg.fragment}s window=${cfg.windowSize}`);
  }

  /** Ends the open segment of both tracks before `nextMs` (shifted ms), or at the end of the stream. */
  private cut(nextMs: number | undefined): void {
    const done: { tr: DashTrack; seg: ReturnType<DashTrack["take"]> & object }[] = [];
    for (const tr of [this.video, this.audio]) {
      if (!tr.muxer) continue;
      if (nextMs === undefined) tr.muxer.end();
      else tr.muxer.cutBefore(nextMs);
      const seg = tr.take();
      if (seg) done.push({ tr, seg });
    }
    if (done.length === 0) return;
    const cfg = this.cfg;
    const items = done.map(({ tr, seg }) => {
      const number = tr.nextNumber++;
      tr.endMs = ((seg.t + seg.d) * 1000) / tr.track!.timescale;
      const rel = posix.join(posix.dirname(this.mpdRel), this.homeRel, `${tr.id}-${number}.m4s`);
      return { tr, seg, entry: { number, t: seg.t, d: seg.d, bytes: seg.size, file: join(cfg.path, rel) } as ListedSegment };
    });
    const size = items.reduce((n, x) => n + x.seg.size, 0);
    if (this.pending + size > MAX_PENDING_BYTES) {
      this.fail("write segment", new Error(`disk too slow: ${this.pending} bytes queued, segment dropped`));
      return;
    }
    this.pending += size;
    this.disk.enqueue(async () => {
      this.pending -= size;
      const written: typeof items = [];
      for (const x of items) {
        try {
          await mkdir(dirname(x.entry.file), { recursive: true });
          const h = await open(x.entry.file + ".tmp", "w");
          try {
            await h.writev(x.seg.bytes);
          } finally {
            await h.close();
          }
          await rename(x.entry.file + ".tmp", x.entry.file);
          written.push(x);
        } catch (e) {
          this.fail(`write segment ${x.entry.file}`, e);
        }
      }
      if (this.disposed) return;
      const gone: string[] = [];
      for (const { tr, entry } of written) {
        tr.listed.push(entry);
        while (tr.listed.length > Math.max(1, cfg.windowSize)) tr.retired.push(tr.listed.shift()!);
        while (tr.retired.length > Math.max(1, cfg.windowSize)) {
          const old = tr.retired.shift()!;
          if (cfg.cleanup) gone.push(old.file);
        }
      }
      this.segments++;
      this.publishTime = new Date();
      await this.writeMpd();
      await removeFiles(gone);
      for (const { tr, entry, seg } of written) {
        this.log.info(`dash: ${this.hub.name} ${tr.id} segment ${entry.number} ${(seg.d / (tr.track?.timescale ?? 1)).toFixed(3)}s ${seg.size}B`);
      }
    });
  }

  private onInit(tr: DashTrack, bytes: Uint8Array): void {
    const rel = posix.join(posix.dirname(this.mpdRel), this.homeRel, `${tr.id}-init.mp4`);
    tr.initRel = rel;
    const file = join(this.cfg.path, rel);
    this.disk.enqueue(async () => {
      try {
        await replaceFile(file, bytes);
      } catch (e) {
        this.fail(`write init segment ${file}`, e);
      }
    });
  }

  /** The MPD as players get it (`now`: the server's clock for UTCTiming), undefined before the first segment. */
  mpd(now?: Date): string | undefined {
    const cfg = this.cfg;
    const tracks: MpdTrack[] = [];
    let maxSeg = 0;
    let listedSeconds = Infinity;
    // A track the current publish lacks is left out once the other one has moved on (its last segment ended
    // more than two fragments before the other's).
    const newest = Math.max(this.video.endMs, this.audio.endMs);
    for (const tr of [this.video, this.audio]) {
      const t = tr.track;
      if (!tr.listed.length || !tr.initRel || tr.endMs < newest - 2000 * Math.max(cfg.fragment, 1)) continue;
      const ts = t?.timescale ?? 1000;
      const base = posix.dirname(this.mpdRel);
      const rel = (p: string) => (base === "." ? p : posix.relative(base, p));
      let total = 0;
      for (const s of tr.listed) {
        maxSeg = Math.max(maxSeg, s.d / ts);
        total += s.d / ts;
      }
      listedSeconds = Math.min(listedSeconds, total);
      tracks.push({
        id: tr.id, codecs: tr.codecs, timescale: ts, bandwidth: tr.bandwidth(),
        width: t?.width, height: t?.height, sampleRate: t?.sampleRate, channels: t?.channels,
        initialization: rel(tr.initRel), media: rel(tr.initRel).replace(/-init\.mp4$/, "-$Number$.m4s"),
        segments: tr.listed,
      });
    }
    if (!tracks.length) return undefined;
    const f = Math.max(maxSeg, 0.5);
    return renderMpd({
      availabilityStartTime: new Date(this.ast),
      publishTime: this.publishTime,
      minimumUpdatePeriod: Math.min(cfg.updatePeriod, cfg.fragment),
      timeShiftBufferDepth: Math.max(f, Math.min(cfg.timeshift > 0 ? cfg.timeshift : Infinity, listedSeconds)),
      minBufferTime: Math.min(2 * f, 10),
      suggestedPresentationDelay: Math.min(2 * f, Math.max(f, listedSeconds - f)),
      maxSegmentDuration: Math.ceil(maxSeg),
      tracks,
      now,
    });
  }

  private async writeMpd(): Promise<void> {
    const text = this.mpd();
    if (!text) return;
    const file = this.mpdFile;
    try {
      await replaceFile(file, text);
    } catch (e) {
      this.fail(`write mpd ${file}`, e);
    }
  }

  onUnpublish(): void {
    this.stop();
  }

  /** The publisher left: the last segments are written, files kept until dash_dispose. */
  stop(): void {
    if (!this.publishing) return;
    this.publishing = false;
    this.subscription?.dispose();
    this.subscription = undefined;
    if (this.switchTo) this.applySwitch();
    if (this.segStart !== undefined) {
      try {
        this.cut(undefined);
      } catch (e) {
        this.fail("finish segment", e);
      }
    }
    for (const tr of [this.video, this.audio]) tr.muxer = undefined;
    this.segStart = undefined;
    this.log.trace(`dash: ${this.hub.name} unpublish, ${this.segments} segments, dispose in ${this.cfg.dispose}s`);
    this.disk.disposeIn(this.cfg.dispose, () => void this.dispose());
  }

  /** Deletes every file of the stream (dash_dispose) and forgets it. */
  async dispose(): Promise<void> {
    if (this.publishing) return;
    this.disk.cancelDispose();
    this.disposed = true;
    this.forget(this);
    await this.disk.flushed();
    const files = [this.mpdFile];
    for (const tr of [this.video, this.audio]) {
      for (const s of [...tr.listed, ...tr.retired]) files.push(s.file);
      if (tr.initRel) files.push(join(this.cfg.path, tr.initRel));
      tr.listed = [];
      tr.retired = [];
    }
    await removeFiles(files);
    this.log.trace(`dash: ${this.hub.name} disposed, removed ${files.length} files`);
  }

  /** Waits for queued file operations (tests, shutdown). */
  flushed(): Promise<void> {
    return this.disk.flushed();
  }

  private fail(what: string, e: unknown): void {
    this.errors++;
    const msg = e instanceof Error ? e.message : String(e);
    const line = `dash: ${this.hub.name} ${what} failed: ${msg}`;
    if (line !== this.lastError) this.log.error(line);
    this.lastError = line;
  }
}

/** What DASH needs of the server (lib/server.ts, the composition root, satisfies it). */
export type DashPorts = StreamOutputPorts;

/** All DASH streams of a server; a reload to another dash_path/dash_mpd_file starts a new presentation there. */
export class DashService extends StreamOutputService<DashConfig, DashStream> {
  protected settings(vhost: string): DashConfig | undefined {
    return this.ctx.config.vhost(vhost)?.dash;
  }

  protected create(hub: StreamHub, cfg: DashConfig, forget: (s: DashStream) => void): DashStream {
    return new DashStream(hub, cfg, this.ctx.log, forget);
  }

  protected override sameFiles(s: DashStream, cfg: DashConfig): boolean {
    return s.sameFiles(cfg);
  }
}

/** Starts DASH for a server (the composition root keeps the service). */
export function startDash(ctx: DashPorts): DashService {
  return startStreamOutput("dash", new DashService(ctx), ctx);
}
