/**
 * SRT payload encryption (draft-sharabayko-srt §6): the Key Material message, KEK derivation (PBKDF2-HMAC-SHA1,
 * 2048 iterations, salt = the 64 least significant bits of the KM salt), RFC 3394 AES key wrap/unwrap of the SEK,
 * and AES-CTR over data payloads with the counter built from the salt and the packet sequence number:
 *
 *   counter block = (MSB(112, salt) XOR (0^80 || seq32)) || block-counter16
 *
 * The CTR keystream is produced with one long-lived AES-ECB cipher object per key (no per-packet cipher objects);
 * counter blocks live in a reused buffer.
 */
import type { Cipher } from "node:crypto";
import { nodeCrypto } from "../../runtime/builtin.ts";
import { randomBytes } from "../../runtime/hash.ts";
import { copyBytes, SrtPacketError } from "./packet.ts";

export const KM_SIGN = 0x2029;
export const KM_CIPHER_AES_CTR = 2;
export const KM_SE_SRT = 2;

// KM states (KMRSP error word / stats).
export const KM_S_UNSECURED = 0;
export const KM_S_SECURING = 1;
export const KM_S_SECURED = 2;
export const KM_S_NOSECRET = 3;
export const KM_S_BADSECRET = 4;

export interface KmMessage {
  /** Which keys are present: 1 even, 2 odd, 3 both. */
  kk: number;
  keki: number;
  cipher: number;
  auth: number;
  se: number;
  /** Salt (16 bytes). */
  salt: Uint8Array;
  /** Key length in bytes (16/24/32). */
  klen: number;
  /** Wrapped key(s): 8 + n*klen bytes. */
  wrap: Uint8Array;
}

/** Parses a KM message (handshake KMREQ/KMRSP extension contents). Throws SrtPacketError when malformed. */
export function parseKm(b: Uint8Array): KmMessage {
  if (b.length < 16) throw new SrtPacketError(`KM message too short: ${b.length}`);
  const v = (b[0]! >>> 4) & 7;
  const pt = b[0]! & 0x0f;
  const sign = (b[1]! << 8) | b[2]!;
  if (v !== 1 || pt !== 2 || sign !== KM_SIGN) throw new SrtPacketError(`not a KM message (v=${v} pt=${pt} sign=0x${sign.toString(16)})`);
  const kk = b[3]! & 3;
  if (kk === 0) throw new SrtPacketError("KM message without keys");
  const keki = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  const cipher = b[8]!;
  const auth = b[9]!;
  const se = b[10]!;
  const slen = b[14]! * 4;
  const klen = b[15]! * 4;
  if (slen !== 16) throw new SrtPacketError(`KM salt length ${slen}`);
  if (klen !== 16 && klen !== 24 && klen !== 32) throw new SrtPacketError(`KM key length ${klen}`);
  const nkeys = kk === 3 ? 2 : 1;
  const need = 16 + slen + 8 + nkeys * klen;
  if (b.length < need) throw new SrtPacketError(`KM message truncated: ${b.length} < ${need}`);
  return {
    kk, keki, cipher, auth, se, klen,
    salt: copyBytes(b, 16, 16 + slen),
    wrap: copyBytes(b, 16 + slen, need),
  };
}

export function encodeKm(km: KmMessage): Uint8Array {
  const out = new Uint8Array(16 + km.salt.length + km.wrap.length);
  out[0] = (1 << 4) | 2;
  out[1] = KM_SIGN >>> 8;
  out[2] = KM_SIGN & 0xff;
  out[3] = km.kk & 3;
  out[4] = km.keki >>> 24;
  out[5] = km.keki >>> 16;
  out[6] = km.keki >>> 8;
  out[7] = km.keki;
  out[8] = km.cipher;
  out[9] = km.auth;
  out[10] = km.se;
  out[14] = km.salt.length / 4;
  out[15] = km.klen / 4;
  out.set(km.salt, 16);
  out.set(km.wrap, 16 + km.salt.length);
  return out;
}

/** KEK = PBKDF2-HMAC-SHA1(passphrase, LSB(64, salt), 2048, klen). */
export function deriveKek(passphrase: string, salt: Uint8Array, klen: number): Uint8Array {
  return new Uint8Array(nodeCrypto().pbkdf2Sync(passphrase, salt.subarray(salt.length - 8), 2048, klen, "sha1"));
}

function ecbName(klen: number): string {
  return `aes-${klen * 8}-ecb`;
}

const RFC3394_IV = new Uint8Array([0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6]);

/** RFC 3394 key wrap of `keys` (a multiple of 8 bytes, ≥ 16) with `kek`. */
export function aesWrap(kek: Uint8Array, keys: Uint8Array): Uint8Array {
  const n = keys.length / 8;
  if (!Number.isInteger(n) || n < 2) throw new Error("key wrap: bad key data length");
  const enc = nodeCrypto().createCipheriv(ecbName(kek.length), kek, null).setAutoPadding(false);
  const a = new Uint8Array(RFC3394_IV);
  const r = copyBytes(keys);
  const blk = new Uint8Array(16);
  for (let j = 0; j < 6; j++) {
    for (let i = 1; i <= n; i++) {
      blk.set(a, 0);
      blk.set(r.subarray((i - 1) * 8, i * 8), 8);
      const b = enc.update(blk);
      const t = n * j + i;
      a.set(b.subarray(0, 8));
      a[7] = a[7]! ^ (t & 0xff);
      a[6] = a[6]! ^ ((t >>> 8) & 0xff);
      a[5] = a[5]! ^ ((t >>> 16) & 0xff);
      a[4] = a[4]! ^ ((t >>> 24) & 0xff);
      r.set(b.subarray(8, 16), (i - 1) * 8);
    }
  }
  const out = new Uint8Array(8 + keys.length);
  out.set(a, 0);
  out.set(r, 8);
  return out;
}

