/** SRT stream id parsing: SRS's "#!::" rules, legacy forms, plain paths, params, errors. */
import { describe, expect, test } from "bun:test";
import { parseSrtStreamId, SrtStreamIdError } from "../../../lib/protocols/srt/streamid.ts";

const cases: [string, string, { mode: string; vhost: string; app: string; stream: string; param: string }][] = [
  ["publish", "#!::r=live/livestream,m=publish", { mode: "publish", vhost: "", app: "live", stream: "livestream", param: "" }],
  ["request", "#!::r=live/livestream,m=request", { mode: "request", vhost: "", app: "live", stream: "livestream", param: "" }],
  ["default mode is request", "#!::r=live/s", { mode: "request", vhost: "", app: "live", stream: "s", param: "" }],
  ["h names the vhost", "#!::h=srs.srt.com.cn,r=live/livestream,m=publish",
    { mode: "publish", vhost: "srs.srt.com.cn", app: "live", stream: "livestream", param: "?vhost=srs.srt.com.cn" }],
  ["h after r", "#!::r=live/s,m=request,h=v.example", { mode: "request", vhost: "v.example", app: "live", stream: "s", param: "?vhost=v.example" }],
  ["unknown keys become the param", "#!::r=live/s,m=publish,secret=abc,token=1",
    { mode: "publish", vhost: "", app: "live", stream: "s", param: "?secret=abc&token=1" }],
  ["vhost first in the param", "#!::r=live/s,key1=value1,h=v,key2=value2",
    { mode: "request", vhost: "v", app: "live", stream: "s", param: "?vhost=v&key1=value1&key2=value2" }],
  ["? read as ,", "#!::r=live/s?secret=x,m=publish", { mode: "publish", vhost: "", app: "live", stream: "s", param: "?secret=x" }],
  ["? several", "#!::r=live/s?m=publish?a=1", { mode: "publish", vhost: "", app: "live", stream: "s", param: "?a=1" }],
  ["legacy h=app/stream", "#!::h=live/livestream,m=publish", { mode: "publish", vhost: "", app: "live", stream: "livestream", param: "" }],
  ["legacy h=vhost/app/stream", "#!::h=srs.srt.com.cn/live/livestream,m=request",
    { mode: "request", vhost: "srs.srt.com.cn", app: "live", stream: "livestream", param: "?vhost=srs.srt.com.cn" }],
  ["r with a one-part path uses default_app", "#!::r=livestream,m=publish", { mode: "publish", vhost: "", app: "live", stream: "livestream", param: "" }],
  ["r with a deep app", "#!::r=a/b/c,m=publish", { mode: "publish", vhost: "", app: "a/b", stream: "c", param: "" }],
  ["empty streamid", "", { mode: "publish", vhost: "", app: "live", stream: "livestream", param: "" }],
  ["plain app/stream", "live/show", { mode: "request", vhost: "", app: "live", stream: "show", param: "" }],
  ["plain stream", "show", { mode: "request", vhost: "", app: "live", stream: "show", param: "" }],
  ["plain with a query", "live/show?token=1", { mode: "request", vhost: "", app: "live", stream: "show", param: "?token=1" }],
  ["spaces and empty items", " #!::r=live/s,,m=publish ", { mode: "publish", vhost: "", app: "live", stream: "s", param: "" }],
  ["flag without value", "#!::r=live/s,debug", { mode: "request", vhost: "", app: "live", stream: "s", param: "?debug" }],
];

describe("parseSrtStreamId", () => {
  for (const [name, sid, want] of cases) test(name, () => expect(parseSrtStreamId(sid)).toEqual(want as never));

  test("default_app applies to one-part paths", () => {
    expect(parseSrtStreamId("show", "tv").app).toBe("tv");
    expect(parseSrtStreamId("#!::r=show,m=publish", "tv").app).toBe("tv");
  });

  for (const bad of ["#!::m=publish", "#!::r=live/s,m=play", "#!::r=live/,m=publish", "#!::h=vhost-only,m=publish", "live/", "#!::r=/,m=publish"]) {
    test(`refused: ${JSON.stringify(bad)}`, () => expect(() => parseSrtStreamId(bad)).toThrow(SrtStreamIdError));
  }
});
