/**
 * The origin cluster's pure parts: what /api/v1/clusters answers (SRS's srs_app_coworkers.cpp rules for ip, port and
 * api), how a coworker's answer is read (SRS's discover_co_workers, and garbage), the redirect URLs (SRS's
 * srs_generate_rtmp_url), and SRS's origin.cluster.*.conf loading with no "not implemented" line for the cluster.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfig, unimplementedDirectives } from "../../../lib/config/index.ts";
import type { StreamKey } from "../../../lib/media/packet.ts";
import { redirectQuery, rtmpRedirectUrl } from "../../../lib/net/cluster-url.ts";
import { clustersAnswer, hostOf, parseClustersAnswer } from "../../../lib/services/cluster/origin-cluster.ts";
import { describeWithCorpus } from "../../helpers/srs-conf-corpus.ts";

const conf = (globals: string) => `${globals}
vhost __defaultVhost__ { cluster { origin_cluster on; coworkers 127.0.0.1:9091; } }
vhost v.example { }
`;

/** A server holding `held` (active) and nothing else. */
function answer(globals: string, query: string, held: StreamKey[] = [{ vhost: "__defaultVhost__", app: "live", stream: "s" }], host = "") {
  const config = loadConfig({ text: conf(globals), file: "t.conf", env: {} });
  const hubs = {
    find: (k: StreamKey) => held.some((h) => h.vhost === k.vhost && h.app === k.app && h.stream === k.stream)
      ? ({ active: true } as never)
      : undefined,
  };
  return clustersAnswer({ config, hubs }, new URLSearchParams(query), host);
}

describe("clustersAnswer (this server's /api/v1/clusters)", () => {
  const q = "vhost=__defaultVhost__&ip=1.2.3.4&app=live&stream=s&coworker=192.168.1.10:9090";

  test("listen on a bare port: the ip is the coworker's host, port the RTMP port, api prefixed with that ip", () => {
    const r = answer("listen 19350; http_api { enabled on; listen 9090; }", q);
    expect(r.query).toEqual({ ip: "1.2.3.4", vhost: "__defaultVhost__", app: "live", stream: "s" });
    expect(r.origin).toEqual({
      ip: "192.168.1.10",
      port: 19350,
      vhost: "__defaultVhost__",
      api: "192.168.1.10:9090",
      routers: ["192.168.1.10:9090"],
    });
  });

  test("a listen host that is no loopback/any address is the ip; an api with a host is kept as written", () => {
    const r = answer("listen 10.0.0.5:19350; http_api { enabled on; listen 0.0.0.0:9090; }", q);
    expect(r.origin?.ip).toBe("10.0.0.5");
    expect(r.origin?.api).toBe("0.0.0.0:9090");
    expect(answer("listen 127.0.0.1:19350; http_api { enabled on; listen 9090; }", q).origin?.ip).toBe("192.168.1.10");
  });

  test("srs-ts adds `http` when http_server is enabled", () => {
    const r = answer("listen 19350; http_api { enabled on; listen 9090; } http_server { enabled on; listen 8081; }", q);
    expect(r.origin?.http).toBe("192.168.1.10:8081");
    expect(answer("listen 19350; http_server { enabled on; listen 0.0.0.0:8081; }", q).origin?.http).toBe("192.168.1.10:8081");
    expect(answer("listen 19350; http_server { enabled on; listen 10.0.0.7:8081; }", q).origin?.http).toBe("10.0.0.7:8081");
    expect(answer("listen 19350; http_server { enabled off; listen 8081; }", q).origin).not.toHaveProperty("http");
  });

  test("no coworker in the query: the Host the asker used; nothing at all: 127.0.0.1", () => {
    const noCo = "vhost=__defaultVhost__&app=live&stream=s";
    expect(answer("listen 19350;", noCo, undefined, "origin-a.local:1985").origin?.ip).toBe("origin-a.local");
    expect(answer("listen 19350;", noCo).origin?.ip).toBe("127.0.0.1");
    expect(hostOf("[::1]:1985")).toBe("::1");
    expect(hostOf("h")).toBe("h");
  });

  test("null: a stream not held, a missing app/stream; an unknown vhost falls back to the default one", () => {
    expect(answer("listen 19350;", q.replace("stream=s", "stream=x")).origin).toBeNull();
    expect(answer("listen 19350;", "vhost=__defaultVhost__&app=live").origin).toBeNull();
    expect(answer("listen 19350;", "").origin).toBeNull();
    expect(answer("listen 19350;", q.replace("__defaultVhost__", "unknown.example")).origin?.vhost).toBe("__defaultVhost__");
    expect(answer("listen 19350;", q.replace("__defaultVhost__", "v.example")).origin).toBeNull();
  });
});

