/**
 * The HTTP API (/api/v1/*), mounted on the API listener (or the HTTP server's when they share a port).
 * SRS's shapes: every body starts {"code","server","service","pid"}; errors are HTTP 200 with SRS codes.
 */
import type { Hono } from "hono";
import type { ServerContext } from "../../server.ts";
import { SRS_COMPAT_VERSION, VERSION } from "../../version.ts";

export function mountApi(app: Hono, ctx: ServerContext): void {
  const base = () => ({ code: 0, server: ctx.serverId, service: ctx.serviceId, pid: String(process.pid) });
  app.get("/api/v1/versions", (c) => {
    const [major, minor, revision] = SRS_COMPAT_VERSION.split(".").map(Number);
    return c.json({ ...base(), data: { major, minor, revision, version: SRS_COMPAT_VERSION, srs_ts: VERSION } });
  });
}
