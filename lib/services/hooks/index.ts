/**
 * HTTP callbacks (`vhost { http_hooks { enabled on; on_connect url…; on_publish url…; … } }`) as SRS sends them.
 *
 * Every hook POSTs a JSON body to each configured URL in order (`Content-Type: application/json`). The common
 * fields are `server_id, service_id, action, client_id, ip, vhost, app`; the rest depends on the action (see the
 * payload builders below, whose key order is SRS's). A hook ALLOWS only when the answer has HTTP status 200 or
 * 201 and a body that is literally `0` or a JSON object whose `code` is the integer 0; anything else (another
 * status, an empty or non-JSON body, `{"code":403}`, a network error, no answer within HOOK_TIMEOUT_MS) refuses.
 *
 * Gates (on_connect, on_publish, on_play) refuse the client at the first URL that refuses. Notifications
 * (on_close, on_unpublish, on_stop, on_dvr, on_hls) are sent to every URL; failures are logged and ignored.
 * Only the client waiting on a hook waits: nothing else is blocked.
 *
 * API for other services (HLS, DVR):
 *  - `hookOnDvr(ctx, { client, key, file })`: after a DVR file is closed (POST on_dvr).
 *  - `hookOnHls(ctx, { client, key, duration, file, url, m3u8, m3u8Url, seqNo })`: after an HLS segment is
 *    written (POST on_hls).
 *  - `hookOnHlsNotify(ctx, { client, key, tsUrl })`: after an HLS segment is written, GET each `on_hls_notify`
 *    URL template with `[server_id] [service_id] [vhost] [app] [stream] [ts_url] [param]` substituted, reading
 *    at most `hls_nb_notify` bytes; the answer is ignored.
 * Each returns a promise that never rejects (a notification), and does nothing when hooks are disabled.
 */
import type { ClientInfo } from "../../clients.ts";
import type { HttpHooksConfig } from "../../config/config.ts";
import type { Log } from "../../log/logger.ts";
import type { StreamKey } from "../../media/packet.ts";
import { streamUrl } from "../../media/packet.ts";
import type { ServerView } from "../server-view.ts";
import { SERVER_SIGNATURE } from "../../version.ts";

/** How long one hook URL may take to answer; a gate that times out refuses, a notification is logged. */
export const HOOK_TIMEOUT_MS = 5000;

export type HookAction =
  | "on_connect" | "on_close" | "on_publish" | "on_unpublish" | "on_play" | "on_stop" | "on_dvr" | "on_hls";

export type HookPayload = Record<string, string | number>;

export type HookResult = { ok: true } | { ok: false; reason: string };

/** SRS's allow rule on one hook answer. */
export function hookAllows(status: number, body: string): HookResult {
  if (status !== 200 && status !== 201) return { ok: false, reason: `http status ${status}` };
  if (body.length === 0) return { ok: false, reason: "empty response" };
  if (body === "0") return { ok: true };
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return { ok: false, reason: `invalid response (not JSON): ${body.slice(0, 64)}` };
  }
  if (j === null || typeof j !== "object" || Array.isArray(j)) return { ok: false, reason: `response is not an object: ${body.slice(0, 64)}` };
  const code = (j as { code?: unknown }).code;
  if (typeof code !== "number" || !Number.isInteger(code)) return { ok: false, reason: `response has no integer code: ${body.slice(0, 64)}` };
  if (code !== 0) return { ok: false, reason: `response code ${code}` };
  return { ok: true };
}

