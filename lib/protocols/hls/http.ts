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
 *
 * On an edge vhost (cluster mode remote, HLS enabled) every playlist request wants the stream for a while
 * (`edge.want`): the edge pulls it and HLS is written while it does; the first requests 404 until the first
 * segment exists (players retry).
 *
 * fMP4 (`hls_use_fmp4`/`hls_ll`): `.m4s` segments from disk, the init segment from the stream's memory.
 * LL-HLS (`hls_ll on`): the playlist comes from the stream's LlHls (memory), with blocking reloads
 * (`_HLS_msn`/`_HLS_part`, held up to 3 target durations, then 503; 400 for a request too far ahead); parts
 * (`<segment>.p<N>.m4s`) and just-completed segments are served from memory, a GET of the preload-hinted part
 * is held until that part is complete.
 * `hls_keys on`: `.key` files (application/octet-stream) from hls_path and hls_key_file_path.
 */
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Context, Hono, Next } from "hono";
import type { ClientInfo, ClientRegistry } from "../../clients.ts";
import type { SrsConfig } from "../../config/index.ts";
import type { HlsConfig } from "../../config/config.ts";
import type { Log } from "../../log/logger.ts";
import type { StreamKey } from "../../media/packet.ts";
import { DEFAULT_VHOST } from "../../net/stream-url.ts";
import type { AccessControl } from "../../access.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import { addQueryToUris, renderMasterPlaylist } from "./playlist.ts";
import type { HlsService, HlsStream } from "./service.ts";
import { fileBody } from "../../runtime/file-body.ts";
import { safeJoin } from "../../outputs/safe-join.ts";

/** What HLS over HTTP needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface HlsHttpPorts {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: SrsConfig;
  readonly clients: Pick<ClientRegistry, "add" | "remove" | "whyFull">;
  readonly access: AccessControl;
  readonly log: Log;
  /** The edge (lib/services/cluster/edge.ts): a playlist request on an edge vhost makes it pull the stream. */
  readonly edge?: { isEdge(vhost: string): boolean; want(key: StreamKey): void };
}

const M3U8_TYPE = "application/vnd.apple.mpegurl";
const TS_TYPE = "video/mp2t";
const MP4_TYPE = "video/mp4";
/** hls_keys: the 16-byte AES-128 key files (RFC 8216 5.2: "a single packed array of 16 octets"). */
const KEY_TYPE = "application/octet-stream";

/** In-memory chunks (ArrayBuffer-backed: our muxers allocate them) as a response body, without copying. */
function blob(chunks: Uint8Array[]): Blob {
  return new Blob(chunks.map((b) => new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength)));
}

/** A non-negative integer query parameter: undefined when absent, NaN when malformed. */
function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  return /^\d{1,9}$/.test(v) ? Number(v) : NaN;
}

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

export class HlsHttp {
  private sessions = new Map<string, HlsSession>();
  private kicked = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private log: Log;

  constructor(private ctx: HlsHttpPorts, private hls: () => HlsService | undefined) {
    this.log = ctx.log;
  }

  /** Every HLS root (resolved hls_path of each enabled, HLS-enabled vhost) with its config. */
  private roots(keys = false): { root: string; cfg: HlsConfig; vhost: string }[] {
    const c = this.ctx.config;
    const out: { root: string; cfg: HlsConfig; vhost: string }[] = [];
    const seen = new Set<string>();
    for (const name of c.vhosts()) {
      const v = c.vhostExact(name);
      if (!v?.enabled || !v.hls.enabled) continue; // a vhost disabled (e.g. by reload) starts no HLS session
      // hls_keys: key files are served from hls_key_file_path too (with hls_key_url unset, the m3u8 names them
      // relative to itself).
      for (const dir of keys && v.hls.keys ? [v.hls.path, v.hls.keyFilePath] : [v.hls.path]) {
        const root = resolve(dir);
        if (seen.has(root)) continue;
        seen.add(root);
        out.push({ root, cfg: v.hls, vhost: v.name });
      }
    }
    return out;
  }

