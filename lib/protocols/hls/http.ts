/**
 * HLS over HTTP: `.m3u8` playlists (`Cache-Control: no-cache`, `application/vnd.apple.mpegurl`) and `.ts`
 * segments (cacheable, `video/mp2t`) from the hls_path of every HLS-enabled vhost; paths that leave hls_path
 * are refused. Requests for files not found there fall through to the next handlers (HTTP-TS live, static).
 *
 * `hls_ctx on` (SRS default): the first GET of `/app/stream.m3u8` without `hls_ctx` answers a one-variant master
 * playlist pointing at `/app/stream.m3u8?hls_ctx=<id>`; that playlist's segment URIs carry `?hls_ctx=<id>`
 * (`hls_ts_ctx on`). Each id is an HLS play session: registered in ctx.clients as "hls-play", gated by
 * `ctx.access.onPlay` (refused -> 403), ended (onStop) when no request came for hls_fragment * 2 + 5 seconds.
 * With `hls_ctx off`, plain files.
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import type { Context, Hono, Next } from "hono";
import type { ClientInfo } from "../../clients.ts";
import type { HlsConfig } from "../../config/config.ts";
import type { Log } from "../../log/logger.ts";
import type { StreamKey } from "../../media/packet.ts";
import type { ServerContext } from "../../server.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import { addQueryToUris, renderMasterPlaylist } from "./playlist.ts";
import { hlsService } from "./service.ts";

const M3U8_TYPE = "application/vnd.apple.mpegurl";
const TS_TYPE = "video/mp2t";

function randomId(): string {
  const a = "0123456789abcdefghijklmnopqrstuvwxyz";
  let s = "";
  for (let i = 0; i < 8; i++) s += a[Math.floor(Math.random() * a.length)];
  return s;
}

/** An HLS player, as SRS counts it: one hls_ctx id, kept alive by its requests. */
class HlsSession implements ClientInfo {
  type = "hls-play";
  readonly protocol = "hls";
  readonly connectedAt = Date.now();
  lastSeen = Date.now();
  sent = 0;
  ended = false;
  param?: string;
  constructor(
    readonly id: string,
    readonly ip: string,
    readonly stream: StreamKey,
    readonly timeoutMs: number,
    private end: (s: HlsSession, reason: string) => void,
  ) {}
  bytesIn(): number {
    return 0;
  }
  bytesOut(): number {
    return this.sent;
  }
  kick(reason: string): void {
    this.end(this, reason);
  }
}

/** Resolves `urlPath` under `root`; undefined when it would leave it. */
function safeJoin(root: string, urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (rel.includes("\0") || rel.split(/[\\/]/).includes("..")) return undefined;
  const abs = resolve(join(root, rel));
  return abs.startsWith(root.endsWith(sep) ? root : root + sep) ? abs : undefined;
}

export class HlsHttp {
  private sessions = new Map<string, HlsSession>();
  private kicked = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private log: Log;

  constructor(private ctx: ServerContext) {
    this.log = ctx.log;
  }

  /** Every HLS root (resolved hls_path of each HLS-enabled vhost) with its config. */
  private roots(): { root: string; cfg: HlsConfig; vhost: string }[] {
    const c = this.ctx.config;
    const out: { root: string; cfg: HlsConfig; vhost: string }[] = [];
    const seen = new Set<string>();
    for (const name of c.vhosts()) {
      const v = c.vhostExact(name);
      if (!v?.hls.enabled) continue;
      const root = resolve(v.hls.path);
      if (seen.has(root)) continue;
      seen.add(root);
      out.push({ root, cfg: v.hls, vhost: v.name });
    }
    return out;
  }

  private async find(path: string): Promise<{ file: string; cfg: HlsConfig; vhost: string; size: number } | undefined> {
    for (const r of this.roots()) {
      const file = safeJoin(r.root, path);
      if (!file) continue;
      try {
        const st = await stat(file);
        if (st.isFile()) return { file, cfg: r.cfg, vhost: r.vhost, size: st.size };
      } catch {
        // not in this root
      }
    }
    return undefined;
  }

