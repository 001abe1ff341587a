/**
 * The proxy's e2e pieces: `srs-ts proxy` as a child process on free ports (PROXY_* env), redis-server (Debian's)
 * on a free loopback port with no persistence, and origins that send their heartbeat to a proxy.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./media.ts";
import { freePort, tcpAnswers } from "./ports.ts";
import { FLV_AND_HLS, serverConf } from "./conf.ts";
import { tempDir } from "./temp.ts";
import { waitFor } from "./wait.ts";

export interface RunningProxy {
  rtmp: number;
  http: number;
  api: number;
  system: number;
  rtc: number;
  srt: number;
  proc: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

async function exitOf(proc: ChildProcess, signal: NodeJS.Signals, exited: Promise<number | null>): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  proc.kill(signal);
  const t = setTimeout(() => proc.kill("SIGKILL"), 8000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

/**
 * `srs-ts proxy` with every listener on a free loopback port, more `env` (PROXY_LOAD_BALANCER_TYPE, redis).
 * `command`: how to run srs-ts (default `bun main.ts`; e.g. `deno run -A main.ts`), "proxy" is appended.
 */
export async function startProxy(env: Record<string, string> = {}, command?: string[]): Promise<RunningProxy> {
  const [rtmp, http, api, system, rtc, srt] = [
    await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(),
  ];
  const dir = tempDir("srs-ts-proxy-");
  const cmd = command ?? [process.execPath, join(REPO_ROOT, "main.ts")];
  const proc = spawn(cmd[0]!, [...cmd.slice(1), "proxy"], {
    cwd: dir,
    env: {
      ...process.env,
      PROXY_RTMP_SERVER: `127.0.0.1:${rtmp}`,
      PROXY_HTTP_SERVER: `127.0.0.1:${http}`,
      PROXY_HTTP_API: `127.0.0.1:${api}`,
      PROXY_SYSTEM_API: `127.0.0.1:${system}`,
      PROXY_WEBRTC_SERVER: `127.0.0.1:${rtc}`,
      PROXY_SRT_SERVER: `127.0.0.1:${srt}`,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const p: RunningProxy = {
    rtmp, http, api, system, rtc, srt, proc,
    output: () => out,
    stop: (signal = "SIGTERM") => exitOf(proc, signal, exited),
  };
  try {
    await waitFor("proxy started", () => {
      if (proc.exitCode !== null) throw new Error(`proxy exited ${proc.exitCode}: ${out}`);
      return out.includes("proxy started");
    }, 60000, p);
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  return p;
}

export interface RunningRedis {
  port: number;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** redis-server on `port` (a free one by default), nothing saved to disk. */
export async function startRedis(port?: number): Promise<RunningRedis> {
  const p = port ?? await freePort();
  const dir = tempDir("srs-ts-redis-");
  const proc = spawn("redis-server", [
    "--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  await waitFor(`redis-server on ${p}`, () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited ${proc.exitCode}: ${out}`);
    return tcpAnswers(p);
  }, 10000);
  return { port: p, output: () => out, stop: (signal = "SIGTERM") => exitOf(proc, signal, exited) };
}

/**
 * An origin's config: RTMP, HTTP-FLV + HLS (1 s fragments), the API, and the heartbeat to `registerUrl` every
 * `interval` seconds with its ports (as SRS's origin1-for-proxy.conf).
 */
export function originConf(registerUrl: string, deviceId: string, interval = 1): string {
  return serverConf(FLV_AND_HLS, `heartbeat { enabled on; interval ${interval}; url ${registerUrl}; device_id ${deviceId}; ports on; }`);
}
