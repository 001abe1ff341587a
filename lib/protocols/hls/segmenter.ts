/**
 * The HLS segmenter: decides where segments start and end, as SRS's `hls_fragment`, `hls_wait_keyframe` and
 * `hls_aof_ratio` say, and hands the container's bytes to its events. It deals in MediaPackets only and never
 * touches files: the container is pluggable (SegmentContainer) so an fMP4/CMAF container for LL-HLS can reuse
 * the same cutting logic (Fmp4Container in fmp4.ts: `begin()` returns nothing and the init segment is written
 * once, `write()` buffers samples, `end()` emits moof+mdat). LL-HLS partial segments are a second, finer cut
 * inside the same loop (`partTarget`): the container's cutPart() emits the samples so far as one moof+mdat,
 * which is both a part (events.onPart) and the next bytes of the segment (a segment is its parts, in order).
 *
 * Cutting rules:
 *  - a stream with video (a video sequence header or frame seen) starts its first segment at a video keyframe;
 *    with `hls_wait_keyframe on` a segment ends at the first keyframe once it lasts >= hls_fragment, with it off
 *    at any frame once it lasts >= hls_fragment;
 *  - a pure-audio stream ends a segment once it lasts >= hls_fragment * hls_aof_ratio;
 *  - any stream force-ends a segment that lasts >= hls_fragment * hls_aof_ratio without a keyframe ("absolute
 *    overflow"), so a publisher with a huge GOP still gets segments.
 *  - with `partTarget`, a part ends before the packet that would make it longer than partTarget (video frames
 *    for streams with video, any packet for pure audio); a part starting on a keyframe is independent. The
 *    segment's last part ends where the segment does.
 */
import { TsMuxer, type TsMuxerOptions } from "../../formats/mpegts-mux.ts";
import type { MediaPacket } from "../../media/packet.ts";

/** A segment container: TS today, fMP4 later. */
export interface SegmentContainer {
  /** File extension without the dot ("ts", "m4s"). */
  readonly extension: string;
  /** Bytes every segment starts with (TS: PAT+PMT), null for none. */
  begin(): Uint8Array | null;
  /** A packet's bytes (config packets update the container's state and usually return null). */
  write(p: MediaPacket): Uint8Array | null;
  /**
   * Bytes that end a segment (fMP4: the buffered fragment), null for none. `next` is the packet the next
   * segment starts with (undefined when the stream ends).
   */
  end(next?: MediaPacket): Uint8Array | null;
  /** LL-HLS: the media so far as one self-contained chunk ending before `next`, null when there is none. */
  cutPart?(next: MediaPacket): Uint8Array | null;
}

/** MPEG-TS segments (RFC 8216 3.2). */
export class TsContainer implements SegmentContainer {
  readonly extension = "ts";
  readonly muxer: TsMuxer;
  constructor(opts: TsMuxerOptions = {}) {
    this.muxer = new TsMuxer(opts);
  }
  begin(): Uint8Array {
    return this.muxer.tables();
  }
  write(p: MediaPacket): Uint8Array | null {
    return this.muxer.mux(p);
  }
  end(): null {
    return null;
  }
}

export interface SegmentStart {
  seq: number;
  /** DTS (ms) of the segment's first packet. */
  startDts: number;
  /** First segment after a (re)publish or a timestamp jump. */
  discontinuity: boolean;
  /** Wall-clock time the segment opened. */
  openedAt: Date;
  /** The segment starts with a video keyframe (or is audio-only). */
  independent: boolean;
}

export interface SegmentEnd extends SegmentStart {
  /** Seconds. */
  duration: number;
  bytes: number;
}

/** An LL-HLS partial segment (its bytes were also given to onData, as part of its segment). */
export interface PartInfo {
  /** The segment's sequence number. */
  seq: number;
  /** Part index within the segment, from 0. */
  index: number;
  /** Seconds. */
  duration: number;
  /** Starts with a video keyframe (or the stream is audio-only). */
  independent: boolean;
  bytes: Uint8Array;
  /** The segment's last part. */
  last: boolean;
}

export interface SegmenterEvents {
  onOpen(s: SegmentStart): void;
  onData(bytes: Uint8Array): void;
  onClose(s: SegmentEnd): void;
  /** A partial segment completed (only with `partTarget`); called after its onData, before onClose. */
  onPart?(p: PartInfo): void;
}

export interface SegmenterOptions {
  /** hls_fragment, seconds. */
  fragment: number;
  /** hls_aof_ratio. */
  aofRatio: number;
  /** hls_wait_keyframe. */
  waitKeyframe: boolean;
  /** LL-HLS part target in seconds (hls_ll_part); 0 or unset: no parts. Needs a container with cutPart(). */
  partTarget?: number;
}

