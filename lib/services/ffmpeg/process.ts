/**
 * One supervised external program (an ingest/transcode FFmpeg or an exec program), as SRS's SrsProcess plus the
 * 3-second check loop of its ingester/encoder/exec, with what SRS lacks: back-off and a readable failure.
 *
 *  - Started with node:child_process (Bun and Deno both provide it), stdin from /dev/null, in its own process
 *    group (so a stop reaches whatever it starts), through `setpriv --pdeathsig KILL` when util-linux's setpriv
 *    exists: if the server (or a worker) is killed with SIGKILL, the kernel kills the program too. stdout and
 *    stderr go through a pipe to the log file (appended; SRS's `ff_log_dir` files) or nowhere (`/dev/null`); the
 *    last lines are kept in memory for the log and the API. An FFmpeg whose server died without SIGKILL's help
 *    also dies of SIGPIPE at its next progress line.
 *  - Restarted when it exits: after RESTART_MS when it ran for at least HEALTHY_MS (a file ingest that reached its
 *    end, a killed FFmpeg: SRS restarts within its 3 s cycle), otherwise with back-off doubling from RESTART_MS
 *    to MAX_BACKOFF_MS, the exit logged with the last stderr lines. A program that is missing is retried the same
 *    way (the log says why), never in a tight loop.
 *  - stop(): SIGTERM to the group (FFmpeg finishes its output), SIGKILL after `stopGraceMs` (SRS:
 *    srs_kill_forced, 1 s); resolves when the program has exited.
 */
// node:child_process is imported on the first spawn: it pulls node:net and streams in (~4 MB of RSS under Bun),
// which a server without FFmpeg tasks never needs.
import type { ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Log } from "../../log/logger.ts";
import { resolveProgram, setprivPath } from "./binary.ts";
import { ffmpegEncoders, withAvailableEncoders } from "./encoders.ts";

export const RESTART_MS = 1000;
export const HEALTHY_MS = 5000;
export const MAX_BACKOFF_MS = 30000;
const TAIL_LINES = 20;
const TAIL_LINE_CHARS = 400;

export interface ProcessSpec {
  /** What runs it: "ingest", "transcode" or "exec". */
  kind: "ingest" | "transcode" | "exec";
  /** Its name in the log and the API: `vhost/id` (ingest), `vhost/app/stream engine` (transcode)... */
  name: string;
  /** The stream it serves (transcode, exec) or publishes (ingest), as vhost/app/stream, when known. */
  stream?: string;
  bin: string;
  args: string[];
  /** Files stdout and stderr are appended to (undefined: kept in memory only, the last lines). */
  stdout?: string;
  stderr?: string;
  /** SIGTERM to SIGKILL, ms (1000). */
  stopGraceMs?: number;
  /** An FFmpeg built by us: an AAC encoder it lacks (SRS's libfdk_aac) is replaced by its native one (encoders.ts). */
  adaptEncoders?: boolean;
}

export interface ProcessOptions {
  restartMs?: number;
  healthyMs?: number;
  maxBackoffMs?: number;
  /** Use setpriv's parent-death signal when available (default true). */
  pdeathsig?: boolean;
}

/** What the API shows of a process. */
export interface ProcessInfo {
  kind: string;
  name: string;
  stream?: string;
  state: "running" | "waiting" | "stopped";
  pid?: number;
  /** The command line as run (binary resolved, arguments space-joined). */
  cmdline: string;
  log?: string;
  uptime_ms: number;
  starts: number;
  restarts: number;
  last_exit?: string;
  last_stderr: string[];
}

/** Keeps the last lines of a stream of text (\r and \n end lines: FFmpeg's progress line uses \r). */
class Tail {
  lines: string[] = [];
  private partial = "";
  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/[\r\n]+/);
    this.partial = (parts.pop() ?? "").slice(-TAIL_LINE_CHARS);
    for (const p of parts) {
      if (!p.trim()) continue;
      this.lines.push(p.slice(0, TAIL_LINE_CHARS));
      if (this.lines.length > TAIL_LINES) this.lines.shift();
    }
  }
  flush(): void {
    if (this.partial.trim()) this.push("\n");
    this.partial = "";
  }
}

