/**
 * Added latency of the server: publisher packet in -> player packet out, in one process (one clock).
 *
 *   bun bench/latency.ts [--modes default,min] [--seconds 20] [--players 3] [--clip FILE]
 *   bun bench/latency.ts --url rtmp://127.0.0.1:1935/live/lat      # against a server already running
 *   bun bench/latency.ts --edge                 # also through an edge: publish to an origin, play on an edge
 *   bun bench/latency.ts --url rtmp://origin/live/lat --play-url rtmp://edge/live/lat
 *
 * Without --url it starts our server itself (bun main.ts on free ports) once per mode:
 *   default  built-in config (mw_latency 350 ms merged writes)
 *   min      SRS_VHOST_MIN_LATENCY=on (flush every packet)
 *   mw0      SRS_VHOST_PLAY_MW_LATENCY=0
 * The publisher (our RtmpClient) sends the clip in real time; every video frame gets an extra NALU
 * appended (4-byte length 9, NAL type 12 filler, u32 sequence, u32 magic "SRSB"), which servers forward
 * untouched. Players (our RtmpClient, parsing messages) look for the trailer and record the arrival time.
 * Frames sent before a player started (GOP cache replay) and the first second are not counted.
 * With --edge, each mode runs twice: players on the origin itself, then players on an edge (a second server with
 * `cluster { mode remote; origin <the origin>; }`, same mode env) pulling from that origin; the difference is
 * what one edge adds.
 */
import { parseArgs } from "node:util";
import { RtmpClient } from "../lib/protocols/rtmp/client.ts";
import { MSG_VIDEO } from "../lib/protocols/rtmp/messages.ts";
import { DEFAULT_CLIP, loadClip, loopTags } from "./clip.ts";
import { startServer } from "./server.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "play-url": { type: "string" },
    edge: { type: "boolean", default: false },
    modes: { type: "string", default: "default,min" },
    seconds: { type: "string", default: "20" },
    players: { type: "string", default: "3" },
    clip: { type: "string", default: DEFAULT_CLIP },
  },
});

const MAGIC = 0x53525342; // "SRSB"
const MODES: Record<string, Record<string, string>> = {
  default: {},
  min: { SRS_VHOST_MIN_LATENCY: "on" },
  mw0: { SRS_VHOST_PLAY_MW_LATENCY: "0" },
  nodelay: { SRS_VHOST_MIN_LATENCY: "on", SRS_VHOST_TCP_NODELAY: "on" },
};
const seconds = Math.min(300, Math.max(3, Number(values.seconds) || 20));
const nPlayers = Math.min(50, Math.max(1, Number(values.players) || 3));
const clip = loadClip(values.clip);

function tagged(data: Uint8Array, seq: number): Uint8Array {
  const out = new Uint8Array(data.length + 13);
  out.set(data);
  const v = new DataView(out.buffer, data.length);
  v.setUint32(0, 9);
  v.setUint8(4, 0x0c);
  v.setUint32(5, seq);
  v.setUint32(9, MAGIC);
  return out;
}

function trailerSeq(p: Uint8Array): number | undefined {
  if (p.length < 18) return undefined;
  const v = new DataView(p.buffer, p.byteOffset + p.length - 13, 13);
  if (v.getUint32(0) !== 9 || v.getUint8(4) !== 0x0c || v.getUint32(9) !== MAGIC) return undefined;
  return v.getUint32(5);
}

interface Stats {
  n: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  min: number;
  lost: number;
}

