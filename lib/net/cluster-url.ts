/**
 * Where an origin cluster sends a player (SRS: srs_protocol_utility.cpp srs_generate_rtmp_url and
 * srs_generate_stream_with_query): the holder's address, the app and stream, and the player's query, with a
 * `vhost=` added when the vhost could otherwise be lost (the holder is reached by IP, which names no vhost).
 */
import { formatEndpoint } from "./endpoint.ts";
import { streamWithQuery } from "./stream-url.ts";

export interface RedirectRequest {
  /** The host the player asked for (tcUrl's host, or the HTTP Host header's host). */
  host: string;
  /** The resolved vhost (a config vhost name, or __defaultVhost__). */
  vhost: string;
  app: string;
  stream: string;
  /** The player's query with its leading "?" (or ""). */
  param: string;
}

/**
 * The query to carry to the holder, "" or "?…": the player's own, plus `vhost=` when it names none and the vhost is
 * not the default one (or the player used a host name, which may be a vhost on the holder), as SRS does.
 */
export function redirectQuery(r: Pick<RedirectRequest, "host" | "vhost" | "param">): string {
  return streamWithQuery(r.host, r.vhost, "", r.param);
}

/** The RTMP URL of the stream on the holder: `{ tcUrl: rtmp://ip:port/app, url: tcUrl/stream?query }`. */
export function rtmpRedirectUrl(holder: { ip: string; port: number }, r: RedirectRequest): { tcUrl: string; url: string } {
  // An IP already in brackets (a coworker may answer "[::1]") is kept as it is.
  const hostPort = holder.ip.startsWith("[") ? `${holder.ip}:${holder.port}` : formatEndpoint({ host: holder.ip, port: holder.port });
  const tcUrl = `rtmp://${hostPort}/${r.app}`;
  return { tcUrl, url: `${tcUrl}/${r.stream}${redirectQuery(r)}` };
}
