import { describe, expect, test } from "bun:test";
import { isIpAddress, parseRtmpUrl, resolveRtmpRequest, splitRtmpUrl, StreamUrlError } from "../../../lib/net/stream-url.ts";

// [tcUrl, stream (with query), expected]
const TABLE: Array<[string, string, Partial<ReturnType<typeof resolveRtmpRequest>>]> = [
  ["rtmp://h/live", "s", { schema: "rtmp", host: "h", port: 1935, vhost: "h", app: "live", stream: "s", param: "" }],
  ["rtmp://h/live", "s?vhost=v&token=x", { vhost: "v", app: "live", stream: "s", param: "?vhost=v&token=x" }],
  ["rtmp://h/live?vhost=v", "s", { host: "h", vhost: "v", app: "live", stream: "s", param: "?vhost=v" }],
  ["rtmp://h/live?vhost=v&token=x", "s", { vhost: "v", app: "live", stream: "s", param: "?vhost=v&token=x" }],
  ["rtmp://h:1936/live", "s", { host: "h", port: 1936, vhost: "h", app: "live", stream: "s" }],
  ["rtmp://127.0.0.1/live", "s", { host: "127.0.0.1", vhost: "__defaultVhost__", app: "live", stream: "s" }],
  ["rtmp://127.0.0.1:19350/live", "s?vhost=v", { port: 19350, vhost: "v", param: "?vhost=v" }],
  ["rtmp://h/live", "s?vhost=__defaultVhost__", { vhost: "h", param: "" }],
  ["rtmp://10.0.0.1/live", "s?vhost=__defaultVhost__", { vhost: "__defaultVhost__", param: "" }],
  ["rtmp://h/live?vhost=__defaultVhost__&token=x", "s", { vhost: "h", param: "?vhost=__defaultVhost__&token=x" }],
  ["rtmp://__defaultVhost__/live", "s", { host: "__defaultVhost__", vhost: "__defaultVhost__", app: "live" }],
  ["rtmp://h/live", "s?domain=d", { vhost: "d", param: "?domain=d" }],
  ["rtmp://h/a/b/c", "s", { app: "a/b/c", stream: "s" }],
  ["rtmp://h/live/_definst_", "s", { app: "live", stream: "s" }],
  ["rtmp://h/live", "s.flv", { stream: "s.flv" }],
  ["rtmp://h", "s", { app: "__defaultApp__", stream: "s" }],
  ["rtmp://h/live/", "s", { app: "live", stream: "s" }],
  ["rtmp://[::1]:1936/live", "s", { host: "::1", port: 1936, vhost: "__defaultVhost__" }],
  ["rtmp://h/live", "", { app: "live", stream: "" }],
  ["rtmp://h/live", " s \n", { stream: "s" }],
];

describe("resolveRtmpRequest (SRS url forms)", () => {
  for (const [tcUrl, stream, want] of TABLE) {
    test(`${tcUrl} + ${JSON.stringify(stream)}`, () => {
      expect(resolveRtmpRequest(tcUrl, stream)).toMatchObject(want);
    });
  }

  test("separate param argument", () => {
    expect(resolveRtmpRequest("rtmp://h/live", "s", "token=x")).toMatchObject({ stream: "s", param: "?token=x" });
  });

  test("no schema -> error", () => {
    expect(() => resolveRtmpRequest("h/live", "s")).toThrow(StreamUrlError);
  });
});

describe("client url split", () => {
  test("forms", () => {
    expect(splitRtmpUrl("rtmp://h/live/s")).toEqual({ tcUrl: "rtmp://h/live", stream: "s" });
    expect(splitRtmpUrl("rtmp://h:1936/live/s?vhost=v&token=x")).toEqual({
      tcUrl: "rtmp://h:1936/live",
      stream: "s?vhost=v&token=x",
    });
    expect(splitRtmpUrl("rtmp://h/live?vhost=v/s")).toEqual({ tcUrl: "rtmp://h/live?vhost=v", stream: "s" });
    expect(splitRtmpUrl("rtmp://h/a/b/s")).toEqual({ tcUrl: "rtmp://h/a/b", stream: "s" });
    expect(() => splitRtmpUrl("rtmp://h")).toThrow(StreamUrlError);
    expect(parseRtmpUrl("rtmp://h/live?vhost=v/s")).toMatchObject({ vhost: "v", app: "live", stream: "s" });
  });

  test("isIpAddress", () => {
    expect(isIpAddress("1.2.3.4")).toBe(true);
    expect(isIpAddress("::1")).toBe(true);
    expect(isIpAddress("[::1]")).toBe(true);
    expect(isIpAddress("300.1.1.1")).toBe(false);
    expect(isIpAddress("ossrs.net")).toBe(false);
  });
});
