/** The vhost's `dvr` block. */
import type { Scope } from "./env.ts";
import { type TimeJitter, timeJitter } from "./play.ts";

export interface DvrConfig {
  enabled: boolean;
  /** `["all"]` or `app/stream` ids. */
  apply: string[];
  path: string;
  plan: "session" | "segment";
  /** Seconds. */
  duration: number;
  waitKeyframe: boolean;
  timeJitter: TimeJitter;
}

/** The vhost's `dvr` block `s`. */
export function dvrOf(s: Scope): DvrConfig {
  return {
    enabled: s.boolOn("enabled"),
    apply: s.list("dvr_apply", ["all"]),
    path: s.str("dvr_path", "./objs/nginx/html/[app]/[stream].[timestamp].flv"),
    plan: s.str("dvr_plan", "session") === "segment" ? "segment" : "session",
    duration: s.num("dvr_duration", 30),
    waitKeyframe: s.boolNotOff("dvr_wait_keyframe"),
    timeJitter: timeJitter(s.str("time_jitter", "full")),
  };
}
