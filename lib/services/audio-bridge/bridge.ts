/**
 * The audio bridge: gives a stream the audio rendition its other side needs, inside the process (no FFmpeg).
 *
 *   AAC publisher (RTMP, SRT)  ──AacToOpus──▶  Opus for WebRTC viewers   (rtmp_to_rtc; only while one is watching)
 *   MP3 publisher (RTMP, SRT)  ──Mp3ToOpus──▶  Opus for WebRTC viewers   (the same bridge and direction)
 *   Opus publisher (WebRTC)    ──OpusToAac──▶  AAC for RTMP/FLV/TS/HLS/DVR (rtc_to_rtmp; always while published)
 *
 * One AudioBridge per hub and direction, a HubSubscriber attached when the stream is published (service.ts). It
 * reads the publisher's audio packets (already on the hub's corrected timeline) and sends each to its transcoder,
 * which runs in a worker (pool.ts): the DSP never runs on the event loop. What the transcoder makes comes back
 * in order and goes to `hub.publishDerived`, which caches it as the hub's second audio rendition and fans it out
 * to every other subscriber; derived packets are never transcoded again. Outputs pick the rendition they can
 * play: FLV/RTMP/TS/HLS/DVR skip Opus, WebRTC skips AAC/MP3. The derived packets are the same, timestamps
 * included, as when the transcoder ran in-line; they only reach the hub a moment (one message round trip) later.
 *
 * AAC -> Opus runs only while `hub.wanted("opus") > 0` (WebRTC viewers call hub.wantAudio("opus", ±1)): it starts
 * on the next AAC frame after the first viewer joins (from the publisher's AudioSpecificConfig) and idles, freeing
 * its encoder, when the last one leaves. The "aac->opus" direction takes MP3 publishers too: `source` is then
 * "mp3", and a change of the publisher's codec restarts the transcoder.
 */
import type { HubSubscriber, StreamHub } from "../../hub/stream-hub.ts";
import type { Lease } from "../../hub/lease.ts";
import type { Log } from "../../log/logger.ts";
import type { AudioCodec, MediaPacket } from "../../media/packet.ts";
import type { TranscoderHandle, TranscoderPool } from "./pool.ts";
import type { TranscoderKind } from "./protocol.ts";

/** "aac->opus": AAC or MP3 publishers to Opus; "opus->aac": Opus publishers to AAC. */
export type BridgeDirection = "aac->opus" | "opus->aac";

export interface AudioBridgeOptions {
  direction: BridgeDirection;
  /** Output bitrate, bits per second (vhost rtc.opus_bitrate / rtc.aac_bitrate). */
  bitrate: number;
  /** opus->aac: the AAC sampling rate (default 48000: no resampling). */
  aacSampleRate?: 44100 | 48000;
}

export class AudioBridge implements HubSubscriber {
  /** The publisher's codec being transcoded ("aac" or "mp3" towards Opus, "opus" towards AAC). */
  source: AudioCodec;
  readonly target: AudioCodec;
  private tx: TranscoderHandle | undefined;
  /** The bridge's place on the hub (hub.subscribe), given back on close. */
  private subscription: Lease | undefined;
  /** Totals over every transcoder run of this bridge (a run ends when the bridge idles). */
  framesIn = 0;
  packetsOut = 0;
  runs = 0;
  /** Milliseconds of CPU of finished runs (time inside the transcoder, in its worker). */
  private doneCpuMs = 0;
  private firstDts: number | undefined;
  private lastDts = 0;
  private mediaMs = 0;
  /** After a transcoder failed, no new one before this time (ms since epoch): one warning, not one a frame. */
  private retryAt = 0;

  constructor(
    readonly hub: StreamHub,
    readonly opts: AudioBridgeOptions,
    private readonly pool: TranscoderPool,
    private log: Log = hub.log,
  ) {
    this.source = opts.direction === "aac->opus" ? "aac" : "opus";
    this.target = opts.direction === "aac->opus" ? "opus" : "aac";
  }

  /** Whether the bridge transcodes right now (aac->opus idles while no output wants Opus). */
  get running(): boolean {
    return this.tx !== undefined;
  }

  /** Milliseconds of CPU spent transcoding, over every run (in the worker, not on the event loop). */
  get cpuMs(): number {
    return this.doneCpuMs + (this.tx?.cpuMs ?? 0);
  }

  private get onDemand(): boolean {
    return this.opts.direction === "aac->opus";
  }

  /** Subscribes to the hub (no replay: the bridge starts from the publisher's config and the next frames). */
  start(): void {
    this.subscription ??= this.hub.subscribe(this, false);
  }

  /** Resolves once everything sent to the transcoder so far has come back and reached the hub. */
  flush(): Promise<void> {
    return this.tx?.flush() ?? Promise.resolve();
  }

