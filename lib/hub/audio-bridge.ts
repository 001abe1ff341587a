/**
 * The audio bridge: gives a stream the audio rendition its other side needs, inside the process (no FFmpeg).
 *
 *   AAC publisher (RTMP, SRT)  ──AacToOpus──▶  Opus for WebRTC viewers   (rtmp_to_rtc; only while one is watching)
 *   MP3 publisher (RTMP, SRT)  ──Mp3ToOpus──▶  Opus for WebRTC viewers   (the same bridge and direction)
 *   Opus publisher (WebRTC)    ──OpusToAac──▶  AAC for RTMP/FLV/TS/HLS/DVR (rtc_to_rtmp; always while published)
 *
 * One AudioBridge per hub and direction, a HubSubscriber attached when the stream is published (see
 * lib/services/audio-bridge.ts). It reads the publisher's audio packets (already on the hub's corrected timeline)
 * and hands what the transcoder makes to `hub.publishDerived`, which caches it as the hub's second audio
 * rendition and fans it out to every other subscriber; derived packets are never transcoded again. Outputs pick
 * the rendition they can play: FLV/RTMP/TS/HLS/DVR skip Opus, WebRTC skips AAC/MP3.
 *
 * AAC -> Opus runs only while `hub.wanted("opus") > 0` (WebRTC viewers call hub.wantAudio("opus", ±1)): it starts
 * on the next AAC frame after the first viewer joins (from the publisher's AudioSpecificConfig) and idles, freeing
 * its encoder, when the last one leaves. The "aac->opus" direction takes MP3 publishers too (lib/media/audio/
 * mp3-decoder.ts): `source` is then "mp3", and a change of the publisher's codec restarts the transcoder.
 */
import type { Log } from "../log/logger.ts";
import { AacToOpus, Mp3ToOpus, OpusToAac, type TranscoderStats } from "../media/audio/transcoder.ts";
import type { AudioCodec, MediaPacket } from "../media/packet.ts";
import type { HubSubscriber, StreamHub } from "./stream-hub.ts";

/** "aac->opus": AAC or MP3 publishers to Opus; "opus->aac": Opus publishers to AAC. */
export type BridgeDirection = "aac->opus" | "opus->aac";

export interface AudioBridgeOptions {
  direction: BridgeDirection;
  /** Output bitrate, bits per second (vhost rtc.opus_bitrate / rtc.aac_bitrate). */
  bitrate: number;
  /** opus->aac: the AAC sampling rate (default 48000: no resampling). */
  aacSampleRate?: 44100 | 48000;
}

interface Transcoder {
  push(p: MediaPacket): MediaPacket[];
  close(): void;
  readonly stats: TranscoderStats;
}

export class AudioBridge implements HubSubscriber {
  /** The publisher's codec being transcoded ("aac" or "mp3" towards Opus, "opus" towards AAC). */
  source: AudioCodec;
  readonly target: AudioCodec;
  private tx: Transcoder | undefined;
  private attached = false;
  /** Totals over every transcoder run of this bridge (a run ends when the bridge idles). */
  framesIn = 0;
  packetsOut = 0;
  runs = 0;
  /** Milliseconds of CPU (wall time inside the transcoder, single-threaded) and of audio transcoded. */
  cpuMs = 0;
  private firstDts: number | undefined;
  private lastDts = 0;
  private mediaMs = 0;

  constructor(readonly hub: StreamHub, readonly opts: AudioBridgeOptions, private log: Log = hub.log) {
    this.source = opts.direction === "aac->opus" ? "aac" : "opus";
    this.target = opts.direction === "aac->opus" ? "opus" : "aac";
  }

  /** Whether the bridge transcodes right now (aac->opus idles while no output wants Opus). */
  get running(): boolean {
    return this.tx !== undefined;
  }

  private get onDemand(): boolean {
    return this.opts.direction === "aac->opus";
  }

  /** Attaches to the hub (no replay: the bridge starts from the publisher's config and the next frames). */
  start(): void {
    if (this.attached) return;
    this.attached = true;
    this.hub.attach(this, false);
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
      tx = this.open();
      // Starting mid-stream: the publisher's sequence header first, moved to now so it does not reach back in time.
      const cfg = this.hub.audioConfig;
      if (!p.config && cfg && cfg.codec === this.source) this.run(tx, { ...cfg, dts: p.dts, pts: p.dts });
    }
    this.run(tx, p);
  }

  private open(): Transcoder {
    const o = this.opts;
    const tx = o.direction === "opus->aac"
      ? new OpusToAac({ bitrate: o.bitrate, sampleRate: o.aacSampleRate ?? 48000 })
      : this.source === "mp3"
      ? new Mp3ToOpus({ bitrate: o.bitrate })
      : new AacToOpus({ bitrate: o.bitrate });
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

  private run(tx: Transcoder, p: MediaPacket): void {
    const t0 = performance.now();
    const out = tx.push(p);
    this.cpuMs += performance.now() - t0;
    if (!p.config) {
      this.framesIn++;
      if (this.firstDts === undefined) this.firstDts = p.dts;
      else if (p.dts > this.lastDts) this.mediaMs += p.dts - this.lastDts;
      this.lastDts = p.dts;
    }
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
    const s = tx.stats;
    this.log.trace(`audio bridge ${this.hub.name}: ${this.source}→${this.target} stopped (${why}): ${this.summary()}` +
      `${s.decodeErrors ? `, ${s.decodeErrors} decode errors` : ""}${s.concealed ? `, ${s.concealed} concealed` : ""}` +
      `${s.resyncs ? `, ${s.resyncs} resyncs` : ""}`);
  }

  /** Frames in/out and the CPU share: transcoder time per second of audio. */
  summary(): string {
    const load = this.mediaMs > 0 ? `${((this.cpuMs / this.mediaMs) * 100).toFixed(2)}% of a core` : "n/a";
    return `${this.framesIn} frames in, ${this.packetsOut} out, ${(this.mediaMs / 1000).toFixed(1)}s of audio, ` +
      `cpu ${this.cpuMs.toFixed(0)}ms (${load})`;
  }

  onUnpublish(): void {
    this.close();
  }

  /** Stops transcoding and leaves the hub. */
  close(): void {
    this.stop("unpublish");
    if (this.attached) this.hub.detach(this);
    this.attached = false;
  }
}
