/**
 * Starts the audio bridges (bridge.ts) of every published stream, per the vhost's `rtc` block:
 *  - rtc_to_rtmp on: Opus audio (WebRTC, or Opus in SRT/TS) -> AAC at aac_bitrate, for RTMP/FLV/TS/HLS/DVR;
 *  - rtmp_to_rtc on: AAC or MP3 audio (RTMP, SRT) -> Opus at opus_bitrate, only while WebRTC viewers watch.
 * Both bridges are attached at publish; each ignores audio that is not its source codec, so one publisher runs
 * at most one of them. The config is read at publish (a reload applies to the next publish). The transcoding
 * runs in the service's worker pool (pool.ts), started on first use.
 *
 * The service needs only the hub registry's lifecycle events, the vhost's rtc settings and a log: the hub knows
 * nothing of it (it only offers publishDerived and wantAudio/onWant).
 */
import type { HubLifecycle, StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import { AudioBridge } from "./bridge.ts";
import { type PoolOptions, TranscoderPool } from "./pool.ts";

/** The vhost settings the bridges follow (config `vhost.rtc`). */
export interface BridgeSettings {
  rtcToRtmp: boolean;
  rtmpToRtc: boolean;
  aacBitrate: number;
  opusBitrate: number;
}

/** What the service needs of the server. */
export interface AudioBridgePorts {
  log: Log;
  /** Registers for publish/unpublish of every stream. */
  listen(l: HubLifecycle): void;
  /** The rtc settings of a vhost, read at each publish. */
  rtcSettings(vhost: string): BridgeSettings | undefined;
}

export class AudioBridgeService {
  private active = new Map<StreamHub, AudioBridge[]>();
  readonly pool: TranscoderPool;

  constructor(private ports: AudioBridgePorts, pool?: PoolOptions) {
    this.pool = new TranscoderPool(ports.log, pool);
  }

  /** The bridges of a stream (stats, tests). */
  bridges(hub: StreamHub): readonly AudioBridge[] {
    return this.active.get(hub) ?? [];
  }

  start(): void {
    this.ports.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => this.onUnpublish(hub),
    });
  }

  /**
   * A stream published before the service started (it was loaded by that publish: lib/server.ts): its bridges
   * start now, unless it has left or already has them.
   */
  catchUp(hub: StreamHub): void {
    if (hub.active && !this.active.has(hub)) this.onPublish(hub);
  }

  /** Closes every bridge and stops the workers. */
  stop(): void {
    for (const hub of [...this.active.keys()]) this.onUnpublish(hub);
    this.pool.close();
  }

  private onPublish(hub: StreamHub): void {
    this.onUnpublish(hub);
    const rtc = this.ports.rtcSettings(hub.key.vhost);
    if (!rtc) return;
    const list: AudioBridge[] = [];
    if (rtc.rtcToRtmp) list.push(new AudioBridge(hub, { direction: "opus->aac", bitrate: rtc.aacBitrate }, this.pool));
    if (rtc.rtmpToRtc) list.push(new AudioBridge(hub, { direction: "aac->opus", bitrate: rtc.opusBitrate }, this.pool));
    if (!list.length) return;
    for (const b of list) b.start();
    this.active.set(hub, list);
  }

  private onUnpublish(hub: StreamHub): void {
    const list = this.active.get(hub);
    if (!list) return;
    this.active.delete(hub);
    for (const b of list) {
      b.close();
      if (b.framesIn) this.ports.log.trace(`audio bridge ${hub.name}: ${b.source}→${b.target} total ${b.summary()}`);
    }
  }
}
