/**
 * WebRTC viewers built on pion (tests/tools/pion-client, Go): a WebRTC stack other than werift and Chromium.
 * pion gathers no loopback candidate, so the clients run in a network namespace made by the test
 * (tests/helpers/netns.ts) and the server listens on the host end of its veth: HTTP API (WHEP) on
 * <hostIp>:<api>, RTC on UDP <port> with candidate <hostIp>. ffmpeg publishes the test clip by RTMP in a loop
 * (rtmp_to_rtc on); the viewers play it by WHEP.
 *
 * Beyond "it plays", three behaviours of real viewers (issue #14):
 *  - a pion viewer sends STUN (consent/keepalive) only when no media flows: while it receives media and sends
 *    RTCP it sends no binding request at all, and must not be dropped at stun_timeout;
 *  - a viewer that closes its peer connection (DTLS close_notify) without an HTTP DELETE is gone at once;
 *  - viewers asking for a keyframe (PLI) every 2 s keep the full frame rate.
 *
 * Needs root (ip netns) and Go + Debian's pion packages; without them the tests FAIL with the reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { createNetns, type Netns } from "../helpers/netns.ts";
import { buildPionClient, events, type PionEvent, type PionLine, runPion, type PionSummary } from "../helpers/pion.ts";
import { freeUdpPort, publish, type Proc, type RunningServer, startServer } from "../helpers/server.ts";

const FPS = 25;
const FULL = 0.9 * FPS;

let netns: Netns;
let bin: string;
const servers: RunningServer[] = [];
const pubs: Proc[] = [];

beforeAll(async () => {
  netns = createNetns({ prefix: "srsts-pion" });
  const b = await buildPionClient();
  bin = b.path;
  console.log(`pion client: ${b.cached ? "cached build" : `built in ${b.buildMs} ms`} (${bin})`);
}, 120000);

afterAll(async () => {
  for (const p of pubs) p.kill();
  for (const s of servers) await s.stop("SIGKILL");
  await netns?.close();
});

/** A server with RTC on the veth's host address, and ffmpeg publishing the clip in a loop to live/<stream>. */
async function serverWithStream(stream: string, env: Record<string, string> = {}): Promise<{ srv: RunningServer; api: string; whep: string }> {
  const udp = await freeUdpPort();
  const srv = await startServer({
    env: {
      SRS_RTC_SERVER_ENABLED: "on",
      SRS_RTC_SERVER_LISTEN: String(udp),
      CANDIDATE: netns.hostIp,
      SRS_VHOST_RTC_ENABLED: "on",
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
      SRS_VHOST_HLS_ENABLED: "off",
      ...env,
    },
    portEnv: (p) => ({ SRS_HTTP_API_LISTEN: `${netns.hostIp}:${p.api}` }),
  });
  servers.push(srv);
  pubs.push(publish(clip("clip.flv"), srv.rtmpUrl(`/live/${stream}`)));
  const api = `http://${netns.hostIp}:${srv.api}`;
  // the stream is up when the server has its sequence header (a WHEP offer before that is refused)
  const end = Date.now() + 10000;
  for (;;) {
    const j = await (await fetch(`${api}/api/v1/streams/`)).json() as { streams: { name: string; publish: { active: boolean } }[] };
    if (j.streams.some((s) => s.name === stream && s.publish.active)) break;
    if (Date.now() > end) throw new Error(`stream ${stream} not published: ${srv.output().slice(-2000)}`);
    await Bun.sleep(100);
  }
  await Bun.sleep(500);
  return { srv, api, whep: `${api}/rtc/v1/whep/?app=live&stream=${stream}` };
}

async function rtcPlayers(api: string): Promise<number> {
  const j = await (await fetch(`${api}/api/v1/clients/`)).json() as { clients: { type: string }[] };
  return j.clients.filter((c) => c.type === "rtc-play").length;
}

function describeViewers(s: PionSummary): string {
  return s.perViewer.map((v) => `#${v.id} ${v.state} fps ${v.fps} frames ${v.frames} key ${v.keyframes} join ${v.joinMs} ms` +
    `${v.disconnects ? ` disconnects ${v.disconnects}` : ""}${v.error ? ` (${v.error})` : ""}`).join("; ");
}

