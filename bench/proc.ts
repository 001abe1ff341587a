/** A process's CPU and memory from /proc (Linux), for the benchmarks. */
import { readFileSync } from "node:fs";

/** Clock ticks per second of utime/stime (USER_HZ on Linux). */
export const TICK = 100;

/** utime + stime of `pid`, in clock ticks (/proc/PID/stat fields 14 and 15). */
export function cpuTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Resident set size of `pid` in MB (/proc/PID/status VmRSS). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}
