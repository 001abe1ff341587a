/**
 * Timestamp correction applied once per stream at the hub (SRS's `time_jitter`):
 *  - full: a monotonic timeline starting at 0; a jump of more than 250 ms (or back more than 250 ms) between
 *          consecutive packets is replaced by a nominal 10 ms step, so encoder restarts and wraps never
 *          reach players as huge gaps;
 *  - zero: the first timestamp becomes 0, everything else keeps its spacing;
 *  - off : timestamps pass through.
 * Unlike SRS, which corrects per consumer, we correct once per stream so every player of a format can share
 * the same encoded bytes; a player that joins later sees the stream's running time instead of starting at 0.
 * Composition time (pts - dts) is preserved in every mode.
 *
 * Metadata (script data) always gets timestamp 0, in every mode, as SRS's consumer jitter does (srs_app_source.cpp,
 * SrsRtmpJitter::correct: "set to 0 for metadata"): FFmpeg's FLV demuxer reads an onMetaData tag with a non-zero
 * timestamp as a data stream, so a player of a stream whose encoder stamps metadata with its running time
 * (GStreamer's flvmux ! rtmp2sink) would see a third "Subtitle: text" stream. Every output (RTMP, HTTP-FLV, the
 * start-up replay, live metadata updates, forward, DVR) takes the hub's packet, so this is the one place.
 */
import type { MediaPacket } from "../media/packet.ts";

export type JitterMode = "full" | "zero" | "off";

const MAX_JITTER_MS = 250;
const DEFAULT_FRAME_MS = 10;

export class TimeJitter {
  private lastIn = -1;
  private lastOut = -1;
  private base = -1;

  constructor(readonly mode: JitterMode) {}

  /**
   * A new publisher. In `full` mode the timeline continues where the last publisher left it, so players that
   * stay connected across a republish never see time go backwards; `zero` starts again at 0.
   */
  reset(): void {
    this.lastIn = -1;
    this.base = -1;
    if (this.mode !== "full") this.lastOut = -1;
  }

  /** Returns the corrected dts; the caller shifts pts by the same amount. */
  correct(p: MediaPacket): void {
    if (p.kind === "data") {
      p.dts = p.pts = 0;
      return;
    }
    const cts = p.pts - p.dts;
    let dts = p.dts;
    if (this.mode === "off") return;
    // Sequence headers carry no timing of their own in most encoders (often 0): keep them at the current point
    // of the timeline instead of letting them move it.
    if (p.config) {
      const at = Math.max(0, this.lastOut);
      p.dts = at;
      p.pts = at + cts;
      return;
    }
    if (this.mode === "zero") {
      if (this.base < 0) this.base = dts;
      dts = Math.max(0, dts - this.base);
    } else {
      if (this.lastIn < 0) {
        dts = this.lastOut < 0 ? 0 : this.lastOut + DEFAULT_FRAME_MS;
      } else {
        let delta = dts - this.lastIn;
        if (delta > MAX_JITTER_MS || delta < -MAX_JITTER_MS) delta = DEFAULT_FRAME_MS;
        dts = Math.max(0, this.lastOut + delta);
      }
      this.lastIn = p.dts;
    }
    this.lastOut = dts;
    p.dts = dts;
    p.pts = dts + cts;
  }
}

