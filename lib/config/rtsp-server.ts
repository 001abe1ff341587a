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
import { Scope } from "./env.ts";

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

/**
 * A camera pulled natively (srs-ts's own vhost block, no FFmpeg):
 *
 *   vhost __defaultVhost__ {
 *       rtsp_pull cam1 {
 *           enabled on;
 *           url rtsp://admin:pw@192.168.1.20:554/Streaming/Channels/101;   # Basic or Digest from the URL
 *           stream live/cam1;           # app/stream it publishes as (default live/<id>)
 *           transport tcp;              # tcp (RTP interleaved on the RTSP connection, default) or udp
 *       }
 *   }
 */
export interface RtspPullConfig {
  id: string;
  enabled: boolean;
  url: string;
  app: string;
  stream: string;
  /** As written: "tcp" or "udp" (anything else: the pull warns and uses TCP). */
  transport: string;
}

export function rtspPullsOf(v: Scope): RtspPullConfig[] {
  return v.all("rtsp_pull").map((d) => {
    const s = new Scope(d, null, v.env);
    const id = d.args[0] ?? "";
    const path = s.str("stream", `live/${id}`).replace(/^\/+|\/+$/g, "");
    const slash = path.lastIndexOf("/");
    return {
      id,
      enabled: s.boolOn("enabled"),
      url: s.str("url", ""),
      app: slash > 0 ? path.slice(0, slash) : "live",
      stream: slash > 0 ? path.slice(slash + 1) : path,
      transport: s.str("transport", "tcp"),
    };
  });
}
