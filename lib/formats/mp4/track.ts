/**
 * MP4 tracks from the hub's packets: the sample entry (ISO 14496-12 8.5.2, 12.1.3 visual / 12.2.3 audio)
 * with its codec configuration box:
 *  - H.264: 'avc1' + 'avcC' (ISO 14496-15 5.3.3/5.4.2), the AVCDecoderConfigurationRecord as received;
 *  - HEVC:  'hvc1' + 'hvcC' (ISO 14496-15 8.3.3/8.4.1), the HEVCDecoderConfigurationRecord as received
 *           ('hvc1' rather than 'hev1': what Apple players require; parameter sets are in hvcC);
 *  - AAC:   'mp4a' + 'esds' (ISO 14496-14 5.6, ISO 14496-1 7.2.6.5) with objectTypeIndication 0x40 and the
 *           AudioSpecificConfig as DecoderSpecificInfo;
 *  - MP3:   'mp4a' + 'esds' with objectTypeIndication 0x6B (MPEG-1 audio) or 0x69 (MPEG-2 audio), no
 *           DecoderSpecificInfo.
 * Samples are the packets' payloads unchanged: length-prefixed NALUs (the config's NALU length size), raw AAC
 * frames, MP3 frames.
 */
import { parseAudioSpecificConfig } from "../../media/aac.ts";
import { parseAvcConfig, parseAvcSps } from "../../media/avc.ts";
import { parseHevcConfig, parseHevcSps } from "../../media/hevc.ts";
import { parseMpegAudioHeader } from "../../media/mp3.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { BoxWriter, Mp4Error } from "./boxes.ts";

export type Mp4Codec = "h264" | "h265" | "aac" | "mp3";

export interface Mp4Track {
  /** track_ID, from 1. */
  id: number;
  kind: "video" | "audio";
  codec: Mp4Codec;
  /** Media timescale (ticks per second): 90000 for video, the sample rate for audio. */
  timescale: number;
  /** The complete sample entry box ('avc1'/'hvc1'/'mp4a'). */
  sampleEntry: Uint8Array;
  width: number;
  height: number;
  sampleRate: number;
  channels: number;
  /** Samples per audio frame (AAC 1024 or 960, MP3 1152 or 576); 0 for video. */
  frameSamples: number;
  /** The configuration the entry was built from (to notice a changed sequence header). */
  config: Uint8Array;
  /** RFC 6381 style codec name, e.g. "avc1.42c01e" (informational). */
  handlerName: string;
}

export const VIDEO_TIMESCALE = 90000;

/** True when the packet's codec can be stored by this muxer. */
export function isMp4Codec(codec: string): codec is Mp4Codec {
  return codec === "h264" || codec === "h265" || codec === "aac" || codec === "mp3";
}

function visualSampleEntry(fourcc: string, width: number, height: number, configType: string, config: Uint8Array): Uint8Array {
  const w = new BoxWriter(128 + config.length);
  const at = w.start(fourcc);
  w.zeros(6).u16(1); // reserved, data_reference_index
  w.zeros(16); // pre_defined, reserved, pre_defined[3]
  w.u16(width).u16(height);
  w.u32(0x00480000).u32(0x00480000); // 72 dpi
  w.u32(0).u16(1); // reserved, frame_count
  w.zeros(32); // compressorname
  w.u16(0x0018).u16(0xffff); // depth, pre_defined = -1
  const c = w.start(configType);
  w.bytes(config);
  w.end(c);
  w.end(at);
  return w.finish();
}

/** An MPEG-4 descriptor (ISO 14496-1 8.3.3): tag + expandable length + body. */
function descriptor(tag: number, body: Uint8Array): Uint8Array {
  const len = body.length;
  const lenBytes: number[] = [];
  let v = len;
  do {
    lenBytes.unshift(v & 0x7f);
    v >>>= 7;
  } while (v > 0);
  for (let i = 0; i < lenBytes.length - 1; i++) lenBytes[i]! |= 0x80;
  const out = new Uint8Array(1 + lenBytes.length + len);
  out[0] = tag;
  out.set(lenBytes, 1);
  out.set(body, 1 + lenBytes.length);
  return out;
}