describe("parseClustersAnswer (a coworker's answer)", () => {
  const srs = `{"code":0,"data":{"query":{"ip":"","vhost":"__defaultVhost__","app":"live","stream":"s"},` +
    `"origin":{"ip":"127.0.0.1","port":19350,"vhost":"__defaultVhost__","api":"127.0.0.1:9090","routers":["127.0.0.1:9090"]}}}`;

  test("SRS's answer, with and without an origin", () => {
    expect(parseClustersAnswer(srs)).toEqual({
      origin: { ip: "127.0.0.1", port: 19350, vhost: "__defaultVhost__", api: "127.0.0.1:9090", routers: ["127.0.0.1:9090"] },
    });
    expect(parseClustersAnswer(`{"code":0,"data":{"query":{},"origin":null}}`)).toEqual({ origin: null });
    const withHttp = JSON.parse(srs);
    withHttp.data.origin.http = "127.0.0.1:8080";
    expect(parseClustersAnswer(JSON.stringify(withHttp))).toMatchObject({ origin: { http: "127.0.0.1:8080" } });
    withHttp.data.origin.http = "evil/path:80";
    expect(parseClustersAnswer(JSON.stringify(withHttp))).not.toHaveProperty("origin.http");
  });

  test("garbage is an error naming what is wrong, never a throw", () => {
    const bad: [string, string][] = [
      ["<html>", "not JSON"],
      ["", "not JSON"],
      ["[1,2]", "not a JSON object"],
      ["0", "not a JSON object"],
      [`{"code":100,"data":{}}`, "code 100"],
      [`{"data":{}}`, "code undefined"],
      [`{"code":0}`, "no data object"],
      [`{"code":0,"data":{"origin":"a"}}`, "data.origin is not an object"],
      [`{"code":0,"data":{"origin":{"ip":"a","port":"1935"}}}`, "without ip/port"],
      [`{"code":0,"data":{"origin":{"ip":"a","port":1.5}}}`, "without ip/port"],
      [`{"code":0,"data":{"origin":{"ip":"","port":1935}}}`, "unusable"],
      [`{"code":0,"data":{"origin":{"ip":"a","port":0}}}`, "unusable"],
      [`{"code":0,"data":{"origin":{"ip":"a/b","port":1935}}}`, "unusable"],
      [`{"code":0,"data":{"origin":{"ip":"a","port":70000}}}`, "unusable"],
    ];
    for (const [text, why] of bad) {
      const r = parseClustersAnswer(text);
      expect("error" in r ? r.error : "").toContain(why);
    }
    const long = parseClustersAnswer("x".repeat(10000));
    expect("error" in long && long.error.length < 200).toBe(true);
  });
});

describe("redirect URLs (SRS's srs_generate_rtmp_url)", () => {
  const req = { host: "127.0.0.1", vhost: "__defaultVhost__", app: "live", stream: "s", param: "" };

  test("tcUrl and full URL; the player's query is kept", () => {
    expect(rtmpRedirectUrl({ ip: "127.0.0.1", port: 19350 }, req)).toEqual({
      tcUrl: "rtmp://127.0.0.1:19350/live",
      url: "rtmp://127.0.0.1:19350/live/s",
    });
    expect(rtmpRedirectUrl({ ip: "10.0.0.1", port: 1935 }, { ...req, param: "?token=a&x=1" }).url)
      .toBe("rtmp://10.0.0.1:1935/live/s?token=a&x=1");
    expect(rtmpRedirectUrl({ ip: "::1", port: 1935 }, req).tcUrl).toBe("rtmp://[::1]:1935/live");
  });

  test("vhost= is added for a named vhost, or a host name, unless the query names one", () => {
    expect(redirectQuery({ ...req, vhost: "v.example" })).toBe("?vhost=v.example");
    expect(redirectQuery({ ...req, host: "live.example" })).toBe("?vhost=live.example");
    expect(redirectQuery({ ...req, vhost: "v.example", param: "?token=1" })).toBe("?token=1&vhost=v.example");
    expect(redirectQuery({ ...req, vhost: "v.example", param: "?vhost=v.example&token=1" })).toBe("?vhost=v.example&token=1");
    expect(redirectQuery(req)).toBe("");
  });
});

describeWithCorpus("SRS's origin cluster configs", ({ dir, files }) => {
  const names = ["origin.cluster.serverA.conf", "origin.cluster.serverB.conf", "origin.cluster.serverC.conf", "origin.cluster.edge.conf"];
  test("load with no 'not implemented' line for origin_cluster or coworkers", () => {
    for (const f of names) {
      expect(files).toContain(f);
      const cfg = loadConfig({ file: join(dir, f), cwd: dir, env: {} });
      const paths = unimplementedDirectives(cfg).map((u) => u.path);
      expect(paths.filter((p) => p.includes("origin_cluster") || p.includes("coworkers"))).toEqual([]);
    }
    const a = loadConfig({ file: join(dir, "origin.cluster.serverA.conf"), cwd: dir, env: {} });
    expect(a.vhost()!.cluster).toMatchObject({ originCluster: true, isEdge: false, coworkers: ["127.0.0.1:9091", "127.0.0.1:9092"] });
    expect(unimplementedDirectives(a)).toEqual([]);
  });
});
