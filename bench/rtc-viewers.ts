/**
 * WebRTC viewer ramp and join burst: 1 RTMP publisher (bench/publish-loop.ts, its own process) and N WHEP
 * viewers, either werift RTCPeerConnections in THIS process (--client werift, the default) or pion viewers in
 * pion-client processes (tests/tools/pion-client, Go) inside a network namespace (--client pion).
 *
 *   bun bench/rtc-viewers.ts [--client werift|pion] [--steps 10,25,50,100,150,200,250,300,350,400] [--seconds 15]
 *       [--warmup 3] [--fps 25] [--snapshot [REV]] [--join 4] [--join-rate 25] [--rcvbuf 1048576] [--no-stop]
 *       [--no-audio] [--log FILE] [--clip FILE] [--tcp]
 *   bun bench/rtc-viewers.ts --client pion --burst 200 --base 100 [--seconds 15] [--warmup 3] [--snapshot [REV]]
 *
 * - Starts our server (bun main.ts) on free ports, from the working tree or, with --snapshot, from
 *   `git archive REV` (default HEAD) in a temp dir, with SRS_RTC_SERVER_ENABLED=on, SRS_RTC_SERVER_LISTEN=<free
 *   udp port>, SRS_VHOST_RTC_ENABLED=on, SRS_VHOST_RTC_RTMP_TO_RTC=on, HLS off, and CANDIDATE=127.0.0.1
 *   (werift) or CANDIDATE=<host end of the namespace's veth> with the HTTP API on that address (pion: pion
 *   offers no loopback candidate, see tests/helpers/netns.ts).
 * - Each viewer: recvonly video + audio transceivers, offer POSTed to /rtc/v1/whep/?app=live&stream=bench
 *   (application/sdp, answer in the 201 body). It counts video frames (RTP packets with the marker bit,
 *   retransmissions/duplicates not counted again), RTP bytes (header + payload after SRTP) of both tracks,
 *   video loss (sequence gaps) and audio packets.
 *   werift: iceServers [], the loopback host candidate and only the loopback candidate pair checked (werift
 *   also gathers other interfaces), a 1 MB socket receive buffer (--rcvbuf).
 *   pion: pion's defaults (host candidates of the veth, NACK/RR/TWCC interceptors, mDNS off), one pion-client
 *   process per step (or for the base and for the burst), which prints per-viewer counters every second.
 * - New viewers join --join concurrent WHEP requests at a time, at most --join-rate per second.
 * - Per step, after the new viewers are connected and a warm-up: over --seconds, each viewer's fps and kbps,
 *   how many are at full frame rate (>= 90% of --fps), the server's CPU (utime+stime from /proc/PID/stat, % of
 *   one core), its RSS (VmRSS, peak sampled every 250 ms over the step and end) and the load's own CPU (this
 *   process for werift, the pion-client processes for pion).
 * - --tcp (werift only): WebRTC over TCP (ICE-TCP): the server offers TCP candidates only (rtc_server protocol
 *   tcp, tcp enabled on a free port) and the werift viewers connect by TCP (their active TCP candidates);
 *   --rcvbuf does not apply. werift's client waits 50 ms for the answer to its one TCP check (no
 *   retransmission): under load some viewers fail ICE on their side (bench/README.md).
 * - Stops after the step where a connected viewer fell below full rate, more than 2% of the viewers failed to
 *   connect, or the load tool used >= 90% of a core (unless --no-stop), prints a table and `RESULT {json}`.
 * - --burst N --base M (pion only): M viewers join (paced as above) and play; after the warm-up their rate is
 *   measured for 5 s; then N more join at once (one pion-client, every offer in flight together). Reports the
 *   time until all N receive (last first frame, from the burst client's start), join time p50/p99/max (offer
 *   start to first complete frame), failed joins, whether the base viewers kept the full rate during the
 *   burst (per viewer over the burst, and the worst 1 s), everyone's rate over --seconds after the burst,
 *   server CPU and peak RSS. Nothing is asserted: figures only.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { RTCPeerConnection, RTCRtpTransceiver } from "werift";
import { createNetns, type Netns } from "../tests/helpers/netns.ts";
import { buildPionClient, type PionEvent, type PionRun, type PionStats, runPion } from "../tests/helpers/pion.ts";
import { loopbackPeerConnection } from "../tests/helpers/whep.ts";
import { DEFAULT_CLIP } from "./clip.ts";
import { freePort, waitPort, freeUdpPort } from "./server.ts";
import { cpuTicks, rssMb, TICK } from "./proc.ts";

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
    client: { type: "string", default: "werift" },
    burst: { type: "string" },
    base: { type: "string", default: "100" },
    tcp: { type: "boolean", default: false },
    prof: { type: "string" },
  },
});
const CLIENT = a.client === "pion" ? "pion" : "werift";
if (a.client !== CLIENT) throw new Error(`--client werift|pion, not ${a.client}`);
const BURST = a.burst === undefined ? 0 : Math.min(2000, Math.max(1, Math.floor(Number(a.burst)) || 1));
const BASE = Math.min(2000, Math.max(0, Math.floor(Number(a.base)) || 0));
const TCP = a.tcp === true;
if (TCP && CLIENT !== "werift") throw new Error("--tcp needs --client werift (pion-client has no ICE-TCP option)");
if (BURST && CLIENT !== "pion") throw new Error("--burst needs --client pion (a burst of in-process werift viewers measures this process)");
const STEPS = a.steps!.split(",").map((s) => Math.min(2000, Math.max(1, Math.floor(Number(s)) || 1)));
const SECONDS = Math.min(120, Math.max(2, Number(a.seconds) || 15));
const WARMUP = Math.min(30, Math.max(0, Number(a.warmup) || 0));
const FPS = Number(a.fps) || 25;
const JOIN = Math.min(32, Math.max(1, Number(a.join) || 4));
const JOIN_RATE = Math.min(1000, Math.max(1, Number(a["join-rate"]) || 25)); // new viewers per second at most
const RCVBUF = Math.min(16 << 20, Math.max(0, Number(a.rcvbuf) || 0));

// ---------------------------------------------------------------------------------------------------------
// /proc

/** UDP counters of this network namespace (/proc/net/snmp), or of namespace `ns`: RcvbufErrors = datagrams
 * dropped because a socket's receive buffer was full. The test process's namespace holds the server (and other
 * people's UDP traffic on this machine); a pion run's namespace holds only its viewers. */
