/**
 * WebRTC viewer ramp: 1 RTMP publisher (bench/publish-loop.ts, its own process) and N WHEP viewers made with
 * werift RTCPeerConnection in THIS process, N raised in steps until viewers fall below full frame rate or this
 * load process saturates its core.
 *
 *   bun bench/rtc-viewers.ts [--steps 10,25,50,100,150,200,250,300,350,400] [--seconds 15] [--warmup 3] [--fps 25]
 *       [--snapshot [REV]] [--join 4] [--join-rate 25] [--rcvbuf 1048576] [--no-stop] [--no-audio] [--log FILE]
 *       [--clip FILE] [--tcp]
 *
 * - Starts our server (bun main.ts) on free 127.0.0.1 ports, from the working tree or, with --snapshot, from
 *   `git archive REV` (default HEAD) in a temp dir, with SRS_RTC_SERVER_ENABLED=on, SRS_RTC_SERVER_LISTEN=<free
 *   udp port>, CANDIDATE=127.0.0.1, SRS_VHOST_RTC_ENABLED=on, SRS_VHOST_RTC_RTMP_TO_RTC=on, HLS off.
 * - Each viewer: recvonly video + audio transceivers, offer POSTed to /rtc/v1/whep/?app=live&stream=bench
 *   (application/sdp, answer in the 201 body), werift with iceServers [], the loopback host candidate and
 *   only the loopback candidate pair checked (werift also gathers other interfaces), a 1 MB socket receive
 *   buffer (--rcvbuf). It counts video
 *   frames (RTP packets with the marker bit, retransmissions/duplicates not counted again) and RTP bytes
 *   (header + payload after SRTP) of both tracks.
 * - New viewers join --join concurrent WHEP requests at a time, at most --join-rate per second (a burst of
 *   hundreds of handshakes at once is a different test: see bench/README.md).
 * - Per step, after the new viewers are connected and a warm-up: over --seconds, each viewer's fps and kbps,
 *   how many are at full frame rate (>= 90% of --fps), the server's CPU (utime+stime from /proc/PID/stat, % of
 *   one core), its RSS (VmRSS, peak sampled every 250 ms over the step and end) and this process's own CPU.
 * - --tcp: WebRTC over TCP (ICE-TCP): the server offers TCP candidates only (rtc_server protocol tcp, tcp enabled
 *   on a free port) and the werift viewers connect by TCP (their active TCP candidates); --rcvbuf does not apply.
 *   werift's client waits 50 ms for the answer to its one TCP check (no retransmission): under load some
 *   viewers fail ICE on their side (bench/README.md).
 * - Stops after the step where a connected viewer fell below full rate, more than 2% of the viewers failed to
 *   connect, or the load tool used >= 90% of a core (unless --no-stop), prints a table and `RESULT {json}`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { RTCPeerConnection, RTCRtpTransceiver } from "werift";
import { loopbackPeerConnection } from "../tests/helpers/whep.ts";
import { DEFAULT_CLIP } from "./clip.ts";
import { freePort, waitPort, freeUdpPort } from "./server.ts";
import { cpuTicks, rssMb } from "./proc.ts";

const ROOT = resolve(import.meta.dir, "..");
const argv = process.argv.slice(2);
// --snapshot takes an optional value: normalise "--snapshot" without one to "--snapshot=HEAD".
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--snapshot" && (i + 1 >= argv.length || argv[i + 1]!.startsWith("--"))) argv[i] = "--snapshot=HEAD";
}
const { values: a } = parseArgs({
  args: argv,
  options: {
    steps: { type: "string", default: "10,25,50,100,150,200,250,300,350,400" },
    seconds: { type: "string", default: "15" },
    warmup: { type: "string", default: "3" },
    fps: { type: "string", default: "25" },
    snapshot: { type: "string" },
    join: { type: "string", default: "4" },
    "join-rate": { type: "string", default: "25" },
    "no-stop": { type: "boolean", default: false },
    "no-audio": { type: "boolean", default: false },
    rcvbuf: { type: "string", default: "1048576" },
    log: { type: "string", default: "/dev/null" },
    clip: { type: "string", default: DEFAULT_CLIP },
    tcp: { type: "boolean", default: false },
  },
});
const STEPS = a.steps!.split(",").map((s) => Math.min(2000, Math.max(1, Math.floor(Number(s)) || 1)));
const SECONDS = Math.min(120, Math.max(2, Number(a.seconds) || 15));
const WARMUP = Math.min(30, Math.max(0, Number(a.warmup) || 0));
const FPS = Number(a.fps) || 25;
const JOIN = Math.min(32, Math.max(1, Number(a.join) || 4));
const JOIN_RATE = Math.min(1000, Math.max(1, Number(a["join-rate"]) || 25)); // new viewers per second at most
const RCVBUF = Math.min(16 << 20, Math.max(0, Number(a.rcvbuf) || 0));

// ---------------------------------------------------------------------------------------------------------
// /proc

/** System-wide UDP counters (/proc/net/snmp): RcvbufErrors = datagrams dropped because a socket's receive
 * buffer was full (other people's UDP traffic on this machine is included). */
