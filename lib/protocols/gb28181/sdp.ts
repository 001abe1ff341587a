/**
 * The SDP GB28181 puts in INVITE / 200 OK (GB/T 28181-2016 Appendix F, on RFC 4566 lines): one media line
 * `m=video PORT RTP/AVP|TCP/RTP/AVP 96 ...`, rtpmap `96 PS/90000`, direction, the RFC 4145 TCP setup role
 * (`a=setup:active|passive`, `a=connection:new`), and two GB28181 lines after the media: `y=` the 10-digit SSRC
 * (decimal; its first digit 0 live, 1 playback) and `f=` the media description (`v/codec/res/fps/rc/kbps a/...`).
 *
 * Reading is lenient about order and unknown lines and bounded (at most 200 lines of 1 KiB, else SdpError);
 * writing emits the lines in the order cameras expect.
 */

export class SdpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SdpError";
  }
}

export interface GbSdpMedia {
  kind: string;
  port: number;
  /** "RTP/AVP" (UDP) or "TCP/RTP/AVP". */
  proto: string;
  /** rtpmap per payload type, in the m= line's order (name empty when no rtpmap). */
  formats: { payloadType: number; name: string; clockRate: number }[];
  direction: "sendonly" | "recvonly" | "sendrecv" | "inactive" | undefined;
  /** RFC 4145 4.1 setup role, TCP only. */
  setup: "active" | "passive" | "actpass" | undefined;
  /** RFC 4145 5.1. */
  connection: "new" | "existing" | undefined;
  /** Other a= lines, as written. */
  attributes: string[];
}

export interface GbSdp {
  /** o= username (a GB device ID) and session id/version. */
  origin: { username: string; sessionId: string; sessionVersion: string; address: string };
  /** s= Play | Playback | Download | Talk. */
  sessionName: string;
  /** u= channel:type for playback. */
  uri: string | undefined;
  /** c= address. */
  address: string;
  /** t= start and stop (0 0 for live). */
  time: { start: string; stop: string };
  media: GbSdpMedia[];
  /** y= SSRC, as written (10 decimal digits), or undefined. */
  ssrc: string | undefined;
  /** f= media description, or undefined. */
  f: string | undefined;
}

const MAX_LINES = 200;
const MAX_LINE = 1024;

/** Parses GB28181 SDP text. Throws SdpError saying what is missing or malformed. */
export function parseGbSdp(text: string): GbSdp {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length > MAX_LINES) throw new SdpError(`SDP: more than ${MAX_LINES} lines`);
  const sdp: GbSdp = {
    origin: { username: "", sessionId: "0", sessionVersion: "0", address: "" }, sessionName: "", uri: undefined, address: "",
    time: { start: "0", stop: "0" }, media: [], ssrc: undefined, f: undefined,
  };
  let m: GbSdpMedia | undefined;
  for (const line of lines) {
    if (line.length > MAX_LINE) throw new SdpError(`SDP: line over ${MAX_LINE} bytes`);
    if (line[1] !== "=") throw new SdpError(`SDP: bad line ${JSON.stringify(line.slice(0, 60))}`);
    const v = line.slice(2).trim();
    switch (line[0]) {
      case "v":
        if (v !== "0") throw new SdpError(`SDP: version ${v}`);
        break;
      case "o": {
        const p = v.split(/\s+/);
        if (p.length < 6) throw new SdpError(`SDP: bad o= line ${JSON.stringify(v)}`);
        sdp.origin = { username: p[0]!, sessionId: p[1]!, sessionVersion: p[2]!, address: p[5]! };
        break;
      }
      case "s": sdp.sessionName = v; break;
      case "u": sdp.uri = v; break;
      case "c": {
        const p = v.split(/\s+/);
        if (p.length < 3) throw new SdpError(`SDP: bad c= line ${JSON.stringify(v)}`);
        if (!m || !sdp.address) sdp.address = p[2]!;
        break;
      }
      case "t": {
        const p = v.split(/\s+/);
        sdp.time = { start: p[0] ?? "0", stop: p[1] ?? "0" };
        break;
      }
      case "m": {
        const p = v.split(/\s+/);
        const port = Number(p[1]);
        if (p.length < 4 || !Number.isInteger(port) || port < 0 || port > 65535) throw new SdpError(`SDP: bad m= line ${JSON.stringify(v)}`);
        const formats = p.slice(3).map((x) => {
          const pt = Number(x);
          if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new SdpError(`SDP: payload type ${JSON.stringify(x)}`);
          return { payloadType: pt, name: "", clockRate: 0 };
        });
        m = { kind: p[0]!, port, proto: p[2]!, formats, direction: undefined, setup: undefined, connection: undefined, attributes: [] };
        sdp.media.push(m);
        break;
      }
      case "a": {
        if (!m) break; // session-level attributes are not used by GB28181
        const colon = v.indexOf(":");
        const name = colon < 0 ? v : v.slice(0, colon);
        const value = colon < 0 ? "" : v.slice(colon + 1).trim();
        if (name === "sendonly" || name === "recvonly" || name === "sendrecv" || name === "inactive") m.direction = name;
        else if (name === "rtpmap") {
          const r = /^(\d+)\s+([^/\s]+)\/(\d+)/.exec(value);
          if (!r) throw new SdpError(`SDP: bad rtpmap ${JSON.stringify(value)}`);
          const f = m.formats.find((x) => x.payloadType === Number(r[1]));
          if (f) {
            f.name = r[2]!;
            f.clockRate = Number(r[3]);
          }
        } else if (name === "setup" && (value === "active" || value === "passive" || value === "actpass")) m.setup = value;
        else if (name === "connection" && (value === "new" || value === "existing")) m.connection = value;
        else m.attributes.push(v);
        break;
      }
      case "y":
        if (!/^\d{1,10}$/.test(v)) throw new SdpError(`SDP: bad y= SSRC ${JSON.stringify(v)}`);
        sdp.ssrc = v;
        break;
      case "f": sdp.f = v; break;
      default: break; // b=, i=, k=, ... not used
    }
  }
  if (sdp.media.length === 0) throw new SdpError("SDP: no m= line");
  return sdp;
}