function esds(objectType: number, dsi: Uint8Array | undefined): Uint8Array {
  const dcd = new BoxWriter(64);
  dcd.u8(objectType).u8((0x05 << 2) | 1); // streamType audio, upStream 0, reserved 1
  dcd.u24(0).u32(0).u32(0); // bufferSizeDB, maxBitrate, avgBitrate (unknown)
  if (dsi) dcd.bytes(descriptor(0x05, dsi));
  const es = new BoxWriter(64);
  es.u16(1).u8(0); // ES_ID, flags
  es.bytes(descriptor(0x04, dcd.finish()));
  es.bytes(descriptor(0x06, Uint8Array.of(0x02))); // SLConfigDescriptor predefined = MP4
  const w = new BoxWriter(96);
  const at = w.startFull("esds", 0, 0);
  w.bytes(descriptor(0x03, es.finish()));
  w.end(at);
  return w.finish();
}

function audioSampleEntry(channels: number, sampleRate: number, esdsBox: Uint8Array): Uint8Array {
  const w = new BoxWriter(64 + esdsBox.length);
  const at = w.start("mp4a");
  w.zeros(6).u16(1); // reserved, data_reference_index
  w.zeros(8); // reserved
  w.u16(channels).u16(16); // channelcount, samplesize
  w.u16(0).u16(0); // pre_defined, reserved
  w.u32(sampleRate < 0x10000 ? sampleRate * 0x10000 : 0); // 16.16 samplerate
  w.bytes(esdsBox);
  w.end(at);
  return w.finish();
}

/** A video track from a sequence header packet (H.264 or HEVC). */
export function videoTrack(id: number, p: MediaPacket): Mp4Track {
  if (p.kind !== "video" || !p.config) throw new Mp4Error("video track needs a sequence header");
  let width = 0;
  let height = 0;
  let entry: Uint8Array;
  let name: string;
  if (p.codec === "h264") {
    const cfg = parseAvcConfig(p.data);
    const sps = cfg.sps[0];
    if (sps) {
      try {
        const s = parseAvcSps(sps);
        width = s.width;
        height = s.height;
      } catch {
        // size stays 0: decoders read it from the SPS anyway
      }
    }
    entry = visualSampleEntry("avc1", width, height, "avcC", p.data);
    name = "VideoHandler";
  } else if (p.codec === "h265") {
    const cfg = parseHevcConfig(p.data);
    const sps = cfg.sps[0];
    if (sps) {
      try {
        const s = parseHevcSps(sps);
        width = s.width;
        height = s.height;
      } catch {
        // as above
      }
    }
    entry = visualSampleEntry("hvc1", width, height, "hvcC", p.data);
    name = "VideoHandler";
  } else {
    throw new Mp4Error(`video codec ${p.codec} is not supported in MP4 here`);
  }
  return {
    id, kind: "video", codec: p.codec, timescale: VIDEO_TIMESCALE, sampleEntry: entry, width, height,
    sampleRate: 0, channels: 0, frameSamples: 0, config: p.data, handlerName: name,
  };
}

/** An audio track from an AAC sequence header (AudioSpecificConfig) or from the first MP3 frame. */
export function audioTrack(id: number, p: MediaPacket): Mp4Track {
  if (p.kind !== "audio") throw new Mp4Error("audio track needs an audio packet");
  if (p.codec === "aac") {
    if (!p.config) throw new Mp4Error("AAC track needs the AudioSpecificConfig");
    const asc = parseAudioSpecificConfig(p.data);
    const channels = asc.channels || 2;
    return {
      id, kind: "audio", codec: "aac", timescale: asc.sampleRate, sampleRate: asc.sampleRate, channels,
      sampleEntry: audioSampleEntry(channels, asc.sampleRate, esds(0x40, p.data)), width: 0, height: 0,
      frameSamples: asc.frameLengthFlag ? 960 : 1024, config: p.data, handlerName: "SoundHandler",
    };
  }
  if (p.codec === "mp3") {
    const h = parseMpegAudioHeader(p.data);
    if (!h) throw new Mp4Error("MP3 track: no MPEG audio frame header");
    return {
      id, kind: "audio", codec: "mp3", timescale: h.sampleRate, sampleRate: h.sampleRate, channels: h.channels,
      sampleEntry: audioSampleEntry(h.channels, h.sampleRate, esds(h.version === 1 ? 0x6b : 0x69, undefined)),
      width: 0, height: 0, frameSamples: h.samplesPerFrame, config: new Uint8Array(0), handlerName: "SoundHandler",
    };
  }
  throw new Mp4Error(`audio codec ${p.codec} is not supported in MP4 here`);
}