async function measure(url: string, playUrl = url): Promise<Stats> {
  const pub = await RtmpClient.connect(url);
  await pub.publish();
  const sentAt = new Map<number, number>();
  const got = new Set<number>();
  const samples: number[] = [];
  let expected = 0;
  const players: RtmpClient[] = [];
  let countFrom = Infinity;
  let stopSending = false;

  const sender = (async () => {
    const t0 = performance.now();
    let seq = 0;
    for (const tag of loopTags(clip)) {
      const due = t0 + tag.timestamp;
      if (stopSending || due - t0 > (seconds + 3) * 1000) break;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      let data = tag.data;
      // Tag H.264 frames (AVCPacketType 1) only, not the sequence header.
      if (tag.kind === "video" && (data[0]! & 0x0f) === 7 && data[1] === 1) {
        data = tagged(data, ++seq);
        const now = performance.now();
        sentAt.set(seq, now);
        if (now >= countFrom) expected += nPlayers;
      }
      pub.sendMedia(tag.kind, tag.timestamp, data);
    }
  })();

  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < nPlayers; i++) {
    const c = await RtmpClient.connect(playUrl);
    c.onMessage = (m) => {
      if (m.type !== MSG_VIDEO) return;
      const now = performance.now();
      const seq = trailerSeq(m.payload);
      if (seq === undefined) return;
      const t = sentAt.get(seq);
      if (t !== undefined && t >= countFrom) {
        samples.push(now - t);
        got.add(seq);
      }
    };
    await c.play();
    players.push(c);
  }
  countFrom = performance.now() + 1000;
  await new Promise((r) => setTimeout(r, seconds * 1000 + 1000));
  stopSending = true;
  await sender;
  await new Promise((r) => setTimeout(r, 800)); // let the last batch arrive
  for (const c of players) await c.close();
  await pub.close();
  samples.sort((a, b) => a - b);
  if (process.env.LAT_DEBUG) for (const [s, t] of sentAt) if (t >= countFrom && !got.has(s)) console.log(`missing seq ${s} sent at +${(t - countFrom).toFixed(0)} ms`);
  const q = (f: number) => samples[Math.min(samples.length - 1, Math.floor(f * samples.length))] ?? NaN;
  return {
    n: samples.length,
    median: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    min: samples[0] ?? NaN,
    max: samples[samples.length - 1] ?? NaN,
    lost: Math.max(0, expected - samples.length),
  };
}

function line(name: string, s: Stats): string {
  return `${name.padEnd(10)} frames ${String(s.n).padStart(5)}  median ${s.median.toFixed(2).padStart(7)} ms  ` +
    `p90 ${s.p90.toFixed(2).padStart(7)} ms  p99 ${s.p99.toFixed(2).padStart(7)} ms  ` +
    `min ${s.min.toFixed(2)} max ${s.max.toFixed(2)} ms  missing ${s.lost}`;
}

const results: Array<[string, Stats]> = [];
const edgeConfig = (originRtmp: number) =>
  `vhost __defaultVhost__ {\n  cluster {\n    mode remote;\n    origin 127.0.0.1:${originRtmp};\n  }\n}\n`;
if (values.url) {
  results.push(["external", await measure(values.url, values["play-url"] ?? values.url)]);
} else {
  for (const mode of values.modes!.split(",")) {
    const env = MODES[mode];
    if (!env) throw new Error(`unknown mode ${mode} (${Object.keys(MODES).join(", ")})`);
    const srv = await startServer(env);
    try {
      console.log(`mode ${mode}: server pid ${srv.pid} on rtmp ${srv.rtmpPort} ${JSON.stringify(env)}`);
      const s = await measure(`rtmp://127.0.0.1:${srv.rtmpPort}/live/lat`);
      console.log("  " + line(mode, s));
      results.push([mode, s]);
      if (values.edge) {
        const edge = await startServer(env, "/dev/null", edgeConfig(srv.rtmpPort));
        try {
          console.log(`mode ${mode} through an edge: edge pid ${edge.pid} on rtmp ${edge.rtmpPort}, origin rtmp ${srv.rtmpPort}`);
          const e = await measure(`rtmp://127.0.0.1:${srv.rtmpPort}/live/lat2`, `rtmp://127.0.0.1:${edge.rtmpPort}/live/lat2`);
          console.log("  " + line(`${mode}+edge`, e));
          results.push([`${mode}+edge`, e]);
        } finally {
          await edge.stop();
        }
      }
    } finally {
      await srv.stop();
    }
  }
}
console.log(`latency (publisher send -> player receive), ${nPlayers} player(s), ${seconds} s:`);
for (const [name, s] of results) console.log("  " + line(name, s));
console.log("RESULT " + JSON.stringify(Object.fromEntries(results)));
process.exit(0);
