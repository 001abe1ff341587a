/**
 * Hub packets -> fragmented MP4: one init segment (ftyp + moov with mvex) then media fragments (moof + mdat).
 *
 * Tracks come from the stream's sequence headers (H.264/HEVC/AAC) or its first MP3 frame. The init segment is
 * written once both a video and an audio track are known, or after `trackWaitMs` of media with only one (the
 * packets seen meanwhile are kept and written after it). A track that appears later, or a codec this muxer
 * does not store, is reported through `sink.warn` and its packets skipped.
 *
 * Timing: video uses a 90 kHz timescale (ms x 90, composition offsets from pts - dts); audio uses the sample
 * rate with frame-exact durations (1024/960 AAC, 1152/576 MP3 samples) as long as the packet timestamps agree
 * within a frame, and jumps to the packet's timestamp across a gap. A sample's duration is the distance to the
 * next sample of its track, so the newest sample of each track is held back until the next one (or end())
 * arrives. Video before the first keyframe is skipped: every file starts decodable.
 *
 * Fragments are cut before a video keyframe once `fragmentMs` (1 s) have passed (any packet for audio-only
 * streams), and unconditionally after `maxFragmentMs` (3 s), which bounds both memory and what a crash can
 * lose. An fMP4 HLS/DASH segmenter sets both to Infinity and cuts where it wants with cutBefore(ms): the held
 * back samples are completed up to that time (audio with its frame duration) and flushed, so the next
 * fragment starts exactly with the next packet pushed.
 */
import type { MediaPacket } from "../../media/packet.ts";
import { encodeFragmentParts, type FragmentSample } from "./fragment.ts";
import { encodeInitSegment } from "./moov.ts";
import { audioTrack, isMp4Codec, type Mp4Track, videoTrack } from "./track.ts";

export interface Mp4MuxerOptions {
  /** Cut at the first video keyframe after this many ms of media (default 1000). */
  fragmentMs?: number;
  /** Cut regardless of keyframes after this many ms (default 3000: a 2 s GOP still cuts on its keyframes). */
  maxFragmentMs?: number;
  /** How long (ms of media) to wait for the second track before writing the init segment (default 1000). */
  trackWaitMs?: number;
}

export interface FragmentInfo {
  sequence: number;
  /** Decode time of the fragment's first sample and its length, ms. */
  startMs: number;
  durationMs: number;
  bytes: number;
  samples: number;
  /** The fragment's video run starts with a sync sample (or the fragment is audio-only). */
  keyframe: boolean;
}

export interface Mp4MuxerSink {
  /** The init segment (ftyp + moov), once, before any fragment. */
  init(bytes: Uint8Array, tracks: readonly Mp4Track[]): void;
  /** One fragment as buffers for a vectored write (moof + mdat header, then sample payloads). */
  fragment(parts: Uint8Array[], info: FragmentInfo): void;
  /** Something was skipped (unsupported codec, late track, changed sequence header). */
  warn?(message: string): void;
}

interface Pending {
  dts: number;
  cto: number;
  sync: boolean;
  data: Uint8Array;
  ms: number;
}

interface TrackState {
  track: Mp4Track;
  samples: FragmentSample[];
  /** Decode time (track timescale) of samples[0]. */
  firstDts: number;
  firstMs: number;
  last: Pending | undefined;
  lastDuration: number;
  nextAudioDts: number | undefined;
  started: boolean;
}

export class FragmentedMp4Muxer {
  private readonly fragmentMs: number;
  private readonly maxFragmentMs: number;
  private readonly trackWaitMs: number;
  private videoConfig: MediaPacket | undefined;
  private audioConfig: MediaPacket | undefined;
  private preInit: MediaPacket[] = [];
  private states: TrackState[] = [];
  private video: TrackState | undefined;
  private audio: TrackState | undefined;
  private sequence = 1;
  private fragStartMs: number | undefined;
  private warned = new Set<string>();
  private ended = false;
  /** The tracks of the init segment (empty before it). */
  tracks: Mp4Track[] = [];
  /** Statistics. */
  fragments = 0;
  samples = 0;
  firstMs: number | undefined;
  lastMs: number | undefined;

