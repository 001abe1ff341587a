/**
 * SRTP and SRTCP (RFC 3711) for the two protection profiles DTLS-SRTP negotiates with browsers and pion
 * (RFC 5764 4.1.2): SRTP_AES128_CM_HMAC_SHA1_80 (AES counter mode + HMAC-SHA1, 80-bit tag) and
 * SRTP_AEAD_AES_128_GCM (RFC 7714: AES-GCM, 128-bit tag). Used by the viewers' send path (rtp-send.ts); werift
 * keeps doing SRTP for the handshake-era and publisher traffic, with its own contexts for the same keys.
 *
 * One `SrtpContext` is one direction of one DTLS association (RFC 3711 3.2: the cryptographic context), made
 * from the master key and salt DTLS exported (RFC 5764 4.2); the session keys come from the AES-CM key
 * derivation of RFC 3711 4.3.1 with key_derivation_rate 0 (each derived once). The rollover counter (ROC) and
 * the SRTCP index belong to the caller: the sender knows its own packet indexes (rtp-send.ts).
 *
 * Cost, per packet: GCM is one createCipheriv + update + final (~0.7 µs for 1200 bytes in Bun); AES-CM one
 * createCipheriv("aes-128-ctr") + one createHmac("sha1") (~1.5 µs). The packet is protected in place in the
 * caller's buffer (the output of update() is copied back once); nothing else is allocated.
 *
 * GCM warning (RFC 7714 8.1, 13.1): never protect two different packets with the same SSRC, ROC and sequence
 * number. A retransmission must be the same bytes as the original (rtp-send.ts rebuilds it identically) or go
 * as RTX with a sequence number of its own.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";

/** DTLS-SRTP protection profile ids (RFC 5764 4.1.2; RFC 7714 14.2). */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;
export type SrtpProfile = typeof SRTP_AES128_CM_HMAC_SHA1_80 | typeof SRTP_AEAD_AES_128_GCM;

export function srtpProfileName(p: number): string {
  if (p === SRTP_AES128_CM_HMAC_SHA1_80) return "AES_CM_128_HMAC_SHA1_80";
  if (p === SRTP_AEAD_AES_128_GCM) return "AEAD_AES_128_GCM";
  return `0x${p.toString(16).padStart(4, "0")}`;
}

/** Master key and salt lengths in bytes (RFC 5764 4.1.2: 128/112 bits; RFC 7714 12: 128/96 bits). */
export function srtpKeyLengths(p: SrtpProfile): { key: number; salt: number } {
  return p === SRTP_AEAD_AES_128_GCM ? { key: 16, salt: 12 } : { key: 16, salt: 14 };
}

/** Key derivation labels (RFC 3711 4.3.2). */
export const LABEL = { rtpKey: 0, rtpAuth: 1, rtpSalt: 2, rtcpKey: 3, rtcpAuth: 4, rtcpSalt: 5 } as const;

/**
 * The AES-CM PRF of RFC 3711 4.3.1 with key_derivation_rate 0 (r = 0): x = (label || 0^48) XOR master_salt,
 * the 7-byte key_id aligned on byte 7..13 of the 14-byte salt (a 12-byte GCM salt is zero-padded on the right,
 * RFC 7714 11), then the AES-CM keystream of x * 2^16 truncated to `length` bytes.
 */
export function srtpKdf(masterKey: Uint8Array, masterSalt: Uint8Array, label: number, length: number): Buffer {
  if (masterKey.byteLength !== 16) throw new Error(`SRTP master key must be 16 bytes, got ${masterKey.byteLength}`);
  if (masterSalt.byteLength > 14) throw new Error(`SRTP master salt must be at most 14 bytes, got ${masterSalt.byteLength}`);
  const iv = Buffer.alloc(16);
  iv.set(masterSalt, 0);
  iv[7]! ^= label;
  const c = createCipheriv("aes-128-ctr", masterKey, iv);
  return c.update(Buffer.alloc(length));
}

