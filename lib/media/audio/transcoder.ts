/**
 * Audio bridge between AAC (RTMP/FLV/HLS/SRT side) and Opus (WebRTC side), inside the process: no FFmpeg.
 *
 * API (for the RTC bridge / hub integration):
 *
 *   import { AacToOpus, Mp3ToOpus, OpusToAac } from "lib/media/audio/transcoder.ts";
 *
 *   // publisher AAC -> WebRTC players
 *   const a2o = new AacToOpus({ bitrate: 64000 });         // opus_bitrate; channels default: the source's (max 2)
 *   for (const out of a2o.push(packet)) send(out);         // feed EVERY audio MediaPacket of the stream, in order
 *   a2o.close();                                           // frees the WebAssembly encoder
 *
 *   // publisher MP3 -> WebRTC players (same options and output as AacToOpus; the decoder is WebAssembly: async)
 *   const m2o = await Mp3ToOpus.create({ bitrate: 64000 });
 *   for (const out of m2o.push(packet)) send(out);
 *
 *   // WebRTC publisher Opus -> RTMP/FLV/HLS players
 *   const o2a = new OpusToAac({ bitrate: 96000, sampleRate: 44100 });  // aac_bitrate; AAC rate 44100 or 48000
 *   for (const out of o2a.push(packet)) hub.publish(out);  // first output is the AAC sequence header (config)
 *   o2a.close();
 *
 * push() takes a MediaPacket (lib/media/packet.ts) and returns the MediaPackets of the other codec produced so far
 * (zero or more; never throws on bad media — corrupt frames are concealed and counted in `stats`):
 *  - AacToOpus input: the AAC config packet (AudioSpecificConfig; required before frames, may change mid-stream)
 *    and raw AAC-LC frames (1024 samples). Output: one Opus config packet (OpusHead, RFC 7845 5.1) whenever the
 *    configuration changes, then Opus packets of 20 ms (960 samples at 48 kHz), codec "opus".
 *  - OpusToAac input: Opus packets (any TOC; an optional OpusHead config packet sets the channel count, default
 *    stereo). Output: the AAC config packet (ASC) once, then raw AAC-LC frames (codec "aac", flvAudioFlags 0xAF/0xAE).
 *  - Mp3ToOpus input: MPEG-1/2/2.5 Layer III (and I/II) packets (one or more whole frames each, as FLV/RTMP,
 *    TS and files carry them; there is no config packet). Output: an OpusHead when the first frame arrives and whenever the
 *    sampling rate or channel count changes, then 20 ms Opus packets as for AacToOpus. Frames are 1152 samples
 *    (MPEG-1) or 576 (MPEG-2/2.5); the first frames after joining a stream may need bit-reservoir data sent
 *    before them and decode to silence.
 *    Packets whose codec is not the expected one are ignored.
 *
 * Timestamps are exact: the first input packet's dts anchors the timeline; after that every output timestamp is
 * derived from sample counts (anchor + round(samples * 1000 / rate)), never by adding rounded frame durations, so
 * there is no drift however long the stream runs. Opus packet j of an AacToOpus stream has dts = pts = anchor +
 * 20 * j ms; the resampler is zero-phase, so that is exactly the time of its first sample. OpusToAac drops the
 * encoder's priming frame so that each AAC frame's timestamp is the time of the audio it decodes to.
 * Gaps in the input timeline (lost packets) of up to 8 frames are filled with concealment (AAC decoder fade-out /
 * Opus PLC), keeping the sample count continuous; bigger jumps, or timestamps going backwards, restart the timeline
 * at the new packet (state is reset and a partial output frame is dropped).
 *
 * Cost on this machine (bench/audio-bridge.ts): about 1-2 % of one core per stream and direction.
 */
