/** The vhost blocks that run external processes: `exec`, `transcode` and `ingest` (FFmpeg engines). */
import { Scope } from "./env.ts";
import type { Directive } from "./parser.ts";

export interface ExecConfig {
  enabled: boolean;
  /** One command line (argument list) per `publish` directive. */
  publish: string[][];
}

/**
 * An FFmpeg engine of `transcode`/`ingest`. FFmpeg parameter blocks (perfile, vfilter, vparams, aparams) are
 * flattened as SRS does (srs_app_config.cpp get_engine_vparams...): each directive becomes `-name` (no second
 * dash when the name already starts with one) followed by its first argument, if any.
 */
export interface EngineConfig {
  name: string;
  enabled: boolean;
  iformat: string;
  vfilter: string[];
  vcodec: string;
  vbitrate: number;
  vfps: number;
  vwidth: number;
  vheight: number;
  vthreads: number;
  vprofile: string;
  vpreset: string;
  vparams: string[];
  acodec: string;
  abitrate: number;
  asampleRate: number;
  achannels: number;
  aparams: string[];
  oformat: string;
  output: string;
  perfile: string[];
}

export interface TranscodeConfig {
  /** `""`, `app` or `app/stream`: which streams this applies to. */
  scope: string;
  enabled: boolean;
  ffmpeg: string;
  engines: EngineConfig[];
}

export interface IngestConfig {
  id: string;
  enabled: boolean;
  input: { type: string; url: string };
  ffmpeg: string;
  engines: EngineConfig[];
}

function flattenParams(d: Directive | undefined): string[] {
  const out: string[] = [];
  for (const c of d?.children ?? []) {
    out.push(c.name.startsWith("-") ? c.name : `-${c.name}`);
    if (c.args[0]) out.push(c.args[0]);
  }
  return out;
}

function engineOf(d: Directive, s: Scope): EngineConfig {
  return {
    name: d.args[0] ?? "",
    enabled: s.boolOn("enabled"),
    iformat: s.str("iformat", "flv"),
    vfilter: flattenParams(s.get("vfilter")),
    vcodec: s.str("vcodec", ""),
    vbitrate: s.int("vbitrate", 0),
    vfps: s.num("vfps", 0),
    vwidth: s.int("vwidth", 0),
    vheight: s.int("vheight", 0),
    vthreads: s.int("vthreads", 1),
    vprofile: s.str("vprofile", ""),
    vpreset: s.str("vpreset", ""),
    vparams: flattenParams(s.get("vparams")),
    acodec: s.str("acodec", ""),
    abitrate: s.int("abitrate", 0),
    asampleRate: s.int("asample_rate", 0),
    achannels: s.int("achannels", 0),
    aparams: flattenParams(s.get("aparams")),
    oformat: s.str("oformat", "flv"),
    output: s.str("output", ""),
    perfile: flattenParams(s.get("perfile")),
  };
}

function enginesOf(s: Scope): EngineConfig[] {
  return s.all("engine").map((e) => engineOf(e, new Scope(e, null, s.env)));
}

/** The vhost's `exec` block `s` (no env overrides). */
export function execOf(s: Scope): ExecConfig {
  return { enabled: s.boolOn("enabled"), publish: s.all("publish").map((d) => [...d.args]) };
}

/** Every `ingest` block of the vhost scope `v` (no env overrides). */
export function ingestsOf(v: Scope): IngestConfig[] {
  return v.all("ingest").map((d) => {
    const s = new Scope(d, null, v.env);
    const input = s.child("input");
    return {
      id: d.args[0] ?? "",
      enabled: s.boolOn("enabled"),
      input: { type: input.str("type", "file"), url: input.str("url", "") },
      ffmpeg: s.str("ffmpeg", ""),
      engines: enginesOf(s),
    };
  });
}

/** Every `transcode` block of the vhost scope `v` (no env overrides). */
export function transcodesOf(v: Scope): TranscodeConfig[] {
  return v.all("transcode").map((d) => {
    const s = new Scope(d, null, v.env);
    return { scope: d.args[0] ?? "", enabled: s.boolOn("enabled"), ffmpeg: s.str("ffmpeg", ""), engines: enginesOf(s) };
  });
}
