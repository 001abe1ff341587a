/**
 * IP addresses as text, for security rules (`allow play 10.0.0.0/8;`) and the clients they judge: parse an IPv4 or
 * IPv6 address into its bytes and test a CIDR prefix. Small on purpose: this runs for rules only, and the
 * ipaddr.js package it replaces built tables at import (≈0.4 MB of an idle server's RSS); tests/unit/net/ip.test.ts
 * checks it against ipaddr.js.
 *
 * - IPv4: dotted decimal, exactly four parts of 0-255 (RFC 791 notation; not the inet_aton shorthands `127.1` or
 *   `0x7f.1`, which name other addresses than they seem to in a rule). A leading zero is refused (`010.0.0.1`:
 *   octal to inet_aton, decimal to others).
 * - IPv6: RFC 4291 §2.2 text forms: eight groups of 1-4 hex digits, one `::` for a run of zero groups, the last
 *   32 bits optionally as dotted IPv4; a zone (`fe80::1%eth0`, RFC 4007 §11: letters and
 *   digits here) is ignored.
 * - An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, RFC 4291 §2.5.5.2: how dual-stack sockets show IPv4 clients) is
 *   its IPv4 address.
 */

export interface IpAddr {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

function parseDecimalPart(s: string): number {
  if (s.length === 0 || s.length > 3 || (s.length > 1 && s[0] === "0")) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= 255 ? n : -1;
}

/** Dotted-decimal IPv4 into `out` at `at`; false when `s` is not one. */
function parseV4Into(s: string, out: Uint8Array, at: number): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const n = parseDecimalPart(parts[i]!);
    if (n < 0) return false;
    out[at + i] = n;
  }
  return true;
}

function parseHexGroup(s: string): number {
  if (s.length === 0 || s.length > 4) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n;
}

/** The groups of one side of `::` as bytes (the last may be dotted IPv4); undefined when malformed. */
function parseV6Side(s: string, allowV4Tail: boolean): number[] | undefined {
  if (s === "") return [];
  const groups = s.split(":");
  const bytes: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (allowV4Tail && i === groups.length - 1 && g.includes(".")) {
      const v4 = new Uint8Array(4);
      if (!parseV4Into(g, v4, 0)) return undefined;
      bytes.push(...v4);
      continue;
    }
    const n = parseHexGroup(g);
    if (n < 0) return undefined;
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

/** A zone index as ipaddr.js takes it: letters and digits (an interface name or number). */
function isZone(z: string): boolean {
  if (z.length === 0) return false;
  for (let i = 0; i < z.length; i++) {
    const c = z.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122))) return false;
  }
  return true;
}

function parseV6(text: string): Uint8Array | undefined {
  const pct = text.indexOf("%");
  const s = pct < 0 ? text : text.slice(0, pct);
  if (s.length < 2 || (pct >= 0 && !isZone(text.slice(pct + 1)))) return undefined;
  const gap = s.indexOf("::");
  const out = new Uint8Array(16);
  if (gap < 0) {
    const all = parseV6Side(s, true);
    if (!all || all.length !== 16) return undefined;
    out.set(all);
    return out;
  }
  if (s.indexOf("::", gap + 1) >= 0) return undefined;
  const head = parseV6Side(s.slice(0, gap), false);
  const tail = parseV6Side(s.slice(gap + 2), true);
  // `::` stands for at least one zero group.
  if (!head || !tail || head.length + tail.length > 14) return undefined;
  out.set(head, 0);
  out.set(tail, 16 - tail.length);
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** An address as a client or a rule gives it; undefined when it is neither IPv4 nor IPv6. */
export function parseIp(s: string): IpAddr | undefined {
  if (s.includes(":")) {
    const b = parseV6(s);
    if (!b) return undefined;
    return isV4Mapped(b) ? { family: 4, bytes: b.slice(12) } : { family: 6, bytes: b };
  }
  const b = new Uint8Array(4);
  return parseV4Into(s, b, 0) ? { family: 4, bytes: b } : undefined;
}

/** True when the first `bits` bits of `a` and `net` are equal (same family only). */
export function inPrefix(a: IpAddr, net: IpAddr, bits: number): boolean {
  if (a.family !== net.family || bits < 0 || bits > a.bytes.length * 8) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a.bytes[i] !== net.bytes[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a.bytes[whole]! & mask) === (net.bytes[whole]! & mask);
}