describe("WHEP viewers on pion (in a network namespace)", () => {
  test("3 pion viewers play an RTMP-published clip at full frame rate with keyframes", async () => {
    const { srv, whep } = await serverWithStream("pion1");
    const run = runPion(bin, netns, { url: whep, n: 3, seconds: 7.5, interval: 1 });
    const s = await run.summary();
    const offer = run.lines.find((l: PionLine) => l.type === "offer") as { candidates?: string[] } | undefined;
    console.log(`pion offer candidates: ${JSON.stringify(offer?.candidates)}; join p50/max ${s.join.p50}/${s.join.max} ms; ${describeViewers(s)}`);
    // pion offers host candidates of the namespace's veth only (loopback filtered, mDNS off)
    expect(offer?.candidates?.some((c) => c.includes(` ${netns.nsIp} `))).toBe(true);
    expect(s.failedJoins).toBe(0);
    expect(s.perViewer).toHaveLength(3);
    for (const v of s.perViewer) {
      expect(v.window).toBeGreaterThan(5);
      expect(v.fps).toBeGreaterThanOrEqual(FULL);
      expect(v.keyframes).toBeGreaterThanOrEqual(2); // GOP 2 s
      expect(v.audioPackets).toBeGreaterThan(100); // the clip's AAC bridged to Opus, 50 packets/s
    }
    expect(srv.proc.exitCode).toBeNull();
  }, 60000);

  // A pion viewer sends a binding request only when the selected pair was idle for its keepalive interval (2 s,
  // either direction): while media flows in and RTCP (receiver reports, TWCC feedback) flows out it sends no
  // STUN at all. The server must not take that for a vanished peer (RFC 7675 consent is the sender's job).
  test("viewers that send no STUN while media flows stay connected at full rate beyond stun_timeout (5 s)", async () => {
    const { api, whep } = await serverWithStream("pion2", { SRS_VHOST_RTC_STUN_TIMEOUT: "5" });
    const run = runPion(bin, netns, { url: whep, n: 2, seconds: 11, interval: 1 });
    // at 9 s from the start (beyond 5 s without STUN) the server still lists both viewers
    await run.waitFor((l) => l.type === "stats" && l.t >= 9, 20000);
    const listed = await rtcPlayers(api);
    const s = await run.summary();
    console.log(`stun_timeout 5 s, 11 s run: ${listed} rtc-play clients at 9 s; ${describeViewers(s)}`);
    expect(s.failedJoins).toBe(0);
    for (const v of s.perViewer) {
      expect(v.window).toBeGreaterThan(8);
      expect(v.fps).toBeGreaterThanOrEqual(FULL);
      expect(v.disconnects).toBe(0);
    }
    expect(listed).toBe(2);
  }, 60000);

  test("a viewer that closes (DTLS close_notify, no DELETE) is gone from /api/v1/clients/ within 1 s and gets no more packets", async () => {
    const { api, whep } = await serverWithStream("pion3");
    const run = runPion(bin, netns, { url: whep, n: 1, seconds: 9, closeAfter: 3, noDelete: true, interval: 1 });
    await run.waitFor((l) => l.type === "event" && (l as PionEvent).event === "first-frame", 10000);
    expect(await rtcPlayers(api)).toBe(1);
    // while it plays, the namespace's end of the veth receives the media (25 video frames + 50 Opus packets/s)
    const rxPlay0 = netns.rxPackets();
    await Bun.sleep(1000);
    const rxPlaying = netns.rxPackets() - rxPlay0;
    expect(rxPlaying).toBeGreaterThan(50);
    await run.waitFor((l) => l.type === "event" && (l as PionEvent).event === "closed", 10000);
    const closedAt = Date.now();
    let n = await rtcPlayers(api);
    while (n > 0 && Date.now() - closedAt < 3000) {
      await Bun.sleep(50);
      n = await rtcPlayers(api);
    }
    const goneMs = Date.now() - closedAt;
    // what still reaches the namespace from 1 s to 3 s after the close (media would be > 100 packets/s)
    await Bun.sleep(Math.max(0, 1000 - (Date.now() - closedAt)));
    const rx0 = netns.rxPackets();
    await Bun.sleep(2000);
    const rxAfter = netns.rxPackets() - rx0;
    const s = await run.summary();
    console.log(`closed viewer: gone from the API after ${n > 0 ? "> 3000" : goneMs} ms; ${rxAfter} packets reached the namespace 1-3 s after the close (${rxPlaying} in 1 s while playing); ${describeViewers(s)}`);
    expect(s.perViewer[0]!.delete).toBe(0); // no DELETE was sent
    expect(n).toBe(0);
    expect(goneMs).toBeLessThanOrEqual(1000);
    expect(rxAfter).toBeLessThan(20);
  }, 60000);

  test("viewers sending a PLI every 2 s keep the full frame rate", async () => {
    const { whep } = await serverWithStream("pion4");
    const run = runPion(bin, netns, { url: whep, n: 3, seconds: 9, pliEvery: 2, interval: 1 });
    const s = await run.summary();
    console.log(`PLI every 2 s: ${describeViewers(s)}; PLIs sent ${s.perViewer.map((v) => v.plis).join(",")}`);
    expect(s.failedJoins).toBe(0);
    for (const v of s.perViewer) {
      expect(v.plis).toBeGreaterThanOrEqual(3);
      expect(v.window).toBeGreaterThan(6);
      expect(v.fps).toBeGreaterThanOrEqual(FULL);
    }
    expect(events(run.lines, "failed")).toHaveLength(0);
  }, 60000);
});
