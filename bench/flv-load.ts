/**
 * HTTP-FLV play load generator: N players as plain node:net sockets that send one GET and then only COUNT
 * the bytes they receive (no parsing). Measures like bench/rtmp-load.ts: the server's CPU (utime+stime from
 * /proc/PID/stat) and RSS (VmRSS, sampled every second) over --seconds, and every player's received rate.
 *
 *   bun bench/flv-load.ts [--server ours|nms] [--players 500] [--seconds 30] [--warmup 5] [--ramp 5]
 *   bun bench/flv-load.ts --url http://127.0.0.1:8080/live/bench.flv --pid <server pid>
 *       [--publish rtmp://127.0.0.1:1935/live/bench | --no-publisher]
 *   common: [--clip FILE] [--ffmpeg] [--label L] [--tls]
 *
 * --tls: HTTPS-FLV. Our server gets `http_server.https` on a free port (the shipped self-signed pair) and the
 * players are node:tls sockets (certificate not verified); with --url, give an https:// URL instead. The load
 * tool then pays for the TLS decryption of every player too (its CPU is printed).
 *
 * Without --url it starts the server itself on free 127.0.0.1 ports: `ours` is `bun main.ts` (bench/server.ts;
 * extra SRS_* env is passed through), `nms` is node-media-server from $NMS_DIR (default /tmp/nms, installed
 * there with npm on demand, as bench/run-rtmp.sh does). The publisher is a SEPARATE process:
 * bench/publish-loop.ts (our RtmpClient, clip looped in real time) or, with --ffmpeg, ffmpeg -re.
 * Prints a report and a final `RESULT {json}` line for scripts.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CLIP, loadClip } from "./clip.ts";
import { freePort, startServer, waitPort } from "./server.ts";
import { TICK, treeCpuTicks as cpuTicks, treeRss, treeRssMb as rssMb } from "./proc.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    publish: { type: "string" },
    server: { type: "string", default: "ours" },
    players: { type: "string", default: "500" },
    seconds: { type: "string", default: "30" },
    warmup: { type: "string", default: "5" },
    ramp: { type: "string", default: "5" },
    pid: { type: "string" },
    clip: { type: "string", default: DEFAULT_CLIP },
    ffmpeg: { type: "boolean", default: false },
    "no-publisher": { type: "boolean", default: false },
    label: { type: "string", default: "" },
    tls: { type: "boolean", default: false },
    // A player is "at full rate" when it got at least this share of the clip's bitrate over the window.
    "full-rate": { type: "string", default: "0.9" },
  },
});

const players = clampInt(values.players!, 1, 5000);
const seconds = clampNum(values.seconds!, 1, 600);
const warmup = clampNum(values.warmup!, 0, 120);
const rampMs = clampNum(values.ramp!, 0, 1000);
const clip = loadClip(values.clip);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------------------
// The server under test

interface Target {
  url: URL;
  publishUrl: string;
  pid: number | undefined;
  label: string;
  stop(): Promise<void>;
}

async function startNms(): Promise<Target> {
  const dir = process.env.NMS_DIR ?? "/tmp/nms";
  const nms = join(dir, "node_modules/node-media-server");
  if (!existsSync(join(nms, "bin/app.js"))) {
    const r = spawn("npm", ["install", "--prefix", dir, "--no-save", "node-media-server"], { stdio: "inherit" });
    await new Promise((res) => r.once("exit", res));
  }
  const work = mkdtempSync(join(tmpdir(), "flv-load-nms-"));
  for (const f of readdirSync(join(nms, "bin"))) if (f.endsWith(".pem")) copyFileSync(join(nms, "bin", f), join(work, f));
  // A copy of its config without RTMPS/HTTPS listeners (it rewrites the file on first start).
  const cfg = JSON.parse(readFileSync(join(nms, "bin/config.json"), "utf8")) as Record<string, unknown>;
  delete cfg.rtmps;
  delete cfg.https;
  writeFileSync(join(work, "config.json"), JSON.stringify(cfg, null, 2));
  mkdirSync(join(work, "data"), { recursive: true });
  const [rtmp, http] = [await freePort(), await freePort()];
  const child = spawn("node", [join(nms, "bin/app.js"), "-c", join(work, "config.json"), "--bind", "127.0.0.1",
    "--rtmp-port", String(rtmp), "--http-port", String(http), "--no-admin", "--data-path", join(work, "data")],
    { stdio: "ignore" });
  await waitPort(rtmp, 15000);
  await waitPort(http, 15000);
  const version = (JSON.parse(readFileSync(join(nms, "package.json"), "utf8")) as { version: string }).version;
  return {
    url: new URL(`http://127.0.0.1:${http}/live/bench.flv`),
    publishUrl: `rtmp://127.0.0.1:${rtmp}/live/bench`,
    pid: child.pid,
    label: `node-media-server ${version}`,
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(t);
}

async function target(): Promise<Target> {
  if (values.url) {
    const url = new URL(values.url);
    const stream = url.pathname.replace(/\.flv$/, "");
    return {
      url,
      publishUrl: values.publish ?? `rtmp://${url.hostname}:1935${stream}`,
      pid: values.pid ? clampInt(values.pid, 1, 1 << 30) : undefined,
      label: "server at " + url.host,
      stop: () => Promise.resolve(),
    };
  }
  if (values.server === "nms") return await startNms();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("SRS_") && v !== undefined) env[k] = v;
  const httpsPort = values.tls ? await freePort() : 0;
  if (values.tls) {
    env.SRS_HTTP_SERVER_HTTPS_ENABLED = "on";
    env.SRS_HTTP_SERVER_HTTPS_LISTEN = `127.0.0.1:${httpsPort}`;
  }
  const s = await startServer(env);
  if (values.tls) await waitPort(httpsPort);
  return {
    url: new URL(values.tls ? `https://127.0.0.1:${httpsPort}/live/bench.flv` : `http://127.0.0.1:${s.httpPort}/live/bench.flv`),
    publishUrl: `rtmp://127.0.0.1:${s.rtmpPort}/live/bench`,
    pid: s.pid,
    label: `srs-ts (bun main.ts)${values.tls ? " over TLS" : ""}`,
    stop: () => s.stop(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Players

interface Player {
  socket: Socket;
  bytes: number;
  status: string | undefined;
  open: boolean;
  error: string | undefined;
}

const all: Player[] = [];
let connected = 0;
let closedEarly = 0;

function startPlayer(url: URL, request: Uint8Array): Player {
  const tls = url.protocol === "https:";
  const socket: Socket = tls
    ? tlsConnect({ host: url.hostname, port: Number(url.port) || 443, rejectUnauthorized: false })
    : netConnect({ host: url.hostname, port: Number(url.port) || 80 });
  const p: Player = { socket, bytes: 0, status: undefined, open: false, error: undefined };
  socket.on(tls ? "secureConnect" : "connect", () => socket.write(request));
  socket.on("data", (d: Buffer) => {
    if (p.status === undefined) {
      p.status = d.subarray(0, Math.max(0, d.indexOf(13))).toString("latin1");
      if (/^HTTP\/1\.[01] 200/.test(p.status)) {
        p.open = true;
        connected++;
      }
    }
    p.bytes += d.length;
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

async function startPublisher(publishUrl: string): Promise<ChildProcess | undefined> {
  if (values["no-publisher"]) return undefined;
  const total = warmup + seconds + players * rampMs / 1000 + 60;
  let child: ChildProcess;
  if (values.ffmpeg) {
    child = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", values.clip!,
      "-t", String(Math.ceil(total)), "-c", "copy", "-f", "flv", publishUrl], { stdio: ["ignore", "inherit", "inherit"] });
  } else {
    child = spawn(process.execPath, [new URL("./publish-loop.ts", import.meta.url).pathname, "--url", publishUrl,
      "--clip", values.clip!, "--seconds", String(Math.ceil(total))], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout!.on("data", (d: Buffer) => process.stdout.write(`  [publisher] ${d}`));
  }
  await sleep(values.ffmpeg ? 2500 : 1500);
  if (child.exitCode !== null) throw new Error(`publisher exited with ${child.exitCode}`);
  return child;
}

// ---------------------------------------------------------------------------------------------------------

const t = await target();
const pid = t.pid;
const label = values.label || t.label;
const request = new TextEncoder().encode(
  `GET ${t.url.pathname}${t.url.search} HTTP/1.1\r\nHost: ${t.url.host}\r\nUser-Agent: flv-load\r\nAccept: */*\r\n\r\n`,
);
console.log(`${label}: flv-load: ${players} players of ${t.url.href}, ramp ${rampMs} ms, warm-up ${warmup} s, ` +
  `measure ${seconds} s, clip ${(clip.bitrate / 1e6).toFixed(3)} Mbps, server pid ${pid ?? "(none)"}` +
  (pid ? `, idle RSS ${rssMb(pid).toFixed(1)} MB` : ""));

const publisher = await startPublisher(t.publishUrl);
const tStart = performance.now();
for (let i = 0; i < players; i++) {
  all.push(startPlayer(t.url, request));
  if (rampMs > 0) await sleep(rampMs);
  else if (i % 50 === 49) await sleep(0);
}
for (let i = 0; i < 200 && connected < players; i++) await sleep(50);
console.log(`  ${connected}/${players} players got 200 in ${((performance.now() - tStart) / 1000).toFixed(1)} s`);
if (warmup > 0) await sleep(warmup * 1000);

const startBytes = all.map((p) => p.bytes);
const cpu0 = pid ? cpuTicks(pid) : 0;
const self0 = process.cpuUsage();
const t0 = performance.now();
let rssPeak = pid ? rssMb(pid) : 0;
const endAt = t0 + seconds * 1000;
while (performance.now() < endAt) {
  await sleep(Math.min(1000, Math.max(1, endAt - performance.now())));
  if (pid) rssPeak = Math.max(rssPeak, rssMb(pid));
}
const elapsed = (performance.now() - t0) / 1000;
const cpu1 = pid ? cpuTicks(pid) : 0;
const self1 = process.cpuUsage(self0);
const rssEnd = pid ? rssMb(pid) : 0;
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
const statuses = new Map<string, number>();
for (const p of all) statuses.set(p.status ?? "(no answer)", (statuses.get(p.status ?? "(no answer)") ?? 0) + 1);

const q = (f: number) => rates[Math.min(rates.length - 1, Math.floor(f * rates.length))] ?? 0;
console.log(`${label}: results over ${elapsed.toFixed(1)} s:`);
console.log(`  players connected     ${connected}/${players} (still open ${stillOpen}, closed early ${closedEarly})`);
console.log(`  delivered             ${totalMbps.toFixed(1)} Mbps aggregate`);
console.log(`  per player kbps       min ${rates[0]?.toFixed(0)}  median ${q(0.5).toFixed(0)}  max ${rates[rates.length - 1]?.toFixed(0)}` +
  `  (stream ${streamKbps.toFixed(0)} kbps)`);
console.log(`  at full rate (>=${(fullShare * 100).toFixed(0)}%)  ${full}/${players}`);
if (pid) {
  console.log(`  server CPU            ${cpuPct.toFixed(1)}% of one core`);
  console.log(`  CPU per 100 Mbps      ${cpuPer100.toFixed(2)}%`);
  console.log(`  server RSS            peak ${rssPeak.toFixed(1)} MB, end ${rssEnd.toFixed(1)} MB`);
  const each = treeRss(pid);
  if (each.length > 1) console.log(`  RSS per process       ${each.map(([p, mb]) => `${p}: ${mb.toFixed(1)} MB`).join(", ")} (primary first)`);
}
console.log(`  load tool CPU         ${loadCpu.toFixed(1)}% of one core`);
for (const [s, n] of statuses) if (!s.startsWith("HTTP/1.1 200")) console.log(`  status x${n}: ${s}`);
for (const [e, n] of errors) console.log(`  socket error x${n}: ${e}`);
console.log("RESULT " + JSON.stringify({
  label, protocol: t.url.protocol === "https:" ? "https-flv" : "http-flv", players, connected, full, seconds: +elapsed.toFixed(1), mbps: +totalMbps.toFixed(2),
  minKbps: +(rates[0] ?? 0).toFixed(0), medianKbps: +q(0.5).toFixed(0), maxKbps: +(rates[rates.length - 1] ?? 0).toFixed(0),
  streamKbps: +streamKbps.toFixed(0), cpuPct: +cpuPct.toFixed(2), cpuPer100Mbps: +cpuPer100.toFixed(3),
  rssPeakMb: +rssPeak.toFixed(1), rssEndMb: +rssEnd.toFixed(1), loadCpuPct: +loadCpu.toFixed(1),
}));

for (const p of all) p.socket.destroy();
if (publisher && publisher.exitCode === null) publisher.kill("SIGTERM");
await sleep(300);
await t.stop();
process.exit(0);

// ---------------------------------------------------------------------------------------------------------

function clampInt(s: string, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(Number(s)) || lo));
}
function clampNum(s: string, lo: number, hi: number): number {
  const n = Number(s);
  return Math.min(hi, Math.max(lo, Number.isFinite(n) ? n : lo));
}
