/**
 * The pion WHEP load client (tests/tools/pion-client, Go): built once per source version and run inside a
 * network namespace (pion offers no loopback candidate), its JSON lines parsed as they come.
 *
 * Build: Debian's Go (golang-go) and pion (golang-github-pion-webrtc.v3-dev) in GOPATH mode, no network:
 * `GO111MODULE=off GOPATH=/usr/share/gocode go build`. The binary goes to <tmp>/srs-ts-pion-client-<hash of the
 * Go sources and the Go version>/pion-client and is reused by later test processes while the sources are the
 * same (older versions' folders are removed). A cold build takes ~15 s on 2 shared cores (pion and its
 * dependencies compiled into Go's build cache), a warm one ~1.5 s, a cache hit nothing.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./media.ts";
import type { Netns } from "./netns.ts";

export const PION_SRC = join(REPO_ROOT, "tests", "tools", "pion-client");
/** Where Debian's golang-*-dev packages put their sources (GOPATH mode). */
export const DEBIAN_GOPATH = "/usr/share/gocode";

let building: Promise<{ path: string; buildMs: number; cached: boolean }> | null = null;

/** Builds the client (or finds it already built for these sources); `buildMs` is 0 on a cache hit. */
export function buildPionClient(): Promise<{ path: string; buildMs: number; cached: boolean }> {
  building ??= build();
  return building;
}

async function build(): Promise<{ path: string; buildMs: number; cached: boolean }> {
  let goVersion: string;
  try {
    goVersion = execFileSync("go", ["version"]).toString().trim();
  } catch (e) {
    throw new Error(`the pion client needs Go (apt-get install golang-go golang-github-pion-webrtc.v3-dev): ${(e as Error).message}`);
  }
  if (!existsSync(join(DEBIAN_GOPATH, "src/github.com/pion/webrtc"))) {
    throw new Error(`pion is missing from ${DEBIAN_GOPATH} (apt-get install golang-github-pion-webrtc.v3-dev)`);
  }
  const h = createHash("sha256").update(goVersion);
  const files = readdirSync(PION_SRC).filter((f) => f.endsWith(".go")).sort();
  for (const f of files) h.update(f).update("\0").update(readFileSync(join(PION_SRC, f))).update("\0");
  const hash = h.digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `srs-ts-pion-client-${hash}`);
  const path = join(dir, "pion-client");
  if (existsSync(path)) return { path, buildMs: 0, cached: true };
  for (const d of readdirSync(tmpdir())) {
    if (d.startsWith("srs-ts-pion-client-") && d !== `srs-ts-pion-client-${hash}`) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const env: Record<string, string> = { ...process.env as Record<string, string>, GO111MODULE: "off", GOPATH: DEBIAN_GOPATH, GOFLAGS: "" };
  // go needs a build cache: $HOME/.cache/go-build normally; CI or a bare environment may have no HOME.
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(tmpdir(), "srs-ts-go-build-cache");
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    execFile("go", ["build", "-o", tmp, "."], { cwd: PION_SRC, env, maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(`go build of the pion client failed: ${stderr || err.message}`));
      else resolve();
    });
  });
  renameSync(tmp, path); // atomic: a concurrent test process sees either nothing or the whole binary
  return { path, buildMs: Math.round(performance.now() - t0), cached: false };
}

export interface PionOptions {
  /** WHEP endpoint (http://<host ip>:<api port>/rtc/v1/whep/?app=live&stream=NAME). */
  url: string;
  n?: number;
  /** Run time (0: until killed; use stop() for a summary). */
  seconds?: number;
  /** Concurrent offers; 0 = all at once. */
  join?: number;
  /** At most this many viewers begin joining per second (0: no pacing). */
  rate?: number;
  pliEvery?: number;
  closeAfter?: number;
  bye?: boolean;
  noDelete?: boolean;
  interval?: number;
  warmup?: number;
  fps?: number;
  /** Kill the process after this long (default: seconds + 30 s; none when seconds is 0 and this is unset). */
  timeoutMs?: number;
}

