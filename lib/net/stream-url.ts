/**
 * Stream URLs as SRS resolves them (shared by RTMP, WebRTC's webrtc:// URLs and forward: no protocol owns it).
 *
 * What an RTMP client asks for (connect's tcUrl, then the publish/play stream name with its query), resolved
 * the way SRS resolves it:
 *
 *  - tcUrl + "/" + stream + param are joined into one URL. The FMLE form, a query in the app
 *    (`rtmp://h/live?vhost=v/s`), is moved behind the stream (`rtmp://h/live/s?vhost=v`). `/_definst_` is dropped.
 *  - The path's last segment is the stream, everything before it the app (so apps may have several levels,
 *    `rtmp://h/a/b/s` -> app "a/b"); an empty app is `__defaultApp__`.
 *  - vhost: the `vhost=` (else `domain=`) query value unless it is `__defaultVhost__`, else the tcUrl host.
 *    An IP host means `__defaultVhost__` (SRS's config lookup has the same effect). A name that is no
 *    configured vhost must likewise be mapped to `__defaultVhost__` by the caller, which knows the config.
 *  - param: the query with its leading "?" (and "#fragment"), kept verbatim for hooks; cleared when it is only
 *    `?vhost=__defaultVhost__`.
 *  - Stream names keep any `.flv`/`.m3u8` suffix: SRS strips those only for HTTP requests, not for RTMP.
 *  - The legacy `...vhost...` app form of SRS 1-3 is not accepted, as in current SRS.
 */
/** A stream URL that cannot be resolved (no schema, no host, not rtmp://host/app/stream). */
export class StreamUrlError extends Error {}

export const DEFAULT_VHOST = "__defaultVhost__";
export const DEFAULT_APP = "__defaultApp__";
export const DEFAULT_RTMP_PORT = 1935;

export interface RtmpRequestUrl {
  schema: string;
  host: string;
  port: number;
  vhost: string;
  app: string;
  stream: string;
  /** Query string including its leading "?" (e.g. "?vhost=v&token=x"), or "". */
  param: string;
}

/** Parses `key=value&key2=value2` (values kept raw, as SRS does). First occurrence wins. */
export function parseQuery(q: string): Map<string, string> {
  const m = new Map<string, string>();
  const s = q.startsWith("?") ? q.slice(1) : q;
  for (const part of s.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? "" : part.slice(eq + 1);
    if (!m.has(k)) m.set(k, v);
  }
  return m;
}

/** True for dotted IPv4 and for IPv6 literals (bracketed or not). */
export function isIpAddress(host: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host.split(".").every((x) => Number(x) <= 255);
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return h.includes(":") && /^[0-9a-fA-F:.]+$/.test(h);
}

function defaultPort(schema: string): number {
  switch (schema.toLowerCase()) {
    case "http":
      return 80;
    case "https":
    case "rtmps":
      return 443;
    default:
      return DEFAULT_RTMP_PORT;
  }
}

const removeChars = (s: string, chars: string): string => [...s].filter((c) => !chars.includes(c)).join("");
const trimSlashes = (s: string): string => s.replace(/^\/+/, "").replace(/\/+$/, "");

/**
 * Resolves connect's tcUrl plus the stream name (which may carry "?query") of publish/play, and an optional
 * separate param, into vhost/app/stream. Throws StreamUrlError when the URL has no "schema://host".
 */
