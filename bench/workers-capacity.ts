/**
 * Capacity of `workers N;`: how many HTTP-FLV or RTMP players of the 1 Mbps clip the server delivers at full
 * rate with 1 worker and with 2 workers, each worker held to the same CPU budget.
 *
 *   bun bench/workers-capacity.ts --protocol flv --workers 1,2 --quota 0.1 --from 900,1900 --step 100 --seconds 15
 *   bun bench/workers-capacity.ts --protocol rtmp --workers 1,2 --quota 0.1 --from 900,1900 --step 100 --seconds 15
 *   (--from: the first step, one per worker count or one for all)
 *
 * Why a CPU budget: the load tools (bench/flv-load.ts, bench/rtmp-load.ts) spend about as much CPU per player as
 * the server does, so on a 2-core machine a load that saturates one core of server would need the other core for
 * itself, and two workers could never be saturated. So every worker process is put in its own cgroup (v1 `cpu`
 * controller, /sys/fs/cgroup/cpu, root needed) with `cpu.cfs_quota_us` = quota × period: a worker is "a core
 * --quota times as fast as this one", and the rest of the machine is left to the load tools and the publisher.
 * With `workers 1` the server is one process; with `workers 2` the primary stays outside the budget (it carries
 * no media: it starts the workers and keeps the owner registry), and each worker gets its own budget.
 *
 * For each worker count the server (bench/server.ts: `bun main.ts`, HLS/RTC/SRT off, max_connections 20000) is
 * started once, the publisher (bench/publish-loop.ts, own process, no budget) once, then steps of N players
 * (--from, +--step) each run the load tool(s) (up to 4000 players per load process, run side by side) for
 * --seconds after the ramp and --warmup. A step passes when at least --pass (default 0.99) of the players got
 * ≥ --full-rate (default 0.95) of the clip's bitrate over the window; the capacity is the last passing N. (The load
 * tools' own "full rate" is ≥ 90%; a saturated server shares its CPU fairly, so every player slows down together
 * and 90% would still pass ~10% past saturation: 95% leaves room only for the window's edges, one mw_latency of
 * 350 ms in 15 s.) The players land on the
 * workers as the kernel spreads them (SO_REUSEPORT).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_CLIP } from "./clip.ts";
import { startPublisher, startServer } from "./server.ts";
import { cpuTicks, TICK, treePids, treeRssMb } from "./proc.ts";

const { values } = parseArgs({
  options: {
    protocol: { type: "string", default: "flv" },
    workers: { type: "string", default: "1,2" },
    quota: { type: "string", default: "0.1" },
    from: { type: "string", default: "600" },
    step: { type: "string", default: "200" },
    max: { type: "string", default: "20000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    ramp: { type: "string", default: "0.5" },
    pass: { type: "string", default: "0.99" },
    "full-rate": { type: "string", default: "0.95" },
    log: { type: "string", default: "/dev/null" }, // the server's log (appended)
    clip: { type: "string", default: DEFAULT_CLIP },
  },
});

const protocol = values.protocol === "rtmp" ? "rtmp" : "flv";
const workerCounts = values.workers!.split(",").map(Number).filter((n) => n >= 1);
const quota = Number(values.quota);
const PER_LOADER = 4000;
const CG_ROOT = "/sys/fs/cgroup/cpu";

interface StepResult {
  players: number;
  full: number;
  mbps: number;
  serverCpuPct: number;
  perWorkerCpuPct: number[];
  loadCpuPct: number;
  rssMb: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A cgroup holding `pid` with `quota` of a core; returns its remover. */
function budget(pid: number, name: string): () => void {
  const dir = `${CG_ROOT}/${name}`;
  mkdirSync(dir, { recursive: true });
  const period = Number(readFileSync(`${dir}/cpu.cfs_period_us`, "utf8"));
  writeFileSync(`${dir}/cpu.cfs_quota_us`, String(Math.round(quota * period)));
  writeFileSync(`${dir}/cgroup.procs`, String(pid));
  return () => {
    try {
      for (const p of readFileSync(`${dir}/cgroup.procs`, "utf8").split("\n").filter(Boolean)) writeFileSync(`${CG_ROOT}/cgroup.procs`, p);
      rmdirSync(dir);
    } catch {
      // the process is gone or the group already removed
    }
  };
}

