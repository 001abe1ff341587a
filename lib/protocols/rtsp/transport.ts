/**
 * The RTSP Transport header (RFC 2326 12.39): what a client offers in SETUP and what we answer.
 *
 *   Transport: RTP/AVP/TCP;unicast;interleaved=0-1
 *   Transport: RTP/AVP;unicast;client_port=5000-5001;mode=record
 *
 * A client may offer several transports separated by commas, in order of preference; we take the first one we
 * support: RTP/AVP over TCP (interleaved) or UDP unicast. Multicast is refused (461).
 */

export interface RtspTransport {
  protocol: "tcp" | "udp";
  /** TCP: the RTP and RTCP interleaved channels. */
  interleaved?: [number, number];
  /** UDP: the client's RTP and RTCP ports. */
  clientPort?: [number, number];
  /** UDP: our ports (in answers). */
  serverPort?: [number, number];
  ssrc?: number;
  /** `mode=record` (publish) or play (default). */
  record: boolean;
}

function range(v: string, max: number): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v.trim());
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a + 1;
  if (a > max || b > max) return undefined;
  return [a, b];
}

/** Parses one transport spec; undefined when we do not support it (or it is malformed). */
export function parseTransportSpec(spec: string): RtspTransport | undefined {
  const parts = spec.split(";").map((s) => s.trim()).filter(Boolean);
  const proto = parts.shift()?.toUpperCase();
  let protocol: "tcp" | "udp";
  if (proto === "RTP/AVP" || proto === "RTP/AVP/UDP") protocol = "udp";
  else if (proto === "RTP/AVP/TCP") protocol = "tcp";
  else return undefined;
  const t: RtspTransport = { protocol, record: false };
  for (const p of parts) {
    const eq = p.indexOf("=");
    const k = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? "" : p.slice(eq + 1);
    if (k === "multicast") return undefined;
    if (k === "interleaved") {
      const r = range(v, 255);
      if (!r) return undefined;
      t.interleaved = r;
    } else if (k === "client_port") {
      const r = range(v, 65535);
      if (!r) return undefined;
      t.clientPort = r;
    } else if (k === "server_port") {
      t.serverPort = range(v, 65535);
    } else if (k === "ssrc") {
      if (/^[0-9a-fA-F]{1,8}$/.test(v)) t.ssrc = parseInt(v, 16);
    } else if (k === "mode") {
      t.record = v.replace(/"/g, "").toLowerCase() === "record";
    }
  }
  if (t.protocol === "udp" && !t.clientPort) return undefined;
  return t;
}

/** The first supported transport of a Transport header, or undefined. */
export function parseTransport(header: string): RtspTransport | undefined {
  for (const spec of header.split(",")) {
    const t = parseTransportSpec(spec);
    if (t) return t;
  }
  return undefined;
}

/** The Transport header we answer with. */
export function formatTransport(t: RtspTransport): string {
  const parts = [t.protocol === "tcp" ? "RTP/AVP/TCP" : "RTP/AVP", "unicast"];
  if (t.interleaved) parts.push(`interleaved=${t.interleaved[0]}-${t.interleaved[1]}`);
  if (t.clientPort) parts.push(`client_port=${t.clientPort[0]}-${t.clientPort[1]}`);
  if (t.serverPort) parts.push(`server_port=${t.serverPort[0]}-${t.serverPort[1]}`);
  if (t.ssrc !== undefined) parts.push(`ssrc=${(t.ssrc >>> 0).toString(16).toUpperCase().padStart(8, "0")}`);
  if (t.record) parts.push("mode=record");
  return parts.join(";");
}
