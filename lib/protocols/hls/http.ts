/** HLS over HTTP: .m3u8 (no-cache, hls_ctx sessions) and .ts segments (cacheable) from hls_path. */
import type { Hono } from "hono";
import type { ServerContext } from "../../server.ts";

export function mountHls(_app: Hono, _ctx: ServerContext): void {
  // not yet
}
