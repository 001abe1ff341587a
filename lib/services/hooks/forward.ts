/**
 * The forward backend callback (`vhost { forward { enabled on; backend http://…; } }`), as SRS:
 * when a stream is published, POST
 *   {"action":"on_forward","server_id","service_id","client_id","ip","vhost","app","tcUrl","stream","param"}
 * to the backend, whose answer names the RTMP URLs to forward to: `{"code":0,"data":{"urls":["rtmp://…"]}}`.
 * The answer passes the hooks' allow rule first (status 200/201, JSON, integer code 0); an empty `urls` list
 * means "do not forward this stream". Never throws: failures come back as `{ ok: false, reason }`.
 */
import type { ClientInfo } from "../../clients.ts";
import type { StreamKey } from "../../media/packet.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import { HOOK_TIMEOUT_MS, hookAllows, type HookPayload } from "./index.ts";

export function forwardPayload(ids: { serverId: string; serviceId: string }, c: ClientInfo, key: StreamKey): HookPayload {
  return {
    action: "on_forward", server_id: ids.serverId, service_id: ids.serviceId, client_id: c.id, ip: c.ip, vhost: key.vhost,
    app: key.app, tcUrl: c.tcUrl ?? "", stream: key.stream, param: c.param ?? "",
  };
}

export type ForwardBackendResult = { ok: true; urls: string[] } | { ok: false; reason: string };

/** Reads `data.urls` from an allowed backend answer. */
export function parseForwardUrls(body: string): ForwardBackendResult {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return { ok: false, reason: "response is not JSON" };
  }
  const data = (j as { data?: unknown }).data;
  if (data === undefined || data === null) return { ok: true, urls: [] };
  const urls = (data as { urls?: unknown }).urls;
  if (urls === undefined) return { ok: true, urls: [] };
  if (!Array.isArray(urls)) return { ok: false, reason: "data.urls is not an array" };
  const out: string[] = [];
  for (const u of urls) {
    if (typeof u !== "string" || !/^rtmps?:\/\//i.test(u)) return { ok: false, reason: `bad url in data.urls: ${JSON.stringify(u)}` };
    out.push(u);
  }
  return { ok: true, urls: out };
}

/** POSTs on_forward to the backend and returns the URLs it answered. */
export async function hookOnForward(
  ids: { serverId: string; serviceId: string }, backend: string, client: ClientInfo, key: StreamKey, timeoutMs = HOOK_TIMEOUT_MS,
): Promise<ForwardBackendResult> {
  let status: number;
  let body: string;
  try {
    const res = await fetch(backend, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": SERVER_SIGNATURE, Connection: "Keep-Alive" },
      body: JSON.stringify(forwardPayload(ids, client, key)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    body = await res.text();
  } catch (e) {
    const name = (e as Error).name;
    return { ok: false, reason: name === "TimeoutError" || name === "AbortError" ? `no answer in ${timeoutMs}ms` : (e as Error).message };
  }
  const allowed = hookAllows(status, body);
  if (!allowed.ok) return allowed;
  return parseForwardUrls(body);
}