export class HlsSegmenter {
  private cur: (SegmentStart & { bytes: number; lastDts: number }) | undefined;
  private hasVideo = false;
  private pendingDiscontinuity = true;
  /** The open part: DTS it starts at, its index in the segment, whether it starts independent. */
  private partStart = 0;
  private partIndex = 0;
  private partIndependent = true;
  private lastClockDts: number | undefined;
  private frameMs = 40;
  /** The sequence number of the next segment. */
  seq: number;

  constructor(
    private opts: SegmenterOptions,
    private container: SegmentContainer,
    private events: SegmenterEvents,
    firstSeq = 0,
  ) {
    this.seq = firstSeq;
  }

  get open(): boolean {
    return this.cur !== undefined;
  }

  /** Seconds of media in the open segment so far. */
  get currentDuration(): number {
    return this.cur ? Math.max(0, this.cur.lastDts - this.cur.startDts) / 1000 : 0;
  }

  push(p: MediaPacket): void {
    if (p.kind === "data") return;
    if (p.kind === "video") this.hasVideo = true;
    if (p.config) {
      this.container.write(p);
      return;
    }
    const cur = this.cur;
    const isKey = p.kind === "video" && p.keyframe;
    // The "clock" of parts: video frames when the stream has video, else audio frames.
    const clock = this.hasVideo ? p.kind === "video" : true;
    if (clock) {
      if (this.lastClockDts !== undefined && p.dts > this.lastClockDts) this.frameMs = Math.min(200, p.dts - this.lastClockDts);
      this.lastClockDts = p.dts;
    }
    if (!cur) {
      if (this.hasVideo && !isKey) return; // start on a keyframe
      this.openAt(p, true);
    } else {
      const dur = (p.dts - cur.startDts) / 1000;
      const f = this.opts.fragment;
      let cut = false;
      if (dur < -1) {
        cut = true; // timestamps went back (a reset): new segment with a discontinuity
        this.pendingDiscontinuity = true;
      } else if (this.hasVideo) {
        if (dur >= f && (isKey || (!this.opts.waitKeyframe && p.kind === "video"))) cut = true;
        else if (dur >= f * this.opts.aofRatio && p.kind === "video") cut = true; // absolute overflow
      } else if (dur >= f * this.opts.aofRatio) {
        cut = true;
      }
      if (cut) {
        this.close(p.dts, p);
        this.openAt(p, isKey || !this.hasVideo);
      } else if (this.opts.partTarget && clock && p.dts - this.partStart + this.frameMs > this.opts.partTarget * 1000 + 0.5) {
        this.cutPart(p, isKey || !this.hasVideo);
      }
    }
    const b = this.container.write(p);
    if (b) this.emit(b);
    if (p.dts > this.cur!.lastDts) this.cur!.lastDts = p.dts;
  }

  private openAt(p: MediaPacket, independent: boolean): void {
    this.cur = {
      seq: this.seq++,
      startDts: p.dts,
      discontinuity: this.pendingDiscontinuity,
      openedAt: new Date(),
      independent,
      bytes: 0,
      lastDts: p.dts,
    };
    this.pendingDiscontinuity = false;
    this.partStart = p.dts;
    this.partIndex = 0;
    this.partIndependent = independent;
    this.events.onOpen(this.cur);
    const head = this.container.begin();
    if (head) this.emit(head);
  }

  private emit(b: Uint8Array): void {
    this.cur!.bytes += b.length;
    this.events.onData(b);
  }

  private cutPart(next: MediaPacket, independent: boolean): void {
    const b = this.container.cutPart?.(next) ?? null;
    if (!b) return; // nothing buffered yet (the container waits for its tracks): the part goes on
    this.emit(b);
    this.events.onPart?.({
      seq: this.cur!.seq, index: this.partIndex++, duration: Math.max(0, next.dts - this.partStart) / 1000,
      independent: this.partIndependent, bytes: b, last: false,
    });
    this.partStart = next.dts;
    this.partIndependent = independent;
  }

  private close(endDts: number, next?: MediaPacket): void {
    const c = this.cur!;
    const tail = this.container.end(next);
    if (tail) {
      this.emit(tail);
      if (this.opts.partTarget) {
        this.events.onPart?.({
          seq: c.seq, index: this.partIndex++, duration: Math.max(0, endDts - this.partStart) / 1000,
          independent: this.partIndependent, bytes: tail, last: true,
        });
      }
    }
    this.cur = undefined;
    this.events.onClose({
      seq: c.seq, startDts: c.startDts, discontinuity: c.discontinuity, openedAt: c.openedAt,
      independent: c.independent, duration: Math.max(0, endDts - c.startDts) / 1000, bytes: c.bytes,
    });
  }

  /**
   * Ends the open segment (unpublish). Its duration runs to the last packet plus `tailMs` (about one frame,
   * so the last frame counts).
   */
  finish(tailMs = 0): void {
    if (this.cur) this.close(this.cur.lastDts + tailMs);
    this.pendingDiscontinuity = true;
    this.hasVideo = false;
    this.lastClockDts = undefined;
  }
}