import type { MediaPacket } from "../packet.ts";
import { AacDecoder } from "./aac-decoder.ts";
import { AacEncoder } from "./aac-encoder.ts";
import { Mp3Decoder, mp3FrameSpans } from "./mp3-decoder.ts";
import { OpusDecoder, OpusEncoder, opusPacketSamples } from "./opus.ts";
import { Resampler } from "./resampler.ts";
import { parseMpegAudioHeader } from "../mp3.ts";

export interface TranscoderStats {
  /** Input frames decoded. */
  framesIn: number;
  /** Output packets produced (config packets excluded). */
  packetsOut: number;
  /** Input frames that were corrupt or undecodable (concealed). */
  decodeErrors: number;
  /** Frames synthesized for gaps in the input timeline. */
  concealed: number;
  /** Times the timeline restarted (large jump, backwards timestamps, new configuration). */
  resyncs: number;
}

function newStats(): TranscoderStats {
  return { framesIn: 0, packetsOut: 0, decodeErrors: 0, concealed: 0, resyncs: 0 };
}

export { buildOpusHead, opusHeadChannels } from "../opus-head.ts";
import { buildOpusHead, opusHeadChannels } from "../opus-head.ts";

const MAX_CONCEAL = 8;

/** A growable planar sample FIFO. */
class Fifo {
  bufs: Float32Array[];
  fill = 0;
  constructor(channels: number, size: number) {
    this.bufs = [];
    for (let c = 0; c < channels; c++) this.bufs.push(new Float32Array(size));
  }
  /** Room for n more samples; returns the write offset. */
  reserve(n: number): number {
    if (this.fill + n > this.bufs[0]!.length) {
      const size = Math.max(this.fill + n, this.bufs[0]!.length * 2);
      this.bufs = this.bufs.map((b) => {
        const nb = new Float32Array(size);
        nb.set(b.subarray(0, this.fill));
        return nb;
      });
    }
    return this.fill;
  }
  consume(n: number): void {
    for (const b of this.bufs) b.copyWithin(0, n, this.fill);
    this.fill -= n;
  }
}

export interface AacToOpusOptions {
  /** Opus bitrate in bits per second (opus_bitrate; default 64000 stereo / 32000 mono). */
  bitrate?: number;
  /** Output channels (default: the source's, at most 2). */
  channels?: 1 | 2;
  /** Opus encoder complexity 0..10 (default 5). */
  complexity?: number;
}

/**
 * The Opus side shared by every X -> Opus transcoder: decoded PCM (already mapped to the output channels) is
 * resampled to 48 kHz, gathered into 960-sample frames and encoded; each Opus packet's timestamp is derived from
 * sample counts since an anchor, so the timeline never drifts. It also decides, from a frame's timestamp,
 * whether frames were lost (conceal them) or the timeline jumped (restart at the new anchor).
 */
class OpusOut {
  channels: 1 | 2 = 2;
  inRate = 0;
  private resampler: Resampler | undefined;
  private encoder: OpusEncoder | undefined;
  private fifo: Fifo | undefined;
  /** Timeline anchor (ms) and samples since it: input (at inRate) and output (at 48 kHz). */
  private anchor: number | undefined;
  private inSamples = 0;
  private outSamples = 0;

  constructor(private readonly opts: AacToOpusOptions, private readonly stats: TranscoderStats) {}

  /** A new source format: fresh encoder and resampler; returns the OpusHead config packet at `dts`. */
  configure(inRate: number, srcChannels: number, dts: number): MediaPacket {
    this.inRate = inRate;
    this.channels = this.opts.channels ?? (srcChannels >= 2 ? 2 : 1);
    this.resampler = inRate === 48000 ? undefined : new Resampler(inRate, 48000, this.channels);
    this.encoder?.close();
    this.encoder = new OpusEncoder(
      { channels: this.channels, complexity: this.opts.complexity ?? 5, ...(this.opts.bitrate ? { bitrate: this.opts.bitrate } : {}) },
    );
    this.fifo = new Fifo(this.channels, 8192);
    if (this.anchor !== undefined) this.stats.resyncs++;
    this.anchor = undefined;
    return { kind: "audio", codec: "opus", dts, pts: dts, keyframe: false, config: true, data: buildOpusHead(this.channels, inRate) };
  }