/** RFC 3394 key unwrap; returns null when the integrity check fails (wrong KEK). */
export function aesUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array | null {
  const n = wrapped.length / 8 - 1;
  if (!Number.isInteger(n) || n < 2) return null;
  const dec = nodeCrypto().createDecipheriv(ecbName(kek.length), kek, null).setAutoPadding(false);
  const a = copyBytes(wrapped, 0, 8);
  const r = copyBytes(wrapped, 8);
  const blk = new Uint8Array(16);
  for (let j = 5; j >= 0; j--) {
    for (let i = n; i >= 1; i--) {
      const t = n * j + i;
      blk.set(a, 0);
      blk[7] = blk[7]! ^ (t & 0xff);
      blk[6] = blk[6]! ^ ((t >>> 8) & 0xff);
      blk[5] = blk[5]! ^ ((t >>> 16) & 0xff);
      blk[4] = blk[4]! ^ ((t >>> 24) & 0xff);
      blk.set(r.subarray((i - 1) * 8, i * 8), 8);
      const b = dec.update(blk);
      a.set(b.subarray(0, 8));
      r.set(b.subarray(8, 16), (i - 1) * 8);
    }
  }
  for (let k = 0; k < 8; k++) if (a[k] !== 0xa6) return null;
  return r;
}

/** AES-CTR payload cipher for one SEK + salt. Encrypt and decrypt are the same operation. */
export class SrtCipher {
  private ecb: Cipher;
  /** Counter blocks for up to 96 AES blocks (1536 bytes of payload), rebuilt per packet. */
  private ctr = new Uint8Array(96 * 16);
  private iv = new Uint8Array(14);

  constructor(readonly sek: Uint8Array, readonly salt: Uint8Array) {
    this.ecb = nodeCrypto().createCipheriv(ecbName(sek.length), sek, null).setAutoPadding(false);
    this.iv.set(salt.subarray(0, 14));
  }

  /** XORs buf[off..off+len) in place with the keystream of packet `seq`. */
  apply(seq: number, buf: Uint8Array, off: number, len: number): void {
    const blocks = Math.ceil(len / 16);
    if (blocks > 96) throw new SrtPacketError(`payload too large to encrypt: ${len}`);
    const ctr = this.ctr;
    const iv = this.iv;
    const s0 = (seq >>> 24) & 0xff, s1 = (seq >>> 16) & 0xff, s2 = (seq >>> 8) & 0xff, s3 = seq & 0xff;
    for (let b = 0; b < blocks; b++) {
      const o = b * 16;
      for (let k = 0; k < 10; k++) ctr[o + k] = iv[k]!;
      ctr[o + 10] = iv[10]! ^ s0;
      ctr[o + 11] = iv[11]! ^ s1;
      ctr[o + 12] = iv[12]! ^ s2;
      ctr[o + 13] = iv[13]! ^ s3;
      ctr[o + 14] = b >>> 8;
      ctr[o + 15] = b & 0xff;
    }
    const ks = this.ecb.update(ctr.subarray(0, blocks * 16));
    for (let i = 0; i < len; i++) buf[off + i] = buf[off + i]! ^ ks[i]!;
  }
}

export type KmResult =
  | { ok: true; even: SrtCipher | null; odd: SrtCipher | null; klen: number }
  | { ok: false; state: number; reason: string };

/** Responder side: unwraps the SEK(s) of a KMREQ with our passphrase. */
export function acceptKm(km: KmMessage, passphrase: string): KmResult {
  if (km.cipher !== KM_CIPHER_AES_CTR) return { ok: false, state: KM_S_BADSECRET, reason: `unsupported cipher ${km.cipher}` };
  const kek = deriveKek(passphrase, km.salt, km.klen);
  const keys = aesUnwrap(kek, km.wrap);
  if (!keys) return { ok: false, state: KM_S_BADSECRET, reason: "key unwrap failed (wrong passphrase)" };
  let even: SrtCipher | null = null;
  let odd: SrtCipher | null = null;
  if (km.kk === 3) {
    even = new SrtCipher(copyBytes(keys, 0, km.klen), km.salt);
    odd = new SrtCipher(copyBytes(keys, km.klen, 2 * km.klen), km.salt);
  } else if (km.kk === 1) {
    even = new SrtCipher(copyBytes(keys, 0, km.klen), km.salt);
  } else {
    odd = new SrtCipher(copyBytes(keys, 0, km.klen), km.salt);
  }
  return { ok: true, even, odd, klen: km.klen };
}

/** Initiator side: a fresh even SEK + salt wrapped with the passphrase's KEK. */
export function createKm(passphrase: string, klen: number): { km: KmMessage; cipher: SrtCipher } {
  const salt = new Uint8Array(randomBytes(16));
  const sek = new Uint8Array(randomBytes(klen));
  const kek = deriveKek(passphrase, salt, klen);
  const km: KmMessage = {
    kk: 1, keki: 0, cipher: KM_CIPHER_AES_CTR, auth: 0, se: KM_SE_SRT, salt, klen, wrap: aesWrap(kek, sek),
  };
  return { km, cipher: new SrtCipher(sek, salt) };
}

export function validPassphrase(p: string): boolean {
  return p.length >= 10 && p.length <= 79;
}
