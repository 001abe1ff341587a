/**
 * PsFrames (elementary-stream access units out of the PS demuxer) -> MediaPackets, the form the hub takes
 * (lib/media/packet.ts conventions, the same the TS demuxer hands on):
 *  - H.264/H.265: Annex-B access unit -> 4-byte length-prefixed NALUs; AUD and filler dropped; SPS/PPS (and VPS)
 *    taken out and turned into a config packet (AVCDecoderConfigurationRecord / HEVCDecoderConfigurationRecord,
 *    ISO/IEC 14496-15 5.3.3 / 8.3.3) when first seen or changed; keyframe = IDR / IRAP. Frames before the first
 *    config are dropped (undecodable). An access unit without PTS takes the previous one's timestamps.
 *  - AAC (ADTS, ISO/IEC 14496-3 1.A.2): one packet per ADTS frame, header removed; AudioSpecificConfig first and
 *    on change. A frame cut across two PES is completed from the next one; the PES PTS is that of the first
 *    frame starting in it, the next frames follow by 1024 samples.
 *  - MPEG audio: Layer III frames as "mp3" packets, timed the same way (Layer I/II have no MediaPacket codec: dropped).
 *  - G.711 A-law / mu-law (GB28181's 0x90 / 0x91, 8 kHz mono): one "pcma"/"pcmu" packet per PES.
 * Timestamps: 90 kHz ticks -> ms (rounded). Every packet's data is a fresh array.
 */
import { adtsToAudioSpecificConfig, parseAdtsHeader } from "../../media/aac.ts";
import type { AdtsHeader } from "../../media/aac.ts";
import { type AccessUnitParts, lengthPrefixed, type ParamSets, splitAccessUnit, updateParamSets } from "../../media/access-unit.ts";
import { parseMpegAudioHeader } from "../../media/mp3.ts";
import type { MediaPacket } from "../../media/packet.ts";
import type { PsFrame } from "./es-stream.ts";

const MAX_AUDIO_CARRY = 8192;

interface VideoState extends ParamSets {
  lastPts: number;
  lastDts: number;
}

interface AudioState {
  key: number;
  carry: Uint8Array | undefined;
  nextTicks: number;
  layerWarned: boolean;
}

const ms = (ticks: number): number => Math.round(ticks / 90);

export class PsPacketizer {
  private video = new Map<number, VideoState>();
  private audio = new Map<number, AudioState>();

  constructor(private readonly onPacket: (p: MediaPacket) => void, private readonly onError?: (message: string) => void) {}

  push(f: PsFrame): void {
    if (f.kind === "video") return this.pushVideo(f);
    let a = this.audio.get(f.streamId);
    if (!a) this.audio.set(f.streamId, a = { key: -1, carry: undefined, nextTicks: Number.NaN, layerWarned: false });
    if (f.codec === "aac") this.pushAac(f, a);
    else if (f.codec === "mpeg-audio") this.pushMpegAudio(f, a);
    else if (f.codec === "pcma" || f.codec === "pcmu") {
      const t = Number.isNaN(f.pts) ? a.nextTicks : f.pts;
      if (Number.isNaN(t) || f.data.length === 0) return;
      this.onPacket({ kind: "audio", codec: f.codec, dts: ms(t), pts: ms(t), keyframe: false, config: false, data: f.data.slice() });
      a.nextTicks = t + f.data.length * (90000 / 8000);
    }
  }

  private pushVideo(f: PsFrame): void {
    let v = this.video.get(f.streamId);
    if (!v) this.video.set(f.streamId, v = { vps: [], sps: [], pps: [], configSent: false, lastPts: Number.NaN, lastDts: Number.NaN });
    let pts = f.pts;
    let dts = f.dts;
    if (Number.isNaN(dts)) {
      if (Number.isNaN(v.lastDts)) return this.onError?.(`ps: stream 0x${f.streamId.toString(16)} video access unit without PTS dropped`);
      pts = v.lastPts;
      dts = v.lastDts;
    }
    if (pts < dts) pts = dts;
    v.lastPts = pts;
    v.lastDts = dts;
    const au = splitAccessUnit(f.data, f.codec === "h265");
    if (au.vps || au.sps || au.pps) this.videoConfig(f, v, au, dts);
    if (!au.vcl || !v.configSent) return;
    this.onPacket({ kind: "video", codec: f.codec === "h265" ? "h265" : "h264", dts: ms(dts), pts: ms(pts), keyframe: au.keyframe, config: false, data: lengthPrefixed(au) });
  }

