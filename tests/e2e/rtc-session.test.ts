/**
 * A WebRTC viewer session's life as real clients drive it: the DTLS role (rtc.dtls_role, SRS's passive by
 * default), a Chromium WHIP publisher's bandwidth estimate fed by our TWCC reports, a Chromium viewer that closes (pc.close(): DTLS close_notify + RTCP BYE) leaving the server's client
 * list at once, and a viewer that sends PLIs (keyframe requests) every second still getting every frame.
 * The stream is the test clip published by ffmpeg over RTMP (H.264 + AAC, bridged to Opus).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { PictureLossIndication, RtcpPayloadSpecificFeedback } from "werift";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import type { WithSrs } from "../helpers/page-webrtc.ts";
import { clip } from "../helpers/media.ts";
import { freePort, type Proc, publish, type RunningServer, rtcEnv, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";
import { whepViewer } from "../helpers/whep.ts";

let passive: RunningServer;
let active: RunningServer;
let browser: TestBrowser;
const feeds: Proc[] = [];

beforeAll(async () => {
  passive = await startServer({ env: rtcEnv(await freePort()) });
  active = await startServer({ env: { ...rtcEnv(await freePort()), SRS_VHOST_RTC_DTLS_ROLE: "active" } });
  for (const s of [passive, active]) feeds.push(publish(clip("clip.flv"), s.rtmpUrl("/live/s")));
  browser = await launchBrowser();
  await Bun.sleep(1500);
}, 60000);

afterAll(async () => {
  for (const f of feeds) f.kill();
  await browser?.close();
  await Promise.all([passive?.stop(), active?.stop()]);
});

interface ClientsAnswer {
  clients: { id: string; type: string }[];
}

async function rtcClients(s: RunningServer): Promise<string[]> {
  const j = await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/?count=100`)).json() as ClientsAnswer;
  return j.clients.filter((c) => c.type === "rtc-play").map((c) => c.id);
}

async function page(s: RunningServer): Promise<Page> {
  const p = await browser.context.newPage();
  await p.goto(`http://127.0.0.1:${s.http}/`);
  return p;
}

/** Plays by WHEP in the page, keeps the connection in `globalThis.viewer`; answers the answer's a=setup and frames. */
async function chromiumPlay(p: Page, api: number, seconds: number): Promise<{ setup: string; frames: number; state: string }> {
  return await p.evaluate(async ({ api, seconds }) => {
    const { srs } = globalThis as unknown as WithSrs;
    const { pc, answer } = await srs.whep(`http://127.0.0.1:${api}`, "s");
    (globalThis as unknown as { viewer: RTCPeerConnection }).viewer = pc;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const frames = (await srs.inbound(pc)).video?.framesDecoded ?? 0;
    return { setup: /a=setup:(\w+)/.exec(answer)?.[1] ?? "", frames, state: pc.connectionState };
  }, { api, seconds });
}