  /** Whether this bridge transcodes audio of `codec`. */
  private accepts(codec: MediaPacket["codec"]): codec is AudioCodec {
    return this.onDemand ? codec === "aac" || codec === "mp3" : codec === "opus";
  }

  onPacket(p: MediaPacket): void {
    if (p.kind !== "audio" || p.derived || !this.accepts(p.codec)) return;
    if (this.onDemand && this.hub.wanted("opus") === 0) return;
    if (p.codec !== this.source) {
      if (this.tx) this.stop(`publisher's audio changed to ${p.codec}`);
      this.source = p.codec;
    }
    let tx = this.tx;
    if (!tx) {
      if (Date.now() < this.retryAt) return;
      tx = this.open();
      if (!tx) return; // no worker now (logged by the pool); the next packet tries again
      // Starting mid-stream: the publisher's sequence header first, moved to now so it does not reach back in time.
      const cfg = this.hub.audioConfig;
      if (!p.config && cfg && cfg.codec === this.source) this.run(tx, { ...cfg, dts: p.dts, pts: p.dts });
    }
    this.run(tx, p);
  }

  private open(): TranscoderHandle | undefined {
    const o = this.opts;
    const kind: TranscoderKind = o.direction === "opus->aac" ? "opus->aac" : this.source === "mp3" ? "mp3->opus" : "aac->opus";
    const tx = this.pool.open({ kind, bitrate: o.bitrate, ...(o.aacSampleRate ? { sampleRate: o.aacSampleRate } : {}) }, {
      packets: (out) => this.deliver(tx, out),
      failed: (why) => {
        if (this.tx !== tx) return;
        this.log.warn(`audio bridge ${this.hub.name}: ${this.source}→${this.target}: ${why}; retrying in 5 s`);
        this.tx = undefined;
        this.retryAt = Date.now() + 5000;
      },
    });
    if (!tx) return undefined;
    this.tx = tx;
    this.runs++;
    this.firstDts = undefined;
    const viewers = this.onDemand ? ` (${this.hub.wanted("opus")} WebRTC viewers)` : "";
    if (this.source === "mp3") {
      // MP3 used to be left unbridged: say it once per run at info level, where that warning was
      this.log.info(`audio bridge ${this.hub.name}: audio bridged mp3→opus at ${o.bitrate} bps${viewers}`);
    } else {
      this.log.trace(`audio bridge ${this.hub.name}: ${this.source}→${this.target} at ${o.bitrate} bps started${viewers}`);
    }
    return tx;
  }

  private run(tx: TranscoderHandle, p: MediaPacket): void {
    if (!p.config) {
      this.framesIn++;
      if (this.firstDts === undefined) this.firstDts = p.dts;
      else if (p.dts > this.lastDts) this.mediaMs += p.dts - this.lastDts;
      this.lastDts = p.dts;
    }
    tx.push(p);
  }

  /** The transcoder's packets, in order: into the hub as the derived rendition (never back to this bridge). */
  private deliver(tx: TranscoderHandle | undefined, out: MediaPacket[]): void {
    if (!tx || this.tx !== tx) return; // a finished run's late answer
    for (const q of out) {
      if (!q.config) this.packetsOut++;
      this.hub.publishDerived(q, this);
    }
  }

  onWant(codec: AudioCodec, count: number): void {
    if (this.onDemand && codec === this.target && count === 0 && this.tx) this.stop("no WebRTC viewer left, idle");
  }

  private stop(why: string): void {
    const tx = this.tx;
    if (!tx) return;
    this.tx = undefined;
    tx.close();
    this.doneCpuMs += tx.cpuMs;
    const s = tx.stats;
    this.log.trace(`audio bridge ${this.hub.name}: ${this.source}→${this.target} stopped (${why}): ${this.summary()}` +
      `${s.decodeErrors ? `, ${s.decodeErrors} decode errors` : ""}${s.concealed ? `, ${s.concealed} concealed` : ""}` +
      `${s.resyncs ? `, ${s.resyncs} resyncs` : ""}${tx.dropped ? `, ${tx.dropped} dropped (worker behind)` : ""}`);
  }

  /** Frames in/out and the CPU share: transcoder time per second of audio. */
  summary(): string {
    const cpu = this.cpuMs;
    const load = this.mediaMs > 0 ? `${((cpu / this.mediaMs) * 100).toFixed(2)}% of a core` : "n/a";
    return `${this.framesIn} frames in, ${this.packetsOut} out, ${(this.mediaMs / 1000).toFixed(1)}s of audio, ` +
      `cpu ${cpu.toFixed(0)}ms in the worker (${load})`;
  }

  onUnpublish(): void {
    this.close();
  }

  /** Stops transcoding and leaves the hub. */
  close(): void {
    this.stop("unpublish");
    this.subscription?.dispose();
    this.subscription = undefined;
  }
}
