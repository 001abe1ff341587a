/**
 * Starts the audio bridges (lib/hub/audio-bridge.ts) of every published stream, per the vhost's `rtc` block:
 *  - rtc_to_rtmp on: Opus audio (WebRTC, or Opus in SRT/TS) -> AAC at aac_bitrate, for RTMP/FLV/TS/HLS/DVR;
 *  - rtmp_to_rtc on: AAC or MP3 audio (RTMP, SRT) -> Opus at opus_bitrate, only while WebRTC viewers watch.
 * Both bridges are attached at publish; each ignores audio that is not its source codec, so one publisher runs
 * at most one of them. The config is read at publish (a reload applies to the next publish).
 */
import { AudioBridge } from "../hub/audio-bridge.ts";
import type { StreamHub } from "../hub/stream-hub.ts";
import type { ServerView } from "./server-view.ts";

/** What the audio bridges need of the server: the vhost's rtc block, publish events, the log. */
export type AudioBridgePorts = Pick<ServerView, "config" | "hubs" | "log">;

export class AudioBridgeService {
  private active = new Map<StreamHub, AudioBridge[]>();

  constructor(private ctx: AudioBridgePorts) {}

  /** The bridges of a stream (stats, tests). */
  bridges(hub: StreamHub): readonly AudioBridge[] {
    return this.active.get(hub) ?? [];
  }

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => this.onUnpublish(hub),
    });
  }

  private onPublish(hub: StreamHub): void {
    this.onUnpublish(hub);
    const rtc = this.ctx.config.vhost(hub.key.vhost)?.rtc;
    if (!rtc) return;
    const list: AudioBridge[] = [];
    if (rtc.rtcToRtmp) list.push(new AudioBridge(hub, { direction: "opus->aac", bitrate: rtc.aacBitrate }));
    if (rtc.rtmpToRtc) list.push(new AudioBridge(hub, { direction: "aac->opus", bitrate: rtc.opusBitrate }));
    if (!list.length) return;
    for (const b of list) b.start();
    this.active.set(hub, list);
  }

  private onUnpublish(hub: StreamHub): void {
    const list = this.active.get(hub);
    if (!list) return;
    this.active.delete(hub);
    for (const b of list) {
      if (b.framesIn) this.ctx.log.trace(`audio bridge ${hub.name}: ${b.source}→${b.target} total ${b.summary()}`);
      b.close();
    }
  }
}

export function startAudioBridges(ctx: AudioBridgePorts): AudioBridgeService {
  const s = new AudioBridgeService(ctx);
  s.start();
  return s;
}
