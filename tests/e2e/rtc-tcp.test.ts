/**
 * ICE over TCP (RFC 6544 passive candidates, RFC 4571 framing) with headless Chromium, as SRS's
 * `rtc_server { protocol tcp|all; tcp { enabled on; listen …; } }`:
 *  1. `protocol tcp` on loopback: the answer offers TCP candidates only; Chromium publishes by WHIP and another
 *     Chromium page plays by WHEP; the selected candidate pair of both (getStats) is TCP, and the server's session
 *     log says no packet of theirs came or went by UDP.
 *  2. `protocol all` with UDP really blocked: Chromium runs inside a network namespace this test creates (a veth
 *     pair with 10.x addresses; the server listens on the host end) whose nftables output chain drops every UDP
 *     packet to the server. Both pages (publisher and player) connect over TCP with the UDP candidate offered
 *     too. Needs root (ip netns, nft); the test FAILS with the reason when the namespace cannot be made.
 *     (Chromium's own flags cannot express "no UDP to this host": --webrtc-ip-handling-policy
 *     =disable_non_proxied_udp would also turn off the TCP host candidates we want to see used.)
 *  3. reload: rtc_server.tcp.listen moved by SIGHUP; a new WHEP session connects on the new TCP port, the old one
 *     is closed.
 *  4. the ICE-TCP port under garbage (bad length, non-STUN first frame, unknown ufrag, silence): each connection is
 *     closed, the server keeps serving.
 *  5. SIGTERM with a TCP-connected Chromium viewer: the server exits within 3 s.
 * Chromium reaches a loopback TCP candidate with --allow-loopback-in-peer-connection (tests/helpers/browser.ts),
 * like a UDP one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { CHROMIUM, launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip } from "../helpers/media.ts";
import { freePort, NO_ENV_LISTEN, publish, reloadConfig, type RunningServer, rtcEnv, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";
import { waitFor } from "../helpers/wait.ts";

interface PairInfo {
  local: string;
  remote: string;
  remotePort: number;
}

interface PageResult {
  status: number;
  state: string;
  answer: string;
  pair?: PairInfo;
  frames?: { first: number; last: number; width: number };
}

/** The selected candidate pair of a page's RTCPeerConnection `name` (from getStats), in the page. */
const SELECTED_PAIR = `async (pc) => {
  const stats = await pc.getStats();
  let pair;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
  if (!pair) return undefined;
  const l = stats.get(pair.localCandidateId);
  const r = stats.get(pair.remoteCandidateId);
  return { local: l.protocol + (l.tcpType ? "/" + l.tcpType : ""), remote: r.protocol, remotePort: r.port };
}`;

/** Publishes the fake camera by WHIP from a page; keeps the connection in `globalThis.pub`. */
async function whipPublish(p: Page, api: string, stream: string): Promise<PageResult> {
  return await p.evaluate(async ({ api, stream, selected }) => {
    const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    const pc = new RTCPeerConnection();
    for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`${api}/rtc/v1/whip/?app=live&stream=${stream}`, {
      method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" },
    });
    const answer = await res.text();
    if (res.status !== 201) return { status: res.status, state: "", answer };
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    (globalThis as unknown as { pub: RTCPeerConnection }).pub = pc;
    for (let i = 0; i < 100 && pc.connectionState !== "connected"; i++) await new Promise((r) => setTimeout(r, 100));
    // eslint-disable-next-line no-eval
    const pair = await (eval(selected) as (pc: RTCPeerConnection) => Promise<PairInfo | undefined>)(pc);
    return { status: res.status, state: pc.connectionState, answer, pair };
  }, { api, stream, selected: SELECTED_PAIR });
}

