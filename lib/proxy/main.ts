/**
 * `srs-ts proxy`: SRS 7's proxy (its proxy/ directory) as a mode of srs-ts. Configured by PROXY_* variables (and a
 * .env file, lib/proxy/env.ts); origins register with their heartbeat on the system API; RTMP, HTTP-FLV/TS, HLS,
 * WebRTC (WHIP/WHEP) and SRT clients are routed to the origin that holds their stream, or a random one for a new stream.
 * With PROXY_LOAD_BALANCER_TYPE=redis several proxies share that state.
 */
import { FAST_QUIT_BUDGET_MS } from "../lifecycle.ts";
import { Log, LogSink } from "../log/logger.ts";
import { parseEndpoint } from "../net/endpoint.ts";
import { type HttpListener, serveHttp } from "../runtime/http-serve.ts";
import { VERSION } from "../version.ts";
import { type ProxyEnv, readProxyEnv } from "./env.ts";
import { HttpStreamProxy, text } from "./http.ts";
import type { LoadBalancer } from "./lb.ts";
import { MemoryLoadBalancer } from "./lb-memory.ts";
import { RedisLoadBalancer } from "./lb-redis.ts";
import { RtcProxy } from "./rtc.ts";
import { RtmpProxy } from "./rtmp.ts";
import { SrtProxy } from "./srt.ts";
import { SystemApi } from "./system-api.ts";

export const PROXY_HELP = `srs-ts proxy — SRS 7's proxy: routes RTMP, HTTP-FLV/TS, HLS, WHIP/WHEP and SRT to origins that register with
their heartbeat (heartbeat { enabled on; url http://PROXY:12025/api/v1/srs/register; ports on; }).
Usage: srs-ts proxy        (configured by the environment, or a .env file in the working directory)
  PROXY_RTMP_SERVER=11935  PROXY_HTTP_SERVER=18080  PROXY_HTTP_API=11985  PROXY_WEBRTC_SERVER=18000 (UDP)  PROXY_SRT_SERVER=20080 (UDP)
  PROXY_SYSTEM_API=12025 (register)  PROXY_LOAD_BALANCER_TYPE=memory|redis
  PROXY_REDIS_HOST=127.0.0.1  PROXY_REDIS_PORT=6379  PROXY_REDIS_PASSWORD=  PROXY_REDIS_DB=0
  PROXY_DEFAULT_BACKEND_ENABLED=off (on: PROXY_DEFAULT_BACKEND_IP/RTMP/HTTP/API/RTC/SRT, an origin without heartbeat)
  Values are a port or ip:port. SIGTERM/SIGINT quit.`;

export interface RunningProxy {
  ports: { rtmp: number; http: number; api: number; system: number; rtc: number; srt: number };
  lb: LoadBalancer;
  stop(): Promise<void>;
}

function host(value: string): { hostname: string; port: number } {
  const e = parseEndpoint(value);
  return { hostname: e.host, port: e.port };
}

export async function startProxy(env: ProxyEnv, log: Log): Promise<RunningProxy> {
  let lb: LoadBalancer;
  if (env.loadBalancerType === "redis") {
    const r = new RedisLoadBalancer({ ...env.redis, timeoutMs: 1000, retryMs: 1000 }, log);
    await r.init();
    lb = r;
  } else {
    lb = new MemoryLoadBalancer();
  }
  log.trace(`proxy: srs-ts/${VERSION} proxy, load balancer ${env.loadBalancerType}` +
    (env.loadBalancerType === "redis" ? ` (redis ${env.redis.host}:${env.redis.port}/${env.redis.db})` : ""));
  const stops: (() => void | Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    await lb.close();
  };
  try {
    if (env.defaultBackend) {
      const d = env.defaultBackend;
      const b = {
        ip: d.ip, server_id: `default-${process.pid}`, service_id: "default", pid: String(process.pid),
        rtmp: [d.rtmp], http: d.http ? [d.http] : undefined, api: d.api ? [d.api] : undefined,
        rtc: d.rtc ? [d.rtc] : undefined, srt: d.srt ? [d.srt] : undefined, update_at: new Date().toISOString(),
      };
      const keep = async () => await lb.update({ ...b, update_at: new Date().toISOString() });
      await keep();
      const t = setInterval(() => void keep(), 30_000);
      stops.push(() => clearInterval(t));
      log.trace(`proxy: default backend ${d.ip} rtmp=${d.rtmp}`);
    }
    const system = new SystemApi(lb, log);
    const sys = await serveHttp({ ...host(env.systemApi), fetch: (r) => system.handle(r) });
    stops.push(() => sys.close());
    const rtc = new RtcProxy(lb, log);
    await rtc.listen(env.webrtcServer);
    stops.push(() => rtc.close());
    const api = await serveHttp({
      ...host(env.httpApi),
      fetch: async (r) => {
        const p = new URL(r.url).pathname;
        if (p.startsWith("/rtc/v1/whip/") || p.startsWith("/rtc/v1/whep/")) return await rtc.signal(r);
        if (p.startsWith("/api/v1/versions")) return await system.handle(r);
        return text(404, `proxy: no API ${p}`);
      },
    });
    stops.push(() => api.close());
    const srt = new SrtProxy(lb, log);
    await srt.listen(env.srtServer);
    stops.push(() => srt.close());
    const streams = new HttpStreamProxy(lb, log);
    const http: HttpListener = await serveHttp({
      ...host(env.httpServer),
      fetch: (r) => new URL(r.url).pathname.startsWith("/api/v1/versions") ? system.handle(r) : streams.handle(r),
    });
    stops.push(() => http.close());
    const rtmp = new RtmpProxy({ lb, log });
    await rtmp.listen(env.rtmpServer);
    stops.push(() => rtmp.close());
    log.trace(`proxy started: rtmp=${rtmp.port} http=${http.port} api=${api.port} system=${sys.port} rtc=${rtc.port}/udp srt=${srt.port}/udp`);
    return { ports: { rtmp: rtmp.port, http: http.port, api: api.port, system: sys.port, rtc: rtc.port, srt: srt.port }, lb, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The `srs-ts proxy` command: runs until SIGTERM/SIGINT. */
export async function proxyMain(args: string[]): Promise<void> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(PROXY_HELP + "\n");
    return;
  }
  if (args.length > 0) {
    process.stderr.write(`srs-ts proxy: unknown option "${args[0]}" (the proxy is configured by PROXY_* variables; see srs proxy -h)\n`);
    process.exit(2);
  }
  const log = new Log(new LogSink({ tank: "console", level: "trace" }), "proxy000");
  let running: RunningProxy;
  try {
    running = await startProxy(readProxyEnv(process.env), log);
  } catch (e) {
    process.stderr.write(`srs-ts proxy: ${(e as Error).message}\n`);
    process.exit(1);
  }
  let quitting = false;
  const quit = (sig: string) => {
    if (quitting) process.exit(1);
    quitting = true;
    log.trace(`proxy: ${sig}, quitting`);
    const force = setTimeout(() => process.exit(0), FAST_QUIT_BUDGET_MS);
    void running.stop().finally(() => {
      clearTimeout(force);
      log.trace(`proxy stopped`);
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => quit("SIGTERM"));
  process.on("SIGINT", () => quit("SIGINT"));
}
