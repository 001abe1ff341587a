/**
 * Fan-out of one output format to many byte-stream players (RTMP, HTTP-FLV, HTTP-TS, ...).
 *
 * Each packet is encoded ONCE for the format (the encoder's bytes are cached per packet, so GOP replays to new
 * players reuse them) and the same bytes are queued to every player. Players flush in batches: every
 * `mw_latency` ms (SRS's merged-write), or on the next turn of the event loop with `min_latency`. A player whose
 * socket cannot keep up is skipped ahead to the next keyframe (its queue dropped), so it never slows the
 * publisher or other players; one that stays hopelessly behind is closed.
 */
import { Buffer } from "node:buffer";
import type { MediaPacket } from "../media/packet.ts";
import type { PlayQueueConfig, SharedOutput } from "./lease.ts";
import type { HubSubscriber, StreamHub } from "./stream-hub.ts";

/** Where a player's bytes go: a node:net Socket or an HTTP response stream adapter. */
export interface ByteSink {
  write(data: Uint8Array): unknown;
  /** Bytes accepted but not yet sent by the transport. */
  readonly writableLength: number;
  readonly destroyed: boolean;
}

export interface FanOutOptions {
  /** Merged-write interval in ms; 0 or minLatency means flush on the next event-loop turn. */
  mwLatencyMs: number;
  minLatency: boolean;
  /** SRS `queue_length` in seconds: how much a player may lag before it is skipped ahead. */
  queueSeconds: number;
}

/**
 * The key of a shared byte output: its format and the options its players asked for. Players whose vhost or
 * protocol asks for other settings (an SRT player's min_latency next to an HTTP-TS player's mw_latency, two
 * queue_length values) get their own fan-out, each encoding once for its players. A reload changes the options
 * of the running fan-outs in place and re-keys them (StreamHub.reconfigureOutputs). Options that flush alike
 * share a key (min_latency on, or mw_latency 0: every event-loop turn).
 */
export function fanOutKey(format: string, o: FanOutOptions): string {
  const mw = o.minLatency || o.mwLatencyMs <= 0 ? 0 : o.mwLatencyMs;
  return `${format}?mw_latency=${mw}&queue_length=${o.queueSeconds}`;
}

/** How a protocol's players take their fan-out options from the vhost (when they join, and on a reload). */
export type FanOutRule = (c: PlayQueueConfig) => FanOutOptions;

/** RTMP and HTTP players: SRS's merged write of `mw_latency` ms (every turn with `min_latency on`). */
export const mergedWrites: FanOutRule = (c) => ({ mwLatencyMs: c.play.mwLatency, minLatency: c.minLatency, queueSeconds: c.play.queueLength });

/** SRT players: no merged write, every batch goes out on the next turn of the event loop. */
export const everyTurn: FanOutRule = (c) => ({ mwLatencyMs: 0, minLatency: true, queueSeconds: c.play.queueLength });

export interface PlayerEvents {
  /** The player fell too far behind and must be closed. */
  onOverflow(reason: string): void;
  /** The stream's publisher left (the player may end or wait). */
  onUnpublish(): void;
  /** A publisher (re)started. */
  onPublish?(): void;
}

const MIN_QUEUE_BYTES = 512 * 1024;
const MAX_QUEUE_BYTES = 64 * 1024 * 1024;

export class BytePlayer {
  private queue: Uint8Array[] = [];
  /** Parallel to `queue`: the entry is a sequence header or metadata, which a skip must never drop. */
  private essential: boolean[] = [];
  private queued = 0;
  /**
   * A new player starts at a video keyframe: the GOP replay begins with one, but without a GOP cache (or with
   * an empty one) the live packets that follow the join would otherwise start it on undecodable inter frames.
   */
  private waitKeyframe = true;
  /**
   * True while this player's queue holds exactly the packets the FanOut queued since its last merged write, so
   * the FanOut may hand it the one batch buffer it built for everyone instead of copying the queue again.
   */
  inSync = false;
  /** Statistics. */
  bytesOut = 0;
  skips = 0;
  closed = false;

