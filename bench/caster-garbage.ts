/**
 * The mpegts_over_udp caster under a flood of bad datagrams: the server's RSS before and after, while a real
 * sender (ffmpeg, MPEG-TS over UDP) publishes. The flood (N datagrams from one socket: another source than the
 * sender) mixes random bytes, truncated TS packets and TS-shaped random packets (7 x 188 bytes with sync bytes).
 * Prints RSS (VmRSS) before, right after and 5 s after the flood, the flood's datagrams per second, and the video
 * frames ffmpeg decodes from the stream in 3 s afterwards (the stream still plays).
 *
 *   bun bench/caster-garbage.ts [N=200000]
 */
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { freePort, waitPort } from "./server.ts";
import { clip } from "../tests/helpers/media.ts";

const N = Number(process.argv[2] ?? 200000);
const rss = (pid: number) => (Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024).toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const [rtmp, udp] = [await freePort(), await freePort()];
const cwd = mkdtempSync("/tmp/srs-ts-bench-cwd.");
writeFileSync(`${cwd}/srs.conf`, `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console; pid ./srs.pid;
stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:${rtmp}/live/udp; listen 127.0.0.1:${udp}; }
vhost __defaultVhost__ { }
`);
const server = spawn(process.execPath, [new URL("../main.ts", import.meta.url).pathname, "-c", `${cwd}/srs.conf`], { cwd, stdio: "ignore" });
const sender = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"), "-c", "copy", "-f", "mpegts",
  `udp://127.0.0.1:${udp}?pkt_size=1316`], { stdio: "ignore" });
try {
  await waitPort(rtmp);
  await sleep(4000);
  console.log(`rss before flood: ${rss(server.pid!)} MB`);
  const sock = createSocket("udp4");
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const kind = i % 3;
    const d = new Uint8Array(kind === 0 ? 1 + (i % 1500) : kind === 1 ? 100 + (i % 80) : 1316);
    crypto.getRandomValues(d);
    if (kind !== 0) for (let k = 0; k < d.length; k += 188) d[k] = 0x47;
    await new Promise<void>((r) => sock.send(d, udp, "127.0.0.1", () => r()));
  }
  const secs = (performance.now() - t0) / 1000;
  sock.close();
  console.log(`flood: ${N} datagrams in ${secs.toFixed(1)} s (${Math.round(N / secs)}/s)`);
  console.log(`rss right after: ${rss(server.pid!)} MB`);
  await sleep(5000);
  console.log(`rss 5 s later: ${rss(server.pid!)} MB`);
  const play = spawn("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "error", "-i", `rtmp://127.0.0.1:${rtmp}/live/udp`, "-t", "3", "-map", "0:v:0",
    "-f", "null", "-progress", `${cwd}/p.txt`, "-"], { stdio: "ignore" });
  await new Promise((r) => play.once("exit", r));
  const frames = [...readFileSync(`${cwd}/p.txt`, "utf8").matchAll(/^frame=(\d+)/gm)].map((m) => Number(m[1])).pop() ?? 0;
  console.log(`after the flood: ${frames} video frames decoded in 3 s of the stream`);
} finally {
  sender.kill("SIGKILL");
  server.kill("SIGTERM");
}
