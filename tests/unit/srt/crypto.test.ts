import { describe, expect, test } from "bun:test";
import { createCipheriv } from "node:crypto";
import {
  acceptKm, aesUnwrap, aesWrap, createKm, deriveKek, encodeKm, KM_S_BADSECRET, parseKm, SrtCipher,
} from "../../../lib/protocols/srt/crypto.ts";
import { SrtPacketError } from "../../../lib/protocols/srt/packet.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));

describe("RFC 3394 key wrap", () => {
  test("test vector 4.1 (128-bit KEK, 128-bit key)", () => {
    const kek = hex("000102030405060708090A0B0C0D0E0F");
    const key = hex("00112233445566778899AABBCCDDEEFF");
    const w = aesWrap(kek, key);
    expect(Buffer.from(w).toString("hex").toUpperCase()).toBe("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
    expect(Buffer.from(aesUnwrap(kek, w)!).toString("hex")).toBe(Buffer.from(key).toString("hex"));
  });
  test("test vector 4.6 (256-bit KEK, 256-bit key)", () => {
    const kek = hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    const key = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
    expect(Buffer.from(aesWrap(kek, key)).toString("hex").toUpperCase()).toBe(
      "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
    );
  });
  test("a wrong KEK fails the integrity check", () => {
    const w = aesWrap(new Uint8Array(16).fill(1), new Uint8Array(16).fill(2));
    expect(aesUnwrap(new Uint8Array(16).fill(3), w)).toBeNull();
  });
});

describe("AES-CTR payload cipher", () => {
  test("matches AES-CTR with the counter built from salt and sequence number; symmetric", () => {
    const sek = hex("2b7e151628aed2a6abf7158809cf4f3c");
    const salt = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    const seq = 0x12345678;
    const data = new Uint8Array(1316).map((_, i) => (i * 7) & 0xff);
    const iv = new Uint8Array(16);
    iv.set(salt.subarray(0, 14));
    iv[10] ^= 0x12; iv[11] ^= 0x34; iv[12] ^= 0x56; iv[13] ^= 0x78;
    const ref = createCipheriv("aes-128-ctr", sek, iv).update(data);
    const c = new SrtCipher(sek, salt);
    const buf = data.slice();
    c.apply(seq, buf, 0, buf.length);
    expect(Buffer.from(buf).equals(ref)).toBe(true);
    c.apply(seq, buf, 0, buf.length);
    expect(Buffer.from(buf).equals(Buffer.from(data))).toBe(true);
    expect(() => c.apply(seq, new Uint8Array(2000), 0, 2000)).toThrow(SrtPacketError);
  });
});

describe("Key Material", () => {
  for (const klen of [16, 24, 32]) {
    test(`KMREQ round trip and unwrap, klen ${klen}`, () => {
      const { km, cipher } = createKm("a-good-passphrase", klen);
      const parsed = parseKm(encodeKm(km));
      expect(parsed.klen).toBe(klen);
      const ok = acceptKm(parsed, "a-good-passphrase");
      expect(ok.ok).toBe(true);
      if (ok.ok) expect(Buffer.from(ok.even!.sek).equals(Buffer.from(cipher.sek))).toBe(true);
      const bad = acceptKm(parsed, "another-passphrase");
      expect(bad).toMatchObject({ ok: false, state: KM_S_BADSECRET });
    });
  }
  test("KEK uses the 64 least significant bits of the salt", () => {
    const salt = new Uint8Array(16).map((_, i) => i);
    const other = salt.slice();
    other[0] = 99; // outside LSB(64)
    expect(deriveKek("passphrase-123", salt, 16)).toEqual(deriveKek("passphrase-123", other, 16));
  });
  test("malformed KM messages", () => {
    expect(() => parseKm(new Uint8Array(8))).toThrow(SrtPacketError);
    const { km } = createKm("a-good-passphrase", 16);
    const b = encodeKm(km);
    expect(() => parseKm(b.subarray(0, b.length - 1))).toThrow(SrtPacketError);
    const c = b.slice();
    c[15] = 5; // klen 20
    expect(() => parseKm(c)).toThrow(SrtPacketError);
  });
});
