/**
 * SRT v5 handshake (draft-sharabayko-srt §3.2.1, §4.3): the handshake CIF, its extensions (HSREQ/HSRSP,
 * KMREQ/KMRSP, SID), the stateless SYN cookie and the listener's conclusion negotiation.
 *
 * The listener keeps no state before a valid conclusion: the induction reply carries a cookie that is an HMAC of
 * the peer address/port and the current minute, so a flood of inductions costs one HMAC and one reply each.
 */
import { hmac, randomBytes } from "../../runtime/hash.ts";
import { acceptKm, type KmResult, KM_S_BADSECRET, KM_S_NOSECRET, parseKm } from "./crypto.ts";
import { copyBytes, readU32, SrtPacketError, writeU32 } from "./packet.ts";

export const HS_CIF_SIZE = 48;
export const SRT_MAGIC = 0x4a17;
export const UDT_DGRAM = 2;

export const HS_DONE = 0xfffffffd;
export const HS_AGREEMENT = 0xfffffffe;
export const HS_CONCLUSION = 0xffffffff;
export const HS_WAVEAHAND = 0;
export const HS_INDUCTION = 1;

// Extension flags (Extension Field of a CONCLUSION).
export const HS_EXT_HSREQ = 0x1;
export const HS_EXT_KMREQ = 0x2;
export const HS_EXT_CONFIG = 0x4;

// Extension types.
export const EXT_HSREQ = 1;
export const EXT_HSRSP = 2;
export const EXT_KMREQ = 3;
export const EXT_KMRSP = 4;
export const EXT_SID = 5;
export const EXT_CONGESTION = 6;
export const EXT_FILTER = 7;
export const EXT_GROUP = 8;

// HSREQ/HSRSP flags.
export const SRT_OPT_TSBPDSND = 0x01;
export const SRT_OPT_TSBPDRCV = 0x02;
export const SRT_OPT_CRYPT = 0x04;
export const SRT_OPT_TLPKTDROP = 0x08;
export const SRT_OPT_NAKREPORT = 0x10;
export const SRT_OPT_REXMITFLG = 0x20;
export const SRT_OPT_STREAM = 0x40;
export const SRT_OPT_FILTERCAP = 0x80;

/** The SRT version we announce in HSREQ/HSRSP (1.5.0). */
export const SRT_VERSION = 0x010500;

// Rejection reasons (Handshake Type of a rejecting CONCLUSION response).
export const REJ_UNKNOWN = 1000;
export const REJ_SYSTEM = 1001;
export const REJ_PEER = 1002;
export const REJ_RESOURCE = 1003;
export const REJ_ROGUE = 1004;
export const REJ_BACKLOG = 1005;
export const REJ_IPE = 1006;
export const REJ_CLOSE = 1007;
export const REJ_VERSION = 1008;
export const REJ_RDVCOOKIE = 1009;
export const REJ_BADSECRET = 1010;
export const REJ_UNSECURE = 1011;
export const REJ_MESSAGEAPI = 1012;
export const REJ_CONGESTION = 1013;
export const REJ_FILTER = 1014;
export const REJ_GROUP = 1015;
export const REJ_TIMEOUT = 1016;
export const REJ_CRYPTO = 1017;
/** Application ("REJX") codes: 1000 + an HTTP-like status; libsrt reports them through srt_getrejectreason. */
export const REJX_BAD_REQUEST = 1400;
export const REJX_UNAUTHORIZED = 1401;
export const REJX_OVERLOAD = 1402;
export const REJX_FORBIDDEN = 1403;
export const REJX_NOTFOUND = 1404;
export const REJX_BAD_MODE = 1405;
export const REJX_UNACCEPTABLE = 1406;
export const REJX_CONFLICT = 1409;
export const REJX_ISE = 1500;
export const REJX_UNIMPLEMENTED = 1501;
export const REJX_GW = 1502;
export const REJX_DOWN = 1503;

export function isRejection(type: number): boolean {
  return type >= 1000 && type < 3000;
}

export interface HsExtension {
  type: number;
  /** Contents (length is a multiple of 4). */
  data: Uint8Array;
}

