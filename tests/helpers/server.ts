/**
 * End-to-end harness: runs the real server (`bun main.ts`, or a built binary) as a child process on free
 * loopback ports, and real clients (ffmpeg/ffprobe) against it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./media.ts";
import { addressInUse, freePort, tcpAnswers } from "./ports.ts";
import { count, waitFor } from "./wait.ts";
import { tempDir } from "./temp.ts";

export { freePort, freeUdpPort, tcpAnswers, udpTaken } from "./ports.ts";

export async function waitPort(port: number, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await tcpAnswers(port)) return;
    await Bun.sleep(50);
  }
  throw new Error(`port ${port} not listening after ${timeoutMs}ms`);
}

export interface RunningServer {
  rtmp: number;
  http: number;
  api: number;
  /** UDP port given to srt_server (SRS_SRT_SERVER_LISTEN); the server is off unless SRS_SRT_SERVER_ENABLED=on. */
  srt: number;
  dir: string;
  proc: ChildProcess;
  output(): string;
  rtmpUrl(path: string): string;
  httpUrl(path: string): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** Config text written to a file in the server's temp work dir (default: built-in default config). */
  config?: string;
  env?: Record<string, string>;
  /** More env from the chosen ports (e.g. `SRS_LISTEN: \`127.0.0.1:${p.rtmp} [::1]:${p.rtmp}\``), applied last. */
  portEnv?: (p: { rtmp: number; http: number; api: number; srt: number }) => Record<string, string>;
  /** Command to run instead of `bun main.ts` (e.g. a compiled binary). */
  command?: string[];
  /** Ports to use instead of fresh free ones (a config that names its own ports; blank the SRS_*_LISTEN env). */
  ports?: { rtmp?: number; http?: number; api?: number; srt?: number };
}

/**
 * Starts the server with every port on a free loopback port. If a port was taken between picking and binding
 * (the server says "address already in use"), starts again on new ports, up to three times.
 */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !addressInUse(String(e))) throw e;
    }
  }
}

