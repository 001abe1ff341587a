/**
 * An origin ("backend") as the proxy knows it, from its heartbeat (lib/services/cluster/heartbeat.ts says what an
 * srs-ts origin sends; SRS 7 sends the same). Stored in Redis as JSON with SRS's field names, so SRS's proxy and
 * ours read each other's entries.
 */
export interface Backend {
  ip: string;
  device_id?: string;
  server_id: string;
  service_id: string;
  pid: string;
  rtmp?: string[];
  http?: string[];
  api?: string[];
  srt?: string[];
  rtc?: string[];
  /** When the last heartbeat came (ISO time). */
  update_at: string;
}

/** SRS's id of a backend: server-service-pid (a restart makes a new one). */
export function backendId(b: Backend): string {
  return `${b.server_id}-${b.service_id}-${b.pid}`;
}

export function describeBackend(b: Backend): string {
  return `${b.device_id ? b.device_id + " " : ""}${b.ip} rtmp=${(b.rtmp ?? []).join(",")} id=${backendId(b)}`;
}

export class RegisterError extends Error {}

/** Largest heartbeat body read (the summaries are a few KB). */
export const MAX_REGISTER_BODY = 64 * 1024;
/** Most endpoints kept per protocol, and the longest string field. */
const MAX_LIST = 16;
const MAX_FIELD = 256;

function str(o: Record<string, unknown>, k: string, required: boolean): string {
  const v = o[k];
  if (v === undefined || v === null || v === "") {
    if (required) throw new RegisterError(`empty ${k}`);
    return "";
  }
  // SRS sends pid as a string; a number is accepted there too.
  if (k === "pid" && typeof v === "number" && Number.isInteger(v) && v > 0) return String(v);
  if (typeof v !== "string") throw new RegisterError(`${k} must be a string, got ${Array.isArray(v) ? "array" : typeof v}`);
  if (v.length > MAX_FIELD) throw new RegisterError(`${k} is longer than ${MAX_FIELD} characters`);
  return v;
}

function list(o: Record<string, unknown>, k: string): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new RegisterError(`${k} must be an array of endpoints, got ${typeof v}`);
  if (v.length > MAX_LIST) throw new RegisterError(`${k} has ${v.length} endpoints (at most ${MAX_LIST})`);
  return v.map((e, i) => {
    if (typeof e === "number" && Number.isInteger(e)) return String(e);
    if (typeof e !== "string" || e.length > MAX_FIELD) throw new RegisterError(`${k}[${i}] must be an endpoint string`);
    if (endpointPort(e) < 0) throw new RegisterError(`${k}[${i}]=${JSON.stringify(e)} is not an endpoint (port, ip:port or udp://ip:port)`);
    return e;
  });
}

/**
 * Parses a heartbeat body (POST /api/v1/srs/register) into a Backend; throws RegisterError naming the bad field.
 * As SRS's proxy: ip, server, service, pid and a non-empty rtmp list are required.
 */
export function parseRegister(body: string, now = new Date()): Backend {
  let o: unknown;
  try {
    o = JSON.parse(body);
  } catch (e) {
    throw new RegisterError(`body is not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new RegisterError("body must be a JSON object");
  const r = o as Record<string, unknown>;
  const ip = str(r, "ip", true);
  const b: Backend = {
    ip,
    server_id: str(r, "server", true),
    service_id: str(r, "service", true),
    pid: str(r, "pid", true),
    update_at: now.toISOString(),
  };
  const device = str(r, "device_id", false);
  if (device) b.device_id = device;
  for (const k of ["rtmp", "http", "api", "srt", "rtc"] as const) {
    const l = list(r, k);
    if (l && l.length) b[k] = l;
  }
  if (!b.rtmp?.length) throw new RegisterError("empty rtmp");
  return b;
}

/**
 * The port of an endpoint as origins announce them: `1935`, `0.0.0.0:1935`, `[::1]:1935`, `udp://0.0.0.0:8000`,
 * `tcp://0.0.0.0:8000`; -1 when it is none of these.
 */
export function endpointPort(ep: string): number {
  const m = /^(?:(?:udp|tcp):\/\/)?(?:(?:\[[0-9a-fA-F:.]*\]|[^:/\[\]]*):)?(\d{1,5})$/.exec(ep.trim());
  if (!m) return -1;
  const p = Number(m[1]);
  return p > 0 && p <= 65535 ? p : -1;
}

/** The first endpoint's port of a protocol list (tcp:// entries skipped for `udp` lists), or -1. */
export function firstPort(eps: string[] | undefined, onlyUdp = false): number {
  for (const e of eps ?? []) {
    if (onlyUdp && e.startsWith("tcp://")) continue;
    const p = endpointPort(e);
    if (p > 0) return p;
  }
  return -1;
}