/** Runs one load process and resolves with its RESULT line. */
function load(url: string, pid: number, players: number): Promise<Record<string, number>> {
  const tool = new URL(protocol === "flv" ? "./flv-load.ts" : "./rtmp-load.ts", import.meta.url).pathname;
  const args = [tool, "--url", url, "--pid", String(pid), "--no-publisher", "--players", String(players),
    "--seconds", values.seconds!, "--warmup", values.warmup!, "--ramp", values.ramp!, "--clip", values.clip!,
    "--full-rate", values["full-rate"]!];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((ok, fail) => {
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return fail(new Error(`load tool exited with ${code} without a RESULT:\n${out}`));
      ok(JSON.parse(line.slice(7)) as Record<string, number>);
    });
  });
}

async function step(url: string, pid: number, workers: number[], players: number): Promise<StepResult> {
  const parts: number[] = [];
  for (let left = players; left > 0; left -= PER_LOADER) parts.push(Math.min(PER_LOADER, left));
  const before = workers.map((w) => cpuTicks(w));
  const t0 = performance.now();
  const results = await Promise.all(parts.map((n) => load(url, pid, n)));
  const elapsed = (performance.now() - t0) / 1000;
  const perWorker = workers.map((w, i) => ((cpuTicks(w) - before[i]!) / TICK / elapsed) * 100);
  return {
    players,
    full: results.reduce((a, r) => a + r.full!, 0),
    mbps: results.reduce((a, r) => a + r.mbps!, 0),
    serverCpuPct: results[0]!.cpuPct!,
    perWorkerCpuPct: perWorker,
    loadCpuPct: results.reduce((a, r) => a + r.loadCpuPct!, 0),
    rssMb: treeRssMb(pid),
  };
}

async function capacity(count: number, from: number): Promise<{ capacity: number; steps: StepResult[] }> {
  const server = await startServer({ SRS_WORKERS: String(count), SRS_MAX_CONNECTIONS: "20000" }, values.log);
  const removers: (() => void)[] = [];
  let publisher: ChildProcess | undefined;
  const steps: StepResult[] = [];
  let cap = 0;
  try {
    const workers = count > 1 ? treePids(server.pid).slice(1) : [server.pid];
    if (workers.length !== count) throw new Error(`expected ${count} worker processes, found ${workers.length}`);
    workers.forEach((w, i) => removers.push(budget(w, `srs-ts-bench-${server.pid}-${i + 1}`)));
    publisher = await startPublisher(`rtmp://127.0.0.1:${server.rtmpPort}/live/bench`, values.clip!, 3600);
    await sleep(2000);
    const url = protocol === "flv" ? `http://127.0.0.1:${server.httpPort}/live/bench.flv` : `rtmp://127.0.0.1:${server.rtmpPort}/live/bench`;
    for (let n = from; n <= Number(values.max); n += Number(values.step)) {
      const r = await step(url, server.pid, workers, n);
      steps.push(r);
      const ok = r.full >= Number(values.pass) * n;
      console.log(`  workers ${count}: ${n} players: ${r.full} at full rate, ${r.mbps.toFixed(0)} Mbps, server CPU ` +
        `${r.serverCpuPct.toFixed(1)}% (per worker ${r.perWorkerCpuPct.map((c) => c.toFixed(1)).join(" + ")}), ` +
        `load ${r.loadCpuPct.toFixed(1)}%, RSS ${r.rssMb.toFixed(0)} MB: ${ok ? "pass" : "FAIL"}`);
      if (!ok) break;
      cap = n;
      await sleep(1500);
    }
  } finally {
    publisher?.kill("SIGTERM");
    for (const r of removers) r();
    await server.stop();
  }
  return { capacity: cap, steps };
}

if (!existsSync(`${CG_ROOT}/cpu.cfs_quota_us`)) {
  console.error(`no cgroup v1 cpu controller at ${CG_ROOT}: this bench needs it (and root)`);
  process.exit(2);
}
console.log(`workers-capacity: ${protocol}, worker counts ${workerCounts.join(",")}, each worker ${quota} of a core, ` +
  `steps from ${values.from} by ${values.step}, ${values.seconds} s windows, pass: ≥ ${Number(values.pass) * 100}% of the ` +
  `players got ≥ ${Number(values["full-rate"]) * 100}% of the clip's bitrate`);
const caps = new Map<number, number>();
const froms = values.from!.split(",").map(Number);
for (const [i, c] of workerCounts.entries()) {
  const { capacity: cap } = await capacity(c, froms[Math.min(i, froms.length - 1)]!);
  caps.set(c, cap);
  console.log(`workers ${c}: capacity ${cap} players at full rate`);
}
const one = caps.get(1);
for (const [c, cap] of caps) if (c > 1 && one) console.log(`workers ${c} / workers 1 = ${(cap / one).toFixed(2)}x`);
console.log("RESULT " + JSON.stringify({ protocol, quota, capacities: Object.fromEntries(caps) }));
process.exit(0);