export interface Handshake {
  version: number;
  encryption: number;
  extension: number;
  isn: number;
  mtu: number;
  flowWindow: number;
  type: number;
  socketId: number;
  cookie: number;
  /** 16 bytes. */
  peerIp: Uint8Array;
  extensions: HsExtension[];
}

const MAX_EXTENSIONS = 16;

/** Decodes a handshake CIF (the bytes after the 16-byte header). Throws SrtPacketError. */
export function decodeHandshake(cif: Uint8Array): Handshake {
  if (cif.length < HS_CIF_SIZE) throw new SrtPacketError(`handshake CIF too short: ${cif.length}`);
  const hs: Handshake = {
    version: readU32(cif, 0),
    encryption: (cif[4]! << 8) | cif[5]!,
    extension: (cif[6]! << 8) | cif[7]!,
    isn: readU32(cif, 8) & 0x7fffffff,
    mtu: readU32(cif, 12),
    flowWindow: readU32(cif, 16),
    type: readU32(cif, 20),
    socketId: readU32(cif, 24),
    cookie: readU32(cif, 28),
    peerIp: copyBytes(cif, 32, 48),
    extensions: [],
  };
  let o = HS_CIF_SIZE;
  while (o + 4 <= cif.length) {
    const type = (cif[o]! << 8) | cif[o + 1]!;
    const words = (cif[o + 2]! << 8) | cif[o + 3]!;
    o += 4;
    const end = o + words * 4;
    if (end > cif.length) throw new SrtPacketError(`handshake extension ${type} overruns the packet`);
    if (hs.extensions.length >= MAX_EXTENSIONS) throw new SrtPacketError("too many handshake extensions");
    hs.extensions.push({ type, data: copyBytes(cif, o, end) });
    o = end;
  }
  return hs;
}

/** Encodes a handshake CIF with its extensions. */
export function encodeHandshake(hs: Handshake): Uint8Array {
  let len = HS_CIF_SIZE;
  for (const e of hs.extensions) len += 4 + e.data.length;
  const out = new Uint8Array(len);
  writeU32(out, 0, hs.version);
  out[4] = hs.encryption >>> 8;
  out[5] = hs.encryption;
  out[6] = hs.extension >>> 8;
  out[7] = hs.extension;
  writeU32(out, 8, hs.isn);
  writeU32(out, 12, hs.mtu);
  writeU32(out, 16, hs.flowWindow);
  writeU32(out, 20, hs.type);
  writeU32(out, 24, hs.socketId);
  writeU32(out, 28, hs.cookie);
  out.set(hs.peerIp.subarray(0, 16), 32);
  let o = HS_CIF_SIZE;
  for (const e of hs.extensions) {
    if (e.data.length % 4 !== 0) throw new Error("handshake extension length must be a multiple of 4");
    out[o] = e.type >>> 8;
    out[o + 1] = e.type;
    out[o + 2] = (e.data.length / 4) >>> 8;
    out[o + 3] = e.data.length / 4;
    out.set(e.data, o + 4);
    o += 4 + e.data.length;
  }
  return out;
}

export interface HsReq {
  version: number;
  flags: number;
  /** Receiver TSBPD delay (ms): the latency the sender of this message wants for what it receives. */
  recvDelayMs: number;
  /** Sender TSBPD delay (ms): the latency the sender of this message proposes for what its peer receives. */
  sendDelayMs: number;
}

export function decodeHsReq(d: Uint8Array): HsReq {
  if (d.length < 12) throw new SrtPacketError(`HSREQ too short: ${d.length}`);
  return {
    version: readU32(d, 0),
    flags: readU32(d, 4),
    recvDelayMs: (d[8]! << 8) | d[9]!,
    sendDelayMs: (d[10]! << 8) | d[11]!,
  };
}

export function encodeHsReq(r: HsReq): Uint8Array {
  const d = new Uint8Array(12);
  writeU32(d, 0, r.version);
  writeU32(d, 4, r.flags);
  d[8] = r.recvDelayMs >>> 8;
  d[9] = r.recvDelayMs;
  d[10] = r.sendDelayMs >>> 8;
  d[11] = r.sendDelayMs;
  return d;
}

export const MAX_SID_BYTES = 512;

