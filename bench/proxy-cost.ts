/**
 * What the proxy costs: N RTMP players of one stream through `srs-ts proxy` (memory load balancer), against the
 * same N players straight on the origin. Prints the proxy's and the origin's CPU (% of one core) and RSS, and the
 * rate every player gets (all must be at the stream's rate).
 *
 *   bun bench/proxy-cost.ts [--n 20] [--seconds 20] [--clip FILE]
 *
 * One origin (bun main.ts) with a heartbeat to the proxy, one publisher (bench/publish-loop.ts, the 1 Mbps test clip
 * in real time) publishing through the proxy, players (our RtmpClient in this process, counting bytes).
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { DEFAULT_CLIP } from "./clip.ts";
import { cpuTicks, rssMb, TICK } from "./proc.ts";
import { freePort, startServer, waitPort, countingPlayer, startPublisher } from "./server.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "20" },
    seconds: { type: "string", default: "20" },
    clip: { type: "string", default: DEFAULT_CLIP },
  },
});
const n = Math.min(200, Math.max(1, Number(values.n) || 20));
const seconds = Math.min(300, Math.max(5, Number(values.seconds) || 20));

interface Row {
  name: string;
  proxyCpu: number;
  proxyRss: number;
  originCpu: number;
  minKbps: number;
  maxKbps: number;
}

async function window(name: string, proxyPid: number, originPid: number, players: { bytes: () => number }[]): Promise<Row> {
  const b0 = players.map((p) => p.bytes());
  const p0 = cpuTicks(proxyPid);
  const o0 = cpuTicks(originPid);
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const dt = (performance.now() - t0) / 1000;
  const kbps = players.map((p, i) => ((p.bytes() - b0[i]!) * 8) / 1000 / dt);
  return {
    name,
    proxyCpu: (((cpuTicks(proxyPid) - p0) / TICK) / dt) * 100,
    proxyRss: rssMb(proxyPid),
    originCpu: (((cpuTicks(originPid) - o0) / TICK) / dt) * 100,
    minKbps: kbps.length ? Math.min(...kbps) : 0,
    maxKbps: kbps.length ? Math.max(...kbps) : 0,
  };
}

const [prtmp, phttp, papi, psys, prtc, psrt] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
const proxy = spawn(process.execPath, [new URL("../main.ts", import.meta.url).pathname, "proxy"], {
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    PROXY_RTMP_SERVER: `127.0.0.1:${prtmp}`, PROXY_HTTP_SERVER: `127.0.0.1:${phttp}`, PROXY_HTTP_API: `127.0.0.1:${papi}`,
    PROXY_SYSTEM_API: `127.0.0.1:${psys}`, PROXY_WEBRTC_SERVER: `127.0.0.1:${prtc}`, PROXY_SRT_SERVER: `127.0.0.1:${psrt}`,
  },
});
await waitPort(psys);
const origin = await startServer({ SRS_DEVICE_IP: "127.0.0.1" }, "/dev/null",
  `heartbeat { enabled on; interval 1; url http://127.0.0.1:${psys}/api/v1/srs/register; ports on; }\nvhost __defaultVhost__ {}\n`);
const viaProxy = `rtmp://127.0.0.1:${prtmp}/live/cost`;
const direct = `rtmp://127.0.0.1:${origin.rtmpPort}/live/cost`;
const rows: Row[] = [];
await Bun.sleep(2000);
const pub = await startPublisher(viaProxy, values.clip!, seconds * 3 + 60);
try {
  await Bun.sleep(2000);
  console.log(`proxy pid ${proxy.pid}, origin pid ${origin.pid}, ${n} players, ${seconds} s windows`);
  rows.push(await window("publisher via proxy only", proxy.pid!, origin.pid, []));
  const ps = await Promise.all(Array.from({ length: n }, () => countingPlayer(direct)));
  await Bun.sleep(2000);
  rows.push(await window(`${n} players on the origin`, proxy.pid!, origin.pid, ps));
  await Promise.all(ps.map((p) => p.close()));
  const pp = await Promise.all(Array.from({ length: n }, () => countingPlayer(viaProxy)));
  await Bun.sleep(2000);
  rows.push(await window(`${n} players via the proxy`, proxy.pid!, origin.pid, pp));
  await Promise.all(pp.map((p) => p.close()));
} finally {
  pub.kill("SIGTERM");
  await origin.stop();
  proxy.kill("SIGTERM");
}
console.log(`CPU (% of one core), ${seconds} s windows:`);
for (const r of rows) {
  const rate = r.maxKbps ? `  player rate ${r.minKbps.toFixed(0)}–${r.maxKbps.toFixed(0)} kbps` : "";
  console.log(`  ${r.name.padEnd(28)} proxy ${r.proxyCpu.toFixed(2).padStart(6)}% (RSS ${r.proxyRss.toFixed(0)} MB)  origin ${r.originCpu.toFixed(2).padStart(6)}%${rate}`);
}
const [base, , via] = rows;
if (base && via) console.log(`proxy per relayed player: ${((via.proxyCpu - base.proxyCpu) / n).toFixed(3)}% of a core`);
console.log("RESULT " + JSON.stringify(rows));
process.exit(0);
