/** SRS listen values: `1935`, `0.0.0.0:1935`, `127.0.0.1:1935`, `[::]:1935`, `[::1]:1935`. */
export interface Endpoint {
  host: string;
  port: number;
}

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

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
