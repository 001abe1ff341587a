/** The vhost's `play` and `publish` blocks, and the `time_jitter` setting they (and `dvr`) share. */
import type { Scope } from "./env.ts";

export type TimeJitter = "full" | "zero" | "off";

export function timeJitter(v: string): TimeJitter {
  return v === "full" ? "full" : v === "zero" ? "zero" : "off";
}

export interface PlayConfig {
  gopCache: boolean;
  gopCacheMaxFrames: number;
  /** Seconds. */
  queueLength: number;
  timeJitter: TimeJitter;
  mixCorrect: boolean;
  atc: boolean;
  atcAuto: boolean;
  mwLatency: number;
  mwMsgs: number;
  /** Milliseconds. */
  sendMinInterval: number;
  reduceSequenceHeader: boolean;
}

export interface PublishConfig {
  mr: boolean;
  /** Milliseconds. */
  mrLatency: number;
  /** Milliseconds. */
  firstpktTimeout: number;
  /** Milliseconds. */
  normalTimeout: number;
  parseSps: boolean;
  tryAnnexbFirst: boolean;
  /** Seconds, 0 = never kick. */
  kickoffForIdle: number;
}

/** The vhost's `play` block `s`. */
export function playOf(s: Scope): PlayConfig {
  return {
    gopCache: s.boolNotOff("gop_cache"),
    gopCacheMaxFrames: s.int("gop_cache_max_frames", 2500),
    queueLength: s.num("queue_length", 30),
    timeJitter: timeJitter(s.str("time_jitter", "full")),
    mixCorrect: s.boolOn("mix_correct"),
    atc: s.boolOn("atc"),
    atcAuto: s.boolOn("atc_auto"),
    mwLatency: s.int("mw_latency", 350),
    mwMsgs: s.int("mw_msgs", 8),
    sendMinInterval: s.num("send_min_interval", 0),
    reduceSequenceHeader: s.boolOn("reduce_sequence_header"),
  };
}

/** The vhost's `publish` block `s`. */
export function publishOf(s: Scope): PublishConfig {
  return {
    mr: s.boolOn("mr"),
    mrLatency: s.int("mr_latency", 350),
    firstpktTimeout: s.int("firstpkt_timeout", 20000),
    normalTimeout: s.int("normal_timeout", 5000),
    parseSps: s.boolNotOff("parse_sps"),
    tryAnnexbFirst: s.boolNotOff("try_annexb_first"),
    kickoffForIdle: s.num("kickoff_for_idle", 0),
  };
}