/** Stream ID: UTF-8 packed into 32-bit words whose bytes are reversed (little-endian words), zero padded. */
export function decodeSid(d: Uint8Array): string {
  if (d.length > MAX_SID_BYTES) throw new SrtPacketError(`stream id too long: ${d.length}`);
  const b = new Uint8Array(d.length);
  for (let i = 0; i + 3 < d.length; i += 4) {
    b[i] = d[i + 3]!;
    b[i + 1] = d[i + 2]!;
    b[i + 2] = d[i + 1]!;
    b[i + 3] = d[i]!;
  }
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return new TextDecoder().decode(b.subarray(0, end));
}

export function encodeSid(s: string): Uint8Array {
  const raw = new TextEncoder().encode(s);
  if (raw.length > MAX_SID_BYTES) throw new Error(`stream id too long: ${raw.length} bytes`);
  const d = new Uint8Array(Math.ceil(raw.length / 4) * 4);
  for (let i = 0; i < raw.length; i++) {
    const w = i & ~3;
    d[w + 3 - (i & 3)] = raw[i]!;
  }
  return d;
}

/** Writes a peer address into the 16-byte handshake field (IPv4: first 32-bit word, the address in host order as libsrt does on little-endian hosts). */
export function peerIpBytes(address: string): Uint8Array {
  const out = new Uint8Array(16);
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (m) {
    out[0] = Number(m[4]);
    out[1] = Number(m[3]);
    out[2] = Number(m[2]);
    out[3] = Number(m[1]);
  }
  return out;
}

// ---- SYN cookie ---------------------------------------------------------------------------------------------

/** Stateless SYN cookies: HMAC-SHA256(secret, address|port|minute), 32 bits; the previous minute is accepted too. */
export class CookieJar {
  private secret = randomBytes(32);

  constructor(private readonly now: () => number = Date.now) {}

  private compute(address: string, port: number, minute: number): number {
    const h = hmac("sha256", this.secret, `${address}|${port}|${minute}`);
    return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
  }

  make(address: string, port: number): number {
    return this.compute(address, port, Math.floor(this.now() / 60000));
  }

  check(address: string, port: number, cookie: number): boolean {
    const m = Math.floor(this.now() / 60000);
    return cookie >>> 0 === this.compute(address, port, m) || cookie >>> 0 === this.compute(address, port, m - 1);
  }
}

// ---- Listener negotiation -----------------------------------------------------------------------------------

export interface ListenerConfig {
  /** ms; both directions unless overridden. */
  latency: number;
  recvLatency?: number;
  peerLatency?: number;
  tlpktdrop: boolean;
  tsbpd: boolean;
  passphrase?: string;
  /** 0 = take the caller's. */
  pbkeylen: number;
  mtu: number;
  flowWindow: number;
}

export interface Negotiated {
  streamId: string;
  /** Our receive latency (ms). */
  rcvLatencyMs: number;
  /** The peer's receive latency (ms): what we send with. */
  sndLatencyMs: number;
  tlpktdrop: boolean;
  tsbpd: boolean;
  peerFlags: number;
  peerVersion: number;
  mtu: number;
  flowWindow: number;
  crypto: Extract<KmResult, { ok: true }> | null;
  /** Extensions of our CONCLUSION response (HSRSP, KMRSP). */
  responseExtensions: HsExtension[];
  responseExtFlags: number;
}

export type NegotiationResult = { ok: true; value: Negotiated } | { ok: false; code: number; reason: string };

