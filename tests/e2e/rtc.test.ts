/**
 * WebRTC end to end with headless Chromium (playwright-core) and ffmpeg: WHIP publish -> WHEP play,
 * WHIP -> RTMP/HTTP-FLV, RTMP -> WHEP, the JSON API, bad input on the API and the UDP port, stun_timeout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import type { WithSrs } from "../helpers/page-webrtc.ts";
import { clip } from "../helpers/media.ts";
import { freePort, playFrames, publish, type RunningServer, startServer, rtcEnv } from "../helpers/server.ts";

let srv: RunningServer;
let browser: TestBrowser;
let udp: number;
let api: string;

beforeAll(async () => {
  udp = await freePort();
  srv = await startServer({
    env: {
      ...rtcEnv(udp),
      SRS_VHOST_RTC_STUN_TIMEOUT: "3",
    },
  });
  api = `http://127.0.0.1:${srv.api}`;
  browser = await launchBrowser();
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function page(): Promise<Page> {
  const p = await browser.context.newPage();
  // getUserMedia needs a real http:// page; the API is another origin (CORS with Location exposed).
  await p.goto(`http://127.0.0.1:${srv.http}/`);
  return p;
}

/** Publishes the fake camera + microphone by WHIP from a page; returns the Location header. */
async function whipPublish(p: Page, stream: string, audio = true): Promise<{ status: number; location: string | null; state: string }> {
  return await p.evaluate(async ({ api, stream, audio }) => {
    const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio });
    const pc = new RTCPeerConnection();
    for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`${api}/rtc/v1/whip/?app=live&stream=${stream}`, {
      method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" },
    });
    const answer = await res.text();
    if (res.status !== 201) return { status: res.status, location: answer, state: "" };
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    (globalThis as unknown as { pub: RTCPeerConnection }).pub = pc;
    for (let i = 0; i < 50 && pc.connectionState !== "connected"; i++) await new Promise((r) => setTimeout(r, 100));
    return { status: res.status, location: res.headers.get("location"), state: pc.connectionState };
  }, { api, stream, audio });
}

interface PlayResult {
  status: number;
  state: string;
  first: { frames: number; width: number };
  last: { frames: number; width: number };
  body?: string;
}

/** Plays by WHEP (or the JSON API) in a page for `seconds`, reading framesDecoded twice. */
async function whepPlay(p: Page, stream: string, seconds: number, json = false): Promise<PlayResult & { sessionid?: string }> {
  return await p.evaluate(async ({ api, stream, seconds, json }) => {
    const { srs } = globalThis as unknown as WithSrs;
    let pc: RTCPeerConnection;
    let status: number;
    let sessionid: string | undefined;
    if (json) {
      // SRS's JSON API, by hand; WHEP below through the page helper
      pc = new RTCPeerConnection();
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(`${api}/rtc/v1/play/`, {
        method: "POST",
        body: JSON.stringify({ api: `${api}/rtc/v1/play/`, tid: "1a2b3c4", streamurl: `webrtc://127.0.0.1/live/${stream}`, clientip: null, sdp: pc.localDescription!.sdp }),
      });
      const j = await res.json() as { code: number; sdp: string; sessionid: string };
      status = j.code;
      sessionid = j.sessionid;
      if (j.code !== 0) return { status, state: "", first: { frames: 0, width: 0 }, last: { frames: 0, width: 0 }, body: JSON.stringify(j) };
      await pc.setRemoteDescription({ type: "answer", sdp: j.sdp });
    } else {
      const w = await srs.whep(api, stream);
      pc = w.pc;
      status = w.status;
      if (status !== 201) return { status, state: "", first: { frames: 0, width: 0 }, last: { frames: 0, width: 0 }, body: w.answer };
    }
    const stat = async () => {
      const v = (await srs.inbound(pc)).video ?? {};
      return { frames: v.framesDecoded ?? 0, width: v.frameWidth ?? 0 };
    };
    await new Promise((r) => setTimeout(r, 1500));
    const first = await stat();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const last = await stat();
    const state = pc.connectionState;
    pc.close();
    return { status, state, first, last, sessionid };
  }, { api, stream, seconds, json });
}

