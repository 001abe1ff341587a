/**
 * RTMP play load generator: N players as plain node:net sockets that only COUNT bytes.
 *
 *   bun bench/rtmp-load.ts --url rtmp://127.0.0.1:1935/live/bench --players 500 --seconds 30 --pid <server pid>
 *       [--ramp 5] [--warmup 5] [--clip FILE] [--ffmpeg | --no-publisher] [--json]
 *
 * Each player does a simple handshake (C0+C1 of zeros, C2 = echo of S1), then sends connect, createStream,
 * play and SetBufferLength in one write (all pre-encoded once with AMF0 + the chunk writer), and from then on
 * only counts received bytes (no chunk parsing), acknowledging every 2.5 MB like a real client would.
 *
 * Unless --no-publisher, a publisher is started as a SEPARATE process first: bench/publish-loop.ts (our
 * RtmpClient, clip looped in real time) or, with --ffmpeg, `ffmpeg -re -stream_loop -1 -i clip -c copy -f flv`.
 *
 * After all players are connected and a warm-up, it measures over --seconds: the server's CPU (utime+stime
 * from /proc/PID/stat), its RSS (VmRSS from /proc/PID/status, sampled every second: peak and end), and the
 * bytes every player received. It prints a report and a final `RESULT {json}` line for scripts.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { parseArgs } from "node:util";
import { encodeChunks } from "../lib/protocols/rtmp/chunk-writer.ts";
import { commandMessage } from "../lib/protocols/rtmp/commands.ts";
import {
  ackMessage,
  CSID_COMMAND,
  CSID_OVER_CONNECTION2,
  DEFAULT_CHUNK_SIZE,
  UC_SET_BUFFER_LENGTH,
  userControlMessage,
  windowAckSizeMessage,
} from "../lib/protocols/rtmp/messages.ts";
import { parseRtmpUrl } from "../lib/net/stream-url.ts";
import { DEFAULT_CLIP, loadClip } from "./clip.ts";
import { TICK, treeCpuTicks as cpuTicks, treeRss, treeRssMb as rssMb } from "./proc.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "rtmp://127.0.0.1:1935/live/bench" },
    players: { type: "string", default: "500" },
    seconds: { type: "string", default: "30" },
    warmup: { type: "string", default: "5" },
    ramp: { type: "string", default: "5" },
    pid: { type: "string" },
    clip: { type: "string", default: DEFAULT_CLIP },
    ffmpeg: { type: "boolean", default: false },
    "no-publisher": { type: "boolean", default: false },
    label: { type: "string", default: "" },
    // A player is "at full rate" when it got at least this share of the clip's bitrate over the window.
    "full-rate": { type: "string", default: "0.9" },
  },
});

const HS = 1536;
const ACK_WINDOW = 2_500_000;
const players = clampInt(values.players!, 1, 5000);
const seconds = clampNum(values.seconds!, 1, 600);
const warmup = clampNum(values.warmup!, 0, 120);
const rampMs = clampNum(values.ramp!, 0, 1000);
const pid = values.pid ? clampInt(values.pid, 1, 1 << 30) : undefined;
const clip = loadClip(values.clip);
const url = parseRtmpUrl(values.url!);

// ---------------------------------------------------------------------------------------------------------
// Pre-encoded bytes, shared by all players.

const c0c1 = new Uint8Array(1 + HS);
c0c1[0] = 3;
const tcUrl = url.tcUrl;
const commands = concat([
  encodeChunks(
    commandMessage([
      "connect",
      1,
      {
        app: url.app,
        flashVer: "LNX 9,0,124,2",
        tcUrl,
        fpad: false,
        capabilities: 15,
        audioCodecs: 4071,
        videoCodecs: 252,
        videoFunction: 1,
        objectEncoding: 0,
      },
    ], 0, CSID_COMMAND),
    DEFAULT_CHUNK_SIZE,
  ),
  encodeChunks(windowAckSizeMessage(ACK_WINDOW), DEFAULT_CHUNK_SIZE),
  encodeChunks(commandMessage(["createStream", 2, null], 0, CSID_COMMAND), DEFAULT_CHUNK_SIZE),
  // Our server and SRS answer createStream with 1; node-media-server too. Play on stream 1.
  encodeChunks(commandMessage(["play", 3, null, url.streamWithQuery, -2], 1, CSID_OVER_CONNECTION2), DEFAULT_CHUNK_SIZE),
  encodeChunks(userControlMessage(UC_SET_BUFFER_LENGTH, 1, 1000), DEFAULT_CHUNK_SIZE),
]);

// ---------------------------------------------------------------------------------------------------------
// Players

interface Player {
  socket: Socket;
  hsBytes: number;
  s1: Uint8Array | undefined;
  bytes: number;
  nextAck: number;
  open: boolean;
  error: string | undefined;
}

const all: Player[] = [];
let connected = 0;
let closedEarly = 0;

function startPlayer(): Player {
  const socket = netConnect({ host: url.host, port: url.port });
  const p: Player = { socket, hsBytes: 0, s1: new Uint8Array(HS), bytes: 0, nextAck: ACK_WINDOW, open: false, error: undefined };
  socket.setNoDelay(true);
  socket.on("connect", () => socket.write(c0c1));
  socket.on("data", (d: Buffer) => {
    if (p.s1 !== undefined) {
      // S0 (1) + S1 (1536) + S2 (1536); keep S1 to echo it as C2.
      let off = 0;
      while (off < d.length && p.hsBytes < 1 + 2 * HS) {
        const n = Math.min(d.length - off, 1 + 2 * HS - p.hsBytes);
        const s1Start = Math.max(p.hsBytes, 1);
        const s1End = Math.min(p.hsBytes + n, 1 + HS);
        if (s1End > s1Start) p.s1.set(d.subarray(off + (s1Start - p.hsBytes), off + (s1End - p.hsBytes)), s1Start - 1);
        p.hsBytes += n;
        off += n;
      }
      if (p.hsBytes < 1 + 2 * HS) return;
      socket.write(concat([p.s1, commands]));
      p.s1 = undefined;
      p.open = true;
      connected++;
      p.bytes += d.length - off;
    } else {
      p.bytes += d.length;
    }
    if (p.bytes >= p.nextAck) {
      socket.write(encodeChunks(ackMessage(p.bytes >>> 0), DEFAULT_CHUNK_SIZE));
      p.nextAck += ACK_WINDOW;
    }
  });
  socket.on("error", (e) => (p.error ??= e.message));
  socket.on("close", () => {
    if (p.open) closedEarly++;
    p.open = false;
  });
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Server process statistics

// ---------------------------------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function startPublisher(): Promise<ChildProcess | undefined> {
  if (values["no-publisher"]) return undefined;
  const total = warmup + seconds + players * rampMs / 1000 + 60;
  let child: ChildProcess;
  if (values.ffmpeg) {
    child = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", values.clip!,
      "-t", String(Math.ceil(total)), "-c", "copy", "-f", "flv", values.url!], { stdio: ["ignore", "inherit", "inherit"] });
  } else {
    child = spawn(process.execPath, [new URL("./publish-loop.ts", import.meta.url).pathname, "--url", values.url!,
      "--clip", values.clip!, "--seconds", String(Math.ceil(total))], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout!.on("data", (d: Buffer) => process.stdout.write(`  [publisher] ${d}`));
  }
  await sleep(values.ffmpeg ? 2500 : 1500);
  if (child.exitCode !== null) throw new Error(`publisher exited with ${child.exitCode}`);
  return child;
}

const label = values.label ? `${values.label}: ` : "";
console.log(`${label}rtmp-load: ${players} players of ${values.url}, ramp ${rampMs} ms, warm-up ${warmup} s, ` +
  `measure ${seconds} s, clip ${(clip.bitrate / 1e6).toFixed(3)} Mbps, server pid ${pid ?? "(none)"}`);

// RSS is sampled every 250 ms from before the players connect to the end: the peak includes the join burst.
const rssStart = pid ? rssMb(pid) : 0;
let rssPeak = rssStart;
const rssTimer = pid ? setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(pid))), 250) : undefined;
const publisher = await startPublisher();
const tStart = performance.now();
for (let i = 0; i < players; i++) {
  all.push(startPlayer());
  if (rampMs > 0) await sleep(rampMs);
  else if (i % 50 === 49) await sleep(0);
}
// Wait (bounded) for all handshakes.
for (let i = 0; i < 200 && connected < players; i++) await sleep(50);
console.log(`  ${connected}/${players} players connected in ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
if (warmup > 0) await sleep(warmup * 1000);

const startBytes = all.map((p) => p.bytes);
const cpu0 = pid ? cpuTicks(pid) : 0;
const self0 = process.cpuUsage();
const t0 = performance.now();
const endAt = t0 + seconds * 1000;
while (performance.now() < endAt) {
  await sleep(Math.min(1000, Math.max(1, endAt - performance.now())));
}
clearInterval(rssTimer);
const elapsed = (performance.now() - t0) / 1000;
const cpu1 = pid ? cpuTicks(pid) : 0;
const self1 = process.cpuUsage(self0);
const rssEnd = pid ? rssMb(pid) : 0;
rssPeak = Math.max(rssPeak, rssEnd);
const rates = all.map((p, i) => ((p.bytes - startBytes[i]!) * 8) / elapsed / 1000).sort((a, b) => a - b);
const totalMbps = rates.reduce((a, b) => a + b, 0) / 1000;
const streamKbps = clip.bitrate / 1000;
const fullShare = clampNum(values["full-rate"]!, 0, 2);
const full = rates.filter((r) => r >= fullShare * streamKbps).length;
const cpuPct = pid ? ((cpu1 - cpu0) / TICK / elapsed) * 100 : NaN;
const cpuPer100 = totalMbps > 0 ? cpuPct / (totalMbps / 100) : NaN;
const loadCpu = ((self1.user + self1.system) / 1e6 / elapsed) * 100;
const stillOpen = all.filter((p) => p.open).length;
const errors = new Map<string, number>();
for (const p of all) if (p.error) errors.set(p.error, (errors.get(p.error) ?? 0) + 1);

const q = (f: number) => rates[Math.min(rates.length - 1, Math.floor(f * rates.length))] ?? 0;
console.log(`${label}results over ${elapsed.toFixed(1)} s:`);
console.log(`  players connected     ${connected}/${players} (still open ${stillOpen}, closed early ${closedEarly})`);
console.log(`  delivered             ${totalMbps.toFixed(1)} Mbps aggregate`);
console.log(`  per player kbps       min ${rates[0]?.toFixed(0)}  median ${q(0.5).toFixed(0)}  max ${rates[rates.length - 1]?.toFixed(0)}` +
  `  (stream ${streamKbps.toFixed(0)} kbps)`);
console.log(`  at full rate (>=${(fullShare * 100).toFixed(0)}%)  ${full}/${players}`);
if (pid) {
  console.log(`  server CPU            ${cpuPct.toFixed(1)}% of one core`);
  console.log(`  CPU per 100 Mbps      ${cpuPer100.toFixed(2)}%`);
  console.log(`  server RSS            before ${rssStart.toFixed(1)} MB, peak ${rssPeak.toFixed(1)} MB (whole run), end ${rssEnd.toFixed(1)} MB`);
  const each = treeRss(pid);
  if (each.length > 1) console.log(`  RSS per process       ${each.map(([p, mb]) => `${p}: ${mb.toFixed(1)} MB`).join(", ")} (primary first)`);
}
console.log(`  load tool CPU         ${loadCpu.toFixed(1)}% of one core`);
for (const [e, n] of errors) console.log(`  socket error x${n}: ${e}`);
console.log("RESULT " + JSON.stringify({
  label: values.label, players, connected, full, seconds: +elapsed.toFixed(1), mbps: +totalMbps.toFixed(2),
  minKbps: +(rates[0] ?? 0).toFixed(0), medianKbps: +q(0.5).toFixed(0), maxKbps: +(rates[rates.length - 1] ?? 0).toFixed(0),
  streamKbps: +streamKbps.toFixed(0), cpuPct: +cpuPct.toFixed(2), cpuPer100Mbps: +cpuPer100.toFixed(3),
  rssStartMb: +rssStart.toFixed(1), rssPeakMb: +rssPeak.toFixed(1), rssEndMb: +rssEnd.toFixed(1), loadCpuPct: +loadCpu.toFixed(1),
}));

for (const p of all) p.socket.destroy();
if (publisher && publisher.exitCode === null) publisher.kill("SIGTERM");
await sleep(300);
process.exit(0);

// ---------------------------------------------------------------------------------------------------------

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function clampInt(s: string, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(Number(s)) || lo));
}
function clampNum(s: string, lo: number, hi: number): number {
  const n = Number(s);
  return Math.min(hi, Math.max(lo, Number.isFinite(n) ? n : lo));
}
