/**
 * The URL SRS forwards a stream to, for a `destination host[:port]` (srs_app_forward.cpp +
 * srs_protocol_utility.cpp): `rtmp://server:port/app/stream[?query]`, where the query is the publisher's
 * param plus `vhost=<vhost>` when the param names no vhost and either the vhost is not the default one or the
 * publisher's host (from its tcUrl) is a name rather than an IP. Port defaults to 1935.
 */
import type { StreamKey } from "../../media/packet.ts";
import { DEFAULT_RTMP_PORT, streamWithQuery, tcUrlHost } from "../../net/stream-url.ts";

/** `host[:port]` or `[v6][:port]` -> host (v6 kept in brackets) and port (`defaultPort` when none is given). */
export function parseHostPort(dest: string, defaultPort = DEFAULT_RTMP_PORT): { host: string; port: number } {
  const d = dest.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(d);
  if (v6) return { host: `[${v6[1]}]`, port: v6[2] ? Number(v6[2]) : defaultPort };
  const colon = d.lastIndexOf(":");
  if (colon > 0 && /^\d+$/.test(d.slice(colon + 1))) return { host: d.slice(0, colon), port: Number(d.slice(colon + 1)) };
  return { host: d, port: defaultPort };
}

export function forwardUrl(destination: string, key: StreamKey, publisher: { tcUrl?: string; param?: string }): string {
  const { host, port } = parseHostPort(destination);
  const from = tcUrlHost(publisher.tcUrl ?? "");
  return `rtmp://${host}:${port}/${key.app}/${streamWithQuery(from, key.vhost, key.stream, publisher.param ?? "")}`;
}