  /**
   * Places a frame of `frameSamples` at `dts` on the timeline. Returns how many frames were lost before it (to
   * conceal), or -1 when the timeline (re)starts at `dts` (the caller resets its decoder).
   */
  advance(dts: number, frameSamples: number): number {
    if (this.anchor !== undefined) {
      const frameMs = (frameSamples * 1000) / this.inRate;
      const expected = this.anchor + (this.inSamples * 1000) / this.inRate;
      const missing = Math.round((dts - expected) / frameMs);
      if (missing <= MAX_CONCEAL && dts >= expected - 2 * frameMs) return Math.max(0, missing);
      this.stats.resyncs++;
    }
    this.anchor = dts;
    this.inSamples = 0;
    this.outSamples = 0;
    this.resampler?.reset();
    this.fifo!.fill = 0;
    return -1;
  }

  /** `n` samples per output channel -> resampler -> 960-sample Opus frames appended to `out`. */
  feed(src: Float32Array[], n: number, out: MediaPacket[]): void {
    const fifo = this.fifo!;
    this.inSamples += n;
    if (this.resampler) {
      const off = fifo.reserve(this.resampler.maxOutput(n));
      fifo.fill += this.resampler.process(src, n, fifo.bufs, off);
    } else {
      const off = fifo.reserve(n);
      for (let c = 0; c < this.channels; c++) fifo.bufs[c]!.set(src[c]!.subarray(0, n), off);
      fifo.fill += n;
    }
    while (fifo.fill >= 960) {
      const pkt = this.encoder!.encode(fifo.bufs, 0, 960);
      const ts = this.anchor! + Math.round((this.outSamples * 1000) / 48000);
      this.outSamples += 960;
      fifo.consume(960);
      if (!pkt) continue;
      this.stats.packetsOut++;
      out.push({ kind: "audio", codec: "opus", dts: ts, pts: ts, keyframe: false, config: false, data: pkt });
    }
  }

  close(): void {
    this.encoder?.close();
    this.encoder = undefined;
  }
}

/** Maps decoded planar PCM (source channels) to the output's 1 or 2 channels (mono = mean of the pair). */
function toOutputChannels(pcm: Float32Array[], pair: readonly [number, number], n: number, channels: 1 | 2, mono: Float32Array): Float32Array[] {
  const a = pcm[pair[0]]!;
  const b = pcm[pair[1]]!;
  if (channels === 2) return [a, b];
  if (a === b) return [a];
  for (let i = 0; i < n; i++) mono[i] = 0.5 * (a[i]! + b[i]!);
  return [mono];
}

/** AAC (MediaPackets) -> Opus (MediaPackets, 20 ms). */
export class AacToOpus {
  readonly stats: TranscoderStats = newStats();
  private decoder: AacDecoder | undefined;
  private readonly opus: OpusOut;
  /** The source channels feeding left/right: channel configurations 3+ start with the centre, then front L/R. */
  private pair: [number, number] = [0, 1];
  private readonly mono = new Float32Array(1024);

  constructor(o: AacToOpusOptions = {}) {
    this.opus = new OpusOut(o, this.stats);
  }

  push(p: MediaPacket): MediaPacket[] {
    const out: MediaPacket[] = [];
    if (p.kind !== "audio" || p.codec !== "aac") return out;
    try {
      if (p.config) {
        this.configure(p, out);
        return out;
      }
      if (!this.decoder) return out; // frames before any configuration
      this.frame(p, out);
    } catch {
      // Only an unexpected internal failure lands here (the codecs do not throw on bad media): drop the packet.
      this.stats.decodeErrors++;
    }
    return out;
  }

