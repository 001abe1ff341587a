/**
 * HLS AES-128 encryption (SRS's `hls_keys`): RFC 8216 section 4.3.2.4 (EXT-X-KEY) and 5.2 (IV). Every
 * `hls_fragments_per_key` segments a new random 16-byte key and IV; the key is written to a file
 * (hls_key_file_path + hls_key_file, `[seq]` = the sequence number of the first segment that uses it) and named
 * in the playlist by `#EXT-X-KEY:METHOD=AES-128,URI="…",IV=0x…`. Each segment file is encrypted whole with
 * AES-128-CBC and PKCS7 padding, starting from that IV (RFC 8216 4.3.2.4: "the entire resource is encrypted").
 * Pure helpers: no IO (service.ts writes the files).
 */
import type { Cipher } from "node:crypto";
import { nodeCrypto } from "../../runtime/builtin.ts";
import { randomBytes } from "../../runtime/hash.ts";

/** One key in force for a run of segments. */
export interface HlsKey {
  /** The key's 16 bytes. */
  key: Uint8Array;
  /** The 16-byte IV every segment of this key starts its CBC chain with. */
  iv: Uint8Array;
  /** Sequence number of the first segment encrypted with it (the `[seq]` of its file name). */
  seq: number;
  /** The key file, hls_key_file_path joined with the expanded hls_key_file. */
  file: string;
  /** URI="…" in the playlist. */
  uri: string;
}

/** Whether the segment `seq` starts a new key: every `perKey` sequence numbers, and when none is in force yet. */
export function startsNewKey(seq: number, perKey: number, current: HlsKey | undefined): boolean {
  return !current || seq % Math.max(1, perKey) === 0;
}

/** A fresh random key and IV (the system's CSPRNG). */
export function newKeyBytes(): { key: Uint8Array; iv: Uint8Array } {
  return { key: new Uint8Array(randomBytes(16)), iv: new Uint8Array(randomBytes(16)) };
}

/**
 * The key's URI in the playlist: `hls_key_url` followed by the key file's path (a `/` between them when the URL
 * lacks one), or, without hls_key_url, `relative` (the key file relative to the m3u8, as segment URIs are).
 */
export function keyUri(keyUrl: string, keyRel: string, relative: string): string {
  if (!keyUrl) return relative;
  return keyUrl.replace(/\/*$/, "/") + keyRel.replace(/^\/+/, "");
}

/** `#EXT-X-KEY:METHOD=AES-128,URI="…",IV=0x…` (RFC 8216 4.3.2.4; the IV is a 128-bit hexadecimal integer). */
export function keyTag(uri: string, iv: Uint8Array): string {
  return `#EXT-X-KEY:METHOD=AES-128,URI="${uri}",IV=0x${Buffer.from(iv).toString("hex").toUpperCase()}`;
}

/** A streaming AES-128-CBC encryptor of one segment: update() per chunk, final() adds the PKCS7 padding. */
export class SegmentCipher {
  private c: Cipher;
  constructor(key: Uint8Array, iv: Uint8Array) {
    this.c = nodeCrypto().createCipheriv("aes-128-cbc", key, iv); // PKCS7 padding is node:crypto's default
  }
  update(b: Uint8Array): Uint8Array {
    return new Uint8Array(this.c.update(b));
  }
  final(): Uint8Array {
    return new Uint8Array(this.c.final());
  }
}