export function resolveRtmpRequest(tcUrl: string, stream = "", param = ""): RtmpRequestUrl {
  let full = tcUrl;
  full += stream === "" ? "/" : stream.startsWith("/") ? stream : "/" + stream;
  full += param === "" ? "" : param.startsWith("?") ? param : "?" + param;

  // FMLE style: rtmp://ip/app/app2?k=v/stream -> rtmp://ip/app/app2/stream?k=v
  const q = full.search(/[?#]/);
  const slash = full.lastIndexOf("/");
  if (q >= 0 && slash >= 0 && q < slash) full = full.slice(0, q) + full.slice(slash) + full.slice(q, slash);
  full = full.split("/_definst_").join("");

  const sep = full.indexOf("://");
  if (sep <= 0) throw new StreamUrlError(`bad RTMP url "${tcUrl}": no schema`);
  const schema = full.slice(0, sep);
  let rest = full.slice(sep + 3);

  let fragment = "";
  const hashAt = rest.indexOf("#");
  if (hashAt >= 0) {
    fragment = rest.slice(hashAt + 1);
    rest = rest.slice(0, hashAt);
  }
  let query = "";
  const qAt = rest.indexOf("?");
  if (qAt >= 0) {
    query = rest.slice(qAt + 1);
    rest = rest.slice(0, qAt);
  }
  const pathAt = rest.indexOf("/");
  const authority = pathAt >= 0 ? rest.slice(0, pathAt) : rest;
  const path = pathAt >= 0 ? rest.slice(pathAt) : "/";

  // host[:port], [v6]:port; user info is dropped.
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  let host = hostPort;
  let port = defaultPort(schema);
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  if (m) {
    host = m[1]!.replace(/^\[(.*)\]$/, "$1");
    if (m[2]) port = Number(m[2]);
  }
  if (host === "") throw new StreamUrlError(`bad RTMP url "${tcUrl}": no host`);

  const lastSlash = path.lastIndexOf("/");
  let streamName = path.slice(lastSlash + 1);
  let app = path.slice(0, lastSlash).replace(/^\//, "");
  if (app === "") app = DEFAULT_APP;

  let outParam = query === "" ? "" : "?" + query;
  if (fragment !== "") outParam += "#" + fragment;

  const qs = parseQuery(query);
  const inQuery = qs.get("vhost") || qs.get("domain") || "";
  let vhost = inQuery !== "" && inQuery !== DEFAULT_VHOST ? inQuery : host;
  if (!outParam.includes("&") && inQuery === DEFAULT_VHOST) outParam = "";

  // Like SRS's request strip(): no whitespace anywhere, no slashes around names.
  host = removeChars(host, "/ \n\r\t");
  vhost = removeChars(vhost, "/ \n\r\t");
  app = trimSlashes(removeChars(app, " \n\r\t"));
  streamName = trimSlashes(removeChars(streamName, " \n\r\t"));
  if (vhost === "" || isIpAddress(vhost)) vhost = DEFAULT_VHOST;

  return { schema, host, port, vhost, app, stream: streamName, param: outParam };
}

/**
 * Splits a full client URL ("rtmp://host[:port]/app/stream?k=v") into connect's tcUrl (everything before the
 * last "/", query included when it sits in the app) and the stream name to publish/play ("stream?k=v").
 */
export function splitRtmpUrl(url: string): { tcUrl: string; stream: string } {
  const q = url.search(/[?#]/);
  const head = q >= 0 ? url.slice(0, q) : url;
  const slash = head.lastIndexOf("/");
  if (slash < 0 || head.slice(0, slash).endsWith("/") || !head.includes("://")) {
    throw new StreamUrlError(`bad RTMP url "${url}": expected rtmp://host/app/stream`);
  }
  // The FMLE form puts the query before the last slash: rtmp://h/app?vhost=v/stream
  const lastSlash = url.lastIndexOf("/");
  if (q >= 0 && lastSlash > q) return { tcUrl: url.slice(0, lastSlash), stream: url.slice(lastSlash + 1) };
  return { tcUrl: url.slice(0, slash), stream: url.slice(slash + 1) };
}

/** Parses a full client URL in one go (splitRtmpUrl + resolveRtmpRequest). */
export function parseRtmpUrl(url: string): RtmpRequestUrl & { tcUrl: string; streamWithQuery: string } {
  const { tcUrl, stream } = splitRtmpUrl(url);
  return { ...resolveRtmpRequest(tcUrl, stream), tcUrl, streamWithQuery: stream };
}

/**
 * The stream name with its query, as srs_generate_stream_with_query (srs_protocol_utility.cpp): `param` (which may
 * start with "?") plus `vhost=` when it names none and the vhost is not the default one or `host` is a name, not an
 * IP. Shared by forward, the edge upstream URL and the origin cluster redirect.
 */
export function streamWithQuery(host: string, vhost: string, stream: string, param: string): string {
  let query = param;
  if (!query.includes("vhost=")) {
    const guess = vhost !== DEFAULT_VHOST ? vhost : !isIpAddress(host) && host !== "" ? host : "";
    if (guess) query += `&vhost=${guess}`;
  }
  query = query.replace(/^[&?]+/, "");
  return query ? `${stream}?${query}` : stream;
}

/** The publisher's host from its tcUrl ("rtmp://host:port/app" -> "host"). */
export function tcUrlHost(tcUrl: string): string {
  const m = /^[a-z0-9+.-]+:\/\/(\[[^\]]*\]|[^/:?#]*)/i.exec(tcUrl);
  return m ? m[1]! : "";
}
