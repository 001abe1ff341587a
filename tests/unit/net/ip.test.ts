/**
 * lib/net/ip.ts against ipaddr.js (a dev dependency kept as the reference): the same verdict (IPv4, IPv6, neither),
 * the same bytes, and the same CIDR matches, over a table of text forms and random addresses and strings.
 */
import { describe, expect, test } from "bun:test";
import ipaddr from "ipaddr.js";
import { inPrefix, parseIp } from "../../../lib/net/ip.ts";

/** What ipaddr.js makes of `s`, in our terms (mapped IPv6 unwrapped, as the security rules used it). */
function reference(s: string): { family: 4 | 6; bytes: number[] } | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return { family: 4, bytes: ipaddr.IPv4.parse(s).toByteArray() };
  if (!ipaddr.IPv6.isValid(s)) return undefined;
  const a = ipaddr.IPv6.parse(s);
  return a.isIPv4MappedAddress() ? { family: 4, bytes: a.toIPv4Address().toByteArray() } : { family: 6, bytes: a.toByteArray() };
}

function ours(s: string): { family: 4 | 6; bytes: number[] } | undefined {
  const a = parseIp(s);
  return a ? { family: a.family, bytes: [...a.bytes] } : undefined;
}

/** A deterministic generator (xorshift32), so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

describe("IP addresses (lib/net/ip.ts) vs ipaddr.js", () => {
  test("a table of text forms", () => {
    const forms = [
      "1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "127.1",
      "0x7f.0.0.1", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "", ".", "::", "::1", "1::", "fe80::1", "FE80::1",
      "fe80::1%eth0", "fe80::1%", "%eth0", "2001:db8::1", "2001:db8:0:0:0:0:0:1", "2001:db8::0:1", "1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", ":::", "1:::2", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:",
      "::ffff:1.2.3.4", "::FFFF:10.0.0.1", "::ffff:0:1.2.3.4", "64:ff9b::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
      "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3", "12345::", "g::1", "::ffff:ffff", "0:0:0:0:0:ffff:102:304",
      "1::2:3:4:5:6:7", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1.2.3.4:80", "[::1]", "::1/128",
    ];
    for (const f of forms) expect([f, ours(f)]).toEqual([f, reference(f)]);
    // Two differences on purpose. ipaddr.js takes a leading zero in an embedded IPv4 part (`::ffff:01.2.3.4`), which
    // it refuses in plain IPv4: refused in both here.
    expect(reference("::ffff:01.2.3.4")).toEqual({ family: 4, bytes: [1, 2, 3, 4] });
    expect(ours("::ffff:01.2.3.4")).toBeUndefined();
    // And ipaddr.js reads the deprecated IPv4-compatible form `::1.2.3.4` (RFC 4291 §2.5.5.1)
    // as the mapped `::ffff:1.2.3.4`; it is another address, IPv6.
    expect(reference("::1.2.3.4")).toEqual({ family: 4, bytes: [1, 2, 3, 4] });
    expect(ours("::1.2.3.4")).toEqual({ family: 6, bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4] });
  });

  test("random addresses in every text form, and random strings", () => {
    const r = rng(20261206);
    const hex = () => Math.floor(r() * 0x10000).toString(16);
    for (let i = 0; i < 20000; i++) {
      let s: string;
      const kind = Math.floor(r() * 5);
      if (kind === 0) s = Array.from({ length: 4 }, () => String(Math.floor(r() * 300))).join(".");
      else if (kind === 1 || kind === 2) {
        const g = Array.from({ length: 8 }, () => (r() < 0.4 ? "0" : hex()));
        if (kind === 2) {
          // compress a random run of groups with ::
          const a = Math.floor(r() * 8);
          const b = a + Math.floor(r() * (9 - a));
          s = g.slice(0, a).join(":") + "::" + g.slice(b).join(":");
        } else s = g.join(":");
        if (r() < 0.2) s = s.toUpperCase();
      } else if (kind === 3) s = `::ffff:${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
      else s = Array.from({ length: 1 + Math.floor(r() * 12) }, () => "0123456789abcdefABCDEF:.%x"[Math.floor(r() * 26)]).join("");
      expect([s, ours(s)]).toEqual([s, reference(s)]);
    }
  });

  test("CIDR prefixes match as ipaddr.js's match()", () => {
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      const v6 = r() < 0.5;
      const bytes = () => Array.from({ length: v6 ? 16 : 4 }, () => (r() < 0.5 ? 0xff : Math.floor(r() * 256)));
      const a = bytes();
      // b shares a random number of leading bytes with a
      const share = Math.floor(r() * (a.length + 1));
      const b = a.map((x, k) => (k < share ? x : r() < 0.5 ? x : Math.floor(r() * 256)));
      const bits = Math.floor(r() * (a.length * 8 + 1));
      const A = ipaddr.fromByteArray(a);
      const B = ipaddr.fromByteArray(b);
      const want = (A as ipaddr.IPv4).match(B as ipaddr.IPv4, bits);
      const got = inPrefix({ family: v6 ? 6 : 4, bytes: new Uint8Array(a) }, { family: v6 ? 6 : 4, bytes: new Uint8Array(b) }, bits);
      expect([a, b, bits, got]).toEqual([a, b, bits, want]);
    }
    expect(inPrefix(parseIp("10.1.2.3")!, parseIp("10.0.0.0")!, 33)).toBe(false);
    expect(inPrefix(parseIp("10.1.2.3")!, parseIp("::1")!, 0)).toBe(false);
  });
});
