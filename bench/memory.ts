/**
 * Memory and start-up of the server with EVERY service on (the built-in default config: RTMP, HTTP API, HTTP server
 * with HTTP-FLV and HLS, WebRTC, SRT; plus the Prometheus exporter), from source (`bun main.ts`) or a compiled
 * binary (`bun build.ts --targets linux-x64`, dist/), all on free 127.0.0.1 ports:
 *
 *   bun bench/memory.ts [--bin dist/srs-ts-<version>-linux-x64] [--runs 3] [--idle 5]
 *   bun bench/memory.ts --protocols flv,rtmp,srt,hls,whep --players 100 [--settle 8] [--bin FILE]
 *
 * - start: milliseconds from spawn() to the first HTTP answer of the API (GET /api/v1/versions, polled every 2 ms).
 * - idle RSS: VmRSS (and its RssAnon / RssFile parts) from /proc/PID/status, --idle seconds after that answer.
 * - per player (--players N): a publisher (bench/publish-loop.ts, the 1 Mbps clip in real time, its own process)
 *   on rtmp://…/live/bench; after 4 s, RSS0; then N players of one protocol, --settle seconds, RSS1 (median of the
 *   last 3 one-second samples); bytes per player = (RSS1 − RSS0) / N. A fresh server per protocol. Players live in
 *   this process: flv = a raw socket GET that counts bytes; rtmp = our RtmpClient; srt = our SRT caller; hls = a
 *   loop fetching the playlist and each new segment; whep = werift (loopback). Each player's bytes are counted
 *   and the number of players that received media is printed, so a figure never comes from dead players.
 * Options: --env K=V,K2=V2 extra server env (e.g. SRS_RTC_SERVER_ENABLED=off, to price one service); --ramp MS between two players' connects (0); --entry FILE instead of main.ts (a probe that imports main.ts;
 * it gets SIGUSR2 once RSS1 is taken, e.g. to dump heap statistics); --bun-flags "--smol" (from source only).
 * The executable (--bin, or bun) is dropped from the page cache (written back first) and read again whole before each
 * start: the kernel maps the cached neighbours of a faulted page too (fault-around, large folios), so RssFile
 * depends on the page cache's history of the file (the same binary measured 41.6–45.2 MB file: just built, copied,
 * or partly evicted); after a drop and a sequential read two copies of a binary measure the same (±0.1 MB).
 * --cache cold: the executable dropped from the page cache and not read again (a start at boot): RssFile is then only
 * what the start faulted in with the kernel's readahead (~4 MB less than warm for the same binary).
 * Env: MEM_TRACE=1 prints RSS every second after the join; MEM_SERVER_LOG=1 shows the server's output.
 * Prints the figures and a `RESULT {json}` line.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CLIP } from "./clip.ts";
import { freePort, freeUdpPort, startPublisher } from "./server.ts";
import { RtmpClient } from "../lib/protocols/rtmp/client.ts";
import { srtConnect } from "../lib/protocols/srt/caller.ts";

const { values: a } = parseArgs({
  options: {
    bin: { type: "string" },
    runs: { type: "string", default: "3" },
    idle: { type: "string", default: "5" },
    protocols: { type: "string", default: "" },
    players: { type: "string", default: "100" },
    settle: { type: "string", default: "8" },
    /** Milliseconds between two players' connects. */
    ramp: { type: "string", default: "0" },
    clip: { type: "string", default: DEFAULT_CLIP },
    /** Another entry than main.ts for `bun` (e.g. a probe that imports main.ts and dumps heap statistics). */
    entry: { type: "string" },
    /** Flags for `bun` before the entry (e.g. --smol), from source only. */
    "bun-flags": { type: "string", default: "" },
    /** Extra server env, comma-separated K=V (applied last: e.g. SRS_RTC_SERVER_ENABLED=off to price a service). */
    env: { type: "string", default: "" },
    /** The executable in the page cache at start: warm (read whole after a drop) or cold (dropped). */
    cache: { type: "string", default: "warm" },
  },
});
const RUNS = Math.max(1, Math.min(20, Number(a.runs)));
const IDLE_S = Math.max(0, Math.min(120, Number(a.idle)));
const PLAYERS = Math.max(1, Math.min(2000, Number(a.players)));
const RAMP_MS = Math.max(0, Math.min(1000, Number(a.ramp)));
const SETTLE_S = Math.max(1, Math.min(120, Number(a.settle)));
const PROTOCOLS = a.protocols ? a.protocols.split(",").filter(Boolean) : [];
const BIN = a.bin ? resolve(a.bin) : undefined;
const ROOT = resolve(import.meta.dir, "..");

/**
 * Drops `path` from the page cache and, unless --cache cold, reads it whole (see the header: RssFile depends on
 * the cache's history). Cold is a start at boot: the kernel reads the executable around each page it faults in.
 */
