/**
 * The offer checks and rewrites done before werift sees an SDP (RFC 8866 syntax, RFC 8829 JSEP usage):
 *  - reject what is not an SDP offer with media, and media we cannot carry (video without H.264
 *    packetization-mode 1, audio without Opus);
 *  - keep ONE video codec (H.264, constrained baseline preferred: what browsers decode everywhere and what
 *    OpenH264 encodes) plus its RTX, and Opus for audio: werift matches codecs by MIME type only and would
 *    otherwise pick the first H.264 of the offer, whatever its profile or packetization mode.
 * Also the candidate addresses of an answer (rtc_server.candidate, `?eip=`), as SRS chooses them.
 */
import { networkInterfaces } from "node:os";

export class SdpError extends Error {}

interface Section {
  lines: string[];
  kind: string;
}

export interface OfferInfo {
  sdp: string;
  video?: { pt: number; fmtp: string; /** The payload type of its RTX (RFC 4588), when offered. */ rtx?: number };
  audio?: { pt: number };
  /** The offerer's ICE ufrag (session id = "<ours>:<theirs>", as SRS). */
  iceUfrag: string;
  /** Directions of the media sections ("sendonly" from a publisher, "recvonly" from a player). */
  directions: string[];
}

function parseFmtp(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of s.split(";")) {
    const i = kv.indexOf("=");
    if (i > 0) m.set(kv.slice(0, i).trim().toLowerCase(), kv.slice(i + 1).trim().toLowerCase());
  }
  return m;
}

/** Validates an offer and rewrites it to the codecs we use. Throws SdpError with a reason for the client. */
export function prepareOffer(raw: string): OfferInfo {
  const text = raw.replace(/\r?\n/g, "\n").trim();
  if (!text.startsWith("v=0")) throw new SdpError("not an SDP offer (must start with v=0)");
  const lines = text.split("\n").filter((l) => l.length);
  for (const l of lines) if (!/^[a-z]=/.test(l)) throw new SdpError(`bad SDP line: ${l.slice(0, 60)}`);
  const session: string[] = [];
  const sections: Section[] = [];
  for (const l of lines) {
    if (l.startsWith("m=")) sections.push({ lines: [l], kind: l.slice(2).split(" ")[0] ?? "" });
    else if (sections.length) sections[sections.length - 1]!.lines.push(l);
    else session.push(l);
  }
  if (!sections.length) throw new SdpError("SDP has no media sections");
  const ufragLine = lines.find((l) => l.startsWith("a=ice-ufrag:"));
  if (!ufragLine) throw new SdpError("SDP has no a=ice-ufrag");
  if (!lines.some((l) => l.startsWith("a=fingerprint:"))) throw new SdpError("SDP has no DTLS fingerprint");
  const info: OfferInfo = { sdp: "", iceUfrag: ufragLine.slice(12).trim(), directions: [] };
  const out = [...session];
  for (const s of sections) {
    if (s.kind === "video") {
      const pick = pickH264(s.lines);
      if (!pick) throw new SdpError("SDP video has no H.264 (packetization-mode=1); only H.264 video is supported");
      info.video = { pt: pick.pt, fmtp: pick.fmtp, rtx: pick.keep[1] };
      out.push(...keepPayloads(s.lines, pick.keep));
    } else if (s.kind === "audio") {
      const pt = rtpmaps(s.lines).find((r) => r.name === "opus")?.pt;
      if (pt === undefined) throw new SdpError("SDP audio has no Opus; only Opus audio is supported");
      info.audio = { pt };
      out.push(...keepPayloads(s.lines, [pt]));
    } else {
      throw new SdpError(`SDP media "${s.kind}" is not supported (audio and video only)`);
    }
    const dir = s.lines.find((l) => /^a=(sendonly|recvonly|sendrecv|inactive)$/.test(l));
    info.directions.push(dir ? dir.slice(2) : "sendrecv");
  }
  info.sdp = out.join("\r\n") + "\r\n";
  return info;
}

function rtpmaps(lines: string[]): { pt: number; name: string }[] {
  const r: { pt: number; name: string }[] = [];
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
    if (m) r.push({ pt: Number(m[1]), name: m[2]!.toLowerCase() });
  }
  return r;
}

function fmtpOf(lines: string[], pt: number): string {
  const l = lines.find((x) => x.startsWith(`a=fmtp:${pt} `));
  return l ? l.slice(`a=fmtp:${pt} `.length) : "";
}