/** An output file opened for appending (SRS: O_CREAT|O_APPEND), shared by stdout and stderr when they are the same. */
function openLog(path: string | undefined, log: Log, name: string): number | undefined {
  if (!path || path === "/dev/null") return undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    return openSync(path, "a");
  } catch (e) {
    log.warn(`${name}: cannot open ${path} for its output, discarded: ${(e as Error).message}`);
    return undefined;
  }
}

export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private backoff: number;
  private readonly tail = new Tail();
  private startedAt = 0;
  private resolved = "";
  private fallbackLogged = false;
  private encodersLogged = false;
  private launching = false;
  /** The arguments of the last run (the spec's, with encoders adapted). */
  private args: string[];
  starts = 0;
  lastExit: string | undefined;

  constructor(readonly spec: ProcessSpec, private log: Log, private opts: ProcessOptions = {}) {
    this.backoff = opts.restartMs ?? RESTART_MS;
    this.args = spec.args;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  start(): void {
    if (this.stopped || this.child || this.launching) return;
    this.launching = true;
    this.launch()
      .catch((e) => {
        this.lastExit = `start failed: ${(e as Error).message}`;
        this.scheduleRestart(`start failed: ${(e as Error).message}`);
      })
      .finally(() => (this.launching = false));
  }

  private async launch(): Promise<void> {
    const r = resolveProgram(this.spec.bin);
    if ("missing" in r) {
      this.lastExit = `not started: ${r.missing}`;
      this.scheduleRestart(`cannot run ${this.spec.bin}: ${r.missing}`);
      return;
    }
    if (r.fallback && !this.fallbackLogged) {
      this.fallbackLogged = true;
      this.log.warn(`${this.label}: ${r.fallback} (SRS's bundled FFmpeg) is absent, using ${r.path} from PATH`);
    }
    this.resolved = r.path;
    let args = this.spec.args;
    if (this.spec.adaptEncoders) {
      const w = withAvailableEncoders(args, await ffmpegEncoders(r.path));
      if (this.stopped) return;
      if (w.replaced.length && !this.encodersLogged) {
        this.encodersLogged = true;
        this.log.warn(`${this.label}: ${r.path} has no ${w.replaced.map((x) => x.split(" ")[0]).join(", ")} encoder (SRS's bundled FFmpeg has), using ${w.replaced.join(", ")}`);
      }
      args = w.args;
    }
    this.args = args;
    const setpriv = this.opts.pdeathsig === false ? undefined : setprivPath();
    const [cmd, argv] = setpriv
      ? [setpriv, ["--pdeathsig", "KILL", "--", r.path, ...args]]
      : [r.path, args];
    const { spawn } = await import("node:child_process");
    if (this.stopped) return;
    const outFd = openLog(this.spec.stdout, this.log, this.label);
    const errFd = this.spec.stderr === this.spec.stdout ? outFd : openLog(this.spec.stderr, this.log, this.label);
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      for (const fd of new Set([outFd, errFd])) if (fd !== undefined) closeSync(fd);
      this.lastExit = `spawn failed: ${(e as Error).message}`;
      this.scheduleRestart(`cannot run ${r.path}: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    this.tail.lines = []; // the API and the log show this run's output
    this.starts++;
    this.startedAt = Date.now();
    // Like SRS's child, a header in the log file before the program's own output: who started it, and how.
    const header = `\nprocess ppid=${process.pid}, pid=${child.pid}, ${new Date().toISOString()}\nprocess binary=${r.path}, cli: ${this.cmdline}\n`;
    for (const fd of new Set([outFd, errFd])) {
      if (fd === undefined) continue;
      try {
        writeSync(fd, header);
      } catch {
        // as below
      }
    }
    // Small chunks (FFmpeg's progress lines), written as they come; the tail is kept for the log and the API.
    const sink = (fd: number | undefined) => (d: Buffer) => {
      if (fd !== undefined) {
        try {
          writeSync(fd, d);
        } catch {
          // a full disk does not stop the program
        }
      }
      this.tail.push(d.toString("utf8"));
    };
    child.stdout?.on("data", sink(outFd));
    child.stderr?.on("data", sink(errFd));
    this.log.trace(`${this.label}: started pid=${child.pid} ${this.cmdline}${this.spec.stderr ? ` 2>${this.spec.stderr}` : ""}`);
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (why: string) => {
        if (done) return;
        done = true;
        for (const fd of new Set([outFd, errFd])) {
          if (fd === undefined) continue;
          try {
            closeSync(fd);
          } catch {
            // already closed
          }
        }
        this.tail.flush();
        // What it left running in its group (a shell's background job) goes with it: no orphans.
        if (child.pid) {
          try {
            process.kill(-child.pid, "SIGTERM");
          } catch {
            // the group is empty
          }
        }
        this.child = undefined;
        this.onExit(why);
        resolve();
      };
      const reason = (code: number | null, signal: NodeJS.Signals | null) => (signal ? `killed by ${signal}` : `exit code ${code}`);
      child.once("error", (e) => finish(`spawn error: ${e.message}`));
      // "close" comes once its output is read to the end; a child it left behind may hold the pipes open, so the
      // exit counts after a short wait for the last lines.
      child.once("exit", (code, signal) => setTimeout(() => finish(reason(code, signal)), 300));
      child.once("close", (code, signal) => finish(reason(code, signal)));
    });
  }

  private get label(): string {
    return `${this.spec.kind} ${this.spec.name}`;
  }

  /** The command line as run (for the log and the API). */
  get cmdline(): string {
    const q = (a: string) => (/^[\w@%+=:,./?[\]-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);
    return [this.resolved || this.spec.bin, ...this.args].map(q).join(" ");
  }

  private onExit(why: string): void {
    const ran = Date.now() - this.startedAt;
    this.lastExit = why;
    if (this.stopped) {
      this.log.trace(`${this.label}: stopped (${why}) after ${(ran / 1000).toFixed(1)}s`);
      return;
    }
    const healthy = ran >= (this.opts.healthyMs ?? HEALTHY_MS);
    if (healthy) {
      this.backoff = this.opts.restartMs ?? RESTART_MS;
      this.log.trace(`${this.label}: exited (${why}) after ${(ran / 1000).toFixed(1)}s, restart in ${this.backoff / 1000}s`);
      this.scheduleRestart(undefined);
      return;
    }
    const last = this.tail.lines.slice(-5).join(" | ");
    this.scheduleRestart(`exited at once (${why}) after ${(ran / 1000).toFixed(1)}s${last ? `; last output: ${last}` : ""}`);
  }

  /** Restarts after the back-off; `warn` (a failure) is logged with the delay and doubles the next one. */
  private scheduleRestart(warn: string | undefined): void {
    if (this.stopped) return;
    const delay = this.backoff;
    if (warn !== undefined) {
      this.log.warn(`${this.label}: ${warn}; retry in ${delay / 1000}s`);
      this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? MAX_BACKOFF_MS);
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, delay);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        this.child?.kill(sig);
      } catch {
        // gone already
      }
    }
  }

  /** SIGTERM, then SIGKILL after the grace; resolves once the program has exited. No restart after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const exited = this.exited;
    if (!this.child || !exited) return;
    this.signal("SIGTERM");
    let t: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => (t = setTimeout(() => r(true), this.spec.stopGraceMs ?? 1000))),
    ]);
    clearTimeout(t);
    if (timedOut) {
      this.log.warn(`${this.label}: no exit ${this.spec.stopGraceMs ?? 1000}ms after SIGTERM, SIGKILL`);
      this.signal("SIGKILL");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
    }
  }

  info(): ProcessInfo {
    return {
      kind: this.spec.kind,
      name: this.spec.name,
      stream: this.spec.stream,
      state: this.child ? "running" : this.stopped ? "stopped" : "waiting",
      pid: this.child?.pid,
      cmdline: this.cmdline,
      log: this.spec.stderr,
      uptime_ms: this.child ? Date.now() - this.startedAt : 0,
      starts: this.starts,
      restarts: Math.max(0, this.starts - 1),
      last_exit: this.lastExit,
      last_stderr: this.tail.lines.slice(-5),
    };
  }
}
