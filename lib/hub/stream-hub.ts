/**
 * The stream hub: one per vhost/app/stream. It holds the publisher, metadata, sequence headers and the GOP
 * cache, corrects timestamps once, and fans every packet out to its subscribers (usually one shared encoder
 * per output format, see fanout.ts). It knows no protocol: adapters convert to and from MediaPacket.
 */
import type { Log } from "../log/logger.ts";
import type { AudioCodec, MediaPacket, StreamKey } from "../media/packet.ts";
import { streamKeyString, streamUrl } from "../media/packet.ts";
import { GopCache } from "./gop-cache.ts";
import { HealthMeter } from "./health-meter.ts";
import { type JitterMode, TimeJitter } from "./jitter.ts";
import { type Lease, lease, type OutputSpec, type PlayLease, type PlayQueueConfig, type PublishLease, type SharedOutput } from "./lease.ts";

/** Something that receives the hub's packets: an output format's shared encoder, a recorder, a bridge. */
export interface HubSubscriber {
  onPacket(p: MediaPacket): void;
  /** Outputs asked for (or stopped asking for) an audio codec: `count` is how many want it now (see wantAudio). */
  onWant?(codec: AudioCodec, count: number): void;
  /** A publisher started (players that waited for the stream may begin). */
  onPublish?(): void;
  /** The publisher left. */
  onUnpublish(): void;
}

/** What the hub knows of its publisher. `kick` ends the publishing session (API kick, reload). */
export interface PublisherInfo {
  clientId: string;
  /** SRS client type, e.g. "fmle-publish", "flash-publish", "srt-publish", "rtc-publish". */
  type: string;
  ip: string;
  kick(reason: string): void;
}

export interface HubOptions {
  gopCache: boolean;
  gopCacheMaxFrames: number;
  timeJitter: JitterMode;
}

export class PublishError extends Error {}

/**
 * The publisher type of a stream one worker pulls from the worker that owns it (srs-ts's `workers N;`): a copy
 * for this worker's players only. HLS, DVR and forward run once per stream, in the owner: they skip copies.
 */
export const WORKER_PULL_TYPE = "worker-pull";

/** Whether the hub is a worker's copy of a stream published on another worker. */
export function isWorkerCopy(hub: { publisher?: { type: string } }): boolean {
  return hub.publisher?.type === WORKER_PULL_TYPE;
}

/** Server-side listeners of stream lifecycles (HLS/DVR/forward start per stream, stats, hooks). */
export interface HubLifecycle {
  onPublish(hub: StreamHub): void;
  onUnpublish(hub: StreamHub): void;
  /**
   * Demand for the stream: `wanted` true when it gains its first player (a play lease of any output: RTMP,
   * HTTP-FLV/TS/AAC/MP3, WebRTC, SRT; or a demand() lease of a player about to play), false when the last one
   * leaves. Subscribers (HLS, DVR, forward, bridges) and holds are not demand. An edge pulls on demand.
   */
  onDemand?(hub: StreamHub, wanted: boolean): void;
}

export class StreamHub {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  publisher: PublisherInfo | undefined;
  metadata: MediaPacket | undefined;
  videoConfig: MediaPacket | undefined;
  /** The publisher's audio sequence header (AAC ASC, OpusHead): what stats and the API describe. */
  audioConfig: MediaPacket | undefined;
  /** The sequence header of the derived audio rendition (the audio bridge's AAC or Opus), if one runs. */
  altAudioConfig: MediaPacket | undefined;
  readonly gop: GopCache;
  /** What the publisher actually sends (fps, keyframes, drift, jumps, gaps): the stream's health. */
  readonly health = new HealthMeter();
  private jitter: TimeJitter;
  /** A time_jitter changed by reload, taken at the next publish (changing it mid-stream would move timestamps). */
  private nextJitter: TimeJitter["mode"] | undefined;
  private subscribers = new Set<HubSubscriber>();
  /** Shared per-format encoders (e.g. "rtmp/60000", "flv"), created on demand by their protocol. */
  private formats = new Map<string, HubSubscriber>();
  /** Players that want an audio codec the publisher may not send (e.g. WebRTC viewers: Opus), by codec. */
  private wants = new Map<AudioCodec, number>();
  /** Holds (hold()) that keep the hub alive without a publisher or subscriber. */
  private holds = 0;
  /** Players (play leases) and demand leases: how many want the stream now (see HubLifecycle.onDemand). */
  private demands = 0;
  /** Publish statistics. */
  publishedAt = 0;
  bytesIn = 0;
  packetsIn = 0;
  videoFrames = 0;
  lastPacketAt = 0;
  /** Bytes per second of media over the last few seconds (for queue sizing and stats). */
  byteRate = 0;
  private rateWindowStart = 0;
  private rateWindowBytes = 0;

