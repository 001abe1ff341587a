/** Listen values as SRS writes them, parsed once for every listener (lib/net/endpoint.ts). */
import { describe, expect, test } from "bun:test";
import { formatEndpoint, ipv6OnlyFor, parseEndpoint, parseEndpoints, portOf } from "../../../lib/net/endpoint.ts";

describe("listen endpoints", () => {
  test("port, ip:port, host:port and bracketed IPv6", () => {
    expect(parseEndpoint("1935")).toEqual({ host: "0.0.0.0", port: 1935 });
    expect(parseEndpoint("127.0.0.1:1936")).toEqual({ host: "127.0.0.1", port: 1936 });
    expect(parseEndpoint("localhost:1937")).toEqual({ host: "localhost", port: 1937 });
    expect(parseEndpoint("[::]:1935")).toEqual({ host: "::", port: 1935 });
    expect(parseEndpoint("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
    expect(parseEndpoint("[fd00::2]:10080")).toEqual({ host: "fd00::2", port: 10080 });
    for (const bad of ["", "abc", "1935x", "[::1]", "::1:1935", "1.2.3.4:99999", "-1"]) {
      expect(() => parseEndpoint(bad)).toThrow(/invalid listen address/);
      expect(portOf(bad)).toBe(-1);
    }
    expect(portOf("[::1]:8000")).toBe(8000);
  });

  test("several values, duplicates dropped; formatted back with brackets for IPv6", () => {
    const eps = parseEndpoints(["1935", "[::1]:1935", "0.0.0.0:1935", "127.0.0.1:1936"]);
    expect(eps.map(formatEndpoint)).toEqual(["0.0.0.0:1935", "[::1]:1935", "127.0.0.1:1936"]);
  });

  test("[::] is dual-stack unless the same port is also bound on IPv4", () => {
    const alone = parseEndpoints(["[::]:1935", "127.0.0.1:1936"]);
    expect(ipv6OnlyFor(alone[0]!, alone)).toBe(false);
    const both = parseEndpoints(["1935", "[::]:1935"]);
    expect(ipv6OnlyFor(both[1]!, both)).toBe(true);
    expect(ipv6OnlyFor(both[0]!, both)).toBe(false);
    const loop = parseEndpoints(["127.0.0.1:1935", "[::1]:1935"]);
    expect(ipv6OnlyFor(loop[1]!, loop)).toBe(false);
  });
});