export interface Spread {
  min: number;
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export interface PionViewer {
  id: number;
  state: string;
  error: string;
  joinMs: number;
  connectMs: number;
  frames: number;
  keyframes: number;
  /** Frames per second from first frame + warm-up to the viewer's close or the end; -1 without a window. */
  fps: number;
  window: number;
  videoPackets: number;
  /** Video packets the sequence numbers say were sent (highest - first + 1): loss = 1 - videoPackets / this. */
  videoExpected: number;
  duplicates: number;
  audioPackets: number;
  bytes: number;
  rtcpIn: number;
  plis: number;
  disconnects: number;
  closedAt: number;
  delete: number;
}

export interface PionSummary {
  type: "summary";
  t: number;
  viewers: number;
  joined: number;
  failedJoins: number;
  failReasons: Record<string, number>;
  connectedAtEnd: number;
  join: Spread;
  connect: Spread;
  fps: Spread;
  full: number;
  fullThreshold: number;
  keyframesMin: number;
  perViewer: PionViewer[];
  deleteStatus: Record<string, number>;
}

export interface PionStats {
  type: "stats";
  t: number;
  viewers: number;
  started: number;
  answered: number;
  connected: number;
  receiving: number;
  failed: number;
  fps: Spread;
  /** Sum of viewerBytes. */
  bytes: number;
  /** Per viewer, cumulative: complete video frames, RTP bytes (both tracks), distinct and expected video packets,
   * audio packets. */
  frames: number[];
  viewerBytes: number[];
  videoPackets: number[];
  videoExpected: number[];
  audioPackets: number[];
}

export interface PionEvent {
  type: "event";
  t: number;
  id: number;
  event: "connected" | "first-frame" | "disconnected" | "failed" | "closed";
  joinMs?: number;
  error?: string;
  delete?: number;
}

export type PionLine = PionSummary | PionStats | PionEvent | { type: "start" | "offer" | "error"; [k: string]: unknown };

export interface PionRun {
  proc: ChildProcess;
  /** Every JSON line so far. */
  lines: PionLine[];
  stderr(): string;
  /** Resolves with the first line (already received or to come) that `pred` accepts; rejects after `timeoutMs` or when
   * the process ends without one. */
  waitFor<T extends PionLine>(pred: (l: PionLine) => l is T, timeoutMs: number): Promise<T>;
  waitFor(pred: (l: PionLine) => boolean, timeoutMs: number): Promise<PionLine>;
  /** The final summary (waits for the process to end). */
  summary(): Promise<PionSummary>;
  /** SIGTERM: the client closes its viewers and prints the summary. */
  stop(): Promise<PionSummary>;
  kill(): void;
  done: Promise<number | null>;
}

const running = new Set<ChildProcess>();
let exitHooked = false;

/** Runs the client inside `netns` (see PionOptions). Build first with buildPionClient(). */
export function runPion(binary: string, netns: Netns, o: PionOptions): PionRun {
  const args = ["-url", o.url, "-n", String(o.n ?? 1), "-seconds", String(o.seconds ?? 10), "-join", String(o.join ?? 0)];
  if (o.rate) args.push("-rate", String(o.rate));
  if (o.pliEvery) args.push("-pli-every", String(o.pliEvery));
  if (o.closeAfter) args.push("-close-after", String(o.closeAfter));
  if (o.bye) args.push("-bye");
  if (o.noDelete) args.push("-no-delete");
  if (o.interval !== undefined) args.push("-interval", String(o.interval));
  if (o.warmup !== undefined) args.push("-warmup", String(o.warmup));
  if (o.fps !== undefined) args.push("-fps", String(o.fps));
  const proc = spawn("ip", ["netns", "exec", netns.ns, binary, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", () => {
      for (const p of running) p.kill("SIGKILL");
    });
  }
  const lines: PionLine[] = [];
  const waiters: { pred: (l: PionLine) => boolean; resolve: (l: PionLine) => void }[] = [];
  let partial = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => {
    partial += d.toString();
    let i: number;
    while ((i = partial.indexOf("\n")) >= 0) {
      const text = partial.slice(0, i);
      partial = partial.slice(i + 1);
      let l: PionLine;
      try {
        l = JSON.parse(text) as PionLine;
      } catch {
        err += `unparsed stdout: ${text}\n`;
        continue;
      }
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  proc.stderr!.on("data", (d: Buffer) => {
    if (err.length < 1 << 20) err += d.toString();
  });
  const done = new Promise<number | null>((resolve) => {
    proc.once("exit", (code) => {
      running.delete(proc);
      resolve(code);
    });
    proc.once("error", (e) => {
      err += String(e);
      running.delete(proc);
      resolve(-1);
    });
  });
  const limit = o.timeoutMs ?? (o.seconds === 0 ? 0 : ((o.seconds ?? 10) + 30) * 1000);
  const timer = limit > 0 ? setTimeout(() => proc.kill("SIGKILL"), limit) : undefined;
  void done.then(() => clearTimeout(timer));
  const waitFor = (pred: (l: PionLine) => boolean, timeoutMs: number): Promise<PionLine> => {
    const have = lines.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise<PionLine>((resolve, reject) => {
      const w = { pred, resolve: (l: PionLine) => (clearTimeout(t), resolve(l)) };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`pion client: no matching line in ${timeoutMs} ms; stderr: ${err.slice(-2000)}`));
      }, timeoutMs);
      waiters.push(w);
      void done.then(() => setTimeout(() => {
        if (waiters.includes(w)) {
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(t);
          reject(new Error(`pion client exited (${proc.exitCode}) without a matching line; stderr: ${err.slice(-2000)}`));
        }
      }, 50));
    });
  };
  const summary = async (): Promise<PionSummary> => {
    await done;
    const s = lines.find((l): l is PionSummary => l.type === "summary");
    if (!s) throw new Error(`pion client exited (${proc.exitCode}) without a summary; stderr: ${err.slice(-2000)}`);
    return s;
  };
  return {
    proc,
    lines,
    stderr: () => err,
    waitFor: waitFor as PionRun["waitFor"],
    summary,
    stop: () => {
      proc.kill("SIGTERM");
      return summary();
    },
    kill: () => proc.kill("SIGKILL"),
    done,
  };
}

/** The events of one kind, in order. */
export function events(lines: PionLine[], kind: PionEvent["event"]): PionEvent[] {
  return lines.filter((l): l is PionEvent => l.type === "event" && (l as PionEvent).event === kind);
}
