/**
 * POSIX TZ strings: `std offset [dst [offset] [,start[/time],end[/time]]]`, as in the `TZ` variable and the footer
 * of TZif files.
 *
 * Specs: IEEE Std 1003.1-2017 Base Definitions §8.3 (the TZ variable: names plain or `<quoted>`, offsets
 * `[+|-]hh[:mm[:ss]]` counted west of UTC, rules `Jn`, `n` and `Mm.w.d`, default rule time 02:00:00);
 * RFC 8536 §3.3.1 (the TZif footer's extensions: rule times from -167 to 167 hours).
 *
 * A DST name with no rule takes `M3.2.0,M11.1.0`, tzcode's default (the US rules). glibc instead rebases the
 * transitions of the `posixrules` file, and in doing so ends DST at 01:00 rather than 02:00 local time: such a TZ
 * (rare: real zones come with rules or files) is the one place where this module and glibc differ.
 */
import { SECONDS_PER_DAY, daysFromCivil, isLeapYear, weekdayOfDay, yearOfDay } from "./civil.ts";

/** A rule date: `J` = Julian day 1-365 (Feb 29 never counted), `n` = zero-based day 0-365, `M` = month.week.day. */
export type TzRuleDate =
  | { kind: "J"; day: number }
  | { kind: "n"; day: number }
  | { kind: "M"; month: number; week: number; weekday: number };

export interface TzRule {
  date: TzRuleDate;
  /** Local wall-clock time of the change, in seconds (may be negative or past 24 h, RFC 8536 §3.3.1). */
  time: number;
}

export interface PosixTz {
  stdName: string;
  /** Seconds east of UTC (the string counts west: `EST5` is -18000 here). */
  stdOffset: number;
  dst?: { name: string; offset: number; start: TzRule; end: TzRule };
}

/** One stretch of constant local time: offset (seconds east) and DST flag for UTC seconds in [lo, hi). */
export interface ZoneInterval {
  lo: number;
  hi: number;
  offset: number;
  isDst: boolean;
}

const DEFAULT_RULE_TIME = 2 * 3600;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c | 32) >= 97 && (c | 32) <= 122;

/**
 * Parses a POSIX TZ string; undefined when it is not one (the whole string must match). A hand-written scanner:
 * no RegExp, whose engine would be one more piece of the runtime paged in for a log timestamp.
 */
export function parsePosixTz(s: string): PosixTz | undefined {
  let i = 0;
  const at = (k: number): number => s.charCodeAt(k); // NaN past the end: no test matches it
  /** An unsigned decimal of 1 to `max` digits, or undefined. */
  const digits = (max: number): number | undefined => {
    let v = 0, n = 0;
    while (n < max && isDigit(at(i))) {
      v = v * 10 + at(i) - 48;
      i++;
      n++;
    }
    return n === 0 ? undefined : v;
  };
  const name = (): string | undefined => {
    const from = i;
    if (s[i] === "<") {
      // §8.3: a quoted name holds alphanumerics, '+' and '-', at least three of them.
      let k = i + 1;
      while (isAlpha(at(k)) || isDigit(at(k)) || s[k] === "+" || s[k] === "-") k++;
      if (s[k] !== ">" || k - from - 1 < 3) return undefined;
      i = k + 1;
      return s.slice(from + 1, k);
    }
    while (isAlpha(at(i))) i++;
    if (i - from < 3) return undefined;
    return s.slice(from, i);
  };
  /** `[+|-]hh[:mm[:ss]]` in seconds, hours at most `maxHours` (1 to 3 digits, minutes and seconds 1 or 2). */
  const time = (maxHours: number): number | undefined => {
    const neg = s[i] === "-";
    if (neg || s[i] === "+") i++;
    const h = digits(3);
    if (h === undefined) return undefined;
    let mi = 0, se = 0;
    if (s[i] === ":" && isDigit(at(i + 1))) {
      i++;
      mi = digits(2)!;
      if (s[i] === ":" && isDigit(at(i + 1))) {
        i++;
        se = digits(2)!;
      }
    }
    if (h > maxHours || mi > 59 || se > 59) return undefined;
    const v = h * 3600 + mi * 60 + se;
    return neg ? -v : v;
  };
  const ruleDate = (): TzRuleDate | undefined => {
    if (s[i] === "J") {
      i++;
      const day = digits(3);
      return day === undefined || day < 1 || day > 365 ? undefined : { kind: "J", day };
    }
    if (s[i] === "M") {
      i++;
      const month = digits(2);
      if (month === undefined || s[i++] !== ".") return undefined;
      const week = digits(1);
      if (week === undefined || s[i++] !== ".") return undefined;
      const weekday = digits(1);
      if (weekday === undefined || month < 1 || month > 12 || week < 1 || week > 5 || weekday > 6) return undefined;
      return { kind: "M", month, week, weekday };
    }
    const day = digits(3);
    return day === undefined || day > 365 ? undefined : { kind: "n", day };
  };
  const rule = (): TzRule | undefined => {
    const date = ruleDate();
    if (!date) return undefined;
    if (s[i] !== "/") return { date, time: DEFAULT_RULE_TIME };
    i++;
    const t = time(167);
    return t === undefined ? undefined : { date, time: t };
  };

  const stdName = name();
  if (stdName === undefined) return undefined;
  const stdWest = time(24);
  if (stdWest === undefined) return undefined;
  const tz: PosixTz = { stdName, stdOffset: -stdWest };
  if (i === s.length) return tz;
  const dstName = name();
  if (dstName === undefined) return undefined;
  let dstOffset = tz.stdOffset + 3600;
  if (i < s.length && s[i] !== ",") {
    const w = time(24);
    if (w === undefined) return undefined;
    dstOffset = -w;
  }
  let start: TzRule | undefined = { date: { kind: "M", month: 3, week: 2, weekday: 0 }, time: DEFAULT_RULE_TIME };
  let end: TzRule | undefined = { date: { kind: "M", month: 11, week: 1, weekday: 0 }, time: DEFAULT_RULE_TIME };
  if (s[i] === ",") {
    i++;
    start = rule();
    if (!start || s[i] !== ",") return undefined;
    i++;
    end = rule();
    if (!end) return undefined;
  }
  if (i !== s.length) return undefined;
  tz.dst = { name: dstName, offset: dstOffset, start, end };
  return tz;
}

