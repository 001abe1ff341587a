/**
 * srs-ts and SRS side by side, in one run, with the same load tools: CPU per 100 Mbps and RSS for N HTTP-FLV
 * and N RTMP players of the 1 Mbps clip, and each server's idle RSS.
 *
 *   bun bench/vs-srs.ts --srs /path/to/srs/trunk/objs/srs[,/path/to/another/srs] [--players 1000] [--seconds 20] [--protocols flv,rtmp]
 *       [--ours bin|source] [--bin dist/srs-ts-0.1.0-linux-x64] [--rounds 1]
 *
 * SRS is built from its source outside this repository (./configure && make in its trunk/; never committed).
 * SRS's configure builds with `-g -O0` and AddressSanitizer by default (its Dockerfile, the official image, too);
 * `./configure --sanitizer=off --extra-flags=-O2` makes a release-like build. Several --srs binaries (comma
 * separated) are each measured; the label says which (asan when the binary holds AddressSanitizer).
 * Both servers get the same settings: RTMP + HTTP server with HTTP-FLV + HTTP API, HLS/DVR/RTC/SRT off,
 * max_connections 10000, everything else default (both default to mw_latency 350 ms and the GOP cache).
 * Each server runs alone (the other is stopped) in its own temp folder on free 127.0.0.1 ports; the publisher is
 * bench/publish-loop.ts in its own process; the players are bench/flv-load.ts / bench/rtmp-load.ts (--url, --pid).
 * With --rounds > 1 the servers alternate (srs, ours, srs, ours …) so a noisy neighbour hits both alike.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CLIP } from "./clip.ts";
import { freePort, startPublisher, waitPort } from "./server.ts";
import { rssMb } from "./proc.ts";

const { values } = parseArgs({
  options: {
    srs: { type: "string", default: process.env.SRS_BIN ?? "" },
    ours: { type: "string", default: "source" },
    bin: { type: "string", default: "" },
    players: { type: "string", default: "1000" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "5" },
    ramp: { type: "string", default: "1" },
    protocols: { type: "string", default: "flv,rtmp" },
    rounds: { type: "string", default: "1" },
    clip: { type: "string", default: DEFAULT_CLIP },
  },
});
if (!values.srs) {
  console.error("--srs PATH (or SRS_BIN) to an SRS binary built from its source is required");
  process.exit(2);
}

interface Running {
  name: string;
  pid: number;
  rtmp: number;
  http: number;
  api: number;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  };
}

function config(rtmp: number, http: number, api: number): string {
  return `listen ${rtmp};
max_connections 10000;
daemon off;
srs_log_tank file;
srs_log_file ./server.log;
pid ./server.pid;
http_api { enabled on; listen ${api}; }
http_server { enabled on; listen ${http}; dir ./html; }
vhost __defaultVhost__ {
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  hls { enabled off; }
}
`;
}

async function start(name: "srs" | "srs-ts", srsBin = ""): Promise<Running> {
  const [rtmp, http, api] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), `vs-srs-${name}-`));
  writeFileSync(join(dir, "srs.conf"), config(rtmp, http, api));
  const log = openSync(join(dir, "stdout.log"), "a");
  let cmd: string;
  let args: string[];
  if (name === "srs") [cmd, args] = [srsBin, ["-c", "srs.conf"]];
  else if (values.ours === "bin") [cmd, args] = [values.bin!, ["-c", "srs.conf"]];
  else [cmd, args] = [process.execPath, [new URL("../main.ts", import.meta.url).pathname, "-c", "srs.conf"]];
  // Only this run's settings: no SRS_* from the caller's environment.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SRS_") && v !== undefined) env[k] = v;
  const child = spawn(cmd, args, { cwd: dir, stdio: ["ignore", log, log], env });
  await waitPort(rtmp, 15000);
  await waitPort(http, 15000);
  return { name: name === "srs" ? srsLabel(srsBin) : "srs-ts", pid: child.pid!, rtmp, http, api, stop: stopper(child) };
}

function srsLabel(bin: string): string {
  const r = spawnSync(bin, ["-v"], { encoding: "utf8" });
  const v = /\d+\.\d+\.\d+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? "";
  const asan = readFileSync(bin).includes("AddressSanitizer");
  return `SRS ${v} (${asan ? "asan -O0, its default build" : "no asan"})`;
}

function load(protocol: string, url: string, pid: number): Promise<Record<string, number>> {
  const tool = new URL(protocol === "flv" ? "./flv-load.ts" : "./rtmp-load.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, [tool, "--url", url, "--pid", String(pid), "--no-publisher",
    "--players", values.players!, "--seconds", values.seconds!, "--warmup", values.warmup!, "--ramp", values.ramp!,
    "--clip", values.clip!], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((ok, fail) => {
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return fail(new Error(`${protocol} load exited with ${code}:\n${out}`));
      ok(JSON.parse(line.slice(7)) as Record<string, number>);
    });
  });
}

const rows: string[] = [];
const protocols = values.protocols!.split(",");
for (let round = 0; round < Number(values.rounds); round++) {
  for (const protocol of protocols) {
    for (const [name, bin] of [...values.srs!.split(",").map((b) => ["srs", b] as const), ["srs-ts", ""] as const]) {
      const s = await start(name, bin);
      try {
        await sleep(1500);
        const idle = rssMb(s.pid);
        const pub = await startPublisher(`rtmp://127.0.0.1:${s.rtmp}/live/bench`, values.clip!, 3600);
        await sleep(2000);
        const url = protocol === "flv" ? `http://127.0.0.1:${s.http}/live/bench.flv` : `rtmp://127.0.0.1:${s.rtmp}/live/bench`;
        const r = await load(protocol, url, s.pid);
        pub.kill("SIGTERM");
        const load1 = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
        const row = `| ${protocol} | ${s.name} | ${r.full}/${r.players} | ${r.mbps!.toFixed(1)} | ${r.cpuPct!.toFixed(1)} | ` +
          `${r.cpuPer100Mbps!.toFixed(2)}% | ${idle.toFixed(1)} | ${r.rssPeakMb!.toFixed(1)} / ${r.rssEndMb!.toFixed(1)} | ${r.loadCpuPct!.toFixed(1)} | ${load1} |`;
        rows.push(row);
        console.log(row);
      } finally {
        await s.stop();
      }
      await sleep(2000);
    }
  }
}
console.log(`\n${values.players} players, ${values.seconds} s window after ${values.warmup} s warm-up; srs-ts ${values.ours === "bin" ? values.bin : "bun main.ts"}`);
console.log("| protocol | server | at full rate | Mbps | CPU % | CPU / 100 Mbps | idle RSS MB | RSS peak / end MB | load tool CPU % | load avg |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
process.exit(0);
