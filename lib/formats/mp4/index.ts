/**
 * Our MP4 muxer (ISO 14496-12/14/15):
 *  - track.ts:    Mp4Track and sample entries (avc1/avcC, hvc1/hvcC, mp4a/esds for AAC and MP3);
 *  - moov.ts:     ftyp, the init moov (mvex/trex) and the progressive moov (full sample tables);
 *  - fragment.ts: moof + mdat for runs of samples (fMP4 HLS/DASH segments reuse this);
 *  - muxer.ts:    FragmentedMp4Muxer, hub packets -> init segment + fragments;
 *  - finalize.ts: fragmented file -> progressive MP4, in place (see there why DVR records fMP4 first).
 */
export * from "./boxes.ts";
export * from "./track.ts";
export * from "./moov.ts";
export * from "./fragment.ts";
export * from "./muxer.ts";
export * from "./finalize.ts";
export * from "./codec-string.ts";