  constructor(readonly sink: ByteSink, readonly events: PlayerEvents) {}

  /** Queues encoded bytes of packet `p`; `limit` is the byte budget for this player's backlog. */
  push(bytes: Uint8Array, p: MediaPacket, limit: number, hasVideo: boolean): void {
    if (this.closed) return;
    if (this.waitKeyframe) {
      if (!p.config && p.kind !== "data") {
        if (hasVideo && !(p.kind === "video" && p.keyframe)) {
          this.inSync = false;
          return;
        }
        this.waitKeyframe = false;
      }
    }
    const isEssential = p.config || p.kind === "data";
    if (this.queued + this.sink.writableLength > limit && !isEssential) {
      this.skips++;
      this.inSync = false;
      this.dropMedia();
      if (this.sink.writableLength > limit * 2) {
        this.events.onOverflow(`player backlog ${this.sink.writableLength} bytes over ${limit * 2}`);
        return;
      }
      if (hasVideo && !(p.kind === "video" && p.keyframe)) {
        this.waitKeyframe = true;
        return;
      }
    }
    this.queue.push(bytes);
    this.essential.push(isEssential);
    this.queued += bytes.byteLength;
  }

  /** Drops queued media but keeps sequence headers and metadata (a republish or codec change may be queued). */
  private dropMedia(): void {
    const keep: Uint8Array[] = [];
    let bytes = 0;
    for (let i = 0; i < this.queue.length; i++) {
      if (this.essential[i]) {
        keep.push(this.queue[i]!);
        bytes += this.queue[i]!.byteLength;
      }
    }
    this.queue = keep;
    this.essential = keep.map(() => true);
    this.queued = bytes;
  }

  /** Writes directly (headers, protocol replies) ahead of queued media. */
  writeNow(bytes: Uint8Array): void {
    if (this.closed || this.sink.destroyed) return;
    this.inSync = false;
    this.flush();
    this.sink.write(bytes);
    this.bytesOut += bytes.byteLength;
  }

  /** Writes `shared` (the same bytes as this player's queue, built once for many players) instead of the queue. */
  flushShared(shared: Uint8Array): void {
    this.queue = [];
    this.essential = [];
    this.queued = 0;
    if (this.closed || this.sink.destroyed) return;
    this.bytesOut += shared.byteLength;
    this.sink.write(shared);
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.queued;
  }

  flush(): void {
    if (!this.queued || this.closed) return;
    const queue = this.queue;
    const queued = this.queued;
    this.queue = [];
    this.essential = [];
    this.queued = 0;
    if (this.sink.destroyed) return;
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue, queued);
    this.bytesOut += queued;
    this.sink.write(data);
  }
}

/** A FanOut is the shared output its players lease (hub.play): BytePlayer in, bytes out. */
export class FanOut implements HubSubscriber, SharedOutput<BytePlayer> {
  private players = new Set<BytePlayer>();
  private cache = new WeakMap<MediaPacket, Uint8Array | null>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private immediate = false;
  /** What was fanned out since the last merged write, in order: every in-sync player queued exactly this. */
  private tick: Uint8Array[] = [];
  private tickBytes = 0;
  /** The start-up burst (metadata, sequence headers, GOP) concatenated once for the players joining now. */
  private startup: { pkts: MediaPacket[]; bytes: Uint8Array } | undefined;

  constructor(
    readonly hub: StreamHub,
    readonly name: string,
    private encode: (p: MediaPacket) => Uint8Array | null,
    private opts: FanOutOptions,
    /** How the options follow the vhost's play config on a reload. */
    private rule: FanOutRule = mergedWrites,
  ) {}

  get size(): number {
    return this.players.size;
  }

  /** Times this output's players (those connected now) were skipped ahead for being too slow. */
  get skips(): number {
    let n = 0;
    for (const p of this.players) n += p.skips;
    return n;
  }

  /** The latency and queue settings every player of this fan-out shares. */
  get options(): Readonly<FanOutOptions> {
    return this.opts;
  }

  /** The hub key of this output under its options now (the OutputSpec key players with these options use). */
  get key(): string {
    return fanOutKey(this.name, this.opts);
  }

