/**
 * WHIP publisher soak: headless Chromium publishes its fake camera + microphone by WHIP for --minutes, an
 * HTTP-FLV player reads the stream the whole time, and werift WHEP viewers send keyframe requests (PLI) every
 * --pli-every seconds. Does the publisher keep publishing without a break, and do the viewers' PLIs reach it
 * rate-limited?
 *
 *   bun bench/whip-soak.ts [--minutes 10] [--viewers 4] [--pli-every 2] [--report 30]
 *
 * Every --report seconds and at the end it prints: video frames the FLV player got in the window (fps), the
 * longest gap between two video frames (arrival time and timestamp), Chromium's outbound video stats (frames
 * sent and encoded, PLIs and NACKs it received, the available outgoing bitrate its congestion control
 * estimates from our TWCC feedback, its quality limitation reason), the server's CPU (% of one core) and RSS.
 * A "break" is a gap of more than 500 ms between two video frames at the player. Nothing is asserted.
 */
import { parseArgs } from "node:util";
import { launchBrowser } from "../tests/helpers/browser.ts";
import { whepViewer } from "../tests/helpers/whep.ts";
import { PictureLossIndication, RtcpPayloadSpecificFeedback } from "werift";
import { cpuTicks, rssMb, TICK } from "./proc.ts";
import { freeUdpPort, startServer } from "./server.ts";

const { values: a } = parseArgs({
  args: process.argv.slice(2),
  options: {
    minutes: { type: "string", default: "10" },
    viewers: { type: "string", default: "4" },
    "pli-every": { type: "string", default: "2" },
    report: { type: "string", default: "30" },
  },
});
const MINUTES = Math.max(0.2, Number(a.minutes) || 10);
const VIEWERS = Math.max(0, Math.min(50, Number(a.viewers) || 0));
const PLI_EVERY = Math.max(0.2, Number(a["pli-every"]) || 2);
const REPORT = Math.max(5, Number(a.report) || 30);

const udp = await freeUdpPort();
const srv = await startServer({
  SRS_RTC_SERVER_ENABLED: "on",
  SRS_RTC_SERVER_LISTEN: String(udp),
  CANDIDATE: "127.0.0.1",
  SRS_VHOST_RTC_ENABLED: "on",
  SRS_VHOST_RTC_RTC_TO_RTMP: "on",
  SRS_HTTP_SERVER_ENABLED: "on",
  SRS_VHOST_HTTP_REMUX_ENABLED: "on",
});
const api = `http://127.0.0.1:${srv.apiPort}`;
const browser = await launchBrowser();

async function shutdown(code: number): Promise<never> {
  await browser.close();
  await srv.stop();
  process.exit(code);
}

// ---------------------------------------------------------------------------------------------------------
// Chromium publishes by WHIP

const page = await browser.context.newPage();
await page.goto(`http://127.0.0.1:${srv.httpPort}/`);
const whip = await page.evaluate(async (api) => {
  const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360, frameRate: 25 }, audio: true });
  const pc = new RTCPeerConnection();
  for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`${api}/rtc/v1/whip/?app=live&stream=soak`, { method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" } });
  const answer = await res.text();
  if (res.status !== 201) return `WHIP ${res.status}: ${answer}`;
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  (globalThis as unknown as { pub: RTCPeerConnection }).pub = pc;
  for (let i = 0; i < 100 && pc.connectionState !== "connected"; i++) await new Promise((r) => setTimeout(r, 100));
  return pc.connectionState;
}, api);
if (whip !== "connected") {
  console.error(`publisher not connected: ${whip}`);
  await shutdown(1);
}

interface Outbound {
  framesSent: number;
  framesEncoded: number;
  pliCount: number;
  nackCount: number;
  firCount: number;
  qualityLimitationReason: string;
  availableOutgoingBitrate: number;
  frameWidth: number;
}

async function outbound(): Promise<Outbound> {
  return await page.evaluate(async () => {
    const pc = (globalThis as unknown as { pub: RTCPeerConnection }).pub;
    const o = { framesSent: 0, framesEncoded: 0, pliCount: 0, nackCount: 0, firCount: 0, qualityLimitationReason: "", availableOutgoingBitrate: 0, frameWidth: 0 };
    const stats = await pc.getStats();
    stats.forEach((x: Record<string, unknown>) => {
      if (x.type === "outbound-rtp" && x.kind === "video") {
        for (const k of ["framesSent", "framesEncoded", "pliCount", "nackCount", "firCount", "frameWidth"] as const) o[k] = Number(x[k] ?? 0);
        o.qualityLimitationReason = String(x.qualityLimitationReason ?? "");
      }
      // the selected pair's estimate (Chromium may hold several nominated pairs, one per interface)
      if (x.type === "transport" && x.selectedCandidatePairId) {
        o.availableOutgoingBitrate = Number((stats as unknown as Map<string, Record<string, unknown>>).get(String(x.selectedCandidatePairId))?.availableOutgoingBitrate ?? 0);
      }
    });
    return o;
  });
}

// ---------------------------------------------------------------------------------------------------------
// An HTTP-FLV player: video tag arrival times and timestamps (FLV: 9-byte header + 4, then 11-byte tag headers)