/** Checks a caller's v5 CONCLUSION and computes what we answer. Pure: no I/O, no state. */
export function negotiateConclusion(req: Handshake, cfg: ListenerConfig): NegotiationResult {
  if (req.version !== 5) return { ok: false, code: REJ_VERSION, reason: `handshake version ${req.version}` };
  let hsreq: HsReq | null = null;
  let km: Uint8Array | null = null;
  let streamId = "";
  try {
    for (const e of req.extensions) {
      if (e.type === EXT_HSREQ) hsreq = decodeHsReq(e.data);
      else if (e.type === EXT_KMREQ) km = e.data;
      else if (e.type === EXT_SID) streamId = decodeSid(e.data);
      else if (e.type === EXT_CONGESTION) {
        const cc = decodeSid(e.data);
        if (cc !== "live") return { ok: false, code: REJ_CONGESTION, reason: `congestion control ${cc}` };
      } else if (e.type === EXT_FILTER) {
        return { ok: false, code: REJ_FILTER, reason: "packet filters are not supported" };
      } else if (e.type === EXT_GROUP) {
        return { ok: false, code: REJ_GROUP, reason: "socket groups are not supported" };
      }
    }
  } catch (e) {
    return { ok: false, code: REJ_ROGUE, reason: (e as Error).message };
  }
  if (!hsreq) return { ok: false, code: REJ_ROGUE, reason: "CONCLUSION without HSREQ" };
  if (hsreq.flags & SRT_OPT_STREAM) return { ok: false, code: REJ_MESSAGEAPI, reason: "stream (file) mode is not supported" };

  const ourRecv = cfg.recvLatency ?? cfg.latency;
  const ourPeer = cfg.peerLatency ?? cfg.latency;
  const peerTsbpdSnd = (hsreq.flags & SRT_OPT_TSBPDSND) !== 0;
  const peerTsbpdRcv = (hsreq.flags & SRT_OPT_TSBPDRCV) !== 0;
  const rcvLatencyMs = Math.max(ourRecv, peerTsbpdSnd ? hsreq.sendDelayMs : 0);
  const sndLatencyMs = Math.max(ourPeer, peerTsbpdRcv ? hsreq.recvDelayMs : 0);
  const tsbpd = cfg.tsbpd && peerTsbpdSnd;
  const tlpktdrop = cfg.tlpktdrop && (hsreq.flags & SRT_OPT_TLPKTDROP) !== 0;

  const responseExtensions: HsExtension[] = [];
  let responseExtFlags = HS_EXT_HSREQ;
  let crypto: Negotiated["crypto"] = null;
  if (km) {
    responseExtFlags |= HS_EXT_KMREQ;
    if (!cfg.passphrase) {
      return { ok: false, code: REJ_UNSECURE, reason: "the caller encrypts but no passphrase is configured" };
    }
    let r: KmResult;
    try {
      const msg = parseKm(km);
      if (cfg.pbkeylen && msg.klen !== cfg.pbkeylen) {
        return { ok: false, code: REJ_BADSECRET, reason: `key length ${msg.klen} != pbkeylen ${cfg.pbkeylen}` };
      }
      r = acceptKm(msg, cfg.passphrase);
    } catch (e) {
      return { ok: false, code: REJ_ROGUE, reason: `bad KMREQ: ${(e as Error).message}` };
    }
    if (!r.ok) {
      const code = r.state === KM_S_BADSECRET ? REJ_BADSECRET : r.state === KM_S_NOSECRET ? REJ_UNSECURE : REJ_CRYPTO;
      return { ok: false, code, reason: `KM state ${r.state}: ${r.reason}` };
    }
    crypto = r;
    responseExtensions.push({ type: EXT_KMRSP, data: km });
  } else if (cfg.passphrase) {
    return { ok: false, code: REJ_UNSECURE, reason: "a passphrase is configured but the caller does not encrypt" };
  }

  let flags = SRT_OPT_CRYPT | SRT_OPT_REXMITFLG | SRT_OPT_NAKREPORT;
  if (tsbpd) flags |= SRT_OPT_TSBPDRCV;
  if (peerTsbpdRcv) flags |= SRT_OPT_TSBPDSND;
  if (tlpktdrop) flags |= SRT_OPT_TLPKTDROP;
  responseExtensions.unshift({
    type: EXT_HSRSP,
    data: encodeHsReq({ version: SRT_VERSION, flags, recvDelayMs: rcvLatencyMs, sendDelayMs: sndLatencyMs }),
  });
  return {
    ok: true,
    value: {
      streamId, rcvLatencyMs, sndLatencyMs, tlpktdrop, tsbpd, peerFlags: hsreq.flags, peerVersion: hsreq.version,
      mtu: Math.min(req.mtu || cfg.mtu, cfg.mtu), flowWindow: Math.min(req.flowWindow || cfg.flowWindow, cfg.flowWindow),
      crypto, responseExtensions, responseExtFlags,
    },
  };
}
