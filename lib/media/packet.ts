/**
 * The one media packet type every protocol adapter converts to and from.
 *
 * Publishers (RTMP, SRT, WebRTC, ...) produce MediaPackets; the stream hub caches and fans them out;
 * each output format (RTMP, FLV, TS, RTP, ...) encodes a packet once and shares the bytes among its players.
 *
 * Payload conventions (what `data` holds), chosen so RTMP/FLV in -> RTMP/FLV out needs no re-encoding of
 * the codec bytes and TS/RTP outputs only need to rewrite NALU framing:
 *  - video, config=true : the decoder configuration record (AVCDecoderConfigurationRecord ISO 14496-15 5.3.3,
 *                         HEVCDecoderConfigurationRecord ISO 14496-15 8.3.3, AV1CodecConfigurationRecord, VP9 vpcC)
 *  - video, config=false: H.264/HEVC access unit as 4-byte length-prefixed NALUs (AVCC/HVCC framing);
 *                         AV1 as low-overhead OBUs; VP9 as the frame
 *  - audio, config=true : AAC AudioSpecificConfig (ISO 14496-3 1.6.2.1); Opus: OpusHead (RFC 7845 5.1)
 *  - audio, config=false: one raw frame (AAC raw_data_block without ADTS, an MP3 frame, an Opus packet)
 *  - data               : the AMF0-encoded script data, always as `onMetaData` (never `@setDataFrame`)
 */

export type VideoCodec = "h264" | "h265" | "av1" | "vp9";
export type AudioCodec = "aac" | "mp3" | "opus" | "pcma" | "pcmu" | "speex" | "nellymoser" | "pcm";
export type Codec = VideoCodec | AudioCodec | "amf0";

export type PacketKind = "video" | "audio" | "data";

export interface MediaPacket {
  kind: PacketKind;
  codec: Codec;
  /** Decode timestamp in milliseconds (unbounded: never wraps, adapters fold 32-bit wire timestamps). */
  dts: number;
  /** Presentation timestamp in milliseconds (pts - dts is the FLV/RTMP composition time). */
  pts: number;
  /** A video random access point (IDR / IRAP / key frame). Always false for audio and data. */
  keyframe: boolean;
  /** The packet carries a decoder configuration (sequence header), not a frame. */
  config: boolean;
  data: Uint8Array;
  /**
   * Legacy FLV audio header byte (SoundFormat|SoundRate|SoundSize|SoundType, FLV spec E.4.2.1) when the
   * packet came from FLV/RTMP; lets FLV/RTMP outputs reproduce it exactly (matters for MP3/PCM rates).
   */
  flvAudioFlags?: number;
  /**
   * Made inside the server from another packet (the audio bridge's AAC <-> Opus rendition), not sent by the
   * publisher: on the hub's corrected timeline already, and never transcoded again.
   */
  derived?: boolean;
}

export function isSequenceHeader(p: MediaPacket): boolean {
  return p.config;
}

export function isVideoKeyframe(p: MediaPacket): boolean {
  return p.kind === "video" && p.keyframe && !p.config;
}

/** The stream's identity, as SRS names it: vhost/app/stream. */
export interface StreamKey {
  vhost: string;
  app: string;
  stream: string;
}

export function streamKeyString(k: StreamKey): string {
  return `${k.vhost}/${k.app}/${k.stream}`;
}

/** SRS's stream URL shape used by hooks and the API: "/app/stream" (vhost omitted when default). */
export function streamUrl(k: StreamKey): string {
  return k.vhost === "__defaultVhost__" ? `/${k.app}/${k.stream}` : `${k.vhost}/${k.app}/${k.stream}`;
}