/** The RTP header's length (RFC 3550 5.1: 12 + 4 * CC, + the extension of 5.3.1), or -1 if `p` is too short. */
export function rtpHeaderLength(p: Uint8Array): number {
  if (p.byteLength < 12) return -1;
  let n = 12 + (p[0]! & 0x0f) * 4;
  if (p[0]! & 0x10) {
    if (p.byteLength < n + 4) return -1;
    n += 4 + ((p[n + 2]! << 8) | p[n + 3]!) * 4;
  }
  return n <= p.byteLength ? n : -1;
}

/** The session keys of one context (RFC 3711 4.3.2 labels 0-5; no auth keys for GCM). */
export interface SrtpSessionKeys {
  rtpKey: Uint8Array;
  rtpSalt: Uint8Array;
  rtpAuth?: Uint8Array;
  rtcpKey: Uint8Array;
  rtcpSalt: Uint8Array;
  rtcpAuth?: Uint8Array;
}

function checkProfile(profile: number): SrtpProfile {
  if (profile !== SRTP_AES128_CM_HMAC_SHA1_80 && profile !== SRTP_AEAD_AES_128_GCM) {
    throw new Error(`unsupported SRTP profile ${srtpProfileName(profile)}`);
  }
  return profile;
}

/** One direction's SRTP/SRTCP crypto context (RFC 3711 3.2) for one DTLS-SRTP association. */
export class SrtpContext {
  readonly profile: SrtpProfile;
  /** Bytes protectRtp() adds after the payload: 10 (HMAC-SHA1-80) or 16 (GCM tag). */
  readonly rtpOverhead: number;
  /** Bytes protectRtcp() adds: SRTCP index (4) + tag (10 or 16). */
  readonly rtcpOverhead: number;
  private readonly rtpKey: Buffer;
  private readonly rtpSalt: Buffer;
  private readonly rtpAuth: Buffer | undefined;
  private readonly rtcpKey: Buffer;
  private readonly rtcpSalt: Buffer;
  private readonly rtcpAuth: Buffer | undefined;
  private readonly gcm: boolean;
  /** Scratch IV (createCipheriv copies it). */
  private readonly iv: Buffer;
  private readonly rocBytes = Buffer.alloc(4);

  /** A context from DTLS's exported master key and salt (RFC 5764 4.2), session keys derived (RFC 3711 4.3). */
  static fromMaster(profile: number, masterKey: Uint8Array, masterSalt: Uint8Array): SrtpContext {
    const p = checkProfile(profile);
    const want = srtpKeyLengths(p);
    if (masterSalt.byteLength !== want.salt) {
      throw new Error(`${srtpProfileName(p)} needs a ${want.salt}-byte master salt, got ${masterSalt.byteLength}`);
    }
    const gcm = p === SRTP_AEAD_AES_128_GCM;
    return new SrtpContext(p, {
      rtpKey: srtpKdf(masterKey, masterSalt, LABEL.rtpKey, 16),
      rtpSalt: srtpKdf(masterKey, masterSalt, LABEL.rtpSalt, want.salt),
      rtpAuth: gcm ? undefined : srtpKdf(masterKey, masterSalt, LABEL.rtpAuth, 20),
      rtcpKey: srtpKdf(masterKey, masterSalt, LABEL.rtcpKey, 16),
      rtcpSalt: srtpKdf(masterKey, masterSalt, LABEL.rtcpSalt, want.salt),
      rtcpAuth: gcm ? undefined : srtpKdf(masterKey, masterSalt, LABEL.rtcpAuth, 20),
    });
  }