function udpCounters(): { rcvbufErrors: number; sndbufErrors: number; inDatagrams: number } {
  const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
  const k = lines[0]!.split(/\s+/);
  const v = lines[1]!.split(/\s+/).map(Number);
  const get = (n: string) => v[k.indexOf(n)] ?? 0;
  return { rcvbufErrors: get("RcvbufErrors"), sndbufErrors: get("SndbufErrors"), inDatagrams: get("InDatagrams") };
}

// ---------------------------------------------------------------------------------------------------------
// Server and publisher (separate processes)

const procs: ChildProcess[] = [];
function cleanup(): void {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

let src = ROOT;
let srcNote = `working tree (HEAD ${execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]).toString().trim()})`;
if (a.snapshot) {
  const rev = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", a.snapshot]).toString().trim();
  src = mkdtempSync("/tmp/srs-ts-rtc-bench-src.");
  execFileSync("bash", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "_", ROOT, rev, src]);
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
  srcNote = `snapshot of ${rev}`;
}
const [rtmpPort, httpPort, apiPort, udpPort, tcpPort] = [await freePort(), await freePort(), await freePort(), await freeUdpPort(), await freePort()];
const TCP = a.tcp === true;
const cwd = mkdtempSync("/tmp/srs-ts-rtc-bench-cwd.");
mkdirSync(cwd, { recursive: true });
const out = openSync(a.log!, "a");
const server = spawn(process.execPath, [join(src, "main.ts")], {
  cwd,
  stdio: ["ignore", out, out],
  env: {
    ...process.env,
    SRS_LISTEN: `127.0.0.1:${rtmpPort}`,
    SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${httpPort}`,
    SRS_HTTP_API_LISTEN: `127.0.0.1:${apiPort}`,
    SRS_RTC_SERVER_ENABLED: "on",
    SRS_RTC_SERVER_LISTEN: String(udpPort),
    ...(TCP ? { SRS_RTC_SERVER_PROTOCOL: "tcp", SRS_RTC_SERVER_TCP_ENABLED: "on", SRS_RTC_SERVER_TCP_LISTEN: String(tcpPort) } : {}),
    CANDIDATE: "127.0.0.1",
    SRS_VHOST_RTC_ENABLED: "on",
    SRS_VHOST_RTC_RTMP_TO_RTC: "on",
    SRS_SRT_SERVER_ENABLED: "off",
    SRS_PID: `/tmp/srs-ts-rtc-bench-${rtmpPort}.pid`,
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
await waitPort(apiPort, 5000);
const PID = server.pid!;
const rtmpUrl = `rtmp://127.0.0.1:${rtmpPort}/live/bench`;
const total = STEPS.length * (SECONDS + WARMUP + 60) + 60;
const pub = spawn(process.execPath, [join(ROOT, "bench/publish-loop.ts"), "--url", rtmpUrl, "--clip", a.clip!, "--seconds", String(total)],
  { stdio: ["ignore", "pipe", "inherit"] });
procs.push(pub);
pub.stdout!.on("data", (d: Buffer) => process.stdout.write(`  [publisher] ${d}`));
await Bun.sleep(2000);
if (pub.exitCode !== null) {
  cleanup();
  throw new Error(`publisher exited with ${pub.exitCode}`);
}
console.log(`rtc-viewers: server ${srcNote}, pid ${PID}, rtc ${TCP ? `tcp ${tcpPort}` : `udp ${udpPort}`}, api ${apiPort}; ${require("node:os").cpus().length} cores; ` +
  `steps ${STEPS.join(",")}, ${SECONDS} s each (+${WARMUP} s warm-up), full rate >= ${(0.9 * FPS).toFixed(1)} fps`);

// ---------------------------------------------------------------------------------------------------------
// Viewers

interface Viewer {
  pc: RTCPeerConnection;
  frames: number;
  bytes: number;
  videoPkts: number;
  audioPkts: number;
  maxSeq: number; // extended highest video sequence number seen, -1 before the first
  firstSeq: number;
  unique: number; // distinct video packets
  seen: Uint8Array; // per 16-bit sequence number: (lap & 0x7f) + 1 of the last time it was received
  state: string;
  error?: string;
}
const viewers: Viewer[] = [];
let ufragRetries = 0;
const whep = `http://127.0.0.1:${apiPort}/rtc/v1/whep/?app=live&stream=bench`;

async function addViewer(): Promise<Viewer> {
  const pc = loopbackPeerConnection({ tcp: TCP });
  const v: Viewer = { pc, frames: 0, bytes: 0, videoPkts: 0, audioPkts: 0, maxSeq: -1, firstSeq: 0, unique: 0,
    seen: new Uint8Array(65536), state: "new" };
  pc.connectionStateChange.subscribe((s) => (v.state = s));
  const video: RTCRtpTransceiver = pc.addTransceiver("video", { direction: "recvonly" });
  const audio: RTCRtpTransceiver | undefined = a["no-audio"] ? undefined : pc.addTransceiver("audio", { direction: "recvonly" });
  video.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      v.videoPkts++;
      v.bytes += rtp.header.serializeSize + rtp.payload.length;
      // Extended sequence number; a packet already seen (NACK retransmission of a packet that was not lost, or
      // a duplicate) is not counted again. A late or retransmitted packet that is new still counts.
      const seq = rtp.header.sequenceNumber;
      let ext = seq;
      if (v.maxSeq >= 0) {
        ext = v.maxSeq - (v.maxSeq & 0xffff) + seq;
        if (ext < v.maxSeq - 0x8000) ext += 0x10000;
        else if (ext > v.maxSeq + 0x8000) ext -= 0x10000;
      } else v.firstSeq = ext;
      const tag = ((ext >>> 16) & 0x7f) + 1;
      if (v.seen[seq] === tag) return;
      v.seen[seq] = tag;
      v.unique++;
      if (ext > v.maxSeq) v.maxSeq = ext;
      if (rtp.header.marker) v.frames++;
    });
  });
  audio?.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      v.audioPkts++;
      v.bytes += rtp.header.serializeSize + rtp.payload.length;
    });
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    // The load process can stall for a moment (2 cores shared with the server): give each viewer's UDP socket a
    // larger receive buffer (up to net.core.rmem_max, no sysctl change) so a stall does not drop a keyframe burst.
    // werift keeps the socket in Connection.protocols[].transport.socket (private, reached at run time).
    if (RCVBUF > 0) {
      for (const t of pc.iceTransports) {
        const protos = (t.connection as unknown as { protocols?: { transport?: { socket?: { setRecvBufferSize(n: number): void } } }[] }).protocols ?? [];
        for (const p of protos) {
          try {
            p.transport?.socket?.setRecvBufferSize(RCVBUF);
          } catch { /* above rmem_max or not a UDP socket */ }
        }
      }
    }
    // werift gathers before the offer resolves; the local description now holds the candidates.
    let res: Response | undefined;
    let body = "";
    // The server refuses an offer when the ICE ufrag werift generated for ITS side (4 hex characters) is
    // already used by another session ("ice-ufrag XXXX in use"): a birthday collision, likely from ~100
    // sessions on. A real player would just try again; do the same (bounded) and count it.
    for (let attempt = 0; attempt < 3; attempt++) {
      res = await fetch(whep, { method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" } });
      body = await res.text();
      if (res.status === 400 && body.includes("in use")) {
        ufragRetries++;
        continue;
      }
      break;
    }
    if (res!.status !== 201) throw new Error(`WHEP ${res!.status}: ${body.slice(0, 120)}`);
    await pc.setRemoteDescription({ type: "answer", sdp: body });
  } catch (e) {
    v.error = (e as Error).message;
  }
  viewers.push(v);
  return v;
}

