/**
 * SRT load through the FULL server (bun main.ts with srt_server on: SRT → hub → SRT players, GOP cache and
 * TS remux included), where bench/srt-load.ts measures the standalone relay (lib/protocols/srt/relay.ts).
 *
 *   bun bench/srt-server-load.ts [--players 50] [--seconds 20] [--warmup 4] [--latency 120] [--snapshot [REV]]
 *                                [--log FILE]
 *
 * - The ~2 Mbps TS is bench/srt-load.ts's (tests/.media/clip-2m.ts, made from clip.ts with libx264 -b:v 1900k
 *   CBR-ish if missing; run `bun bench/srt-load.ts --players 1 --seconds 2` once to make it).
 * - Server: our main.ts on free 127.0.0.1 ports (working tree, or `git archive REV` with --snapshot), env
 *   SRS_SRT_SERVER_ENABLED=on, SRS_SRT_SERVER_LISTEN=<free udp port>, HLS off, RTC off.
 * - Publisher: `ffmpeg -re -stream_loop -1 -i clip-2m.ts -c copy -f mpegts 'srt://…?streamid=#!::r=live/bench,m=publish'`
 *   (its own process). Players: our SRT caller (lib/protocols/srt/caller.ts) in this process, each counting
 *   payload bytes; they connect after the publisher is up.
 * - Over --seconds after the warm-up: server CPU (utime+stime, /proc/PID/stat, % of one core), RSS (VmRSS,
 *   peak/end), each player's rate, the players' SRT counters (loss, retransmissions received, too-late drops),
 *   this process's CPU; prints a report and `RESULT {json}`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { srtConnect } from "../lib/protocols/srt/caller.ts";
import type { SrtConnection } from "../lib/protocols/srt/connection.ts";
import { freePort, waitPort, freeUdpPort } from "./server.ts";
import { cpuTicks, rssMb } from "./proc.ts";

const ROOT = resolve(import.meta.dir, "..");
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--snapshot" && (i + 1 >= argv.length || argv[i + 1]!.startsWith("--"))) argv[i] = "--snapshot=HEAD";
}
const { values: a } = parseArgs({
  args: argv,
  options: {
    players: { type: "string", default: "50" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "4" },
    latency: { type: "string", default: "120" },
    snapshot: { type: "string" },
    log: { type: "string", default: "/dev/null" },
  },
});
const PLAYERS = Math.min(1000, Math.max(1, Math.floor(Number(a.players)) || 50));
const SECONDS = Math.min(300, Math.max(2, Number(a.seconds) || 20));
const WARMUP = Math.min(60, Math.max(0, Number(a.warmup) || 0));
const LATENCY = Math.min(5000, Math.max(20, Number(a.latency) || 120));

const procs: ChildProcess[] = [];
function cleanup(): void {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

const clip2m = join(ROOT, "tests/.media/clip-2m.ts");
if (!existsSync(clip2m)) throw new Error(`${clip2m} missing: run \`bun bench/srt-load.ts --players 1 --seconds 2\` once to make it`);
const clipMbps = (readFileSync(clip2m).length * 8) / 10 / 1e6; // the clip is 10 s

let src = ROOT;
let srcNote = `working tree (HEAD ${execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]).toString().trim()})`;
if (a.snapshot) {
  const rev = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", a.snapshot]).toString().trim();
  src = mkdtempSync("/tmp/srs-ts-srt-bench-src.");
  execFileSync("bash", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "_", ROOT, rev, src]);
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
  srcNote = `snapshot of ${rev}`;
}
const [rtmpPort, httpPort, apiPort, srtPort] = [await freePort(), await freePort(), await freePort(), await freeUdpPort()];
const out = openSync(a.log!, "a");
const server = spawn(process.execPath, [join(src, "main.ts")], {
  cwd: mkdtempSync("/tmp/srs-ts-srt-bench-cwd."),
  stdio: ["ignore", out, out],
  env: {
    ...process.env,
    SRS_LISTEN: `127.0.0.1:${rtmpPort}`,
    SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${httpPort}`,
    SRS_HTTP_API_LISTEN: `127.0.0.1:${apiPort}`,
    SRS_SRT_SERVER_ENABLED: "on",
    SRS_SRT_SERVER_LISTEN: String(srtPort),
    SRS_SRT_SERVER_LATENCY: String(LATENCY),
    SRS_RTC_SERVER_ENABLED: "off",
    SRS_PID: `/tmp/srs-ts-srt-bench-${rtmpPort}.pid`,
    SRS_LOG_TANK: "console",
    SRS_DAEMON: "off",
    SRS_VHOST_HLS_ENABLED: "off",
  },
});
procs.push(server);
await waitPort(rtmpPort, 15000).catch((e) => {
  cleanup();
  throw e;
});
await Bun.sleep(300);
const PID = server.pid!;
const url = `srt://127.0.0.1:${srtPort}?streamid=#!::r=live/bench,m=publish`;
const pub = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip2m,
  "-t", String(Math.ceil(WARMUP + SECONDS + PLAYERS / 10 + 30)), "-c", "copy", "-f", "mpegts", url], { stdio: ["ignore", "ignore", "inherit"] });
procs.push(pub);
await Bun.sleep(2500);
if (pub.exitCode !== null) {
  cleanup();
  throw new Error(`publisher exited with ${pub.exitCode}`);
}
const rssBefore = rssMb(PID);
let rssPeak = rssBefore;
const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(PID))), 250);

const counts = new Float64Array(PLAYERS);
const conns: SrtConnection[] = [];
let failed = 0;
const tJoin = performance.now();
for (let i = 0; i < PLAYERS; i++) {
  try {
    const c = await srtConnect({ host: "127.0.0.1", port: srtPort, streamId: "#!::r=live/bench,m=request", latency: LATENCY, peerIdleTimeout: 30000 });
    c.onData((p) => (counts[i] += p.length));
    conns.push(c);
  } catch (e) {
    failed++;
    if (failed === 1) console.log(`  player connect failed: ${(e as Error).message}`);
  }
}
const joinSeconds = (performance.now() - tJoin) / 1000;
await Bun.sleep(WARMUP * 1000);

const start = new Float64Array(counts);
const st0 = conns.map((c) => c.stats());
const cpu0 = cpuTicks(PID);
const self0 = process.cpuUsage();
const t0 = performance.now();
const endAt = t0 + SECONDS * 1000;
while (performance.now() < endAt) await Bun.sleep(Math.min(500, Math.max(1, endAt - performance.now())));
const secs = (performance.now() - t0) / 1000;
const cpu = ((cpuTicks(PID) - cpu0) / 100 / secs) * 100;
const self = process.cpuUsage(self0);
const loadCpu = ((self.user + self.system) / 1e6 / secs) * 100;
clearInterval(rssTimer);
const rssEnd = rssMb(PID);
rssPeak = Math.max(rssPeak, rssEnd);
const rates: number[] = [];
for (let i = 0; i < PLAYERS; i++) rates.push(((counts[i]! - start[i]!) * 8) / secs / 1000);
rates.sort((x, y) => x - y);
const st1 = conns.map((c) => c.stats());
const sum = (k: "pktLoss" | "pktRcvRetrans" | "pktRcvDrop" | "pktRcvDup") => st1.reduce((x, s, i) => x + s[k] - st0[i]![k], 0);
const full = rates.filter((r) => r >= 0.9 * clipMbps * 1000).length;
const result = {
  server: srcNote, players: PLAYERS, connected: conns.length, seconds: +secs.toFixed(1), clipMbps: +clipMbps.toFixed(2),
  joinSeconds: +joinSeconds.toFixed(1), serverCpuPercent: +cpu.toFixed(1), loadCpuPercent: +loadCpu.toFixed(1),
  rssMb: { before: +rssBefore.toFixed(1), peak: +rssPeak.toFixed(1), end: +rssEnd.toFixed(1) },
  playerKbps: { min: Math.round(rates[0]!), median: Math.round(rates[Math.floor(rates.length / 2)]!), max: Math.round(rates[rates.length - 1]!) },
  full, aggregateMbps: +(rates.reduce((x, y) => x + y, 0) / 1000).toFixed(1),
  playersLoss: sum("pktLoss"), playersRcvRetrans: sum("pktRcvRetrans"), playersRcvDrop: sum("pktRcvDrop"), playersRcvDup: sum("pktRcvDup"),
  rttMsMedian: +(st1.map((s) => s.rttMs).sort((x, y) => x - y)[Math.floor(st1.length / 2)] ?? 0).toFixed(2),
};
console.log(`SRT through the server (${srcNote}): 1 publisher (${clipMbps.toFixed(2)} Mbps TS, ffmpeg) → ${PLAYERS} players ` +
  `(${conns.length} connected in ${result.joinSeconds} s) for ${secs.toFixed(1)} s, latency ${LATENCY} ms`);
console.log(`  server CPU ${result.serverCpuPercent}% of one core, RSS before/peak/end ${result.rssMb.before}/${result.rssMb.peak}/${result.rssMb.end} MB`);
console.log(`  per-player kbps min/median/max ${result.playerKbps.min}/${result.playerKbps.median}/${result.playerKbps.max}, ` +
  `aggregate ${result.aggregateMbps} Mbps, at >= 90% of the clip rate ${full}/${PLAYERS}`);
console.log(`  players: loss ${result.playersLoss} pkts, retransmissions received ${result.playersRcvRetrans}, too-late drops ` +
  `${result.playersRcvDrop}, duplicates ${result.playersRcvDup}, median RTT ${result.rttMsMedian} ms`);
console.log(`  load tool CPU ${result.loadCpuPercent}% of one core`);
console.log(`RESULT ${JSON.stringify(result)}`);
for (const c of conns) c.close();
await Bun.sleep(200);
cleanup();
process.exit(0);
