/**
 * HMACs and random bytes for the hot, always-loaded paths (the RTMP handshake, SRT cookies, STUN integrity) without
 * node:crypto under Bun: `Bun.CryptoHasher` (native HMAC) and the Web Crypto `crypto.getRandomValues` (a global
 * in every runtime). node:crypto costs ~2 MB of RSS at start under Bun (probes of compiled executables: 36.6 MB
 * with fs and path, 38.8 with node:crypto as well). Elsewhere (Deno) node:crypto's createHmac is used, loaded on
 * first use (builtin.ts).
 *
 * Ciphers (SRT's AES-CTR, HLS's AES-128-CBC, SRTP) still come from node:crypto, loaded by those features when
 * first used (builtin.ts; lib/protocols/srt/crypto.ts, lib/protocols/hls/keys.ts) or, for WebRTC, with werift.
 */
import { nodeCrypto } from "./builtin.ts";
import { runtimeName } from "./platform.ts";

export type HmacAlgorithm = "sha1" | "sha256";

interface BunHasher {
  update(data: Uint8Array | string): BunHasher;
  digest(): Uint8Array;
}
type BunHasherClass = new (algorithm: string, key: Uint8Array | string) => BunHasher;

const bunHasher = runtimeName() === "bun" ? (globalThis as unknown as { Bun: { CryptoHasher: BunHasherClass } }).Bun.CryptoHasher : undefined;

/** HMAC of the concatenation of `parts` with `key` (RFC 2104). */
export function hmac(algorithm: HmacAlgorithm, key: Uint8Array | string, ...parts: (Uint8Array | string)[]): Uint8Array {
  if (bunHasher) {
    const h = new bunHasher(algorithm, key);
    for (const p of parts) h.update(p);
    const d = h.digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  const h = nodeCrypto().createHmac(algorithm, key);
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** `n` bytes from the system's CSPRNG (Web Crypto's getRandomValues, 64 KiB at a time as it requires). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

/** A uniform random integer in [min, max) from the CSPRNG (max - min at most 2^32). */
export function randomInt(min: number, max: number): number {
  const range = max - min;
  if (!(range > 0 && range <= 0x1_0000_0000)) throw new RangeError(`randomInt: bad range [${min}, ${max})`);
  const v = new Uint32Array(1);
  const limit = Math.floor(0x1_0000_0000 / range) * range;
  for (;;) {
    crypto.getRandomValues(v);
    if (v[0]! < limit) return min + (v[0]! % range);
  }
}
