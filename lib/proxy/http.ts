/**
 * The proxy's HTTP stream server (SRS 7 proxy/http.go): HTTP-FLV and HTTP-TS (`/app/stream.flv|.ts`) are fetched
 * from the stream's origin and streamed through; HLS playlists (`.m3u8`) are fetched from the origin and their
 * segment URLs get `spbhid=<id>` (the HLS session, shared through the load balancer), so a segment request, on any
 * proxy, goes to the origin that made the playlist. The origin's status and headers reach the player; an origin
 * that cannot be reached is a 502, an unknown session a 400, no origin at all a 503.
 */
import type { Log } from "../log/logger.ts";
import { CORS_HEADERS } from "../net/cors.ts";
import { formatEndpoint } from "../net/endpoint.ts";
import { type Backend, describeBackend, firstPort } from "./backend.ts";
import { type HlsSession, type LoadBalancer, NoBackendError } from "./lb.ts";
import { httpStreamUrl } from "./stream-url.ts";
import { readCapped } from "../net/body.ts";

/** Headers of the origin's answer not copied (hop-by-hop, or recomputed by our server). */
const DROP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

/** SRS's CORS headers (the proxy answers every origin, as SRS's proxy does). */
export function corsHeaders(): Headers {
  const h = new Headers();
  for (const [k, v] of CORS_HEADERS) h.set(k, v);
  return h;
}

/** Our CORS headers plus the origin answer's own, less the hop-by-hop and recomputed ones (DROP). */
export function originHeaders(res: Response): Headers {
  const headers = corsHeaders();
  res.headers.forEach((v, k) => {
    if (!DROP.has(k.toLowerCase())) headers.set(k, v);
  });
  return headers;
}

export function text(status: number, body: string): Response {
  const headers = corsHeaders();
  headers.set("Content-Type", "text/plain; charset=utf-8");
  return new Response(body + "\n", { status, headers });
}

function randomId(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 12);
}

export class BodyTooLargeError extends Error {}

/** The body as text, refusing more than `max` bytes (whatever Content-Length says). */
export async function readBounded(req: Request, max: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > max) throw new BodyTooLargeError(`body of ${declared} bytes is larger than ${max}`);
  const body = await readCapped(req.body, max);
  if (body === undefined) throw new BodyTooLargeError(`body larger than ${max} bytes`);
  return body;
}

/** How long an origin may take to answer with its headers (the body, a live stream, may then last hours). */
export const ORIGIN_HEADERS_TIMEOUT_MS = 10_000;

/**
 * fetch() to an origin, given up when its headers do not come within ORIGIN_HEADERS_TIMEOUT_MS, and cancelled when
 * the player goes (`player`). Errors name the origin.
 */
export async function fetchOrigin(target: string, init: RequestInit, player?: AbortSignal): Promise<Response> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new Error(`no answer within ${ORIGIN_HEADERS_TIMEOUT_MS}ms`)), ORIGIN_HEADERS_TIMEOUT_MS);
  const onPlayerGone = () => ac.abort(new Error("the player left"));
  player?.addEventListener("abort", onPlayerGone, { once: true });
  try {
    return await fetch(target, { ...init, signal: ac.signal });
  } catch (e) {
    const why = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason.message : (e as Error).message;
    throw new Error(`origin ${target}: ${why}`);
  } finally {
    clearTimeout(t);
  }
}

export class HttpStreamProxy {
  constructor(private lb: LoadBalancer, private log: Log) {}

  async handle(req: Request): Promise<Response> {
    if (req.method === "OPTIONS") return new Response(null, { status: 200, headers: corsHeaders() });
    const url = new URL(req.url);
    const path = url.pathname;
    try {
      if (path.endsWith(".m3u8")) return await this.playlist(req, url);
      if (path.endsWith(".flv") || path.endsWith(".ts") || path.endsWith(".m4s") || path.endsWith(".mp4") ||
        path.endsWith(".aac") || path.endsWith(".mp3")) {
        const spbhid = url.searchParams.get("spbhid");
        if (spbhid) {
          const s = await this.lb.loadHlsBySpbhid(spbhid);
          if (!s) return text(400, `proxy: no HLS session ${spbhid} (expired? reload the playlist)`);
          return await this.forward(req, url, s.stream_url, s);
        }
        const { streamUrl } = httpStreamUrl(url, req.headers.get("host"));
        return await this.forward(req, url, streamUrl);
      }
      return text(404, `proxy: not a stream (${path})`);
    } catch (e) {
      if (e instanceof NoBackendError) return text(503, `proxy: ${e.message}`);
      this.log.warn(`proxy: HTTP ${path}: ${(e as Error).message}`);
      return text(502, `proxy: ${(e as Error).message}`);
    }
  }

  private async playlist(req: Request, url: URL): Promise<Response> {
    const { streamUrl, ext } = httpStreamUrl(url, req.headers.get("host"));
    const fresh: HlsSession = { spbhid: randomId(), stream_url: streamUrl, full_url: `${streamUrl}${ext}` };
    const s = await this.lb.loadOrStoreHls(streamUrl, fresh);
    return await this.forward(req, url, streamUrl, s);
  }

  private async forward(req: Request, url: URL, streamUrl: string, hls?: HlsSession): Promise<Response> {
    const b: Backend = await this.lb.pick(streamUrl);
    const port = firstPort(b.http);
    if (port < 0) return text(502, `proxy: origin ${describeBackend(b)} has no HTTP stream server`);
    // The origin gets the player's query (tokens), without our spbhid.
    const q = new URLSearchParams(url.search);
    q.delete("spbhid");
    const qs = q.toString();
    const target = `http://${formatEndpoint({ host: b.ip, port })}${url.pathname}${qs ? "?" + qs : ""}`;
    const res = await fetchOrigin(target, { method: req.method === "HEAD" ? "HEAD" : "GET", redirect: "manual" }, req.signal);
    const headers = originHeaders(res);
    if (!url.pathname.endsWith(".m3u8") || !hls || res.status !== 200) {
      if (res.status !== 200) this.log.trace(`proxy: HTTP ${url.pathname} -> ${target}: ${res.status}`);
      return new Response(res.body, { status: res.status, headers });
    }
    return new Response(rewritePlaylist(await res.text(), hls.spbhid), { status: 200, headers });
  }
}

/**
 * Adds `spbhid=<id>` to every URI line and URI="..." attribute of a playlist (segments, init sections, nested
 * playlists), keeping their own query. SRS's proxy rewrites `.ts` names only; this also covers fMP4 and LL-HLS.
 */
export function rewritePlaylist(m3u8: string, spbhid: string): string {
  const add = (uri: string): string => {
    if (/^[a-z]+:\/\//i.test(uri) || uri.includes("spbhid=")) return uri;
    return uri + (uri.includes("?") ? "&" : "?") + `spbhid=${spbhid}`;
  };
  return m3u8.split("\n").map((line) => {
    const l = line.trim();
    if (!l) return line;
    if (!l.startsWith("#")) return add(l);
    return line.replace(/URI="([^"]*)"/g, (_, u: string) => `URI="${add(u)}"`);
  }).join("\n");
}