const player = { frames: 0, lastAt: 0, lastTs: -1, maxGapMs: 0, maxTsGapMs: 0, breaks: 0 };
const windowGap = { at: 0, ts: 0 };
void (async () => {
  const res = await fetch(`http://127.0.0.1:${srv.httpPort}/live/soak.flv`);
  const reader = res.body!.getReader();
  let buf = new Uint8Array(0);
  let skip = 13;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(buf.length + value.length);
    joined.set(buf);
    joined.set(value, buf.length);
    buf = joined;
    if (skip) {
      if (buf.length < skip) continue;
      buf = buf.subarray(skip);
      skip = 0;
    }
    while (buf.length >= 11) {
      const size = (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!;
      if (buf.length < 11 + size + 4) break;
      const ts = ((buf[7]! << 24) | (buf[4]! << 16) | (buf[5]! << 8) | buf[6]!) >>> 0;
      if (buf[0] === 9 && size > 5 && buf[12] !== 0) {
        const now = performance.now();
        if (player.lastAt) {
          const gap = now - player.lastAt;
          const tsGap = ts - player.lastTs;
          windowGap.at = Math.max(windowGap.at, gap);
          windowGap.ts = Math.max(windowGap.ts, tsGap);
          player.maxGapMs = Math.max(player.maxGapMs, gap);
          player.maxTsGapMs = Math.max(player.maxTsGapMs, tsGap);
          if (gap > 500 || tsGap > 500) player.breaks++;
        }
        player.frames++;
        player.lastAt = now;
        player.lastTs = ts;
      }
      buf = buf.subarray(11 + size + 4);
    }
  }
})().catch((e) => console.error(`flv player: ${(e as Error).message}`));

// ---------------------------------------------------------------------------------------------------------
// WHEP viewers that ask for keyframes

const viewers: Awaited<ReturnType<typeof whepViewer>>[] = [];
for (let i = 0; i < VIEWERS; i++) viewers.push(await whepViewer(srv.apiPort, "soak"));
const pliTimer = setInterval(() => {
  for (const v of viewers) {
    const video = v.pc.getTransceivers().find((t) => t.kind === "video");
    const ssrc = video?.receiver.tracks[0]?.ssrc;
    if (!video || ssrc === undefined) continue;
    const pli = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: ssrc }) });
    void video.receiver.dtlsTransport.sendRtcp([pli]).catch(() => {});
  }
}, PLI_EVERY * 1000);

// ---------------------------------------------------------------------------------------------------------

console.log(`whip soak: ${MINUTES} min, ${VIEWERS} WHEP viewers each sending a PLI every ${PLI_EVERY} s ` +
  `(${(VIEWERS / PLI_EVERY).toFixed(1)} PLI/s in all), report every ${REPORT} s`);
const t0 = performance.now();
let last = { t: t0, cpu: cpuTicks(srv.pid), frames: 0, out: await outbound() };
const first = last.out;
let peakRss = 0;
const end = t0 + MINUTES * 60_000;
while (performance.now() < end) {
  await Bun.sleep(Math.min(REPORT * 1000, end - performance.now()));
  const now = performance.now();
  const cpu = cpuTicks(srv.pid);
  const out = await outbound();
  const rss = rssMb(srv.pid);
  peakRss = Math.max(peakRss, rss);
  const secs = (now - last.t) / 1000;
  console.log(`${((now - t0) / 1000).toFixed(0).padStart(5)} s  player ${((player.frames - last.frames) / secs).toFixed(1)} fps, ` +
    `longest gap ${windowGap.at.toFixed(0)} ms (ts ${windowGap.ts} ms) | chromium sent ${((out.framesSent - last.out.framesSent) / secs).toFixed(1)} fps ` +
    `${out.frameWidth}w, PLIs in ${out.pliCount - last.out.pliCount}, NACKs in ${out.nackCount - last.out.nackCount}, ` +
    `bwe ${(out.availableOutgoingBitrate / 1000).toFixed(0)} kbps, limit ${out.qualityLimitationReason || "-"} | ` +
    `server ${((100 * (cpu - last.cpu)) / TICK / secs).toFixed(1)}% cpu, ${rss.toFixed(0)} MB`);
  windowGap.at = 0;
  windowGap.ts = 0;
  last = { t: now, cpu, frames: player.frames, out };
}
clearInterval(pliTimer);
const total = (performance.now() - t0) / 1000;
const pliRate = (last.out.pliCount - first.pliCount) / total;
const summary = {
  minutes: MINUTES,
  playerFrames: player.frames,
  playerFps: +(player.frames / total).toFixed(2),
  breaks: player.breaks,
  longestGapMs: Math.round(player.maxGapMs),
  longestTsGapMs: player.maxTsGapMs,
  viewerPlisSent: VIEWERS * Math.floor(total / PLI_EVERY),
  plisReachingPublisher: last.out.pliCount - first.pliCount,
  pliPerSecondAtPublisher: +pliRate.toFixed(2),
  nacksAtPublisher: last.out.nackCount - first.nackCount,
  bweKbps: Math.round(last.out.availableOutgoingBitrate / 1000),
  peakRssMb: Math.round(peakRss),
};
console.log(`RESULT ${JSON.stringify(summary)}`);
for (const v of viewers) await v.pc.close();
await shutdown(0);
