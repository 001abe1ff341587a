/** The vhost's `dash` and `hds` blocks (segmenters besides HLS). */
import type { Scope } from "./env.ts";

export interface DashConfig {
  enabled: boolean;
  /** Seconds. */
  fragment: number;
  /** Seconds. */
  updatePeriod: number;
  /** Seconds. */
  timeshift: number;
  path: string;
  mpdFile: string;
  windowSize: number;
  cleanup: boolean;
  /** Seconds. */
  dispose: number;
}

export interface HdsConfig {
  enabled: boolean;
  fragment: number;
  window: number;
  path: string;
}

/** The vhost's `dash` block `s`. */
export function dashOf(s: Scope): DashConfig {
  return {
    enabled: s.boolOn("enabled"),
    fragment: s.num("dash_fragment", 30),
    updatePeriod: s.num("dash_update_period", 150),
    timeshift: s.num("dash_timeshift", 300),
    path: s.str("dash_path", "./objs/nginx/html"),
    mpdFile: s.str("dash_mpd_file", "[app]/[stream].mpd"),
    windowSize: s.int("dash_window_size", 5),
    cleanup: s.boolNotOff("dash_cleanup"),
    dispose: s.num("dash_dispose", 120),
  };
}

/** The vhost's `hds` block `s`. */
export function hdsOf(s: Scope): HdsConfig {
  return {
    enabled: s.boolOn("enabled"),
    fragment: s.num("hds_fragment", 10),
    window: s.num("hds_window", 60),
    path: s.str("hds_path", "./objs/nginx/html"),
  };
}
