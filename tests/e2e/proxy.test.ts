/**
 * SRS 7's proxy, as `srs-ts proxy`: three srs-ts origins send their heartbeat to proxy 1's system API; two proxies
 * share their state in Redis (Debian's redis-server on a free port). FFmpeg publishes through proxy 1; players
 * come through proxy 2 over RTMP, HTTP-FLV, HLS, WHEP (werift) and SRT; WHIP (Chromium) and SRT publishers too. Then: junk heartbeats, Redis killed and
 * restarted under running streams, and one proxy alone with its memory load balancer.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { launchBrowser, openPage } from "../helpers/browser.ts";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { describeWithCorpus } from "../helpers/srs-conf-corpus.ts";
import { originConf, type RunningProxy, type RunningRedis, startProxy, startRedis } from "../helpers/proxy.ts";
import { freePort, playFrames, probeStreams, publish, reloadConfig, rtcEnv, run, type RunningServer, startServer } from "../helpers/server.ts";
import { count, waitFor } from "../helpers/wait.ts";
import { whepViewer } from "../helpers/whep.ts";
import { RedisClient } from "../../lib/proxy/redis.ts";

const { servers, cleanup, track } = cleanupAfterAll();

async function startOrigin(registerUrl: string, device: string): Promise<RunningServer> {
  const udp = await freePort();
  const s = await startServer({
    config: originConf(registerUrl, device),
    env: {
      ...rtcEnv(udp), SRS_VHOST_RTC_RTMP_TO_RTC: "on", SRS_VHOST_RTC_RTC_TO_RTMP: "on", SRS_DEVICE_IP: "127.0.0.1",
      SRS_SRT_SERVER_ENABLED: "on", SRS_VHOST_SRT_ENABLED: "on",
    },
  });
  servers.push(s);
  return s;
}

function proxyFor(p: RunningProxy): { stop(): Promise<unknown> } {
  return { stop: () => p.stop("SIGKILL") };
}

/** Origins publishing `stream` now (their /api/v1/streams/). */
async function holders(origins: RunningServer[], stream: string): Promise<number> {
  let n = 0;
  for (const o of origins) {
    const j = await (await fetch(`http://127.0.0.1:${o.api}/api/v1/streams/`)).json() as { streams: { name: string; publish: { active: boolean } }[] };
    if (j.streams.some((s) => s.name === stream && s.publish.active)) n++;
  }
  return n;
}

