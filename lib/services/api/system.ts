/**
 * Process and system readings for /api/v1/summaries, rusages, self_proc_stats, system_proc_stats, meminfos and the
 * exporter. Linux /proc when readable; elsewhere node:os and process.* give what they can and the rest is 0.
 */
import { readFileSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem, uptime } from "node:os";

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Two decimals, as SRS prints its percentages and seconds. */
export function round2(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : 0;
}

/** /proc/meminfo in KB by field name. */
export function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readText("/proc/meminfo").split("\n")) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  if (!out.MemTotal) {
    out.MemTotal = Math.round(totalmem() / 1024);
    out.MemFree = Math.round(freemem() / 1024);
  }
  return out;
}

export interface MemInfos {
  ok: boolean;
  sample_time: number;
  percent_ram: number;
  percent_swap: number;
  MemActive: number;
  RealInUse: number;
  NotInUse: number;
  MemTotal: number;
  MemFree: number;
  Buffers: number;
  Cached: number;
  SwapTotal: number;
  SwapFree: number;
}

export function memInfos(): MemInfos {
  const m = meminfo();
  const total = m.MemTotal ?? 0;
  const free = m.MemFree ?? 0;
  const buffers = m.Buffers ?? 0;
  const cached = m.Cached ?? 0;
  const swapTotal = m.SwapTotal ?? 0;
  const swapFree = m.SwapFree ?? 0;
  const active = total - free;
  const realInUse = active - buffers - cached;
  const notInUse = total - realInUse;
  return {
    ok: total > 0,
    sample_time: Date.now(),
    percent_ram: total > 0 ? round2(realInUse / total) : 0,
    percent_swap: swapTotal > 0 ? round2((swapTotal - swapFree) / swapTotal) : 0,
    MemActive: active,
    RealInUse: realInUse,
    NotInUse: notInUse,
    MemTotal: total,
    MemFree: free,
    Buffers: buffers,
    Cached: cached,
    SwapTotal: swapTotal,
    SwapFree: swapFree,
  };
}

const SELF_STAT_FIELDS = [
  "pid", "comm", "state", "ppid", "pgrp", "session", "tty_nr", "tpgid", "flags", "minflt", "cminflt", "majflt", "cmajflt",
  "utime", "stime", "cutime", "cstime", "priority", "nice", "num_threads", "itrealvalue", "starttime", "vsize", "rss",
  "rsslim", "startcode", "endcode", "startstack", "kstkesp", "kstkeip", "signal", "blocked", "sigignore", "sigcatch",
  "wchan", "nswap", "cnswap", "exit_signal", "processor", "rt_priority", "policy", "delayacct_blkio_ticks",
  "guest_time", "cguest_time",
] as const;

/** /proc/self/stat as SRS's self_proc_stats (percent = CPU ratio of one core). */
export function selfProcStats(cpuRatio: number): Record<string, number | string | boolean> {
  const text = readText("/proc/self/stat");
  const out: Record<string, number | string | boolean> = { ok: false, sample_time: Date.now(), percent: round2(cpuRatio) };
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const values: string[] = [];
  if (open > 0 && close > open) {
    values.push(text.slice(0, open).trim(), text.slice(open, close + 1));
    values.push(...text.slice(close + 1).trim().split(/\s+/));
    out.ok = true;
  }
  SELF_STAT_FIELDS.forEach((name, i) => {
    const v = values[i];
    if (name === "comm") out[name] = v ?? "(srs-ts)";
    else if (name === "state") out[name] = v ?? "R";
    else if (name === "pid") out[name] = v !== undefined ? Number(v) : process.pid;
    else if (name === "ppid") out[name] = v !== undefined ? Number(v) : process.ppid;
    else {
      const n = v !== undefined ? Number(v) : 0;
      // Some fields (rsslim, kstk*) are u64 maxima: SRS prints -1 for the unlimited rsslim.
      out[name] = Number.isSafeInteger(n) ? n : -1;
    }
  });
  return out;
}

/** Resident set size in KB (from /proc/self/statm when present). */
export function rssKbytes(): number {
  const statm = readText("/proc/self/statm").trim().split(/\s+/);
  if (statm.length >= 2 && Number(statm[1]) > 0) return Number(statm[1]) * 4;
  return Math.round(process.memoryUsage().rss / 1024);
}

export interface CpuTimes {
  user: number;
  nice: number;
  sys: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  guest: number;
}

export function systemCpuTimes(): CpuTimes {
  const line = readText("/proc/stat").split("\n").find((l) => l.startsWith("cpu "));
  if (line) {
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    return {
      user: v[0] ?? 0, nice: v[1] ?? 0, sys: v[2] ?? 0, idle: v[3] ?? 0, iowait: v[4] ?? 0, irq: v[5] ?? 0,
      softirq: v[6] ?? 0, steal: v[7] ?? 0, guest: v[8] ?? 0,
    };
  }
  const t = { user: 0, nice: 0, sys: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0, guest: 0 };
  for (const c of cpus()) {
    t.user += Math.round(c.times.user / 10);
    t.nice += Math.round(c.times.nice / 10);
    t.sys += Math.round(c.times.sys / 10);
    t.idle += Math.round(c.times.idle / 10);
    t.irq += Math.round(c.times.irq / 10);
  }
  return t;
}

