/**
 * Native X25519 (RFC 7748) for werift's DTLS handshakes.
 *
 * Browsers and pion offer x25519 first in their DTLS ClientHello (supported_groups), and werift does its ECDHE
 * on that curve with tweetnacl, in JavaScript: a key pair and a shared secret cost ~3 ms of the one thread per
 * handshake, about a second of CPU for a burst of 300 joins. werift reaches tweetnacl through the package's
 * shared module object (`nacl.box.keyPair()` for our key pair, `nacl.scalarMult(priv, pub)` for the premaster
 * secret), so replacing those two functions on that object with node:crypto's X25519 (BoringSSL/OpenSSL, native)
 * makes every handshake use it. Both sides clamp the scalar as RFC 7748 5 says, so results are identical
 * (checked against tweetnacl and RFC 7748 6.1's vectors in tests/unit/rtc/dtls-x25519.test.ts).
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import nacl from "tweetnacl";

/** DER prefixes of an X25519 key: PKCS#8 private key and SubjectPublicKeyInfo (RFC 8410 7 and 4), + 32 raw bytes. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

function privateKeyOf(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" });
}

function publicKeyOf(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** X25519(scalar, point): the shared secret (32 bytes). Throws on a malformed public key. */
export function x25519(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  if (priv.byteLength !== 32 || pub.byteLength !== 32) throw new Error(`x25519: keys must be 32 bytes (got ${priv.byteLength}, ${pub.byteLength})`);
  return new Uint8Array(diffieHellman({ privateKey: privateKeyOf(priv), publicKey: publicKeyOf(pub) }));
}

/** A fresh key pair as raw 32-byte keys (tweetnacl's box.keyPair shape). */
export function x25519KeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const spki = publicKey.export({ format: "der", type: "spki" });
  return { secretKey: new Uint8Array(der.subarray(der.length - 32)), publicKey: new Uint8Array(spki.subarray(spki.length - 32)) };
}

let installed = false;

/**
 * Makes werift's DTLS use native X25519 (idempotent; process-wide by nature: it patches the tweetnacl module that
 * werift shares). Falls back to tweetnacl, untouched, if this runtime's node:crypto lacks X25519.
 */
export function useNativeX25519(): boolean {
  if (installed) return true;
  try {
    const probe = x25519KeyPair();
    x25519(probe.secretKey, probe.publicKey);
  } catch {
    return false;
  }
  const lib = nacl as unknown as { scalarMult: (n: Uint8Array, p: Uint8Array) => Uint8Array; box: { keyPair: () => { publicKey: Uint8Array; secretKey: Uint8Array } } };
  const jsScalarMult = lib.scalarMult;
  const native = (n: Uint8Array, p: Uint8Array): Uint8Array => {
    try {
      return x25519(n, p);
    } catch {
      return jsScalarMult(n, p); // e.g. a low-order point native code refuses: tweetnacl's answer, as before
    }
  };
  lib.scalarMult = Object.assign(native, jsScalarMult); // keeps scalarMult.base and the length constants
  lib.box.keyPair = x25519KeyPair;
  installed = true;
  return true;
}
