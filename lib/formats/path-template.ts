/**
 * SRS path templates: the variables of `hls_m3u8_file`, `hls_ts_file`, `hls_fmp4_file` and `dvr_path`
 * (SRS's srs_path_build_stream and srs_path_build_timestamp). Pure functions: no IO (local time comes from
 * lib/time, which reads the zone once per process).
 */
import { type LocalParts, localParts } from "../time/local-time.ts";

export interface TemplateVars {
  vhost: string;
  app: string;
  stream: string;
  /** The time the file is created (local time, as SRS). */
  time: Date;
  seq?: number;
  /** Segment duration in ms (known when the segment closes). */
  durationMs?: number;
  /** hls_ts_floor: [timestamp] becomes floor(ms / fragment ms). */
  floorFragmentMs?: number;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** SRS's local-time variables ([2006] year, [01] month, [02] day, [15] hour, [04] minute, [05] second, [999] ms). */
function timeVar(k: "2006" | "01" | "02" | "15" | "04" | "05" | "999", p: LocalParts): string {
  switch (k) {
    case "2006": return String(p.year);
    case "01": return pad(p.month);
    case "02": return pad(p.day);
    case "15": return pad(p.hour);
    case "04": return pad(p.minute);
    case "05": return pad(p.second);
    default: return pad(p.ms, 3);
  }
}

type TimeVarName = Parameters<typeof timeVar>[0];

/**
 * Expands SRS variables: [vhost] [app] [stream] [2006] (year) [01] (month) [02] (day) [15] (hour) [04] (minute)
 * [05] (second) [999] (millisecond) [timestamp] (ms since epoch) [seq] [duration] (ms).
 */
export function expandTemplate(tpl: string, v: TemplateVars): string {
  if (!tpl.includes("[")) return tpl;
  const ms = v.time.getTime();
  let parts: LocalParts | undefined;
  return tpl.replace(/\[(vhost|app|stream|2006|01|02|15|04|05|999|timestamp|seq|duration)\]/g, (_m, k: string) => {
    switch (k) {
      case "vhost": return v.vhost;
      case "app": return v.app;
      case "stream": return v.stream;
      case "timestamp": return String(v.floorFragmentMs ? Math.floor(ms / v.floorFragmentMs) : ms);
      case "seq": return String(v.seq ?? 0);
      case "duration": return String(Math.round(v.durationMs ?? 0));
      default: return timeVar(k as TimeVarName, (parts ??= localParts(ms)));
    }
  });
}

/**
 * SRS's srs_path_build_timestamp alone (ingest and transcode outputs): the local-time variables of `s` and
 * [timestamp] (ms since epoch); other variables are left as they are.
 */
export function expandTimeVars(s: string, ms: number): string {
  if (!s.includes("[")) return s;
  let parts: LocalParts | undefined;
  return s.replace(/\[(2006|01|02|15|04|05|999|timestamp)\]/g, (_m, k: string) =>
    k === "timestamp" ? String(ms) : timeVar(k as TimeVarName, (parts ??= localParts(ms))));
}
