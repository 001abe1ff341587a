/**
 * lib/time/local-time.ts: local time from the tz database without ICU, checked against two independent readers of
 * the same zones: ICU (a child `bun -e` with TZ set, printing Date's local fields) and glibc (`date -f -` with TZ
 * set, which is localtime_r). Instants: every transition from 1900 to 2100 and the seconds either side, a grid over
 * those years, and now. fromLocal (wall clock to instant) against ICU's local Date constructor around every change.
 * POSIX TZ strings (which ICU does not accept) go to glibc only. Then the TZ/TZDIR rules,
 * corrupt and truncated TZif files (never a throw: the ICU fallback) and a fuzz loop over mutated files.
 *
 * Needs Debian's tzdata (/usr/share/zoneinfo) and coreutils' date.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalClock, type LocalParts } from "../../../lib/time/local-time.ts";
import { type ZoneInterval, parsePosixTz, posixInterval } from "../../../lib/time/posix-tz.ts";
import { parseTzif, tzifInterval } from "../../../lib/time/tzif.ts";
import { prng } from "../../helpers/prng.ts";
import { tempDir } from "../../helpers/temp.ts";

const ZONEINFO = "/usr/share/zoneinfo";
const FROM = Date.UTC(1900, 0, 1) / 1000;
const TO = Date.UTC(2100, 0, 1) / 1000;

const ZONES = [
  "America/New_York",
  "Europe/Berlin",
  "Australia/Lord_Howe", // 30-minute DST
  "Asia/Kolkata",
  "Pacific/Chatham", // +12:45 / +13:45
  "America/Sao_Paulo",
  "Africa/Casablanca", // DST suspended each Ramadan, listed transition by transition
  "Europe/Dublin", // negative DST: winter time is the isDst one in the files
  "UTC",
  "Etc/GMT+5",
];

/** Seconds of the changes of offset in [from, to), walked through an interval function. */
function changes(interval: (t: number, out: ZoneInterval) => void, from: number, to: number): number[] {
  const out: ZoneInterval = { lo: 0, hi: 0, offset: 0, isDst: false };
  const at: number[] = [];
  for (let t = from; ; ) {
    interval(t, out);
    if (!(out.hi < to)) break;
    at.push(out.hi);
    t = out.hi;
  }
  return at;
}

