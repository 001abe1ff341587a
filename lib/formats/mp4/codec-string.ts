/**
 * RFC 6381 `codecs` strings for our MP4 tracks (DASH Representation@codecs, HLS CODECS): avc1.PPCCLL from the
 * avcC (ISO 14496-15 Annex E.2), hvc1.* from the hvcC (ISO 14496-15 E.3), mp4a.40.<AOT> for AAC (RFC 6381 3.3),
 * mp4a.6B / mp4a.69 for MPEG-1 / MPEG-2 audio layer 3 (objectTypeIndication in hex, RFC 6381 3.3).
 */
import { aacCodecString, parseAudioSpecificConfig } from "../../media/aac.ts";
import { avcCodecString, parseAvcConfig } from "../../media/avc.ts";
import { hevcCodecString, parseHevcConfig } from "../../media/hevc.ts";
import type { Mp4Track } from "./track.ts";

/** The track's codec string; a generic one ("avc1", "mp4a.40.2") when its configuration does not parse. */
export function mp4CodecString(t: Mp4Track): string {
  try {
    switch (t.codec) {
      case "h264":
        return avcCodecString(parseAvcConfig(t.config));
      case "h265":
        return hevcCodecString(parseHevcConfig(t.config));
      case "aac":
        return aacCodecString(parseAudioSpecificConfig(t.config));
      case "mp3":
        return t.sampleRate >= 32000 ? "mp4a.6B" : "mp4a.69";
    }
  } catch {
    // fall through to the generic names
  }
  return t.codec === "h264" ? "avc1" : t.codec === "h265" ? "hvc1" : "mp4a.40.2";
}