/** Plays by WHEP in a page for `seconds`: frames decoded at 1.5 s and at the end, and the selected pair. */
async function whepPlay(p: Page, api: string, stream: string, seconds: number, keep = false): Promise<PageResult> {
  return await p.evaluate(async ({ api, stream, seconds, keep, selected }) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`${api}/rtc/v1/whep/?app=live&stream=${stream}`, { method: "POST", body: pc.localDescription!.sdp });
    const answer = await res.text();
    if (res.status !== 201) return { status: res.status, state: "", answer };
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    const video = async () => {
      let frames = 0;
      let width = 0;
      (await pc.getStats()).forEach((x: { type: string; kind?: string; framesDecoded?: number; frameWidth?: number }) => {
        if (x.type === "inbound-rtp" && x.kind === "video") {
          frames = x.framesDecoded ?? 0;
          width = x.frameWidth ?? 0;
        }
      });
      return { frames, width };
    };
    await new Promise((r) => setTimeout(r, 1500));
    const first = await video();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const last = await video();
    // eslint-disable-next-line no-eval
    const pair = await (eval(selected) as (pc: RTCPeerConnection) => Promise<PairInfo | undefined>)(pc);
    const state = pc.connectionState;
    if (keep) (globalThis as unknown as { play: RTCPeerConnection }).play = pc;
    else pc.close();
    return { status: res.status, state, answer, pair, frames: { first: first.frames, last: last.frames, width: last.width } };
  }, { api, stream, seconds, keep, selected: SELECTED_PAIR });
}

const candidates = (sdp: string) => sdp.split(/\r?\n/).filter((l) => l.startsWith("a=candidate:"));

/** The server's "session closed" log lines' per-transport packet counts, for sessions of `stream`. */
function sessionPackets(out: string, stream: string): { udpIn: number; udpOut: number; tcpIn: number; tcpOut: number }[] {
  // The session's context id ties its "rtc play|publish <hub>" line to its "session closed" line.
  const ids = [...out.matchAll(new RegExp(`\\[(\\w+)\\] rtc (?:play|publish) \\S+/live/${stream} session=`, "g"))].map((m) => m[1]!);
  const res: { udpIn: number; udpOut: number; tcpIn: number; tcpOut: number }[] = [];
  for (const id of ids) {
    const m = new RegExp(`\\[${id}\\][^\\n]*session closed[^\\n]*packets udp in=(\\d+) out=(\\d+) tcp in=(\\d+) out=(\\d+)`).exec(out);
    if (m) res.push({ udpIn: Number(m[1]), udpOut: Number(m[2]), tcpIn: Number(m[3]), tcpOut: Number(m[4]) });
  }
  return res;
}

describe("ICE-TCP on loopback: protocol tcp", () => {
  let srv: RunningServer;
  let browser: TestBrowser;
  let api: string;
  let tcpPort: number;

  beforeAll(async () => {
    const udp = await freePort();
    tcpPort = await freePort();
    srv = await startServer({
      env: {
        ...rtcEnv(udp),
        SRS_RTC_SERVER_PROTOCOL: "tcp",
        SRS_RTC_SERVER_TCP_ENABLED: "on",
        SRS_RTC_SERVER_TCP_LISTEN: String(tcpPort),
        SRS_VHOST_RTC_STUN_TIMEOUT: "5",
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
    await p.goto(`http://127.0.0.1:${srv.http}/`);
    return p;
  }

  test("Chromium publishes by WHIP and plays by WHEP over TCP only (selected pair tcp, no UDP packet)", async () => {
    const a = await page();
    const pub = await whipPublish(a, api, "tcp1");
    expect(pub.status).toBe(201);
    const cands = candidates(pub.answer);
    expect(cands.length).toBeGreaterThan(0);
    for (const c of cands) expect(c).toMatch(new RegExp(`^a=candidate:\\S+ 1 tcp \\d+ 127\\.0\\.0\\.1 ${tcpPort} typ host tcptype passive`));
    expect(pub.state).toBe("connected");
    expect(pub.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcpPort });

    const b = await page();
    const play = await whepPlay(b, api, "tcp1", 4);
    expect(play.status).toBe(201);
    expect(play.state).toBe("connected");
    expect(play.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcpPort });
    expect(play.frames!.last - play.frames!.first).toBeGreaterThan(30);
    expect(play.frames!.width).toBe(640);
    await b.close();
    await a.close();
    // Both sessions end (the pages' TCP connections closed) and their logs count no UDP packet.
    await waitFor("both sessions closed", () => sessionPackets(srv.output(), "tcp1").length === 2, 10000, srv);
    for (const s of sessionPackets(srv.output(), "tcp1")) {
      expect(s.udpIn).toBe(0);
      expect(s.udpOut).toBe(0);
      expect(s.tcpIn).toBeGreaterThan(20);
      expect(s.tcpIn + s.tcpOut).toBeGreaterThan(300);
    }
  }, 90000);
});