describe("two proxies sharing Redis, three origins", () => {
  let redis: RunningRedis;
  let p1: RunningProxy;
  let p2: RunningProxy;
  const origins: RunningServer[] = [];
  let rc: RedisClient;

  test("setup: redis, two proxies, three origins registering with their heartbeat", async () => {
    redis = await startRedis();
    cleanup.push(() => redis.stop("SIGKILL"));
    const lbEnv = { PROXY_LOAD_BALANCER_TYPE: "redis", PROXY_REDIS_HOST: "127.0.0.1", PROXY_REDIS_PORT: String(redis.port) };
    p1 = await startProxy(lbEnv);
    cleanup.push(() => proxyFor(p1).stop());
    p2 = await startProxy(lbEnv);
    cleanup.push(() => proxyFor(p2).stop());
    const url = `http://127.0.0.1:${p1.system}/api/v1/srs/register`;
    for (const d of ["origin1", "origin2", "origin3"]) origins.push(await startOrigin(url, d));
    rc = new RedisClient({ host: "127.0.0.1", port: redis.port });
    cleanup.push(() => rc.close());
    await waitFor("3 origins registered", () => count(p1.output(), "origin registered") >= 3, 15000, p1);
    const keys = JSON.parse((await rc.get("srs-proxy-all-servers")) ?? "[]") as string[];
    expect(keys.length).toBe(3);
    for (const k of keys) expect(k).toStartWith("srs-proxy-server:");
    // The heartbeat as SRS 7 sends it, stored as SRS's proxy stores it, alive 300 s.
    const one = JSON.parse((await rc.get(keys[0]!))!) as Record<string, unknown>;
    expect(one.ip).toBe("127.0.0.1");
    expect(["origin1", "origin2", "origin3"]).toContain(one.device_id as string);
    expect((one.rtmp as string[])[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((one.rtc as string[])[0]).toMatch(/^udp:\/\/0\.0\.0\.0:\d+$/);
    const ttl = await rc.command(["PTTL", keys[0]!]) as number;
    expect(ttl).toBeGreaterThan(250_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
  }, 90000);

  test("publish through proxy 1, play through proxy 2 over RTMP and HTTP-FLV", async () => {
    track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p1.rtmp}/live/s1`));
    await waitFor("s1 on an origin", async () => (await holders(origins, "s1")) === 1, 20000, p1);
    // Sticky: the stream's origin is in Redis under SRS's key.
    expect(await rc.get("srs-proxy-url:__defaultVhost__/live/s1")).toStartWith("srs-proxy-server:");
    const streams = await probeStreams(`rtmp://127.0.0.1:${p2.rtmp}/live/s1`);
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const rtmp = await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/s1`, 2);
    expect(rtmp.video).toBeGreaterThan(20);
    const flv = await playFrames(`http://127.0.0.1:${p2.http}/live/s1.flv`, 2);
    expect(flv.video).toBeGreaterThan(20);
    // Still one origin holds it: proxy 2's players went where proxy 1's publisher is.
    expect(await holders(origins, "s1")).toBe(1);
    expect(p2.output()).toContain("RTMP play __defaultVhost__/live/s1 -> origin");
  }, 90000);

  test("HLS through proxy 2: segment URLs carry the session (spbhid) shared in Redis", async () => {
    const m3u8 = `http://127.0.0.1:${p2.http}/live/s1.m3u8`;
    await waitFor("the playlist", async () => (await fetch(m3u8)).status === 200, 20000, p2);
    const text = await (await fetch(m3u8)).text();
    expect(text).toContain("spbhid=");
    const id = /spbhid=(\w+)/.exec(text)![1]!;
    expect(JSON.parse((await rc.get(`srs-proxy-spbhid:${id}`))!)).toMatchObject({ spbhid: id, stream_url: "__defaultVhost__/live/s1" });
    expect(await rc.get("srs-proxy-hls:__defaultVhost__/live/s1")).not.toBeNull();
    const hls = await playFrames(m3u8, 2, 40000);
    expect(hls.video).toBeGreaterThan(20);
  }, 90000);

  test("WHEP through proxy 2: the answer names the proxy's UDP port, media relayed by ICE username", async () => {
    const v = await whepViewer(p2.api, "s1");
    cleanup.push(() => v.pc.close());
    const answer = v.pc.remoteDescription!.sdp;
    expect(answer).toContain(` ${p2.rtc} typ host`);
    expect(answer).toContain("H264");
    await waitFor("100 video RTP packets", () => v.packets() > 100, 20000, p2);
    const ufrags = await rc.command(["KEYS", "srs-proxy-ufrag:*"]) as string[];
    expect(ufrags.length).toBe(1);
    expect(p2.output()).toContain("WebRTC relay __defaultVhost__/live/s1");
    await v.pc.close();
  }, 60000);

  test("WHIP through proxy 1 (Chromium), played through proxy 2 over RTMP", async () => {
    const browser = await launchBrowser();
    cleanup.push(() => browser.close());
    const page = await openPage(browser, `http://127.0.0.1:${origins[0]!.http}/`);
    const r = await page.evaluate(async (api) => {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
      const pc = new RTCPeerConnection();
      for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(`http://127.0.0.1:${api}/rtc/v1/whip/?app=live&stream=w1`, { method: "POST", body: pc.localDescription!.sdp });
      const answer = await res.text();
      if (res.status !== 201) return { status: res.status, answer, state: "" };
      await pc.setRemoteDescription({ type: "answer", sdp: answer });
      for (let i = 0; i < 100 && pc.connectionState !== "connected"; i++) await new Promise((ok) => setTimeout(ok, 100));
      (globalThis as unknown as { publisher: RTCPeerConnection }).publisher = pc;
      return { status: res.status, answer, state: pc.connectionState };
    }, p1.api);
    expect(r.status).toBe(201);
    expect(r.answer).toContain(` ${p1.rtc} typ host`);
    expect(r.state).toBe("connected");
    await waitFor("w1 on an origin", async () => (await holders(origins, "w1")) === 1, 20000, p1);
    const streams = await probeStreams(`rtmp://127.0.0.1:${p2.rtmp}/live/w1`);
    expect(streams.map((s) => s.codec_name)).toContain("h264");
    const play = await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/w1`, 2);
    expect(play.video).toBeGreaterThan(20);
    expect(p1.output()).toContain("WebRTC relay __defaultVhost__/live/w1");
    await page.close();
    await browser.close();
  }, 90000);

  test("SRT: publish through proxy 1, play through proxy 2 over SRT and RTMP", async () => {
    const pub = track(run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"), "-c", "copy", "-f", "mpegts",
      `srt://127.0.0.1:${p1.srt}?streamid=#!::r=live/t1,m=publish`,
    ]));
    await waitFor("t1 on an origin", async () => (await holders(origins, "t1")) === 1, 20000, p1);
    expect(pub.proc.exitCode).toBeNull();
    const srt = await probeStreams(`srt://127.0.0.1:${p2.srt}?streamid=#!::r=live/t1,m=request`);
    expect(srt.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const rtmp = await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/t1`, 2);
    expect(rtmp.video).toBeGreaterThan(20);
    // RTMP published stream s1, played over SRT through proxy 2.
    const s1 = await playFrames(`srt://127.0.0.1:${p2.srt}?streamid=#!::r=live/s1,m=request`, 2);
    expect(s1.video).toBeGreaterThan(20);
    expect(p1.output()).toContain("SRT publish __defaultVhost__/live/t1");
    pub.kill();
  }, 90000);

  test("junk heartbeats get a 400 naming the problem; the proxy goes on", async () => {
    const reg = `http://127.0.0.1:${p1.system}/api/v1/srs/register`;
    const bad: [string, string][] = [
      ["not json", "not JSON"],
      ["[1,2]", "JSON object"],
      [JSON.stringify({ ip: 5, server: "a", service: "b", pid: "1", rtmp: ["1935"] }), "ip must be a string"],
      [JSON.stringify({ ip: "10.0.0.1", service: "b", pid: "1", rtmp: ["1935"] }), "empty server"],
      [JSON.stringify({ ip: "10.0.0.1", server: "a", service: "b", pid: "1", rtmp: "1935" }), "rtmp must be an array"],
      [JSON.stringify({ ip: "10.0.0.1", server: "a", service: "b", pid: "1", rtmp: ["x:y:z"] }), "not an endpoint"],
      [JSON.stringify({ ip: "10.0.0.1", server: "a", service: "b", pid: "1", rtmp: [] }), "empty rtmp"],
      [JSON.stringify({ ip: "10.0.0.1", server: "a", service: "b", pid: "1", rtmp: ["1935"], api: new Array(100).fill("1") }), "at most"],
      ["x".repeat(100_000), "larger than"],
    ];
    for (const [body, why] of bad) {
      const res = await fetch(reg, { method: "POST", body });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain(why);
    }
    // Junk on the media ports too: TCP garbage to RTMP, random datagrams (and a STUN-looking one) to SRT and WebRTC.
    const garbage = connect({ host: "127.0.0.1", port: p1.rtmp }, () => garbage.write(Buffer.alloc(5000, 7)));
    garbage.on("error", () => {});
    await Bun.sleep(300);
    garbage.destroy();
    const u = createSocket("udp4");
    const junkDatagrams = [Buffer.alloc(100, 0x80), Buffer.from([0x80, 0, 0, 0]), Buffer.alloc(1500, 0xff),
      Buffer.concat([Buffer.from([0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42]), Buffer.alloc(12), Buffer.from([0, 6, 0, 3, 0x61, 0x3a, 0x62, 0])])];
    for (const d of junkDatagrams) for (const port of [p1.srt, p1.rtc]) u.send(d, port, "127.0.0.1");
    await Bun.sleep(300);
    u.close();
    expect((await fetch(`http://127.0.0.1:${p1.system}/api/v1/versions`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${p1.http}/live/s1.flv`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status).catch(() => 0))).toBe(200);
    const keys = JSON.parse((await rc.get("srs-proxy-all-servers")) ?? "[]") as string[];
    expect(keys.length).toBe(3);
    expect(p1.proc.exitCode).toBeNull();
  }, 30000);

  test("Redis killed mid-stream: known streams keep routing, it is logged, and all recovers when Redis returns", async () => {
    await redis.stop("SIGKILL");
    // Proxy 2 plays s1 again (known from before): routed from its memory.
    const during = await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/s1`, 2);
    expect(during.video).toBeGreaterThan(20);
    const flv = await playFrames(`http://127.0.0.1:${p2.http}/live/s1.flv`, 1);
    expect(flv.video).toBeGreaterThan(10);
    expect(p2.output()).toMatch(/redis 127\.0\.0\.1:\d+\/0 is down/);
    // A new stream during the outage: proxy 2 picks among the origins it has seen, and keeps it there.
    const during3 = track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p2.rtmp}/live/s3`));
    await waitFor("s3 on an origin", async () => (await holders(origins, "s3")) === 1, 20000, p2);
    expect((await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/s3`, 1)).video).toBeGreaterThan(10);
    during3.kill();
    await waitFor("proxy 1 notices (heartbeats)", () => /redis 127\.0\.0\.1:\d+\/0 is down/.test(p1.output()), 10000, p1);
    // Redis comes back empty (no persistence): heartbeats fill the servers in again.
    redis = await startRedis(redis.port);
    await waitFor("3 origins back in Redis", async () => {
      const k = await rc.get("srs-proxy-all-servers").catch(() => null);
      return k !== null && (JSON.parse(k) as string[]).length === 3;
    }, 20000, p1);
    await waitFor("proxy 1 says redis is back", () => p1.output().includes("is back"), 10000, p1);
    // s1 is written back by the proxy that knows it, so the stream stays where it is.
    const again = await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/s1`, 1);
    expect(again.video).toBeGreaterThan(10);
    expect(await rc.get("srs-proxy-url:__defaultVhost__/live/s1")).toStartWith("srs-proxy-server:");
    expect(await holders(origins, "s1")).toBe(1);
    // A new stream is shared again: published through proxy 1, played through proxy 2.
    track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p1.rtmp}/live/s2`));
    await waitFor("s2 on an origin", async () => (await holders(origins, "s2")) === 1, 20000, p1);
    const s2 = await playFrames(`rtmp://127.0.0.1:${p2.rtmp}/live/s2`, 2);
    expect(s2.video).toBeGreaterThan(20);
  }, 120000);

  test("SIGTERM with relays open: the proxy exits at once, code 0", async () => {
    const t0 = Date.now();
    expect(await p1.stop("SIGTERM")).toBe(0);
    // Not a speed assertion: the helper would SIGKILL after 8 s; print the figure.
    console.log(`proxy SIGTERM with a publisher relaying: exited in ${Date.now() - t0} ms`);
  }, 20000);
});