  private videoConfig(f: PsFrame, v: VideoState, au: AccessUnitParts, dts: number): void {
    const hevc = f.codec === "h265";
    let record: Uint8Array | undefined;
    try {
      record = updateParamSets(v, hevc, au);
    } catch (e) {
      return this.onError?.(`ps: stream 0x${f.streamId.toString(16)} unusable parameter sets: ${(e as Error).message}`);
    }
    if (!record) return;
    this.onPacket({ kind: "video", codec: hevc ? "h265" : "h264", dts: ms(dts), pts: ms(dts), keyframe: false, config: true, data: record });
  }

  /** A frame left from the previous PES, then this one's bytes. */
  private input(a: AudioState, payload: Uint8Array): { data: Uint8Array; carried: number } {
    const c = a.carry;
    if (!c) return { data: payload, carried: 0 };
    a.carry = undefined;
    const data = new Uint8Array(c.length + payload.length);
    data.set(c, 0);
    data.set(payload, c.length);
    return { data, carried: c.length };
  }

  private keep(a: AudioState, f: PsFrame, data: Uint8Array, off: number): void {
    if (off >= data.length) return;
    if (data.length - off > MAX_AUDIO_CARRY) return this.onError?.(`ps: stream 0x${f.streamId.toString(16)} audio frame over ${MAX_AUDIO_CARRY} bytes dropped`);
    a.carry = data.slice(off);
  }

  private pushAac(f: PsFrame, a: AudioState): void {
    const { data, carried } = this.input(a, f.data);
    const base = Number.isNaN(f.pts) ? a.nextTicks : f.pts;
    let samples = 0;
    let off = 0;
    let warned = false;
    while (off + 7 <= data.length) {
      const h = parseAdtsHeader(data, off);
      if (!h) {
        off++;
        if (!warned) this.onError?.(`ps: stream 0x${f.streamId.toString(16)} ADTS sync lost`);
        warned = true;
        continue;
      }
      if (off + h.frameLength > data.length) break;
      let t: number;
      if (off < carried) t = a.nextTicks;
      else {
        t = Number.isNaN(base) ? Number.NaN : base + Math.round((samples * 90000) / h.sampleRate);
        samples += 1024 * h.rawBlocks;
      }
      if (!Number.isNaN(t)) this.aacFrame(f, a, data, off, h, t);
      off += h.frameLength;
    }
    this.keep(a, f, data, off);
  }

  private aacFrame(f: PsFrame, a: AudioState, data: Uint8Array, off: number, h: AdtsHeader, t: number): void {
    const key = (h.objectType << 16) | (h.samplingIndex << 8) | h.channelConfig;
    if (key !== a.key) {
      if (h.objectType > 4 || h.channelConfig === 0) return this.onError?.(`ps: ADTS object type ${h.objectType} channels ${h.channelConfig} not usable`);
      a.key = key;
      this.onPacket({ kind: "audio", codec: "aac", dts: ms(t), pts: ms(t), keyframe: false, config: true, data: adtsToAudioSpecificConfig(h) });
    }
    a.nextTicks = t + Math.round((1024 * h.rawBlocks * 90000) / h.sampleRate);
    if (h.frameLength <= h.headerLength) return;
    this.onPacket({ kind: "audio", codec: "aac", dts: ms(t), pts: ms(t), keyframe: false, config: false, data: data.slice(off + h.headerLength, off + h.frameLength) });
  }

  private pushMpegAudio(f: PsFrame, a: AudioState): void {
    const { data, carried } = this.input(a, f.data);
    const base = Number.isNaN(f.pts) ? a.nextTicks : f.pts;
    let samples = 0;
    let off = 0;
    while (off + 4 <= data.length) {
      const h = parseMpegAudioHeader(data, off);
      if (!h) {
        off++;
        continue;
      }
      const len = h.frameLength || data.length - off;
      if (off + len > data.length) break;
      let t: number;
      if (off < carried) t = a.nextTicks;
      else {
        t = Number.isNaN(base) ? Number.NaN : base + Math.round((samples * 90000) / h.sampleRate);
        samples += h.samplesPerFrame;
      }
      if (!Number.isNaN(t)) a.nextTicks = t + Math.round((h.samplesPerFrame * 90000) / h.sampleRate);
      if (h.layer !== 3) {
        if (!a.layerWarned) this.onError?.(`ps: stream 0x${f.streamId.toString(16)} MPEG audio layer ${h.layer} is not carried (MP3 only)`);
        a.layerWarned = true;
      } else if (!Number.isNaN(t)) {
        this.onPacket({ kind: "audio", codec: "mp3", dts: ms(t), pts: ms(t), keyframe: false, config: false, data: data.slice(off, off + len) });
      }
      off += len;
    }
    this.keep(a, f, data, off);
  }
}
