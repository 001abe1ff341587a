/**
 * Low-Latency HLS (RFC 8216bis 4.4.3.7/4.4.3.8 server control and part info, 4.4.4.9 EXT-X-PART, 4.4.5.3
 * EXT-X-PRELOAD-HINT, 6.2.5.2 blocking playlist reload) for one stream, all in memory:
 *
 *  - the segments of the window (as the disk playlist has them) plus the open one, with the partial segments
 *    of the open segment and of the last `keepSegments` completed ones (older parts are dropped from memory
 *    and from the playlist; full segments are on disk, and served from the parts while still in memory);
 *  - the playlist, rendered when something changed, with EXT-X-SERVER-CONTROL (CAN-BLOCK-RELOAD=YES,
 *    PART-HOLD-BACK = 3 part targets), EXT-X-PART-INF, the parts and a preload hint for the next part;
 *  - blocking requests: `_HLS_msn=M[&_HLS_part=P]` waits (a promise per request, in one bounded list per
 *    stream, checked only when a part or segment completes) until segment M is complete or part P of M
 *    exists (a P past M's last part means part 0 of M+1), or until `timeoutMs`; a GET of the hinted part
 *    waits likewise until that part is complete.
 */
import type { PartInfo } from "./segmenter.ts";

export interface LlPart {
  index: number;
  /** Seconds. */
  duration: number;
  independent: boolean;
  bytes: Uint8Array;
  /** Path relative to hls_path (the URL path) and the URI written in the playlist. */
  url: string;
  uri: string;
}

interface LlSegment {
  seq: number;
  discontinuity: boolean;
  /** Part URL/URI prefix, decided when the segment opens. */
  partBase: string;
  partBaseUri: string;
  parts: LlPart[];
  complete: boolean;
  /** Known once complete. */
  duration: number;
  url: string;
  uri: string;
  /** The parts are still in memory (the segment can be served from them). */
  inMemory: boolean;
}

export interface LlOptions {
  /** Seconds (hls_ll_part). */
  partTarget: number;
  /** Seconds of completed segments listed (hls_window). */
  window: number;
  /** EXT-X-TARGETDURATION for a list of segment durations. */
  targetDuration(durations: number[]): number;
  /** Completed segments whose parts stay in memory and in the playlist. */
  keepSegments?: number;
  /** Blocking requests held at once, beyond which they are answered 503 at once. */
  maxWaiters?: number;
}

export type LlWaitResult = "ready" | "timeout" | "bad-request" | "busy";

interface Waiter {
  msn: number;
  part: number | undefined;
  /** A part URL (preload hint GET) instead of a playlist update. */
  url?: string;
  done: (r: LlWaitResult) => void;
}

/** `live/s-12.m4s` -> `live/s-12.` so its parts are `live/s-12.p0.m4s`, ... */
function partPrefix(segment: string): string {
  return segment.replace(/\.m4s$/, "") + ".";
}

export class LlHls {
  private segments: LlSegment[] = [];
  private parts = new Map<string, LlPart>();
  private waiters: Waiter[] = [];
  private text: string | undefined;
  private readonly keep: number;
  private readonly maxWaiters: number;
  private ended = false;
  /** The EXT-X-MAP URI (init segment). */
  map: string | undefined;

  constructor(private opts: LlOptions) {
    this.keep = opts.keepSegments ?? 3;
    this.maxWaiters = opts.maxWaiters ?? 1000;
  }

  get partTarget(): number {
    return this.opts.partTarget;
  }

  /** Playlist target duration (seconds, integer). */
  get targetDuration(): number {
    return this.opts.targetDuration(this.segments.filter((s) => s.complete).map((s) => s.duration));
  }

  /** Waiting requests (statistics, tests). */
  get waiting(): number {
    return this.waiters.length;
  }

  /** The stream (re)started publishing. */
  start(): void {
    this.ended = false;
    this.changed();
  }

  /** A segment opened: `url`/`uri` as decided at open (parts are named after it). */
  open(seq: number, discontinuity: boolean, url: string, uri: string): void {
    this.segments.push({
      seq, discontinuity, partBase: partPrefix(url), partBaseUri: partPrefix(uri), parts: [], complete: false,
      duration: 0, url, uri, inMemory: true,
    });
    this.changed();
  }

  part(p: PartInfo): void {
    const seg = this.segments.find((s) => s.seq === p.seq);
    if (!seg || seg.complete) return;
    const url = `${seg.partBase}p${p.index}.m4s`;
    const part: LlPart = {
      index: p.index, duration: p.duration, independent: p.independent, bytes: p.bytes, url,
      uri: `${seg.partBaseUri}p${p.index}.m4s`,
    };
    seg.parts.push(part);
    this.parts.set(url, part);
    this.changed();
  }

