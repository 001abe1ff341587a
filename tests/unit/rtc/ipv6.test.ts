/**
 * WebRTC over IPv6: candidates per address family (sdp.ts candidateAddresses) and the mux answering each peer by
 * the socket of its family (udp-mux.ts), IPv4 peers of a dual-stack [::] socket by their mapped address.
 */
import { describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { candidateAddresses } from "../../../lib/protocols/rtc/sdp.ts";
import { UdpMux } from "../../../lib/protocols/rtc/udp-mux.ts";

describe("rtc IPv6", () => {
  test("candidates: each address with its family's port; none for a family without a socket", () => {
    const both = { port: 8000, port6: 8001, apiAsCandidates: true };
    expect(candidateAddresses({ ...both, candidate: "::1" })).toEqual([{ ip: "::1", port: 8001 }]);
    expect(candidateAddresses({ ...both, candidate: "1.2.3.4", apiHost: "::1" })).toEqual([
      { ip: "1.2.3.4", port: 8000 },
      { ip: "::1", port: 8001 },
    ]);
    expect(candidateAddresses({ ...both, candidate: "1.2.3.4", eip: "[fd00::9]:9000" })).toEqual([{ ip: "fd00::9", port: 9000 }]);
    expect(candidateAddresses({ ...both, candidate: "1.2.3.4", eip: "fd00::9" })).toEqual([{ ip: "fd00::9", port: 8001 }]);
    // IPv4 only (the default listen): an IPv6 API host is not advertised.
    const v4 = { port: 8000, apiAsCandidates: true };
    expect(candidateAddresses({ ...v4, candidate: "1.2.3.4", apiHost: "::1" })).toEqual([{ ip: "1.2.3.4", port: 8000 }]);
    // IPv6 only: no IPv4 address is advertised (the fixed one, the API host); the loopback fallback is ::1.
    const v6 = { port: undefined, port6: 8001, apiAsCandidates: true };
    expect(candidateAddresses({ ...v6, candidate: "1.2.3.4", apiHost: "127.0.0.1" })).toEqual([{ ip: "::1", port: 8001 }]);
    expect(candidateAddresses({ ...v6, candidate: "*", ipFamily: "ipv4" as const, apiHost: "127.0.0.1" })).toEqual([{ ip: "::1", port: 8001 }]);
  });

  test("ip_family picks the interface addresses of `*`", () => {
    const all = candidateAddresses({ candidate: "*", port: 8000, port6: 8001, ipFamily: "all", apiAsCandidates: false });
    const v4 = candidateAddresses({ candidate: "*", port: 8000, port6: 8001, ipFamily: "ipv4", apiAsCandidates: false });
    const v6 = candidateAddresses({ candidate: "*", port: 8000, port6: 8001, ipFamily: "ipv6", apiAsCandidates: false });
    expect(v4.every((c) => !c.ip.includes(":") && c.port === 8000)).toBe(true);
    expect(v6.every((c) => c.ip.includes(":") && c.port === 8001 && !c.ip.startsWith("fe80"))).toBe(true);
    expect(all.length).toBe(new Set([...v4, ...v6].map((c) => c.ip)).size);
  });

  test("the mux answers an IPv6 peer on its IPv6 socket and an IPv4 peer of a dual-stack socket", async () => {
    const log = new Log(new LogSink({ tank: "console", level: "error" }), "test");
    for (const [host, peerType, peerIp] of [["::1", "udp6", "::1"], ["::", "udp4", "127.0.0.1"]] as const) {
      const mux = new UdpMux(log);
      const port = await mux.listen(0, host);
      expect(mux.portFor(peerType === "udp6" ? "ipv6" : "ipv4")).toBe(port);
      const peer = createSocket(peerType);
      await new Promise<void>((ok) => peer.bind(0, peerIp, () => ok()));
      const got = new Promise<Buffer>((ok) => peer.once("message", (d) => ok(d)));
      mux.send(Buffer.from("hello"), peerIp, peer.address().port);
      expect((await got).toString()).toBe("hello");
      peer.close();
      await mux.close();
    }
  });
});