  constructor(private sink: Mp4MuxerSink, opts: Mp4MuxerOptions = {}) {
    this.fragmentMs = opts.fragmentMs ?? 1000;
    this.maxFragmentMs = Math.max(this.fragmentMs, opts.maxFragmentMs ?? 3000);
    this.trackWaitMs = opts.trackWaitMs ?? 1000;
  }

  get started(): boolean {
    return this.tracks.length > 0;
  }

  private warn(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.sink.warn?.(msg);
  }

  push(p: MediaPacket): void {
    if (this.ended || p.kind === "data") return;
    if (!isMp4Codec(p.codec)) {
      this.warn(`codec-${p.codec}`, `mp4: ${p.kind} codec ${p.codec} is not stored, skipping its packets`);
      return;
    }
    if (p.config) {
      if (!this.started) {
        if (p.kind === "video") this.videoConfig = p;
        else this.audioConfig = p;
        return;
      }
      const st = p.kind === "video" ? this.video : this.audio;
      if (!st) this.warn(`late-${p.kind}`, `mp4: ${p.kind} track appeared after the init segment, skipping it`);
      else if (!sameBytes(st.track.config, p.data)) {
        this.warn(`changed-${p.kind}`, `mp4: ${p.kind} sequence header changed mid-file, keeping the first one`);
      }
      return;
    }
    if (!this.started) {
      if (p.kind === "video" && !this.videoConfig) return this.warn("nocfg-video", "mp4: video frame before its sequence header, skipped");
      if (p.kind === "audio" && p.codec === "aac" && !this.audioConfig) {
        return this.warn("nocfg-audio", "mp4: AAC frame before its sequence header, skipped");
      }
      this.preInit.push(p);
      const haveAudio = this.audioConfig !== undefined || this.preInit.some((x) => x.kind === "audio" && x.codec === "mp3");
      const span = p.dts - this.preInit[0]!.dts;
      if ((this.videoConfig && haveAudio) || span >= this.trackWaitMs) this.start();
      return;
    }
    this.add(p);
  }

  private start(): void {
    const frames = this.preInit;
    this.preInit = [];
    let id = 1;
    if (this.videoConfig) {
      try {
        this.video = this.newState(videoTrack(id++, this.videoConfig));
      } catch (e) {
        this.warn("bad-video", `mp4: bad video sequence header: ${(e as Error).message}`);
      }
    }
    const audioSrc = this.audioConfig ?? frames.find((x) => x.kind === "audio" && x.codec === "mp3");
    if (audioSrc) {
      try {
        this.audio = this.newState(audioTrack(id++, audioSrc));
      } catch (e) {
        this.warn("bad-audio", `mp4: bad audio config: ${(e as Error).message}`);
      }
    }
    this.states = [this.video, this.audio].filter((s): s is TrackState => s !== undefined);
    this.tracks = this.states.map((s) => s.track);
    if (this.tracks.length === 0) return;
    this.sink.init(encodeInitSegment(this.tracks), this.tracks);
    for (const f of frames) this.add(f);
  }

  private newState(track: Mp4Track): TrackState {
    return { track, samples: [], firstDts: 0, firstMs: 0, last: undefined, lastDuration: 0, nextAudioDts: undefined, started: false };
  }