  constructor(
    readonly key: StreamKey,
    opts: HubOptions,
    readonly log: Log,
    id: string,
    private lifecycle?: HubLifecycle,
    /** Called when the last lease is given back and nothing uses the hub (the registry forgets it). */
    private onIdle?: (hub: StreamHub) => void,
  ) {
    this.id = id;
    this.name = streamKeyString(key);
    this.url = streamUrl(key);
    this.gop = new GopCache(opts.gopCache, opts.gopCacheMaxFrames);
    this.jitter = new TimeJitter(opts.timeJitter);
  }

  /**
   * Reload of the vhost's play options: gop_cache and gop_cache_max_frames apply now (players that join from
   * now on), time_jitter at the next publish.
   */
  setOptions(opts: HubOptions): void {
    if (this.gop.enabled && !opts.gopCache) this.gop.clear();
    this.gop.enabled = opts.gopCache;
    this.gop.maxFrames = opts.gopCacheMaxFrames;
    this.nextJitter = opts.timeJitter === this.jitter.mode ? undefined : opts.timeJitter;
  }

  get active(): boolean {
    return this.publisher !== undefined;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Players and demand leases now (an edge pulls while this is above 0). */
  get demandCount(): number {
    return this.demands;
  }

  /** Claims the stream for a publisher. A busy stream refuses the second publisher; the first keeps going. */
  startPublish(pub: PublisherInfo): void {
    if (this.publisher) {
      throw new PublishError(`stream ${this.name} is busy: published by client ${this.publisher.clientId}`);
    }
    this.publisher = pub;
    this.publishedAt = Date.now();
    this.health.reset(this.publishedAt);
    this.bytesIn = 0;
    this.packetsIn = 0;
    this.videoFrames = 0;
    this.byteRate = 0;
    this.rateWindowStart = this.publishedAt;
    this.rateWindowBytes = 0;
    this.metadata = this.videoConfig = this.audioConfig = this.altAudioConfig = undefined;
    this.gop.clear();
    if (this.nextJitter && this.nextJitter !== this.jitter.mode) this.jitter = new TimeJitter(this.nextJitter);
    this.nextJitter = undefined;
    this.jitter.reset();
    // Logged under the publisher's context id, so grepping a client shows its stream's life too.
    this.log.child(pub.clientId).trace(`hub ${this.name}: publish start by ${pub.type} client ${pub.clientId} ip=${pub.ip}`);
    for (const s of [...this.subscribers]) s.onPublish?.();
    this.lifecycle?.onPublish(this);
  }

  stopPublish(pub: PublisherInfo): void {
    if (this.publisher !== pub) return;
    this.publisher = undefined;
    this.gop.clear();
    this.log.child(pub.clientId).trace(`hub ${this.name}: publish stop by client ${pub.clientId}, ${this.packetsIn} packets`);
    for (const s of [...this.subscribers]) s.onUnpublish();
    this.lifecycle?.onUnpublish(this);
  }

  /** The publisher's packets come in here (the packet is owned by the hub from now on). */
  publish(p: MediaPacket): void {
    const now = Date.now();
    this.health.onPacket(p, now); // the publisher's own timestamps, before time_jitter
    this.jitter.correct(p);
    this.packetsIn++;
    this.bytesIn += p.data.byteLength;
    this.lastPacketAt = now;
    this.rateWindowBytes += p.data.byteLength;
    if (now - this.rateWindowStart >= 2000) {
      this.byteRate = (this.rateWindowBytes * 1000) / (now - this.rateWindowStart);
      this.rateWindowStart = now;
      this.rateWindowBytes = 0;
    }
    if (p.kind === "data") this.metadata = p;
    else if (p.config) {
      if (p.kind === "video") this.videoConfig = p;
      else this.audioConfig = p;
    } else {
      if (p.kind === "video") this.videoFrames++;
      this.gop.push(p);
    }
    for (const s of this.subscribers) s.onPacket(p);
  }

  /**
   * A packet derived from the publisher's (the audio bridge's other audio rendition). No jitter correction: it
   * is made from packets already on the corrected timeline. Cached like the publisher's (a second audio config
   * slot, the GOP cache), marked `derived` so no bridge transcodes it again, and fanned out to every subscriber
   * except `from`, the bridge that made it. Outputs pick the rendition they can play (FLV/TS skip Opus, WebRTC
   * skips AAC). Ignored when nobody publishes.
   */
  publishDerived(p: MediaPacket, from?: HubSubscriber): void {
    if (!this.publisher) return;
    p.derived = true;
    if (p.kind === "data") return;
    if (p.config) {
      if (p.kind === "audio") this.altAudioConfig = p;
      else return; // only audio renditions are derived
    } else {
      this.gop.push(p);
    }
    for (const s of this.subscribers) if (s !== from) s.onPacket(p);
  }

  /** The audio sequence headers a new player may need: the publisher's, then the derived rendition's. */
  audioConfigs(): MediaPacket[] {
    const out: MediaPacket[] = [];
    if (this.audioConfig) out.push(this.audioConfig);
    if (this.altAudioConfig) out.push(this.altAudioConfig);
    return out;
  }

  /**
   * An output starts (+1) or stops (-1) needing audio in `codec` (a WebRTC viewer: Opus). The audio bridge makes
   * that rendition only while someone wants it. Counts survive republishing (players stay attached).
   */
  wantAudio(codec: AudioCodec, delta: number): void {
    const n = Math.max(0, (this.wants.get(codec) ?? 0) + delta);
    if (n) this.wants.set(codec, n);
    else this.wants.delete(codec);
    for (const s of [...this.subscribers]) s.onWant?.(codec, n);
  }

  /** How many outputs want audio in `codec` now. */
  wanted(codec: AudioCodec): number {
    return this.wants.get(codec) ?? 0;
  }

  /**
   * Adds a subscriber. With `replay`, it first gets what a new player needs: metadata, sequence headers and
   * the GOP cache (when a publisher is active).
   */
  attach(s: HubSubscriber, replay = true): void {
    this.subscribers.add(s);
    if (replay && this.publisher) for (const p of this.startupPackets()) s.onPacket(p);
  }

  detach(s: HubSubscriber): void {
    this.subscribers.delete(s);
  }

  /**
   * Metadata, sequence headers (video, the publisher's audio, the derived audio), then the GOP cache (both audio
   * renditions interleaved): what a player needs to start decoding at once.
   */
  startupPackets(): MediaPacket[] {
    const out: MediaPacket[] = [];
    if (this.metadata) out.push(this.metadata);
    if (this.videoConfig) out.push(this.videoConfig);
    if (this.audioConfig) out.push(this.audioConfig);
    if (this.altAudioConfig) out.push(this.altAudioConfig);
    for (const p of this.gop.snapshot()) out.push(p);
    return out;
  }

  /** The shared encoder of one output format and options, created on first use and attached without replay. */
  format<T extends HubSubscriber>(name: string, create: () => T): T {
    let f = this.formats.get(name) as T | undefined;
    if (!f) {
      f = create();
      this.formats.set(name, f);
      this.attach(f, false);
      this.log.trace(`hub ${this.name}: output ${name} created`);
    }
    return f;
  }

  dropFormat(name: string): void {
    const f = this.formats.get(name);
    if (f) {
      this.formats.delete(name);
      this.detach(f);
      this.log.trace(`hub ${this.name}: output ${name} dropped`);
    }
  }

  /**
   * A reload changed the vhost's play queue settings (mw_latency, min_latency, queue_length): every shared output
   * takes the options they now give its players, at once for those already playing, and is filed under its new
   * key so new players with those options join it. When another output already holds that key (e.g. the SRT
   * players' TS output once HTTP-TS asks for min_latency too) the output keeps its old key and its own players.
   * Returns the number of outputs reconfigured.
   */
  reconfigureOutputs(c: PlayQueueConfig): number {
    let n = 0;
    for (const [key, f] of [...this.formats]) {
      const next = (f as Partial<SharedOutput<unknown>>).reconfigure?.(c);
      if (next === undefined) continue;
      n++;
      if (next === key) continue;
      if (this.formats.has(next)) {
        this.log.trace(`hub ${this.name}: output ${key} reconfigured, keeps its key (${next} exists)`);
        continue;
      }
      this.formats.delete(key);
      this.formats.set(next, f);
      this.log.trace(`hub ${this.name}: output ${key} re-keyed ${next}`);
    }
    return n;
  }

  /** Drops `output` whatever key it is filed under (nothing when it was dropped already). */
  private dropOutput(output: HubSubscriber): void {
    for (const [key, f] of this.formats) {
      if (f === output) return this.dropFormat(key);
    }
  }

  /** Times the players connected now were skipped ahead for being too slow (shared byte outputs' players). */
  playerSkips(): number {
    let n = 0;
    for (const f of this.formats.values()) n += (f as { skips?: number }).skips ?? 0;
    return n;
  }

  /** The keys of the shared outputs running now (format and options; stats, tests). */
  outputKeys(): string[] {
    return [...this.formats.keys()];
  }

  /** True when nothing uses the hub any more (the registry may forget it). */
  get idle(): boolean {
    return !this.publisher && this.subscribers.size === 0 && this.holds === 0 && this.demands === 0;
  }

  // -------------------------------------------------------------------------------------------------------
  // Leases (lease.ts): what adapters use instead of pairing the calls above by hand.

  private released(): void {
    if (this.idle) this.onIdle?.(this);
  }

  /** Claims the stream for `pub` (PublishError when busy); dispose() unpublishes. */
  claim(pub: PublisherInfo): PublishLease {
    this.startPublish(pub);
    const l = lease(() => {
      this.stopPublish(pub);
      this.released();
    });
    return {
      hub: this,
      push: (p) => {
        if (this.publisher === pub) this.publish(p);
      },
      dispose: () => l.dispose(),
    };
  }

  /** `s` gets every packet (with `replay`, first what a new player needs); dispose() detaches it. */
  subscribe(s: HubSubscriber, replay = true): Lease {
    this.attach(s, replay);
    return lease(() => {
      this.detach(s);
      this.released();
    });
  }

  /**
   * Attaches `player` to the shared output `spec` names (made on first use, attached without replay: the output
   * replays to each player itself). dispose() removes the player, drops the output when it was the last one.
   */
  play<P, O extends SharedOutput<P>>(spec: OutputSpec<O>, player: P): PlayLease<O> {
    const output = this.format(spec.key, () => spec.create(this));
    output.add(player);
    const want = this.demand();
    const l = lease(() => {
      output.remove(player);
      // By identity: a reload may have filed the output under another key since.
      if (output.size === 0) this.dropOutput(output);
      want.dispose();
    });
    return { hub: this, output, dispose: () => l.dispose() };
  }

  /**
   * Wants the stream without playing it yet (an HTTP player waiting for an edge to pull the stream before it
   * answers): counts as a player for HubLifecycle.onDemand and keeps the hub. Every play lease takes one too.
   */
  demand(): Lease {
    if (this.demands++ === 0) this.notifyDemand(true);
    return lease(() => {
      if (--this.demands === 0) this.notifyDemand(false);
      this.released();
    });
  }

  private notifyDemand(wanted: boolean): void {
    try {
      this.lifecycle?.onDemand?.(this, wanted);
    } catch (e) {
      this.log.error(`hub ${this.name}: demand listener failed`, e);
    }
  }

  /** Keeps the hub (and its id) while nothing else uses it, e.g. between an on_play hook and the play. */
  hold(): Lease {
    this.holds++;
    return lease(() => {
      this.holds--;
      this.released();
    });
  }
}
