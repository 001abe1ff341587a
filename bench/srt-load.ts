/**
 * SRT relay load: one 2 Mbps publisher, N players, measured CPU of the relay process and per-player rate.
 *
 *   bun bench/srt-load.ts [--players 50] [--seconds 20] [--warmup 3] [--latency 120] [--ffmpeg-players 0]
 *                         [--passphrase P --pbkeylen 16] [--json]
 *
 * - Makes a ~2 Mbps TS once (tests/.media/clip-2m.ts: clip.ts re-encoded with libx264 -b:v 1900k CBR-ish).
 * - Starts the relay as a SEPARATE process: `bun lib/protocols/srt/relay.ts PORT LATENCY` (our SrtServer).
 * - Starts an ffmpeg publisher: `ffmpeg -re -stream_loop -1 -i clip-2m.ts -c copy -f mpegts srt://…m=publish`.
 * - Connects N players: our SRT caller (lib/protocols/srt/caller.ts) in this process counting bytes, plus
 *   optionally some ffmpeg players (`-c copy -f null`), which count toward N.
 * - After the warm-up, measures over --seconds the relay's CPU (utime+stime from /proc/PID/stat), RSS, and the
 *   bytes every player received; prints a report and a `RESULT {json}` line.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { srtConnect } from "../lib/protocols/srt/caller.ts";
import type { SrtConnection } from "../lib/protocols/srt/connection.ts";
import { cpuTicks, rssMb } from "./proc.ts";
import { freeUdpPort } from "./server.ts";

const ROOT = resolve(import.meta.dir, "..");
const { values: a } = parseArgs({
  options: {
    players: { type: "string", default: "50" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    latency: { type: "string", default: "120" },
    "ffmpeg-players": { type: "string", default: "0" },
    passphrase: { type: "string" },
    pbkeylen: { type: "string", default: "16" },
    json: { type: "boolean", default: false },
  },
});
const PLAYERS = Number(a.players);
const SECONDS = Number(a.seconds);
const WARMUP = Number(a.warmup);
const FF_PLAYERS = Math.min(Number(a["ffmpeg-players"]), PLAYERS);
const pass = a.passphrase;
const q = pass ? `&passphrase=${pass}&pbkeylen=${a.pbkeylen}` : "";

function make2m(): string {
  const out = join(ROOT, "tests/.media/clip-2m.ts");
  if (existsSync(out)) return out;
  const src = join(ROOT, "tests/.media/clip.ts");
  if (!existsSync(src)) throw new Error("tests/.media/clip.ts missing: run the tests once (bun test) to generate the clips");
  execFileSync("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-y", "-i", src, "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1900k",
    "-minrate", "1900k", "-maxrate", "1900k", "-bufsize", "950k", "-x264-params", "nal-hrd=cbr", "-c:a", "copy",
    "-f", "mpegts", out,
  ]);
  return out;
}

const procs: ChildProcess[] = [];
function cleanup(): void {
  for (const p of procs) p.kill("SIGKILL");
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

const clip2m = make2m();
const clipRate = (readFileSync(clip2m).length * 8) / 10 / 1e6; // the clip is 10 s
const port = await freeUdpPort();
const relayArgs = [join(ROOT, "lib/protocols/srt/relay.ts"), String(port), String(a.latency)];
if (pass) relayArgs.push(pass);
const relay = spawn(process.execPath, relayArgs, { stdio: ["ignore", "ignore", "inherit"] });
procs.push(relay);
await Bun.sleep(800);
const url = (m: string) => `srt://127.0.0.1:${port}?streamid=#!::r=live/bench,m=${m}${q}`;

const counts = new Float64Array(PLAYERS);
const conns: SrtConnection[] = [];
const ownPlayers = PLAYERS - FF_PLAYERS;
for (let i = 0; i < ownPlayers; i++) {
  const c = await srtConnect({
    host: "127.0.0.1", port, streamId: `#!::r=live/bench,m=request`, latency: Number(a.latency), passphrase: pass,
    pbkeylen: Number(a.pbkeylen), peerIdleTimeout: 30000,
  });
  c.onData((p) => (counts[i] += p.length));
  conns.push(c);
}
const ffStart = new Float64Array(FF_PLAYERS);
const ffProgress: string[] = [];
for (let i = 0; i < FF_PLAYERS; i++) {
  const prog = `/tmp/srt-load-ff-${process.pid}-${i}.txt`;
  ffProgress.push(prog);
  procs.push(spawn("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "error", "-i", url("request"), "-c", "copy", "-f", "mpegts", "-progress", prog, "-y", "/dev/null"], { stdio: "ignore" }));
}
await Bun.sleep(500);
const pub = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip2m, "-c", "copy", "-f", "mpegts", url("publish")], { stdio: "ignore" });
procs.push(pub);
await Bun.sleep(WARMUP * 1000);

function ffBytes(i: number): number {
  try {
    const t = readFileSync(ffProgress[i]!, "utf8");
    const m = [...t.matchAll(/^total_size=(\d+)/gm)];
    return m.length ? Number(m[m.length - 1]![1]) : 0;
  } catch {
    return 0;
  }
}

const start = new Float64Array(counts);
for (let i = 0; i < FF_PLAYERS; i++) ffStart[i] = ffBytes(i);
const cpu0 = cpuTicks(relay.pid!);
const t0 = performance.now();
let rssPeak = 0;
for (let s = 0; s < SECONDS; s++) {
  await Bun.sleep(1000);
  rssPeak = Math.max(rssPeak, rssMb(relay.pid!));
}
const secs = (performance.now() - t0) / 1000;
const cpu = ((cpuTicks(relay.pid!) - cpu0) / 100 / secs) * 100; // CLK_TCK = 100
const rates: number[] = [];
for (let i = 0; i < ownPlayers; i++) rates.push(((counts[i]! - start[i]!) * 8) / secs / 1e6);
for (let i = 0; i < FF_PLAYERS; i++) rates.push(((ffBytes(i) - ffStart[i]!) * 8) / secs / 1e6);
rates.sort((x, y) => x - y);
const relayStats = conns.map((c) => c.stats());
const result = {
  players: PLAYERS, ffmpegPlayers: FF_PLAYERS, seconds: Math.round(secs), clipMbps: +clipRate.toFixed(2),
  relayCpuPercent: +cpu.toFixed(1), relayRssMbPeak: +rssPeak.toFixed(1),
  playerMbps: { min: +rates[0]!.toFixed(3), median: +rates[Math.floor(rates.length / 2)]!.toFixed(3), max: +rates[rates.length - 1]!.toFixed(3) },
  aggregateOutMbps: +rates.reduce((x, y) => x + y, 0).toFixed(1),
  playersDrops: relayStats.reduce((x, s) => x + s.pktRcvDrop, 0),
  playersLoss: relayStats.reduce((x, s) => x + s.pktLoss, 0),
};
if (!a.json) {
  console.log(`SRT relay: 1 publisher (${clipRate.toFixed(2)} Mbps TS) → ${PLAYERS} players (${FF_PLAYERS} ffmpeg) for ${secs.toFixed(1)} s`);
  console.log(`relay CPU ${result.relayCpuPercent}% of one core, RSS peak ${result.relayRssMbPeak} MB`);
  console.log(`per-player Mbps min/median/max ${result.playerMbps.min}/${result.playerMbps.median}/${result.playerMbps.max}, aggregate ${result.aggregateOutMbps} Mbps`);
  console.log(`player-side loss ${result.playersLoss} pkts, too-late drops ${result.playersDrops}`);
}
console.log(`RESULT ${JSON.stringify(result)}`);
for (const c of conns) c.close();
cleanup();
process.exit(0);