function udpCounters(ns?: Netns | null): { rcvbufErrors: number; sndbufErrors: number; inDatagrams: number } {
  const text = ns ? ns.exec("cat", ["/proc/net/snmp"]) : readFileSync("/proc/net/snmp", "utf8");
  const lines = text.split("\n").filter((l) => l.startsWith("Udp:"));
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
  void netns?.close();
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
// pion gathers no loopback candidate: its viewers run in a namespace, the server's API and candidate are the
// host end of the veth.
let netns: Netns | null = null;
let pionBin = "";
if (CLIENT === "pion") {
  netns = createNetns({ prefix: "srsts-bench" });
  const b = await buildPionClient();
  pionBin = b.path;
  console.log(`pion client: ${b.cached ? "cached build" : `built in ${b.buildMs} ms`}; namespace ${netns.ns}, server side ${netns.hostIp}, viewers ${netns.nsIp}`);
}
const HOST = netns ? netns.hostIp : "127.0.0.1";
const cwd = mkdtempSync("/tmp/srs-ts-rtc-bench-cwd.");
mkdirSync(cwd, { recursive: true });
const out = openSync(a.log!, "a");
// --prof DIR: the server runs with Bun's CPU and heap profilers (markdown), written to DIR when it exits (SIGTERM at the end).
const profArgs = a.prof ? ["--cpu-prof-md", `--cpu-prof-dir=${resolve(a.prof)}`, "--heap-prof-md", `--heap-prof-dir=${resolve(a.prof)}`] : [];
const server = spawn(process.execPath, [...profArgs, join(src, "main.ts")], {
  cwd,
  stdio: ["ignore", out, out],
  env: {
    ...process.env,
    SRS_LISTEN: `127.0.0.1:${rtmpPort}`,
    SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${httpPort}`,
    SRS_HTTP_API_LISTEN: `${HOST}:${apiPort}`,
    SRS_RTC_SERVER_ENABLED: "on",
    SRS_RTC_SERVER_LISTEN: String(udpPort),
    ...(TCP ? { SRS_RTC_SERVER_PROTOCOL: "tcp", SRS_RTC_SERVER_TCP_ENABLED: "on", SRS_RTC_SERVER_TCP_LISTEN: String(tcpPort) } : {}),
    CANDIDATE: HOST,
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
for (let i = 0; ; i++) {
  const up = await fetch(`http://${HOST}:${apiPort}/api/v1/versions`).then((r) => r.ok, () => false);
  if (up) break;
  if (i > 50) {
    cleanup();
    throw new Error(`the server's API did not answer on ${HOST}:${apiPort}`);
  }
  await Bun.sleep(100);
}
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
console.log(`rtc-viewers: ${CLIENT} viewers; server ${srcNote}, pid ${PID}, rtc ${TCP ? `tcp ${tcpPort}` : `udp ${udpPort}`}, api ${HOST}:${apiPort}; ` +
  `${require("node:os").cpus().length} cores; ` + (BURST ? `burst ${BURST} onto ${BASE} playing` : `steps ${STEPS.join(",")}`) +
  `, ${SECONDS} s windows (+${WARMUP} s warm-up), full rate >= ${(0.9 * FPS).toFixed(1)} fps`);

// ---------------------------------------------------------------------------------------------------------
// Viewers: a Load is werift viewers in this process or pion viewers in pion-client processes

/** One viewer's cumulative counters at instant `t` (seconds; windows are differences of two snaps). */
interface Snap {
  t: number;
  frames: number;
  bytes: number;
  audioPkts: number;
  /** Distinct video packets, and how many the sequence numbers say were sent. */
  unique: number;
  expected: number;
  connected: boolean;
  error?: string;
}

interface Load {
  /** Adds `n` viewers (--join at a time, --join-rate per second) and waits (bounded) until they connected or failed. */
  add(n: number): Promise<void>;
  count(): number;
  snap(): Snap[];
  /** CPU used by the load so far, in clock ticks. */
  cpuTicks(): number;
  ufragRetries(): number;
  close(): Promise<void>;
}

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


function weriftLoad(): Load {
  return {
    add: async (n) => {
      await addViewers(n);
      // Wait (bounded) for ICE + DTLS of all viewers.
      for (let i = 0; i < 150 && viewers.some((v) => !v.error && v.state !== "connected" && v.state !== "failed"); i++) await Bun.sleep(100);
    },
    count: () => viewers.length,
    snap: () => {
      const t = performance.now() / 1000;
      return viewers.map((v) => ({ t, frames: v.frames, bytes: v.bytes, audioPkts: v.audioPkts, unique: v.unique,
        expected: v.maxSeq >= 0 ? v.maxSeq - v.firstSeq + 1 : 0, connected: v.state === "connected", error: v.error }));
    },
    cpuTicks: () => {
      const u = process.cpuUsage();
      return ((u.user + u.system) / 1e6) * TICK;
    },
    ufragRetries: () => ufragRetries,
    close: async () => {
      for (const v of viewers) void v.pc.close().catch(() => {});
      await Bun.sleep(300);
    },
  };
}

interface PionLoad extends Load {
  /** Starts a pion-client with `n` viewers (its viewers follow the earlier ones in snap()). */
  start(n: number, o: { join: number; rate: number }): PionRun;
  fleets: { run: PionRun; n: number }[];
}

/** pion viewers: one pion-client process per add(), inside the namespace; its stats line every second carries
 * every viewer's counters (stamped with that process's clock). */
function pionLoad(): PionLoad {
  const fleets: { run: PionRun; n: number }[] = [];
  const start = (n: number, o: { join: number; rate: number }): PionRun => {
    const run = runPion(pionBin, netns!, { url: whep, n, seconds: 0, join: o.join, rate: o.rate, interval: 1, fps: FPS });
    procs.push(run.proc);
    fleets.push({ run, n });
    return run;
  };
  return {
    fleets,
    start,
    add: async (n) => {
      const run = start(n, { join: JOIN, rate: JOIN_RATE });
      await waitJoined(run, n, 30 + n / JOIN_RATE);
    },
    count: () => fleets.reduce((x, f) => x + f.n, 0),
    snap: () => fleets.flatMap(({ run, n }) => {
      const st = lastStats(run);
      const state = viewerStates(run, n);
      return Array.from({ length: n }, (_, i) => ({
        t: st?.t ?? 0, frames: st?.frames[i] ?? 0, bytes: st?.viewerBytes[i] ?? 0, audioPkts: st?.audioPackets[i] ?? 0,
        unique: st?.videoPackets[i] ?? 0, expected: st?.videoExpected[i] ?? 0, connected: state[i]!.connected, error: state[i]!.error,
      }));
    }),
    cpuTicks: () => fleets.reduce((x, f) => {
      try {
        return x + (f.run.proc.exitCode === null ? cpuTicks(f.run.proc.pid!) : 0);
      } catch {
        return x;
      }
    }, 0),
    ufragRetries: () => 0,
    close: async () => {
      await Promise.all(fleets.map((f) => f.run.stop().catch(() => undefined)));
    },
  };
}

function lastStats(r: PionRun): PionStats | undefined {
  for (let i = r.lines.length - 1; i >= 0; i--) if (r.lines[i]!.type === "stats") return r.lines[i] as PionStats;
  return undefined;
}

/** Per viewer of a pion-client run: connected now (its last state event), and why it failed. */
function viewerStates(run: PionRun, n: number): { connected: boolean; error?: string }[] {
  const st = Array.from({ length: n }, () => ({ connected: false, error: undefined as string | undefined }));
  for (const l of run.lines) {
    if (l.type !== "event") continue;
    const e = l as PionEvent;
    const v = st[e.id];
    if (!v) continue;
    if (e.event === "connected") v.connected = true;
    else if (e.event === "disconnected" || e.event === "closed") v.connected = false;
    else if (e.event === "failed") {
      v.connected = false;
      v.error = e.error ?? "peer connection failed";
    }
  }
  return st;
}

/** Waits until every viewer of `run` received its first frame or failed, at most `seconds`. */
async function waitJoined(run: PionRun, n: number, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && run.proc.exitCode === null) {
    const done = new Set(run.lines.filter((l) => l.type === "event" && ((l as PionEvent).event === "first-frame" || (l as PionEvent).event === "failed"))
      .map((l) => (l as PionEvent).id));
    if (done.size >= n) return;
    await Bun.sleep(100);
  }
}

const whep = `http://${HOST}:${apiPort}/rtc/v1/whep/?app=live&stream=bench`;
const pion = CLIENT === "pion" ? pionLoad() : null;
const load: Load = pion ?? weriftLoad();
// ---------------------------------------------------------------------------------------------------------
// Steps

interface Window {
  fps: number[];
  kbps: number[];
  aps: number[];
  loss: number[];
}

/** Per-viewer rates between two snaps (viewers added after `s0` start from zero). */
function windowOf(s0: Snap[], s1: Snap[], from = 0, to = s1.length): Window {
  const w: Window = { fps: [], kbps: [], aps: [], loss: [] };
  for (let i = from; i < to; i++) {
    const b = s1[i]!;
    const a = s0[i] ?? { t: b.t, frames: 0, bytes: 0, audioPkts: 0, unique: 0, expected: 0, connected: false };
    const dt = b.t - a.t;
    w.fps.push(dt > 0 ? (b.frames - a.frames) / dt : 0);
    w.kbps.push(dt > 0 ? ((b.bytes - a.bytes) * 8) / dt / 1000 : 0);
    w.aps.push(dt > 0 ? (b.audioPkts - a.audioPkts) / dt : 0);
    const exp = b.expected - a.expected;
    w.loss.push(exp > 0 ? Math.max(0, 1 - (b.unique - a.unique) / exp) * 100 : 0);
  }
  for (const k of ["fps", "kbps", "aps", "loss"] as const) w[k].sort((x, y) => x - y);
  return w;
}

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
  /** pion: drops in the viewers' namespace (the server's are in udpRcvbufErrors). */
  viewersUdpRcvbufErrors: number | null;
  loadavg: number;
  errors: number;
}
const results: StepResult[] = [];
const pct = (xs: number[], f: number) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? 0;
const rssBefore = rssMb(PID);
let stopReason = "";

/** Server CPU (% of a core), RSS peak/end and load CPU over `seconds` from now. */
async function measure(seconds: number): Promise<{ serverCpu: number; rssPeak: number; rssEnd: number; loadCpu: number; secs: number }> {
  const cpu0 = cpuTicks(PID);
  const self0 = load.cpuTicks();
  let rssPeak = rssMb(PID);
  const t0 = performance.now();
  const endAt = t0 + seconds * 1000;
  while (performance.now() < endAt) {
    await Bun.sleep(Math.min(250, Math.max(1, endAt - performance.now())));
    rssPeak = Math.max(rssPeak, rssMb(PID));
  }
  const secs = (performance.now() - t0) / 1000;
  return { serverCpu: ((cpuTicks(PID) - cpu0) / TICK / secs) * 100, rssPeak, rssEnd: rssMb(PID),
    loadCpu: ((load.cpuTicks() - self0) / TICK / secs) * 100, secs };
}

if (BURST) await burst();
else await rampSteps();

async function rampSteps(): Promise<void> {
  for (const n of STEPS) {
    if (server.exitCode !== null || pub.exitCode !== null) {
      stopReason = server.exitCode !== null ? `server exited (${server.exitCode})` : `publisher exited (${pub.exitCode})`;
      break;
    }
    const tJoin = performance.now();
    if (n > load.count()) await load.add(n - load.count());
    const joinSeconds = (performance.now() - tJoin) / 1000;
    await Bun.sleep(WARMUP * 1000);

    const s0 = load.snap();
    const udp0 = udpCounters();
    const nsUdp0 = netns ? udpCounters(netns) : null;
    // pion's counters arrive once a second: wait for the lines after the window before reading them
    const m = await measure(SECONDS);
    if (CLIENT === "pion") await Bun.sleep(1100);
    const s1 = load.snap();
    const udp1 = udpCounters();
    const nsUdp1 = netns ? udpCounters(netns) : null;
    const loadavg = readFileSync("/proc/loadavg", "utf8").split(" ")[0]!;
    const { fps, kbps, aps, loss } = windowOf(s0, s1);
    const r: StepResult = {
      viewers: s1.length,
      connected: s1.filter((v) => v.connected).length,
      full: fps.filter((x) => x >= 0.9 * FPS).length,
      fps: { min: +fps[0]!.toFixed(1), median: +pct(fps, 0.5).toFixed(1), max: +fps[fps.length - 1]!.toFixed(1) },
      kbps: { min: Math.round(kbps[0]!), median: Math.round(pct(kbps, 0.5)), max: Math.round(kbps[kbps.length - 1]!) },
      audioPps: { min: +aps[0]!.toFixed(1), median: +pct(aps, 0.5).toFixed(1) },
      lossPct: { median: +pct(loss, 0.5).toFixed(2), max: +loss[loss.length - 1]!.toFixed(2) },
      aggregateMbps: +(kbps.reduce((x, y) => x + y, 0) / 1000).toFixed(1),
      serverCpu: +m.serverCpu.toFixed(1),
      serverRssPeak: +m.rssPeak.toFixed(1),
      serverRssEnd: +m.rssEnd.toFixed(1),
      loadCpu: +m.loadCpu.toFixed(1),
      joinSeconds: +joinSeconds.toFixed(1),
      ufragRetries: load.ufragRetries(),
      udpRcvbufErrors: udp1.rcvbufErrors - udp0.rcvbufErrors,
      udpSndbufErrors: udp1.sndbufErrors - udp0.sndbufErrors,
      viewersUdpRcvbufErrors: nsUdp0 && nsUdp1 ? nsUdp1.rcvbufErrors - nsUdp0.rcvbufErrors : null,
      loadavg: Number(loadavg),
      errors: s1.filter((v) => v.error).length,
    };
    results.push(r);
    console.log(`  ${String(r.viewers).padStart(4)} viewers (${r.connected} connected, joined in ${r.joinSeconds} s, ufrag retries so far ${r.ufragRetries}): ` +
      `full rate ${r.full}/${r.viewers}, fps min/med/max ${r.fps.min}/${r.fps.median}/${r.fps.max}, ` +
      `kbps ${r.kbps.min}/${r.kbps.median}/${r.kbps.max} (${r.aggregateMbps} Mbps), audio pkt/s min/med ${r.audioPps.min}/${r.audioPps.median}, ` +
      `video loss med/max ${r.lossPct.median}/${r.lossPct.max}%, server CPU ${r.serverCpu}%, ` +
      `RSS ${r.serverRssPeak}/${r.serverRssEnd} MB, load CPU ${r.loadCpu}%; system UDP rcvbuf drops ${r.udpRcvbufErrors}, ` +
      `sndbuf ${r.udpSndbufErrors}${r.viewersUdpRcvbufErrors === null ? "" : `, viewers' namespace rcvbuf drops ${r.viewersUdpRcvbufErrors}`}, loadavg ${r.loadavg}`);
    for (const e of new Set(s1.filter((v) => v.error).map((v) => v.error))) console.log(`    error: ${e}`);
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
  console.log("RESULT " + JSON.stringify({ client: CLIENT, server: srcNote, steps: results, stopReason, rssBeforeMb: +rssBefore.toFixed(1),
    cpuPerViewer: +perViewer.toFixed(4), viewersPerCore: perCore }));
}

// ---------------------------------------------------------------------------------------------------------
// Join burst (pion): BASE playing, BURST join at once

async function burst(): Promise<void> {
  const full = 0.9 * FPS;
  const spreadOf = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return { min: +(s[0] ?? 0).toFixed(1), p50: +pct(s, 0.5).toFixed(1), p99: +pct(s, 0.99).toFixed(1), max: +(s[s.length - 1] ?? 0).toFixed(1) };
  };
  // 1. the base viewers, paced, then their rate over 5 s
  const tBase = performance.now();
  if (BASE > 0) await load.add(BASE);
  const baseJoinS = (performance.now() - tBase) / 1000;
  await Bun.sleep(WARMUP * 1000);
  const b0 = load.snap();
  const before = await measure(5);
  await Bun.sleep(1100);
  const b1 = load.snap();
  const wBefore = windowOf(b0, b1);
  console.log(`  base: ${BASE} viewers joined in ${baseJoinS.toFixed(1)} s; over 5 s: ${wBefore.fps.filter((x) => x >= full).length}/${BASE} at full rate, ` +
    `fps min/med ${(wBefore.fps[0] ?? 0).toFixed(1)}/${pct(wBefore.fps, 0.5).toFixed(1)}, server CPU ${before.serverCpu.toFixed(1)}%, RSS ${before.rssEnd.toFixed(1)} MB`);

  // 2. the burst: one pion-client with every offer at once; watch until all receive (or 60 s)
  const s0 = load.snap();
  const udp0 = udpCounters();
  const nsUdp0 = udpCounters(netns);
  const cpu0 = cpuTicks(PID);
  const load0 = load.cpuTicks();
  let rssPeak = rssMb(PID);
  const t0 = performance.now();
  const run = pion!.start(BURST, { join: 0, rate: 0 });
  const deadline = t0 + 60_000;
  let joined = 0;
  let failed = 0;
  while (performance.now() < deadline && run.proc.exitCode === null) {
    await Bun.sleep(250);
    rssPeak = Math.max(rssPeak, rssMb(PID));
    const ev = run.lines.filter((l): l is PionEvent => l.type === "event");
    joined = new Set(ev.filter((e) => e.event === "first-frame").map((e) => e.id)).size;
    failed = new Set(ev.filter((e) => e.event === "failed").map((e) => e.id)).size;
    if (joined + failed >= BURST) break;
  }
  const joinWatchS = (performance.now() - t0) / 1000;
  // the burst's window for the base viewers and the server: until all joined, 5 s at least
  while (performance.now() < t0 + 5000) {
    await Bun.sleep(250);
    rssPeak = Math.max(rssPeak, rssMb(PID));
  }
  const burstSecs = (performance.now() - t0) / 1000;
  const burstCpu = ((cpuTicks(PID) - cpu0) / TICK / burstSecs) * 100;
  const burstLoadCpu = ((load.cpuTicks() - load0) / TICK / burstSecs) * 100;
  await Bun.sleep(1100); // the base client's line covering the end of the burst
  const s1 = load.snap();
  const wBurst = windowOf(s0, s1, 0, BASE);
  const firsts = run.lines.filter((l): l is PionEvent => l.type === "event" && (l as PionEvent).event === "first-frame");
  const joins = firsts.map((e) => e.joinMs ?? 0);
  const allReceivingS = joined >= BURST ? Math.max(...firsts.map((e) => e.t)) : NaN;
  // the worst second for the base viewers: the lowest per-interval fps of the base client's lines in the burst
  const baseLines = BASE > 0 ? pion!.fleets[0]!.run.lines.filter((l): l is PionStats => l.type === "stats") : [];
  const during = baseLines.filter((l) => l.t > (s0[0]?.t ?? 0) && l.t <= (s1[0]?.t ?? 0));
  const worst = during.length ? Math.min(...during.map((l) => l.fps.min)) : NaN;

  // 3. everyone, after the burst, over --seconds
  await Bun.sleep(WARMUP * 1000);
  const a0 = load.snap();
  const after = await measure(SECONDS);
  await Bun.sleep(1100);
  const a1 = load.snap();
  const wAfterBase = windowOf(a0, a1, 0, BASE);
  const wAfterBurst = windowOf(a0, a1, BASE, BASE + BURST);
  const udp1 = udpCounters();
  const nsUdp1 = udpCounters(netns);
  const summary = await run.stop().catch(() => null);
  const loadavg = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  const res = {
    client: CLIENT, server: srcNote, base: BASE, burst: BURST,
    baseBefore: { full: wBefore.fps.filter((x) => x >= full).length, fps: spreadOf(wBefore.fps), serverCpu: +before.serverCpu.toFixed(1) },
    burstWindowS: +burstSecs.toFixed(1), joinWatchS: +joinWatchS.toFixed(1),
    allReceivingS: Number.isNaN(allReceivingS) ? null : +allReceivingS.toFixed(2),
    joined, failedJoins: BURST - joined, failReasons: summary?.failReasons ?? null,
    joinMs: spreadOf(joins),
    baseDuringBurst: { full: wBurst.fps.filter((x) => x >= full).length, fps: spreadOf(wBurst.fps), worstSecondMinFps: worst },
    after: {
      base: { full: wAfterBase.fps.filter((x) => x >= full).length, fps: spreadOf(wAfterBase.fps) },
      burst: { full: wAfterBurst.fps.filter((x) => x >= full).length, fps: spreadOf(wAfterBurst.fps), lossMedPct: +pct(wAfterBurst.loss, 0.5).toFixed(2) },
      serverCpu: +after.serverCpu.toFixed(1), loadCpu: +after.loadCpu.toFixed(1),
    },
    serverCpuDuringBurst: +burstCpu.toFixed(1), loadCpuDuringBurst: +burstLoadCpu.toFixed(1),
    serverRssBeforeMb: +before.rssEnd.toFixed(1), serverRssPeakMb: +Math.max(rssPeak, after.rssPeak).toFixed(1), serverRssEndMb: +after.rssEnd.toFixed(1),
    udpRcvbufErrors: udp1.rcvbufErrors - udp0.rcvbufErrors, viewersUdpRcvbufErrors: nsUdp1.rcvbufErrors - nsUdp0.rcvbufErrors, loadavg,
  };
  console.log(`  burst: ${BURST} viewers at once onto ${BASE}: ${joined} receiving, ${BURST - joined} failed joins` +
    `${summary && Object.keys(summary.failReasons).length ? ` (pion-client's own count, 15 s join timeout: ${JSON.stringify(summary.failReasons)})` : ""}; all receiving after ${res.allReceivingS ?? "—"} s (watched ${res.joinWatchS} s); ` +
    `join ms p50/p99/max ${res.joinMs.p50}/${res.joinMs.p99}/${res.joinMs.max}; over the burst's first ${res.burstWindowS} s server CPU ` +
    `${res.serverCpuDuringBurst}%, load CPU ${res.loadCpuDuringBurst}%; RSS peak ${res.serverRssPeakMb} MB`);
  console.log(`  base during the burst (${res.burstWindowS} s): ${res.baseDuringBurst.full}/${BASE} at full rate, fps min/med ${res.baseDuringBurst.fps.min}/${res.baseDuringBurst.fps.p50}, ` +
    `worst 1 s min ${worst}`);
  console.log(`  after the burst (${SECONDS} s): base ${res.after.base.full}/${BASE} at full rate (fps min ${res.after.base.fps.min}), ` +
    `burst ${res.after.burst.full}/${BURST} (fps min/med ${res.after.burst.fps.min}/${res.after.burst.fps.p50}), server CPU ${res.after.serverCpu}%, ` +
    `load CPU ${res.after.loadCpu}%, RSS end ${res.serverRssEndMb} MB; UDP rcvbuf drops from the burst on: ` +
    `server side ${res.udpRcvbufErrors}, viewers' namespace ${res.viewersUdpRcvbufErrors}; loadavg ${loadavg}`);
  console.log("\n| base | burst | all receiving s | joined | failed | join p50/p99/max ms | base full during | base worst 1 s fps | server CPU % during | RSS before/peak MB | after: base/burst full |");
  console.log("|------|-------|-----------------|--------|--------|---------------------|------------------|--------------------|---------------------|--------------------|------------------------|");
  console.log(`| ${BASE} | ${BURST} | ${res.allReceivingS ?? "—"} | ${joined} | ${BURST - joined} | ${res.joinMs.p50}/${res.joinMs.p99}/${res.joinMs.max} | ` +
    `${res.baseDuringBurst.full}/${BASE} | ${worst} | ${res.serverCpuDuringBurst} | ${res.serverRssBeforeMb}/${res.serverRssPeakMb} | ` +
    `${res.after.base.full}/${BASE}, ${res.after.burst.full}/${BURST} |`);
  console.log("RESULT " + JSON.stringify(res));
}

await load.close();
if (a.prof && server.exitCode === null) {
  // a graceful stop writes the profiles
  const exited = new Promise<void>((r) => server.once("exit", () => r()));
  server.kill("SIGTERM");
  await Promise.race([exited, Bun.sleep(15000)]);
  console.log(`profiles in ${resolve(a.prof)}`);
}
cleanup();
process.exit(0);