  /** A reload: the options `c` gives this output's players apply at once to those playing; returns the new key. */
  reconfigure(c: PlayQueueConfig): string {
    this.setOptions(this.rule(c));
    return this.key;
  }

  /** New flush schedule and queue limit for every player of this output, from the next packet on. */
  setOptions(opts: FanOutOptions): void {
    this.opts = { ...opts };
    this.stopTimer();
    // Whatever is queued now goes out on the new schedule.
    if (this.players.size > 0) this.schedule();
  }

  private encoded(p: MediaPacket): Uint8Array | null {
    let b = this.cache.get(p);
    if (b === undefined) {
      b = this.encode(p);
      this.cache.set(p, b);
    }
    return b;
  }

  private limit(): number {
    const want = this.hub.byteRate * this.opts.queueSeconds;
    return Math.min(MAX_QUEUE_BYTES, Math.max(MIN_QUEUE_BYTES, want));
  }

  /** Adds a player and queues what it needs to start (metadata, sequence headers, GOP). */
  add(player: BytePlayer): void {
    this.players.add(player);
    const limit = MAX_QUEUE_BYTES;
    const hasVideo = this.hub.videoConfig !== undefined;
    player.inSync = false;
    if (this.hub.active) {
      const pkts = this.hub.startupPackets();
      const parts: Uint8Array[] = [];
      let total = 0;
      for (const p of pkts) {
        const b = this.encoded(p);
        if (!b) continue;
        player.push(b, p, limit, hasVideo);
        parts.push(b);
        total += b.byteLength;
      }
      // A new player gets its start-up burst (sequence headers + GOP) now, not at the next merged write; players
      // joining at the same point of the GOP share one concatenation of it.
      if (player.queuedBytes === total && total > 0) {
        let st = this.startup;
        if (!st || !samePackets(st.pkts, pkts)) {
          st = { pkts, bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts, total) };
          this.startup = st;
        }
        player.flushShared(st.bytes);
      } else {
        player.flush();
      }
    }
    this.schedule();
  }

  remove(player: BytePlayer): void {
    player.closed = true;
    this.players.delete(player);
    // The play lease drops the format from the hub when this was its last player.
    if (this.players.size === 0) this.stopTimer();
  }

  onPacket(p: MediaPacket): void {
    if (this.players.size === 0) return;
    const b = this.encoded(p);
    if (!b) return;
    const limit = this.limit();
    const hasVideo = this.hub.videoConfig !== undefined;
    this.tick.push(b);
    this.tickBytes += b.byteLength;
    for (const pl of this.players) pl.push(b, p, limit, hasVideo);
    this.schedule();
  }

  onPublish(): void {
    for (const pl of [...this.players]) pl.events.onPublish?.();
  }

  onUnpublish(): void {
    this.flushAll();
    for (const pl of [...this.players]) pl.events.onUnpublish();
  }

  /**
   * The merged write: players whose queue is exactly this tick's packets get one shared buffer (built once);
   * the others (just joined, skipping, waiting for a keyframe) write their own queue.
   */
  flushAll(): void {
    let shared: Uint8Array | undefined;
    const tickBytes = this.tickBytes;
    for (const pl of this.players) {
      if (pl.inSync && tickBytes > 0 && pl.queuedBytes === tickBytes) {
        shared ??= this.tick.length === 1 ? this.tick[0]! : Buffer.concat(this.tick, tickBytes);
        pl.flushShared(shared);
      } else {
        pl.flush();
      }
      pl.inSync = true;
    }
    this.tick = [];
    this.tickBytes = 0;
    // The start-up cache only serves players joining within one merged write (the GOP grows every packet).
    this.startup = undefined;
  }

  private schedule(): void {
    if (this.opts.minLatency || this.opts.mwLatencyMs <= 0) {
      if (this.immediate) return;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        this.flushAll();
      });
      return;
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.flushAll(), this.opts.mwLatencyMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function samePackets(a: readonly MediaPacket[], b: readonly MediaPacket[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
