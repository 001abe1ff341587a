/**
 * Upstream URLs of an edge (SRS srs_app_edge.cpp: SrsEdgeRtmpUpstream / SrsEdgeFlvUpstream::connect, with
 * srs_generate_rtmp_url): `rtmp://origin:port/app/stream?<client query>[&vhost=<upstream vhost>]`, or for
 * `protocol flv|flvs` `http(s)://origin:port/app/stream.flv?<client query>`. The upstream vhost is the cluster's
 * `vhost` directive (`[vhost]` replaced by the client's vhost), else the client's.
 */
import type { StreamKey } from "../../media/packet.ts";
import { streamWithQuery, tcUrlHost } from "../../net/stream-url.ts";
import { parseHostPort } from "../forward/url.ts";

export type EdgeProtocol = "rtmp" | "flv" | "flvs";

export const DEFAULT_PORTS: Record<EdgeProtocol, number> = { rtmp: 1935, flv: 8080, flvs: 443 };

/** One `origin` entry: host[:port] or [v6]:port; the port defaults per protocol. Throws on an empty host. */
export function parseOrigin(entry: string, protocol: EdgeProtocol): { host: string; port: number } {
  const { host, port } = parseHostPort(entry, DEFAULT_PORTS[protocol]);
  if (!host || /[/\s?#@]/.test(host) || !(port > 0 && port < 65536)) throw new Error(`bad origin "${entry}"`);
  return { host, port };
}

/** The upstream vhost: cluster `vhost` ("[vhost]" is the client's), else the client's own. */
export function upstreamVhost(clusterVhost: string, vhost: string): string {
  return clusterVhost ? clusterVhost.replace(/\[vhost\]/g, vhost) : vhost;
}

export interface UpstreamClient {
  /** The client's tcUrl (its host may name the vhost) and query ("?token=x" or "token=x"). */
  tcUrl?: string;
  param?: string;
}

export function upstreamUrl(
  origin: string,
  protocol: EdgeProtocol,
  key: StreamKey,
  vhost: string,
  client: UpstreamClient,
): string {
  const { host, port } = parseOrigin(origin, protocol);
  if (protocol === "rtmp") {
    return `rtmp://${host}:${port}/${key.app}/${streamWithQuery(tcUrlHost(client.tcUrl ?? ""), vhost, key.stream, client.param ?? "")}`;
  }
  const scheme = protocol === "flvs" ? "https" : "http";
  const q = streamWithQuery(tcUrlHost(client.tcUrl ?? ""), vhost, `${key.stream}.flv`, client.param ?? "");
  return `${scheme}://${host}:${port}/${key.app}/${q}`;
}
