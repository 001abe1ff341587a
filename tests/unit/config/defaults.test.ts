import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkConfigFile, ConfigError, DEFAULT_CONFIG_TEXT, loadConfig, loadYamlSupport } from "../../../lib/config/index.ts";
import { tempTree } from "./helpers.ts";

const REPO = join(import.meta.dir, "../../..");

describe("defaults (SRS's, for everything unset)", () => {
  const cfg = loadConfig({ text: "listen 1935;\nvhost __defaultVhost__ {}\n", env: {} });
  const v = cfg.vhost("__defaultVhost__")!;

  test("global", () => {
    expect(cfg.listen()).toEqual(["1935"]);
    expect(cfg.pidFile()).toBe("./objs/srs.pid");
    expect(cfg.chunkSize()).toBe(60000);
    expect(cfg.logTank()).toBe("file");
    expect(cfg.logLevel()).toBe("trace");
    expect(cfg.logFile()).toBe("./objs/srs.log");
    expect(cfg.daemon()).toBe(true);
    expect(cfg.workDir()).toBe("./");
    expect(cfg.utcTime()).toBe(false);
    expect(cfg.maxConnections()).toBe(1000);
    expect(cfg.graceStartWait()).toBe(2300);
    expect(cfg.graceFinalWait()).toBe(3200);
    expect(cfg.forceGraceQuit()).toBe(false);
    expect(cfg.serverId()).toBeUndefined();
    expect(cfg.pithyPrintMs()).toBe(10000);
  });

  test("http_api / http_server", () => {
    expect(cfg.httpApi()).toEqual({
      enabled: false,
      listen: "1985",
      listens: ["1985"],
      crossdomain: true,
      rawApi: { enabled: false, allowReload: false, allowQuery: false, allowUpdate: false },
      auth: { enabled: false, username: "", password: "" },
      https: { enabled: false, listen: "1990", key: "./conf/server.key", cert: "./conf/server.crt" },
    });
    expect(cfg.httpServer()).toEqual({
      enabled: false,
      listen: "8080",
      listens: ["8080"],
      dir: "./objs/nginx/html",
      crossdomain: true,
      https: { enabled: false, listen: "8088", key: "./conf/server.key", cert: "./conf/server.crt" },
    });
  });

  test("https api shares the https server port when api shares the http port", () => {
    const c = loadConfig({ text: "listen 1935; http_api { enabled on; listen 8080; } http_server { enabled on; listen 8080; https { enabled on; listen 8443; } }", env: {} });
    expect(c.httpApi().https.listen).toBe("8443");
  });

  test("rtc_server / srt_server", () => {
    expect(cfg.rtcServer()).toMatchObject({
      enabled: false,
      listen: 8000,
      candidate: "*",
      protocol: "udp",
      tcp: { enabled: false, listen: 8000 },
      ipFamily: "ipv4",
      apiAsCandidates: true,
      useAutoDetectNetworkIp: true,
    });
    expect(cfg.srtServer()).toMatchObject({
      enabled: false,
      listen: 10080,
      latency: 120,
      recvlatency: 120,
      peerlatency: 0,
      tsbpdmode: true,
      tlpktdrop: true,
      connectTimeout: 3000,
      peerIdleTimeout: 10000,
      mss: 1500,
      payloadsize: 1316,
      maxbw: -1,
      passphrase: "",
      pbkeylen: 0,
      defaultApp: "live",
    });
  });

  test("exporter / heartbeat / stats", () => {
    expect(cfg.exporter()).toEqual({ enabled: false, listen: "9972", label: "", tag: "" });
    expect(cfg.heartbeat()).toMatchObject({ enabled: false, summaries: false, ports: false });
    expect(cfg.stats()).toEqual({ enabled: true, network: 0, disk: [] });
  });

  test("vhost basics", () => {
    expect(cfg.vhosts()).toEqual(["__defaultVhost__"]);
    expect(v.enabled).toBe(true);
    expect(v.chunkSize).toBe(60000);
    expect(v.tcpNodelay).toBe(false);
    expect(v.minLatency).toBe(false);
    expect(v.inAckSize).toBe(0);
    expect(v.outAckSize).toBe(2500000);
  });

  test("play / publish", () => {
    expect(v.play).toEqual({
      gopCache: true,
      gopCacheMaxFrames: 2500,
      queueLength: 30,
      timeJitter: "full",
      mixCorrect: false,
      atc: false,
      atcAuto: false,
      mwLatency: 350,
      mwMsgs: 8,
      sendMinInterval: 0,
      reduceSequenceHeader: false,
    });
    expect(v.publish).toEqual({
      mr: false,
      mrLatency: 350,
      firstpktTimeout: 20000,
      normalTimeout: 5000,
      parseSps: true,
      tryAnnexbFirst: true,
      kickoffForIdle: 0,
    });
  });

  test("hls", () => {
    expect(v.hls).toMatchObject({
      enabled: false,
      fragment: 10,
      window: 60,
      tdRatio: 1.0,
      aofRatio: 2.1,
      path: "./objs/nginx/html",
      m3u8File: "[app]/[stream].m3u8",
      tsFile: "[app]/[stream]-[seq].ts",
      onError: "continue",
      acodec: "aac",
      vcodec: "h264",
      cleanup: true,
      dispose: 120,
      waitKeyframe: true,
      tsFloor: false,
      nbNotify: 64,
      dtsDirectly: true,
      keys: false,
      fragmentsPerKey: 5,
      ctx: true,
      tsCtx: true,
      entryPrefix: "",
    });
  });

  test("http_remux / hooks / dvr / dash / rtc / srt / cluster", () => {
    expect(v.httpRemux).toEqual({
      enabled: false,
      mount: "[vhost]/[app]/[stream].flv",
      fastCache: 0,
      dropIfNotMatch: true,
      hasAudio: true,
      hasVideo: true,
      guessHasAv: true,
    });
    expect(v.httpHooks.enabled).toBe(false);
    expect(v.httpHooks.onConnect).toEqual([]);
    expect(v.dvr).toEqual({
      enabled: false,
      apply: ["all"],
      path: "./objs/nginx/html/[app]/[stream].[timestamp].flv",
      plan: "session",
      duration: 30,
      waitKeyframe: true,
      timeJitter: "full",
    });
    expect(v.dash).toEqual({
      enabled: false,
      fragment: 30,
      updatePeriod: 150,
      timeshift: 300,
      path: "./objs/nginx/html",
      mpdFile: "[app]/[stream].mpd",
      windowSize: 5,
      cleanup: true,
      dispose: 120,
    });
    expect(v.rtc).toEqual({
      enabled: false,
      nack: true,
      nackNoCopy: true,
      twcc: true,
      stunTimeout: 30,
      stunStrictCheck: false,
      dtlsRole: "passive",
      dtlsVersion: "auto",
      dropForPt: 0,
      rtmpToRtc: false,
      rtcToRtmp: false,
      pliForRtmp: 6,
      keepBframe: false,
      keepAvcNaluSei: true,
      opusBitrate: 48000,
      aacBitrate: 48000,
    });
    expect(v.srt).toEqual({ enabled: false, srtToRtmp: true });
    expect(v.cluster).toMatchObject({ mode: "local", isEdge: false, origin: [], debugSrsUpnode: true, protocol: "rtmp" });
    expect(v.forward).toEqual({ enabled: false, destination: [], backend: "" });
    expect(v.security).toEqual({ enabled: false, rules: [] });
    expect(v.exec).toEqual({ enabled: false, publish: [] });
    expect(v.ingests).toEqual([]);
    expect(v.transcodes).toEqual([]);
  });
});

