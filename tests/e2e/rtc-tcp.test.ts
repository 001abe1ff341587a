/**
 * ICE over TCP (RFC 6544 passive candidates, RFC 4571 framing) with headless Chromium, as SRS's
 * `rtc_server { protocol tcp|all; tcp { enabled on; listen …; } }`:
 *  1. `protocol tcp` on loopback: the answer offers TCP candidates only; Chromium publishes by WHIP and another
 *     Chromium page plays by WHEP; the selected candidate pair of both (getStats) is TCP, and the server's session
 *     log says no packet of theirs came or went by UDP.
 *  2. `protocol all`, Chromium inside a network namespace this test creates (tests/helpers/netns.ts: a veth pair
 *     with 10.x addresses; the server listens on the host end): while UDP passes, a WHIP publisher selects the
 *     UDP pair (higher priority); then an nftables rule in the namespace's output chain drops every UDP packet to
 *     the server, and a publisher and a player both connect over TCP with the UDP candidate still offered. A
 *     real block, as a firewall does it (rather than a Chromium flag): Chromium still tries UDP, the rule's
 *     counter shows its dropped checks. Needs root (ip netns, nft); the test FAILS with the reason when the
 *     namespace cannot be made.
 *  3. reload: rtc_server.tcp.listen moved by SIGHUP; a new WHEP session connects on the new TCP port, the old one
 *     is closed; then `protocol all` by reload offers both.
 *  4. the ICE-TCP port under garbage (bad length, non-STUN first frame, unknown ufrag, silence): each connection is
 *     closed, the server keeps serving.
 *  5. SIGTERM with a TCP-connected Chromium viewer: the server exits within 3 s.
 * Loopback: Chromium connects to a 127.0.0.1 TCP candidate with or without --allow-loopback-in-peer-connection
 * (tried by hand: without it, its TCP connection comes from its "any address" network, a peer-reflexive
 * 127.0.0.1 tcptype active candidate); these tests keep the flags of tests/helpers/browser.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import type { Page } from "playwright-core";
import { launchBrowser, openPage, type TestBrowser } from "../helpers/browser.ts";
import type { WithSrs } from "../helpers/page-webrtc.ts";
import { clip } from "../helpers/media.ts";
import { createNetns, type Netns } from "../helpers/netns.ts";
import { freePort, NO_ENV_LISTEN, publish, reloadConfig, type RunningServer, rtcEnv, startServer, tcpAnswers } from "../helpers/server.ts";
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
    const { srs } = globalThis as unknown as WithSrs;
    const { pc, status, answer } = await srs.whep(api, stream);
    if (status !== 201) return { status, state: "", answer };
    const video = async () => {
      const v = (await srs.inbound(pc)).video ?? {};
      return { frames: v.framesDecoded ?? 0, width: v.frameWidth ?? 0 };
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
    return { status, state, answer, pair, frames: { first: first.frames, last: last.frames, width: last.width } };
  }, { api, stream, seconds, keep, selected: SELECTED_PAIR });
}

/** Plays `stream` by WHEP in page `b` for 4 s: the selected pair is TCP (to `tcpPort`), the 640-wide video decodes. */
async function expectPlaysOverTcp(b: Page, api: string, stream: string, tcpPort: number): Promise<void> {
  const play = await whepPlay(b, api, stream, 4);
  expect(play.status).toBe(201);
  expect(play.state).toBe("connected");
  expect(play.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcpPort });
  expect(play.frames!.last - play.frames!.first).toBeGreaterThan(30);
  expect(play.frames!.width).toBe(640);
  await b.close();
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

  const page = () => openPage(browser, `http://127.0.0.1:${srv.http}/`);

  test("Chromium publishes by WHIP and plays by WHEP over TCP only (selected pair tcp, no UDP packet)", async () => {
    const a = await page();
    const pub = await whipPublish(a, api, "tcp1");
    expect(pub.status).toBe(201);
    const cands = candidates(pub.answer);
    expect(cands.length).toBeGreaterThan(0);
    for (const c of cands) expect(c).toMatch(new RegExp(`^a=candidate:\\S+ 1 tcp \\d+ 127\\.0\\.0\\.1 ${tcpPort} typ host tcptype passive`));
    expect(pub.state).toBe("connected");
    expect(pub.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcpPort });

    await expectPlaysOverTcp(await page(), api, "tcp1", tcpPort);
    await a.close();
    // Both sessions end (the pages' TCP connections closed) and their logs count no UDP packet.
    await waitFor("both sessions closed", () => sessionPackets(srv.output(), "tcp1").length === 2, 10000, srv);
    for (const s of sessionPackets(srv.output(), "tcp1")) {
      expect(s.udpIn).toBe(0);
      expect(s.udpOut).toBe(0);
      // (a viewer sends little: its DTLS handshake, receiver reports, consent checks; no TWCC feedback since the
      // viewers' send path asks for none)
      expect(s.tcpIn).toBeGreaterThan(10);
      expect(s.tcpIn + s.tcpOut).toBeGreaterThan(300);
    }
  }, 90000);

  test("garbage on the ICE-TCP port closes each connection; the server keeps serving", async () => {
    const open = async () => {
      const c = connect(tcpPort, "127.0.0.1");
      c.on("error", () => {});
      await new Promise<void>((r, j) => {
        c.once("connect", () => r());
        c.once("error", j);
      });
      const t0 = Date.now();
      return { c, closed: new Promise<number>((r) => c.once("close", () => r(Date.now() - t0))) };
    };
    const frameOf = (b: Uint8Array) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
    // a STUN binding request naming no session (no integrity: closed before that matters)
    const stun = Buffer.alloc(28);
    stun.writeUInt16BE(1, 0);
    stun.writeUInt16BE(8, 2);
    stun.writeUInt32BE(0x2112a442, 4);
    stun.writeUInt16BE(6, 20);
    stun.writeUInt16BE(3, 22);
    stun.write("no:", 24);
    const cases: [string, Buffer][] = [
      ["an HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
      ["a DTLS record first", frameOf(Buffer.from([22, 254, 253, 0, 0]))],
      ["an unknown ICE username", frameOf(stun)],
      ["random bytes", Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 97 + 13) & 0xff))],
    ];
    for (const [what, bytes] of cases) {
      const { c, closed } = await open();
      c.write(bytes);
      // closed at once (not by the unbound timeout below)
      const ms = await Promise.race([closed, Bun.sleep(12000).then(() => -1)]);
      expect({ what, closedWithin2s: ms >= 0 && ms < 2000 }).toEqual({ what, closedWithin2s: true });
    }
    // a connection that sends nothing is closed after the unbound timeout (8 s)
    const silent = await open();
    const ms = await Promise.race([silent.closed, Bun.sleep(15000).then(() => -1)]);
    expect(ms).toBeGreaterThan(5000);
    expect(ms).toBeLessThan(12000);
    expect(srv.proc.exitCode).toBeNull();
    expect((await fetch(`${api}/api/v1/versions`)).status).toBe(200);
  }, 60000);
});