describe("webrtc", () => {
  test("WHIP publish from Chromium plays by WHEP in Chromium (frames decoded grow over 4 s)", async () => {
    const a = await page();
    const pub = await whipPublish(a, "whip1");
    expect(pub.status).toBe(201);
    expect(pub.location).toMatch(/^\/rtc\/v1\/whip\/\?action=delete&token=\w+&app=live&stream=whip1&session=/);
    expect(pub.state).toBe("connected");
    const b = await page();
    const play = await whepPlay(b, "whip1", 4);
    expect(play.status).toBe(201);
    expect(play.state).toBe("connected");
    expect(play.last.frames - play.first.frames).toBeGreaterThan(30);
    expect(play.last.width).toBe(640);


    // DELETE with a wrong token is refused, with the right one ends the session
    const bad = await fetch(`${api}${pub.location!.replace(/token=\w+/, "token=wrong")}`, { method: "DELETE" });
    expect(bad.status).toBe(404);
    const del = await fetch(`${api}${pub.location}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    await Bun.sleep(300);
    const clients = await (await fetch(`${api}/api/v1/clients/`)).json() as { clients: { type: string; url: string }[] };
    expect(clients.clients.filter((c) => c.type === "rtc-publish" && c.url === "/live/whip1")).toHaveLength(0);
    await a.close();
    await b.close();
  }, 90000);

  test("a WHIP stream plays over RTMP and HTTP-FLV in ffmpeg (>= 50 video frames in 4 s)", async () => {
    // With the microphone: RTMP/FLV players skip the browser's Opus and get the audio bridge's AAC
    // (rtc_to_rtmp on in the default config; tests/e2e/audio-bridge.test.ts checks that audio).
    const a = await page();
    const pub = await whipPublish(a, "whip2");
    expect(pub.state).toBe("connected");
    await Bun.sleep(1000);
    const rtmp = await playFrames(srv.rtmpUrl("/live/whip2"), 4);
    expect(rtmp.video).toBeGreaterThanOrEqual(50);
    const flv = await playFrames(srv.httpUrl("/live/whip2.flv"), 4);
    expect(flv.video).toBeGreaterThanOrEqual(50);
    await a.close();
  }, 60000);

  test("an RTMP-published H.264 clip plays by WHEP in Chromium (640 wide)", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/rtmp1"));
    try {
      await Bun.sleep(1500);
      const b = await page();
      const play = await whepPlay(b, "rtmp1", 4);
      expect(play.status).toBe(201);
      expect(play.last.frames - play.first.frames).toBeGreaterThan(50);
      expect(play.last.width).toBe(640);
      await b.close();
      // the default config has rtmp_to_rtc on: the clip's AAC reaches the viewer as Opus
      expect(srv.output()).toContain("rtc play __defaultVhost__/live/rtmp1: audio bridged aac→opus");
    } finally {
      ff.kill();
    }
  }, 60000);

  test("the /rtc/v1/play/ JSON API answers SRS's shape and plays", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/rtmp2"));
    try {
      await Bun.sleep(1500);
      const b = await page();
      const play = await whepPlay(b, "rtmp2", 2, true);
      expect(play.status).toBe(0);
      expect(play.sessionid).toMatch(/^[\w+/]+:[\w+/]+$/);
      expect(play.last.frames).toBeGreaterThan(20);
      await b.close();
    } finally {
      ff.kill();
    }
  }, 60000);

  test("bad input: non-JSON body, garbage SDP, SDP without H.264/Opus", async () => {
    const nonJson = await (await fetch(`${api}/rtc/v1/play/`, { method: "POST", body: "hello" })).json() as { code: number };
    expect(nonJson.code).toBe(5019);
    const garbage = await fetch(`${api}/rtc/v1/whip/?app=live&stream=bad`, { method: "POST", body: "not an sdp" });
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toContain("v=0");
    const vp8Only = [
      "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
      "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=ice-ufrag:abcd", "a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa",
      "a=fingerprint:sha-256 00:11", "a=setup:actpass", "a=mid:0", "a=sendonly", "a=rtcp-mux", "a=rtpmap:96 VP8/90000", "",
    ].join("\r\n");
    const noH264 = await fetch(`${api}/rtc/v1/whip/?app=live&stream=bad`, { method: "POST", body: vp8Only });
    expect(noH264.status).toBe(400);
    expect(await noH264.text()).toContain("H.264");
    const json = await (await fetch(`${api}/rtc/v1/publish/`, {
      method: "POST", body: JSON.stringify({ streamurl: "webrtc://127.0.0.1/live/bad", sdp: vp8Only }),
    })).json() as { code: number };
    expect(json.code).not.toBe(0);
  });

  test("random datagrams and unknown ICE usernames on the UDP port are ignored; a vanished viewer is cleaned up after stun_timeout", async () => {
    const s = createSocket("udp4");
    const stun = (user: string) => {
      const u = new TextEncoder().encode(user);
      const len = 4 + ((u.length + 3) & ~3);
      const b = new Uint8Array(20 + len);
      const v = new DataView(b.buffer);
      v.setUint16(0, 1);
      v.setUint16(2, len);
      v.setUint32(4, 0x2112a442);
      v.setUint16(20, 6);
      v.setUint16(22, u.length);
      b.set(u, 24);
      return b;
    };
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(1 + (i * 37) % 1200).map((_, j) => (i * 31 + j * 7) & 0xff);
      s.send(junk, udp, "127.0.0.1");
      s.send(stun(`nosuch${i}:x`), udp, "127.0.0.1");
    }
    await Bun.sleep(300);
    // a viewer whose browser goes away without DELETE
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/rtmp3"));
    try {
      await Bun.sleep(1000);
      const b = await page();
      const play = await whepPlay(b, "rtmp3", 1);
      expect(play.status).toBe(201);
      await b.close(); // pc.close() sent no DELETE; the page is gone
      const count = async () => ((await (await fetch(`${api}/api/v1/clients/`)).json()) as { clients: { type: string }[] })
        .clients.filter((c) => c.type === "rtc-play").length;
      // stun_timeout is 3 s here
      let n = await count();
      for (let i = 0; i < 12 && n > 0; i++) {
        await Bun.sleep(500);
        n = await count();
      }
      expect(n).toBe(0);
      expect(srv.output()).toContain("stun_timeout 3s");
    } finally {
      ff.kill();
      s.close();
    }
    expect(srv.proc.exitCode).toBeNull();
    const v = await fetch(`${api}/api/v1/versions`);
    expect(v.status).toBe(200);
  }, 60000);
});