describe("booleans: prefer false vs prefer true", () => {
  const cfg = loadConfig({
    text: "listen 1935; vhost v { hls { enabled yes; hls_cleanup no; } play { gop_cache false; atc on; } }",
    env: {},
  });
  const v = cfg.vhost("v")!;
  test("prefer false: only on is true", () => {
    expect(v.hls.enabled).toBe(false);
    expect(v.play.atc).toBe(true);
  });
  test("prefer true: only off is false", () => {
    expect(v.hls.cleanup).toBe(true);
    expect(v.play.gopCache).toBe(true);
  });
});

describe("vhost lookup", () => {
  const cfg = loadConfig({
    text: "listen 1935; chunk_size 4096; vhost __defaultVhost__ { hls { enabled on; } } vhost a.com { chunk_size 128; enabled off; }",
    env: {},
  });
  test("exact", () => expect(cfg.vhost("a.com")?.name).toBe("a.com"));
  test("unknown falls back to __defaultVhost__", () => expect(cfg.vhost("b.com")?.name).toBe("__defaultVhost__"));
  test("vhost chunk_size, else global", () => {
    expect(cfg.vhost("a.com")?.chunkSize).toBe(128);
    expect(cfg.vhost("b.com")?.chunkSize).toBe(4096);
  });
  test("enabled off", () => expect(cfg.vhost("a.com")?.enabled).toBe(false));
  test("no default vhost → undefined", () => {
    const c = loadConfig({ text: "listen 1935; vhost a.com {}", env: {} });
    expect(c.vhost("b.com")).toBeUndefined();
  });
});