/** Test instants (epoch seconds): each change ±1 s, a grid of odd steps, now; shuffled (the clock's cache must not care). */
function instants(changeAt: number[], from: number, to: number, seed: number): number[] {
  const s = new Set<number>();
  for (const t of changeAt) for (const d of [-3601, -1, 0, 1, 3599]) s.add(t + d);
  for (let t = from; t < to; t += 9 * 86400 + 3607) s.add(t);
  s.add(Math.floor(Date.now() / 1000));
  const a = [...s];
  const r = prng(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const fields = (p: LocalParts): string =>
  `${p.year} ${p.month} ${p.day} ${p.hour} ${p.minute} ${p.second}`;

/** ICU's local fields and getTimezoneOffset for each instant, from a child Bun with TZ=zone (unset: undefined). */
function icu(zone: string | undefined, secs: number[]): string[] {
  const script = `const out = [];
for (const s of (await Bun.stdin.text()).trim().split("\\n")) {
  const d = new Date(Number(s) * 1000);
  out.push([d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getTimezoneOffset()].join(" "));
}
console.log(out.join("\\n"));`;
  const env: Record<string, string | undefined> = { ...process.env, TZ: zone };
  if (zone === undefined) delete env.TZ;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env, stdin: Buffer.from(secs.join("\n")) });
  if (r.exitCode !== 0) throw new Error(`bun -e for TZ=${zone}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim().split("\n");
}

/** glibc's local fields and %z for each instant, from `date -f -` with TZ=zone. */
function glibc(zone: string, secs: number[]): string[] {
  const r = Bun.spawnSync(["date", "-f", "-", "+%Y %-m %-d %-H %-M %-S %z"], {
    env: { ...process.env, TZ: zone, LC_ALL: "C" },
    stdin: Buffer.from(secs.map((s) => `@${s}`).join("\n")),
  });
  if (r.exitCode !== 0) throw new Error(`date for TZ=${zone}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim().split("\n");
}

const hhmm = (off: number): string => {
  const a = Math.abs(off);
  return `${off < 0 ? "-" : "+"}${String(Math.floor(a / 3600)).padStart(2, "0")}${String(Math.floor(a / 60) % 60).padStart(2, "0")}`;
};

/** Mismatches of `clock` against ICU's and glibc's lines (at most 5 listed). */
function compare(clock: LocalClock, secs: number[], icuLines: string[] | undefined, glibcLines: string[]): string[] {
  const bad: string[] = [];
  secs.forEach((s, i) => {
    const p = clock.parts(s * 1000);
    const ours = fields(p);
    const at = new Date(s * 1000).toISOString();
    const g = glibcLines[i]!;
    // ICU reads its own copy of the tz database (built into Bun), glibc the system's files as we do: where the two
    // copies' versions differ (tzdata 2026f vs ICU's, for Sao Paulo's 1965, Casablanca's future rules, Dublin), ICU
    // is not a reference. So ICU is compared only where it agrees with glibc; glibc always.
    if (icuLines && icuLines[i]!.split(" ").slice(0, 6).join(" ") === g.split(" ").slice(0, 6).join(" ")) {
      const [y, mo, d, h, mi, se, tzo] = icuLines[i]!.split(" ");
      if (ours !== [y, mo, d, h, mi, se].join(" ")) bad.push(`${at}: ours ${ours}, ICU ${icuLines[i]}`);
      else if (p.offset % 60 === 0 && Number(tzo) !== -p.offset / 60) bad.push(`${at}: offset ${p.offset}, ICU ${tzo} min`);
    }
    if (`${ours} ${p.offset % 60 === 0 ? hhmm(p.offset) : g.slice(-5)}` !== g) bad.push(`${at}: ours ${ours} ${p.offset}, glibc ${g}`);
  });
  return bad.slice(0, 5);
}

describe("zones from /usr/share/zoneinfo, against ICU and glibc", () => {
  for (const [n, zone] of ZONES.entries()) {
    test(zone, () => {
      const tzif = parseTzif(readFileSync(join(ZONEINFO, zone)));
      const at = changes((t, out) => tzifInterval(tzif, t, out), FROM, TO);
      const secs = instants(at, FROM, TO, n + 1);
      const clock = LocalClock.fromEnv({ TZ: zone });
      expect(clock.source).toBe("tzif");
      expect(compare(clock, secs, icu(zone, secs), glibc(zone, secs))).toEqual([]);
      if (zone !== "UTC" && zone !== "Etc/GMT+5" && zone !== "Asia/Kolkata") expect(at.length).toBeGreaterThan(20);
    });
  }

  test("Europe/Dublin's negative DST and Lord Howe's half hour are reported as the files say", () => {
    const dublin = LocalClock.fromEnv({ TZ: "Europe/Dublin" });
    expect(dublin.parts(Date.UTC(2026, 0, 15))).toMatchObject({ offset: 0, isDst: true }); // GMT, "IST" standard
    expect(dublin.parts(Date.UTC(2026, 6, 15))).toMatchObject({ offset: 3600, isDst: false });
    const howe = LocalClock.fromEnv({ TZ: "Australia/Lord_Howe" });
    expect(howe.parts(Date.UTC(2026, 0, 15))).toMatchObject({ offset: 11 * 3600, isDst: true });
    expect(howe.parts(Date.UTC(2026, 6, 15))).toMatchObject({ offset: 10.5 * 3600, isDst: false });
  });
});

/** ICU's `new Date(y, m - 1, d, h, mi, s).getTime()` for each local time, from a child Bun with TZ=zone. */
function icuFromLocal(zone: string, locals: number[][]): number[] {
  const script = `const out = [];
for (const l of (await Bun.stdin.text()).trim().split("\\n")) {
  const [y, m, d, h, mi, s] = l.split(" ").map(Number);
  out.push(new Date(y, m - 1, d, h, mi, s).getTime());
}
console.log(out.join("\\n"));`;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, TZ: zone }, stdin: Buffer.from(locals.map((l) => l.join(" ")).join("\n")) });
  if (r.exitCode !== 0) throw new Error(`bun -e for TZ=${zone}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim().split("\n").map(Number);
}

describe("fromLocal (local wall-clock time to epoch ms), against ICU's local Date constructor", () => {
  for (const zone of ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/Dublin", "Africa/Casablanca", "Asia/Kolkata"]) {
    test(zone, () => {
      const tzif = parseTzif(readFileSync(join(ZONEINFO, zone)));
      const from = Date.UTC(1970, 0, 1) / 1000, to = Date.UTC(2060, 0, 1) / 1000;
      const clock = LocalClock.fromEnv({ TZ: zone });
      // Wall-clock times around each change, on both sides' offsets: the skipped, the repeated and their edges.
      const locals: number[][] = [];
      // Only the changes ICU's copy of the tz database has too (see compare(): its version may differ from the
      // system's files): ICU's offsets on both sides equal the file's.
      const all = changes((t, out) => tzifInterval(tzif, t, out), from, to);
      const icuSides = icu(zone, all.flatMap((t) => [t - 1, t]));
      const at = all.filter((t, k) =>
        [t - 1, t].every((x, j) => Number(icuSides[2 * k + j]!.split(" ")[6]) * -60 === clock.offsetAt(x * 1000))
      );
      expect(at.length).toBeGreaterThanOrEqual(all.length / 2);
      for (const t of at) {
        for (const o of [clock.offsetAt((t - 1) * 1000), clock.offsetAt(t * 1000)]) {
          for (const d of [-3601, -1, 0, 1, 900, 1799, 1800, 3599, 3600, 3601]) {
            const w = new Date((t + o + d) * 1000);
            locals.push([w.getUTCFullYear(), w.getUTCMonth() + 1, w.getUTCDate(), w.getUTCHours(), w.getUTCMinutes(), w.getUTCSeconds()]);
          }
        }
      }
      locals.push([2026, 13, 32, 25, 61, 61], [2026, 0, 0, -1, 0, 0]); // out-of-range fields roll over
      const want = icuFromLocal(zone, locals);
      const diff = locals.map((l, i) => [l.join(" "), clock.fromLocal(l[0]!, l[1]!, l[2]!, l[3], l[4], l[5]), want[i]!] as const).filter(([, a, b]) => a !== b);
      // The rolled-over fields may land where ICU's copy of the tz database differs from the file: not a reference.
      const icuAt = diff.length ? icu(zone, diff.map(([, , b]) => Math.floor(b / 1000))) : [];
      const bad = diff.filter(([, , b], k) => Number(icuAt[k]!.split(" ")[6]) * -60 === clock.offsetAt(b));
      expect(bad.slice(0, 5)).toEqual([]);
    });
  }
});

test("fromLocal, hand-computed: New York's skipped 02:30 is 03:30 EDT, its repeated 01:30 the first (EDT) one", () => {
  const c = LocalClock.fromEnv({ TZ: "America/New_York" });
  expect(c.fromLocal(2026, 3, 8, 2, 30)).toBe(Date.UTC(2026, 2, 8, 7, 30));
  expect(c.fromLocal(2026, 3, 8, 3, 0)).toBe(Date.UTC(2026, 2, 8, 7, 0));
  expect(c.fromLocal(2026, 11, 1, 1, 30)).toBe(Date.UTC(2026, 10, 1, 5, 30));
  expect(c.fromLocal(2026, 11, 1, 2, 0)).toBe(Date.UTC(2026, 10, 1, 7, 0));
  expect(c.fromLocal(2026, 7, 1, 12, 0, 0, 250)).toBe(Date.UTC(2026, 6, 1, 16, 0, 0, 250));
  expect(c.fromLocal(Number.NaN, 1, 1)).toBeNaN();
});

describe("POSIX TZ strings (no file), against glibc", () => {
  const cases: [string, number, number][] = [
    ["EST5EDT,M3.2.0,M11.1.0", 1970, 2100],
    ["<+0330>-3:30", 1970, 2100],
    ["CET-1CEST,M3.5.0,M10.5.0/3", 1970, 2100],
    ["NZST-12NZDT,M9.5.0,M4.1.0/3", 1970, 2100], // southern hemisphere: DST across the new year
    ["AAA3BBB,J60/1,J300/2", 1970, 2100], // Julian days, Feb 29 not counted
    ["AAA3BBB,59/1,299/2", 1970, 2100], // zero-based days, Feb 29 counted
    ["<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", 1970, 2100], // negative rule times (RFC 8536 §3.3.1)
    ["IST-2IDT,M3.4.4/26,M10.5.0", 1970, 2100], // rule time past 24 h
    ["<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 1970, 2100],
    ["ZZZ-5:30:15", 1970, 2000], // seconds in the offset
  ];
  for (const [n, [tz, y0, y1]] of cases.entries()) {
    test(tz, () => {
      const rule = parsePosixTz(tz);
      expect(rule).toBeDefined();
      const from = Date.UTC(y0, 0, 1) / 1000, to = Date.UTC(y1, 0, 1) / 1000;
      const at = changes((t, out) => posixInterval(rule!, t, out), from, to);
      const secs = instants(at, from, to, 100 + n);
      const clock = LocalClock.fromEnv({ TZ: tz, TZDIR: tempDir("srs-tzdir-") });
      expect(clock.source).toBe("posix");
      expect(compare(clock, secs, undefined, glibc(tz, secs))).toEqual([]);
    });
  }

  test("all-year DST (RFC 8536 §3.3.1's EST5EDT,0/0,J365/25) is always DST", () => {
    const c = LocalClock.fromPosix("EST5EDT,0/0,J365/25")!;
    for (const y of [2023, 2024, 2025]) {
      for (const ms of [Date.UTC(y, 0, 1, 5), Date.UTC(y, 0, 1, 4, 59, 59), Date.UTC(y, 11, 31, 23), Date.UTC(y, 6, 1)]) {
        expect(c.parts(ms)).toMatchObject({ offset: -4 * 3600, isDst: true });
      }
    }
  });

  test("hand-computed: CET-1CEST changes on the last Sundays of March and October", () => {
    const c = LocalClock.fromPosix("CET-1CEST,M3.5.0,M10.5.0/3")!;
    // 2026-03-29 01:00 UTC (02:00 CET) and 2026-10-25 01:00 UTC (03:00 CEST).
    expect(c.parts(Date.UTC(2026, 2, 29, 0, 59, 59))).toMatchObject({ hour: 1, minute: 59, offset: 3600, isDst: false });
    expect(c.parts(Date.UTC(2026, 2, 29, 1))).toMatchObject({ hour: 3, minute: 0, offset: 7200, isDst: true });
    expect(c.parts(Date.UTC(2026, 9, 25, 0, 59, 59))).toMatchObject({ hour: 2, minute: 59, offset: 7200, isDst: true });
    expect(c.parts(Date.UTC(2026, 9, 25, 1))).toMatchObject({ hour: 2, minute: 0, offset: 3600, isDst: false });
    expect(LocalClock.fromPosix("<+0330>-3:30")!.parts(Date.UTC(2026, 5, 1, 20, 45, 7, 123))).toEqual({
      year: 2026, month: 6, day: 2, hour: 0, minute: 15, second: 7, ms: 123, offset: 12600, isDst: false,
    });
  });

  test("a DST name without rules takes M3.2.0,M11.1.0 (tzcode's default; glibc's posixrules path ends DST an hour early)", () => {
    const plain = LocalClock.fromPosix("AAA5BBB")!, ruled = LocalClock.fromPosix("AAA5BBB,M3.2.0,M11.1.0")!;
    for (let ms = Date.UTC(2020, 0, 1); ms < Date.UTC(2030, 0, 1); ms += 3_600_000 * 5 + 1000) {
      expect(plain.parts(ms)).toEqual(ruled.parts(ms));
    }
    expect(plain.parts(Date.UTC(2026, 10, 1, 5, 59, 59))).toMatchObject({ hour: 1, offset: -4 * 3600, isDst: true });
    expect(plain.parts(Date.UTC(2026, 10, 1, 6))).toMatchObject({ hour: 1, offset: -5 * 3600, isDst: false });
  });

  test("malformed strings are refused", () => {
    for (const s of ["", "E5", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0",
      "EST5EDT,J0,J100", "EST5EDT,366,1", "EST25", "<AB>5", "<EST5", "EST5EDT,M3.2.0/168,M11.1.0", "EST5EDT,M3.2.0,M11.1.0x", "EST5:60"]) {
      expect(parsePosixTz(s)).toBeUndefined();
    }
  });
});

describe("the zone source, as glibc's tzset", () => {
  test("TZ forms: :Area/City, Area/City, absolute path, TZDIR, empty, UTC, unknown", () => {
    expect(LocalClock.fromEnv({ TZ: ":Europe/Berlin" }).offsetAt(Date.UTC(2026, 6, 1))).toBe(7200);
    expect(LocalClock.fromEnv({ TZ: "Europe/Berlin" }).source).toBe("tzif");
    expect(LocalClock.fromEnv({ TZ: join(ZONEINFO, "Asia/Kolkata") }).offsetAt(0)).toBe(19800);
    const dir = tempDir("srs-tzdir-");
    mkdirSync(join(dir, "My"));
    copyFileSync(join(ZONEINFO, "Pacific/Chatham"), join(dir, "My/Zone"));
    const mine = LocalClock.fromEnv({ TZ: "My/Zone", TZDIR: dir });
    expect(mine.source).toBe("tzif");
    expect(mine.offsetAt(Date.UTC(2026, 6, 1))).toBe(12 * 3600 + 45 * 60);
    expect(LocalClock.fromEnv({ TZ: "Europe/Berlin", TZDIR: dir }).source).toBe("icu"); // not under that TZDIR
    expect(LocalClock.fromEnv({ TZ: "" }).source).toBe("utc");
    expect(LocalClock.fromEnv({ TZ: ":" }).source).toBe("utc");
    expect(LocalClock.fromEnv({ TZ: "UTC0", TZDIR: dir }).source).toBe("utc");
    expect(LocalClock.fromEnv({ TZ: "UTC", TZDIR: dir }).source).toBe("utc");
    const unknown = LocalClock.fromEnv({ TZ: "Bogus/Zone" });
    expect(unknown.source).toBe("icu");
    expect(unknown.fallbackReason).toContain("Bogus/Zone");
    expect(LocalClock.fromEnv({ TZ: "/dev/null" }).source).toBe("icu");
    expect(LocalClock.fromEnv({ TZ: ZONEINFO }).source).toBe("icu"); // a directory
  });

  test("TZ unset reads /etc/localtime (UTC when it is missing)", () => {
    const c = LocalClock.fromEnv({});
    expect(["tzif", "utc"]).toContain(c.source);
    const secs = [0, 1e9, Math.floor(Date.now() / 1000)];
    expect(secs.map((s) => fields(c.parts(s * 1000)))).toEqual(icu(undefined, secs).map((l) => l.split(" ").slice(0, 6).join(" ")));
  });

  test("format: SRS's log time, with and without ms", () => {
    const c = LocalClock.fromEnv({ TZ: "America/New_York" });
    expect(c.format(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe("2026-01-01 22:04:05");
    expect(c.format(Date.UTC(2026, 0, 2, 3, 4, 5, 6), true)).toBe("2026-01-01 22:04:05.006");
    expect(c.format(Date.UTC(2026, 6, 2, 3, 4, 5, 60), true)).toBe("2026-07-01 23:04:05.060");
  });
});

test("the log line's timestamp is the zone's local time (LogSink, TZ=Pacific/Chatham, in a child Bun)", () => {
  // The child writes a line between two readings of ICU's local time; the line's stamp must lie between them.
  const script = `import { LogSink } from ${JSON.stringify(join(import.meta.dir, "../../../lib/log/logger.ts"))};
const icu = () => { const d = new Date(); const p = (n, w = 2) => String(n).padStart(w, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3); };
const before = icu();
new LogSink({ tank: "console" }).write("trace", "probe", "hello");
console.log(before + "|" + icu());`;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, TZ: "Pacific/Chatham" } });
  expect(r.exitCode).toBe(0);
  const [line, bounds] = r.stdout.toString().trim().split("\n");
  const stamp = /^\[([^\]]+)\]\[Trace\]\[\d+\]\[probe\] hello$/.exec(line!)?.[1];
  const [before, after] = bounds!.split("|");
  expect(stamp).toBeDefined();
  expect(stamp! >= before! && stamp! <= after!).toBe(true);
});

describe("corrupt TZif files fall back to ICU, never throw", () => {
  const berlin = new Uint8Array(readFileSync(join(ZONEINFO, "Europe/Berlin")));
  const newYork = new Uint8Array(readFileSync(join(ZONEINFO, "America/New_York")));

  test("every truncation is refused", () => {
    for (const file of [berlin, newYork]) {
      for (let n = 0; n < file.length; n++) {
        const c = LocalClock.fromTzif(file.subarray(0, n));
        expect(c.source).toBe("icu");
      }
      expect(LocalClock.fromTzif(file).source).toBe("tzif");
    }
  });

  test("targeted faults: magic, counts, huge declared counts, type index, order, offsets, footer", () => {
    const v2 = (() => { // byte offset of the v2 header
      const v = new DataView(berlin.buffer, berlin.byteOffset);
      const c = (i: number) => v.getUint32(20 + i * 4);
      return 44 + c(3) * 5 + c(4) * 6 + c(5) + c(2) * 8 + c(1) + c(0);
    })();
    const faults: [string, (b: Uint8Array, v: DataView) => void][] = [
      ["magic", (b) => { b[0] = 0x74; }],
      ["v2 magic", (b) => { b[v2 + 1] = 0; }],
      ["typecnt 0", (_b, v) => v.setUint32(v2 + 36, 0)],
      ["timecnt 2^32-1", (_b, v) => v.setUint32(v2 + 32, 0xffffffff)],
      ["charcnt 2^31", (_b, v) => v.setUint32(v2 + 40, 0x80000000)],
      ["isutcnt 1", (_b, v) => v.setUint32(v2 + 20, 1)],
      ["leap records", (_b, v) => v.setUint32(v2 + 28, 1)],
      ["type index", (b, v) => { b[v2 + 44 + v.getUint32(v2 + 32) * 8] = 200; }],
      ["time order", (_b, v) => v.setBigInt64(v2 + 44 + 8, 1n << 40n)],
      ["utoff", (_b, v) => v.setInt32(v2 + 44 + v.getUint32(v2 + 32) * 9, -0x80000000)],
      ["footer", (b) => { b[b.length - 3] = 0x21; }],
      ["footer newline", (b) => { b[b.length - 1] = 0x20; }],
    ];
    for (const [what, hurt] of faults) {
      const b = berlin.slice();
      hurt(b, new DataView(b.buffer));
      const c = LocalClock.fromTzif(b);
      expect([what, c.source]).toEqual([what, "icu"]);
      expect(c.fallbackReason).toBeString();
      expect(c.parts(Date.UTC(2026, 6, 1)).year).toBe(2026);
    }
  });

  test("the ICU fallback gives ICU's fields and offset, years 1-99 included", () => {
    const c = LocalClock.fromTzif(new Uint8Array(8));
    expect(c.source).toBe("icu");
    for (const ms of [Date.UTC(2026, 6, 1, 12, 30, 15, 250), -62135596800000 + 86_400_000 * 400, 0]) {
      const d = new Date(ms);
      const p = c.parts(ms);
      expect(fields(p)).toBe(`${d.getFullYear()} ${d.getMonth() + 1} ${d.getDate()} ${d.getHours()} ${d.getMinutes()} ${d.getSeconds()}`);
      expect(p.ms).toBe(d.getMilliseconds());
      expect(Math.round(p.offset / 60) + 0).toBe(0 - Math.round(d.getTimezoneOffset()));
    }
  });

  test("a version-1 file (32-bit data, no footer) is read too", () => {
    const v = new DataView(berlin.buffer, berlin.byteOffset);
    const c = (i: number) => v.getUint32(20 + i * 4);
    const v1 = berlin.slice(0, 44 + c(3) * 5 + c(4) * 6 + c(5) + c(2) * 8 + c(1) + c(0));
    v1[4] = 0; // version 0: the v1 block is all there is
    const old = LocalClock.fromTzif(v1), full = LocalClock.fromTzif(berlin);
    expect(old.source).toBe("tzif");
    for (let ms = Date.UTC(1902, 0, 1); ms < Date.UTC(2037, 0, 1); ms += 86_400_000 * 3 + 3_600_000 * 7 + 1000) {
      expect(old.parts(ms)).toEqual(full.parts(ms));
    }
  });

  test("a corrupt file named by TZ gives the ICU fallback, with the file in the reason", () => {
    const dir = tempDir("srs-tzbad-");
    writeFileSync(join(dir, "Bad"), berlin.subarray(0, 100));
    const c = LocalClock.fromEnv({ TZ: "Bad", TZDIR: dir });
    expect(c.source).toBe("icu");
    expect(c.fallbackReason).toContain(join(dir, "Bad"));
  });

  test("fuzz: 4000 mutated files never throw; what parses gives sane parts", () => {
    const r = prng(8536);
    let parsed = 0;
    for (let i = 0; i < 4000; i++) {
      const b = (i % 2 ? berlin : newYork).slice();
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * b.length);
        b[at] = r() < 0.5 ? b[at]! ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
      }
      const c = LocalClock.fromTzif(r() < 0.1 ? b.subarray(0, Math.floor(r() * b.length)) : b);
      if (c.source === "tzif") parsed++;
      for (const ms of [-2e12, 0, Date.UTC(2026, 6, 1), 4e12]) {
        const p = c.parts(ms);
        expect(Math.abs(p.offset)).toBeLessThan(168 * 3600);
        expect(p.month >= 1 && p.month <= 12 && p.hour >= 0 && p.hour < 24).toBe(true);
      }
    }
    expect(parsed).toBeGreaterThan(100); // most single-byte edits of data land in valid values
  });

  test("fuzz: random POSIX TZ strings never throw", () => {
    const r = prng(1003);
    const alphabet = "ESTDCMJ0123456789,./:+-<>";
    for (let i = 0; i < 5000; i++) {
      let s = "";
      const n = Math.floor(r() * 30);
      for (let k = 0; k < n; k++) s += alphabet[Math.floor(r() * alphabet.length)];
      const str = r() < 0.5 ? `EST5EDT,${s}` : s;
      if (!parsePosixTz(str)) continue;
      for (const ms of [-2e12, 0, Date.UTC(2026, 2, 8, 7), 4e12]) {
        const p = LocalClock.fromPosix(str)!.parts(ms);
        expect(p.month >= 1 && p.month <= 12 && p.hour >= 0 && p.hour < 24).toBe(true);
      }
    }
  });
});
