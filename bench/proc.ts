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

/** `pid` and its descendants (a `workers N` primary's workers), from /proc/PID/task/PID/children. */
export function treePids(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    let kids = "";
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8");
    } catch {
      return;
    }
    for (const k of kids.trim().split(/\s+/)) if (k) walk(Number(k));
  };
  walk(pid);
  return out;
}

/** cpuTicks over `pid` and its descendants (processes that exited meanwhile are not counted). */
export function treeCpuTicks(pid: number): number {
  let t = 0;
  for (const p of treePids(pid)) {
    try {
      t += cpuTicks(p);
    } catch {
      // exited
    }
  }
  return t;
}

/** RSS in MB of `pid` and of each descendant: [pid, MB][]. */
export function treeRss(pid: number): [number, number][] {
  return treePids(pid).map((p) => {
    try {
      return [p, rssMb(p)];
    } catch {
      return [p, 0];
    }
  });
}

/** Total RSS in MB of `pid` and its descendants. */
export function treeRssMb(pid: number): number {
  return treeRss(pid).reduce((a, [, mb]) => a + mb, 0);
}