  private async find(path: string, keys = false): Promise<{ file: string; cfg: HlsConfig; vhost: string; size: number } | undefined> {
    for (const r of this.roots(keys)) {
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

  /** The live fMP4/LL stream whose m3u8, init segment, part or in-memory segment is at `rel`. */
  private memoryStreams(): HlsStream[] {
    return this.hls()?.all().filter((st) => st.initUrl !== "" || st.ll !== undefined) ?? [];
  }

  handle = async (c: Context, next: Next): Promise<Response | void> => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    const isM3u8 = path.endsWith(".m3u8");
    const isM4s = path.endsWith(".m4s");
    const isMp4 = path.endsWith(".mp4");
    const isKey = path.endsWith(".key");
    if (!isM3u8 && !isM4s && !isMp4 && !isKey && !path.endsWith(".ts")) return next();
    if (path.split("/").some((s) => s === ".." || s === "%2e%2e" || s === "%2E%2E")) {
      return new Response("Forbidden", { status: 403, headers: { Server: SERVER_SIGNATURE } });
    }
    const ctxId = url.searchParams.get("hls_ctx") ?? "";
    if (isM3u8 && this.ctx.edge) this.wantOnEdge(c, url);
    if (isM3u8 || isM4s || isMp4) {
      let rel: string;
      try {
        rel = decodeURIComponent(path).replace(/^\/+/, "");
      } catch {
        return next();
      }
      for (const st of this.memoryStreams()) {
        if (isM3u8) {
          if (st.ll && st.m3u8Url === rel && st.ll.last) return this.llPlaylist(c, url, st, ctxId);
          continue;
        }
        let body: Uint8Array | Uint8Array[] | undefined;
        if (isMp4) body = st.initUrl === rel ? st.initBytes : undefined;
        else if (st.ll) {
          body = st.ll.segmentBytes(rel) ?? await st.ll.waitPart(rel, st.ll.targetDuration * 3000);
        }
        if (body) {
          const b = blob(Array.isArray(body) ? body : [body]);
          return this.media(b, b.size, MP4_TYPE, st.config, ctxId);
        }
      }
      if (isMp4) return next();
    }
    const found = await this.find(path, isKey);
    if (!found) return next();
    if (isM3u8) return this.playlist(c, url, found, ctxId, () => readFile(found.file, "utf8").catch(() => undefined));
    // Streamed from the file (Bun: sent from the file by the runtime), never read into memory: a segment read per
    // request (and copied into a Blob) was ~165 KB of RSS per HLS player (bench/memory.ts). A segment is renamed into
    // place whole, so its size is final; one removed since find() fails the response.
    return this.media(fileBody(found.file, 0, found.size), found.size, isM4s ? MP4_TYPE : isKey ? KEY_TYPE : TS_TYPE, found.cfg, ctxId);
  };

  private media(body: BodyInit, size: number, type: string, cfg: HlsConfig, ctxId: string): Response {
    const s = ctxId ? this.sessions.get(ctxId) : undefined;
    if (s) {
      s.lastSeen = Date.now();
      s.sent += size;
    }
    return new Response(body, {
      headers: {
        "Content-Type": type, "Cache-Control": `public, max-age=${Math.max(10, Math.ceil(cfg.window))}`,
        "Access-Control-Allow-Origin": "*", Server: SERVER_SIGNATURE,
      },
    });
  }

  /** LL-HLS playlist: a blocking reload waits for the asked segment/part (RFC 8216bis 6.2.5.2). */
  private async llPlaylist(c: Context, url: URL, st: HlsStream, ctxId: string): Promise<Response> {
    const ll = st.ll!;
    const msn = intParam(url, "_HLS_msn");
    const part = intParam(url, "_HLS_part");
    const plain = { Server: SERVER_SIGNATURE, "Access-Control-Allow-Origin": "*" };
    if (Number.isNaN(msn) || Number.isNaN(part) || (part !== undefined && msn === undefined)) {
      return new Response("Bad Request", { status: 400, headers: plain });
    }
    const found = { file: st.m3u8File, cfg: st.config, vhost: st.hub.key.vhost };
    return this.playlist(c, url, found, ctxId, async () => {
      if (msn !== undefined) {
        const r = await ll.wait(msn, part, ll.targetDuration * 3000);
        if (r === "bad-request") return new Response("Bad Request", { status: 400, headers: plain });
        if (r !== "ready") return new Response("Service Unavailable", { status: 503, headers: plain });
      }
      return ll.render();
    });
  }

  private async playlist(
    c: Context, url: URL, found: { file: string; cfg: HlsConfig; vhost: string }, ctxId: string,
    load: () => Promise<string | Response | undefined>,
  ): Promise<Response> {
    const headers = { "Content-Type": M3U8_TYPE, "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*", Server: SERVER_SIGNATURE };
    const cfg = found.cfg;
    if (!cfg.ctx) {
      const text = await load();
      if (text instanceof Response) return text;
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
        for (const k of ["hls_ctx", "_HLS_msn", "_HLS_part", "_HLS_skip"]) q.delete(k);
        q.set("hls_ctx", s.id);
        return new Response(renderMasterPlaylist(`${url.pathname}?${q.toString()}`), { headers });
      }
    }
    s.lastSeen = Date.now();
    const loaded = await load();
    if (loaded instanceof Response) return loaded;
    let text = loaded;
    s.lastSeen = Date.now();
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
    const full = this.ctx.clients.whyFull();
    if (full) {
      this.log.warn(`hls: play ${id} ${url.pathname} ip=${ip || "?"} refused: ${full}`);
      return new Response("Service Unavailable\n", { status: 503, headers: { Server: SERVER_SIGNATURE, "Retry-After": "5" } });
    }
    const s = new HlsSession(id, ip, key, timeoutMs, (x, why) => this.endSession(x, why));
    const q = new URLSearchParams(url.searchParams);
    q.delete("hls_ctx");
    if (q.size) s.param = `?${q.toString()}`;
    // Counted from now (max_connections), so clients admitted while the hooks answer cannot overshoot the limit.
    this.ctx.clients.add(s);
    const gate = await this.ctx.access.onPlay(s, key);
    if (!gate.ok || s.ended) {
      this.ctx.clients.remove(s.id);
      this.log.warn(`hls: play ${id} ${url.pathname} refused: ${gate.ok ? "kicked" : gate.reason}`);
      return new Response("Forbidden", { status: 403, headers: { Server: SERVER_SIGNATURE } });
    }
    this.sessions.set(id, s);
    this.log.trace(`hls: play ${id} ${key.app}/${key.stream} started, type=hls-play ip=${ip || "?"}, timeout ${timeoutMs / 1000}s`);
    this.startTimer();
    return s;
  }

