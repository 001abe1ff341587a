/**
 * The viewers' own send path (lib/protocols/rtc/rtp-send.ts + srtp.ts): an RTMP stream (H.264 + AAC, bridged to
 * Opus) played by real WebRTC stacks.
 *  - Chromium decodes video frames and receives audio samples, and reads our sender reports for both tracks
 *    (remote-outbound-rtp stats exist only when SRTCP sender reports decrypt and parse); once werift is let go
 *    (the viewer's first SRTCP), our answers to its consent checks keep it connected and its receiver reports
 *    give the session an RTT (/api/v1/clients/<id>);
 *  - a werift viewer that throws away some video packets on arrival gets each of them again after its NACK;
 *  - a werift viewer that only accepts AES_CM_128_HMAC_SHA1_80 (the GCM profile is what Chromium and the
 *    other viewers negotiate) plays too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { type RTCPeerConnection as WeriftPeerConnection, SrtpAuthenticationError } from "werift";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import type { WithSrs } from "../helpers/page-webrtc.ts";
import { clip } from "../helpers/media.ts";
import { freePort, type Proc, publish, type RunningServer, rtcEnv, startServer } from "../helpers/server.ts";
import { loopbackPeerConnection } from "../helpers/whep.ts";

let srv: RunningServer;
let browser: TestBrowser;
let ff: Proc;
let api: string;

beforeAll(async () => {
  // stun_timeout 3 s: werift viewers leave without a DTLS alert; their sessions (and closing lines) end soon.
  srv = await startServer({ env: { ...rtcEnv(await freePort()), SRS_VHOST_RTC_STUN_TIMEOUT: "3" } });
  api = `http://127.0.0.1:${srv.api}`;
  ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/send"));
  browser = await launchBrowser();
  await Bun.sleep(1500);
}, 60000);

afterAll(async () => {
  ff?.kill();
  await browser?.close();
  await srv?.stop();
});

interface Pair {
  requests: number;
  responses: number;
  state: string;
}

interface Track {
  packets: number;
  frames: number;
  samples: number;
  /** remote-outbound-rtp: what the last sender report said (RFC 3550 6.4.1), read by Chromium. */
  reports: number;
  remotePackets: number;
}

async function chromiumPlay(p: Page, stream: string, seconds: number, during?: () => Promise<void>): Promise<{ status: number; first: Record<string, Track>; last: Record<string, Track>; pairs: Pair[] }> {
  await p.exposeFunction("during", async () => await during?.());
  return await p.evaluate(async ({ api, stream, seconds }) => {
    const { pc, status } = await (globalThis as unknown as WithSrs).srs.whep(api, stream, { audio: true });
    if (status !== 201) return { status, first: {}, last: {}, pairs: [] };
    const pairs: Pair[] = [];
    const stat = async () => {
      const out: Record<string, Track> = {};
      const t = (k: string) => (out[k] ??= { packets: 0, frames: 0, samples: 0, reports: 0, remotePackets: 0 });
      (await pc.getStats()).forEach((x: Record<string, unknown>) => {
        const k = String(x.kind);
        if (x.type === "inbound-rtp") {
          t(k).packets = Number(x.packetsReceived ?? 0);
          t(k).frames = Number(x.framesDecoded ?? 0);
          t(k).samples = Number(x.totalSamplesReceived ?? 0);
        } else if (x.type === "remote-outbound-rtp") {
          t(k).reports = Number(x.reportsSent ?? 0);
          t(k).remotePackets = Number(x.packetsSent ?? 0);
        } else if (x.type === "candidate-pair" && x.nominated) {
          pairs.push({ requests: Number(x.requestsSent ?? 0), responses: Number(x.responsesReceived ?? 0), state: String(x.state) });
        }
      });
      return out;
    };
    await new Promise((r) => setTimeout(r, 1500));
    const first = await stat();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await (globalThis as unknown as { during: () => Promise<void> }).during();
    const last = await stat();
    pc.close();
    return { status, first, last, pairs };
  }, { api, stream, seconds });
}

