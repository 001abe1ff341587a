/**
 * SIP Digest (RFC 3261 22.4 / RFC 2617): the RFC 2617 3.5 example vector, a GB28181 REGISTER's Authorization
 * header, challenge round trip, wrong password / nonce / realm refused, malformed headers.
 */
import { describe, expect, test } from "bun:test";
import { digestChallenge, digestResponse, newNonce, parseDigestAuthorization, parseDigestParams, verifyDigest } from "../../../lib/net/digest.ts";
import { parseSipDatagram } from "../../../lib/protocols/gb28181/sip-message.ts";
import { prng } from "../../helpers/prng.ts";
import { CAMERA, DOMAIN, MESSAGES, SERVER } from "./sip-messages.ts";

describe("SIP digest", () => {
  test("RFC 2617 3.5 example (qop=auth)", () => {
    const h = `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", ` +
      `qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`;
    const c = parseDigestAuthorization(h)!;
    expect(c).toMatchObject({ username: "Mufasa", qop: "auth", nc: "00000001", cnonce: "0a4f113b", opaque: "5ccc069c403ebaf9f0171e9517f40e41" });
    expect(verifyDigest(c, { method: "GET", password: "Circle Of Life", realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093" })).toBe(true);
    expect(verifyDigest(c, { method: "GET", password: "circle of life", realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093" })).toBe(false);
  });

  test("a GB28181 REGISTER answering our challenge (no qop)", () => {
    const nonce = newNonce();
    expect(digestChallenge(DOMAIN, nonce)).toBe(`Digest realm="${DOMAIN}", nonce="${nonce}", algorithm=MD5`);
    const uri = `sip:${SERVER}@${DOMAIN}`;
    const response = digestResponse({ username: CAMERA, realm: DOMAIN, password: "12345678", method: "REGISTER", uri, nonce });
    const reg = parseSipDatagram(new TextEncoder().encode(
      MESSAGES.registerAuth!.replace(/nonce="[0-9a-f]+"/, `nonce="${nonce}"`).replace(/response="[0-9a-f]+"/, `response="${response}"`),
    ));
    const c = parseDigestAuthorization(reg.headers.get("Authorization")!)!;
    expect(c.username).toBe(CAMERA);
    expect(verifyDigest(c, { method: "REGISTER", password: "12345678", realm: DOMAIN, nonce })).toBe(true);
    expect(verifyDigest(c, { method: "REGISTER", password: "12345678", realm: DOMAIN, nonce: newNonce() })).toBe(false);
    expect(verifyDigest(c, { method: "REGISTER", password: "12345678", realm: "other", nonce })).toBe(false);
    expect(verifyDigest(c, { method: "REGISTER", password: "1234567", realm: DOMAIN, nonce })).toBe(false);
  });

  test("malformed headers", () => {
    expect(parseDigestAuthorization("Basic abc")).toBeUndefined();
    expect(parseDigestAuthorization(`Digest username="a", realm="b"`)).toBeUndefined();
    expect(parseDigestParams(`Digest a="x\\"y", b=c`)).toEqual(new Map([["a", "x\"y"], ["b", "c"]]));
    expect(() => digestChallenge("a\"b", "n")).toThrow(RangeError);
    const rnd = prng(2617);
    const src = MESSAGES.registerAuth!.split("\r\n").find((l) => l.startsWith("Authorization:"))!.slice(15);
    for (let i = 0; i < 3000; i++) {
      const chars = [...src];
      for (let k = 1 + Math.floor(rnd() * 5); k > 0; k--) chars[Math.floor(rnd() * chars.length)] = "\",= \\a"[Math.floor(rnd() * 6)]!;
      const c = parseDigestAuthorization(chars.join(""));
      if (c) expect(verifyDigest(c, { method: "REGISTER", password: "x", realm: DOMAIN, nonce: "n" })).toBe(false);
    }
  });
});
