/**
 * The few STUN facts the shared UDP port needs before a datagram reaches a session (RFC 8489 / RFC 5389):
 * recognise a STUN message, read its USERNAME ("<our ufrag>:<their ufrag>" in ICE, RFC 8445 7.2.2) and check
 * MESSAGE-INTEGRITY (HMAC-SHA1 keyed by our ICE password, RFC 8489 14.5). Packet kinds on the port follow
 * RFC 7983 (first byte 0..3 STUN, 20..63 DTLS, 128..191 RTP/RTCP).
 */
import { createHmac } from "node:crypto";

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_BINDING_REQUEST = 0x0001;
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
  const mac = createHmac("sha1", password).update(covered).digest();
  for (let i = 0; i < 20; i++) if (mac[i] !== mi.value[i]) return false;
  return true;
}

function readU32(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}