function pickH264(lines: string[]): { pt: number; fmtp: string; keep: number[] } | undefined {
  const maps = rtpmaps(lines);
  let best: { pt: number; fmtp: string; score: number } | undefined;
  for (const r of maps) {
    if (r.name !== "h264") continue;
    const fmtp = fmtpOf(lines, r.pt);
    const p = parseFmtp(fmtp);
    if (p.get("packetization-mode") !== "1") continue;
    const profile = p.get("profile-level-id") ?? "42e01f";
    // constrained baseline (42e0, 4200 with constraint flags) first, then the rest in offer order
    const score = profile.startsWith("42e0") ? 3 : profile.startsWith("4200") ? 2 : 1;
    if (!best || score > best.score) best = { pt: r.pt, fmtp, score };
  }
  if (!best) return undefined;
  const keep = [best.pt];
  // its RTX (one: a second one for the same codec would only confuse the answer)
  const rtx = maps.find((r) => r.name === "rtx" && parseFmtp(fmtpOf(lines, r.pt)).get("apt") === String(best.pt));
  if (rtx) keep.push(rtx.pt);
  return { pt: best.pt, fmtp: best.fmtp, keep };
}

/** The section with only the given payload types (m= list, rtpmap, fmtp, rtcp-fb lines). */
function keepPayloads(lines: string[], keep: number[]): string[] {
  const ks = new Set(keep);
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith("m=")) {
      const parts = l.split(" ");
      out.push([...parts.slice(0, 3), ...keep.map(String)].join(" "));
      continue;
    }
    const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)[ ]/.exec(l);
    if (m && !ks.has(Number(m[2]))) continue;
    out.push(l);
  }
  return out;
}

export interface CandidateAddress {
  ip: string;
  port: number;
  /** "udp" when absent; "tcp": a passive ICE-TCP candidate (RFC 6544). */
  transport?: "udp" | "tcp";
}

/**
 * The addresses to advertise: `?eip=ip[:port]` when given; else rtc_server.candidate: a fixed address, or
 * `*` = this host's interface addresses of `ip_family` (default IPv4; IPv6 ones, link-local excepted, for `ipv6`
 * or `all`); with api_as_candidates, the API host the client used when it is an IP address (so a client on
 * 127.0.0.1 or [::1] gets a loopback candidate). Each address gets the port of the socket of its family: `port`
 * (IPv4) and `port6` (IPv6, when rtc_server listens on an IPv6 address); an address of a family no socket takes
 * is not advertised.
 */
export function candidateAddresses(opts: {
  candidate: string;
  /** The IPv4 socket's port (undefined: none). */
  port: number | undefined;
  /** The IPv6 socket's port (undefined: none). */
  port6?: number;
  ipFamily?: "ipv4" | "ipv6" | "all";
  eip?: string;
  apiHost?: string;
  apiAsCandidates: boolean;
}): CandidateAddress[] {
  const portOf = (ip: string) => (ip.includes(":") ? opts.port6 : opts.port);
  if (opts.eip) {
    const eip = opts.eip.trim();
    // A bare IPv6 address has several colons and no port ("fd00::9"); else "1.2.3.4[:port]" or "[v6][:port]".
    if (!eip.startsWith("[") && eip.split(":").length > 2) return [{ ip: eip, port: portOf(eip) ?? opts.port ?? 0 }];
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(eip);
    if (m && (m[1]!.includes(".") || m[1]!.includes(":"))) {
      const own = portOf(m[1]!) ?? opts.port ?? 0;
      const port = m[2] ? Number(m[2]) : own;
      return [{ ip: m[1]!, port: port > 0 && port < 65536 ? port : own }];
    }
  }
  const out: CandidateAddress[] = [];
  const add = (ip: string) => {
    const port = portOf(ip);
    if (ip && port !== undefined && !out.some((c) => c.ip === ip)) out.push({ ip, port });
  };
  const family = opts.ipFamily ?? "ipv4";
  const c = opts.candidate.trim();
  if (c && c !== "*" && c !== "0.0.0.0" && c !== "::") add(c);
  else {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.internal) continue;
        const v4 = a.family === "IPv4" || (a.family as unknown) === 4;
        if (v4 ? family !== "ipv6" : family !== "ipv4" && !a.address.toLowerCase().startsWith("fe80:")) add(a.address);
      }
    }
  }
  const api = opts.apiHost ?? "";
  if (opts.apiAsCandidates && (/^\d+\.\d+\.\d+\.\d+$/.test(api) || (api.includes(":") && /^[0-9a-fA-F:.]+$/.test(api)))) add(api);
  if (!out.length) {
    add("127.0.0.1");
    add("::1");
  }
  return out;
}