/** Day number (days since 1970-01-01) of a rule date in year `y`. */
function ruleDay(d: TzRuleDate, y: number): number {
  const jan1 = daysFromCivil(y, 1, 1);
  if (d.kind === "J") return jan1 + d.day - 1 + (isLeapYear(y) && d.day >= 60 ? 1 : 0);
  if (d.kind === "n") return jan1 + d.day;
  const first = daysFromCivil(y, d.month, 1);
  const next = d.month === 12 ? daysFromCivil(y + 1, 1, 1) : daysFromCivil(y, d.month + 1, 1);
  let day = first + ((d.weekday - weekdayOfDay(first) + 7) % 7) + (d.week - 1) * 7;
  while (day >= next) day -= 7; // week 5 = the last such weekday of the month
  return day;
}

/**
 * The interval of UTC second `t` under `tz`, written into `out`. The DST start is read in standard time and the
 * end in DST (§8.3); the changes of the years around `t` are ordered, so rules of either hemisphere and all-year
 * DST (`EST5EDT,0/0,J365/25`, RFC 8536 §3.3.1) work alike.
 */
export function posixInterval(tz: PosixTz, t: number, out: ZoneInterval): void {
  const dst = tz.dst;
  if (!dst) {
    out.lo = -Infinity;
    out.hi = Infinity;
    out.offset = tz.stdOffset;
    out.isDst = false;
    return;
  }
  const y = yearOfDay(Math.floor((t + tz.stdOffset) / SECONDS_PER_DAY));
  // Changes of years y-1..y+1, as (at, isDst); at equal instants an end sorts before a start (all-year DST).
  let lo = -Infinity, loDst = false, hi = Infinity;
  for (let yy = y - 1; yy <= y + 1; yy++) {
    const startAt = ruleDay(dst.start.date, yy) * SECONDS_PER_DAY + dst.start.time - tz.stdOffset;
    const endAt = ruleDay(dst.end.date, yy) * SECONDS_PER_DAY + dst.end.time - dst.offset;
    for (const [at, isDst] of [[endAt, false], [startAt, true]] as const) {
      if (at <= t) {
        if (at > lo || (at === lo && isDst)) {
          lo = at;
          loDst = isDst;
        }
      } else if (at < hi) {
        hi = at;
      }
    }
  }
  out.lo = lo;
  out.hi = hi;
  out.isDst = loDst;
  out.offset = loDst ? dst.offset : tz.stdOffset;
}