  /** A context from session keys (fromMaster derives them; RFC 3711 appendix B gives some directly). */
  constructor(profile: number, readonly keys: SrtpSessionKeys) {
    this.profile = checkProfile(profile);
    this.gcm = this.profile === SRTP_AEAD_AES_128_GCM;
    const saltLen = srtpKeyLengths(this.profile).salt;
    if (keys.rtpKey.byteLength !== 16 || keys.rtcpKey.byteLength !== 16) throw new Error("SRTP session keys must be 16 bytes");
    if (keys.rtpSalt.byteLength !== saltLen || keys.rtcpSalt.byteLength !== saltLen) throw new Error(`SRTP session salts must be ${saltLen} bytes`);
    if (!this.gcm && (keys.rtpAuth?.byteLength !== 20 || keys.rtcpAuth?.byteLength !== 20)) throw new Error("HMAC-SHA1 auth keys must be 20 bytes");
    this.rtpKey = Buffer.from(keys.rtpKey);
    this.rtpSalt = Buffer.from(keys.rtpSalt);
    this.rtcpKey = Buffer.from(keys.rtcpKey);
    this.rtcpSalt = Buffer.from(keys.rtcpSalt);
    this.rtpAuth = keys.rtpAuth && Buffer.from(keys.rtpAuth);
    this.rtcpAuth = keys.rtcpAuth && Buffer.from(keys.rtcpAuth);
    this.rtpOverhead = this.gcm ? 16 : 10;
    this.rtcpOverhead = 4 + this.rtpOverhead;
    this.iv = Buffer.alloc(this.gcm ? 12 : 16);
  }

  /**
   * Protects, in place, the RTP packet in buf[0, length) whose header is buf[0, headerLength): the payload is
   * encrypted and the tag written at buf[length, length + rtpOverhead) (the caller leaves room). `roc` is the
   * packet's rollover counter (RFC 3711 3.3.1). Returns the SRTP packet's length.
   */
  protectRtp(buf: Uint8Array, headerLength: number, length: number, roc: number): number {
    const ssrc = (buf[8]! << 24 | buf[9]! << 16 | buf[10]! << 8 | buf[11]!) >>> 0;
    const seq = buf[2]! << 8 | buf[3]!;
    const header = buf.subarray(0, headerLength);
    const payload = buf.subarray(headerLength, length);
    if (this.gcm) {
      this.gcmRtpIv(ssrc, roc, seq);
      const c = createCipheriv("aes-128-gcm", this.rtpKey, this.iv);
      c.setAAD(header);
      const enc = c.update(payload);
      c.final();
      buf.set(enc, headerLength);
      buf.set(c.getAuthTag(), length);
      return length + 16;
    }
    this.ctrIv(this.rtpSalt, ssrc, roc, seq);
    const c = createCipheriv("aes-128-ctr", this.rtpKey, this.iv);
    buf.set(c.update(payload), headerLength);
    // RFC 3711 4.2: the tag covers the header, the encrypted payload and the ROC.
    buf.set(this.rtpTag(buf.subarray(0, length), roc), length);
    return length + 10;
  }

  /**
   * Verifies and decrypts an SRTP packet (RFC 3711 3.3); `roc` as the receiver estimated it. Returns the RTP
   * packet (a new buffer) or undefined when the packet is malformed or its tag does not verify.
   */
  unprotectRtp(p: Uint8Array, roc: number): Buffer | undefined {
    const tagLen = this.rtpOverhead;
    const hl = rtpHeaderLength(p);
    if (hl < 0 || p.byteLength < hl + tagLen) return undefined;
    const end = p.byteLength - tagLen;
    const ssrc = (p[8]! << 24 | p[9]! << 16 | p[10]! << 8 | p[11]!) >>> 0;
    const seq = p[2]! << 8 | p[3]!;
    const out = Buffer.from(p.subarray(0, end));
    if (this.gcm) {
      this.gcmRtpIv(ssrc, roc, seq);
      const d = createDecipheriv("aes-128-gcm", this.rtpKey, this.iv);
      d.setAAD(p.subarray(0, hl));
      d.setAuthTag(p.subarray(end));
      const dec = d.update(p.subarray(hl, end));
      try {
        d.final();
      } catch {
        return undefined;
      }
      out.set(dec, hl);
      return out;
    }
    const tag = this.rtpTag(p.subarray(0, end), roc);
    if (!timingSafeEqual(tag, p.subarray(end))) return undefined;
    this.ctrIv(this.rtpSalt, ssrc, roc, seq);
    const d = createDecipheriv("aes-128-ctr", this.rtpKey, this.iv);
    out.set(d.update(p.subarray(hl, end)), hl);
    return out;
  }

