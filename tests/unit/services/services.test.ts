/** Unit tests of the services' pure parts: security/refer rules, the hook allow rule and payloads, kbps window, codec names. */
import { describe, expect, test } from "bun:test";
import type { ClientInfo } from "../../../lib/clients.ts";
import type { SecurityConfig } from "../../../lib/config/config.ts";
import { avcLevelName, avcProfileName, hevcLevelName } from "../../../lib/services/api/shapes.ts";
import { labelValue } from "../../../lib/services/exporter/index.ts";
import {
  closePayload, connectPayload, dvrPayload, hlsNotifyUrl, hlsPayload, hookAllows, playPayload, streamPayload,
} from "../../../lib/services/hooks/index.ts";
import { checkRefer, checkSecurity, ipMatches, referDomain } from "../../../lib/services/security/index.ts";
import { KbpsWindow } from "../../../lib/services/stats.ts";
import { srsHookSamples } from "../../helpers/fixtures.ts";

const sec = (rules: SecurityConfig["rules"], enabled = true): SecurityConfig => ({ enabled, rules });

describe("security", () => {
  test("ip and cidr matching", () => {
    expect(ipMatches("all", "1.2.3.4")).toBe(true);
    expect(ipMatches("1.2.3.4", "1.2.3.4")).toBe(true);
    expect(ipMatches("1.2.3.4", "::ffff:1.2.3.4")).toBe(true);
    expect(ipMatches("1.2.3.4", "1.2.3.5")).toBe(false);
    expect(ipMatches("10.0.0.0/8", "10.200.1.1")).toBe(true);
    expect(ipMatches("10.0.0.0/8", "11.0.0.1")).toBe(false);
    expect(ipMatches("192.168.1.0/24", "192.168.1.255")).toBe(true);
    expect(ipMatches("0.0.0.0/0", "8.8.8.8")).toBe(true);
    expect(ipMatches("1.2.3.4/33", "1.2.3.4")).toBe(false);
    expect(ipMatches("fe80::/10", "fe80::1")).toBe(true);
    expect(ipMatches("::1", "0:0:0:0:0:0:0:1")).toBe(true);
    expect(ipMatches("garbage/8", "1.2.3.4")).toBe(false);
    // IPv4-mapped clients (dual-stack sockets) match IPv4 rules and CIDRs; IPv6 CIDRs; no cross-family match
    expect(ipMatches("10.0.0.0/8", "::ffff:10.1.2.3")).toBe(true);
    expect(ipMatches("2001:db8::/32", "2001:db8:1::5")).toBe(true);
    expect(ipMatches("2001:db8::/32", "2001:db9::5")).toBe(false);
    expect(ipMatches("::/0", "1.2.3.4")).toBe(false);
    expect(ipMatches("2001:db8::1", "2001:DB8:0::1")).toBe(true);
    // inet_aton shorthands are not addresses in a rule, and a prefix must be a plain number
    expect(ipMatches("127.1", "127.0.0.1")).toBe(false);
    expect(ipMatches("10.0.0.0/0x8", "10.0.0.1")).toBe(false);
    expect(ipMatches("10.0.0.0/", "10.0.0.1")).toBe(false);
  });

  test("SRS precedence: deny first, then any allow rule must match; deny-only allows the rest; empty denies", () => {
    expect(checkSecurity(sec([], false), "publish", "1.1.1.1").ok).toBe(true);
    expect(checkSecurity(sec([]), "publish", "1.1.1.1").ok).toBe(false);
    const denyOnly = sec([{ action: "deny", method: "publish", target: "127.0.0.1" }]);
    expect(checkSecurity(denyOnly, "publish", "127.0.0.1").ok).toBe(false);
    expect(checkSecurity(denyOnly, "publish", "10.0.0.1").ok).toBe(true);
    expect(checkSecurity(denyOnly, "play", "127.0.0.1").ok).toBe(true);
    const allowPlay = sec([{ action: "allow", method: "play", target: "all" }]);
    expect(checkSecurity(allowPlay, "play", "1.2.3.4").ok).toBe(true);
    expect(checkSecurity(allowPlay, "publish", "1.2.3.4").ok).toBe(false);
    const both = sec([
      { action: "allow", method: "publish", target: "all" },
      { action: "deny", method: "publish", target: "10.0.0.0/8" },
    ]);
    expect(checkSecurity(both, "publish", "10.1.1.1").ok).toBe(false);
    expect(checkSecurity(both, "publish", "11.1.1.1").ok).toBe(true);
  });

  test("refer: the pageUrl's domain must end with a name; empty list passes", () => {
    expect(referDomain("http://www.ossrs.net:8080/players/x.html")).toBe("www.ossrs.net");
    expect(referDomain("ossrs.net")).toBe("ossrs.net");
    const cfg = { enabled: true, all: [], publish: ["ossrs.net"], play: [] };
    expect(checkRefer(cfg, "publish", "http://www.ossrs.net/a").ok).toBe(true);
    expect(checkRefer(cfg, "publish", "http://ossrs.net.evil.com/a").ok).toBe(false);
    expect(checkRefer(cfg, "publish", "").ok).toBe(false);
    expect(checkRefer(cfg, "play", "").ok).toBe(true);
    expect(checkRefer(cfg, "connect", "").ok).toBe(true);
    expect(checkRefer({ ...cfg, enabled: false }, "publish", "").ok).toBe(true);
  });
});