async function addViewers(n: number): Promise<void> {
  let left = n;
  const t0 = performance.now();
  let started = 0;
  const worker = async () => {
    while (left > 0) {
      left--;
      // Pace the joins (ICE + DTLS handshakes cost both ends CPU): at most JOIN_RATE per second.
      const due = t0 + (started++ * 1000) / JOIN_RATE;
      const wait = due - performance.now();
      if (wait > 1) await Bun.sleep(wait);
      await addViewer();
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOIN, n) }, worker));
}

// ---------------------------------------------------------------------------------------------------------
// Steps

interface StepResult {
  viewers: number;
  connected: number;
  full: number;
  fps: { min: number; median: number; max: number };
  kbps: { min: number; median: number; max: number };
  audioPps: { min: number; median: number };
  lossPct: { median: number; max: number };
  aggregateMbps: number;
  serverCpu: number;
  serverRssPeak: number;
  serverRssEnd: number;
  loadCpu: number;
  joinSeconds: number;
  ufragRetries: number;
  udpRcvbufErrors: number;
  udpSndbufErrors: number;
  loadavg: number;
  errors: number;
}
const results: StepResult[] = [];
const pct = (xs: number[], f: number) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? 0;
const rssBefore = rssMb(PID);
let stopReason = "";

for (const n of STEPS) {
  if (server.exitCode !== null || pub.exitCode !== null) {
    stopReason = server.exitCode !== null ? `server exited (${server.exitCode})` : `publisher exited (${pub.exitCode})`;
    break;
  }
  const tJoin = performance.now();
  await addViewers(n - viewers.length);
  // Wait (bounded) for ICE + DTLS of all viewers.
  for (let i = 0; i < 150 && viewers.some((v) => !v.error && v.state !== "connected" && v.state !== "failed"); i++) await Bun.sleep(100);
  const joinSeconds = (performance.now() - tJoin) / 1000;
  await Bun.sleep(WARMUP * 1000);

  const f0 = viewers.map((v) => v.frames);
  const b0 = viewers.map((v) => v.bytes);
  const ap0 = viewers.map((v) => v.audioPkts);
  const u0 = viewers.map((v) => v.unique);
  const m0 = viewers.map((v) => v.maxSeq);
  const udp0 = udpCounters();
  const cpu0 = cpuTicks(PID);
  const self0 = process.cpuUsage();
  let rssPeak = rssMb(PID);
  const t0 = performance.now();
  const endAt = t0 + SECONDS * 1000;
  while (performance.now() < endAt) {
    await Bun.sleep(Math.min(250, Math.max(1, endAt - performance.now())));
    rssPeak = Math.max(rssPeak, rssMb(PID));
  }
  const secs = (performance.now() - t0) / 1000;
  const serverCpu = ((cpuTicks(PID) - cpu0) / 100 / secs) * 100;
  const self = process.cpuUsage(self0);
  const loadCpu = ((self.user + self.system) / 1e6 / secs) * 100;
  const rssEnd = rssMb(PID);
  const udp1 = udpCounters();
  const loadavg = readFileSync("/proc/loadavg", "utf8").split(" ")[0]!;
  const fps = viewers.map((v, i) => (v.frames - f0[i]!) / secs).sort((x, y) => x - y);
  const kbps = viewers.map((v, i) => ((v.bytes - b0[i]!) * 8) / secs / 1000).sort((x, y) => x - y);
  const aps = viewers.map((v, i) => (v.audioPkts - ap0[i]!) / secs).sort((x, y) => x - y);
  // Video packet loss in the window: sequence numbers advanced minus distinct packets received.
  const loss = viewers.map((v, i) => {
    const expected = v.maxSeq - Math.max(m0[i]!, v.firstSeq - 1);
    return expected > 0 ? Math.max(0, 1 - (v.unique - u0[i]!) / expected) * 100 : 0;
  }).sort((x, y) => x - y);
  const r: StepResult = {
    viewers: viewers.length,
    connected: viewers.filter((v) => v.state === "connected").length,
    full: fps.filter((x) => x >= 0.9 * FPS).length,
    fps: { min: +fps[0]!.toFixed(1), median: +pct(fps, 0.5).toFixed(1), max: +fps[fps.length - 1]!.toFixed(1) },
    kbps: { min: Math.round(kbps[0]!), median: Math.round(pct(kbps, 0.5)), max: Math.round(kbps[kbps.length - 1]!) },
    audioPps: { min: +aps[0]!.toFixed(1), median: +pct(aps, 0.5).toFixed(1) },
    lossPct: { median: +pct(loss, 0.5).toFixed(2), max: +loss[loss.length - 1]!.toFixed(2) },
    aggregateMbps: +(kbps.reduce((x, y) => x + y, 0) / 1000).toFixed(1),
    serverCpu: +serverCpu.toFixed(1),
    serverRssPeak: +rssPeak.toFixed(1),
    serverRssEnd: +rssEnd.toFixed(1),
    loadCpu: +loadCpu.toFixed(1),
    joinSeconds: +joinSeconds.toFixed(1),
    ufragRetries,
    udpRcvbufErrors: udp1.rcvbufErrors - udp0.rcvbufErrors,
    udpSndbufErrors: udp1.sndbufErrors - udp0.sndbufErrors,
    loadavg: Number(loadavg),
    errors: viewers.filter((v) => v.error).length,
  };
  results.push(r);
  console.log(`  ${String(r.viewers).padStart(4)} viewers (${r.connected} connected, joined in ${r.joinSeconds} s, ufrag retries so far ${r.ufragRetries}): ` +
    `full rate ${r.full}/${r.viewers}, fps min/med/max ${r.fps.min}/${r.fps.median}/${r.fps.max}, ` +
    `kbps ${r.kbps.min}/${r.kbps.median}/${r.kbps.max} (${r.aggregateMbps} Mbps), audio pkt/s min/med ${r.audioPps.min}/${r.audioPps.median}, ` +
    `video loss med/max ${r.lossPct.median}/${r.lossPct.max}%, server CPU ${r.serverCpu}%, ` +
    `RSS ${r.serverRssPeak}/${r.serverRssEnd} MB, load CPU ${r.loadCpu}%; system UDP rcvbuf drops ${r.udpRcvbufErrors}, ` +
    `sndbuf ${r.udpSndbufErrors}, loadavg ${r.loadavg}`);
  for (const e of new Set(viewers.filter((v) => v.error).map((v) => v.error))) console.log(`    error: ${e}`);
  if (!a["no-stop"]) {
    if (r.loadCpu >= 90) {
      stopReason = `load tool saturated its core (${r.loadCpu}%)`;
      break;
    }
    // Below full rate: a connected viewer under 90% of the frame rate, or more than 2% (at least 2) of the
    // viewers that never connected (the server closes a few sessions during ICE/DTLS now and then; see README).
    const notConnected = r.viewers - r.connected;
    if (r.full < r.connected || notConnected > Math.max(1, 0.02 * r.viewers)) {
      stopReason = `viewers below full rate (${r.full}/${r.viewers} at full rate, ${notConnected} not connected)`;
      break;
    }
  }
}
if (!stopReason) stopReason = "all steps done";