/** The SDP text (CRLF lines) in the order GB28181 devices expect: session lines, media, then y= and f=. */
export function writeGbSdp(s: GbSdp): string {
  const out = [
    "v=0",
    `o=${s.origin.username} ${s.origin.sessionId} ${s.origin.sessionVersion} IN IP4 ${s.origin.address}`,
    `s=${s.sessionName}`,
  ];
  if (s.uri !== undefined) out.push(`u=${s.uri}`);
  out.push(`c=IN IP4 ${s.address}`, `t=${s.time.start} ${s.time.stop}`);
  for (const m of s.media) {
    out.push(`m=${m.kind} ${m.port} ${m.proto} ${m.formats.map((f) => f.payloadType).join(" ")}`);
    if (m.direction) out.push(`a=${m.direction}`);
    for (const f of m.formats) if (f.name) out.push(`a=rtpmap:${f.payloadType} ${f.name}/${f.clockRate}`);
    if (m.setup) out.push(`a=setup:${m.setup}`);
    if (m.connection) out.push(`a=connection:${m.connection}`);
    for (const a of m.attributes) out.push(`a=${a}`);
  }
  if (s.ssrc !== undefined) out.push(`y=${s.ssrc}`);
  if (s.f !== undefined) out.push(`f=${s.f}`);
  for (const l of out) if (/[\r\n]/.test(l)) throw new SdpError(`SDP: line break inside ${JSON.stringify(l)}`);
  return out.join("\r\n") + "\r\n";
}

/**
 * The SDP offer a server puts in its INVITE to receive a device's live video (GB/T 28181-2016 9.2.2 and F.2):
 * PS over RTP on `port`, over TCP (we listen: setup passive) or UDP.
 */
export function gbPlayOffer(o: { serverId: string; address: string; port: number; tcp: boolean; ssrc: string }): GbSdp {
  return {
    origin: { username: o.serverId, sessionId: "0", sessionVersion: "0", address: o.address },
    sessionName: "Play", uri: undefined, address: o.address, time: { start: "0", stop: "0" },
    media: [{
      kind: "video", port: o.port, proto: o.tcp ? "TCP/RTP/AVP" : "RTP/AVP",
      formats: [{ payloadType: 96, name: "PS", clockRate: 90000 }, { payloadType: 98, name: "H264", clockRate: 90000 }],
      direction: "recvonly", setup: o.tcp ? "passive" : undefined, connection: o.tcp ? "new" : undefined, attributes: [],
    }],
    ssrc: o.ssrc, f: undefined,
  };
}

/**
 * A GB28181 SSRC (GB/T 28181-2016 Appendix H): 10 decimal digits, first 0 (live) or 1 (history), then digits 4-8
 * of the domain ID (5 digits), then a 4-digit stream number.
 */
export function gbSsrc(o: { history: boolean; domainId: string; index: number }): string {
  const domain = o.domainId.length >= 8 ? o.domainId.slice(3, 8) : "00000";
  if (!/^\d{5}$/.test(domain)) throw new SdpError(`SSRC: domain ID ${JSON.stringify(o.domainId)} has no digits 4-8`);
  return `${o.history ? 1 : 0}${domain}${String(o.index % 10000).padStart(4, "0")}`;
}