function warmPageCache(path: string): void {
  // GNU dd: flush the file, then "iflag=nocache count=0" drops the whole file from the cache.
  spawnSync("dd", [`of=${path}`, "oflag=nocache", "conv=notrunc,fdatasync", "count=0"], { stdio: "ignore" });
  spawnSync("dd", [`if=${path}`, "iflag=nocache", "count=0"], { stdio: "ignore" });
  if (a.cache === "cold") return;
  const fd = openSync(path, "r");
  const buf = new Uint8Array(1 << 20);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Mem {
  rss: number;
  anon: number;
  file: number;
}
/** VmRSS, RssAnon and RssFile of `pid` in MB. */
function mem(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

interface Srv {
  child: ChildProcess;
  pid: number;
  rtmp: number;
  http: number;
  api: number;
  rtc: number;
  srt: number;
  startMs: number;
  stop(): Promise<void>;
}

/** Starts the server with every service on; resolves at its first HTTP answer (startMs = spawn → answer). */
async function start(): Promise<Srv> {
  const [rtmp, http, api, exporter] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const [rtc, srt] = [await freeUdpPort(), await freeUdpPort()];
  const cwd = mkdtempSync("/tmp/srs-ts-bench-mem.");
  const cmd = BIN ?? process.execPath;
  warmPageCache(cmd);
  const args = BIN ? [] : [...a["bun-flags"]!.split(" ").filter(Boolean), a.entry ? resolve(a.entry) : `${ROOT}/main.ts`];
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    cwd,
    stdio: ["ignore", "ignore", process.env.MEM_SERVER_LOG ? "inherit" : "ignore"],
    env: {
      ...process.env,
      SRS_LISTEN: `127.0.0.1:${rtmp}`,
      SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${http}`,
      SRS_HTTP_API_LISTEN: `127.0.0.1:${api}`,
      SRS_RTC_SERVER_ENABLED: "on",
      SRS_RTC_SERVER_LISTEN: String(rtc),
      CANDIDATE: "127.0.0.1",
      SRS_SRT_SERVER_ENABLED: "on",
      SRS_SRT_SERVER_LISTEN: String(srt),
      SRS_EXPORTER_ENABLED: "on",
      SRS_EXPORTER_LISTEN: `127.0.0.1:${exporter}`,
      SRS_PID: `${cwd}/srs.pid`,
      SRS_LOG_TANK: "console",
      SRS_DAEMON: "off",
      ...Object.fromEntries(a.env!.split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
    },
  });
  const url = `http://127.0.0.1:${api}/api/v1/versions`;
  let startMs = 0;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (performance.now() - t0 > 20000) throw new Error("no HTTP answer after 20 s");
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      startMs = performance.now() - t0;
      break;
    } catch {
      await sleep(2);
    }
  }
  return {
    child, pid: child.pid!, rtmp, http, api, rtc, srt, startMs,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 4000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Players: each returns its byte counter and a close.

interface Player {
  bytes(): number;
  close(): void | Promise<void>;
}

function flvPlayer(s: Srv): Promise<Player> {
  return new Promise((ok, fail) => {
    let bytes = 0;
    const sock: Socket = netConnect({ host: "127.0.0.1", port: s.http }, () => {
      sock.write(`GET /live/bench.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      ok({ bytes: () => bytes, close: () => void sock.destroy() });
    });
    sock.on("data", (d) => (bytes += d.length));
    sock.once("error", fail);
  });
}

async function rtmpPlayer(s: Srv): Promise<Player> {
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${s.rtmp}/live/bench`, { timeoutMs: 10000 });
  let bytes = 0;
  c.onMessage = (m) => (bytes += m.payload.byteLength);
  await c.play();
  return { bytes: () => bytes, close: () => c.close() };
}

async function srtPlayer(s: Srv): Promise<Player> {
  const c = await srtConnect({ host: "127.0.0.1", port: s.srt, streamId: "#!::r=live/bench,m=request", latency: 120, peerIdleTimeout: 30000 });
  let bytes = 0;
  c.onData((p) => (bytes += p.length));
  return { bytes: () => bytes, close: () => c.close() };
}

/**
 * An HLS player: the playlist every second, each segment it has not fetched yet. The first answer is SRS's master
 * playlist naming the session's media playlist (`bench.m3u8?hls_ctx=…`, hls_ts_ctx): the player follows it, as a
 * real one, and then polls that one (polling bench.m3u8 itself opened a new session every second).
 */
async function hlsPlayer(s: Srv): Promise<Player> {
  let bytes = 0;
  let open = true;
  const seen = new Set<string>();
  let playlist = `http://127.0.0.1:${s.http}/live/bench.m3u8`;
  void (async () => {
    while (open) {
      try {
        const r = await fetch(playlist);
        const text = await r.text();
        bytes += text.length;
        const lines = text.split("\n");
        const variant = lines.findIndex((l) => l.startsWith("#EXT-X-STREAM-INF"));
        if (variant >= 0 && lines[variant + 1]) {
          playlist = new URL(lines[variant + 1]!.trim(), playlist).href;
          continue;
        }
        for (const line of lines) {
          if (!line || line.startsWith("#") || seen.has(line)) continue;
          seen.add(line);
          const seg = await fetch(new URL(line, playlist));
          bytes += (await seg.arrayBuffer()).byteLength;
        }
      } catch {
        // not yet there
      }
      await sleep(1000);
    }
  })();
  return { bytes: () => bytes, close: () => void (open = false) };
}

async function whepPlayer(s: Srv): Promise<Player> {
  const { whepViewer } = await import("../tests/helpers/whep.ts");
  const v = await whepViewer(s.api, "bench");
  return { bytes: () => v.packets(), close: () => v.pc.close() };
}

const PLAYER: Record<string, (s: Srv) => Promise<Player>> = { flv: flvPlayer, rtmp: rtmpPlayer, srt: srtPlayer, hls: hlsPlayer, whep: whepPlayer };

// ---------------------------------------------------------------------------------------------------------

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const f1 = (x: number) => x.toFixed(1);

async function idle(): Promise<{ startMs: number[]; rss: Mem[] }> {
  const startMs: number[] = [];
  const rss: Mem[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await start();
    await sleep(IDLE_S * 1000);
    startMs.push(s.startMs);
    rss.push(mem(s.pid));
    await s.stop();
  }
  return { startMs, rss };
}

async function perPlayer(protocol: string): Promise<Record<string, number>> {
  const make = PLAYER[protocol];
  if (!make) throw new Error(`unknown protocol ${protocol} (flv, rtmp, srt, hls, whep)`);
  const s = await start();
  const pub = await startPublisher(`rtmp://127.0.0.1:${s.rtmp}/live/bench`, a.clip!, 600);
  try {
    // One player first (so the per-format state — muxers, HLS, RTC packetizer — is not counted per player).
    const first = await make(s);
    await sleep(4000);
    const samples0: number[] = [];
    for (let i = 0; i < 3; i++, await sleep(1000)) samples0.push(mem(s.pid).rss);
    const rss0 = median(samples0);
    const players: Player[] = [];
    for (let i = 0; i < PLAYERS; i++) {
      players.push(await make(s));
      if (RAMP_MS > 0) await sleep(RAMP_MS);
    }
    const at = players.map((p) => p.bytes());
    const trace: number[] = [];
    for (let i = 0; i < SETTLE_S; i++, await sleep(1000)) trace.push(Math.round(mem(s.pid).rss));
    if (process.env.MEM_TRACE) console.log(`  RSS each second after the players joined: ${trace.join(" ")} MB`);
    const samples1: number[] = [];
    let peak = 0;
    for (let i = 0; i < 3; i++, await sleep(1000)) {
      const m = mem(s.pid).rss;
      samples1.push(m);
      peak = Math.max(peak, m);
    }
    const rss1 = median(samples1);
    // The JS heap's garbage comes and goes with the collector (a full collection every ~10 s at 500 players): the
    // whole window's range says more than one instant.
    const window = [...trace, ...samples1.map(Math.round)].sort((x, y) => x - y);
    console.log(`  ${protocol}: RSS over the ${window.length} s after the join: min ${window[0]}, median ${median(window)}, max ${window[window.length - 1]} MB`);
    if (a.entry) s.child.kill("SIGUSR2"); // a probe's cue to dump what it dumps
    await sleep(a.entry ? 3000 : 0);
    const fed = players.filter((p, i) => p.bytes() > at[i]!).length;
    for (const p of [first, ...players]) await p.close();
    return { players: PLAYERS, fed, rss0, rss1, kbPerPlayer: ((rss1 - rss0) * 1024) / PLAYERS, windowMin: window[0]!, windowMedian: median(window), windowMax: window[window.length - 1]! };
  } finally {
    pub.kill("SIGTERM");
    await s.stop();
  }
}

const label = BIN ? BIN.split("/").pop()! : "bun main.ts";
const result: Record<string, unknown> = { target: label };
if (PROTOCOLS.length === 0) {
  const r = await idle();
  result.startMs = r.startMs.map((x) => Math.round(x));
  result.rss = r.rss;
  console.log(`${label}, every service on, ${RUNS} runs, executable ${a.cache === "cold" ? "not in the page cache (cold)" : "read into the page cache first (warm)"}:`);
  console.log(`  start (spawn → first HTTP answer): ${r.startMs.map((x) => Math.round(x)).join(", ")} ms (median ${Math.round(median(r.startMs))})`);
  console.log(`  idle RSS after ${IDLE_S} s: ${r.rss.map((m) => f1(m.rss)).join(", ")} MB (median ${f1(median(r.rss.map((m) => m.rss)))}; anon ${f1(median(r.rss.map((m) => m.anon)))}, file ${f1(median(r.rss.map((m) => m.file)))})`);
} else {
  for (const p of PROTOCOLS) {
    const r = await perPlayer(p);
    result[p] = r;
    console.log(`${label} ${p}: ${r.fed}/${r.players} players fed; RSS ${f1(r.rss0!)} → ${f1(r.rss1!)} MB; ${f1(r.kbPerPlayer!)} KB per player`);
  }
}
console.log(`RESULT ${JSON.stringify(result)}`);
process.exit(0);
