/** The memory load balancer, the stream keys, playlist and SDP rewriting, and the RESP codec of the proxy. */
import { describe, expect, test } from "bun:test";
import type { Backend } from "../../../lib/proxy/backend.ts";
import { rewritePlaylist } from "../../../lib/proxy/http.ts";
import { MemoryLoadBalancer, TtlMap } from "../../../lib/proxy/lb-memory.ts";
import { NoBackendError } from "../../../lib/proxy/lb.ts";
import { iceUfrag, rewriteCandidates } from "../../../lib/proxy/rtc.ts";
import { httpStreamUrl, rtmpStreamUrl, srtStreamUrl } from "../../../lib/proxy/stream-url.ts";
import { readProxyEnv, parseDotEnv } from "../../../lib/proxy/env.ts";

function origin(n: number, ageMs = 0): Backend {
  return {
    ip: `10.0.0.${n}`, server_id: `s${n}`, service_id: "x", pid: String(n), rtmp: ["1935"],
    update_at: new Date(Date.now() - ageMs).toISOString(),
  };
}

describe("MemoryLoadBalancer", () => {
  test("no origin: a NoBackendError naming the stream", async () => {
    await expect(new MemoryLoadBalancer().pick("__defaultVhost__/live/a")).rejects.toThrow(NoBackendError);
  });

  test("a stream sticks to its origin; new streams spread randomly over live origins", async () => {
    const lb = new MemoryLoadBalancer();
    for (const n of [1, 2, 3]) await lb.update(origin(n));
    const first = await lb.pick("v/live/a");
    for (let i = 0; i < 20; i++) expect((await lb.pick("v/live/a")).ip).toBe(first.ip);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add((await lb.pick(`v/live/s${i}`)).ip);
    expect(seen.size).toBe(3);
  });

  test("origins silent for 300 s are skipped while another is alive, used when none is", async () => {
    const lb = new MemoryLoadBalancer();
    await lb.update(origin(1, 400_000));
    await lb.update(origin(2));
    for (let i = 0; i < 50; i++) expect((await lb.pick(`v/live/s${i}`)).ip).toBe("10.0.0.2");
    const old = new MemoryLoadBalancer();
    await old.update(origin(1, 400_000));
    expect((await old.pick("v/live/x")).ip).toBe("10.0.0.1");
  });

  test("a stream leaves an origin silent for 300 s when another is alive (as its Redis key would expire)", async () => {
    const lb = new MemoryLoadBalancer();
    await lb.update(origin(1));
    expect((await lb.pick("v/live/a")).ip).toBe("10.0.0.1");
    await lb.update(origin(1, 400_000));
    expect((await lb.pick("v/live/a")).ip).toBe("10.0.0.1"); // the only one: kept
    await lb.update(origin(2));
    expect((await lb.pick("v/live/a")).ip).toBe("10.0.0.2");
    expect((await lb.pick("v/live/a")).ip).toBe("10.0.0.2");
  });

  test("HLS: the first session of a stream wins, found again by its spbhid", async () => {
    const lb = new MemoryLoadBalancer();
    const a = await lb.loadOrStoreHls("v/live/a", { spbhid: "one", stream_url: "v/live/a", full_url: "v/live/a.m3u8" });
    const b = await lb.loadOrStoreHls("v/live/a", { spbhid: "two", stream_url: "v/live/a", full_url: "v/live/a.m3u8" });
    expect(a.spbhid).toBe("one");
    expect(b.spbhid).toBe("one");
    expect((await lb.loadHlsBySpbhid("one"))?.stream_url).toBe("v/live/a");
    expect(await lb.loadHlsBySpbhid("two")).toBeUndefined();
  });

  test("WebRTC sessions by ICE username", async () => {
    const lb = new MemoryLoadBalancer();
    await lb.storeRtc("v/live/a", { stream_url: "v/live/a", ufrag: "srv:cli" });
    expect((await lb.loadRtcByUfrag("srv:cli"))?.stream_url).toBe("v/live/a");
    expect(await lb.loadRtcByUfrag("cli:srv")).toBeUndefined();
  });

  test("TtlMap: entries expire and the map stays bounded", () => {
    const m = new TtlMap<number>(1000, 3);
    m.set("a", 1, 0);
    expect(m.get("a", 500)).toBe(1);
    expect(m.get("a", 1000)).toBeUndefined();
    for (let i = 0; i < 10; i++) m.set(`k${i}`, i, 0);
    expect(m.size).toBe(3);
    expect(m.get("k9", 1)).toBe(9);
    expect(m.get("k0", 1)).toBeUndefined();
  });
});

