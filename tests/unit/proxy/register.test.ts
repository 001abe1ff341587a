/** The heartbeat body the proxy's register API accepts (lib/proxy/backend.ts), and the endpoints in it. */
import { describe, expect, test } from "bun:test";
import { backendId, endpointPort, firstPort, parseRegister, RegisterError } from "../../../lib/proxy/backend.ts";

/** What SRS 7 (and srs-ts, lib/services/cluster/heartbeat.ts) posts with `ports on`. */
const SRS7 = {
  device_id: "origin1", ip: "192.168.1.10", server: "vid-0abc", service: "x1y2z3", pid: "4242",
  rtmp: ["19351"], http: ["8081"], api: ["19851"], srt: ["udp://0.0.0.0:10081"], rtc: ["udp://0.0.0.0:8001", "tcp://0.0.0.0:8001"],
};

describe("parseRegister", () => {
  test("SRS 7's heartbeat with ports", () => {
    const b = parseRegister(JSON.stringify(SRS7), new Date("2026-01-01T00:00:00Z"));
    expect(b).toEqual({
      ip: "192.168.1.10", device_id: "origin1", server_id: "vid-0abc", service_id: "x1y2z3", pid: "4242",
      rtmp: ["19351"], http: ["8081"], api: ["19851"], srt: ["udp://0.0.0.0:10081"],
      rtc: ["udp://0.0.0.0:8001", "tcp://0.0.0.0:8001"], update_at: "2026-01-01T00:00:00.000Z",
    });
    expect(backendId(b)).toBe("vid-0abc-x1y2z3-4242");
  });

  test("summaries and unknown fields are ignored; pid as a number is taken", () => {
    const b = parseRegister(JSON.stringify({ ...SRS7, pid: 7, summaries: { ok: true, self: { pid: 7 } }, extra: [1] }));
    expect(b.pid).toBe("7");
    expect(b).not.toHaveProperty("summaries");
  });

  const bad: [string, unknown, string][] = [
    ["not JSON", "{", "not JSON"],
    ["an array", [SRS7], "JSON object"],
    ["null", null, "JSON object"],
    ["no ip", { ...SRS7, ip: "" }, "empty ip"],
    ["ip a number", { ...SRS7, ip: 1 }, "ip must be a string"],
    ["no server", { ...SRS7, server: undefined }, "empty server"],
    ["no service", { ...SRS7, service: null }, "empty service"],
    ["no pid", { ...SRS7, pid: "" }, "empty pid"],
    ["pid an object", { ...SRS7, pid: {} }, "pid must be a string"],
    ["no ports (heartbeat without `ports on`)", { ...SRS7, rtmp: undefined }, "empty rtmp"],
    ["rtmp a string", { ...SRS7, rtmp: "1935" }, "rtmp must be an array"],
    ["a bad endpoint", { ...SRS7, http: ["eighty"] }, "http[0]"],
    ["a port out of range", { ...SRS7, rtmp: ["70000"] }, "not an endpoint"],
    ["too many endpoints", { ...SRS7, api: Array.from({ length: 17 }, (_, i) => String(1000 + i)) }, "at most 16"],
    ["a huge field", { ...SRS7, device_id: "d".repeat(300) }, "longer than"],
  ];
  for (const [name, body, msg] of bad) {
    test(`refused: ${name}`, () => {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      expect(() => parseRegister(text)).toThrow(RegisterError);
      expect(() => parseRegister(text)).toThrow(msg);
    });
  }
});

describe("endpoints", () => {
  test("every form origins announce", () => {
    expect(endpointPort("1935")).toBe(1935);
    expect(endpointPort("127.0.0.1:19351")).toBe(19351);
    expect(endpointPort("0.0.0.0:8080")).toBe(8080);
    expect(endpointPort("[::1]:1985")).toBe(1985);
    expect(endpointPort("udp://0.0.0.0:8000")).toBe(8000);
    expect(endpointPort("tcp://0.0.0.0:8000")).toBe(8000);
    for (const bad of ["", "x", "0", "65536", "1.2.3.4:", "http://a:1", "a:b:c"]) expect(endpointPort(bad)).toBe(-1);
  });
  test("firstPort skips TCP entries for UDP lists", () => {
    expect(firstPort(["tcp://0.0.0.0:9000", "udp://0.0.0.0:8000"], true)).toBe(8000);
    expect(firstPort(undefined)).toBe(-1);
  });
});
