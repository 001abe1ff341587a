/**
 * Digest authentication (RFC 2617 3.2, as SIP RFC 3261 22.4 and RTSP RFC 2326 D.1 use it): the challenge a server
 * sends in a 401 (a GB28181 server to a REGISTER, an RTSP server to DESCRIBE/ANNOUNCE), reading the client's
 * Authorization header, and checking its response (GB/T 28181-2016 9.1.2.1 for GB28181 devices).
 * MD5 only (what GB28181 devices and RTSP clients use); qop "auth" or none. Comparison is constant-time.
 */
import { Buffer } from "node:buffer";
import { nodeCrypto } from "../runtime/builtin.ts";
import { randomBytes } from "../runtime/hash.ts";

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: string;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

/** Splits `Digest a="b", c=d` into its parameters (names lower-cased); undefined when not a Digest header. */
export function parseDigestParams(header: string): Map<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*(?:,|$)/gy;
  const s = m[1]!;
  let r: RegExpExecArray | null;
  while (re.lastIndex < s.length && (r = re.exec(s)) !== null) {
    params.set(r[1]!.toLowerCase(), r[3] !== undefined ? r[3].replace(/\\(.)/g, "$1") : r[2]!);
  }
  return params;
}

/** The Authorization (or Proxy-Authorization) header of a request; undefined when a required field is missing. */
export function parseDigestAuthorization(header: string): DigestCredentials | undefined {
  const p = parseDigestParams(header);
  if (!p) return undefined;
  const need = ["username", "realm", "nonce", "uri", "response"] as const;
  for (const k of need) if (!p.has(k)) return undefined;
  return {
    username: p.get("username")!, realm: p.get("realm")!, nonce: p.get("nonce")!, uri: p.get("uri")!, response: p.get("response")!,
    algorithm: p.get("algorithm") ?? "MD5", qop: p.get("qop"), nc: p.get("nc"), cnonce: p.get("cnonce"), opaque: p.get("opaque"),
  };
}

// node:crypto on first use (lib/runtime/builtin.ts): Digest is rarely configured, its MD5 stays off the start path.
const md5 = (s: string): string => nodeCrypto().createHash("md5").update(s).digest("hex");

/** request-digest of RFC 2617 3.2.2.1 (algorithm MD5; qop auth or none). */
export function digestResponse(o: { username: string; realm: string; password: string; method: string; uri: string; nonce: string; qop?: string; nc?: string; cnonce?: string }): string {
  const ha1 = md5(`${o.username}:${o.realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  return o.qop ? md5(`${ha1}:${o.nonce}:${o.nc ?? ""}:${o.cnonce ?? ""}:${o.qop}:${ha2}`) : md5(`${ha1}:${o.nonce}:${ha2}`);
}

/** True when the credentials answer `nonce` in `realm` for `method` with `password`. */
export function verifyDigest(c: DigestCredentials, o: { method: string; password: string; realm: string; nonce: string }): boolean {
  if (c.algorithm.toUpperCase() !== "MD5" || c.realm !== o.realm || c.nonce !== o.nonce) return false;
  if (c.qop !== undefined && c.qop !== "auth") return false;
  const want = digestResponse({ username: c.username, realm: c.realm, password: o.password, method: o.method, uri: c.uri, nonce: c.nonce, qop: c.qop, nc: c.nc, cnonce: c.cnonce });
  const got = Buffer.from(c.response.toLowerCase());
  return got.length === want.length && nodeCrypto().timingSafeEqual(got, Buffer.from(want));
}

/** A fresh nonce (128 bits of randomness). */
export function newNonce(): string {
  return Buffer.from(randomBytes(16)).toString("hex");
}

/** The WWW-Authenticate value of a 401 (RFC 3261 22.4). */
export function digestChallenge(realm: string, nonce: string): string {
  if (/["\\\r\n]/.test(realm + nonce)) throw new RangeError("digest realm/nonce with quote, backslash or line break");
  return `Digest realm="${realm}", nonce="${nonce}", algorithm=MD5`;
}
