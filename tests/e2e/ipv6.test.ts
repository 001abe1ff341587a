/**
 * Addresses as SRS takes them, on IPv6 loopback: every listener gets `127.0.0.1:PORT [::1]:PORT` (several values,
 * ip:port, bracketed IPv6), and real clients use the server over [::1]: FFmpeg publishes RTMP and plays HTTP-FLV
 * and RTMP, FFmpeg publishes and plays SRT, Chromium plays WHEP with an IPv6 host candidate.
 * Needs ::1 on lo (`ip -6 addr show lo`); on a host without IPv6 the file is skipped with a warning.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip } from "../helpers/media.ts";
import { freePort, playFrames, probeStreams, publish, run, type RunningServer, startServer } from "../helpers/server.ts";

const CONF = `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; }
rtc_server { enabled on; listen 8000; candidate ::1; }
srt_server { enabled on; listen 10080; }
vhost __defaultVhost__ {
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  srt { enabled on; }
  rtc { enabled on; }
}
`;

/** Whether this host can listen on ::1 at all. */
const HAS_IPV6 = await new Promise<boolean>((resolve) => {
  const s = createServer();
  s.once("error", () => resolve(false));
  s.listen(0, "::1", () => s.close(() => resolve(true)));
});
if (!HAS_IPV6) console.warn("ipv6.test.ts: no ::1 on this host (ip -6 addr show lo): skipped");

let srv: RunningServer;
let udp: number;
let browser: TestBrowser | undefined;
const v6 = (port: number, path: string, scheme = "http") => `${scheme}://[::1]:${port}${path}`;

/** Waits until `stream` is published (the API lists its publisher). */
async function published(stream: string): Promise<void> {
  const end = Date.now() + 15000;
  for (;;) {
    const j = await (await fetch(v6(srv.api, "/api/v1/streams/"))).json() as { streams: { name: string; publish: { active: boolean } }[] };
    if (j.streams.some((s) => s.name === stream && s.publish.active)) return;
    if (Date.now() > end) throw new Error(`${stream} not published`);
    await Bun.sleep(100);
  }
}