function busy(t: CpuTimes): number {
  return t.user + t.nice + t.sys + t.iowait + t.irq + t.softirq + t.steal;
}

let lastCpu: { t: CpuTimes; percent: number } | undefined;

/** System CPU use ratio since the previous call (0 on the first call). */
export function systemCpuRatio(): { times: CpuTimes; percent: number } {
  const t = systemCpuTimes();
  let percent = lastCpu?.percent ?? 0;
  if (lastCpu) {
    const dBusy = busy(t) - busy(lastCpu.t);
    const dAll = dBusy + t.idle - lastCpu.t.idle;
    if (dAll > 0) percent = dBusy / dAll;
  }
  lastCpu = { t, percent };
  return { times: t, percent };
}

export function systemProcStats(): Record<string, number | boolean> {
  const { times, percent } = systemCpuRatio();
  return { ok: true, sample_time: Date.now(), percent: round2(percent), ...times };
}

export function rusages(): Record<string, number | boolean> {
  const r = process.resourceUsage();
  return {
    ok: true,
    sample_time: Date.now(),
    ru_utime: Math.floor(r.userCPUTime / 1e6),
    ru_stime: Math.floor(r.systemCPUTime / 1e6),
    ru_maxrss: r.maxRSS,
    ru_ixrss: r.sharedMemorySize,
    ru_idrss: r.unsharedDataSize,
    ru_isrss: r.unsharedStackSize,
    ru_minflt: r.minorPageFault,
    ru_majflt: r.majorPageFault,
    ru_nswap: r.swappedOut,
    ru_inblock: r.fsRead,
    ru_oublock: r.fsWrite,
    ru_msgsnd: r.ipcSent,
    ru_msgrcv: r.ipcReceived,
    ru_nsignals: r.signalsCount,
    ru_nvcsw: r.voluntaryContextSwitches,
    ru_nivcsw: r.involuntaryContextSwitches,
  };
}

/** TCP connection counts from /proc/net/tcp{,6} (all, established, time-wait) and UDP sockets. */
export function connCounts(): { sys: number; et: number; tw: number; udp: number } {
  let sys = 0;
  let et = 0;
  let tw = 0;
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = readText(f).split("\n").slice(1);
    for (const l of lines) {
      const st = l.trim().split(/\s+/)[3];
      if (!st) continue;
      sys++;
      if (st === "01") et++;
      else if (st === "06") tw++;
    }
  }
  let udp = 0;
  for (const f of ["/proc/net/udp", "/proc/net/udp6"]) udp += Math.max(0, readText(f).split("\n").filter((l) => l.trim()).length - 1);
  return { sys, et, tw, udp };
}

/** Bytes received/sent by every network interface ("i" = internal/loopback-less in SRS; we report all non-lo). */
export function netBytes(): { recv: number; send: number; recvi: number; sendi: number } {
  let recv = 0;
  let send = 0;
  let recvi = 0;
  let sendi = 0;
  for (const l of readText("/proc/net/dev").split("\n").slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(l);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const name = m[1]!.trim();
    if (name === "lo") {
      recvi += v[0] ?? 0;
      sendi += v[8] ?? 0;
    } else {
      recv += v[0] ?? 0;
      send += v[8] ?? 0;
    }
  }
  return { recv, send, recvi, sendi };
}

/** Disk KB read/written per second since the previous call, from /proc/diskstats. */
let lastDisk: { at: number; r: number; w: number; busy: number } | undefined;
export function diskRates(): { readKBps: number; writeKBps: number; busyPercent: number } {
  let r = 0;
  let w = 0;
  let busyMs = 0;
  for (const l of readText("/proc/diskstats").split("\n")) {
    const v = l.trim().split(/\s+/);
    if (v.length < 14 || /^(loop|ram)/.test(v[2] ?? "")) continue;
    r += Number(v[5]) || 0;
    w += Number(v[9]) || 0;
    busyMs += Number(v[12]) || 0;
  }
  const now = Date.now();
  let out = { readKBps: 0, writeKBps: 0, busyPercent: 0 };
  if (lastDisk && now > lastDisk.at) {
    const s = (now - lastDisk.at) / 1000;
    out = {
      readKBps: Math.round(((r - lastDisk.r) * 512) / 1024 / s),
      writeKBps: Math.round(((w - lastDisk.w) * 512) / 1024 / s),
      busyPercent: round2((busyMs - lastDisk.busy) / (now - lastDisk.at)),
    };
  }
  lastDisk = { at: now, r, w, busy: busyMs };
  return out;
}

export function systemUptime(): { uptime: number; idle: number } {
  const v = readText("/proc/uptime").trim().split(/\s+/).map(Number);
  if (v.length >= 2 && Number.isFinite(v[0])) return { uptime: round2(v[0]!), idle: round2(v[1]!) };
  return { uptime: round2(uptime()), idle: 0 };
}

export function loadAverages(): [number, number, number] {
  const l = loadavg();
  return [round2(l[0] ?? 0), round2(l[1] ?? 0), round2(l[2] ?? 0)];
}

export function cpuCount(): number {
  return cpus().length || 1;
}
