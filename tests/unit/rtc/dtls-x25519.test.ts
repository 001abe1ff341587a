import { describe, expect, test } from "bun:test";
import nacl from "tweetnacl";
import { useNativeX25519, x25519, x25519KeyPair } from "../../../lib/protocols/rtc/dtls-x25519.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const jsScalarMult = nacl.scalarMult; // tweetnacl's own, before useNativeX25519 replaces it
const jsKeyPair = nacl.box.keyPair;

describe("native X25519 for werift's DTLS (RFC 7748)", () => {
  test("RFC 7748 6.1: both public keys and the shared secret", () => {
    const a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const b = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    const aPub = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    const bPub = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    expect(Buffer.from(x25519(a, bPub)).toString("hex")).toBe(shared);
    expect(Buffer.from(x25519(b, aPub)).toString("hex")).toBe(shared);
    expect(Buffer.from(jsScalarMult.base(a)).toString("hex")).toBe(Buffer.from(aPub).toString("hex"));
  });

  test("same answers as tweetnacl on random keys, both ways", () => {
    for (let i = 0; i < 20; i++) {
      const ours = x25519KeyPair();
      const theirs = jsKeyPair();
      expect(Buffer.from(jsScalarMult.base(ours.secretKey))).toEqual(Buffer.from(ours.publicKey));
      expect(Buffer.from(x25519(ours.secretKey, theirs.publicKey))).toEqual(Buffer.from(jsScalarMult(theirs.secretKey, ours.publicKey)));
    }
  });

  test("installed, werift's tweetnacl calls are the native ones; bad keys still get an answer or a clear error", () => {
    expect(useNativeX25519()).toBe(true);
    expect(useNativeX25519()).toBe(true);
    expect(nacl.scalarMult).not.toBe(jsScalarMult);
    expect(typeof nacl.scalarMult.base).toBe("function");
    expect(nacl.scalarMult.scalarLength).toBe(32);
    const k = nacl.box.keyPair();
    expect(k.secretKey.length).toBe(32);
    expect(Buffer.from(jsScalarMult.base(k.secretKey))).toEqual(Buffer.from(k.publicKey));
    // an all-zero (low-order) peer key: native code refuses, tweetnacl's answer is kept
    expect(nacl.scalarMult(k.secretKey, new Uint8Array(32)).length).toBe(32);
    expect(() => x25519(new Uint8Array(31), new Uint8Array(32))).toThrow(/32 bytes/);
  });

  test("speed (printed, not asserted)", () => {
    const a = jsKeyPair();
    const b = jsKeyPair();
    const n = 100;
    let t = performance.now();
    for (let i = 0; i < n; i++) jsScalarMult(a.secretKey, b.publicKey);
    const js = (performance.now() - t) / n;
    t = performance.now();
    for (let i = 0; i < n; i++) x25519(a.secretKey, b.publicKey);
    const native = (performance.now() - t) / n;
    console.log(`x25519 shared secret: tweetnacl ${js.toFixed(3)} ms, native ${native.toFixed(3)} ms`);
  });
});
