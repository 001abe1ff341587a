/**
 * SIP header values GB28181 needs (RFC 3261 section 25.1 grammar, leniently): CSeq (20.16), SIP URI (19.1.1),
 * name-addr of From/To/Contact with parameters such as tag (20.10, 20.20, 20.39), Via with branch/rport/received
 * (20.42, 18.2.1, RFC 3581). Each returns undefined when the value is malformed; none throws.
 */

export interface CSeq {
  seq: number;
  method: string;
}

/** `CSeq: 1 REGISTER` (RFC 3261 20.16); undefined when malformed. */
export function parseCSeq(v: string): CSeq | undefined {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*$/.exec(v);
  if (!m) return undefined;
  const seq = Number(m[1]);
  return seq < 2 ** 31 ? { seq, method: m[2]! } : undefined;
}

export interface SipUri {
  scheme: "sip" | "sips";
  user: string;
  host: string;
  port: number | undefined;
  params: Map<string, string>;
}

/** `sip:34020000001320000001@3402000000:5060;transport=tcp` (RFC 3261 19.1.1); undefined when not a SIP URI. */
export function parseSipUri(v: string): SipUri | undefined {
  const m = /^(sips?):(?:([^@;]*)@)?(\[[^\]]+\]|[^:;?]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?.*)?$/i.exec(v.trim());
  if (!m) return undefined;
  const params = new Map<string, string>();
  for (const p of (m[5] ?? "").split(";").filter(Boolean)) {
    const eq = p.indexOf("=");
    params.set((eq < 0 ? p : p.slice(0, eq)).toLowerCase(), eq < 0 ? "" : p.slice(eq + 1));
  }
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && port > 65535) return undefined;
  return { scheme: m[1]!.toLowerCase() as "sip" | "sips", user: m[2] ?? "", host: m[3]!, port, params };
}

export interface NameAddr {
  display: string;
  uri: string;
  params: Map<string, string>;
}

/** From/To/Contact: `"name" <sip:...>;tag=x` or `sip:...;tag=x` (RFC 3261 20.10, 20.20, 20.39). */
export function parseNameAddr(v: string): NameAddr | undefined {
  const s = v.trim();
  let display = "";
  let uri: string;
  let rest: string;
  const lt = s.indexOf("<");
  if (lt >= 0) {
    const gt = s.indexOf(">", lt);
    if (gt < 0) return undefined;
    display = s.slice(0, lt).trim().replace(/^"(.*)"$/, "$1");
    uri = s.slice(lt + 1, gt).trim();
    rest = s.slice(gt + 1);
  } else {
    const semi = s.indexOf(";");
    uri = semi < 0 ? s : s.slice(0, semi);
    rest = semi < 0 ? "" : s.slice(semi);
  }
  if (!uri) return undefined;
  return { display, uri, params: parseParams(rest) };
}

export interface Via {
  transport: string;
  host: string;
  port: number | undefined;
  params: Map<string, string>;
}

/** `SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK...` (RFC 3261 20.42). */
export function parseVia(v: string): Via | undefined {
  const m = /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[^\]]+\]|[^:;\s]+)(?::(\d{1,5}))?\s*(.*)$/i.exec(v);
  if (!m) return undefined;
  return { transport: m[1]!.toUpperCase(), host: m[2]!, port: m[3] ? Number(m[3]) : undefined, params: parseParams(m[4] ?? "") };
}

function parseParams(rest: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const p of rest.split(";").map((x) => x.trim()).filter(Boolean)) {
    const eq = p.indexOf("=");
    params.set((eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase(), eq < 0 ? "" : p.slice(eq + 1).trim());
  }
  return params;
}