  handle = async (c: Context, next: Next): Promise<Response | void> => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    const isM3u8 = path.endsWith(".m3u8");
    if (!isM3u8 && !path.endsWith(".ts")) return next();
    if (path.split("/").some((s) => s === ".." || s === "%2e%2e" || s === "%2E%2E")) {
      return new Response("Forbidden", { status: 403, headers: { Server: SERVER_SIGNATURE } });
    }
    const found = await this.find(path);
    if (!found) return next();
    const ctxId = url.searchParams.get("hls_ctx") ?? "";
    if (isM3u8) return this.playlist(c, url, found, ctxId);
    const s = ctxId ? this.sessions.get(ctxId) : undefined;
    if (s) {
      s.lastSeen = Date.now();
      s.sent += found.size;
    }
    const body = await readFile(found.file).catch(() => undefined);
    if (!body) return next();
    return new Response(body, {
      headers: {
        "Content-Type": TS_TYPE, "Cache-Control": `public, max-age=${Math.max(10, Math.ceil(found.cfg.window))}`,
        "Access-Control-Allow-Origin": "*", Server: SERVER_SIGNATURE,
      },
    });
  };

  private async playlist(
    c: Context, url: URL, found: { file: string; cfg: HlsConfig; vhost: string }, ctxId: string,
  ): Promise<Response> {
    const headers = { "Content-Type": M3U8_TYPE, "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*", Server: SERVER_SIGNATURE };
    const cfg = found.cfg;
    if (!cfg.ctx) {
      const text = await readFile(found.file, "utf8").catch(() => undefined);
      if (text === undefined) return new Response("Not Found", { status: 404, headers: { Server: SERVER_SIGNATURE } });
      return new Response(text, { headers });
    }
    if (ctxId && this.kicked.has(ctxId)) return new Response("Forbidden", { status: 403, headers: { Server: SERVER_SIGNATURE } });
    let s = ctxId ? this.sessions.get(ctxId) : undefined;
    if (!s) {
      const created = await this.newSession(c, url, found, ctxId || randomId());
      if (created instanceof Response) return created;
      s = created;
      if (!ctxId) {
        // SRS's redirect: a one-variant master playlist whose URI carries the session id.
        const q = new URLSearchParams(url.searchParams);
        q.delete("hls_ctx");
        q.set("hls_ctx", s.id);
        return new Response(renderMasterPlaylist(`${url.pathname}?${q.toString()}`), { headers });
      }
    }
    s.lastSeen = Date.now();
    let text = await readFile(found.file, "utf8").catch(() => undefined);
    if (text === undefined) return new Response("Not Found", { status: 404, headers: { Server: SERVER_SIGNATURE } });
    if (cfg.tsCtx) text = addQueryToUris(text, `hls_ctx=${s.id}`);
    s.sent += text.length;
    return new Response(text, { headers });
  }

  private async newSession(
    c: Context, url: URL, found: { cfg: HlsConfig; vhost: string }, id: string,
  ): Promise<HlsSession | Response> {
    const key = this.streamKeyOf(url, found.vhost);
    const env = c.env as { remoteAddr?: string } | undefined;
    const ip = env?.remoteAddr || c.req.header("x-real-ip") || c.req.header("x-forwarded-for")?.split(",")[0]?.trim() || "";
    const timeoutMs = (found.cfg.fragment * 2 + 5) * 1000;
    const s = new HlsSession(id, ip, key, timeoutMs, (x, why) => this.endSession(x, why));
    const q = new URLSearchParams(url.searchParams);
    q.delete("hls_ctx");
    if (q.size) s.param = `?${q.toString()}`;
    const gate = await this.ctx.access.onPlay(s, key);
    if (!gate.ok) {
      this.log.warn(`hls: play ${id} ${url.pathname} refused: ${gate.reason}`);
      return new Response("Forbidden", { status: 403, headers: { Server: SERVER_SIGNATURE } });
    }
    this.sessions.set(id, s);
    this.ctx.clients.add(s);
    this.log.trace(`hls: play ${id} ${key.app}/${key.stream} started, type=hls-play ip=${ip || "?"}, timeout ${timeoutMs / 1000}s`);
    this.startTimer();
    return s;
  }

  /** vhost/app/stream of a playlist URL: the HLS stream that writes it, else /app/.../stream.m3u8. */
  private streamKeyOf(url: URL, vhost: string): StreamKey {
    const rel = url.pathname.replace(/^\/+/, "");
    for (const st of hlsService(this.ctx)?.all() ?? []) {
      if (st.m3u8Url === rel) return st.hub.key;
    }
    const parts = rel.replace(/\.m3u8$/, "").split("/");
    const stream = parts.pop() ?? "";
    return { vhost: url.searchParams.get("vhost") ?? vhost, app: parts.join("/"), stream };
  }

  private endSession(s: HlsSession, reason: string): void {
    if (s.ended) return;
    s.ended = true;
    this.sessions.delete(s.id);
    if (reason !== "timeout") {
      this.kicked.add(s.id);
      if (this.kicked.size > 10000) this.kicked.clear();
    }
    this.ctx.clients.remove(s.id);
    this.ctx.access.onStop(s, s.stream);
    this.log.trace(`hls: play ${s.id} ${s.stream.app}/${s.stream.stream} ended (${reason}), ${s.sent}B in ${Math.round((Date.now() - s.connectedAt) / 1000)}s`);
    if (this.sessions.size === 0) this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const s of [...this.sessions.values()]) if (now - s.lastSeen > s.timeoutMs) this.endSession(s, "timeout");
    }, 1000);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export function mountHls(app: Hono, ctx: ServerContext): void {
  const h = new HlsHttp(ctx);
  app.get("*", h.handle);
}
