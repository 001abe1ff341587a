import { describe, expect, test } from "bun:test";
import { envName, loadConfig, type SrsConfig } from "../../../lib/config/index.ts";

const BASE = `listen 1935;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; }
rtc_server { enabled on; listen 8000; candidate $CANDIDATE; }
vhost __defaultVhost__ { hls { enabled on; hls_fragment 10; } http_hooks { enabled on; on_publish http://file/hook; } }
vhost other.com { hls { enabled off; } }
`;

function load(env: Record<string, string>, text = BASE): SrsConfig {
  return loadConfig({ text, env });
}

describe("env: names", () => {
  const names: [string, string][] = [
    ["listen", "SRS_LISTEN"],
    ["http_api.listen", "SRS_HTTP_API_LISTEN"],
    ["http_api.raw_api.allow_reload", "SRS_HTTP_API_RAW_API_ALLOW_RELOAD"],
    ["rtc_server.tcp.enabled", "SRS_RTC_SERVER_TCP_ENABLED"],
    ["vhost.hls.hls_fragment", "SRS_VHOST_HLS_HLS_FRAGMENT"],
  ];
  for (const [path, want] of names) test(path, () => expect(envName(path)).toBe(want));
});

type Case = [string, Record<string, string>, (c: SrsConfig) => unknown, unknown];
const cases: Case[] = [
  ["SRS_LISTEN single", { SRS_LISTEN: "19350" }, (c) => c.listen(), ["19350"]],
  ["SRS_LISTEN multi-value", { SRS_LISTEN: "1935  19350 [::]:1936" }, (c) => c.listen(), ["1935", "19350", "[::]:1936"]],
  ["empty env ignored", { SRS_LISTEN: "" }, (c) => c.listen(), ["1935"]],
  ["SRS_HTTP_API_LISTEN", { SRS_HTTP_API_LISTEN: "11985" }, (c) => c.httpApi().listen, "11985"],
  ["SRS_HTTP_API_ENABLED off", { SRS_HTTP_API_ENABLED: "off" }, (c) => c.httpApi().enabled, false],
  ["SRS_HTTP_API_RAW_API_ENABLED", { SRS_HTTP_API_RAW_API_ENABLED: "on" }, (c) => c.httpApi().rawApi.enabled, true],
  ["SRS_HTTP_API_AUTH_USERNAME", { SRS_HTTP_API_AUTH_USERNAME: "admin" }, (c) => c.httpApi().auth.username, "admin"],
  ["SRS_HTTP_SERVER_DIR", { SRS_HTTP_SERVER_DIR: "/www" }, (c) => c.httpServer().dir, "/www"],
  ["SRS_HTTP_SERVER_HTTPS_LISTEN", { SRS_HTTP_SERVER_HTTPS_LISTEN: "8443" }, (c) => c.httpServer().https.listen, "8443"],
  ["$CANDIDATE from env", { CANDIDATE: "192.168.1.10" }, (c) => c.rtcServer().candidate, "192.168.1.10"],
  ["$CANDIDATE unset → *", {}, (c) => c.rtcServer().candidate, "*"],
  ["SRS_RTC_SERVER_CANDIDATE wins", { SRS_RTC_SERVER_CANDIDATE: "1.1.1.1", CANDIDATE: "2.2.2.2" }, (c) => c.rtcServer().candidate, "1.1.1.1"],
  ["SRS_RTC_SERVER_CANDIDATE=$X expands", { SRS_RTC_SERVER_CANDIDATE: "$X", X: "3.3.3.3" }, (c) => c.rtcServer().candidate, "3.3.3.3"],
  ["SRS_RTC_SERVER_LISTEN", { SRS_RTC_SERVER_LISTEN: "18000" }, (c) => c.rtcServer().listen, 18000],
  ["SRS_RTC_SERVER_TCP_ENABLED", { SRS_RTC_SERVER_TCP_ENABLED: "on" }, (c) => c.rtcServer().tcp.enabled, true],
  ["SRS_SRT_SERVER_ENABLED", { SRS_SRT_SERVER_ENABLED: "on" }, (c) => c.srtServer().enabled, true],
  ["SRS_SRT_SERVER_LATENCY", { SRS_SRT_SERVER_LATENCY: "300" }, (c) => c.srtServer().latency, 300],
  ["SRS_LOG_TANK", { SRS_LOG_TANK: "console" }, (c) => c.logTank(), "console"],
  ["SRS_SRS_LOG_TANK", { SRS_SRS_LOG_TANK: "console" }, (c) => c.logTank(), "console"],
  ["SRS_LOG_LEVEL", { SRS_LOG_LEVEL: "warn" }, (c) => c.logLevel(), "warn"],
  ["SRS_SRS_LOG_LEVEL_V2", { SRS_SRS_LOG_LEVEL_V2: "ERROR" }, (c) => c.logLevel(), "error"],
  ["SRS_LOG_FILE", { SRS_LOG_FILE: "/tmp/x.log" }, (c) => c.logFile(), "/tmp/x.log"],
  ["SRS_DAEMON off", { SRS_DAEMON: "off" }, (c) => c.daemon(), false],
  ["SRS_MAX_CONNECTIONS", { SRS_MAX_CONNECTIONS: "3000" }, (c) => c.maxConnections(), 3000],
  ["SRS_CHUNK_SIZE", { SRS_CHUNK_SIZE: "4096" }, (c) => c.chunkSize(), 4096],
  ["SRS_GRACE_START_WAIT", { SRS_GRACE_START_WAIT: "100" }, (c) => c.graceStartWait(), 100],
  ["SRS_SERVER_ID", { SRS_SERVER_ID: "vid-x" }, (c) => c.serverId(), "vid-x"],
  ["SRS_EXPORTER_ENABLED", { SRS_EXPORTER_ENABLED: "on" }, (c) => c.exporter().enabled, true],
  ["SRS_HEARTBEAT_URL", { SRS_HEARTBEAT_URL: "http://h/" }, (c) => c.heartbeat().url, "http://h/"],
  ["SRS_VHOST_HLS_HLS_FRAGMENT on default vhost", { SRS_VHOST_HLS_HLS_FRAGMENT: "2" }, (c) => c.vhost()!.hls.fragment, 2],
  ["SRS_VHOST_HLS_ENABLED applies to all vhosts", { SRS_VHOST_HLS_ENABLED: "on" }, (c) => c.vhost("other.com")!.hls.enabled, true],
  ["SRS_VHOST_HTTP_HOOKS_ON_PUBLISH multi", { SRS_VHOST_HTTP_HOOKS_ON_PUBLISH: "http://a/1 http://b/2" }, (c) => c.vhost()!.httpHooks.onPublish, ["http://a/1", "http://b/2"]],
  ["hook from file without env", {}, (c) => c.vhost()!.httpHooks.onPublish, ["http://file/hook"]],
  ["SRS_VHOST_PLAY_GOP_CACHE off (no play block)", { SRS_VHOST_PLAY_GOP_CACHE: "off" }, (c) => c.vhost()!.play.gopCache, false],
  ["SRS_VHOST_PLAY_MW_LATENCY", { SRS_VHOST_PLAY_MW_LATENCY: "0" }, (c) => c.vhost()!.play.mwLatency, 0],
  ["SRS_VHOST_PUBLISH_NORMAL_TIMEOUT", { SRS_VHOST_PUBLISH_NORMAL_TIMEOUT: "9000" }, (c) => c.vhost()!.publish.normalTimeout, 9000],
  ["SRS_VHOST_HTTP_REMUX_MOUNT", { SRS_VHOST_HTTP_REMUX_MOUNT: "[app]/[stream].ts" }, (c) => c.vhost()!.httpRemux.mount, "[app]/[stream].ts"],
  ["SRS_VHOST_RTC_RTMP_TO_RTC", { SRS_VHOST_RTC_RTMP_TO_RTC: "on" }, (c) => c.vhost()!.rtc.rtmpToRtc, true],
  ["SRS_VHOST_SRT_SRT_TO_RTMP", { SRS_VHOST_SRT_SRT_TO_RTMP: "off" }, (c) => c.vhost()!.srt.srtToRtmp, false],
  ["SRS_VHOST_SRT_TO_RTMP alias", { SRS_VHOST_SRT_TO_RTMP: "off" }, (c) => c.vhost()!.srt.srtToRtmp, false],
  ["SRS_VHOST_DVR_DVR_PLAN", { SRS_VHOST_DVR_DVR_PLAN: "segment" }, (c) => c.vhost()!.dvr.plan, "segment"],
  ["SRS_VHOST_CHUNK_SIZE", { SRS_VHOST_CHUNK_SIZE: "8192" }, (c) => c.vhost()!.chunkSize, 8192],
  ["SRS_VHOST_OUT_ACK_SIZE", { SRS_VHOST_OUT_ACK_SIZE: "1000" }, (c) => c.vhost()!.outAckSize, 1000],
];

