/** The vhost's HTTP blocks: `http_remux` (HTTP-FLV/TS/AAC/MP3 streams) and `http_static`. */
import type { Scope } from "./env.ts";

export interface HttpRemuxConfig {
  enabled: boolean;
  mount: string;
  /** Seconds of audio cache, 0 = off. */
  fastCache: number;
  dropIfNotMatch: boolean;
  hasAudio: boolean;
  hasVideo: boolean;
  guessHasAv: boolean;
}

export interface HttpStaticConfig {
  enabled: boolean;
  mount: string;
  dir: string;
}

/** The vhost's `http_remux` block `s`. */
export function httpRemuxOf(s: Scope): HttpRemuxConfig {
  return {
    enabled: s.boolOn("enabled"),
    mount: s.str("mount", "[vhost]/[app]/[stream].flv"),
    fastCache: s.num("fast_cache", 0),
    dropIfNotMatch: s.boolNotOff("drop_if_not_match"),
    hasAudio: s.boolNotOff("has_audio"),
    hasVideo: s.boolNotOff("has_video"),
    guessHasAv: s.boolNotOff("guess_has_av"),
  };
}

/** The vhost's `http_static` block `s`. */
export function httpStaticOf(s: Scope): HttpStaticConfig {
  return { enabled: s.boolOn("enabled"), mount: s.str("mount", "[vhost]/"), dir: s.str("dir", "./objs/nginx/html") };
}
