/**
 * A WebRTC viewer on a lossy link: headless Chromium runs inside a network namespace made by the test
 * (tests/helpers/netns.ts) whose veth has `tc netem loss 5% delay 20ms` on both ends (5% of the packets lost
 * each way, RTCP and retransmissions included); on kernels without sch_netem, an nftables rule inside the
 * namespace drops 5% of the UDP datagrams each way instead (no delay), and the test says which. The server listens on the host end of the veth (API, HTTP and
 * RTC candidate on its address); ffmpeg publishes the 25 fps test clip by RTMP on loopback. The viewer plays by
 * WHEP: its NACKs (RFC 4585 6.2.1) must be answered with retransmissions, so that it decodes >= 95% of the frames.
 *
 * Needs root (ip netns, tc or nft); without them the test FAILS with the reason (never skips).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import type { WithSrs } from "../helpers/page-webrtc.ts";
import { clip } from "../helpers/media.ts";
import { createNetns, type Netns, nftLoss } from "../helpers/netns.ts";
import { freeUdpPort, publish, type Proc, type RunningServer, startServer } from "../helpers/server.ts";

const LOSS_PCT = Number(process.env.RTC_LOSS_PCT ?? 5);
const SECONDS = 10;
const FPS = 25;

let netns: Netns;
let srv: RunningServer;
let feed: Proc;
let browser: TestBrowser;

beforeAll(async () => {
  netns = createNetns({ prefix: "srsts-loss", netem: { lossPct: LOSS_PCT, delayMs: 20 } });
  if (netns.netem !== "tc") {
    console.log(`rtc-loss: no sch_netem (${netns.netemError ?? netns.netem}); ${LOSS_PCT}% UDP loss each way by nftables instead`);
    nftLoss(netns, LOSS_PCT);
  }
  srv = await startServer({
    env: {
      SRS_RTC_SERVER_ENABLED: "on",
      SRS_RTC_SERVER_LISTEN: String(await freeUdpPort()),
      CANDIDATE: netns.hostIp,
      SRS_VHOST_RTC_ENABLED: "on",
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
      SRS_VHOST_HLS_ENABLED: "off",
    },
    portEnv: (p) => ({ SRS_HTTP_API_LISTEN: `${netns.hostIp}:${p.api}`, SRS_HTTP_SERVER_LISTEN: `${netns.hostIp}:${p.http}` }),
  });
  feed = publish(clip("clip.flv"), srv.rtmpUrl("/live/lossy"));
  browser = await launchBrowser({ netns: netns.ns });
  await Bun.sleep(1500);
}, 60000);

afterAll(async () => {
  feed?.kill();
  await browser?.close();
  await srv?.stop();
  await netns?.close();
});

interface Inbound {
  framesDecoded: number;
  framesDropped: number;
  nackCount: number;
  packetsLost: number;
  packetsReceived: number;
  freezeCount: number;
  pliCount: number;
  retransmittedPacketsReceived: number;
}

describe("webrtc on a lossy link (netns, netem)", () => {
  test(`a Chromium viewer with ${LOSS_PCT}% loss each way decodes >= 95% of the frames (NACK retransmission)`, async () => {
    const p = await browser.context.newPage();
    await p.goto(`http://${netns.hostIp}:${srv.http}/`);
    const r = await p.evaluate(async ({ api, seconds }) => {
      const { srs } = globalThis as unknown as WithSrs;
      const { pc, status, answer } = await srs.whep(api, "lossy");
      if (status !== 201) return { status, error: answer };
      const stat = async () => (await srs.inbound(pc)).video ?? {};
      await new Promise((r) => setTimeout(r, 2500));
      const first = await stat();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const last = await stat();
      pc.close();
      return { status, first, last };
    }, { api: `http://${netns.hostIp}:${srv.api}`, seconds: SECONDS });
    await p.close();
    if (!("first" in r)) throw new Error(`WHEP refused: ${r.status} ${r.error}`);
    const d = (k: keyof Inbound) => (r.last?.[k] ?? 0) - (r.first?.[k] ?? 0);
    // (Chromium counts a packet recovered by RTX as lost on the media SSRC: packetsLost ~ the packets NACKed.)
    const note = `decoded ${d("framesDecoded")} of ${SECONDS * FPS}; NACKs ${d("nackCount")}, lost on the media SSRC ` +
      `${d("packetsLost")} of ${d("packetsReceived")}, retransmissions received (RTX) ${d("retransmittedPacketsReceived")}, PLIs ${d("pliCount")}, ` +
      `freezes ${d("freezeCount")}, dropped ${d("framesDropped")}`;
    console.log(`lossy viewer: ${note}`);
    // the link really lost packets and the viewer asked for them again
    expect(d("nackCount")).toBeGreaterThan(10);
    // Chromium offers RTX (RFC 4588): the retransmissions come on the RTX stream, which it counts.
    expect(d("retransmittedPacketsReceived")).toBeGreaterThan(5);
    expect(d("framesDecoded")).toBeGreaterThanOrEqual(0.95 * SECONDS * FPS);
  }, 60000);
});