async function startServerOnce(opts: StartOptions): Promise<RunningServer> {
  const rtmp = opts.ports?.rtmp ?? await freePort();
  const http = opts.ports?.http ?? await freePort();
  const api = opts.ports?.api ?? await freePort();
  const srt = opts.ports?.srt ?? await freePort();
  const dir = tempDir("srs-ts-e2e-");
  const args: string[] = [];
  if (opts.config !== undefined) {
    writeFileSync(join(dir, "srs.conf"), opts.config);
    args.push("-c", join(dir, "srs.conf"));
  }
  const cmd = opts.command ?? [process.execPath, join(REPO_ROOT, "main.ts")];
  const proc = spawn(cmd[0]!, [...cmd.slice(1), ...args], {
    cwd: dir,
    env: {
      ...process.env,
      SRS_LISTEN: `127.0.0.1:${rtmp}`,
      SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${http}`,
      SRS_HTTP_API_LISTEN: `127.0.0.1:${api}`,
      SRS_RTC_SERVER_ENABLED: "off",
      SRS_SRT_SERVER_ENABLED: "off",
      SRS_SRT_SERVER_LISTEN: String(srt),
      SRS_PID: join(dir, "srs.pid"),
      SRS_LOG_TANK: "console",
      SRS_DAEMON: "off",
      ...opts.env,
      ...opts.portEnv?.({ rtmp, http, api, srt }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  // Ready when the server says every listener is up (RTMP binds first, then HTTP, API, SRT, RTC); with a log
  // file instead of the console, when the RTMP port answers.
  const logsToConsole = (opts.env?.SRS_LOG_TANK ?? "console") === "console";
  const ready = async () => {
    await waitPort(rtmp);
    const end = Date.now() + 10000;
    while (logsToConsole && !out.includes("server started") && Date.now() < end) await Bun.sleep(20);
  };
  try {
    await Promise.race([
      ready(),
      exited.then((code) => {
        throw new Error(`server exited with ${code}: ${out}`);
      }),
    ]);
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  return {
    rtmp,
    http,
    api,
    srt,
    dir,
    proc,
    output: () => out,
    rtmpUrl: (p) => `rtmp://127.0.0.1:${rtmp}${p.startsWith("/") ? p : "/" + p}`,
    httpUrl: (p) => `http://127.0.0.1:${http}${p.startsWith("/") ? p : "/" + p}`,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill("SIGKILL"), 8000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** No SRS_*_LISTEN from the harness: the config's listen directives rule, so a reload can move them. */
export const NO_ENV_LISTEN: Record<string, string> = {
  SRS_LISTEN: "", SRS_HTTP_SERVER_LISTEN: "", SRS_HTTP_API_LISTEN: "",
  SRS_SRT_SERVER_ENABLED: "", SRS_SRT_SERVER_LISTEN: "", SRS_RTC_SERVER_ENABLED: "",
};

/** Writes `config` over the server's config file and sends SIGHUP; resolves when the server logged "reload ok". */
export async function reloadConfig(s: RunningServer, config: string): Promise<void> {
  const before = count(s.output(), "reload ok");
  writeFileSync(join(s.dir, "srs.conf"), config);
  s.proc.kill("SIGHUP");
  await waitFor("reload ok", () => count(s.output(), "reload ok") > before, 10000, s);
}

export interface Proc {
  proc: ChildProcess;
  output(): string;
  done: Promise<number | null>;
  kill(): void;
}

/** Runs a command (ffmpeg, ffprobe, ...) collecting its output. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Proc {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => {
    proc.once("exit", (code) => resolve(code));
    proc.once("error", () => resolve(-1));
  });
  const timer = opts.timeoutMs ? setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs) : undefined;
  void done.then(() => timer && clearTimeout(timer));
  return { proc, output: () => out, done, kill: () => proc.kill("SIGKILL") };
}

/** ffmpeg publishing a clip to a URL in real time, looping forever until killed. */
export function publish(clipPath: string, url: string, extra: string[] = []): Proc {
  return run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clipPath,
    "-c", "copy", ...extra, "-f", "flv", url,
  ]);
}

export interface ProbeStream {
  codec_name: string;
  codec_type: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  profile?: string;
}

/** ffprobe the streams of a URL or file. */
export async function probeStreams(url: string, timeoutMs = 15000): Promise<ProbeStream[]> {
  const p = run("ffprobe", ["-v", "error", "-rw_timeout", "8000000", "-show_streams", "-of", "json", url], { timeoutMs });
  const code = await p.done;
  if (code !== 0) throw new Error(`ffprobe ${url} exited ${code}: ${p.output()}`);
  const j = JSON.parse(p.output().slice(p.output().indexOf("{"))) as { streams: ProbeStream[] };
  return j.streams;
}

/** Plays a URL with ffmpeg for `seconds` of media and returns the decoded frame counts. */
export async function playFrames(url: string, seconds: number, timeoutMs = 30000): Promise<{ video: number; audio: number; log: string }> {
  const dir = tempDir("srs-ts-play-");
  const vprog = join(dir, "v.txt");
  const p = run("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "error", "-rw_timeout", "8000000", "-i", url,
    "-t", String(seconds), "-map", "0:v:0", "-f", "null", "-progress", vprog, "-",
    "-t", String(seconds), "-map", "0:a:0?", "-f", "null", "-",
  ], { timeoutMs });
  await p.done;
  const text = (await Bun.file(vprog).text().catch(() => "")) as string;
  const frames = [...text.matchAll(/^frame=(\d+)/gm)].map((m) => Number(m[1]));
  // audio frames: count via a second pass is costly; use the -progress of the video and ffmpeg's audio stats
  return { video: frames.length ? frames[frames.length - 1]! : 0, audio: 0, log: p.output() };
}

export function writeTemp(name: string, text: string): string {
  const dir = tempDir("srs-ts-");
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Server env for WebRTC tests: the RTC service on UDP `udp` (loopback candidate) and rtc on the default vhost. */
export function rtcEnv(udp: number): Record<string, string> {
  return {
    SRS_RTC_SERVER_ENABLED: "on",
    SRS_RTC_SERVER_LISTEN: String(udp),
    CANDIDATE: "127.0.0.1",
    SRS_VHOST_RTC_ENABLED: "on",
  };
}