  private configure(p: MediaPacket, out: MediaPacket[]): void {
    const dec = new AacDecoder(p.data);
    if (this.decoder && dec.sampleRate === this.decoder.sampleRate && dec.channels === this.decoder.channels &&
      !dec.configError && !this.decoder.configError) {
      return; // repeated sequence header: keep the state
    }
    this.decoder = dec;
    const srcCh = dec.channels;
    this.pair = srcCh >= 3 ? [1, 2] : srcCh === 2 ? [0, 1] : [0, 0];
    out.push(this.opus.configure(dec.sampleRate, srcCh, p.dts));
  }

  private frame(p: MediaPacket, out: MediaPacket[]): void {
    const dec = this.decoder!;
    const missing = this.opus.advance(p.dts, 1024);
    if (missing < 0) dec.reset();
    for (let i = 0; i < missing; i++) {
      this.stats.concealed++;
      this.feed(dec.concealFrame(), out);
    }
    const r = dec.decode(p.data);
    this.stats.framesIn++;
    if (!r.ok) this.stats.decodeErrors++;
    this.feed(r.pcm, out);
  }

  private feed(pcm: Float32Array[], out: MediaPacket[]): void {
    this.opus.feed(toOutputChannels(pcm, this.pair, 1024, this.opus.channels, this.mono), 1024, out);
  }

  close(): void {
    this.opus.close();
    this.decoder = undefined;
  }
}

/** MP3 (MediaPackets, one or more Layer III frames each) -> Opus (MediaPackets, 20 ms). */
export class Mp3ToOpus {
  readonly stats: TranscoderStats = newStats();
  private readonly opus: OpusOut;
  private srcChannels = 0;
  private readonly mono = new Float32Array(1152);

  /** Use `Mp3ToOpus.create()`: the decoder's WebAssembly instance is made asynchronously. */
  private constructor(private readonly decoder: Mp3Decoder, o: AacToOpusOptions) {
    this.opus = new OpusOut(o, this.stats);
  }

  static async create(o: AacToOpusOptions = {}): Promise<Mp3ToOpus> {
    return new Mp3ToOpus(await Mp3Decoder.create(), o);
  }

  /** The MP3 decoder (its frame and error counters). */
  get mp3(): Mp3Decoder {
    return this.decoder;
  }

  push(p: MediaPacket): MediaPacket[] {
    const out: MediaPacket[] = [];
    if (p.kind !== "audio" || p.codec !== "mp3" || p.config) return out;
    try {
      const spans = mp3FrameSpans(p.data);
      if (!spans.length) {
        this.stats.decodeErrors++;
        return out;
      }
      let offsetSamples = 0; // frames after the first of a packet follow it without a timestamp of their own
      for (const [s, e] of spans) {
        const frame = p.data.subarray(s, e);
        const h = parseMpegAudioHeader(frame, 0);
        if (!h) {
          this.stats.decodeErrors++;
          continue;
        }
        if (h.sampleRate !== this.opus.inRate || h.channels !== this.srcChannels) {
          this.srcChannels = h.channels;
          out.push(this.opus.configure(h.sampleRate, h.channels, p.dts));
        }
        const dts = p.dts + (offsetSamples * 1000) / this.opus.inRate;
        offsetSamples += h.samplesPerFrame;
        this.frame(frame, dts, h.samplesPerFrame, out);
      }
    } catch {
      this.stats.decodeErrors++;
    }
    return out;
  }

  private frame(frame: Uint8Array, dts: number, samples: number, out: MediaPacket[]): void {
    // A restarted timeline keeps the decoder: libmpg123 checks each frame's bit reservoir itself.
    const missing = this.opus.advance(dts, samples);
    for (let i = 0; i < missing; i++) {
      this.stats.concealed++;
      const c = this.decoder.concealFrame();
      this.feed(c.pcm, c.samples, c.channels, out);
    }
    const errors = this.decoder.errors;
    const r = this.decoder.decodeFrame(frame);
    this.stats.framesIn++;
    if (this.decoder.errors !== errors) this.stats.decodeErrors++;
    this.feed(r.pcm, r.samples, r.channels, out);
  }