// ---------------------------------------------------------------------------------------------------------
// Report

console.log(`\nstopped: ${stopReason}; server RSS before viewers ${rssBefore.toFixed(1)} MB`);
console.log("| viewers | full rate | fps min/med | kbps med | Mbps | server CPU % | CPU %/100 viewers | RSS peak/end MB | load CPU % | loss med % | loadavg |");
console.log("|---------|-----------|-------------|----------|------|--------------|-------------------|-----------------|------------|------------|---------|");
for (const r of results) {
  console.log(`| ${r.viewers} | ${r.full}/${r.viewers} | ${r.fps.min}/${r.fps.median} | ${r.kbps.median} | ${r.aggregateMbps} | ${r.serverCpu} | ` +
    `${((r.serverCpu / r.viewers) * 100).toFixed(1)} | ${r.serverRssPeak}/${r.serverRssEnd} | ${r.loadCpu} | ${r.lossPct.median} | ${r.loadavg} |`);
}
// Server CPU per viewer: slope between the smallest and the largest step where every connected viewer got the
// full rate, over the number of viewers at full rate (the fixed cost of ingesting the stream and of the audio
// bridge cancels out; viewers that failed to connect cost next to nothing); viewers per core = 100 / slope.
const good = results.filter((r) => r.full > 0 && r.full === r.connected);
let perViewer = NaN;
if (good.length >= 2) {
  const lo = good[0]!;
  const hi = good[good.length - 1]!;
  perViewer = (hi.serverCpu - lo.serverCpu) / (hi.full - lo.full);
} else if (good.length === 1) perViewer = good[0]!.serverCpu / good[0]!.full;
const perCore = perViewer > 0 ? Math.floor(100 / perViewer) : NaN;
console.log(`server CPU per viewer ${perViewer.toFixed(3)}% of a core (${good.length >= 2 ? `slope ${good[0]!.full}→${good[good.length - 1]!.full} full-rate viewers` : "one step: total / viewers, fixed cost included"}) → ~${perCore} viewers per core ` +
  `(SRS published: 2000 viewers at ~94% of 2 CPUs ≈ 1060 per core)`);
console.log("RESULT " + JSON.stringify({ server: srcNote, steps: results, stopReason, rssBeforeMb: +rssBefore.toFixed(1),
  cpuPerViewer: +perViewer.toFixed(4), viewersPerCore: perCore }));

for (const v of viewers) void v.pc.close().catch(() => {});
await Bun.sleep(300);
cleanup();
process.exit(0);
