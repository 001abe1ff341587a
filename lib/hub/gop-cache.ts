/**
 * The GOP cache: the packets since the last video keyframe, so a new player starts decoding at once.
 * Mirrors SRS's rules: cleared on every keyframe; `gop_cache_max_frames` bounds it (exceeding it clears the
 * cache until the next keyframe); a stream that turns out to be audio-only (more than 115 audio packets since
 * the last video) keeps no cache, as SRS does.
 */
import type { MediaPacket } from "../media/packet.ts";

const PURE_AUDIO_GUESS = 115;

export class GopCache {
  private packets: MediaPacket[] = [];
  private videoCount = 0;
  private audioAfterVideo = 0;
  private overflowed = false;

  constructor(public enabled: boolean, public maxFrames: number) {}

  clear(): void {
    this.packets = [];
    this.videoCount = 0;
    this.audioAfterVideo = 0;
  }

  get size(): number {
    return this.packets.length;
  }

  push(p: MediaPacket): void {
    if (!this.enabled || p.config || p.kind === "data") return;
    if (p.kind === "video") {
      if (p.keyframe) {
        this.clear();
        this.overflowed = false;
      } else if (this.overflowed || this.videoCount === 0) {
        // No keyframe cached yet (or we gave up on this GOP): nothing useful to start a player with.
        return;
      }
      this.videoCount++;
      this.audioAfterVideo = 0;
    } else {
      this.audioAfterVideo++;
      if (this.audioAfterVideo > PURE_AUDIO_GUESS) {
        if (this.packets.length) this.clear();
        return;
      }
      if (this.videoCount === 0) return;
    }
    if (this.maxFrames > 0 && this.packets.length >= this.maxFrames) {
      this.clear();
      this.overflowed = true;
      return;
    }
    this.packets.push(p);
  }

  /** The cached packets, oldest first (starting with a keyframe). Do not mutate. */
  snapshot(): readonly MediaPacket[] {
    return this.packets;
  }
}
