/**
 * The server's FFmpegs and programs (ingest, transcode, exec) as /api/v1/processes lists them, and whether a pid
 * is still alive: for the ingest/transcode/exec e2e tests.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { RunningServer } from "./server.ts";

export interface ApiProcess {
  kind: string;
  name: string;
  stream?: string;
  state: string;
  pid?: number;
  cmdline: string;
  log?: string;
  uptime_ms: number;
  starts: number;
  restarts: number;
  last_exit?: string;
  last_stderr: string[];
}

export async function processes(s: RunningServer): Promise<ApiProcess[]> {
  const r = await fetch(`http://127.0.0.1:${s.api}/api/v1/processes`);
  return ((await r.json()) as { processes: ApiProcess[] }).processes;
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    return readFileSync(stat, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

/** The FFmpeg processes whose command line contains `needle` (from /proc: survives the server). */
export function ffmpegPids(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (cmd[0]?.endsWith("ffmpeg") && cmd.join(" ").includes(needle) && alive(Number(d))) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
