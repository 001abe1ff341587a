/**
 * RTSP: the global `rtsp_server` (SRS 7's directive; srs-ts's own `auth` block inside it).
 *
 *   rtsp_server {
 *       enabled on;                 # default off; SRS_RTSP_SERVER_ENABLED
 *       listen 8554;                # TCP, one or more: port, ip:port, [ipv6]:port; SRS_RTSP_SERVER_LISTEN
 *       auth { enabled on; username admin; password secret; }   # Basic/Digest for DESCRIBE and ANNOUNCE
 *   }
 */
import { portOf } from "../net/endpoint.ts";
import type { Scope } from "./env.ts";

export interface RtspServerConfig {
  enabled: boolean;
  /** TCP port of the first listen (-1 when not a valid endpoint). */
  listen: number;
  listens: string[];
  auth: { enabled: boolean; username: string; password: string };
}

export function rtspServerOf(g: Scope): RtspServerConfig {
  const s = g.child("rtsp_server");
  const listens = s.list("listen", ["8554"]);
  const a = s.child("auth");
  return {
    enabled: s.boolOn("enabled"),
    listen: portOf(listens[0] ?? "8554"),
    listens,
    auth: { enabled: a.boolOn("enabled"), username: a.str("username", ""), password: a.str("password", "") },
  };
}
