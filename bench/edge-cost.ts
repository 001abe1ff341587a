/**
 * What an edge costs its origin: the origin's CPU and RSS with N RTMP players on it, then with N edges pulling
 * the same stream (each edge with players of its own). An edge should cost the origin what one player costs.
 *
 *   bun bench/edge-cost.ts [--n 10] [--seconds 20] [--edge-players 2] [--clip FILE]
 *
 * One origin (bun main.ts), one publisher (bench/publish-loop.ts, its own process, the 1 Mbps test clip in real
 * time). Row "players": N RTMP players (our RtmpClient, counting bytes) on the origin. Row "edges": N edge servers
 * (`cluster { mode remote; origin <origin>; }`), each with --edge-players players, so the origin serves N
 * upstreams. The origin's CPU is read from /proc over the window; the edges' and players' CPU is not counted.
 */
import { parseArgs } from "node:util";
import { DEFAULT_CLIP } from "./clip.ts";
import { cpuTicks, rssMb, TICK } from "./proc.ts";
import { type BenchServer, startServer, countingPlayer, startPublisher } from "./server.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "10" },
    seconds: { type: "string", default: "20" },
    "edge-players": { type: "string", default: "2" },
    clip: { type: "string", default: DEFAULT_CLIP },
  },
});
const n = Math.min(100, Math.max(1, Number(values.n) || 10));
const seconds = Math.min(300, Math.max(5, Number(values.seconds) || 20));
const edgePlayers = Math.min(50, Math.max(1, Number(values["edge-players"]) || 2));

interface Row {
  name: string;
  cpuPct: number;
  rssMb: number;
  /** Bytes each player got per second, lowest and highest: all of them must be at the stream's rate. */
  minKbps: number;
  maxKbps: number;
}

async function window(origin: BenchServer, players: { bytes: () => number }[]): Promise<Omit<Row, "name">> {
  const b0 = players.map((p) => p.bytes());
  const c0 = cpuTicks(origin.pid);
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const c1 = cpuTicks(origin.pid);
  const dt = (performance.now() - t0) / 1000;
  const kbps = players.map((p, i) => ((p.bytes() - b0[i]!) * 8) / 1000 / dt);
  return {
    cpuPct: (((c1 - c0) / TICK) / dt) * 100,
    rssMb: rssMb(origin.pid),
    minKbps: Math.min(...kbps),
    maxKbps: Math.max(...kbps),
  };
}

const rows: Row[] = [];
const origin = await startServer();
const stream = `rtmp://127.0.0.1:${origin.rtmpPort}/live/cost`;
const pub = await startPublisher(stream, values.clip!, seconds * 3 + 60);
try {
  await Bun.sleep(2000);
  console.log(`origin pid ${origin.pid}, ${n} players / ${n} edges (${edgePlayers} players each), ${seconds} s windows`);

  // Baseline: the publisher alone.
  rows.push({ name: "publisher only", ...(await window(origin, [])) });

  // N players on the origin.
  const direct = await Promise.all(Array.from({ length: n }, () => countingPlayer(stream)));
  await Bun.sleep(2000);
  rows.push({ name: `${n} players`, ...(await window(origin, direct)) });
  await Promise.all(direct.map((p) => p.close()));
  await Bun.sleep(2000);

  // N edges, each pulling once, with players of their own.
  const edgeConf = `vhost __defaultVhost__ {\n  cluster {\n    mode remote;\n    origin 127.0.0.1:${origin.rtmpPort};\n  }\n}\n`;
  const edges: BenchServer[] = [];
  const onEdges: { bytes: () => number; close: () => Promise<void> }[] = [];
  try {
    for (let i = 0; i < n; i++) edges.push(await startServer({}, "/dev/null", edgeConf));
    for (const e of edges) {
      for (let j = 0; j < edgePlayers; j++) onEdges.push(await countingPlayer(`rtmp://127.0.0.1:${e.rtmpPort}/live/cost`));
    }
    await Bun.sleep(3000);
    const api = await (await fetch(`http://127.0.0.1:${origin.apiPort}/api/v1/clients/?count=1000`)).json() as { clients: { type: string }[] };
    const byType: Record<string, number> = {};
    for (const c of api.clients) byType[c.type] = (byType[c.type] ?? 0) + 1;
    console.log(`origin's clients with ${n} edges: ${JSON.stringify(byType)}`);
    rows.push({ name: `${n} edges (x${edgePlayers} players)`, ...(await window(origin, onEdges)) });
  } finally {
    await Promise.all(onEdges.map((p) => p.close()));
    await Promise.all(edges.map((e) => e.stop()));
  }
} finally {
  pub.kill("SIGTERM");
  await origin.stop();
}

console.log(`origin CPU (% of one core) and RSS, ${seconds} s windows:`);
for (const r of rows) {
  const rate = r.name === "publisher only" ? "" : `  player rate ${r.minKbps.toFixed(0)}–${r.maxKbps.toFixed(0)} kbps`;
  console.log(`  ${r.name.padEnd(26)} CPU ${r.cpuPct.toFixed(2).padStart(6)}%  RSS ${r.rssMb.toFixed(0).padStart(4)} MB${rate}`);
}
const [base, players, edges] = rows;
if (base && players && edges) {
  console.log(`per player: ${((players.cpuPct - base.cpuPct) / n).toFixed(3)}% of a core; per edge: ${((edges.cpuPct - base.cpuPct) / n).toFixed(3)}%`);
}
console.log("RESULT " + JSON.stringify(rows));
process.exit(0);