/** POSTs one payload to one URL and applies the allow rule. Never throws. */
export async function postHook(url: string, payload: HookPayload, timeoutMs = HOOK_TIMEOUT_MS): Promise<HookResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": SERVER_SIGNATURE, Connection: "Keep-Alive" },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const name = (e as Error).name;
    const why = name === "TimeoutError" || name === "AbortError" ? `no answer in ${timeoutMs}ms` : (e as Error).message;
    return { ok: false, reason: why };
  }
  let body: string;
  try {
    body = await withTimeout(res.text(), timeoutMs);
  } catch (e) {
    return { ok: false, reason: `read response: ${(e as Error).message}` };
  }
  return hookAllows(res.status, body);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout ${ms}ms`)), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    }, (e: unknown) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** A gate: every URL in order must allow. */
export async function gateHooks(log: Log, action: HookAction, urls: readonly string[], payload: HookPayload): Promise<HookResult> {
  for (const url of urls) {
    const t0 = Date.now();
    const r = await postHook(url, payload);
    if (!r.ok) {
      log.warn(`http hook ${action} ${url} refused client ${payload.client_id}: ${r.reason} (${Date.now() - t0}ms)`);
      return { ok: false, reason: `${action} hook ${url}: ${r.reason}` };
    }
    log.info(`http hook ${action} ${url} ok (${Date.now() - t0}ms)`);
  }
  return { ok: true };
}

/** A notification: every URL gets it; failures are logged and ignored. */
export async function notifyHooks(log: Log, action: HookAction, urls: readonly string[], payload: HookPayload): Promise<void> {
  for (const url of urls) {
    const r = await postHook(url, payload);
    if (!r.ok) log.warn(`http hook ${action} ${url} failed (ignored): ${r.reason}`);
    else log.info(`http hook ${action} ${url} ok`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Payloads (key order as SRS's).

interface Ids {
  serverId: string;
  serviceId: string;
}

function common(ids: Ids, action: HookAction, c: Pick<ClientInfo, "id" | "ip">, key: Pick<StreamKey, "vhost" | "app">): HookPayload {
  return { server_id: ids.serverId, service_id: ids.serviceId, action, client_id: c.id, ip: c.ip, vhost: key.vhost, app: key.app };
}

export function connectPayload(ids: Ids, c: ClientInfo, key: StreamKey): HookPayload {
  return {
    ...common(ids, "on_connect", c, key), stream: key.stream, param: c.param ?? "", tcUrl: c.tcUrl ?? "", pageUrl: c.pageUrl ?? "",
  };
}

export function closePayload(ids: Ids, c: ClientInfo, key: Pick<StreamKey, "vhost" | "app">): HookPayload {
  return { ...common(ids, "on_close", c, key), send_bytes: c.bytesOut(), recv_bytes: c.bytesIn() };
}

/** on_publish, on_unpublish, on_stop. `streamId` is the stat stream id when the stream exists. */
export function streamPayload(
  ids: Ids, action: "on_publish" | "on_unpublish" | "on_stop", c: ClientInfo, key: StreamKey, streamId?: string,
): HookPayload {
  const p: HookPayload = {
    ...common(ids, action, c, key), tcUrl: c.tcUrl ?? "", stream: key.stream, param: c.param ?? "", stream_url: streamUrl(key),
  };
  if (streamId) p.stream_id = streamId;
  return p;
}

export function playPayload(ids: Ids, c: ClientInfo, key: StreamKey, streamId?: string): HookPayload {
  const p: HookPayload = {
    ...common(ids, "on_play", c, key), stream: key.stream, tcUrl: c.tcUrl ?? "", param: c.param ?? "", pageUrl: c.pageUrl ?? "",
    stream_url: streamUrl(key),
  };
  if (streamId) p.stream_id = streamId;
  return p;
}

export interface DvrEvent {
  client: ClientInfo;
  key: StreamKey;
  /** The DVR file path as written (e.g. "./objs/nginx/html/live/livestream.1795299967412.flv"). */
  file: string;
}

export function dvrPayload(ids: Ids, e: DvrEvent, streamId?: string): HookPayload {
  const c = e.client;
  const p: HookPayload = {
    ...common(ids, "on_dvr", c, e.key), tcUrl: c.tcUrl ?? "", stream: e.key.stream, param: c.param ?? "", cwd: process.cwd(),
    file: e.file, stream_url: streamUrl(e.key),
  };
  if (streamId) p.stream_id = streamId;
  return p;
}

export interface HlsEvent {
  client: ClientInfo;
  key: StreamKey;
  /** Segment duration in seconds. */
  duration: number;
  /** Segment file path (e.g. "./objs/nginx/html/live/livestream-0.ts"). */
  file: string;
  /** Segment URL relative to the HTTP root (e.g. "live/livestream-0.ts"). */
  url: string;
  /** Playlist file path and URL. */
  m3u8: string;
  m3u8Url: string;
  seqNo: number;
}

export function hlsPayload(ids: Ids, e: HlsEvent, streamId?: string): HookPayload {
  const c = e.client;
  const p: HookPayload = {
    ...common(ids, "on_hls", c, e.key), tcUrl: c.tcUrl ?? "", stream: e.key.stream, param: c.param ?? "",
    duration: Math.round(e.duration * 100) / 100, cwd: process.cwd(), file: e.file, url: e.url, m3u8: e.m3u8,
    m3u8_url: e.m3u8Url, seq_no: e.seqNo, stream_url: streamUrl(e.key),
  };
  if (streamId) p.stream_id = streamId;
  return p;
}

export interface HlsNotifyEvent {
  client: ClientInfo;
  key: StreamKey;
  /** The segment URL, as in on_hls `url` (e.g. "live/livestream-0.ts"). */
  tsUrl: string;
}

/** What the hooks need of the server: the vhost's hooks, the stream's id, the server's ids, the log. */
export type HookPorts = Pick<ServerView, "config" | "hubs" | "log" | "serverId" | "serviceId">;

/** Substitutes SRS's on_hls_notify template variables. */
export function hlsNotifyUrl(template: string, ids: Ids, e: HlsNotifyEvent): string {
  const vars: Record<string, string> = {
    "[server_id]": ids.serverId,
    "[service_id]": ids.serviceId,
    "[vhost]": e.key.vhost,
    "[app]": e.key.app,
    "[stream]": e.key.stream,
    "[ts_url]": e.tsUrl,
    "[param]": e.client.param ?? "",
  };
  return template.replace(/\[(server_id|service_id|vhost|app|stream|ts_url|param)\]/g, (m) => vars[m] ?? m);
}

// ---------------------------------------------------------------------------------------------------------------
// The API other services call.

function hooksOf(ctx: HookPorts, vhost: string): HttpHooksConfig | undefined {
  const h = ctx.config.vhost(vhost)?.httpHooks;
  return h && h.enabled ? h : undefined;
}

function streamIdOf(ctx: HookPorts, key: StreamKey): string | undefined {
  return ctx.hubs.find(key)?.id;
}

/** POST on_dvr to every configured URL. */
export async function hookOnDvr(ctx: HookPorts, e: DvrEvent): Promise<void> {
  const h = hooksOf(ctx, e.key.vhost);
  if (!h || h.onDvr.length === 0) return;
  await notifyHooks(ctx.log, "on_dvr", h.onDvr, dvrPayload(ctx, e, streamIdOf(ctx, e.key)));
}

/** POST on_hls to every configured URL. */
export async function hookOnHls(ctx: HookPorts, e: HlsEvent): Promise<void> {
  const h = hooksOf(ctx, e.key.vhost);
  if (!h || h.onHls.length === 0) return;
  await notifyHooks(ctx.log, "on_hls", h.onHls, hlsPayload(ctx, e, streamIdOf(ctx, e.key)));
}

/** GET every on_hls_notify URL template, reading at most hls_nb_notify bytes; the answer is ignored. */
export async function hookOnHlsNotify(ctx: HookPorts, e: HlsNotifyEvent): Promise<void> {
  const h = hooksOf(ctx, e.key.vhost);
  if (!h || h.onHlsNotify.length === 0) return;
  const max = ctx.config.vhost(e.key.vhost)?.hls.nbNotify ?? 64;
  for (const tpl of h.onHlsNotify) {
    const url = hlsNotifyUrl(tpl, ctx, e);
    try {
      const res = await fetch(url, { headers: { "User-Agent": SERVER_SIGNATURE }, signal: AbortSignal.timeout(HOOK_TIMEOUT_MS) });
      let read = 0;
      const reader = res.body?.getReader();
      if (reader) {
        while (read < max) {
          const { done, value } = await reader.read();
          if (done) break;
          read += value.byteLength;
        }
        await reader.cancel().catch(() => {});
      }
      ctx.log.info(`http hook on_hls_notify ${url}: status ${res.status}, read ${Math.min(read, max)} bytes`);
    } catch (e2) {
      ctx.log.warn(`http hook on_hls_notify ${url} failed (ignored): ${(e2 as Error).message}`);
    }
  }
}