  private feed(pcm: Float32Array[], n: number, srcChannels: number, out: MediaPacket[]): void {
    if (n <= 0) return;
    const pair: [number, number] = srcChannels >= 2 ? [0, 1] : [0, 0];
    this.opus.feed(toOutputChannels(pcm, pair, n, this.opus.channels, this.mono), n, out);
  }

  close(): void {
    this.opus.close();
    this.opus.inRate = 0;
    this.srcChannels = 0;
    this.decoder.free();
  }
}

export interface OpusToAacOptions {
  /** AAC bitrate in bits per second (aac_bitrate; default 96000 stereo / 64000 mono). */
  bitrate?: number;
  /** AAC sampling rate: 48000 (no resampling, the default) or 44100 (most compatible with old FLV players). */
  sampleRate?: 44100 | 48000;
  /** Output channels (default: from the OpusHead if one is pushed, else 2). */
  channels?: 1 | 2;
  /**
   * Decoded samples (48 kHz) to drop at the start of the timeline: the sender's encoder look-ahead, so the AAC
   * timestamps are those of the captured audio. Default: the OpusHead's pre-skip if one is pushed, else 312
   * (libopus's look-ahead, what browsers send).
   */
  preSkip?: number;
}

/** Opus (MediaPackets) -> AAC-LC (MediaPackets). */
export class OpusToAac {
  readonly stats: TranscoderStats = newStats();
  private readonly opts: OpusToAacOptions;
  private readonly rate: number;
  private channels: 1 | 2;
  private decoder: OpusDecoder | undefined;
  private resampler: Resampler | undefined;
  private encoder: AacEncoder | undefined;
  private fifo: Fifo | undefined;
  private configSent = false;
  private anchor: number | undefined;
  /** Samples at 48 kHz since the anchor (input), AAC frames encoded since the anchor (output). */
  private inSamples = 0;
  private aacFrames = 0;
  private lastPacketSamples = 960;
  private preSkip: number;
  private skipLeft = 0;

  constructor(o: OpusToAacOptions = {}) {
    this.opts = o;
    this.rate = o.sampleRate ?? 48000;
    this.channels = o.channels ?? 2;
    this.preSkip = Math.max(0, Math.min(48000, o.preSkip ?? 312));
  }

  /** The AudioSpecificConfig of the output (available once the first packet was pushed). */
  get audioSpecificConfig(): Uint8Array | undefined {
    return this.encoder?.config;
  }

  push(p: MediaPacket): MediaPacket[] {
    const out: MediaPacket[] = [];
    if (p.kind !== "audio" || p.codec !== "opus") return out;
    try {
      if (p.config) {
        const ch = opusHeadChannels(p.data);
        if (ch && this.opts.preSkip === undefined) this.preSkip = p.data[10]! | (p.data[11]! << 8);
        if (!this.opts.channels && (ch === 1 || ch === 2) && ch !== this.channels) {
          this.channels = ch;
          this.teardown();
        }
        return out;
      }
      this.setup();
      if (!this.configSent) {
        this.configSent = true;
        out.push({
          kind: "audio", codec: "aac", dts: p.dts, pts: p.dts, keyframe: false, config: true, data: this.encoder!.config,
          flvAudioFlags: this.flvFlags(),
        });
      }
      this.packet(p, out);
    } catch {
      this.stats.decodeErrors++;
    }
    return out;
  }

  private flvFlags(): number {
    return (10 << 4) | (3 << 2) | (1 << 1) | (this.channels === 2 ? 1 : 0);
  }

