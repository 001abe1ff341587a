/**
 * Reload as a lifecycle event (SRS: ISrsReloadHandler, one per component). The server diffs the running and the
 * new config (lib/config/diff.ts), swaps the config, then asks every registered handler to apply what concerns
 * it. A handler answers per change it took: applied, or needs a restart (with a short note). The server logs ONE
 * line per change — `reload: <what> applied` or `reload: <what> changed, needs a restart` — and a change no
 * handler took is reported as needing a restart, so nothing changes silently.
 */
import type { ConfigDiff } from "../config/diff.ts";
import { changeNames } from "../config/diff.ts";
import type { SrsConfig } from "../config/index.ts";
import type { Log } from "../log/logger.ts";

export interface ReloadEvent {
  readonly old: SrsConfig;
  readonly next: SrsConfig;
  readonly diff: ConfigDiff;
}

/** What a handler did with one change (`what` is a change name of the diff, or a part of it: "http_api https"). */
export interface ReloadOutcome {
  what: string;
  result: "applied" | "restart" | "failed";
  note?: string;
}

export interface ReloadHandler {
  /** For errors in the log ("rtmp", "hls", …). */
  readonly name: string;
  reload(e: ReloadEvent): ReloadOutcome[] | Promise<ReloadOutcome[]>;
}

export const applied = (what: string, note?: string): ReloadOutcome => ({ what, result: "applied", note });
export const needsRestart = (what: string, note?: string): ReloadOutcome => ({ what, result: "restart", note });
export const failed = (what: string, note: string): ReloadOutcome => ({ what, result: "failed", note });

/** The log line of an outcome. */
export function outcomeLine(o: ReloadOutcome): string {
  const note = o.note ? ` (${o.note})` : "";
  if (o.result === "applied") return `reload: ${o.what} applied${note}`;
  if (o.result === "restart") return `reload: ${o.what} changed, needs a restart${note}`;
  return `reload: ${o.what} failed${note}`;
}

/**
 * Merges the outcomes of several handlers into one per change: a part ("http_api https") stays its own line;
 * several handlers on the same change give one line (restart or failure wins, notes joined); a change nobody
 * took needs a restart.
 */
export function mergeOutcomes(diff: ConfigDiff, outcomes: ReloadOutcome[]): ReloadOutcome[] {
  const out: ReloadOutcome[] = [];
  const rank = { applied: 0, restart: 1, failed: 2 } as const;
  for (const name of changeNames(diff)) {
    const mine = outcomes.filter((o) => o.what === name || o.what.startsWith(name + " "));
    if (mine.length === 0) {
      out.push(needsRestart(name, "not reloadable in srs-ts"));
      continue;
    }
    const byWhat = new Map<string, ReloadOutcome>();
    for (const o of mine) {
      const prev = byWhat.get(o.what);
      if (!prev) byWhat.set(o.what, { ...o });
      else {
        if (rank[o.result] > rank[prev.result]) prev.result = o.result;
        const notes = [prev.note, o.note].filter((n): n is string => !!n);
        prev.note = notes.length ? [...new Set(notes)].join("; ") : undefined;
      }
    }
    out.push(...byWhat.values());
  }
  // A handler that failed as a whole (not on a change of its own) is reported too.
  const names = changeNames(diff);
  for (const o of outcomes) {
    if (o.result === "failed" && !names.some((n) => o.what === n || o.what.startsWith(n + " "))) out.push(o);
  }
  return out;
}

/** Runs every handler (errors become failed outcomes), logs one line per change, returns the merged outcomes. */
export async function runReload(handlers: readonly ReloadHandler[], e: ReloadEvent, log: Log): Promise<ReloadOutcome[]> {
  const all: ReloadOutcome[] = [];
  for (const h of handlers) {
    try {
      all.push(...(await h.reload(e)));
    } catch (err) {
      log.error(`reload: handler ${h.name} failed`, err);
      all.push(failed(h.name, (err as Error).message));
    }
  }
  const merged = mergeOutcomes(e.diff, all);
  for (const o of merged) {
    if (o.result === "applied") log.trace(outcomeLine(o));
    else log.warn(outcomeLine(o));
  }
  return merged;
}

/** Where the server keeps a service a handler may replace (SRT, WebRTC, exporter listeners). */
export interface Slot<T> {
  get(): T | undefined;
  set(v: T | undefined): void;
}

/** Splits the changed fields of a section into those in `live`, those in `rebind` and the rest. */
export function splitKeys(keys: string[], groups: { live?: string[]; rebind?: string[] }): { live: string[]; rebind: string[]; other: string[] } {
  const live = keys.filter((k) => groups.live?.includes(k));
  const rebind = keys.filter((k) => groups.rebind?.includes(k));
  const other = keys.filter((k) => !live.includes(k) && !rebind.includes(k));
  return { live, rebind, other };
}