  private add(p: MediaPacket): void {
    const st = p.kind === "video" ? this.video : this.audio;
    if (!st) return this.warn(`late-${p.kind}`, `mp4: ${p.kind} track appeared after the init segment, skipping it`);
    if (st.track.codec !== p.codec) return this.warn(`mixed-${p.kind}`, `mp4: ${p.kind} codec changed to ${p.codec}, skipping it`);
    if (p.kind === "video" && !st.started && !p.keyframe) return;
    st.started = true;
    const t = st.track;
    let dts: number;
    let cto = 0;
    if (t.kind === "video") {
      dts = Math.round(p.dts * 90);
      cto = Math.round((p.pts - p.dts) * 90);
    } else {
      const actual = Math.round((p.dts * t.timescale) / 1000);
      const expected = st.nextAudioDts;
      dts = expected !== undefined && actual <= expected + t.frameSamples ? expected : actual;
      st.nextAudioDts = dts + t.frameSamples;
    }
    const last = st.last;
    if (last) {
      if (dts <= last.dts) dts = last.dts + 1;
      const duration = dts - last.dts;
      this.complete(st, last, duration);
      if (t.kind === "audio") st.nextAudioDts = dts + t.frameSamples;
    }
    // Cut before this packet when the fragment is long enough.
    if (this.fragStartMs !== undefined && this.hasSamples()) {
      const elapsed = p.dts - this.fragStartMs;
      const cutPoint = p.kind === "video" ? p.keyframe : !this.video?.started;
      if ((elapsed >= this.fragmentMs && cutPoint) || elapsed >= this.maxFragmentMs) this.flush();
    }
    st.last = { dts, cto, sync: t.kind === "audio" || p.keyframe, data: p.data, ms: p.dts };
    this.fragStartMs ??= p.dts;
    this.firstMs ??= p.dts;
    this.lastMs = Math.max(this.lastMs ?? p.dts, p.dts);
  }

  private complete(st: TrackState, s: Pending, duration: number): void {
    if (st.samples.length === 0) {
      st.firstDts = s.dts;
      st.firstMs = s.ms;
    }
    st.samples.push({ duration, cto: s.cto, sync: s.sync, data: s.data });
    st.lastDuration = duration;
  }

  private hasSamples(): boolean {
    return this.states.some((s) => s.samples.length > 0);
  }

  /** Emits the completed samples as a fragment (nothing when there are none). */
  flush(): void {
    const runs = this.states.filter((s) => s.samples.length > 0);
    if (runs.length === 0) return;
    let samples = 0;
    let startMs = Infinity;
    let endMs = 0;
    for (const s of runs) {
      samples += s.samples.length;
      const dur = s.samples.reduce((a, x) => a + x.duration, 0);
      startMs = Math.min(startMs, (s.firstDts * 1000) / s.track.timescale);
      endMs = Math.max(endMs, ((s.firstDts + dur) * 1000) / s.track.timescale);
    }
    const parts = encodeFragmentParts(this.sequence, runs.map((s) => ({ track: s.track, baseDts: s.firstDts, samples: s.samples })));
    const keyframe = this.video ? (this.video.samples[0]?.sync ?? true) : true;
    const info: FragmentInfo = {
      sequence: this.sequence++, startMs, durationMs: endMs - startMs, samples,
      bytes: parts.reduce((n, b) => n + b.length, 0), keyframe,
    };
    for (const s of runs) s.samples = [];
    this.fragStartMs = undefined;
    for (const s of this.states) if (s.last) this.fragStartMs = Math.min(this.fragStartMs ?? s.last.ms, s.last.ms);
    this.fragments++;
    this.samples += samples;
    this.sink.fragment(parts, info);
  }

  /**
   * Cuts a fragment before a packet at `nextMs` (the next push()): completes each track's held-back sample
   * (video lasts until `nextMs`, or its previous duration when that is not later; audio one frame) and
   * emits everything as a fragment. Returns false when there was nothing to emit.
   */
  cutBefore(nextMs: number): boolean {
    if (this.ended || !this.started) return false;
    for (const st of this.states) {
      const last = st.last;
      if (!last) continue;
      let d: number;
      if (st.track.kind === "audio") d = st.track.frameSamples;
      else {
        d = Math.round(nextMs * 90) - last.dts;
        if (d <= 0) d = st.lastDuration || 3600;
      }
      this.complete(st, last, d);
      st.last = undefined;
    }
    if (!this.hasSamples()) return false;
    this.flush();
    return true;
  }

  /** Ends the stream: the held-back samples get the previous duration (or one frame) and a last fragment. */
  end(): void {
    if (this.ended) return;
    if (!this.started && this.preInit.length > 0) this.start();
    this.ended = true;
    for (const st of this.states) {
      if (!st.last) continue;
      const d = st.lastDuration || (st.track.kind === "audio" ? st.track.frameSamples : 3600);
      this.complete(st, st.last, d);
      st.last = undefined;
    }
    this.flush();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