beforeAll(async () => {
  if (!HAS_IPV6) return;
  udp = await freePort();
  srv = await startServer({
    config: CONF,
    // Both families on each TCP port: what the harness waits for (127.0.0.1) and what the clients use ([::1]).
    portEnv: (p) => ({
      SRS_LISTEN: `127.0.0.1:${p.rtmp} [::1]:${p.rtmp}`,
      SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${p.http} [::1]:${p.http}`,
      SRS_HTTP_API_LISTEN: `127.0.0.1:${p.api} [::1]:${p.api}`,
      SRS_SRT_SERVER_LISTEN: `[::1]:${p.srt}`,
      SRS_RTC_SERVER_LISTEN: `[::1]:${udp}`,
      SRS_SRT_SERVER_ENABLED: "on",
      SRS_RTC_SERVER_ENABLED: "on",
    }),
  });
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

describe.skipIf(!HAS_IPV6)("IPv6 (::1)", () => {
  test("the listeners say where they listen, both families", () => {
    const log = srv.output();
    expect(log).toContain(`rtmp listen at tcp://[::1]:${srv.rtmp}`);
    expect(log).toContain(`rtmp listen at tcp://127.0.0.1:${srv.rtmp}`);
    expect(log).toContain(`http server listen at tcp://[::1]:${srv.http}`);
    expect(log).toContain(`http api listen at tcp://[::1]:${srv.api}`);
    expect(log).toContain(`srt server listening on udp [::1]:${srv.srt}`);
    expect(log).toContain(`rtc server listen at udp://[::1]:${udp}`);
  });

  test("FFmpeg publishes rtmp://[::1] and plays http://[::1]/….flv and rtmp://[::1]", async () => {
    const pub = publish(clip("clip.flv"), v6(srv.rtmp, "/live/s6", "rtmp"));
    try {
      await published("s6");
      const flv = await probeStreams(v6(srv.http, "/live/s6.flv"));
      expect(flv.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      const play = await playFrames(v6(srv.http, "/live/s6.flv"), 2);
      expect(play.video).toBeGreaterThan(20);
      const rtmp = await probeStreams(v6(srv.rtmp, "/live/s6", "rtmp"));
      expect(rtmp.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      // The API, over IPv6 too, names the publisher by its IPv6 address.
      const j = await (await fetch(v6(srv.api, "/api/v1/clients/"))).json() as { clients: { type: string; ip: string }[] };
      expect(j.clients.find((c) => c.type === "fmle-publish")?.ip).toBe("::1");
    } finally {
      pub.kill();
    }
  }, 60000);

  test("FFmpeg publishes and plays SRT over [::1]", async () => {
    const url = (m: string) => `srt://[::1]:${srv.srt}?streamid=#!::r=live/srt6,m=${m}`;
    const pub = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.flv"),
      "-c", "copy", "-f", "mpegts", url("publish")]);
    try {
      await published("srt6");
      const streams = await probeStreams(url("request"));
      expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(srv.output()).toMatch(/srt client ::1:\d+ streamid=#!::r=live\/srt6,m=publish/);
    } finally {
      pub.kill();
    }
  }, 60000);

  test("[::] next to the same port on IPv4 binds IPv6-only, so both start (RTMP, HTTP, SRT, WebRTC)", async () => {
    const rtc = await freePort();
    const s = await startServer({
      portEnv: (p) => ({
        SRS_LISTEN: `127.0.0.1:${p.rtmp} [::]:${p.rtmp}`,
        SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${p.http} [::]:${p.http}`,
        SRS_SRT_SERVER_ENABLED: "on",
        SRS_SRT_SERVER_LISTEN: `${p.srt} [::]:${p.srt}`,
        SRS_RTC_SERVER_ENABLED: "on",
        SRS_RTC_SERVER_LISTEN: `${rtc} [::]:${rtc}`,
      }),
    });
    try {
      const log = s.output();
      expect(log).toContain(`rtmp listen at tcp://[::]:${s.rtmp}`);
      expect(log).toContain(`srt server listening on udp [::]:${s.srt}`);
      expect(log).toContain(`rtc server listen at udp://0.0.0.0:${rtc} udp://[::]:${rtc}`);
      for (const host of ["127.0.0.1", "[::1]"]) expect((await fetch(`http://${host}:${s.http}/`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  }, 30000);

  test("Chromium plays WHEP from http://[::1] over an IPv6 host candidate", async () => {
    const pub = publish(clip("clip.flv"), v6(srv.rtmp, "/live/rtc6", "rtmp"));
    try {
      await published("rtc6");
      browser = await launchBrowser();
      const p: Page = await browser.context.newPage();
      await p.goto(v6(srv.http, "/"));
      const r = await p.evaluate(async ({ api }) => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver("video", { direction: "recvonly" });
        pc.addTransceiver("audio", { direction: "recvonly" });
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch(`${api}/rtc/v1/whep/?app=live&stream=rtc6`, { method: "POST", body: pc.localDescription!.sdp });
        const answer = await res.text();
        if (res.status !== 201) return { status: res.status, answer, frames: 0, remote: "" };
        await pc.setRemoteDescription({ type: "answer", sdp: answer });
        let frames = 0;
        let remote = "";
        for (let i = 0; i < 60 && frames < 30; i++) {
          await new Promise((ok) => setTimeout(ok, 100));
          (await pc.getStats()).forEach((x: { type: string; kind?: string; framesDecoded?: number; address?: string; candidateType?: string }) => {
            if (x.type === "inbound-rtp" && x.kind === "video") frames = x.framesDecoded ?? 0;
            if (x.type === "remote-candidate") remote = x.address ?? "";
          });
        }
        pc.close();
        return { status: res.status, answer, frames, remote };
      }, { api: v6(srv.api, "") });
      expect(r.status).toBe(201);
      const cands = r.answer.split("\r\n").filter((l) => l.startsWith("a=candidate"));
      expect(cands.length).toBeGreaterThan(0);
      for (const c of cands) expect(c).toContain(` ::1 ${udp} typ host`);
      expect(r.remote).toBe("::1");
      expect(r.frames).toBeGreaterThanOrEqual(30);
    } finally {
      pub.kill();
    }
  }, 60000);
});
