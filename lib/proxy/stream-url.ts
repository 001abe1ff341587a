/**
 * The key a stream is routed by, as SRS 7's proxy builds it (proxy/utils.go buildStreamURL): `vhost/app/stream`,
 * where a host without a dot, or an IPv4 address, is `__defaultVhost__`. RTMP gives tcUrl + stream; HTTP gives
 * the path (`/live/livestream.flv` → app live, stream livestream) or ?app=&stream= (WHIP/WHEP).
 */
import { DEFAULT_VHOST, isIpAddress } from "../net/stream-url.ts";

function vhostOf(host: string): string {
  const h = host.replace(/^\[|\]$/g, "");
  if (!h.includes(".") || isIpAddress(h)) return DEFAULT_VHOST;
  return h;
}

/** Strips a query (`?token=..`) from a stream name (the extension stays). */
function bareStream(s: string): string {
  const q = s.indexOf("?");
  return q >= 0 ? s.slice(0, q) : s;
}

/** From an RTMP tcUrl (`rtmp://host:port/app[?query]`) and a stream name (`name[?query]`). */
export function rtmpStreamUrl(tcUrl: string, stream: string): string {
  const m = /^[a-z]+:\/\/([^/:?]+|\[[^\]]*\])(?::\d+)?(\/[^?]*)?/i.exec(tcUrl);
  const host = m?.[1] ?? "";
  const app = (m?.[2] ?? "/").replace(/\/+$/, "");
  // SRS's vhost query (`?vhost=x` on the tcUrl or stream) is not honoured by SRS's proxy either.
  return `${vhostOf(host)}${app}/${bareStream(stream)}`;
}

/** From an HTTP request: the path without its extension, or ?app=&stream= when given. */
export function httpStreamUrl(url: URL, hostHeader: string | null): { streamUrl: string; ext: string } {
  // SRS's proxy takes the Host only when it has a port; without one it uses the default vhost.
  const host = hostHeader && hostHeader.includes(":") ? hostHeader.slice(0, hostHeader.lastIndexOf(":")) : "";
  const app = url.searchParams.get("app");
  const stream = url.searchParams.get("stream");
  let appStream = "";
  if (app) appStream = "/" + app;
  if (stream) appStream = `${appStream}/${stream}`;
  let ext = "";
  if (!appStream) {
    const p = url.pathname;
    const slash = p.lastIndexOf("/");
    const dot = p.lastIndexOf(".");
    ext = dot > slash ? p.slice(dot) : "";
    appStream = ext ? p.slice(0, dot) : p;
  }
  return { streamUrl: `${host ? vhostOf(host) : DEFAULT_VHOST}${appStream}`, ext };
}

/** From an SRT streamid's parts (`#!::h=vhost,r=app/stream`): no or an IP host is the default vhost. */
export function srtStreamUrl(vhost: string, app: string, stream: string): string {
  return `${vhost ? vhostOf(vhost) : DEFAULT_VHOST}/${app}/${stream}`;
}
