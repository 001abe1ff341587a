/**
 * HTTP live streaming (`http_remux`): [vhost]/[app]/[stream].flv|.ts|.aac|.mp3 served chunked from the hub,
 * the encoded bytes shared among all players of a stream.
 */
import type { Hono } from "hono";
import type { ServerContext } from "../../server.ts";

export function mountLive(_app: Hono, _ctx: ServerContext): void {
  // not yet
}
