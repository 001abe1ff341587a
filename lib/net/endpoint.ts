/**
 * Listen addresses as SRS writes them: `1935`, `0.0.0.0:1935`, `127.0.0.1:1935`, `host:1935`, `[::]:1935`,
 * `[::1]:1935` (RFC 2732 brackets for IPv6). A bare port listens on every IPv4 interface, as SRS does; IPv6 needs
 * an IPv6 address. Every listener (RTMP, http_api, http_server, https, exporter, rtc_server, srt_server) parses its
 * values here, once.
 */
export interface Endpoint {
  host: string;
  port: number;
}

/** One listen value; throws on a malformed one (the config check refuses those first). */
export function parseEndpoint(value: string, defaultHost = "0.0.0.0"): Endpoint {
  const v = value.trim();
  let host = defaultHost;
  let portText = v;
  const m6 = /^\[([^\]]*)\]:(\d+)$/.exec(v);
  if (m6) {
    host = m6[1]!;
    portText = m6[2]!;
  } else if (v.includes(":") && v.indexOf(":") === v.lastIndexOf(":")) {
    const i = v.lastIndexOf(":");
    host = v.slice(0, i) || defaultHost;
    portText = v.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) throw new Error(`invalid listen address "${value}"`);
  return { host, port };
}

/** The port of a listen value, -1 when it is not one. */
export function portOf(value: string): number {
  try {
    return parseEndpoint(value).port;
  } catch {
    return -1;
  }
}

/** Every value of a listen directive (`listen 1935 [::]:1935;`), duplicates dropped. */
export function parseEndpoints(values: readonly string[], defaultHost = "0.0.0.0"): Endpoint[] {
  const out: Endpoint[] = [];
  for (const v of values) {
    const e = parseEndpoint(v, defaultHost);
    if (!out.some((o) => o.host === e.host && o.port === e.port)) out.push(e);
  }
  return out;
}

/** `host:port`, with brackets for IPv6 (`[::1]:1935`). */
export function formatEndpoint(e: Endpoint): string {
  return isIpv6(e.host) ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** An IPv6 address literal (what a listener binds an IPv6 socket for). */
export function isIpv6(host: string): boolean {
  return host.includes(":");
}

/**
 * Whether `e` must be bound IPv6-only: `[::]` is dual-stack (it takes IPv4 too) unless another listen of the same
 * directive binds that port on IPv4, which would then fail with "address in use".
 */
export function ipv6OnlyFor(e: Endpoint, all: readonly Endpoint[]): boolean {
  return (e.host === "::" || e.host === "::0") && all.some((o) => o !== e && o.port === e.port && !isIpv6(o.host));
}

/** A bound socket or listener, as far as choosing one by address family goes. */
export interface FamilyBind {
  port: number;
  /** Bound to an IPv6 address. */
  v6: boolean;
  /** An IPv6 `[::]` bind that also takes IPv4 (mapped addresses): not IPv6-only. */
  dualStack: boolean;
}

/** The family and dual-stack flags of a bind of `host` (`ipv6Only` as given to the socket). */
export function familyOf(host: string, ipv6Only: boolean): { v6: boolean; dualStack: boolean } {
  const v6 = isIpv6(host);
  return { v6, dualStack: v6 && !ipv6Only && (host === "::" || host === "::0") };
}

/** The port peers of `family` reach us on: an IPv4 bind, else a dual-stack `[::]` one for IPv4; undefined when none. */
export function portForFamily(binds: readonly FamilyBind[], family: "ipv4" | "ipv6"): number | undefined {
  if (family === "ipv6") return binds.find((s) => s.v6)?.port;
  return (binds.find((s) => !s.v6) ?? binds.find((s) => s.dualStack))?.port;
}
