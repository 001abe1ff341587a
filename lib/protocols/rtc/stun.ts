/**
 * The few STUN facts the shared UDP port needs before a datagram reaches a session (RFC 8489 / RFC 5389):
 * recognise a STUN message, read its USERNAME ("<our ufrag>:<their ufrag>" in ICE, RFC 8445 7.2.2) and check
 * MESSAGE-INTEGRITY (HMAC-SHA1 keyed by our ICE password, RFC 8489 14.5). Packet kinds on the port follow
 * RFC 7983 (first byte 0..3 STUN, 20..63 DTLS, 128..191 RTP/RTCP). Also the Binding success response an
 * ICE-lite agent sends (RFC 8445 7.3, RFC 8489 7.3.1), for viewers that left werift after DTLS (session.ts).
 */
import { hmac } from "../../runtime/hash.ts";

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_BINDING_SUCCESS = 0x0101;
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
export const ATTR_USERNAME = 0x0006;
export const ATTR_MESSAGE_INTEGRITY = 0x0008;
export const ATTR_USE_CANDIDATE = 0x0025;
export const ATTR_FINGERPRINT = 0x8028;

export type DatagramKind = "stun" | "dtls" | "rtp" | "other";

export function datagramKind(d: Uint8Array): DatagramKind {
  if (d.byteLength === 0) return "other";
  const b = d[0]!;
  if (b <= 3) return isStun(d) ? "stun" : "other";
  if (b >= 20 && b <= 63) return "dtls";
  if (b >= 128 && b <= 191) return "rtp";
  return "other";
}

export function isStun(d: Uint8Array): boolean {
  if (d.byteLength < 20 || (d[0]! & 0xc0) !== 0) return false;
  const len = (d[2]! << 8) | d[3]!;
  if ((len & 3) !== 0 || 20 + len !== d.byteLength) return false;
  return readU32(d, 4) === STUN_MAGIC_COOKIE;
}

export interface StunAttribute {
  type: number;
  /** Offset of the attribute header in the message. */
  offset: number;
  value: Uint8Array;
}

export interface StunInfo {
  type: number;
  transactionId: Uint8Array;
  attributes: StunAttribute[];
}

/** Parses a STUN message's header and attributes; undefined when it is not well formed. */
export function parseStun(d: Uint8Array): StunInfo | undefined {
  if (!isStun(d)) return undefined;
  const type = (d[0]! << 8) | d[1]!;
  const attributes: StunAttribute[] = [];
  let off = 20;
  while (off + 4 <= d.byteLength) {
    const t = (d[off]! << 8) | d[off + 1]!;
    const l = (d[off + 2]! << 8) | d[off + 3]!;
    if (off + 4 + l > d.byteLength) return undefined;
    attributes.push({ type: t, offset: off, value: d.subarray(off + 4, off + 4 + l) });
    off += 4 + ((l + 3) & ~3);
  }
  if (off !== d.byteLength) return undefined;
  return { type, transactionId: d.subarray(8, 20), attributes };
}

export function stunAttr(m: StunInfo, type: number): StunAttribute | undefined {
  return m.attributes.find((a) => a.type === type);
}

/** USERNAME split at the first colon: in a check we receive, `local` is our ufrag, `remote` the peer's. */
export function stunUsername(m: StunInfo): { local: string; remote: string } | undefined {
  const a = stunAttr(m, ATTR_USERNAME);
  if (!a) return undefined;
  const s = new TextDecoder().decode(a.value);
  const i = s.indexOf(":");
  if (i <= 0) return undefined;
  return { local: s.slice(0, i), remote: s.slice(i + 1) };
}

/** Checks MESSAGE-INTEGRITY with the short-term credential `password` (RFC 8489 9.1.1, 14.5). */
export function verifyIntegrity(d: Uint8Array, m: StunInfo, password: string): boolean {
  const mi = stunAttr(m, ATTR_MESSAGE_INTEGRITY);
  if (!mi || mi.value.byteLength !== 20) return false;
  const covered = new Uint8Array(d.subarray(0, mi.offset));
  // The length field counts up to and including MESSAGE-INTEGRITY (not a FINGERPRINT after it).
  const len = mi.offset + 24 - 20;
  covered[2] = len >> 8;
  covered[3] = len & 0xff;
  const mac = hmac("sha1", password, covered);
  for (let i = 0; i < 20; i++) if (mac[i] !== mi.value[i]) return false;
  return true;
}

/**
 * A Binding success response (RFC 8489 7.3.1) to the request with `transactionId` received from ip:port:
 * XOR-MAPPED-ADDRESS (14.2), MESSAGE-INTEGRITY keyed by our ICE password (14.5) and FINGERPRINT (14.7), as an
 * ICE agent answers a connectivity check or a consent freshness request (RFC 8445 7.3.1.1, RFC 7675 5.2).
 */
export function bindingSuccess(transactionId: Uint8Array, ip: string, port: number, password: string): Uint8Array {
  const addr = ipBytes(ip);
  if (!addr) throw new Error(`not an IP address: ${ip}`);
  if (transactionId.byteLength !== 12) throw new Error("a STUN transaction id has 12 bytes");
  const xma = 4 + addr.byteLength; // reserved, family, x-port, x-address
  const total = 20 + (4 + xma) + 24 + 8;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  v.setUint16(0, STUN_BINDING_SUCCESS);
  v.setUint32(4, STUN_MAGIC_COOKIE);
  b.set(transactionId, 8);
  let o = 20;
  v.setUint16(o, ATTR_XOR_MAPPED_ADDRESS);
  v.setUint16(o + 2, xma);
  b[o + 5] = addr.byteLength === 4 ? 0x01 : 0x02;
  v.setUint16(o + 6, port ^ (STUN_MAGIC_COOKIE >>> 16));
  // X-Address: XOR with the magic cookie (IPv4), with the magic cookie and the transaction id (IPv6).
  for (let i = 0; i < addr.byteLength; i++) b[o + 8 + i] = addr[i]! ^ b[4 + i]!;
  o += 4 + xma;
  // MESSAGE-INTEGRITY over everything before it, the length field counting up to its end.
  v.setUint16(2, o + 24 - 20);
  const mac = hmac("sha1", password, b.subarray(0, o));
  v.setUint16(o, ATTR_MESSAGE_INTEGRITY);
  v.setUint16(o + 2, 20);
  b.set(mac, o + 4);
  o += 24;
  // FINGERPRINT: CRC-32 of everything before it XOR 0x5354554e, the length field now the whole message.
  v.setUint16(2, total - 20);
  v.setUint16(o, ATTR_FINGERPRINT);
  v.setUint16(o + 2, 4);
  v.setUint32(o + 4, (crc32(b.subarray(0, o)) ^ 0x5354554e) >>> 0);
  return b;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO/IEC 13239, reflected polynomial 0xEDB88320), as FINGERPRINT uses it (RFC 8489 14.7). */
export function crc32(d: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < d.byteLength; i++) c = crcTable[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address in text form (an IPv4-mapped IPv6 address stays 16 bytes). */
export function ipBytes(ip: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const b = v4.slice(1).map(Number);
    return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
  }
  const s = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!s.includes(":")) return undefined;
  // a trailing dotted IPv4 part (::ffff:1.2.3.4) becomes two groups
  let text = s;
  const tail = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  if (tail) {
    const b = ipBytes(tail[1]!);
    if (!b) return undefined;
    text = s.slice(0, -tail[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = 8 - head.length - rest.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  return out;
}

function readU32(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}
