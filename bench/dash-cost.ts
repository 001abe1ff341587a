/**
 * What DASH adds to HLS for one stream, two ways:
 *
 *  1. In process, per second of media: clip.flv's packets (10 s, ~1 Mbps H.264 + AAC) 100 times over, best of 3
 *     rounds: HLS TS segmenting (HlsSegmenter + TsContainer, no file IO) and DASH segmenting (DashStream: two
 *     fMP4 muxers, 2 s segments, MPD rendered per segment), without and with its file writes (segments, MPD,
 *     cleanup) into a temp dir.
 *  2. A server process: one publisher (bench/publish-loop.ts, the clip in real time), the server's CPU over
 *     --seconds windows with `hls` alone and with `hls` + `dash` (2 s fragments both), alternating --rounds times.
 *
 *   bun bench/dash-cost.ts [--seconds 20] [--rounds 2] [--skip-server]
 *
 * Target: DASH under 1% of a core more than HLS alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import type { DashConfig } from "../lib/config/config.ts";
import type { StreamHub } from "../lib/hub/stream-hub.ts";
import type { Log } from "../lib/log/logger.ts";
import { DashStream } from "../lib/protocols/dash/service.ts";
import { HlsSegmenter, TsContainer } from "../lib/protocols/hls/segmenter.ts";
import { clipPackets } from "../tests/helpers/clip-packets.ts";
import { DEFAULT_CLIP } from "./clip.ts";
import { best, looped, reportPerMediaSecond } from "./media-cpu.ts";
import { cpuTicks, TICK } from "./proc.ts";
import { startPublisher, startServer } from "./server.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    rounds: { type: "string", default: "2" },
    "skip-server": { type: "boolean", default: false },
  },
});
const seconds = Math.min(300, Math.max(5, Number(values.seconds) || 20));
const rounds = Math.min(10, Math.max(1, Number(values.rounds) || 2));

// ---------------------------------------------------------------------------------------------------------------
// 1. In process

const ROUNDS = 100;
const packets = clipPackets("clip.flv");
const configs = packets.filter((p) => p.config);
const media = packets.filter((p) => !p.config && p.kind !== "data");
const mediaSeconds = ((media[media.length - 1]!.dts - media[0]!.dts) / 1000) * ROUNDS;
const stream = [...configs, ...looped(media, ROUNDS)];

function report(name: string, ms: number, extra = ""): number {
  return reportPerMediaSecond(name, ms, mediaSeconds, extra);
}

const quiet = { trace() {}, info() {}, warn() {}, error() {} } as unknown as Log;

/** A hub stand-in: DashStream only needs its key, name and subscribe(). */
function fakeHub(): StreamHub {
  return {
    key: { vhost: "__defaultVhost__", app: "live", stream: "bench" }, name: "__defaultVhost__/live/bench",
    subscribe: () => ({ dispose() {} }), publisher: undefined,
  } as unknown as StreamHub;
}

const tsMs = best(() => {
  const seg = new HlsSegmenter({ fragment: 2, aofRatio: 2.1, waitKeyframe: true }, new TsContainer(), {
    onOpen() {}, onData() {}, onClose() {},
  });
  for (const p of stream) seg.push(p);
  seg.finish();
});
const hlsUs = report("HLS TS segmenting (mux only)", tsMs);

/**
 * One DASH run over the stream, 10 s of media at a time with the file writes awaited in between (as real time
 * would let them run): the time spent in onPacket (muxing, cutting, MPD) and the whole time with the writes.
 */
async function dashRun(): Promise<{ syncMs: number; totalMs: number; segments: number }> {
  const dir = mkdtempSync("/tmp/srs-ts-bench-dash.");
  const cfg: DashConfig = {
    enabled: true, fragment: 2, updatePeriod: 2, timeshift: 300, path: dir, mpdFile: "[app]/[stream].mpd",
    windowSize: 5, cleanup: true, dispose: 0,
  };
  const s = new DashStream(fakeHub(), cfg, quiet, () => {}, Date.now() - mediaSeconds * 1000);
  const t0 = performance.now();
  let syncMs = 0;
  s.start(cfg);
  const chunk = Math.ceil(stream.length / ROUNDS);
  for (let i = 0; i < stream.length; i += chunk) {
    const c0 = performance.now();
    for (let j = i; j < Math.min(stream.length, i + chunk); j++) s.onPacket(stream[j]!);
    syncMs += performance.now() - c0;
    await s.flushed();
  }
  s.stop();
  await s.flushed();
  const totalMs = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return { syncMs, totalMs, segments: s.segments };
}

let run = { syncMs: Infinity, totalMs: Infinity, segments: 0 };
for (let r = 0; r < 3; r++) {
  const x = await dashRun();
  if (x.totalMs < run.totalMs) run = x;
}
const dashMuxUs = report("DASH segmenting (mux, cut, MPD: time in onPacket)", run.syncMs);
const dashIoUs = report("DASH segmenting with its file writes", run.totalMs, `, ${run.segments} segment pairs`);
console.log(`DASH over HLS, in process: +${(dashMuxUs / 1e4).toFixed(3)}% of a core (mux), +${(dashIoUs / 1e4).toFixed(3)}% with file writes` +
  ` (HLS TS mux alone ${(hlsUs / 1e4).toFixed(3)}%)`);

// ---------------------------------------------------------------------------------------------------------------
// 2. A server process

if (!values["skip-server"]) {
  const HLS = { SRS_VHOST_HLS_ENABLED: "on", SRS_VHOST_HLS_HLS_FRAGMENT: "2", SRS_VHOST_HLS_HLS_PATH: "./html" };
  const DASH = {
    SRS_VHOST_DASH_ENABLED: "on", SRS_VHOST_DASH_DASH_FRAGMENT: "2", SRS_VHOST_DASH_DASH_UPDATE_PERIOD: "2",
    SRS_VHOST_DASH_DASH_PATH: "./html",
  };
  const rows: { name: string; cpu: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, env] of [["HLS", HLS], ["HLS+DASH", { ...HLS, ...DASH }]] as const) {
      const srv = await startServer(env);
      const pub = await startPublisher(`rtmp://127.0.0.1:${srv.rtmpPort}/live/bench`, DEFAULT_CLIP, seconds + 10);
      await new Promise((ok) => setTimeout(ok, 5000)); // first segments, JIT warm
      const c0 = cpuTicks(srv.pid);
      const t0 = performance.now();
      await new Promise((ok) => setTimeout(ok, seconds * 1000));
      const cpu = ((cpuTicks(srv.pid) - c0) / TICK) / ((performance.now() - t0) / 1000) * 100;
      pub.kill("SIGTERM");
      await srv.stop();
      rows.push({ name, cpu });
      console.log(`round ${r + 1} ${name}: server CPU ${cpu.toFixed(2)}% of a core over ${seconds}s`);
    }
  }
  const avg = (n: string) => {
    const xs = rows.filter((x) => x.name === n).map((x) => x.cpu);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  console.log(`server: HLS ${avg("HLS").toFixed(2)}%, HLS+DASH ${avg("HLS+DASH").toFixed(2)}%, ` +
    `DASH adds ${(avg("HLS+DASH") - avg("HLS")).toFixed(2)}% of a core (${rounds} rounds of ${seconds}s; /proc ticks are 10 ms)`);
}
