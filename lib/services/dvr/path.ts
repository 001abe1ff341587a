/**
 * DVR file paths as SRS builds them from `dvr_path`.
 *
 * Variables (shared with HLS, see lib/formats/path-template.ts): [vhost] [app] [stream] [2006] [01] [02] [15] [04] [05]
 * [999] [timestamp]. The container follows the suffix: `.mp4` records MP4, anything else FLV.
 *
 * Paths that name no file: SRS's code appends `/[stream].[timestamp].flv` to a dvr_path that does not end in
 * `.flv`/`.mp4`, while its documented SRS1 rule (full.conf: `dvr_path ./objs/nginx/html;` records
 * `./objs/nginx/html/live/livestream.1420254068776.flv`) puts the app directory in between. We follow both:
 * a path with no variable at all (an SRS1-style directory) gets `/[app]/[stream].[timestamp].flv`, a path with
 * variables but no file suffix gets `/[stream].[timestamp].flv`.
 */
import type { StreamKey } from "../../media/packet.ts";
import { expandTemplate } from "../../formats/path-template.ts";

export type DvrFormat = "flv" | "mp4";

/** The dvr_path template with the SRS1 rule applied. */
export function dvrTemplate(path: string): string {
  if (/\.(flv|mp4)$/i.test(path)) return path;
  const dir = path.replace(/\/+$/, "") || ".";
  return path.includes("[") ? `${dir}/[stream].[timestamp].flv` : `${dir}/[app]/[stream].[timestamp].flv`;
}

export function dvrFormat(file: string): DvrFormat {
  return /\.mp4$/i.test(file) ? "mp4" : "flv";
}

/** The file a new DVR segment is written to (as configured: relative paths stay relative, like SRS). */
export function dvrFilePath(path: string, key: StreamKey, time: Date): string {
  return expandTemplate(dvrTemplate(path), { vhost: key.vhost, app: key.app, stream: key.stream, time });
}

/** `dvr_apply`: `all`, or a list of `app/stream`. */
export function dvrApplies(apply: readonly string[], key: StreamKey): boolean {
  if (apply.length === 0) return true;
  const id = `${key.app}/${key.stream}`;
  return apply.some((a) => a === "all" || a === id);
}