describe("protocol all, Chromium in a network namespace: UDP when it passes, TCP when UDP is dropped", () => {
  let setupError: string | null = null;
  let n: Netns | undefined;
  let HOST_IP = "";
  let srv: RunningServer | undefined;
  let browser: TestBrowser | undefined;
  let udp = 0;
  let tcpPort = 0;

  beforeAll(async () => {
    try {
      n = createNetns({ prefix: "icetcp" });
      // Inside the namespace: an output chain, where the test adds its UDP drop rule.
      n.exec("nft", ["add", "table", "inet", "icetcp"]);
      n.exec("nft", ["add", "chain", "inet", "icetcp", "out", "{ type filter hook output priority 0; policy accept; }"]);
    } catch (e) {
      setupError = `${(e as Error).message} (this test needs root: ip netns, veth, nft)`;
      return;
    }
    HOST_IP = n.hostIp;
    udp = await freePort();
    tcpPort = await freePort();
    srv = await startServer({
      env: {
        ...rtcEnv(udp),
        CANDIDATE: HOST_IP,
        SRS_RTC_SERVER_PROTOCOL: "all",
        SRS_RTC_SERVER_TCP_ENABLED: "on",
        SRS_RTC_SERVER_TCP_LISTEN: String(tcpPort),
      },
      // the API and the pages also on the veth's host end, for Chromium in the namespace
      portEnv: (p) => ({
        SRS_HTTP_API_LISTEN: `127.0.0.1:${p.api} ${HOST_IP}:${p.api}`,
        SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${p.http} ${HOST_IP}:${p.http}`,
      }),
    });
    // getUserMedia needs a secure origin: http://10.x is made one for this profile.
    browser = await launchBrowser({ netns: n.ns, args: [`--unsafely-treat-insecure-origin-as-secure=http://${HOST_IP}:${srv.http}`] });
  }, 60000);

  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
    await n?.close();
  });

  test("UDP open: Chromium selects UDP; UDP dropped: it publishes and plays over TCP", async () => {
    if (setupError) throw new Error(setupError);
    const api = `http://${HOST_IP}:${srv!.api}`;
    const page = async () => {
      const p = await browser!.context.newPage();
      await p.goto(`http://${HOST_IP}:${srv!.http}/`);
      return p;
    };
    // While UDP passes, the UDP candidate wins (higher priority on the same network).
    const o = await page();
    const open = await whipPublish(o, api, "open");
    expect(open.state).toBe("connected");
    expect(open.pair).toEqual({ local: "udp", remote: "udp", remotePort: udp });
    await o.close();

    // Every UDP packet to the server's address dropped (and counted) inside the namespace.
    n!.exec("nft", ["add", "rule", "inet", "icetcp", "out", "ip", "daddr", HOST_IP, "meta", "l4proto", "udp", "counter", "drop"]);
    const a = await page();
    const pub = await whipPublish(a, api, "blocked");
    expect(pub.status).toBe(201);
    // both candidates offered, UDP first and preferred (RFC 6544 4.2: TCP below UDP)
    // (the same candidates in each bundled media section)
    const cands = [...new Set(candidates(pub.answer))].map((l) => l.split(" "));
    const tcptype = (c: string[]) => (c.includes("tcptype") ? ` tcptype ${c[c.indexOf("tcptype") + 1]}` : "");
    expect(cands.map((c) => `${c[2]} ${c[4]}:${c[5]}${tcptype(c)}`)).toEqual([
      `udp ${HOST_IP}:${udp}`, `tcp ${HOST_IP}:${tcpPort} tcptype passive`,
    ]);
    expect(Number(cands[0]![3])).toBeGreaterThan(Number(cands[1]![3]));
    expect(pub.state).toBe("connected");
    expect(pub.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcpPort });

    await expectPlaysOverTcp(await page(), api, "blocked", tcpPort);
    await a.close();

    // Chromium did try UDP: the namespace's rule dropped its checks; the server saw none of them.
    const ruleset = n!.exec("nft", ["list", "table", "inet", "icetcp"]);
    const dropped = Number(/counter packets (\d+)/.exec(ruleset)?.[1] ?? 0);
    expect(dropped).toBeGreaterThan(0);
    await waitFor("both sessions closed", () => sessionPackets(srv!.output(), "blocked").length === 2, 10000, srv);
    for (const s of sessionPackets(srv!.output(), "blocked")) {
      expect(s.udpIn).toBe(0);
      expect(s.udpOut).toBe(0);
      expect(s.tcpIn + s.tcpOut).toBeGreaterThan(300);
    }
  }, 90000);
});

describe("reload moves rtc_server.tcp.listen; SIGTERM with a TCP viewer", () => {
  let srv: RunningServer | undefined;
  let browser: TestBrowser | undefined;
  const ff: { kill(): void }[] = [];

  afterAll(async () => {
    for (const f of ff) f.kill();
    await browser?.close();
    await srv?.stop("SIGKILL");
  });

  test("a new session uses the new TCP port, the old one stops listening; protocol all offers both; SIGTERM exits in time", async () => {
    const [rtmp, http, api, udp, tcp1, tcp2] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const conf = (rtc: string) => `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
http_server { enabled on; listen 127.0.0.1:${http}; dir ./html; }
rtc_server { enabled on; listen ${udp}; candidate 127.0.0.1; ${rtc} }
vhost __defaultVhost__ { rtc { enabled on; rtmp_to_rtc off; } }
`;
    srv = await startServer({ config: conf(`protocol tcp; tcp { enabled on; listen ${tcp1}; }`), env: NO_ENV_LISTEN, ports: { rtmp, http, api } });
    const s = srv;
    browser = await launchBrowser();
    ff.push(publish(clip("clip.flv"), s.rtmpUrl("/live/moved")));
    await Bun.sleep(1500);
    const play = async (keep = false) => {
      const p = await browser!.context.newPage();
      await p.goto(`http://127.0.0.1:${http}/`);
      const r = await whepPlay(p, `http://127.0.0.1:${api}`, "moved", 2, keep);
      if (!keep) await p.close();
      return r;
    };
    const before = await play();
    expect(before.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcp1 });
    expect(before.frames!.last).toBeGreaterThan(20);

    await reloadConfig(s, conf(`protocol tcp; tcp { enabled on; listen ${tcp2}; }`));
    expect(s.output()).toContain(`reload: rtc_server applied (listening on udp ${udp}, tcp ${tcp2}`);
    expect(await tcpAnswers(tcp1)).toBe(false);
    const after = await play();
    expect(after.status).toBe(201);
    expect(candidates(after.answer).every((c) => c.includes(` tcp `) && c.includes(` ${tcp2} typ host tcptype passive`))).toBe(true);
    expect(after.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcp2 });
    expect(after.frames!.last - after.frames!.first).toBeGreaterThan(20);

    // protocol all: both offered, and it plays. Which pair Chromium selects on loopback depends on the host's
    // interfaces: it ranks its loopback "network" below the others (network cost before priority), and a wildcard
    // UDP socket answers a check sent from another local address to 127.0.0.1 from that address, which Chromium
    // ignores, while the server saw that UDP check nominated: Chromium may well select TCP here. Whichever it
    // selects, the server sends where Chromium's DTLS came from (ice.ts), so it plays. (The namespace test
    // checks that UDP wins where it works.)
    await reloadConfig(s, conf(`protocol all; tcp { enabled on; listen ${tcp2}; }`));
    const all = await play();
    expect(new Set(candidates(all.answer).map((c) => c.split(" ")[2]))).toEqual(new Set(["udp", "tcp"]));
    expect([`udp ${udp}`, `tcp ${tcp2}`]).toContain(`${all.pair!.remote} ${all.pair!.remotePort}`);
    expect(all.frames!.last - all.frames!.first).toBeGreaterThan(20);

    // SIGTERM while a Chromium viewer plays over TCP: the server ends the session and exits in time.
    await reloadConfig(s, conf(`protocol tcp; tcp { enabled on; listen ${tcp2}; }`));
    const viewer = await play(true);
    expect(viewer.pair).toEqual({ local: "tcp/active", remote: "tcp", remotePort: tcp2 });
    // the API says so too
    const list = await (await fetch(`http://127.0.0.1:${api}/api/v1/clients/`)).json() as { clients: { id: string; type: string }[] };
    const id = list.clients.find((c) => c.type === "rtc-play")?.id;
    const one = await (await fetch(`http://127.0.0.1:${api}/api/v1/clients/${id}`)).json() as { client: { rtc?: { ice: { protocol: string; local: string[] } } } };
    expect(one.client.rtc?.ice.protocol).toBe("tcp");
    expect(one.client.rtc?.ice.local).toEqual([`tcp/127.0.0.1:${tcp2}`]);
    const t0 = Date.now();
    const code = await s.stop("SIGTERM");
    const ms = Date.now() - t0;
    console.log(`SIGTERM with a TCP-connected WebRTC viewer: exit after ${ms} ms`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(3000);
    expect(s.output()).toMatch(/rtc play session closed \(server quit[^\n]*udp in=0 out=0 tcp in=[1-9]\d* out=[1-9]\d*/);
  }, 120000);
});
