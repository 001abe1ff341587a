/**
 * SDP (RFC 4566) for RTSP: the session description we answer DESCRIBE with, made from the stream's sequence
 * headers, and the one a publisher sends with ANNOUNCE, read into tracks.
 *
 * Per codec (payload formats):
 *  - H.264 (RFC 6184 8.1): `H264/90000`, fmtp packetization-mode=1, profile-level-id, sprop-parameter-sets;
 *  - H.265 (RFC 7798 7.1): `H265/90000`, fmtp sprop-vps/sprop-sps/sprop-pps;
 *  - AAC (RFC 3640 4.1): `MPEG4-GENERIC/<rate>/<channels>`, fmtp streamtype=5, mode=AAC-hbr, sizelength=13,
 *    indexlength=3, indexdeltalength=3, config=<AudioSpecificConfig hex>;
 *  - Opus (RFC 7587 7): `opus/48000/2`;
 *  - G.711 (RFC 3551 6): static payload types 0 (PCMU/8000) and 8 (PCMA/8000).
 * Every media gets `a=control:trackID=<n>` (RFC 2326 C.1.1), relative to the Content-Base we send.
 */
import { parseAvcConfig } from "../../media/avc.ts";
import { parseHevcConfig } from "../../media/hevc.ts";
import { parseAudioSpecificConfig } from "../../media/aac.ts";
import { opusHeadChannels } from "../../media/opus-head.ts";
import type { MediaPacket } from "../../media/packet.ts";

export type RtspCodec = "h264" | "h265" | "aac" | "opus" | "pcma" | "pcmu";
/** How a publisher's AAC comes: RFC 3640 (mpeg4-generic) or RFC 6416 (MP4A-LATM). */
export type AacFormat = "generic" | "latm";

