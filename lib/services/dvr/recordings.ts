/**
 * The DVR files on disk, for GET/DELETE /api/v1/recordings and the console: found by matching each DVR-enabled
 * vhost's `dvr_path` template (path.ts) against the files under the template's fixed directory, so recordings made
 * before a restart are listed too. The template's variables give the app and stream (and the vhost when it has
 * [vhost]); [timestamp] or the date variables give the start time (else the file's mtime less its duration).
 * Files still being written (`.tmp`) are left out.
 *
 * Bounded: the walk stops after MAX_FILES directory entries and never goes deeper than the template.
 * Ids are a hash of the absolute path (stable across restarts); DELETE finds the file by listing again, so only a
 * file the list shows can be deleted.
 */
import { readdirSync, statSync, unlinkSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { SrsConfig } from "../../config/index.ts";
import { recordingDurationMs } from "./duration.ts";
import { dvrFormat, dvrTemplate } from "./path.ts";
import { localToEpoch } from "../../time/local-time.ts";

const MAX_FILES = 20_000;

export interface Recording {
  id: string;
  vhost: string;
  app: string;
  stream: string;
  /** Epoch ms. */
  start: number;
  /** Seconds. */
  duration: number;
  size: number;
  format: "flv" | "mp4";
  /** Absolute path on disk (not in the API's answer). */
  path: string;
  /** Path under http_server.dir, when the file is there (served by the HTTP server with Range). */
  httpPath?: string;
}

/** FNV-1a over the path's UTF-16 units, 52 bits: `rec-` + 13 hex digits. */
export function recordingId(path: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < path.length; i++) {
    h ^= BigInt(path.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `rec-${(h >> 12n).toString(16).padStart(13, "0")}`;
}

const VAR_PATTERNS: Record<string, string> = {
  vhost: "(?<vhost>[^/]+)",
  app: "(?<app>[^/]+)",
  stream: "(?<stream>[^/]+?)",
  "2006": "(?<Y>\\d{4})",
  "01": "(?<M>\\d{2})",
  "02": "(?<D>\\d{2})",
  "15": "(?<h>\\d{2})",
  "04": "(?<m>\\d{2})",
  "05": "(?<s>\\d{2})",
  "999": "(?<ms>\\d{3})",
  timestamp: "(?<ts>\\d+)",
  seq: "\\d+",
  duration: "\\d+",
};

/** A regex matching the files a template makes (a variable used twice must match its first value's pattern). */
export function templateRegex(tpl: string): RegExp {
  const seen = new Set<string>();
  let out = "";
  for (const part of tpl.split(/(\[[^\]]+\])/)) {
    const m = /^\[([^\]]+)\]$/.exec(part);
    const p = m ? VAR_PATTERNS[m[1]!] : undefined;
    if (p) {
      // a named group may appear once: the same variable again matches anything of its shape
      out += seen.has(m![1]!) ? p.replace(/\?<\w+>/, "?:") : p;
      seen.add(m![1]!);
    } else {
      out += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${out}$`);
}

function startOf(g: Record<string, string | undefined>, mtimeMs: number, durationMs: number): number {
  if (g.ts) return Number(g.ts);
  if (g.Y && g.M && g.D) {
    return localToEpoch(Number(g.Y), Number(g.M), Number(g.D), Number(g.h ?? 0), Number(g.m ?? 0), Number(g.s ?? 0), Number(g.ms ?? 0));
  }
  return Math.round(mtimeMs - durationMs);
}

interface Source {
  vhost: string;
  template: string;
}

/** The vhosts whose DVR is on, with their absolute templates. */
function sources(config: SrsConfig): Source[] {
  const out: Source[] = [];
  for (const name of config.vhosts()) {
    const dvr = config.vhost(name)?.dvr;
    if (!dvr?.enabled) continue;
    out.push({ vhost: name, template: resolve(dvrTemplate(dvr.path)) });
  }
  return out;
}

/** Files under `root` at most `depth` levels down (bounded by MAX_FILES entries in all). */
function walk(root: string, depth: number, out: string[], budget: { left: number }): void {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (--budget.left < 0) return;
    const p = join(root, e.name);
    if (e.isDirectory()) {
      if (depth > 1) walk(p, depth - 1, out, budget);
    } else if (e.isFile()) {
      out.push(p);
    }
  }
}

export interface RecordingFilter {
  vhost?: string;
  app?: string;
  stream?: string;
}

/** Every DVR file on disk (newest first), filtered. */
export function listRecordings(config: SrsConfig, filter: RecordingFilter = {}): Recording[] {
  const http = config.httpServer();
  const httpDir = http.enabled ? resolve(http.dir) : undefined;
  const seen = new Set<string>();
  const out: Recording[] = [];
  const budget = { left: MAX_FILES };
  for (const src of sources(config)) {
    const firstVar = src.template.indexOf("[");
    const fixed = firstVar < 0 ? src.template : src.template.slice(0, firstVar);
    const root = firstVar < 0 ? dirname(src.template) : fixed.endsWith(sep) ? fixed.slice(0, -1) : dirname(fixed);
    const depth = relative(root, src.template).split(sep).length;
    const re = templateRegex(src.template);
    const files: string[] = [];
    walk(root, depth, files, budget);
    for (const f of files) {
      if (seen.has(f)) continue;
      const m = re.exec(f);
      if (!m) continue;
      const g = m.groups ?? {};
      const rec = { vhost: g.vhost ?? src.vhost, app: g.app ?? "", stream: g.stream ?? "" };
      if (filter.vhost && filter.vhost !== rec.vhost) continue;
      if (filter.app && filter.app !== rec.app) continue;
      if (filter.stream && filter.stream !== rec.stream) continue;
      let st: import("node:fs").Stats;
      try {
        st = statSync(f);
      } catch {
        continue;
      }
      seen.add(f);
      const format = dvrFormat(f);
      const durationMs = recordingDurationMs(f, format);
      const r: Recording = {
        id: recordingId(f), ...rec, start: startOf(g, st.mtimeMs, durationMs), duration: Math.round(durationMs) / 1000,
        size: st.size, format, path: f,
      };
      if (httpDir) {
        const rel = relative(httpDir, f);
        if (rel && !rel.startsWith("..") && !isAbsolute(rel)) r.httpPath = `/${rel.split(sep).map(encodeURIComponent).join("/")}`;
      }
      out.push(r);
    }
  }
  return out.sort((a, b) => b.start - a.start);
}

/** Deletes the recording `id` (one the list shows). Returns the deleted recording, or undefined when unknown. */
export function deleteRecording(config: SrsConfig, id: string): Recording | undefined {
  const r = listRecordings(config).find((x) => x.id === id);
  if (!r) return undefined;
  unlinkSync(r.path);
  return r;
}
