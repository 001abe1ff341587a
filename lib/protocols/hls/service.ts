/**
 * HLS on disk, as SRS configures it (vhost `hls {}`): one HlsStream per published stream on a vhost with HLS
 * enabled, started from HubRegistry.listen. Segments are written as `<file>.ts.tmp` then renamed; the m3u8 is
 * written to `<m3u8>.tmp` then renamed (readers never see a partial file).
 *
 * File IO never blocks the live stream: the hub calls onPacket synchronously, which only muxes (a few µs) and
 * queues bytes; writes run on a per-stream promise chain. When the disk is slow the queue is bounded (the
 * segment is dropped with a log line), and on errors (disk full, unwritable hls_path) `hls_on_error` decides:
 * `continue` logs and tries again with the next segment (RTMP/FLV players are unaffected), `ignore` stops HLS
 * for this publish, `disconnect` kicks the publisher.
 *
 * Hooks (on_hls) attach with the service's `onSegment(listener)` (lib/server.ts wires them): called after each segment is on disk and
 * listed in the m3u8.
 *
 * fMP4 (`hls_use_fmp4 on`, as SRS 6 names it): Fmp4Container segments named by hls_fmp4_file, the init segment
 * written to hls_init_file (tmp+rename) when the tracks are known, EXT-X-MAP/version 7 in the m3u8.
 * Low-Latency HLS (`hls_ll on`, ours; implies fMP4): the segmenter also cuts parts every hls_ll_part seconds;
 * an LlHls (ll.ts) keeps them in memory with the LL playlist that the HTTP handler serves (blocking reloads,
 * preload hints). Full segments and a plain fMP4 m3u8 still go to disk as without LL.
 *
 * AES-128 (`hls_keys on`, keys.ts): a new random key every hls_fragments_per_key segments (and at each publish
 * or reload), written to hls_key_file_path/hls_key_file before the segment that first uses it; each segment file is
 * encrypted whole (AES-128-CBC, PKCS7) as it is written, and the m3u8 names the key with EXT-X-KEY. Works for TS
 * and fMP4 (the init segment stays clear). Not with LL-HLS (`hls_ll on`): its parts are served from memory in
 * clear, so hls_keys is ignored there with a warning. hls_cleanup removes a key file once no listed segment uses
 * it; hls_dispose removes them all.
 *
 * Not done: hls_nb_notify/on_hls_notify (the hooks engineer), hls_recover,
 * hls_dts_directly (timestamps are always the hub's corrected ones).
 */
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import type { HlsConfig } from "../../config/config.ts";
import type { HubSubscriber, StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import type { MediaPacket, StreamKey } from "../../media/packet.ts";
import type { Lease } from "../../hub/lease.ts";
import { replaceFile } from "../../outputs/replace-file.ts";
import { removeFiles, StreamFiles } from "../../outputs/stream-files.ts";
import { startStreamOutput, StreamOutputService, type StreamOutputPorts } from "../../outputs/stream-output-service.ts";
import { Fmp4Container } from "./fmp4.ts";
import { LlHls } from "./ll.ts";
import { expandTemplate, type PlaylistEntry, renderPlaylist, shrinkWindow, targetDuration } from "./playlist.ts";
import { type HlsKey, keyUri, newKeyBytes, SegmentCipher, startsNewKey } from "./keys.ts";
import { HlsSegmenter, type PartInfo, type SegmentContainer, type SegmentEnd, type SegmentStart, TsContainer } from "./segmenter.ts";

/** What on_hls needs (SRS's callback fields, plus the stream). */
export interface HlsSegmentEvent {
  key: StreamKey;
  /** The hub's stream id (SRS stream_id) and the publisher's client id. */
  streamId: string;
  clientId: string;
  /** The segment file as configured (hls_path joined with the ts path), e.g. ./objs/nginx/html/live/s-3.ts. */
  file: string;
  /** The ts path relative to hls_path, e.g. live/s-3.ts. */
  url: string;
  m3u8: string;
  m3u8Url: string;
  /** Seconds. */
  duration: number;
  seqNo: number;
  discontinuity: boolean;
}

export type HlsSegmentListener = (e: HlsSegmentEvent) => void;

/** Bytes a stream may have queued for the disk before its current segment is dropped. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Bytes collected before one write() call. */
const WRITE_BATCH = 256 * 1024;

interface SegmentFile {
  start: SegmentStart;
  /** Path relative to hls_path, decided when the segment opens ([duration] is filled when it closes). */
  rel: string;
  tmp: string;
  handle: Promise<FileHandle | undefined>;
  chunks: Uint8Array[];
  chunked: number;
  failed: boolean;
  /** hls_keys: the key the segment is encrypted with, and its running cipher. */
  key?: HlsKey;
  cipher?: SegmentCipher;
}

function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

/** One stream's HLS state; survives unpublish until hls_dispose so a republish continues the playlist. */
export class HlsStream implements HubSubscriber {
  private cfg: HlsConfig;
  private segmenter: HlsSegmenter | undefined;
  private entries: PlaylistEntry[] = [];
  private nextSeq = 0;
  private seg: SegmentFile | undefined;
  /** File operations in order, and the dispose timer. */
  private disk = new StreamFiles();
  private pending = 0;
  private disabled = false;
  /** Settings a reload switches to at the next keyframe. */
  private switchTo: HlsConfig | undefined;
  private m3u8Rel = "";
  private lastError = "";
  private lastVideoDts = -1;
  private frameMs = 40;
  /** fMP4 segments (hls_use_fmp4 or hls_ll) for the current publish. */
  private fmp4 = false;
  /** The init segment: bytes, path relative to hls_path, URI in the playlist. */
  initBytes: Uint8Array | undefined;
  initUrl = "";
  private initUri = "";
  /** LL-HLS state (hls_ll on), else undefined. */
  ll: LlHls | undefined;
  /** hls_keys: the key in force (a new one every hls_fragments_per_key segments), undefined without keys. */
  private key: HlsKey | undefined;
  publishing = false;
  /** This subscriber's place on the hub (hub.subscribe), given back when it stops. */
  private subscription: Lease | undefined;
  /** Statistics. */
  segments = 0;
  errors = 0;

  constructor(
    /** The stream's current hub (rebound when a republish gets a new hub object). */
    public hub: StreamHub,
    cfg: HlsConfig,
    private log: Log,
    private emit: (e: HlsSegmentEvent) => void,
    private forget: (s: HlsStream) => void,
  ) {
    this.cfg = cfg;
  }

  /** Absolute-or-relative path of the m3u8 as configured. */
  get m3u8File(): string {
    return join(this.cfg.path, this.m3u8Rel);
  }
  get m3u8Url(): string {
    return this.m3u8Rel;
  }
  get config(): HlsConfig {
    return this.cfg;
  }

  start(cfg: HlsConfig): void {
    this.disk.cancelDispose();
    this.switchTo = undefined;
    this.publishing = true;
    this.open(cfg);
    // The hub's sequence headers (and GOP, when the stream is already live) so the first segment is complete.
    this.subscription?.dispose();
    this.subscription = this.hub.subscribe(this, true);
  }

  /**
   * Reload with a changed `hls` (SRS: SrsHls::async_reload): the running stream switches to `cfg` at its next
   * video keyframe (audio-only: next frame). The current segment closes there and the next one opens with the new
   * settings, so no frame is lost or written twice; the playlist goes on (with a discontinuity, as SRS).
   */
  reload(cfg: HlsConfig): void {
    if (this.publishing) this.switchTo = cfg;
  }

  private switchNow(): void {
    const cfg = this.switchTo!;
    const was = this.cfg;
    this.switchTo = undefined;
    this.finishSegmenter();
    this.ll?.stop();
    // Other LL-HLS parts or window: a new LL state (open() keeps the running one otherwise).
    if (this.ll && (!cfg.ll || cfg.llPart !== was.llPart || cfg.window !== was.window)) {
      this.ll.clear();
      this.ll = undefined;
    }
    this.open(cfg);
    for (const p of this.hub.startupPackets()) if (p.config) this.segmenter?.push(p);
    this.log.trace(`hls: ${this.hub.name} reloaded at dts=${this.lastVideoDts}`);
  }

  /** Builds the segmenter (and container, LL state) for `cfg`. */
  private open(cfg: HlsConfig): void {
    this.cfg = cfg;
    this.disabled = false;
    this.key = undefined;
    if (cfg.keys && cfg.ll) this.log.warn(`hls: ${this.hub.name} hls_keys is not applied with hls_ll (LL-HLS parts are served in clear)`);
    const k = this.hub.key;
    this.m3u8Rel = toPosix(expandTemplate(cfg.m3u8File, { vhost: k.vhost, app: k.app, stream: k.stream, time: new Date() }));
    // Tracks appear in the PMT as the stream's sequence headers/frames arrive (no guessing from
    // hls_acodec/hls_vcodec, whose only effect here is `an`/`vn`: drop that track).
    this.fmp4 = cfg.useFmp4 || cfg.ll;
    let container: SegmentContainer;
    if (this.fmp4) {
      this.initUrl = toPosix(expandTemplate(cfg.initFile, { vhost: k.vhost, app: k.app, stream: k.stream, time: new Date(), seq: this.nextSeq }));
      this.initUri = this.uriOf(this.initUrl);
      container = new Fmp4Container({
        onInit: (b) => this.onInit(b),
        warn: (m) => this.log.warn(`hls: ${this.hub.name} ${m}`),
        noVideo: cfg.vcodec === "vn",
        noAudio: cfg.acodec === "an",
      });
    } else {
      this.initUrl = "";
      this.initBytes = undefined;
      container = new TsContainer({ noVideo: cfg.vcodec === "vn", noAudio: cfg.acodec === "an" });
    }
    if (cfg.ll) {
      this.ll ??= new LlHls({
        partTarget: cfg.llPart, window: cfg.window,
        targetDuration: (d) => targetDuration(d.map((duration) => ({ duration }) as PlaylistEntry), cfg.fragment, cfg.tdRatio),
      });
      this.ll.start();
    } else this.ll = undefined;
    this.segmenter = new HlsSegmenter(
      { fragment: cfg.fragment, aofRatio: cfg.aofRatio, waitKeyframe: cfg.waitKeyframe, partTarget: cfg.ll ? cfg.llPart : 0 },
      container,
      { onOpen: (s) => this.onOpen(s), onData: (b) => this.onData(b), onClose: (s) => this.onClose(s), onPart: (p) => this.onPart(p) },
      this.nextSeq,
    );
    this.log.trace(`hls: ${this.hub.name} start, m3u8=${this.m3u8File}, fragment=${cfg.fragment}s window=${cfg.window}s, ` +
      `${this.fmp4 ? `fmp4=${cfg.fmp4File} init=${this.initUrl}` : `ts=${cfg.tsFile}`}${cfg.ll ? `, ll part=${cfg.llPart}s` : ""}, seq=${this.nextSeq}`);
  }

  onPacket(p: MediaPacket): void {
    if (this.switchTo && !p.config && p.kind !== "data" && (p.kind === "video" ? p.keyframe : !this.hub.videoConfig)) {
      this.switchNow();
    }
    if (this.disabled || !this.segmenter) return;
    if (p.kind === "video" && !p.config) {
      if (this.lastVideoDts >= 0 && p.dts > this.lastVideoDts) this.frameMs = Math.min(200, p.dts - this.lastVideoDts);
      this.lastVideoDts = p.dts;
    }
    try {
      this.segmenter.push(p);
    } catch (e) {
      this.fail(`mux ${p.kind} ${p.codec} packet`, e);
    }
  }

  onUnpublish(): void {
    this.stop();
  }

  /** The publisher left: close the last segment, keep files until hls_dispose. */
  stop(): void {
    if (!this.publishing) return;
    this.publishing = false;
    this.switchTo = undefined;
    this.subscription?.dispose();
    this.subscription = undefined;
    this.finishSegmenter();
    this.lastVideoDts = -1;
    this.ll?.stop();
    this.log.trace(`hls: ${this.hub.name} unpublish, ${this.segments} segments, dispose in ${this.cfg.dispose}s`);
    this.disk.disposeIn(this.cfg.dispose, () => void this.dispose());
  }

  /** Closes the segment being written (the last one of this publish, or of the settings a reload replaces). */
  private finishSegmenter(): void {
    const s = this.segmenter;
    this.segmenter = undefined;
    if (s) {
      this.nextSeq = s.seq;
      try {
        if (!this.disabled) s.finish(this.frameMs);
        this.nextSeq = s.seq;
      } catch (e) {
        this.fail("finish segment", e);
      }
    }
  }

  /** Deletes every file of the stream (hls_dispose) and forgets it. */
  async dispose(): Promise<void> {
    if (this.publishing) return;
    this.disk.cancelDispose();
    this.forget(this);
    await this.disk.flushed();
    const files = this.entries.map((e) => e.file);
    for (const f of new Set(this.entries.map((e) => e.key?.file))) if (f) files.push(f);
    this.entries = [];
    files.push(this.m3u8File);
    if (this.initUrl) files.push(join(this.cfg.path, this.initUrl));
    this.ll?.clear();
    this.initBytes = undefined;
    await removeFiles(files);
    this.log.trace(`hls: ${this.hub.name} disposed, removed ${files.length} files`);
  }

  /** Wait for queued file operations (tests, shutdown). */
  flushed(): Promise<void> {
    return this.disk.flushed();
  }

  private fail(what: string, e: unknown): void {
    this.errors++;
    const msg = e instanceof Error ? e.message : String(e);
    const line = `hls: ${this.hub.name} ${what} failed: ${msg}`;
    if (line !== this.lastError) this.log.error(`${line} (hls_on_error ${this.cfg.onError})`);
    this.lastError = line;
    if (this.cfg.onError === "ignore") {
      this.disabled = true;
      this.log.warn(`hls: ${this.hub.name} disabled for this publish (hls_on_error ignore)`);
    } else if (this.cfg.onError === "disconnect") {
      this.disabled = true;
      this.hub.publisher?.kick(`hls error: ${msg}`);
    }
  }

  /** hls_fmp4_file or hls_ts_file. */
  private get segmentTemplate(): string {
    return this.fmp4 ? this.cfg.fmp4File : this.cfg.tsFile;
  }

  /** The URI of a file (path relative to hls_path) in the playlist: hls_entry_prefix, or relative to the m3u8. */
  private uriOf(rel: string): string {
    if (this.cfg.entryPrefix) return this.cfg.entryPrefix.replace(/\/*$/, "/") + rel.replace(/^\/+/, "");
    return posix.normalize(toPosix(relative(dirname(this.m3u8File), join(this.cfg.path, rel))));
  }

  private onInit(b: Uint8Array): void {
    this.initBytes = b;
    if (this.ll) this.ll.map = this.initUri;
    const file = join(this.cfg.path, this.initUrl);
    this.disk.enqueue(async () => {
      try {
        await replaceFile(file, b);
      } catch (e) {
        this.fail(`write init segment ${file}`, e);
      }
    });
  }

  private onPart(p: PartInfo): void {
    this.ll?.part(p);
  }

  private onOpen(s: SegmentStart): void {
    const k = this.hub.key;
    const rel = toPosix(expandTemplate(this.segmentTemplate, {
      vhost: k.vhost, app: k.app, stream: k.stream, time: s.openedAt, seq: s.seq,
      floorFragmentMs: this.cfg.tsFloor ? this.cfg.fragment * 1000 : undefined,
    }));
    const tmp = join(this.cfg.path, rel) + ".tmp";
    const seg: SegmentFile = { start: s, rel, tmp, handle: Promise.resolve(undefined), chunks: [], chunked: 0, failed: false };
    this.seg = seg;
    if (this.cfg.keys && !this.ll) {
      if (startsNewKey(s.seq, this.cfg.fragmentsPerKey, this.key)) this.key = this.newKey(s.seq);
      seg.key = this.key;
      seg.cipher = new SegmentCipher(this.key!.key, this.key!.iv);
    }
    this.ll?.open(s.seq, s.discontinuity, rel, this.uriOf(rel));
    let resolveHandle: (h: FileHandle | undefined) => void = () => {};
    seg.handle = new Promise((r) => (resolveHandle = r));
    this.disk.enqueue(async () => {
      try {
        await mkdir(dirname(tmp), { recursive: true });
        resolveHandle(await open(tmp, "w"));
      } catch (e) {
        seg.failed = true;
        resolveHandle(undefined);
        this.fail(`open segment ${tmp}`, e);
      }
    });
  }

  /**
   * A new key for the segments from `seq` on; its file (hls_key_file_path + hls_key_file) is written before the
   * segment is opened, so it is on disk before any playlist names it.
   */
  private newKey(seq: number): HlsKey {
    const k = this.hub.key;
    const cfg = this.cfg;
    const keyRel = toPosix(expandTemplate(cfg.keyFile, { vhost: k.vhost, app: k.app, stream: k.stream, time: new Date(), seq }));
    const file = join(cfg.keyFilePath, keyRel);
    const rel = resolve(cfg.keyFilePath) === resolve(cfg.path)
      ? this.uriOf(keyRel)
      : posix.normalize(toPosix(relative(dirname(this.m3u8File), file)));
    const key: HlsKey = { ...newKeyBytes(), seq, file, uri: keyUri(cfg.keyUrl, keyRel, rel) };
    this.disk.enqueue(async () => {
      try {
        await replaceFile(file, key.key);
      } catch (e) {
        this.fail(`write key ${file}`, e);
      }
    });
    return key;
  }

  private onData(b: Uint8Array): void {
    const seg = this.seg;
    if (!seg || seg.failed) return;
    if (seg.cipher) b = seg.cipher.update(b);
    this.queue(seg, b);
  }

  /** Queues (encrypted) bytes of the segment for the disk. */
  private queue(seg: SegmentFile, b: Uint8Array): void {
    if (!b.length) return;
    if (this.pending + b.length > MAX_PENDING_BYTES) {
      seg.failed = true;
      seg.chunks = [];
      this.fail(`write segment ${seg.tmp}`, new Error(`disk too slow: ${this.pending} bytes queued`));
      return;
    }
    seg.chunks.push(b);
    seg.chunked += b.length;
    this.pending += b.length;
    if (seg.chunked >= WRITE_BATCH) this.writeChunks(seg);
  }

  private writeChunks(seg: SegmentFile): void {
    if (!seg.chunks.length) return;
    const chunks = seg.chunks;
    const n = seg.chunked;
    seg.chunks = [];
    seg.chunked = 0;
    this.disk.enqueue(async () => {
      this.pending -= n;
      if (seg.failed) return;
      const h = await seg.handle;
      if (!h) return;
      try {
        await h.writev(chunks);
      } catch (e) {
        seg.failed = true;
        this.fail(`write segment ${seg.tmp}`, e);
      }
    });
  }

  private onClose(s: SegmentEnd): void {
    const seg = this.seg;
    this.seg = undefined;
    if (!seg) return;
    if (seg.cipher && !seg.failed) this.queue(seg, seg.cipher.final());
    this.writeChunks(seg);
    const k = this.hub.key;
    const tpl = this.segmentTemplate;
    const rel = tpl.includes("[duration]")
      ? toPosix(expandTemplate(tpl, {
        vhost: k.vhost, app: k.app, stream: k.stream, time: s.openedAt, seq: s.seq, durationMs: s.duration * 1000,
        floorFragmentMs: this.cfg.tsFloor ? this.cfg.fragment * 1000 : undefined,
      }))
      : seg.rel;
    const file = join(this.cfg.path, rel);
    const m3u8Abs = this.m3u8File;
    const uri = this.uriOf(rel);
    const entry: PlaylistEntry = { seq: s.seq, duration: s.duration, uri, file, url: rel, discontinuity: s.discontinuity };
    if (this.fmp4) entry.map = this.initUri;
    if (seg.key) entry.key = seg.key;
    this.ll?.close(s.seq, s.duration, rel, uri);
    const cfg = this.cfg;
    const clientId = this.hub.publisher?.clientId ?? "";
    this.disk.enqueue(async () => {
      const h = await seg.handle;
      if (h) {
        try {
          await h.close();
        } catch (e) {
          seg.failed = true;
          this.fail(`close segment ${seg.tmp}`, e);
        }
      }
      if (seg.failed) {
        await rm(seg.tmp, { force: true }).catch(() => undefined);
        return;
      }
      try {
        await rename(seg.tmp, file);
      } catch (e) {
        this.fail(`rename segment ${seg.tmp}`, e);
        return;
      }
      this.entries.push(entry);
      const removed = shrinkWindow(this.entries, cfg.window);
      const text = renderPlaylist(this.entries, targetDuration(this.entries, cfg.fragment, cfg.tdRatio));
      try {
        await replaceFile(m3u8Abs, text);
      } catch (e) {
        this.fail(`write m3u8 ${m3u8Abs}`, e);
      }
      this.segments++;
      this.lastError = "";
      if (cfg.cleanup) {
        // Key files no listed segment uses any more go with their segments.
        const inUse = new Set(this.entries.map((e) => e.key?.file));
        const gone = new Set(removed.map((r) => r.key?.file).filter((f): f is string => !!f && !inUse.has(f)));
        await removeFiles([...removed.map((r) => r.file), ...gone]);
      }
      this.log.info(`hls: ${this.hub.name} segment ${entry.seq} ${rel} ${s.duration.toFixed(3)}s ${s.bytes}B`);
      try {
        this.emit({
          key: k, streamId: this.hub.id, clientId, file, url: rel, m3u8: m3u8Abs, m3u8Url: this.m3u8Rel,
          duration: s.duration, seqNo: s.seq, discontinuity: s.discontinuity,
        });
      } catch (e) {
        this.log.error(`hls: ${this.hub.name} on_segment listener failed`, e);
      }
    });
  }
}

/** What HLS needs of the server (lib/server.ts, the composition root, satisfies it). */
export type HlsPorts = StreamOutputPorts;

/** All HLS streams of a server. */
export class HlsService extends StreamOutputService<HlsConfig, HlsStream> {
  private listeners: HlsSegmentListener[] = [];

  /** Registers an on_hls style listener; returns a function that removes it. */
  onSegment(l: HlsSegmentListener): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  protected settings(vhost: string): HlsConfig | undefined {
    return this.ctx.config.vhost(vhost)?.hls;
  }

  protected create(hub: StreamHub, cfg: HlsConfig, forget: (s: HlsStream) => void): HlsStream {
    return new HlsStream(hub, cfg, this.ctx.log, (e) => {
      for (const l of this.listeners) l(e);
    }, forget);
  }
}

/** Starts HLS for a server (the composition root keeps the service). */
export function startHls(ctx: HlsPorts): HlsService {
  return startStreamOutput("hls", new HlsService(ctx), ctx);
}
