/**
 * RTSP fan-out next to RTMP's in the same run: one server, one stream published over RTMP (bench/publish-loop.ts,
 * its own process), then N RTSP players over TCP interleaved, then (after they left) N RTMP players; for each
 * phase the server's CPU over the window and the bytes the players got, so the line to read is "CPU per 100 Mbps".
 *
 *   bun bench/rtsp-fanout.ts [--players 500] [--seconds 20] [--warmup 5] [--clip FILE] [--log FILE]
 *
 * RTSP players are plain sockets in this process: DESCRIBE, SETUP of trackID=0 (interleaved 0-1) and trackID=1
 * (2-3) and PLAY in one write, then they only count bytes. RTMP players are our RtmpClient (bench/server.ts's
 * countingPlayer). Server CPU is utime+stime of its process tree (/proc), % of one core. Prints a report and
 * `RESULT {json}`. Figures depend on the machine: compare the two lines of one run, not runs on other machines.
 */
import { connect } from "node:net";
import type { Socket } from "node:net";
import { parseArgs } from "node:util";
import { DEFAULT_CLIP } from "./clip.ts";
import { TICK, treeCpuTicks, treeRssMb } from "./proc.ts";
import { countingPlayer, freePort, startPublisher, startServer, waitPort } from "./server.ts";

const { values } = parseArgs({
  options: {
    players: { type: "string", default: "500" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "5" },
    clip: { type: "string", default: DEFAULT_CLIP },
    log: { type: "string", default: "/dev/null" },
  },
});
const players = Math.max(1, Math.min(5000, Number(values.players)));
const seconds = Math.max(1, Number(values.seconds));
const warmup = Math.max(0, Number(values.warmup));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Phase {
  protocol: string;
  players: number;
  connected: number;
  cpuPct: number;
  mbps: number;
  cpuPer100Mbps: number;
  rssMb: number;
}

async function measure(pid: number, bytes: () => number): Promise<{ cpuPct: number; mbps: number; rss: number }> {
  await sleep(warmup * 1000);
  const c0 = treeCpuTicks(pid);
  const b0 = bytes();
  const t0 = performance.now();
  let rss = 0;
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss = Math.max(rss, treeRssMb(pid));
  }
  const dt = (performance.now() - t0) / 1000;
  const cpuPct = (((treeCpuTicks(pid) - c0) / TICK) / dt) * 100;
  const mbps = ((bytes() - b0) * 8) / dt / 1e6;
  return { cpuPct, mbps, rss };
}

function phase(protocol: string, connected: number, m: { cpuPct: number; mbps: number; rss: number }): Phase {
  return { protocol, players, connected, cpuPct: round(m.cpuPct), mbps: round(m.mbps), cpuPer100Mbps: round(m.mbps > 0 ? (m.cpuPct / m.mbps) * 100 : 0), rssMb: round(m.rss) };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** An RTSP player that only counts bytes once PLAY is sent. */
function rtspPlayer(port: number, path: string): { socket: Socket; bytes: () => number; playing: () => boolean } {
  const url = `rtsp://127.0.0.1:${port}${path}`;
  const socket = connect({ host: "127.0.0.1", port });
  let bytes = 0;
  let text = "";
  let playing = false;
  socket.on("connect", () => {
    socket.write(
      `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n` +
        `SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n` +
        `SETUP ${url}/trackID=1 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n` +
        `PLAY ${url} RTSP/1.0\r\nCSeq: 4\r\n\r\n`,
    );
  });
  socket.on("data", (d: Buffer) => {
    bytes += d.length;
    if (!playing) {
      text += d.toString("latin1");
      if (text.includes("CSeq: 4")) playing = true;
    }
  });
  socket.on("error", () => undefined);
  return { socket, bytes: () => bytes, playing: () => playing };
}

const rtspPort = await freePort();
const srv = await startServer({ SRS_RTSP_SERVER_ENABLED: "on", SRS_RTSP_SERVER_LISTEN: `127.0.0.1:${rtspPort}` }, values.log);
const results: Phase[] = [];
try {
  await waitPort(rtspPort);
  const pub = await startPublisher(`rtmp://127.0.0.1:${srv.rtmpPort}/live/bench`, values.clip!, 3600);
  await sleep(2000);
  try {
    // RTSP phase
    const rp: ReturnType<typeof rtspPlayer>[] = [];
    for (let i = 0; i < players; i++) {
      rp.push(rtspPlayer(rtspPort, "/live/bench"));
      if (i % 50 === 49) await sleep(100);
    }
    await sleep(1000);
    const m = await measure(srv.pid, () => rp.reduce((n, p) => n + p.bytes(), 0));
    results.push(phase("rtsp-tcp", rp.filter((p) => p.playing() && !p.socket.destroyed).length, m));
    for (const p of rp) p.socket.destroy();
    await sleep(2000);
    // RTMP phase
    const mp: Awaited<ReturnType<typeof countingPlayer>>[] = [];
    for (let i = 0; i < players; i++) {
      mp.push(await countingPlayer(`rtmp://127.0.0.1:${srv.rtmpPort}/live/bench`));
    }
    const m2 = await measure(srv.pid, () => mp.reduce((n, p) => n + p.bytes(), 0));
    results.push(phase("rtmp", mp.length, m2));
    await Promise.all(mp.map((p) => p.close()));
  } finally {
    pub.kill("SIGTERM");
  }
} finally {
  await srv.stop();
}
for (const r of results) {
  console.log(`${r.protocol.padEnd(9)} ${r.connected}/${r.players} players  server CPU ${r.cpuPct}% of a core  ` +
    `${r.mbps} Mbps out  => ${r.cpuPer100Mbps}% CPU per 100 Mbps  (RSS peak ${r.rssMb} MB)`);
}
console.log(`RESULT ${JSON.stringify({ players, seconds, results })}`);
process.exit(0);