describe("one proxy alone: memory load balancer, Redis unreachable, under Deno, bad settings", () => {
  test("an origin registers, a stream is published and played through the proxy", async () => {
    const p = await startProxy({ PROXY_LOAD_BALANCER_TYPE: "memory", PROXY_REDIS_PORT: "1" });
    cleanup.push(() => p.stop("SIGKILL"));
    expect(p.output()).toContain("load balancer memory");
    const o = await startOrigin(`http://127.0.0.1:${p.system}/api/v1/srs/register`, "solo");
    await waitFor("registered", () => p.output().includes("origin registered: solo"), 15000, p);
    track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p.rtmp}/live/m1`));
    await waitFor("m1 on the origin", async () => (await holders([o], "m1")) === 1, 20000, p);
    const flv = await playFrames(`http://127.0.0.1:${p.http}/live/m1.flv`, 2);
    expect(flv.video).toBeGreaterThan(20);
    const rtmp = await playFrames(`rtmp://127.0.0.1:${p.rtmp}/live/m1`, 1);
    expect(rtmp.video).toBeGreaterThan(10);
    // No origin for an unknown vhost's app? Every stream goes to the only origin; a stream nobody publishes is the
    // origin's answer (404), relayed.
    expect((await fetch(`http://127.0.0.1:${p.http}/live/nobody.flv`)).status).toBe(404);
    // The heartbeat block reloads: turned off, it is applied, not "needs a restart".
    await reloadConfig(o, originConf(`http://127.0.0.1:${p.system}/api/v1/srs/register`, "solo").replace("heartbeat { enabled on;", "heartbeat { enabled off;"));
    expect(o.output()).toContain("reload: heartbeat applied (off)");
  }, 90000);

  test("an origin that sends garbage or hangs: players get a clean refusal, the proxy lives", async () => {
    // Fake origins: one answers every connection with junk, one accepts and never says a word.
    const junk = createServer((s) => {
      s.on("error", () => {});
      s.end(Buffer.alloc(4096, 0x42));
    });
    const mute = createServer((s) => void s.on("error", () => {}));
    for (const srv of [junk, mute]) {
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
      cleanup.push(() => srv.close());
    }
    const portOf = (srv: typeof junk) => String((srv.address() as { port: number }).port);
    const viaDefault = (port: string) => ({
      PROXY_DEFAULT_BACKEND_ENABLED: "on", PROXY_DEFAULT_BACKEND_IP: "127.0.0.1",
      PROXY_DEFAULT_BACKEND_RTMP: port, PROXY_DEFAULT_BACKEND_HTTP: port,
    });
    const pj = await startProxy(viaDefault(portOf(junk)));
    const pm = await startProxy(viaDefault(portOf(mute)));
    cleanup.push(() => pj.stop("SIGKILL"), () => pm.stop("SIGKILL"));
    const [jPlay, mPlay, jFlv, mFlv] = await Promise.all([
      playFrames(`rtmp://127.0.0.1:${pj.rtmp}/live/g`, 1, 30000),
      playFrames(`rtmp://127.0.0.1:${pm.rtmp}/live/h`, 1, 30000),
      fetch(`http://127.0.0.1:${pj.http}/live/g.flv`),
      fetch(`http://127.0.0.1:${pm.http}/live/h.flv`),
    ]);
    expect(jPlay.video).toBe(0);
    expect(mPlay.video).toBe(0);
    expect(jFlv.status).toBe(502);
    expect(mFlv.status).toBe(502);
    expect(await mFlv.text()).toContain("no answer within");
    // The player gave up first (ffmpeg's 8 s rw_timeout) or the proxy did (10 s without a handshake): either way, named.
    expect(pm.output()).toMatch(/RTMP client [\d.:]+: origin 127\.0\.0\.1:\d+: (connection closed|.*no handshake within)/);
    expect(pj.output()).toMatch(/RTMP client [\d.:]+: origin 127\.0\.0\.1:\d+/);
    for (const p of [pj, pm]) {
      expect(p.proc.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${p.system}/api/v1/versions`)).status).toBe(200);
    }
  }, 60000);

  test("Redis configured but unreachable from the start: the proxy says so and routes from memory", async () => {
    const closed = await freePort();
    const p = await startProxy({ PROXY_LOAD_BALANCER_TYPE: "redis", PROXY_REDIS_PORT: String(closed) });
    cleanup.push(() => p.stop("SIGKILL"));
    expect(p.output()).toMatch(new RegExp(`redis 127\\.0\\.0\\.1:${closed}/0 is down`));
    const o = await startOrigin(`http://127.0.0.1:${p.system}/api/v1/srs/register`, "noredis");
    await waitFor("registered", () => p.output().includes("origin registered: noredis"), 15000, p);
    track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p.rtmp}/live/n1`));
    await waitFor("n1 on the origin", async () => (await holders([o], "n1")) === 1, 20000, p);
    const flv = await playFrames(`http://127.0.0.1:${p.http}/live/n1.flv`, 1);
    expect(flv.video).toBeGreaterThan(10);
    expect((await fetch(`http://127.0.0.1:${p.http}/api/v1/versions`)).status).toBe(200);
    // One line when it went down, not one per request.
    expect(count(p.output(), "is down")).toBe(1);
  }, 60000);

  test("under Deno: the proxy with Redis registers an origin and relays RTMP and HTTP-FLV", async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop("SIGKILL"));
    const deno = join(REPO_ROOT, "node_modules/.bin/deno");
    const p = await startProxy({
      PROXY_LOAD_BALANCER_TYPE: "redis", PROXY_REDIS_PORT: String(redis.port),
      NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1",
    }, [deno, "run", "-A", join(REPO_ROOT, "main.ts")]);
    cleanup.push(() => p.stop("SIGKILL"));
    const o = await startOrigin(`http://127.0.0.1:${p.system}/api/v1/srs/register`, "fordeno");
    await waitFor("registered", () => p.output().includes("origin registered: fordeno"), 15000, p);
    track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p.rtmp}/live/d1`));
    await waitFor("d1 on the origin", async () => (await holders([o], "d1")) === 1, 20000, p);
    expect((await playFrames(`rtmp://127.0.0.1:${p.rtmp}/live/d1`, 1)).video).toBeGreaterThan(10);
    expect((await playFrames(`http://127.0.0.1:${p.http}/live/d1.flv`, 1)).video).toBeGreaterThan(10);
  }, 120000);

  test("bad settings: a clear message and a non-zero exit, before listening", async () => {
    const cases: [Record<string, string>, string[], string][] = [
      [{ PROXY_LOAD_BALANCER_TYPE: "etcd" }, [], "PROXY_LOAD_BALANCER_TYPE=etcd: must be memory or redis"],
      [{ PROXY_REDIS_PORT: "99999" }, [], "PROXY_REDIS_PORT=99999"],
      [{}, ["-c", "srs.conf"], `unknown option "-c"`],
    ];
    for (const [env, args, msg] of cases) {
      const p = spawnSync(process.execPath, [join(REPO_ROOT, "main.ts"), "proxy", ...args], {
        env: { ...process.env, ...env }, encoding: "utf8", timeout: 20000,
      });
      expect(p.status).not.toBe(0);
      expect(p.stderr).toContain(msg);
    }
  }, 60000);

  test("no origin registered: players get a clean refusal", async () => {
    const p = await startProxy({});
    cleanup.push(() => p.stop("SIGKILL"));
    const res = await fetch(`http://127.0.0.1:${p.http}/live/x.flv`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("no origin available");
    const play = await playFrames(`rtmp://127.0.0.1:${p.rtmp}/live/x`, 1, 15000);
    expect(play.video).toBe(0);
    expect(p.output()).toContain("no origin available for __defaultVhost__/live/x");
    expect(p.proc.exitCode).toBeNull();
  }, 40000);
});

