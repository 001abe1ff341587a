/**
 * DASH over HTTP (http_server): `.mpd` manifests (`application/dash+xml`, `Cache-Control: no-cache`) and the
 * `.m4s` / `.mp4` segments (cacheable) from the dash_path of every DASH-enabled vhost; paths that leave
 * dash_path are refused, requests for files not found fall through to the next handlers (HLS, static files).
 *
 * The MPD of a stream this server segments is rendered from memory on each request, with the server's clock in
 * `<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014">` (ISO/IEC 23009-1 5.8.5.7): players sync to it
 * without an external time server. Other MPDs (a stream disposed of by a restart) come from disk as written.
 * Responses carry `Access-Control-Allow-Origin: *` (players on other origins, e.g. the console on the API
 * port, fetch them with XHR/fetch). On an edge vhost with DASH on, MPD requests make the edge pull the stream
 * (`edge.want`, as HLS playlists do); this assumes dash_mpd_file's default shape, [app]/[stream].mpd.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Context, Hono, Next } from "hono";
import type { DashConfig } from "../../config/config.ts";
import type { SrsConfig } from "../../config/index.ts";
import { fileBody } from "../../runtime/file-body.ts";
import type { StreamKey } from "../../media/packet.ts";
import { DEFAULT_VHOST } from "../../net/stream-url.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import type { DashService } from "./service.ts";
import { safeJoin } from "../../outputs/safe-join.ts";

const MPD_TYPE = "application/dash+xml";
const MP4_TYPE = "video/mp4";
/** The segment names service.ts writes: <stream>/video-init.mp4, <stream>/audio-12.m4s. */
const DASH_MEDIA = /\/(?:video|audio)-(?:init\.mp4|\d+\.m4s)$/;

export interface DashHttpPorts {
  /** The config in force (read on every request: a reload replaces it). */
  readonly config: Pick<SrsConfig, "vhosts" | "vhostExact">;
  /** The edge (lib/services/cluster/edge.ts): an MPD request on an edge vhost makes it pull the stream. */
  readonly edge?: { isEdge(vhost: string): boolean; want(key: StreamKey): void };
}

export class DashHttp {
  constructor(private ctx: DashHttpPorts, private dash: () => DashService | undefined) {}

  /** Resolved dash_path of each enabled, DASH-enabled vhost, with its config. */
  private roots(): { root: string; cfg: DashConfig; vhost: string }[] {
    const c = this.ctx.config;
    const out: { root: string; cfg: DashConfig; vhost: string }[] = [];
    const seen = new Set<string>();
    for (const name of c.vhosts()) {
      const v = c.vhostExact(name);
      if (!v?.enabled || !v.dash.enabled) continue;
      const root = resolve(v.dash.path);
      if (seen.has(root)) continue;
      seen.add(root);
      out.push({ root, cfg: v.dash, vhost: v.name });
    }
    return out;
  }

  handle = async (c: Context, next: Next): Promise<Response | void> => {
    const path = new URL(c.req.url).pathname;
    const isMpd = path.endsWith(".mpd");
    // Only DASH's own files: other .mp4 (DVR) and .m4s (fMP4 HLS) under the same folder keep their handlers.
    if (!isMpd && !DASH_MEDIA.test(path)) return next();
    const roots = this.roots();
    if (roots.length === 0) return next();
    if (path.split("/").some((s) => s === ".." || s.toLowerCase() === "%2e%2e")) {
      return new Response("Forbidden", { status: 403, headers: { Server: SERVER_SIGNATURE } });
    }
    if (isMpd) {
      let rel: string;
      try {
        rel = decodeURIComponent(path).replace(/^\/+/, "");
      } catch {
        return next();
      }
      if (this.ctx.edge) this.wantOnEdge(c, new URL(c.req.url), rel);
      for (const st of this.dash()?.all() ?? []) {
        if (st.mpdRel !== rel || !roots.some((r) => r.root === resolve(st.config.path))) continue;
        const text = st.mpd(new Date());
        if (text === undefined) break; // no segment yet: 404 below unless an old MPD is on disk
        return new Response(text, { headers: this.headers(MPD_TYPE, "no-cache") });
      }
    }
    for (const r of roots) {
      const file = safeJoin(r.root, path);
      if (!file) continue;
      let size: number;
      try {
        const s = await stat(file);
        if (!s.isFile()) continue;
        size = s.size;
      } catch {
        continue;
      }
      if (isMpd) return new Response(fileBody(file, 0, size), { headers: this.headers(MPD_TYPE, "no-cache") });
      // Init segments are rewritten at each publish (the codec settings may change): revalidated.
      if (path.endsWith(".mp4")) return new Response(fileBody(file, 0, size), { headers: this.headers(MP4_TYPE, "no-cache") });
      // Media segments never change once renamed into place: cacheable for their life in the window.
      const maxAge = Math.max(10, Math.ceil(r.cfg.fragment * Math.max(1, r.cfg.windowSize)));
      return new Response(fileBody(file, 0, size), { headers: this.headers(MP4_TYPE, `public, max-age=${maxAge}`) });
    }
    return next();
  };

  /**
   * An MPD of a DASH-enabled edge vhost (named by ?vhost=, the Host header, else the default) is wanted: the edge
   * pulls /app/stream while players keep asking (dash.js reloads the MPD every minimumUpdatePeriod), and DASH is
   * written on the edge meanwhile; the first requests 404 until the first segment exists. As HLS does.
   */
  private wantOnEdge(c: Context, url: URL, rel: string): void {
    const host = (c.req.header("host") ?? "").replace(/:\d+$/, "");
    const named = url.searchParams.get("vhost") ?? host;
    const vhost = this.ctx.config.vhostExact(named) ? named : DEFAULT_VHOST;
    const v = this.ctx.config.vhostExact(vhost);
    if (!v?.enabled || !v.dash.enabled || !this.ctx.edge!.isEdge(vhost)) return;
    const parts = rel.replace(/\.mpd$/, "").split("/");
    const stream = parts.pop() ?? "";
    const app = parts.join("/");
    if (app && stream) this.ctx.edge!.want({ vhost, app, stream });
  }

  private headers(type: string, cache: string): Record<string, string> {
    return { "Content-Type": type, "Cache-Control": cache, "Access-Control-Allow-Origin": "*", Server: SERVER_SIGNATURE };
  }
}

/** Mounts DASH on an HTTP app; `dash` finds the running DASH service (the streams' MPDs in memory). */
export function mountDash(app: Hono, ctx: DashHttpPorts, dash: () => DashService | undefined): void {
  const h = new DashHttp(ctx, dash);
  app.get("*", h.handle);
}