describe("webrtc viewer sessions", () => {
  test("dtls_role passive (the default): the answer says a=setup:passive and Chromium plays", async () => {
    const p = await page(passive);
    const r = await chromiumPlay(p, passive.api, 3);
    expect(r.setup).toBe("passive");
    expect(r.state).toBe("connected");
    expect(r.frames).toBeGreaterThan(40);
    await p.close();
  }, 30000);

  test("dtls_role active: the answer says a=setup:active, Chromium and a werift viewer play", async () => {
    const p = await page(active);
    const r = await chromiumPlay(p, active.api, 3);
    expect(r.setup).toBe("active");
    expect(r.state).toBe("connected");
    expect(r.frames).toBeGreaterThan(40);
    await p.close();
    const v = await whepViewer(active.api, "s");
    try {
      await waitFor("werift viewer receives video from a DTLS-active server", () => v.packets() > 100, 8000);
    } finally {
      await v.pc.close();
    }
  }, 30000);

  test("a Chromium viewer's WebRTC state is in /api/v1/clients/<id>; when it closes (DTLS close_notify, RTCP BYE; no DELETE) it leaves the list within 1 s", async () => {
    const before = await rtcClients(passive);
    const p = await page(passive);
    const r = await chromiumPlay(p, passive.api, 2);
    expect(r.frames).toBeGreaterThan(20);
    const during = await rtcClients(passive);
    const mine = during.filter((id) => !before.includes(id));
    expect(mine.length).toBe(1);
    // the one-client answer carries the session's WebRTC state
    const one = await (await fetch(`http://127.0.0.1:${passive.api}/api/v1/clients/${mine[0]}`)).json() as {
      client: { type: string; rtc?: { role: string; state: string; dtls_role: string; ice: { remote: string; protocol: string }; video: { packets: number; frames: number } } };
    };
    expect(one.client.type).toBe("rtc-play");
    expect(one.client.rtc?.role).toBe("play");
    expect(one.client.rtc?.state).toBe("connected");
    expect(one.client.rtc?.dtls_role).toBe("passive");
    expect(one.client.rtc?.ice.protocol).toBe("udp");
    expect(one.client.rtc?.ice.remote).toMatch(/:\d+$/);
    expect(one.client.rtc?.video.packets).toBeGreaterThan(50);
    expect(one.client.rtc?.video.frames).toBeGreaterThan(20);
    await p.evaluate(() => (globalThis as unknown as { viewer: RTCPeerConnection }).viewer.close());
    const closedAt = Date.now();
    await waitFor("closed viewer gone from /api/v1/clients", async () => !(await rtcClients(passive)).includes(mine[0]!), 3000);
    expect(Date.now() - closedAt).toBeLessThan(1000);
    expect(passive.output()).toMatch(/rtc play session closed \((DTLS closed by peer|RTCP BYE from peer)/);
    await p.close();
  }, 30000);

  test("a Chromium WHIP publisher gets TWCC feedback: its bandwidth estimate leaves the 300 kbps start and passes 1 Mbps", async () => {
    const p = await page(passive);
    const r = await p.evaluate(async (api) => {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
      const pc = new RTCPeerConnection();
      for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(`http://127.0.0.1:${api}/rtc/v1/whip/?app=live&stream=twcc`, { method: "POST", body: pc.localDescription!.sdp });
      await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
      let bwe = 0;
      const tl: string[] = [];
      for (let i = 0; i < 80; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (i % 5 === 0) tl.push(String(Math.round(bwe / 1000)));
        // the selected pair's estimate (Chromium may hold several nominated pairs, one per interface)
        const stats = await pc.getStats();
        stats.forEach((x: Record<string, unknown>) => {
          if (x.type === "transport" && x.selectedCandidatePairId) bwe = Number((stats as unknown as Map<string, Record<string, unknown>>).get(String(x.selectedCandidatePairId))?.availableOutgoingBitrate ?? 0);
        });
      }
      return { bwe, location: res.headers.get("location"), tl: tl.join(" ") };
    }, passive.api);
    const j = await (await fetch(`http://127.0.0.1:${passive.api}/api/v1/clients/?count=100`)).json() as { clients: { id: string; type: string }[] };
    const pub = j.clients.find((c) => c.type === "rtc-publish")!;
    const one = await (await fetch(`http://127.0.0.1:${passive.api}/api/v1/clients/${pub.id}`)).json() as { client: { rtc: { twcc?: { reports: number } } } };
    await p.close();
    console.log("bwe timeline kbps:", r.tl);
    expect(r.bwe).toBeGreaterThan(1_000_000);
    expect(one.client.rtc.twcc?.reports).toBeGreaterThan(10);
  }, 30000);

  test("a viewer sending a PLI every second keeps getting every frame (no freeze until the next keyframe)", async () => {
    const v = await whepViewer(passive.api, "s");
    try {
      await waitFor("viewer receives video", () => v.packets() > 50, 8000);
      const video = v.pc.getTransceivers().find((t) => t.kind === "video")!;
      let frames = 0;
      video.receiver.tracks[0]!.onReceiveRtp.subscribe((rtp) => {
        if (rtp.header.marker) frames++;
      });
      // RTCP PLI (RFC 4585 6.3.1) sent by hand: werift's receiver.sendRtcpPLI is a no-op without negotiated codecs.
      const mediaSsrc = video.receiver.tracks[0]!.ssrc ?? 0;
      const pliPacket = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc }) });
      const pli = setInterval(() => void video.receiver.dtlsTransport.sendRtcp([pliPacket]).catch(() => {}), 1000);
      await Bun.sleep(5000);
      clearInterval(pli);
      // 25 fps for 5 s = 125 frames; a freeze until the next keyframe (GOP 2 s) after each PLI would leave ~0–60.
      expect(frames).toBeGreaterThanOrEqual(112);
      // the server read them: the PLIs come under SSRC 1, the receiver reports under werift's own SSRC (SRTCP
      // indexes count per SSRC, RFC 3711 3.2.3: one replay window for both would drop one of the two)
      expect(await viewerPlis(passive)).toBeGreaterThanOrEqual(4);
    } finally {
      await v.pc.close();
    }
  }, 30000);

  test("viewers' PLIs reach a WHIP publisher, at most every 500 ms", async () => {
    const p = await page(active);
    await p.evaluate(async (api) => {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
      const pc = new RTCPeerConnection();
      for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(`http://127.0.0.1:${api}/rtc/v1/whip/?app=live&stream=plifwd`, { method: "POST", body: pc.localDescription!.sdp });
      await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
      (globalThis as unknown as { pub: RTCPeerConnection }).pub = pc;
    }, active.api);
    const pliCount = () => p.evaluate(async () => {
      let n = 0;
      (await (globalThis as unknown as { pub: RTCPeerConnection }).pub.getStats()).forEach((x: Record<string, unknown>) => {
        if (x.type === "outbound-rtp" && x.kind === "video") n = Number(x.pliCount ?? 0);
      });
      return n;
    });
    const viewers = [await whepViewer(active.api, "plifwd"), await whepViewer(active.api, "plifwd")];
    try {
      for (const v of viewers) await waitFor("viewer receives the WHIP stream", () => v.packets() > 30, 10000);
      const before = await pliCount();
      // two viewers, each a PLI every 250 ms for 4 s: 32 requests, 8/s
      const sends = viewers.map((v) => {
        const video = v.pc.getTransceivers().find((t) => t.kind === "video")!;
        const pkt = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: video.receiver.tracks[0]!.ssrc ?? 0 }) });
        return setInterval(() => void video.receiver.dtlsTransport.sendRtcp([pkt]).catch(() => {}), 250);
      });
      await Bun.sleep(4000);
      for (const t of sends) clearInterval(t);
      await Bun.sleep(300);
      const reached = (await pliCount()) - before;
      console.log(`viewer PLIs: 32 sent, ${reached} reached the publisher in 4 s`);
      expect(reached).toBeGreaterThanOrEqual(4); // forwarded...
      expect(reached).toBeLessThanOrEqual(10); // ...at most 2/s (+ a pli_for_rtmp or new-viewer one)
    } finally {
      for (const v of viewers) await v.pc.close();
      await p.close();
    }
  }, 30000);
});

async function viewerPlis(s: RunningServer): Promise<number> {
  let n = 0;
  const j = await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/?count=100`)).json() as ClientsAnswer;
  for (const c of j.clients.filter((x) => x.type === "rtc-play")) {
    const one = await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/${c.id}`)).json() as { client: { rtc?: { video?: { plis?: number } } } };
    n += one.client.rtc?.video?.plis ?? 0;
  }
  return n;
}
