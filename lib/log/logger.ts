/**
 * SRS-style traceable logs: `[2026-11-21 23:59:57.123][Trace][4242][k93j2m8s] message`.
 *
 * Every connection/session gets a short context id (`newContextId`) and logs through a `Log` bound to it, so
 * `grep k93j2m8s srs.log` shows one client's whole life. The sink (console or file) is owned by the server.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { formatLocalTime } from "../time/local-time.ts";

export type LogLevel = "verbose" | "info" | "trace" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { verbose: 0, info: 1, trace: 2, warn: 3, error: 4 };
const LEVEL_LABEL: Record<LogLevel, string> = {
  verbose: "Verb",
  info: "Debug",
  trace: "Trace",
  warn: "Warn",
  error: "Error",
};

export function parseLogLevel(s: string | undefined, fallback: LogLevel = "trace"): LogLevel {
  const v = (s ?? "").toLowerCase();
  if (v === "verbose" || v === "info" || v === "trace" || v === "warn" || v === "error") return v;
  if (v === "debug") return "info";
  return fallback;
}

const CID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** An 8-character random context id, like SRS's. */
export function newContextId(): string {
  let s = "";
  for (let i = 0; i < 8; i++) s += CID_ALPHABET[Math.floor(Math.random() * CID_ALPHABET.length)];
  return s;
}

/** A line kept for the console (GET /api/v1/logs): its context id and the line as written (no newline). */
export interface LogLine {
  cid: string;
  line: string;
}

/** How many lines a sink keeps for the console, and how long each may be (longer ones are cut). */
export const LOG_RING_LINES = 2000;
const LOG_RING_LINE_CHARS = 2000;

/**
 * The last lines written, for the console: a fixed ring (LOG_RING_LINES entries, each cut to LOG_RING_LINE_CHARS),
 * so its memory is bounded whatever is logged.
 */
export class LogRing {
  private buf: (LogLine | undefined)[];
  private head = 0;
  private n = 0;

  constructor(readonly capacity = LOG_RING_LINES) {
    this.buf = new Array<LogLine | undefined>(capacity);
  }

  push(cid: string, line: string): void {
    this.buf[this.head] = { cid, line: line.length > LOG_RING_LINE_CHARS ? `${line.slice(0, LOG_RING_LINE_CHARS)}…` : line };
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
  }

  /** The last `lines` lines (oldest first), of context `cid` only when given. */
  recent(cid: string | undefined, lines: number): LogLine[] {
    const want = Math.max(0, Math.min(this.capacity, Math.floor(lines) || 0));
    const out: LogLine[] = [];
    for (let i = 1; i <= this.n && out.length < want; i++) {
      const e = this.buf[(this.head - i + this.capacity) % this.capacity]!;
      if (!cid || e.cid === cid) out.push(e);
    }
    return out.reverse();
  }
}

/** Where log lines go. `console` writes stdout (warn/error to stderr); `file` appends and can be reopened. */
export class LogSink {
  level: LogLevel;
  /** The last lines written (the console's log panel). */
  readonly ring = new LogRing();
  private tank: "console" | "file";
  private path: string;
  private fd = -1;
  private utc: boolean;

  constructor(opts: { tank?: "console" | "file"; file?: string; level?: LogLevel; utc?: boolean } = {}) {
    this.tank = opts.tank ?? "console";
    this.path = opts.file ?? "./objs/srs.log";
    this.level = opts.level ?? "trace";
    this.utc = opts.utc ?? false;
    if (this.tank === "file") this.open();
  }

  get target(): string {
    return this.tank === "file" ? this.path : "console";
  }

  private open(): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, "a");
    } catch (e) {
      throw new Error(`open log file ${this.path}: ${(e as Error).message}`);
    }
  }

  /** SIGUSR1: reopen the file so logrotate can move the old one away. */
  reopen(): void {
    if (this.tank !== "file") return;
    const old = this.fd;
    this.open();
    if (old >= 0) closeSync(old);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.level];
  }

  write(level: LogLevel, cid: string, msg: string): void {
    if (!this.enabled(level)) return;
    const line = `[${this.timestamp()}][${LEVEL_LABEL[level]}][${process.pid}][${cid}] ${msg}\n`;
    this.ring.push(cid, line.slice(0, -1));
    if (this.tank === "file" && this.fd >= 0) {
      writeSync(this.fd, line);
    } else if (level === "warn" || level === "error") {
      process.stderr.write(line);
    } else {
      process.stdout.write(line);
    }
  }

  private timestamp(): string {
    const d = new Date();
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    if (this.utc) {
      return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${
        p(d.getUTCMinutes())
      }:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
    }
    return formatLocalTime(d.getTime(), true); // local time from the tz database: no ICU (lib/time/local-time.ts)
  }
}

/** A logger bound to one context id. Pass it down; never log through a global. */
export class Log {
  constructor(readonly sink: LogSink, readonly cid: string = newContextId()) {}

  /** A logger for a new session (fresh context id) writing to the same sink. */
  child(cid: string = newContextId()): Log {
    return new Log(this.sink, cid);
  }

  verbose(msg: string): void {
    this.sink.write("verbose", this.cid, msg);
  }
  info(msg: string): void {
    this.sink.write("info", this.cid, msg);
  }
  trace(msg: string): void {
    this.sink.write("trace", this.cid, msg);
  }
  warn(msg: string): void {
    this.sink.write("warn", this.cid, msg);
  }
  error(msg: string, err?: unknown): void {
    const detail = err === undefined ? "" : `: ${err instanceof Error ? err.message : String(err)}`;
    this.sink.write("error", this.cid, msg + detail);
  }
}

/** A logger that drops everything (unit tests). */
export function silentLog(): Log {
  return new Log(new LogSink({ tank: "console", level: "error" }), "test0000");
}