describe("hooks", () => {
  test("allow rule: 200/201, literally 0 or an object with integer code 0", () => {
    expect(hookAllows(200, "0").ok).toBe(true);
    expect(hookAllows(201, `{"code":0}`).ok).toBe(true);
    expect(hookAllows(200, `{"code":0,"data":1}`).ok).toBe(true);
    expect(hookAllows(200, `{"code":403}`).ok).toBe(false);
    expect(hookAllows(200, `{"code":"0"}`).ok).toBe(false);
    expect(hookAllows(200, `{"code":0.5}`).ok).toBe(false);
    expect(hookAllows(200, "").ok).toBe(false);
    expect(hookAllows(200, "ok").ok).toBe(false);
    expect(hookAllows(200, "1").ok).toBe(false);
    expect(hookAllows(200, "[0]").ok).toBe(false);
    expect(hookAllows(204, "0").ok).toBe(false);
    expect(hookAllows(500, `{"code":0}`).ok).toBe(false);
  });

  const samples = srsHookSamples();
  const keysOf = (action: string) => Object.keys(samples.find((x) => x.body?.action === action)!.body!);
  const ids = { serverId: "vid-ss9w0t2", serviceId: "9s991a45" };
  const c: ClientInfo = {
    id: "849maa0u", type: "fmle-publish", ip: "127.0.0.1", protocol: "rtmp", tcUrl: "rtmp://127.0.0.1:19350/live",
    pageUrl: "", param: "?token=abc", connectedAt: 0, bytesIn: () => 10, bytesOut: () => 20, kick: () => {},
  };
  const key = { vhost: "__defaultVhost__", app: "live", stream: "livestream" };

  test("payload keys and order are SRS's for every action", () => {
    expect(Object.keys(connectPayload(ids, c, key))).toEqual(keysOf("on_connect"));
    expect(Object.keys(closePayload(ids, c, key))).toEqual(keysOf("on_close"));
    for (const a of ["on_publish", "on_unpublish", "on_stop"] as const) {
      expect(Object.keys(streamPayload(ids, a, c, key, "vid-2968509"))).toEqual(keysOf(a));
    }
    expect(Object.keys(playPayload(ids, c, key, "vid-2968509"))).toEqual(keysOf("on_play"));
    expect(Object.keys(dvrPayload(ids, { client: c, key, file: "./a.flv" }, "vid-1"))).toEqual(keysOf("on_dvr"));
    const hls = hlsPayload(ids, {
      client: c, key, duration: 2.961, file: "./objs/nginx/html/live/livestream-0.ts", url: "live/livestream-0.ts",
      m3u8: "./objs/nginx/html/live/livestream.m3u8", m3u8Url: "live/livestream.m3u8", seqNo: 0,
    }, "vid-1");
    expect(Object.keys(hls)).toEqual(keysOf("on_hls"));
    expect(hls.duration).toBe(2.96);
    const sampleConnect = samples.find((x) => x.body?.action === "on_connect")!.body!;
    expect(connectPayload({ ...ids }, { ...c }, key)).toEqual({ ...sampleConnect, server_id: ids.serverId, service_id: ids.serviceId });
  });

  test("on_hls_notify template", () => {
    const url = hlsNotifyUrl("http://h/api/v1/hls/[server_id]/[app]/[stream]/[ts_url][param]", ids, {
      client: c, key, tsUrl: "livestream-0.ts",
    });
    expect(url).toBe("http://h/api/v1/hls/vid-ss9w0t2/live/livestream/livestream-0.ts?token=abc");
  });
});

describe("stats and shapes", () => {
  test("kbps window: average over the samples of the last 30 s", () => {
    const w = new KbpsWindow();
    expect(w.rates()).toEqual([0, 0]);
    w.sample(0, 0, 0);
    expect(w.rates()).toEqual([0, 0]);
    w.sample(2000, 250000, 125000); // 1000 kbps in, 500 out
    expect(w.rates()).toEqual([1000, 500]);
    // 60 s of constant 2000 kbps: the window only covers the last 30 s
    let t = 2000;
    let b = 250000;
    for (let i = 0; i < 30; i++) {
      t += 2000;
      b += 500000;
      w.sample(t, b, 0);
    }
    expect(w.rates()[0]).toBe(2000);
  });

  test("codec names", () => {
    expect(avcProfileName(66)).toBe("Baseline");
    expect(avcProfileName(77)).toBe("Main");
    expect(avcProfileName(100)).toBe("High");
    expect(avcLevelName(31)).toBe("3.1");
    expect(avcLevelName(30)).toBe("3");
    expect(avcLevelName(32)).toBe("3.2");
    expect(hevcLevelName(93)).toBe("3.1");
    expect(hevcLevelName(120)).toBe("4");
    expect(labelValue(`a"b\\c\nd`)).toBe(`a\\"b\\\\c\\nd`);
  });
});
