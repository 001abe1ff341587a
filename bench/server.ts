/**
 * Starts our server (bun main.ts) on free 127.0.0.1 ports for a benchmark, with extra env (e.g.
 * SRS_VHOST_MIN_LATENCY=on), and waits until its RTMP port accepts connections.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { createSocket } from "node:dgram";
import { RtmpClient } from "../lib/protocols/rtmp/client.ts";

export interface BenchServer {
  pid: number;
  rtmpPort: number;
  httpPort: number;
  apiPort: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

export async function waitPort(port: number, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        res(true);
      });
      s.once("error", () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not listening after ${timeoutMs} ms`);
}

export async function startServer(env: Record<string, string> = {}, logFile = "/dev/null", config?: string): Promise<BenchServer> {
  const [rtmpPort, httpPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = openSync(logFile, "a");
  // A temp cwd: the server writes objs/ (server id, HLS) relative to it.
  const cwd = mkdtempSync("/tmp/srs-ts-bench-cwd.");
  // A config file (e.g. an edge's cluster block) in the temp cwd; the env below still sets the ports.
  if (config !== undefined) writeFileSync(`${cwd}/srs.conf`, config);
  const child = spawn(process.execPath, config === undefined ? [main] : [main, "-c", `${cwd}/srs.conf`], {
    cwd,
    stdio: ["ignore", out, out],
    env: {
      ...process.env,
      SRS_LISTEN: `127.0.0.1:${rtmpPort}`,
      SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${httpPort}`,
      SRS_HTTP_API_LISTEN: `127.0.0.1:${apiPort}`,
      SRS_RTC_SERVER_ENABLED: "off",
      SRS_SRT_SERVER_ENABLED: "off",
      SRS_PID: `/tmp/srs-ts-bench-${rtmpPort}.pid`,
      SRS_LOG_TANK: "console",
      SRS_DAEMON: "off",
      SRS_VHOST_HLS_ENABLED: "off",
      ...env,
    },
  });
  try {
    await waitPort(rtmpPort);
    // `workers N` (SRS_WORKERS): the first worker answers first; give the others time to bind too.
    if (Number(env.SRS_WORKERS) > 1) await new Promise((r) => setTimeout(r, 2500));
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  return {
    pid: child.pid!,
    rtmpPort,
    httpPort,
    apiPort,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A free UDP port on 127.0.0.1 (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * bench/publish-loop.ts publishing `clip` to `url` in real time as its own process (so the load tools' CPU does not
 * disturb it); resolves once the server accepted the publish. Kill it with SIGTERM.
 */
export async function startPublisher(url: string, clip: string, seconds: number): Promise<ChildProcess> {
  const pub = spawn(process.execPath, [new URL("./publish-loop.ts", import.meta.url).pathname, "--url", url,
    "--clip", clip, "--seconds", String(seconds)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((ok, fail) => {
    pub.stdout!.on("data", (d: Buffer) => d.toString().includes("PUBLISHING") && ok());
    pub.once("exit", (code) => fail(new Error(`publisher exited with ${code}`)));
  });
  return pub;
}

/** An RTMP player (our RtmpClient) that only counts the bytes of the messages it gets. */
export async function countingPlayer(url: string): Promise<{ bytes: () => number; close: () => Promise<void> }> {
  const c = await RtmpClient.connect(url, { timeoutMs: 10000 });
  let bytes = 0;
  c.onMessage = (m) => (bytes += m.payload.byteLength);
  await c.play();
  return { bytes: () => bytes, close: () => c.close() };
}