describe("typed sections", () => {
  const cfg = loadConfig({
    text: `listen 1935;
vhost v {
  security { enabled on; deny publish 10.0.0.0/8; allow play all; allow publish 127.0.0.1; }
  exec { enabled on; publish ./ffmpeg -i [url] -c copy out.flv; }
  ingest cam { enabled on; input { type stream; url rtsp://x; } ffmpeg ./ffmpeg; engine { enabled off; output rtmp://o; } }
  transcode live/s { enabled on; ffmpeg ./ffmpeg; engine hd { enabled on; vcodec libx264; vbitrate 800; vparams { preset fast; } perfile { re; } output rtmp://[vhost]/[app]/[stream]_[engine]; } }
  play { time_jitter zero; }
  dvr { time_jitter bogus; }
}`,
    env: {},
  });
  const v = cfg.vhost("v")!;
  test("security rules", () => {
    expect(v.security).toEqual({
      enabled: true,
      rules: [
        { action: "deny", method: "publish", target: "10.0.0.0/8" },
        { action: "allow", method: "play", target: "all" },
        { action: "allow", method: "publish", target: "127.0.0.1" },
      ],
    });
  });
  test("exec", () => expect(v.exec.publish).toEqual([["./ffmpeg", "-i", "[url]", "-c", "copy", "out.flv"]]));
  test("ingest", () => {
    expect(v.ingests).toHaveLength(1);
    expect(v.ingests[0]).toMatchObject({ id: "cam", enabled: true, input: { type: "stream", url: "rtsp://x" }, ffmpeg: "./ffmpeg" });
    expect(v.ingests[0]?.engines[0]).toMatchObject({ name: "", enabled: false, output: "rtmp://o" });
  });
  test("transcode", () => {
    const t = v.transcodes[0]!;
    expect(t.scope).toBe("live/s");
    expect(t.engines[0]).toMatchObject({ name: "hd", enabled: true, vcodec: "libx264", vbitrate: 800, vparams: ["-preset", "fast"], perfile: ["-re"] });
  });
  test("time_jitter values", () => {
    expect(v.play.timeJitter).toBe("zero");
    expect(v.dvr.timeJitter).toBe("off");
  });
});