  /**
   * Protects a (compound) RTCP packet (RFC 3711 3.4; RFC 7714 9): everything after the first header's sender
   * SSRC is encrypted, then come the tag and E||SRTCP index (GCM: the index after the tag, RFC 7714 17).
   * `index` is the 31-bit SRTCP index, one per packet sent with this context. Returns a new buffer.
   */
  protectRtcp(rtcp: Uint8Array, index: number): Buffer {
    if (rtcp.byteLength < 8) throw new Error(`RTCP packet too short (${rtcp.byteLength} bytes)`);
    const n = rtcp.byteLength;
    const ssrc = (rtcp[4]! << 24 | rtcp[5]! << 16 | rtcp[6]! << 8 | rtcp[7]!) >>> 0;
    const eIndex = (0x80000000 | (index & 0x7fffffff)) >>> 0;
    const out = Buffer.alloc(n + this.rtcpOverhead);
    out.set(rtcp.subarray(0, 8), 0);
    if (this.gcm) {
      this.gcmRtcpIv(ssrc, index);
      const c = createCipheriv("aes-128-gcm", this.rtcpKey, this.iv);
      // RFC 7714 17: AAD = the first 8 octets || E || SRTCP index.
      const aad = Buffer.alloc(12);
      aad.set(rtcp.subarray(0, 8), 0);
      aad.writeUInt32BE(eIndex, 8);
      c.setAAD(aad);
      out.set(c.update(rtcp.subarray(8)), 8);
      c.final();
      out.set(c.getAuthTag(), n);
      out.writeUInt32BE(eIndex, n + 16);
      return out;
    }
    this.ctrIv(this.rtcpSalt, ssrc, 0, 0, index);
    const c = createCipheriv("aes-128-ctr", this.rtcpKey, this.iv);
    out.set(c.update(rtcp.subarray(8)), 8);
    out.writeUInt32BE(eIndex, n);
    const tag = createHmac("sha1", this.rtcpAuth!).update(out.subarray(0, n + 4)).digest();
    out.set(tag.subarray(0, 10), n + 4);
    return out;
  }

  /**
   * Verifies and decrypts an SRTCP packet (RFC 3711 3.4; RFC 7714 9, 17). Returns the compound RTCP packet and
   * its SRTCP index, or undefined when it is malformed or fails authentication. E=0 (unencrypted) is accepted.
   */
  unprotectRtcp(p: Uint8Array): { rtcp: Buffer; index: number } | undefined {
    const tagLen = this.rtpOverhead;
    if (p.byteLength < 8 + 4 + tagLen) return undefined;
    const ssrc = (p[4]! << 24 | p[5]! << 16 | p[6]! << 8 | p[7]!) >>> 0;
    if (this.gcm) {
      const idxAt = p.byteLength - 4;
      const tagAt = idxAt - 16;
      const eIndex = (p[idxAt]! << 24 | p[idxAt + 1]! << 16 | p[idxAt + 2]! << 8 | p[idxAt + 3]!) >>> 0;
      const encrypted = (eIndex & 0x80000000) !== 0;
      const index = eIndex & 0x7fffffff;
      this.gcmRtcpIv(ssrc, index);
      const d = createDecipheriv("aes-128-gcm", this.rtcpKey, this.iv);
      const aad = Buffer.concat([p.subarray(0, encrypted ? 8 : tagAt), p.subarray(idxAt)]);
      d.setAAD(aad);
      d.setAuthTag(p.subarray(tagAt, idxAt));
      const dec = d.update(encrypted ? p.subarray(8, tagAt) : new Uint8Array(0));
      try {
        d.final();
      } catch {
        return undefined;
      }
      const rtcp = Buffer.from(p.subarray(0, tagAt));
      if (encrypted) rtcp.set(dec, 8);
      return { rtcp, index };
    }
    const tagAt = p.byteLength - 10;
    const idxAt = tagAt - 4;
    const tag = createHmac("sha1", this.rtcpAuth!).update(p.subarray(0, tagAt)).digest().subarray(0, 10);
    if (!timingSafeEqual(tag, p.subarray(tagAt))) return undefined;
    const eIndex = (p[idxAt]! << 24 | p[idxAt + 1]! << 16 | p[idxAt + 2]! << 8 | p[idxAt + 3]!) >>> 0;
    const index = eIndex & 0x7fffffff;
    const rtcp = Buffer.from(p.subarray(0, idxAt));
    if (eIndex & 0x80000000) {
      this.ctrIv(this.rtcpSalt, ssrc, 0, 0, index);
      const d = createDecipheriv("aes-128-ctr", this.rtcpKey, this.iv);
      rtcp.set(d.update(p.subarray(8, idxAt)), 8);
    }
    return { rtcp, index };
  }

