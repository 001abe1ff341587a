/**
 * HLS media playlists (RFC 8216 section 4.3) as SRS writes them; the path templates (`hls_m3u8_file`, `hls_ts_file`)
 * come from lib/formats/path-template.ts. Pure functions: no IO.
 */

/** One segment listed in a playlist. */
export interface PlaylistEntry {
  /** EXT-X-MEDIA-SEQUENCE number of the segment. */
  seq: number;
  /** Duration in seconds. */
  duration: number;
  /** The URI written in the playlist (relative to the m3u8, or with hls_entry_prefix). */
  uri: string;
  /** The file on disk (hls_path joined with the ts path). */
  file: string;
  /** Path relative to hls_path (the URL path of the segment). */
  url: string;
  /** First segment of a publish: EXT-X-DISCONTINUITY before it. */
  discontinuity: boolean;
  /** fMP4: the URI of the segment's Media Initialization Section (EXT-X-MAP). */
  map?: string;
  /** hls_keys: the AES-128 key the segment is encrypted with (keys.ts). */
  key?: { uri: string; iv: Uint8Array; file: string };
}

import { keyTag } from "./keys.ts";

// The SRS path templates are shared with DVR: they live in a neutral module (lib/formats/path-template.ts).
export { expandTemplate, type TemplateVars } from "../../formats/path-template.ts";

/**
 * Drops the oldest entries so the playlist keeps the newest segments that add up to at least `windowSeconds`
 * (SRS's `hls_window`). Returns the removed entries (oldest first); `entries` is modified in place.
 */
export function shrinkWindow(entries: PlaylistEntry[], windowSeconds: number): PlaylistEntry[] {
  let sum = 0;
  let keepFrom = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    sum += entries[i]!.duration;
    if (sum >= windowSeconds) {
      keepFrom = i;
      break;
    }
  }
  return keepFrom > 0 ? entries.splice(0, keepFrom) : [];
}

/**
 * EXT-X-TARGETDURATION: hls_fragment * hls_td_ratio, raised when a listed segment's duration rounded to the
 * nearest integer exceeds it (RFC 8216 4.3.3.1).
 */
export function targetDuration(entries: readonly PlaylistEntry[], fragment: number, tdRatio: number): number {
  let t = Math.ceil(fragment * tdRatio);
  for (const e of entries) t = Math.max(t, Math.round(e.duration));
  return Math.max(1, t);
}

/**
 * The media playlist as SRS writes it: version 3, `#EXTINF:d.ddd, no desc`, discontinuities. fMP4 entries
 * (with `map`) make it version 7 (RFC 8216 7: EXT-X-MAP without I-frames needs 6+) with an EXT-X-MAP before
 * the first segment and wherever the init segment changes. Encrypted entries (`key`, hls_keys) get an EXT-X-KEY
 * before the first listed segment and wherever the key changes (RFC 8216 4.3.2.4: a key applies to the segments
 * after it until the next EXT-X-KEY), so a window that dropped the key's first segment still names it. The init
 * segment is never encrypted: an EXT-X-MAP that follows a key in force is preceded by `METHOD=NONE` (a key
 * applies to the EXT-X-MAP sections after it too) and the key is repeated after it.
 */
export function renderPlaylist(entries: readonly PlaylistEntry[], target: number, query = ""): string {
  const fmp4 = entries.some((e) => e.map !== undefined);
  const lines = ["#EXTM3U", `#EXT-X-VERSION:${fmp4 ? 7 : 3}`, `#EXT-X-MEDIA-SEQUENCE:${entries[0]?.seq ?? 0}`, `#EXT-X-TARGETDURATION:${target}`];
  let map: string | undefined;
  let key: PlaylistEntry["key"];
  for (const e of entries) {
    if (e.discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    if (e.map !== undefined && e.map !== map) {
      if (key !== undefined) lines.push("#EXT-X-KEY:METHOD=NONE");
      key = undefined;
      lines.push(`#EXT-X-MAP:URI="${e.map}"`);
    }
    map = e.map;
    if (e.key && (e.key.uri !== key?.uri || e.key.iv !== key.iv)) lines.push(keyTag(e.key.uri, e.key.iv));
    else if (!e.key && key !== undefined) lines.push("#EXT-X-KEY:METHOD=NONE");
    key = e.key;
    lines.push(`#EXTINF:${e.duration.toFixed(3)}, no desc`, e.uri + query);
  }
  return lines.join("\n") + "\n";
}

/** A one-variant master playlist pointing at `uri` (SRS's hls_ctx redirect). */
export function renderMasterPlaylist(uri: string): string {
  return `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\n${uri}\n`;
}

/** Appends `?k=v` or `&k=v` to every URI line of a playlist and to the tags' URI="..." attributes (fMP4). */
export function addQueryToUris(m3u8: string, query: string): string {
  if (!query) return m3u8;
  const add = (u: string) => u + (u.includes("?") ? "&" : "?") + query;
  return m3u8
    .split("\n")
    .map((l) => (!l ? l : l.startsWith("#") ? (l.includes('URI="') ? l.replace(/URI="([^"]*)"/g, (_m, u: string) => `URI="${add(u)}"`) : l) : add(l)))
    .join("\n");
}