function checkErr(text: string): ConfigError {
  try {
    loadConfig({ text, file: "conf/t.conf", env: {} });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("config accepted");
}

describe("checks", () => {
  const cases: [string, string, string, number][] = [
    ["empty conf", "", "conf is empty", 0],
    ["comments only", "# x\n", "conf is empty", 0],
    ["no listen", "max_connections 10;", "listen requires params", 0],
    ["unknown top-level", "listen 1935;\nfoo bar;", "illegal directive foo", 2],
    ["unknown vhost key", "listen 1935;\nvhost v {\n  hls {\n    hls_nope 1;\n  }\n}", "illegal directive vhost.hls.hls_nope", 4],
    ["unknown http_api key", "listen 1935;\nhttp_api { nope on; }", "illegal directive http_api.nope", 2],
    ["unknown engine key", "listen 1935;\nvhost v { transcode { engine e { vcodecs x; } } }", "illegal directive vhost.transcode.engine.vcodecs", 2],
    ["chunk_size too small", "listen 1935;\nchunk_size 127;", "chunk_size=127", 2],
    ["chunk_size too big", "listen 1935;\nchunk_size 65537;", "chunk_size=65537", 2],
    ["vhost chunk_size", "listen 1935;\nvhost v {\n chunk_size 100;\n}", "chunk_size=100 of v", 3],
    ["chunk_size not a number", "listen 1935;\nchunk_size big;", "bad value type", 2],
    ["float where int", "listen 1935;\nmax_connections 1.5;", "bad value type", 2],
    ["hls_fragment not a number", "listen 1935;\nvhost v { hls { hls_fragment ten; } }", "bad value type", 2],
    ["bad listen", "listen abc;", "bad value type", 1],
    ["bad port", "listen 70000;", "bad value type", 1],
    ["empty http_api listen", "listen 1935;\nhttp_api {\n enabled on;\n listen;\n}", "http_api.listen requires params", 4],
    ["empty http_server listen", "listen 1935;\nhttp_server {\n listen;\n}", "http_server.listen requires params", 3],
    ["full.conf", "listen 1935;\nis_full on;", "never use full.conf", 2],
    ["leaf given a block", "listen 1935;\nvhost v { hls { enabled { on; } } }", "is not a block", 2],
    ["two http_remux", "listen 1935;\nvhost v { http_remux { enabled on; } http_remux { enabled off; } }", "only one", 2],
    ["hls vs http-ts", "listen 1935;\nvhost v { hls { enabled on; } http_remux { enabled on; mount [vhost]/[app]/[stream].ts; } }", "conflict", 2],
    ["duplicate ingest", "listen 1935;\nvhost v { ingest a { } ingest a { } }", "ingest id=a exists", 2],
    ["forward vs kickoff", "listen 1935;\nvhost v { forward { enabled on; destination x:1; } publish { kickoff_for_idle 10; } }", "kickoff_for_idle", 2],
    ["https api without http", "listen 1935;\nhttp_api { enabled off; https { enabled on; } }", "https api depends on http", 2],
    ["max_connections 0", "listen 1935;\nmax_connections 0;", "max_connections=0", 2],
    ["asprocess with daemon", "listen 1935;\nasprocess on;", "daemon conflicts with asprocess", 2],
    ["prototype names are not directives", "listen 1935;\nconstructor 1;", "illegal directive constructor", 2],
  ];
  for (const [name, text, msg, line] of cases) {
    test(name, () => {
      const e = checkErr(text);
      expect(e.message).toContain(msg);
      expect(e.file).toBe("conf/t.conf");
      expect(e.line).toBe(line);
    });
  }

  test("SRS 7 rtmp{} block form", () => {
    const c = loadConfig({ text: "rtmp { listen 1936; chunk_size 4096; }", env: {} });
    expect(c.listen()).toEqual(["1936"]);
    expect(c.chunkSize()).toBe(4096);
  });
});

describe("default config", () => {
  test("conf/srs.conf equals DEFAULT_CONFIG_TEXT", () => {
    expect(readFileSync(join(REPO, "conf/srs.conf"), "utf8")).toBe(DEFAULT_CONFIG_TEXT);
  });

  test("the default config loads with the expected settings", () => {
    const cfg = loadConfig({ text: DEFAULT_CONFIG_TEXT, env: { CANDIDATE: "10.0.0.1" } });
    expect(cfg.listen()).toEqual(["1935"]);
    expect(cfg.daemon()).toBe(false);
    expect(cfg.logTank()).toBe("console");
    expect(cfg.httpApi()).toMatchObject({ enabled: true, listen: "1985" });
    expect(cfg.httpServer()).toMatchObject({ enabled: true, listen: "8080", dir: "./objs/nginx/html" });
    expect(cfg.rtcServer()).toMatchObject({ enabled: true, listen: 8000, candidate: "10.0.0.1" });
    expect(cfg.srtServer()).toMatchObject({ enabled: true, listen: 10080 });
    const v = cfg.vhost()!;
    expect(v.hls.enabled).toBe(true);
    expect(v.httpRemux).toMatchObject({ enabled: true, mount: "[vhost]/[app]/[stream].flv" });
    // on in the shipped config (the audio bridge: any input plays on any output with audio); the getters keep
    // SRS's default (off) for config files without them, see the empty-config test above
    expect(v.rtc).toMatchObject({ enabled: true, rtmpToRtc: true, rtcToRtmp: true });
    expect(v.srt).toEqual({ enabled: true, srtToRtmp: true });
    expect(v.play.gopCacheMaxFrames).toBe(2500);
  });

  test("checkConfigFile (srs -t)", async () => {
    await loadYamlSupport(); // conf/srs.yaml
    expect(checkConfigFile("conf/srs.conf", REPO, {})).toEqual({ ok: true });
    expect(checkConfigFile("conf/srs.yaml", REPO, {})).toEqual({ ok: true });
    const dir = tempTree({ "bad.conf": "listen 1935;\nvhost {\n" });
    const r = checkConfigFile("bad.conf", dir, {});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/^bad\.conf:2: directive "vhost": unexpected end of file/);
    const missing = checkConfigFile("missing.conf", dir, {});
    expect(missing.ok).toBe(false);
  });
});