/** One media of a session description. */
export interface SdpTrack {
  kind: "video" | "audio";
  codec: RtspCodec;
  payloadType: number;
  clockRate: number;
  channels: number;
  /** The `a=control` value (relative or absolute). */
  control: string;
  /** fmtp parameters, names lower-cased. */
  fmtp: Map<string, string>;
  /** AAC in an ANNOUNCE: its payload format. */
  aacFormat?: AacFormat;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The track a sequence header (or a codec without one) is sent as; undefined when RTSP cannot carry it. */
export function trackFor(p: MediaPacket | undefined, codec: string, index: number): SdpTrack | undefined {
  const control = `trackID=${index}`;
  const fmtp = new Map<string, string>();
  if (codec === "h264") {
    fmtp.set("packetization-mode", "1");
    if (p) {
      const c = parseAvcConfig(p.data);
      const sps = c.sps[0];
      if (sps && sps.length >= 4) fmtp.set("profile-level-id", hex(sps.subarray(1, 4)));
      fmtp.set("sprop-parameter-sets", [...c.sps, ...c.pps].map(b64).join(","));
    }
    return { kind: "video", codec, payloadType: 96, clockRate: 90000, channels: 0, control, fmtp };
  }
  if (codec === "h265") {
    if (p) {
      const c = parseHevcConfig(p.data);
      if (c.vps.length) fmtp.set("sprop-vps", c.vps.map(b64).join(","));
      if (c.sps.length) fmtp.set("sprop-sps", c.sps.map(b64).join(","));
      if (c.pps.length) fmtp.set("sprop-pps", c.pps.map(b64).join(","));
    }
    return { kind: "video", codec, payloadType: 96, clockRate: 90000, channels: 0, control, fmtp };
  }
  if (codec === "aac") {
    if (!p) return undefined;
    const asc = parseAudioSpecificConfig(p.data);
    for (const [k, v] of [["profile-level-id", "1"], ["mode", "AAC-hbr"], ["sizelength", "13"], ["indexlength", "3"], ["indexdeltalength", "3"], ["config", hex(p.data)]]) fmtp.set(k!, v!);
    return { kind: "audio", codec, payloadType: 97, clockRate: asc.sampleRate, channels: asc.channels || 2, control, fmtp };
  }
  if (codec === "opus") {
    const ch = p ? opusHeadChannels(p.data) : 2;
    if (ch === 2) fmtp.set("sprop-stereo", "1");
    return { kind: "audio", codec, payloadType: 97, clockRate: 48000, channels: 2, control, fmtp };
  }
  if (codec === "pcma" || codec === "pcmu") {
    return { kind: "audio", codec, payloadType: codec === "pcmu" ? 0 : 8, clockRate: 8000, channels: 1, control, fmtp };
  }
  return undefined;
}

function rtpmap(t: SdpTrack): string {
  switch (t.codec) {
    case "h264": return `H264/90000`;
    case "h265": return `H265/90000`;
    case "aac": return `MPEG4-GENERIC/${t.clockRate}/${t.channels}`;
    case "opus": return `opus/48000/2`;
    case "pcmu": return `PCMU/8000`;
    case "pcma": return `PCMA/8000`;
  }
}

/** The session description of DESCRIBE (RFC 4566 5: v, o, s, c, t, then the media). */
export function buildSdp(o: { sessionId: string; address: string; name: string; tracks: readonly SdpTrack[] }): string {
  const lines = [
    "v=0",
    `o=- ${o.sessionId} 1 IN IP4 ${o.address}`,
    `s=${o.name.replace(/[\r\n]/g, "")}`,
    "c=IN IP4 0.0.0.0",
    "t=0 0",
    "a=tool:srs-ts",
    "a=control:*",
  ];
  for (const t of o.tracks) {
    lines.push(`m=${t.kind} 0 RTP/AVP ${t.payloadType}`, `a=rtpmap:${t.payloadType} ${rtpmap(t)}`);
    if (t.fmtp.size) lines.push(`a=fmtp:${t.payloadType} ${[...t.fmtp].map(([k, v]) => `${k}=${v}`).join(";")}`);
    lines.push(`a=control:${t.control}`);
  }
  return lines.join("\r\n") + "\r\n";
}

export class SdpError extends Error {}

/** Most media sections an ANNOUNCE may declare. */
const MAX_MEDIA = 8;

/**
 * Reads the tracks of a publisher's session description. Media we cannot take (another codec, a non-RTP
 * profile) come back as `unsupported` strings so the session can say what it drops.
 */
export function parseSdp(text: string): { tracks: SdpTrack[]; unsupported: string[]; control: string | undefined } {
  const tracks: SdpTrack[] = [];
  const unsupported: string[] = [];
  let sessionControl: string | undefined;
  interface Media { kind: string; pts: number[]; rtpmap: Map<number, string>; fmtp: Map<number, string>; control: string | undefined }
  const medias: Media[] = [];
  let cur: Media | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== "=") continue;
    const k = line[0];
    const v = line.slice(2);
    if (k === "m") {
      if (medias.length >= MAX_MEDIA) throw new SdpError(`more than ${MAX_MEDIA} media in the SDP`);
      const f = v.split(/\s+/);
      cur = { kind: f[0] ?? "", pts: f.slice(3).map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 128), rtpmap: new Map(), fmtp: new Map(), control: undefined };
      if (f[2] !== "RTP/AVP") cur.pts = [];
      medias.push(cur);
    } else if (k === "a") {
      const c = v.indexOf(":");
      const name = c < 0 ? v : v.slice(0, c);
      const value = c < 0 ? "" : v.slice(c + 1);
      if (name === "control") {
        if (cur) cur.control = value.trim();
        else sessionControl = value.trim();
      } else if (cur && (name === "rtpmap" || name === "fmtp")) {
        const m = /^(\d{1,3})\s+(.*)$/.exec(value);
        if (m) (name === "rtpmap" ? cur.rtpmap : cur.fmtp).set(Number(m[1]), m[2]!.trim());
      }
    }
  }
  medias.forEach((m, i) => {
    const pt = m.pts[0];
    if (pt === undefined || (m.kind !== "video" && m.kind !== "audio")) {
      unsupported.push(`${m.kind || "?"} (not RTP/AVP audio/video)`);
      return;
    }
    const map = m.rtpmap.get(pt) ?? (pt === 0 ? "PCMU/8000" : pt === 8 ? "PCMA/8000" : "");
    const [enc = "", rate = "", ch = ""] = map.split("/");
    const name = enc.toUpperCase();
    const codec: RtspCodec | undefined = name === "H264" ? "h264" : name === "H265" || name === "HEVC" ? "h265"
      : name === "MPEG4-GENERIC" || name === "MP4A-LATM" ? "aac" : name === "OPUS" ? "opus" : name === "PCMA" ? "pcma" : name === "PCMU" ? "pcmu" : undefined;
    if (!codec || (codec === "h264" || codec === "h265") !== (m.kind === "video")) {
      unsupported.push(`${m.kind} ${map || `payload type ${pt}`}`);
      return;
    }
    const fmtp = new Map<string, string>();
    for (const part of (m.fmtp.get(pt) ?? "").split(";")) {
      const e = part.indexOf("=");
      if (e > 0) fmtp.set(part.slice(0, e).trim().toLowerCase(), part.slice(e + 1).trim());
    }
    const clockRate = Number(rate) || (m.kind === "video" ? 90000 : 8000);
    if (name === "MP4A-LATM" && (fmtp.get("cpresent") ?? "1") !== "0") {
      unsupported.push(`${m.kind} ${map} with the config in band (cpresent=1)`);
      return;
    }
    const aacFormat = name === "MP4A-LATM" ? "latm" : name === "MPEG4-GENERIC" ? "generic" : undefined;
    tracks.push({ kind: m.kind, codec, payloadType: pt, clockRate, channels: Number(ch) || 1, control: m.control ?? `trackID=${i}`, fmtp, ...(aacFormat ? { aacFormat } : {}) });
  });
  return { tracks, unsupported, control: sessionControl };
}

/** Decodes a comma-separated list of base64 parameter sets (sprop-*); bad entries are skipped. */
export function spropList(v: string | undefined): Uint8Array[] {
  if (!v) return [];
  const out: Uint8Array[] = [];
  for (const s of v.split(",")) {
    const t = s.trim();
    if (!t || !/^[A-Za-z0-9+/=_-]+$/.test(t)) continue;
    const b = new Uint8Array(Buffer.from(t, "base64"));
    if (b.byteLength) out.push(b);
  }
  return out;
}

/** Whether a SETUP URL names the track whose control is `control` (absolute, or relative to the base). */
export function controlMatches(setupUrl: string, control: string): boolean {
  if (control === "*" || !control) return false;
  if (/^rtsp:\/\//i.test(control)) return stripQuery(setupUrl) === stripQuery(control);
  // FFmpeg appends the control after the query (rtsp://h/app/s?k=v/streamid=0): look at the whole URL too.
  const path = stripQuery(setupUrl);
  return path.endsWith(`/${control}`) || path === control || setupUrl.replace(/\/+$/, "").endsWith(`/${control}`);
}

function stripQuery(u: string): string {
  const q = u.indexOf("?");
  return (q < 0 ? u : u.slice(0, q)).replace(/\/+$/, "");
}
