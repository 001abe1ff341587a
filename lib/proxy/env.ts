/**
 * The proxy's settings, as SRS 7's proxy reads them (proxy/env.go): PROXY_* environment variables, with a `.env`
 * file in the working directory filling those not set (KEY=VALUE lines, `#` comments; the environment wins).
 * A value is a port (`11935`) or `[ip]:port`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ProxyEnv {
  rtmpServer: string;
  httpServer: string;
  httpApi: string;
  webrtcServer: string;
  srtServer: string;
  systemApi: string;
  /** Seconds: SIGTERM ends the relays after at most this long (PROXY_FORCE_QUIT_TIMEOUT, Go duration). */
  forceQuitTimeoutMs: number;
  loadBalancerType: "memory" | "redis";
  redis: { host: string; port: number; password: string; db: number };
  /** PROXY_DEFAULT_BACKEND_*: a backend known without a heartbeat (SRS: for debugging). */
  defaultBackend?: { ip: string; rtmp: string; http: string; api: string; rtc: string; srt: string };
}

export class ProxyEnvError extends Error {}

const DEFAULTS: Record<string, string> = {
  PROXY_FORCE_QUIT_TIMEOUT: "30s",
  PROXY_GRACE_QUIT_TIMEOUT: "20s",
  PROXY_HTTP_API: "11985",
  PROXY_HTTP_SERVER: "18080",
  PROXY_RTMP_SERVER: "11935",
  PROXY_WEBRTC_SERVER: "18000",
  PROXY_SRT_SERVER: "20080",
  PROXY_SYSTEM_API: "12025",
  PROXY_LOAD_BALANCER_TYPE: "memory",
  PROXY_REDIS_HOST: "127.0.0.1",
  PROXY_REDIS_PORT: "6379",
  PROXY_REDIS_PASSWORD: "",
  PROXY_REDIS_DB: "0",
  PROXY_DEFAULT_BACKEND_ENABLED: "off",
  PROXY_DEFAULT_BACKEND_IP: "127.0.0.1",
  PROXY_DEFAULT_BACKEND_RTMP: "1935",
  PROXY_DEFAULT_BACKEND_API: "1985",
  PROXY_DEFAULT_BACKEND_RTC: "8000",
  PROXY_DEFAULT_BACKEND_SRT: "10080",
};

/** KEY=VALUE lines of a .env file (comments and blank lines skipped). */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.replace(/\r\n/g, "\n").split("\n")) {
    if (line.trim().startsWith("#")) continue;
    const i = line.indexOf("=");
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** A Go duration as SRS's env uses (`30s`, `500ms`, `1m`), in ms. */
function durationMs(name: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new ProxyEnvError(`${name}=${v}: not a duration (e.g. 30s, 500ms)`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as "ms" | "s" | "m" | "h"];
}

/** Reads the settings from `env` (then `cwd`/.env, then SRS's defaults); throws ProxyEnvError on a bad value. */
export function readProxyEnv(env: Record<string, string | undefined>, cwd = process.cwd()): ProxyEnv {
  const file = join(cwd, ".env");
  const fromFile = existsSync(file) ? parseDotEnv(readFileSync(file, "utf8")) : {};
  const get = (k: string): string => env[k] || fromFile[k] || DEFAULTS[k] || "";
  const lb = get("PROXY_LOAD_BALANCER_TYPE");
  if (lb !== "memory" && lb !== "redis") {
    throw new ProxyEnvError(`PROXY_LOAD_BALANCER_TYPE=${lb}: must be memory or redis`);
  }
  const num = (k: string, max: number): number => {
    const v = get(k);
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > max) throw new ProxyEnvError(`${k}=${v}: not a number in 0..${max}`);
    return n;
  };
  const out: ProxyEnv = {
    rtmpServer: get("PROXY_RTMP_SERVER"),
    httpServer: get("PROXY_HTTP_SERVER"),
    httpApi: get("PROXY_HTTP_API"),
    webrtcServer: get("PROXY_WEBRTC_SERVER"),
    srtServer: get("PROXY_SRT_SERVER"),
    systemApi: get("PROXY_SYSTEM_API"),
    forceQuitTimeoutMs: durationMs("PROXY_FORCE_QUIT_TIMEOUT", get("PROXY_FORCE_QUIT_TIMEOUT")),
    loadBalancerType: lb,
    redis: {
      host: get("PROXY_REDIS_HOST"),
      port: num("PROXY_REDIS_PORT", 65535),
      password: get("PROXY_REDIS_PASSWORD"),
      db: num("PROXY_REDIS_DB", 1 << 16),
    },
  };
  if (get("PROXY_DEFAULT_BACKEND_ENABLED") === "on") {
    out.defaultBackend = {
      ip: get("PROXY_DEFAULT_BACKEND_IP"),
      rtmp: get("PROXY_DEFAULT_BACKEND_RTMP"),
      http: get("PROXY_DEFAULT_BACKEND_HTTP"),
      api: get("PROXY_DEFAULT_BACKEND_API"),
      rtc: get("PROXY_DEFAULT_BACKEND_RTC"),
      srt: get("PROXY_DEFAULT_BACKEND_SRT"),
    };
  }
  return out;
}
