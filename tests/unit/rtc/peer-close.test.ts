import { describe, expect, test } from "bun:test";
import { hasRtcpBye } from "../../../lib/protocols/rtc/peer-close.ts";

/** One RTCP packet (RFC 3550 6.4.1 header): V=2, count, type, length in words minus one, then `words` words. */
function rtcp(type: number, words: number, count = 1): Uint8Array {
  const b = new Uint8Array(4 + words * 4);
  b[0] = 0x80 | count;
  b[1] = type;
  b[2] = words >> 8;
  b[3] = words & 0xff;
  return b;
}
const join = (...p: Uint8Array[]) => Buffer.concat(p);

describe("hasRtcpBye (RFC 3550 6.6)", () => {
  const cases: [string, Uint8Array, boolean][] = [
    ["a receiver report alone", rtcp(201, 7), false],
    ["RR + SDES", join(rtcp(201, 7), rtcp(202, 3)), false],
    ["RR + SDES + BYE (what a closing stack sends)", join(rtcp(201, 1, 0), rtcp(202, 3), rtcp(203, 1)), true],
    ["BYE alone", rtcp(203, 1), true],
    ["PLI (PSFB) + NACK (RTPFB)", join(rtcp(206, 2), rtcp(205, 3)), false],
    ["a BYE after a header whose length runs past the end", join(rtcp(201, 100)), false],
    ["version 0 garbage", new Uint8Array([0x00, 203, 0, 1, 0, 0, 0, 0]), false],
    ["empty", new Uint8Array(0), false],
    ["3 bytes", new Uint8Array([0x81, 203, 0]), false],
  ];
  for (const [name, d, want] of cases) test(name, () => expect(hasRtcpBye(d)).toBe(want));

  test("fuzz: random bytes never throw", () => {
    for (let i = 0; i < 5000; i++) {
      const d = new Uint8Array(Math.floor(Math.random() * 64));
      for (let j = 0; j < d.length; j++) d[j] = Math.floor(Math.random() * 256);
      expect(typeof hasRtcpBye(d)).toBe("boolean");
    }
  });
});
