/**
 * Event-loop delay of the server's main thread with N streams bridged AAC → Opus (the audio bridge of
 * lib/services/audio-bridge/), against the same process with no bridge at work.
 *
 *   bun bench/audio-loop-delay.ts [--streams 20] [--seconds 15] [--worker | --inline]
 *   deno run -A bench/audio-loop-delay.ts --streams 20
 *
 * In one process, as the server runs them: N stream hubs, each publishing the test clip's AAC in real time
 * (a frame every 23.2 ms, pushed from a 10 ms timer as sockets would deliver it), each with an AAC → Opus bridge
 * and one WebRTC viewer wanting Opus (hub.wantAudio), so every bridge transcodes. Phases: the hubs publish
 * with no viewer (the bridges idle: the baseline, hub work only); then with a viewer on every stream, the
 * transcoding in the bridge's worker; then the same transcoding in-line on the event loop, as the bridge did
 * before it moved to a worker (`--worker` / `--inline`: only that one).
 * Measured on the main thread, per phase:
 *  - monitorEventLoopDelay (node:perf_hooks, 1 ms resolution): mean, p50, p99, max;
 *  - a 5 ms setInterval probe (what RTMP/SRT timers see): how late each tick fired, mean, p99, max;
 *  - CPU as % of one core: the main thread's alone (Linux /proc) and the process's (all threads, the worker's
 *    included), and the Opus packets that came back (≈ 50/s per stream).
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type HubSubscriber, type PublisherInfo, StreamHub } from "../lib/hub/stream-hub.ts";
import { silentLog } from "../lib/log/logger.ts";
import { AacToOpus } from "../lib/media/audio/transcoder.ts";
import type { MediaPacket } from "../lib/media/packet.ts";
import { AudioBridge } from "../lib/services/audio-bridge/bridge.ts";
import { TranscoderPool } from "../lib/services/audio-bridge/pool.ts";
import { clipAudio } from "../tests/unit/audio/util.ts";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const STREAMS = arg("streams", 20);
const SECONDS = arg("seconds", 15);
const FRAME_MS = (1024 * 1000) / 44100;

const { asc, frames } = clipAudio("clip.flv");
const pool = new TranscoderPool(silentLog());
const PUB: PublisherInfo = { clientId: "bench", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };

/**
 * The bridge as it was before it moved to a worker (up to commit 0b7457c, lib/hub/audio-bridge.ts): the same
 * transcoder run in-line on the event loop, its output published at once. For a side-by-side run on one machine.
 */
class InlineBridge implements HubSubscriber {
  private tx = new AacToOpus({ bitrate: 48000 });
  constructor(private hub: StreamHub) {
    hub.attach(this, false);
  }
  private started = false;
  onPacket(p: MediaPacket): void {
    if (p.kind !== "audio" || p.derived || p.codec !== "aac" || this.hub.wanted("opus") === 0) return;
    if (!this.started && !p.config && this.hub.audioConfig) this.run({ ...this.hub.audioConfig, dts: p.dts, pts: p.dts });
    this.started = true;
    this.run(p);
  }
  private run(p: MediaPacket): void {
    for (const q of this.tx.push(p)) this.hub.publishDerived(q, this);
  }
  onUnpublish(): void {
    this.tx.close();
    this.hub.detach(this);
  }
}

type Mode = "worker" | "inline";

interface Stream {
  hub: StreamHub;
  next: number;
  opus: number;
}

function openStream(i: number, mode: Mode): Stream {
  const hub = new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: `s${i}` }, {
    gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "full",
  }, silentLog(), `bench${i}`);
  hub.startPublish(PUB);
  if (mode === "worker") new AudioBridge(hub, { direction: "aac->opus", bitrate: 48000 }, pool).start();
  else new InlineBridge(hub);
  const s: Stream = { hub, next: 0, opus: 0 };
  const counter: HubSubscriber = {
    onPacket: (p) => {
      if (p.codec === "opus" && !p.config) s.opus++;
    },
    onUnpublish: () => {},
  };
  hub.attach(counter, false);
  hub.publish({ kind: "audio", codec: "aac", dts: 0, pts: 0, keyframe: false, config: true, data: asc });
  return s;
}