  private setup(): void {
    if (this.encoder) return;
    this.decoder = new OpusDecoder({ channels: this.channels });
    this.resampler = this.rate === 48000 ? undefined : new Resampler(48000, this.rate, this.channels);
    this.encoder = new AacEncoder({
      sampleRate: this.rate, channels: this.channels,
      bitrate: this.opts.bitrate ?? (this.channels === 2 ? 96000 : 64000),
    });
    this.fifo = new Fifo(this.channels, 8192);
    this.anchor = undefined;
    this.configSent = false;
  }

  private teardown(): void {
    this.decoder?.close();
    this.decoder = undefined;
    this.encoder = undefined;
    this.resampler = undefined;
    if (this.anchor !== undefined) this.stats.resyncs++;
    this.anchor = undefined;
  }

  private restart(dts: number): void {
    this.anchor = dts;
    this.inSamples = 0;
    this.aacFrames = 0;
    this.skipLeft = this.preSkip;
    this.resampler?.reset();
    this.fifo!.fill = 0;
    // a fresh encoder: its priming frame is dropped again, keeping frame times exact
    this.encoder = new AacEncoder({
      sampleRate: this.rate, channels: this.channels,
      bitrate: this.opts.bitrate ?? (this.channels === 2 ? 96000 : 64000),
    });
  }

  private packet(p: MediaPacket, out: MediaPacket[]): void {
    const dur = opusPacketSamples(p.data);
    if (this.anchor === undefined) {
      this.restart(p.dts);
    } else {
      const expected = this.anchor + this.inSamples / 48;
      const frameMs = this.lastPacketSamples / 48;
      const missing = Math.round((p.dts - expected) / frameMs);
      if (missing > MAX_CONCEAL || p.dts < expected - 2 * frameMs) {
        this.stats.resyncs++;
        this.restart(p.dts);
      } else {
        for (let i = 0; i < missing; i++) {
          const r = this.decoder!.decode(null);
          this.stats.concealed++;
          this.feed(r.pcm, r.samples, out);
        }
      }
    }
    const r = this.decoder!.decode(p.data);
    this.stats.framesIn++;
    if (!r.ok) this.stats.decodeErrors++;
    else if (dur > 0) this.lastPacketSamples = dur;
    this.feed(r.pcm, r.samples, out);
  }

  private feed(pcm: Float32Array[], n0: number, out: MediaPacket[]): void {
    if (n0 <= 0) return;
    const fifo = this.fifo!;
    this.inSamples += n0;
    // drop the sender's look-ahead: decoded sample preSkip is the anchor's instant
    const skip = Math.min(this.skipLeft, n0);
    this.skipLeft -= skip;
    const n = n0 - skip;
    if (n === 0) return;
    if (skip > 0) pcm = pcm.map((ch) => ch.subarray(skip));
    if (this.resampler) {
      const off = fifo.reserve(this.resampler.maxOutput(n));
      fifo.fill += this.resampler.process(pcm, n, fifo.bufs, off);
    } else {
      const off = fifo.reserve(n);
      for (let c = 0; c < this.channels; c++) fifo.bufs[c]!.set(pcm[c]!.subarray(0, n), off);
      fifo.fill += n;
    }
    const enc = this.encoder!;
    while (fifo.fill >= 1024) {
      const frame = enc.encode(fifo.bufs, 0);
      fifo.consume(1024);
      const k = this.aacFrames++;
      if (k === 0) continue; // the priming frame (decodes to the 1024 samples before the anchor)
      const ts = this.anchor! + Math.round(((k - 1) * 1024 * 1000) / this.rate);
      this.stats.packetsOut++;
      out.push({ kind: "audio", codec: "aac", dts: ts, pts: ts, keyframe: false, config: false, data: frame, flvAudioFlags: this.flvFlags() });
    }
  }

  close(): void {
    this.decoder?.close();
    this.decoder = undefined;
    this.encoder = undefined;
  }
}
