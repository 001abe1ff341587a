/**
 * Local time without ICU: the calendar parts of an instant in the system's time zone, computed from the tz database
 * as glibc's localtime_r does, never through a Date local-time method or Intl.
 *
 * Why: in a Bun binary the first Date local-time call (getHours, getTimezoneOffset, toString…) makes JavaScriptCore
 * load ICU's time-zone machinery, about 2.4 MB of resident memory, and every log line's timestamp is local time.
 *
 * The zone, as glibc's tzset (IEEE Std 1003.1-2017 Base Definitions §8.3 for the TZ variable):
 * - `TZ` unset: the TZif file /etc/localtime (RFC 8536); no such file: UTC, as glibc.
 * - `TZ=""`: UTC. `TZ=":Area/City"` or `TZ="Area/City"`: the TZif file under `$TZDIR` (default
 *   /usr/share/zoneinfo), or the absolute path given; when there is no such file, the value read as a POSIX TZ
 *   string (`EST5EDT,M3.2.0,M11.1.0`, `<+0330>-3:30`); `UTC`/`GMT` alone: UTC.
 * - Anything else (an unreadable or corrupt file, a value that is neither a file nor a TZ string): the JS Date local
 *   methods, i.e. ICU. That costs the memory this module saves, but the time is never wrong because of us.
 *
 * The zone is read once per clock (glibc too reads it once, until tzset). A clock keeps the interval of constant
 * offset that its last instant fell in, so the logger's call for "now" is two comparisons and some integer
 * arithmetic; the returned parts object is its only allocation. `fromLocal` goes the other way (wall clock to
 * instant), as the local Date constructor does.
 */
import { readFileSync, statSync } from "node:fs";
import { civilInto, daysFromCivil } from "./civil.ts";
import { type PosixTz, type ZoneInterval, parsePosixTz, posixInterval } from "./posix-tz.ts";
import { type TzifZone, parseTzif, tzifInterval } from "./tzif.ts";

export interface LocalParts {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** Seconds east of UTC (the sign opposite to Date's getTimezoneOffset, and in seconds). */
  offset: number;
  isDst: boolean;
}

/** Where a clock's zone came from. */
export type ZoneSource = "tzif" | "posix" | "utc" | "icu";

type Zone =
  | { source: "tzif"; tzif: TzifZone }
  | { source: "posix"; posix: PosixTz }
  | { source: "utc" }
  | { source: "icu"; why: string };

const DEFAULT_TZDIR = "/usr/share/zoneinfo";
/** Names glibc reads as UTC when no file has them (its failed TZ parse gives UTC too). */
const UTC_NAMES = ["UTC", "GMT", "UCT", "Universal", "Zulu"];
const LOCALTIME_FILE = "/etc/localtime";
/** TZif files are a few kB; a larger "zone file" is not one (and /dev/zero must not be read whole). */
const MAX_TZIF_BYTES = 1 << 20;

type FileResult = { zone: Zone } | { missing: true };

function readZoneFile(path: string): FileResult {
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (!st.isFile()) return { zone: { source: "icu", why: `${path} is not a regular file` } };
    if (st.size > MAX_TZIF_BYTES) return { zone: { source: "icu", why: `${path}: ${st.size} bytes, too large for a TZif file` } };
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { missing: true };
    return { zone: { source: "icu", why: `read ${path}: ${(e as Error).message}` } };
  }
  try {
    return { zone: { source: "tzif", tzif: parseTzif(bytes) } };
  } catch (e) {
    return { zone: { source: "icu", why: `${path}: ${(e as Error).message}` } };
  }
}