/** A werift WHEP viewer on loopback; `setup` runs after its offer is made (before ICE/DTLS). */
async function weriftViewer(stream: string, setup?: (pc: WeriftPeerConnection) => void) {
  const pc = loopbackPeerConnection();
  const seqs = new Set<number>();
  let frames = 0;
  let ssrc = -1;
  pc.addTransceiver("video", { direction: "recvonly" }).onTrack.subscribe((t) => t.onReceiveRtp.subscribe((rtp) => {
    ssrc = rtp.header.ssrc;
    seqs.add(rtp.header.sequenceNumber);
    if (rtp.header.marker) frames++;
  }));
  pc.addTransceiver("audio", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  setup?.(pc);
  const res = await fetch(`${api}/rtc/v1/whep/?app=live&stream=${stream}`, {
    method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" },
  });
  const answer = await res.text();
  if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${answer}`);
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return { pc, seqs, frames: () => frames, ssrc: () => ssrc };
}

describe("webrtc viewer send path", () => {
  test("Chromium plays an RTMP stream with audio and video through our sender, reads its sender reports, stays connected on our STUN answers", async () => {
    const p = await browser.context.newPage();
    await p.goto(`http://127.0.0.1:${srv.http}/`);
    // while it plays: the session's state in the API (RTT from its receiver reports against our SRs)
    let rtt: unknown;
    let state: unknown;
    const r = await chromiumPlay(p, "send", 12, async () => {
      const list = await (await fetch(`${api}/api/v1/clients/`)).json() as { clients: { id: string; type: string }[] };
      const id = list.clients.find((c) => c.type === "rtc-play")?.id;
      const one = await (await fetch(`${api}/api/v1/clients/${id}`)).json() as { client: { rtc?: { rtt_ms?: number; state: string } } };
      rtt = one.client.rtc?.rtt_ms;
      state = one.client.rtc?.state;
    });
    await p.close();
    expect(r.status).toBe(201);
    const v0 = r.first.video!, v1 = r.last.video!, a0 = r.first.audio!, a1 = r.last.audio!;
    expect(v1.frames - v0.frames).toBeGreaterThan(12 * 25 * 0.9); // 25 fps clip, 12 s
    expect(a1.packets - a0.packets).toBeGreaterThan(12 * 50 * 0.9); // 50 Opus packets/s
    expect(a1.samples - a0.samples).toBeGreaterThan(48000 * 11); // 48 kHz
    // werift let go after the viewer's first SRTCP; Chromium's consent checks (every few seconds) were answered
    // by the session itself over the 12 s
    expect(srv.output()).toContain("werift released");
    console.log("nominated pair (first, last):", JSON.stringify(r.pairs), "rtt", rtt);
    expect(r.pairs).toHaveLength(2);
    expect(r.pairs[1]!.state).toBe("succeeded");
    expect(r.pairs[1]!.responses - r.pairs[0]!.responses).toBeGreaterThanOrEqual(1);
    expect(state).toBe("connected");
    expect(typeof rtt).toBe("number");
    // Our SRs (SRTCP, every second) reached Chromium for both SSRCs, with packet counts that make sense.
    expect(v1.reports).toBeGreaterThanOrEqual(3);
    expect(a1.reports).toBeGreaterThanOrEqual(3);
    expect(v1.remotePackets).toBeGreaterThan(v0.packets);
    expect(a1.remotePackets).toBeGreaterThan(a0.packets);
    // Chromium (the DTLS server) picks AES_CM_128_HMAC_SHA1_80 among the profiles werift offers.
    expect(srv.output()).toMatch(/rtc play: SRTP (AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM)/);
  }, 60000);

  test("a werift viewer that loses every 8th video packet gets each one again after its NACK", async () => {
    const dropped = new Set<number>();
    let armed = false;
    let videoSsrc = -1;
    const v = await weriftViewer("send", (pc) => {
      // Throw away the first arrival of every 8th video packet, as a lossy network would: werift's receiver sees a
      // gap and NACKs (RFC 4585 6.2.1); the retransmission arrives as a new datagram and is kept.
      const t = pc.dtlsTransports[0]!;
      t.onStateChange.subscribe((s) => {
        if (s !== "connected") return;
        const decrypt = t.srtp.decrypt;
        t.srtp.decrypt = (buf: Buffer) => {
          const ssrc = buf.readUInt32BE(8);
          const seq = buf.readUInt16BE(2);
          if (armed && ssrc === videoSsrc && seq % 8 === 0 && !dropped.has(seq) && dropped.size < 100) {
            dropped.add(seq);
            throw new SrtpAuthenticationError("dropped on purpose by the test");
          }
          return decrypt(buf);
        };
      });
    });
    try {
      for (let i = 0; i < 50 && v.ssrc() < 0; i++) await Bun.sleep(100);
      videoSsrc = v.ssrc();
      expect(videoSsrc).toBeGreaterThanOrEqual(0);
      armed = true;
      await Bun.sleep(3000);
      armed = false;
      // werift NACKs on its own timer; on a loaded machine the last retransmissions may take a while
      const missingNow = () => [...dropped].filter((s) => !v.seqs.has(s));
      for (let i = 0; i < 100 && (i < 15 || missingNow().length > 0); i++) await Bun.sleep(100);
      expect(dropped.size).toBeGreaterThan(20);
      const missing = missingNow();
      expect(missing).toEqual([]);
      expect(v.frames()).toBeGreaterThan(80);
    } finally {
      await v.pc.close();
    }
    // The server's count, in the session's closing line (at stun_timeout).
    for (let i = 0; i < 60 && !/nacks=[1-9]\d* retransmitted=[1-9]/.test(srv.output()); i++) await Bun.sleep(100);
    expect(srv.output()).toMatch(/nacks=[1-9]\d* retransmitted=[1-9]/);
  }, 60000);

  test("a werift viewer that only takes AES_CM_128_HMAC_SHA1_80 plays", async () => {
    const v = await weriftViewer("send", (pc) => {
      // werift picks the first of its own profiles the DTLS client offers; leave it only AES-CM (RFC 5764 4.1.2).
      (pc.dtlsTransports[0] as unknown as { srtpProfiles: number[] }).srtpProfiles = [0x0001];
    });
    try {
      // ICE + DTLS in werift, then ~2 s of video (a loaded machine may take a few seconds to connect)
      for (let i = 0; i < 150 && v.frames() <= 50; i++) await Bun.sleep(100);
      expect(v.frames()).toBeGreaterThan(50);
    } finally {
      await v.pc.close();
    }
    expect(srv.output()).toMatch(/rtc play: SRTP AES_CM_128_HMAC_SHA1_80/);
  }, 60000);
});