describe("stream keys (as SRS's proxy builds them)", () => {
  test("RTMP: IP or dotless hosts are the default vhost; queries dropped", () => {
    expect(rtmpStreamUrl("rtmp://127.0.0.1:1935/live", "livestream")).toBe("__defaultVhost__/live/livestream");
    expect(rtmpStreamUrl("rtmp://localhost/live?token=x", "s?secret=1")).toBe("__defaultVhost__/live/s");
    expect(rtmpStreamUrl("rtmp://ossrs.net:1935/live/", "s")).toBe("ossrs.net/live/s");
  });
  test("HTTP: path without extension, or ?app=&stream=; Host only with a port", () => {
    const u = (s: string) => new URL(s);
    expect(httpStreamUrl(u("http://x/live/s.flv"), "127.0.0.1:8080")).toEqual({ streamUrl: "__defaultVhost__/live/s", ext: ".flv" });
    expect(httpStreamUrl(u("http://x/live/s.m3u8"), "ossrs.net:8080").streamUrl).toBe("ossrs.net/live/s");
    expect(httpStreamUrl(u("http://x/live/s.m3u8"), "ossrs.net").streamUrl).toBe("__defaultVhost__/live/s");
    expect(httpStreamUrl(u("http://x/rtc/v1/whep/?app=live&stream=s"), "127.0.0.1:1985").streamUrl).toBe("__defaultVhost__/live/s");
  });
  test("SRT", () => {
    expect(srtStreamUrl("", "live", "s")).toBe("__defaultVhost__/live/s");
    expect(srtStreamUrl("ossrs.net", "live", "s")).toBe("ossrs.net/live/s");
  });
});

describe("rewriting", () => {
  test("every URI of a playlist gets the session id, keeping its own query", () => {
    const m3u8 = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\nlivestream-1.ts\n#EXTINF:1.0,\nlivestream-2.ts?hls_ctx=ab\n" +
      "http://cdn/abs.ts\n";
    expect(rewritePlaylist(m3u8, "S")).toBe("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?spbhid=S\"\n#EXTINF:1.0,\n" +
      "livestream-1.ts?spbhid=S\n#EXTINF:1.0,\nlivestream-2.ts?hls_ctx=ab&spbhid=S\nhttp://cdn/abs.ts\n");
  });
  test("host candidates on the origin's UDP port move to the proxy's; others stay", () => {
    const sdp = "v=0\r\na=ice-ufrag:abc\r\na=candidate:0 1 udp 2130706431 127.0.0.1 8001 typ host generation 0\r\n" +
      "a=candidate:1 1 tcp 1 127.0.0.1 9000 typ host tcptype passive\r\n";
    const out = rewriteCandidates(sdp, [8001], 18000);
    expect(out).toContain("127.0.0.1 18000 typ host generation 0\r");
    expect(out).toContain("127.0.0.1 9000 typ host tcptype");
    expect(iceUfrag(out)).toBe("abc");
  });
});

describe("env", () => {
  test("SRS's defaults", () => {
    const e = readProxyEnv({}, "/nonexistent");
    expect([e.rtmpServer, e.httpServer, e.httpApi, e.webrtcServer, e.srtServer, e.systemApi])
      .toEqual(["11935", "18080", "11985", "18000", "20080", "12025"]);
    expect(e.loadBalancerType).toBe("memory");
    expect(e.redis).toEqual({ host: "127.0.0.1", port: 6379, password: "", db: 0 });
    expect(e.defaultBackend).toBeUndefined();
  });
  test("bad values are named", () => {
    expect(() => readProxyEnv({ PROXY_LOAD_BALANCER_TYPE: "etcd" }, "/nonexistent")).toThrow("PROXY_LOAD_BALANCER_TYPE=etcd");
    expect(() => readProxyEnv({ PROXY_REDIS_PORT: "x" }, "/nonexistent")).toThrow("PROXY_REDIS_PORT=x");
  });
  test(".env lines", () => {
    expect(parseDotEnv("# c\nPROXY_RTMP_SERVER=1936\r\n BAD\nPROXY_REDIS_DB = 2\n")).toEqual({ PROXY_RTMP_SERVER: "1936", PROXY_REDIS_DB: "2" });
  });
});