describe("env: overrides win over the file", () => {
  for (const [name, env, get, want] of cases) {
    test(name, () => {
      expect(get(load(env))).toEqual(want);
    });
  }

  test("env is validated by the checks too", () => {
    expect(() => load({ SRS_CHUNK_SIZE: "10" })).toThrow(/chunk_size=10/);
    expect(() => load({ SRS_LISTEN: "not-a-port" })).toThrow(/listen=not-a-port is invalid/);
  });

  test("SRS_CONFIG_FILE overrides file", () => {
    const cfg = loadConfig({ file: "nope.conf", cwd: `${import.meta.dir}/../../..`, env: { SRS_CONFIG_FILE: "conf/srs.conf" } });
    expect(cfg.file).toBe("conf/srs.conf");
  });
});

describe("env-only mode", () => {
  test("-e: no file, implicit default vhost, daemon off, console logs", () => {
    const cfg = loadConfig({ envOnly: true, env: {} });
    expect(cfg.envOnly).toBe(true);
    expect(cfg.vhosts()).toEqual(["__defaultVhost__"]);
    expect(cfg.daemon()).toBe(false);
    expect(cfg.logTank()).toBe("console");
    expect(cfg.listen()).toEqual(["1935"]);
    expect(cfg.httpApi().enabled).toBe(false);
  });

  test("SRS_ENV_ONLY=1 ignores the file even when given", () => {
    const cfg = loadConfig({ file: "does-not-exist.conf", env: { SRS_ENV_ONLY: "1", SRS_HTTP_API_ENABLED: "on", SRS_LISTEN: "1936" } });
    expect(cfg.httpApi().enabled).toBe(true);
    expect(cfg.listen()).toEqual(["1936"]);
    expect(cfg.vhost("x.com")?.name).toBe("__defaultVhost__");
  });

  test("env-only respects explicit SRS_DAEMON / SRS_LOG_TANK", () => {
    const cfg = loadConfig({ envOnly: true, env: { SRS_DAEMON: "on", SRS_LOG_TANK: "file" } });
    expect(cfg.daemon()).toBe(true);
    expect(cfg.logTank()).toBe("file");
  });

  test("env-only vhost settings", () => {
    const cfg = loadConfig({ envOnly: true, env: { SRS_VHOST_HLS_ENABLED: "on", SRS_VHOST_HTTP_REMUX_ENABLED: "on" } });
    expect(cfg.vhost()!.hls.enabled).toBe(true);
    expect(cfg.vhost()!.httpRemux.enabled).toBe(true);
  });
});