  /** The segment is complete: its final URL/URI (hls_ts_file may use [duration]) and duration. */
  close(seq: number, duration: number, url: string, uri: string): void {
    const seg = this.segments.find((s) => s.seq === seq);
    if (!seg) return;
    seg.complete = true;
    seg.duration = duration;
    seg.url = url;
    seg.uri = uri;
    // Older segments: parts out of memory and out of the playlist; the window as on disk.
    const done = this.segments.filter((s) => s.complete);
    for (const s of done.slice(0, Math.max(0, done.length - this.keep))) this.forgetParts(s);
    let sum = 0;
    let keepFrom = 0;
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i]!;
      if (!s.complete) continue;
      sum += s.duration;
      if (sum >= this.opts.window) {
        keepFrom = i;
        break;
      }
    }
    for (const s of this.segments.splice(0, keepFrom)) this.forgetParts(s);
    this.changed();
  }

  /** The publisher left: nothing more will come, every waiting request is answered. */
  stop(): void {
    this.ended = true;
    this.segments = this.segments.filter((s) => s.complete);
    this.changed();
  }

  /** Everything is gone (hls_dispose). */
  clear(): void {
    for (const s of this.segments) this.forgetParts(s);
    this.segments = [];
    this.stop();
  }

  private forgetParts(s: LlSegment): void {
    for (const p of s.parts) this.parts.delete(p.url);
    s.parts = [];
    s.inMemory = false;
  }

  private changed(): void {
    this.text = undefined;
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.ended) w.done(w.url ? "timeout" : "ready");
      else if (w.url) {
        if (this.parts.has(w.url)) w.done("ready");
        else if (!this.isHint(w.url)) w.done("timeout"); // the segment ended before that part
        else still.push(w);
      } else if (this.satisfied(w.msn, w.part)) w.done("ready");
      else still.push(w);
    }
    this.waiters = still;
  }

  private satisfied(msn: number, part: number | undefined): boolean {
    const first = this.segments[0];
    if (!first || msn < first.seq) return first !== undefined;
    for (const s of this.segments) {
      if (s.seq > msn && (s.parts.length > 0 || s.complete)) return true;
      if (s.seq === msn) {
        if (part === undefined) {
          if (s.complete) return true;
        } else if (s.parts.length > part) return true;
      }
    }
    return false;
  }

  /** The URL the preload hint names: the next part of the open segment. */
  private hintUrl(): string | undefined {
    const open = this.segments[this.segments.length - 1];
    if (!open || open.complete || this.ended) return undefined;
    return `${open.partBase}p${open.parts.length}.m4s`;
  }

  private isHint(url: string): boolean {
    return url === this.hintUrl();
  }

  /** The playlist now (RFC 8216bis 4.4.3.7, 4.4.3.8, 4.4.4.9, 4.4.5.3). */
  render(): string {
    if (this.text !== undefined) return this.text;
    const pt = this.opts.partTarget;
    const lines = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(pt * 3).toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${pt.toFixed(3)}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.segments[0]?.seq ?? 0}`,
    ];
    this.segments.forEach((s, i) => {
      if (s.discontinuity && i > 0) lines.push("#EXT-X-DISCONTINUITY");
      if (this.map !== undefined && (i === 0 || s.discontinuity)) lines.push(`#EXT-X-MAP:URI="${this.map}"`);
      for (const p of s.parts) {
        lines.push(`#EXT-X-PART:DURATION=${p.duration.toFixed(3)},URI="${p.uri}"${p.independent ? ",INDEPENDENT=YES" : ""}`);
      }
      if (s.complete) lines.push(`#EXTINF:${s.duration.toFixed(3)},`, s.uri);
    });
    const hint = this.hintUrl();
    const open = this.segments[this.segments.length - 1];
    if (hint && open) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${open.partBaseUri}p${open.parts.length}.m4s"`);
    this.text = lines.join("\n") + "\n";
    return this.text;
  }

  /** The newest segment number and its part count (what a client would ask for next). */
  get last(): { msn: number; parts: number } | undefined {
    const s = this.segments[this.segments.length - 1];
    return s ? { msn: s.seq, parts: s.parts.length } : undefined;
  }

  /**
   * A blocking playlist reload (RFC 8216bis 6.2.5.2): resolves "ready" once the playlist has segment `msn`
   * complete (or, with `part`, that part of it), "timeout" after `timeoutMs`, "bad-request" at once for an
   * msn more than two segments ahead, "busy" when too many requests wait already.
   */
  wait(msn: number, part: number | undefined, timeoutMs: number): Promise<LlWaitResult> {
    if (this.ended || this.satisfied(msn, part)) return Promise.resolve("ready");
    const last = this.segments[this.segments.length - 1];
    if (!last) return this.hold({ msn, part }, timeoutMs);
    if (msn > last.seq + 2) return Promise.resolve("bad-request");
    if (part !== undefined && msn === last.seq && part > last.parts.length + 3) return Promise.resolve("bad-request");
    return this.hold({ msn, part }, timeoutMs);
  }

  /** A part's bytes (undefined when unknown or already dropped). */
  partBytes(url: string): Uint8Array | undefined {
    return this.parts.get(url)?.bytes;
  }

  /** A complete segment still held as parts (served while its file may still be being written). */
  segmentBytes(url: string): Uint8Array[] | undefined {
    const s = this.segments.find((x) => x.complete && x.inMemory && x.url === url && x.parts.length > 0);
    return s?.parts.map((p) => p.bytes);
  }

  /**
   * GET of a part: its bytes if complete; for the preload hint's part, waits until it is (undefined on
   * timeout, or when the segment ended without it).
   */
  async waitPart(url: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    const have = this.parts.get(url);
    if (have) return have.bytes;
    if (!this.isHint(url)) return undefined;
    const r = await this.hold({ msn: -1, part: undefined, url }, timeoutMs);
    return r === "ready" ? this.parts.get(url)?.bytes : undefined;
  }

  private hold(w: Omit<Waiter, "done">, timeoutMs: number): Promise<LlWaitResult> {
    if (this.waiters.length >= this.maxWaiters) return Promise.resolve("busy");
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = {
        ...w,
        done: (r) => {
          if (timer) clearTimeout(timer);
          resolve(r);
        },
      };
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        resolve("timeout");
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}