describeWithCorpus("SRS's own origin configs for the proxy (origin1/2/3-for-proxy.conf)", (corpus) => {
  test("the three origins run as SRS runs them, register, and serve a stream through the proxy", async () => {
    const names = ["origin1-for-proxy.conf", "origin2-for-proxy.conf", "origin3-for-proxy.conf"];
    if (!names.every((n) => corpus.files.includes(n))) throw new Error(`missing ${names.join(", ")} in ${corpus.dir}`);
    const p = await startProxy({});
    cleanup.push(() => p.stop("SIGKILL"));
    const started: RunningServer[] = [];
    for (const n of names) {
      // The files as they are; only their fixed ports move to free ones, the heartbeat to this proxy (SRS_* env).
      const s = await startServer({
        config: readFileSync(join(corpus.dir, n), "utf8"),
        env: {
          CANDIDATE: "127.0.0.1", SRS_DEVICE_IP: "127.0.0.1",
          SRS_RTC_SERVER_ENABLED: "on", SRS_RTC_SERVER_LISTEN: String(await freePort()), SRS_SRT_SERVER_ENABLED: "on",
          SRS_HEARTBEAT_URL: `http://127.0.0.1:${p.system}/api/v1/srs/register`,
        },
      });
      servers.push(s);
      started.push(s);
      expect(s.output()).not.toContain("heartbeat: not implemented");
    }
    // interval 9: the first heartbeat is posted at start.
    for (const d of ["origin1", "origin2", "origin3"]) {
      await waitFor(`${d} registered`, () => p.output().includes(`origin registered: ${d} `), 15000, p);
    }
    track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p.rtmp}/live/c1`));
    await waitFor("c1 on an origin", async () => (await holders(started, "c1")) === 1, 20000, p);
    const flv = await playFrames(`http://127.0.0.1:${p.http}/live/c1.flv`, 2);
    expect(flv.video).toBeGreaterThan(20);
  }, 90000);
});