/** CPU time (ms) of the main thread alone (Linux: /proc/self/task/<pid>/stat utime + stime, 10 ms ticks). */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // fields 14 and 15, in USER_HZ (100 on Linux)
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

async function phase(label: string, viewers: boolean, mode: Mode): Promise<string> {
  const streams = Array.from({ length: STREAMS }, (_, i) => openStream(i, mode));
  if (viewers) for (const s of streams) s.hub.wantAudio("opus", +1);
  const start = performance.now();
  // each stream starts at its own offset inside a frame, as independent publishers would
  streams.forEach((s, i) => (s.next = (i * FRAME_MS) / STREAMS));
  const feeder = setInterval(() => {
    const t = performance.now() - start;
    for (const s of streams) {
      while (s.next <= t) {
        const f = frames[Math.floor(s.next / FRAME_MS) % frames.length]!;
        const dts = Math.round(s.next);
        const p: MediaPacket = { ...f, dts, pts: dts };
        s.hub.publish(p);
        s.next += FRAME_MS;
      }
    }
  }, 10);
  await new Promise((r) => setTimeout(r, 1000)); // warm-up: JIT, wasm instantiation, worker start
  const h = monitorEventLoopDelay({ resolution: 1 });
  const late: number[] = [];
  let expected = performance.now() + 5;
  const probe = setInterval(() => {
    const now = performance.now();
    late.push(Math.max(0, now - expected));
    expected = now + 5;
  }, 5);
  const opus0 = streams.reduce((n, s) => n + s.opus, 0);
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpuMs();
  const t0 = performance.now();
  h.enable();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  h.disable();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const m1 = mainThreadCpuMs();
  const main = m0 !== undefined && m1 !== undefined ? `${(((m1 - m0) / wall) * 100).toFixed(1)}` : "n/a";
  clearInterval(probe);
  clearInterval(feeder);
  const opus = streams.reduce((n, s) => n + s.opus, 0) - opus0;
  for (const s of streams) s.hub.stopPublish(PUB);
  await new Promise((r) => setTimeout(r, 200));
  late.sort((a, b) => a - b);
  const mean = late.reduce((a, b) => a + b, 0) / (late.length || 1);
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  return `| ${label} | ${ms(h.mean)} / ${ms(h.percentile(50))} / ${ms(h.percentile(99))} / ${ms(h.max)} | ` +
    `${mean.toFixed(2)} / ${percentile(late, 0.99).toFixed(2)} / ${percentile(late, 1).toFixed(2)} | ` +
    `${main} | ${(((c.user + c.system) / 1000 / wall) * 100).toFixed(1)} | ${((opus / (wall / 1000)) / STREAMS).toFixed(1)} |`;
}

const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `bun ${(globalThis as { Bun?: { version: string } }).Bun?.version ?? "?"}`;
console.log(`${runtime}, ${STREAMS} streams of AAC 44.1 kHz stereo, ${SECONDS} s per phase`);
console.log("| phase | loop delay ms mean / p50 / p99 / max | 5 ms timer late ms mean / p99 / max | main thread CPU % | process CPU % | Opus pkts/s per stream |");
console.log("|---|---|---|---|---|---|");
const modes = (process.argv.includes("--inline") ? ["inline"] : process.argv.includes("--worker") ? ["worker"] : ["worker", "inline"]) as Mode[];
console.log(await phase(`${STREAMS} streams, bridges idle`, false, "worker"));
for (const m of modes) {
  console.log(await phase(`${STREAMS} streams bridged AAC→Opus, ${m === "worker" ? "in the worker" : "in-line (before)"}`, true, m));
}
pool.close();
process.exit(0);
