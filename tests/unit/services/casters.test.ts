/** The casters' pure parts: output templates, local-or-remote outputs, FLV POST paths, TS datagram shape. */
import { describe, expect, test } from "bun:test";
import { fillOutput, isLocalOutput } from "../../../lib/services/casters/session.ts";
import { flvPostTarget } from "../../../lib/services/casters/flv-post.ts";
import { isTsDatagram } from "../../../lib/services/casters/mpegts-udp.ts";

describe("caster output", () => {
  test("[app], [stream] and [vhost] fill the template", () => {
    expect(fillOutput("rtmp://127.0.0.1/[app]/[stream]", { app: "live", stream: "s" })).toBe("rtmp://127.0.0.1/live/s");
    expect(fillOutput("rtmp://127.0.0.1/live/livestream", {})).toBe("rtmp://127.0.0.1/live/livestream");
    expect(fillOutput("rtmp://[vhost]/[app]/[stream]?k=[stream]", { vhost: "v", app: "a/b", stream: "x" })).toBe("rtmp://v/a/b/x?k=x");
  });

  test("an output on a loopback or listen address and one of our RTMP ports is this server", () => {
    expect(isLocalOutput("rtmp://127.0.0.1/live/s", ["1935"])).toBe(true);
    expect(isLocalOutput("rtmp://localhost:1935/live/s", ["0.0.0.0:1935"])).toBe(true);
    expect(isLocalOutput("rtmp://127.0.0.1:19350/live/s", ["127.0.0.1:19350"])).toBe(true);
    expect(isLocalOutput("rtmp://[::1]:1935/live/s", ["[::]:1935"])).toBe(true);
    expect(isLocalOutput("rtmp://10.0.0.5:1935/live/s", ["10.0.0.5:1935"])).toBe(true);
    // another port, another host: another server
    expect(isLocalOutput("rtmp://127.0.0.1/live/s", ["19350"])).toBe(false);
    expect(isLocalOutput("rtmp://10.0.0.9/live/s", ["1935"])).toBe(false);
    expect(isLocalOutput("rtmp://example.com/live/s", ["1935"])).toBe(false);
  });
});

describe("flv POST path", () => {
  test("/app/stream.flv gives app and stream", () => {
    expect(flvPostTarget("/live/livestream.flv")).toEqual({ app: "live", stream: "livestream" });
    expect(flvPostTarget("/a/b/s.flv")).toEqual({ app: "a/b", stream: "s" });
    expect(flvPostTarget("/live/a%20b.flv")).toEqual({ app: "live", stream: "a b" });
    // as SRS: the .flv is optional
    expect(flvPostTarget("/live/s")).toEqual({ app: "live", stream: "s" });
  });
  test("anything else is refused", () => {
    for (const p of ["/s.flv", "/live/", "/", "//s.flv", "/../s.flv", "/live/%zz.flv", "/a//s.flv", "/live/..", "/live/.flv"]) {
      expect(flvPostTarget(p)).toBeUndefined();
    }
  });
});

describe("TS datagram shape", () => {
  const packets = (n: number) => {
    const d = new Uint8Array(188 * n);
    for (let i = 0; i < n; i++) d[i * 188] = 0x47;
    return d;
  };
  test("whole 188-byte packets with sync bytes", () => {
    expect(isTsDatagram(packets(7))).toBe(true);
    expect(isTsDatagram(packets(1))).toBe(true);
  });
  test("truncated, empty or unsynchronised datagrams are not TS", () => {
    expect(isTsDatagram(new Uint8Array(0))).toBe(false);
    expect(isTsDatagram(packets(7).subarray(0, 1000))).toBe(false);
    const bad = packets(7);
    bad[188 * 3] = 0;
    expect(isTsDatagram(bad)).toBe(false);
  });
});