  /** HMAC-SHA1(auth key, authenticated portion || ROC), truncated to 80 bits (RFC 3711 4.2). */
  private rtpTag(authenticated: Uint8Array, roc: number): Buffer {
    this.rocBytes.writeUInt32BE(roc >>> 0, 0);
    return createHmac("sha1", this.rtpAuth!).update(authenticated).update(this.rocBytes).digest().subarray(0, 10);
  }

  /**
   * AES-CM IV (RFC 3711 4.1.1): (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), i = ROC * 2^16 + SEQ for SRTP;
   * for SRTCP i is the 31-bit SRTCP index (`rtcpIndex`).
   */
  private ctrIv(salt: Buffer, ssrc: number, roc: number, seq: number, rtcpIndex?: number): void {
    const iv = this.iv;
    iv.set(salt, 0);
    iv[14] = 0;
    iv[15] = 0;
    iv[4]! ^= ssrc >>> 24;
    iv[5]! ^= ssrc >>> 16;
    iv[6]! ^= ssrc >>> 8;
    iv[7]! ^= ssrc;
    if (rtcpIndex !== undefined) {
      iv[10]! ^= rtcpIndex >>> 24;
      iv[11]! ^= rtcpIndex >>> 16;
      iv[12]! ^= rtcpIndex >>> 8;
      iv[13]! ^= rtcpIndex;
      return;
    }
    iv[8]! ^= roc >>> 24;
    iv[9]! ^= roc >>> 16;
    iv[10]! ^= roc >>> 8;
    iv[11]! ^= roc;
    iv[12]! ^= seq >>> 8;
    iv[13]! ^= seq;
  }

  /** GCM IV for SRTP (RFC 7714 8.1): 00 00 || SSRC || ROC || SEQ, XOR the 12-byte session salt. */
  private gcmRtpIv(ssrc: number, roc: number, seq: number): void {
    const iv = this.iv;
    iv.set(this.rtpSalt, 0);
    iv[2]! ^= ssrc >>> 24;
    iv[3]! ^= ssrc >>> 16;
    iv[4]! ^= ssrc >>> 8;
    iv[5]! ^= ssrc;
    iv[6]! ^= roc >>> 24;
    iv[7]! ^= roc >>> 16;
    iv[8]! ^= roc >>> 8;
    iv[9]! ^= roc;
    iv[10]! ^= seq >>> 8;
    iv[11]! ^= seq;
  }

  /** GCM IV for SRTCP (RFC 7714 9.1): 00 00 || SSRC || 00 00 || 0 || SRTCP index (31 bits), XOR the salt. */
  private gcmRtcpIv(ssrc: number, index: number): void {
    const iv = this.iv;
    iv.set(this.rtcpSalt, 0);
    iv[2]! ^= ssrc >>> 24;
    iv[3]! ^= ssrc >>> 16;
    iv[4]! ^= ssrc >>> 8;
    iv[5]! ^= ssrc;
    iv[8]! ^= (index >>> 24) & 0x7f;
    iv[9]! ^= index >>> 16;
    iv[10]! ^= index >>> 8;
    iv[11]! ^= index;
  }
}