  /** A playlist of an HLS-enabled edge vhost (named by ?vhost=, the Host header, else the default) is wanted. */
  private wantOnEdge(c: Context, url: URL): void {
    const host = (c.req.header("host") ?? "").replace(/:\d+$/, "");
    const named = url.searchParams.get("vhost") ?? host;
    const vhost = this.ctx.config.vhostExact(named) ? named : DEFAULT_VHOST;
    const v = this.ctx.config.vhostExact(vhost);
    if (!v?.enabled || !v.hls.enabled || !this.ctx.edge!.isEdge(vhost)) return;
    const key = this.streamKeyOf(url, vhost);
    if (key.stream && key.app) this.ctx.edge!.want({ vhost, app: key.app, stream: key.stream });
  }

  /** vhost/app/stream of a playlist URL: the HLS stream that writes it, else /app/.../stream.m3u8. */
  private streamKeyOf(url: URL, vhost: string): StreamKey {
    const rel = url.pathname.replace(/^\/+/, "");
    for (const st of this.hls()?.all() ?? []) {
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

/** Mounts HLS on an HTTP app; `hls` finds the running HLS service (the streams' playlists in memory). */
export function mountHls(app: Hono, ctx: HlsHttpPorts, hls: () => HlsService | undefined): void {
  const h = new HlsHttp(ctx, hls);
  app.get("*", h.handle);
}