/** The zone glibc would use for this `TZ` (and `TZDIR`), with the fallbacks described in the header. */
function zoneFromEnv(tz: string | undefined, tzdir: string | undefined): Zone {
  if (tz === undefined) {
    const r = readZoneFile(LOCALTIME_FILE);
    return "zone" in r ? r.zone : { source: "utc" };
  }
  const name = tz.startsWith(":") ? tz.slice(1) : tz;
  if (name === "") return { source: "utc" };
  const path = name.startsWith("/") ? name : `${tzdir || DEFAULT_TZDIR}/${name}`;
  const r = readZoneFile(path);
  if ("zone" in r) return r.zone;
  const posix = parsePosixTz(name);
  if (posix) return posix.dst || posix.stdOffset !== 0 ? { source: "posix", posix } : { source: "utc" };
  if (UTC_NAMES.includes(name)) return { source: "utc" };
  return { source: "icu", why: `TZ="${tz}": no zone file ${path} and not a POSIX TZ string` };
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** Local time in one zone, read once at construction. */
export class LocalClock {
  /** The cached interval of constant offset, in epoch ms: [loMs, hiMs). */
  private loMs = 0;
  private hiMs = 0;
  private offset = 0;
  private isDst = false;
  private readonly scratch: ZoneInterval = { lo: 0, hi: 0, offset: 0, isDst: false };

  private constructor(private readonly zone: Zone) {}

  /** The clock of a process environment (`TZ`, `TZDIR`), as glibc's tzset reads it. */
  static fromEnv(env: Record<string, string | undefined> = process.env): LocalClock {
    return new LocalClock(zoneFromEnv(env.TZ, env.TZDIR));
  }

  /** A clock on TZif bytes (RFC 8536); a corrupt file gives the ICU fallback. */
  static fromTzif(bytes: Uint8Array): LocalClock {
    try {
      return new LocalClock({ source: "tzif", tzif: parseTzif(bytes) });
    } catch (e) {
      return new LocalClock({ source: "icu", why: (e as Error).message });
    }
  }

  /** A clock on a POSIX TZ string; undefined when it is not one. */
  static fromPosix(s: string): LocalClock | undefined {
    const posix = parsePosixTz(s);
    return posix ? new LocalClock({ source: "posix", posix }) : undefined;
  }

  static utc(): LocalClock {
    return new LocalClock({ source: "utc" });
  }

  get source(): ZoneSource {
    return this.zone.source;
  }

  /** Why the clock fell back to ICU (undefined when it did not). */
  get fallbackReason(): string | undefined {
    return this.zone.source === "icu" ? this.zone.why : undefined;
  }

  /** Seconds east of UTC at epoch ms `ms`. */
  offsetAt(ms: number): number {
    this.locate(ms);
    return this.offset;
  }

  /** The local calendar parts of epoch ms `ms`. */
  parts(ms: number): LocalParts {
    this.locate(ms);
    const local = Math.floor(ms) + this.offset * 1000;
    const days = Math.floor(local / 86_400_000);
    const msOfDay = local - days * 86_400_000;
    const p: LocalParts = {
      year: 0,
      month: 0,
      day: 0,
      hour: Math.floor(msOfDay / 3_600_000),
      minute: Math.floor(msOfDay / 60_000) % 60,
      second: Math.floor(msOfDay / 1000) % 60,
      ms: msOfDay % 1000,
      offset: this.offset,
      isDst: this.isDst,
    };
    civilInto(days, p);
    return p;
  }

  /**
   * Epoch ms of a local wall-clock time, as `new Date(year, month - 1, day, hour, minute, second, ms)` gives it
   * (ECMA-262 §21.4.1.26 UTC(t)): fields out of range roll over (through Date.UTC, which needs no zone); a time
   * that a backward change repeats is its earlier instant; a time that a forward change skips is read with the
   * offset from before the change (02:30 on a spring-forward night is 03:30). The candidate offsets are those two
   * days either side, which covers every zone whose changes are more than two days apart.
   */
  fromLocal(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
    if (this.zone.source === "icu") return new Date(year, month - 1, day, hour, minute, second, ms).getTime();
    const local = Date.UTC(year, month - 1, day, hour, minute, second, ms);
    if (!Number.isFinite(local)) return Number.NaN;
    const before = this.offsetAt(local - 2 * 86_400_000);
    const after = this.offsetAt(local + 2 * 86_400_000);
    let best = Number.NaN;
    for (const o of before === after ? [before] : [before, after]) {
      const u = local - o * 1000;
      if (this.offsetAt(u) === o && !(u >= best)) best = u;
    }
    return Number.isNaN(best) ? local - before * 1000 : best;
  }

  /** "2026-11-21 23:59:57" (with `.123` when `withMs`): SRS's log and API time format. */
  format(ms: number, withMs = false): string {
    const p = this.parts(ms);
    const s = `${p.year}-${pad2(p.month)}-${pad2(p.day)} ${pad2(p.hour)}:${pad2(p.minute)}:${pad2(p.second)}`;
    return withMs ? `${s}.${pad3(p.ms)}` : s;
  }

  /** Updates the cached interval to the one holding `ms`. */
  private locate(ms: number): void {
    if (ms >= this.loMs && ms < this.hiMs) return;
    const z = this.zone;
    const out = this.scratch;
    const t = Math.floor(ms / 1000);
    if (z.source === "tzif") tzifInterval(z.tzif, t, out);
    else if (z.source === "posix") posixInterval(z.posix, t, out);
    else if (z.source === "utc") {
      out.lo = -Infinity;
      out.hi = Infinity;
      out.offset = 0;
      out.isDst = false;
    } else {
      this.locateIcu(ms);
      return;
    }
    this.loMs = out.lo * 1000;
    this.hiMs = out.hi * 1000;
    this.offset = out.offset;
    this.isDst = out.isDst;
  }

  /**
   * The fallback: ICU through Date's local methods, for this instant only (no interval is known). DST is guessed
   * as an offset above the year's smaller one of January and July, ICU giving no flag.
   */
  private locateIcu(ms: number): void {
    const d = new Date(ms);
    // Date's offset is in minutes; the seconds of old local mean times come from the local fields.
    const localAsUtc = daysFromCivil(d.getFullYear(), d.getMonth() + 1, d.getDate()) * 86_400_000 +
      ((d.getHours() * 60 + d.getMinutes()) * 60 + d.getSeconds()) * 1000 + d.getMilliseconds();
    this.offset = Math.round((localAsUtc - ms) / 1000);
    const y = d.getFullYear();
    const jan = new Date(y, 0, 1).getTimezoneOffset(), jul = new Date(y, 6, 1).getTimezoneOffset();
    this.isDst = -d.getTimezoneOffset() > -Math.max(jan, jul);
    this.loMs = this.hiMs = 0; // an empty interval: every call asks ICU again
  }
}

let processClock: LocalClock | undefined;

/**
 * The process's clock, built from its environment on first use and kept (a read-once cache of the zone, as
 * glibc's: later changes to `TZ` are not seen).
 */
export function systemClock(): LocalClock {
  processClock ??= LocalClock.fromEnv();
  return processClock;
}

/** The local calendar parts of epoch ms `ms` in the process's zone. */
export function localParts(ms: number): LocalParts {
  return systemClock().parts(ms);
}

/** "2026-11-21 23:59:57" (`.123` with `withMs`) in the process's zone. */
export function formatLocalTime(ms: number, withMs = false): string {
  return systemClock().format(ms, withMs);
}

/** Epoch ms of a local wall-clock time in the process's zone, as `new Date(year, month - 1, day, …)` without ICU. */
export function localToEpoch(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  return systemClock().fromLocal(year, month, day, hour, minute, second, ms);
}
