/**
 * The gb28181 stream caster end to end against the real server (`bun main.ts`): a simulated GB28181 device
 * (tests/helpers/gb-device.ts) registers over SIP (TCP and UDP), sends keepalives, answers the server's INVITE and
 * sends RTP(PS) made from FFmpeg clips to the media port over RFC 4571 TCP; FFmpeg plays `live/<device id>` back
 * over RTMP and HTTP-FLV. Also: the API lists the session, on_publish/on_unpublish fire, BYE ends the stream, a
 * device that never sends media is invited again then dropped, bad SIP closes its connection and harms nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { FLV_AND_HLS } from "../helpers/conf.ts";
import { GbDevice } from "../helpers/gb-device.ts";
import { freePort, NO_ENV_LISTEN, playFrames, probeStreams, type RunningServer, startServer } from "../helpers/server.ts";

type Obj = Record<string, unknown>;

async function waitFor(srv: RunningServer, cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${srv.output().slice(-4000)}`);
    await Bun.sleep(100);
  }
}

/** Frames played once the stream has video (a probe first, so the player starts at a keyframe). */
async function liveFrames(url: string, seconds: number): Promise<number> {
  const end = Date.now() + 20000;
  for (;;) {
    const streams = await probeStreams(url).catch(() => []);
    if (streams.some((s) => s.codec_type === "video") || Date.now() > end) break;
    await Bun.sleep(300);
  }
  return (await playFrames(url, seconds)).video;
}

/** A raw TCP connection; resolves `closed` when the server closes it. */
async function rawTcp(port: number): Promise<{ sock: Socket; closed: Promise<void> }> {
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  sock.on("error", () => undefined);
  sock.on("data", () => undefined);
  const closed = new Promise<void>((r) => sock.once("close", () => r()));
  return { sock, closed };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, Bun.sleep(ms).then(() => Promise.reject(new Error(`timeout: ${what}`)))]);
}

describe("gb28181 caster", () => {
  let srv: RunningServer;
  let rtmpPort: number;
  let sipPort: number;
  let mediaPort: number;
  const hooks: Obj[] = [];
  const devices: GbDevice[] = [];
  let hookServer: ReturnType<typeof Bun.serve>;

  function device(o: Partial<ConstructorParameters<typeof GbDevice>[0]> & { id: string }): GbDevice {
    const d = new GbDevice({ sipPort, transport: "TCP", ...o });
    devices.push(d);
    return d;
  }

  async function clients(): Promise<Obj[]> {
    const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/?count=100`);
    return ((await r.json()) as { clients: Obj[] }).clients;
  }

  beforeAll(async () => {
    hookServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        hooks.push((await req.json()) as Obj);
        return Response.json({ code: 0 });
      },
    });
    rtmpPort = await freePort();
    sipPort = await freePort();
    mediaPort = await freePort();
    const api = await freePort();
    const http = await freePort();
    const h = `http://127.0.0.1:${hookServer.port}/api/v1/streams`;
    srv = await startServer({
      config: `listen 127.0.0.1:${rtmpPort}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
http_server { enabled on; listen 127.0.0.1:${http}; dir ./html; }
stream_caster {
  enabled on; caster gb28181; output rtmp://127.0.0.1:${rtmpPort}/live/[stream]; listen 127.0.0.1:${mediaPort};
  sip { enabled on; listen 127.0.0.1:${sipPort}; candidate 127.0.0.1; timeout 2; reinvite 1; }
}
vhost __defaultVhost__ {
  ${FLV_AND_HLS}
  http_hooks { enabled on; on_publish ${h}; on_unpublish ${h}; }
}
`,
      env: NO_ENV_LISTEN,
      ports: { rtmp: rtmpPort, http, api },
    });
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    await srv?.stop();
    hookServer?.stop(true);
  });

  test("the caster starts: SIP on TCP and UDP, the media port, nothing reported as not implemented", () => {
    expect(srv.output()).not.toContain("not implemented");
    expect(srv.output()).toContain(`caster gb28181: sip on tcp+udp 127.0.0.1:${sipPort}, media on tcp 127.0.0.1:${mediaPort}`);
  });

  test("H.264 device over SIP/TCP: REGISTER, keepalive, INVITE, media; plays over RTMP and HTTP-FLV; API; hooks; BYE ends it", async () => {
    const id = "34020000001320000001";
    const d = device({ id });
    await d.connect();
    expect(await d.register()).toBe(200);
    expect(await d.keepalive(1)).toBe(200);
    await waitFor(srv, () => d.mediaBytes > 0, 10000, "the device's media");
    expect(d.mediaPort).toBe(mediaPort);
    const rtmp = await liveFrames(srv.rtmpUrl(`/live/${id}`), 3);
    expect(rtmp).toBeGreaterThan(40);
    const flv = await liveFrames(srv.httpUrl(`/live/${id}.flv`), 2);
    expect(flv).toBeGreaterThan(25);
    const streams = await probeStreams(srv.httpUrl(`/live/${id}.flv`));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    const c = (await clients()).find((x) => x.type === "gb28181-publish");
    expect(c).toBeDefined();
    expect(c!.name).toBe(id);
    expect(c!.publish).toBe(true);
    const one = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/${c!.id}`)).json()) as { client: Obj };
    expect(one.client.caster).toMatchObject({ kind: "gb28181", target: "local", output: `rtmp://127.0.0.1:${rtmpPort}/live/${id}` });
    expect(hooks.some((b) => b.action === "on_publish" && b.stream === id && b.app === "live")).toBe(true);
    expect(await d.keepalive(2)).toBe(200);
    d.bye();
    await waitFor(srv, async () => !(await clients()).some((x) => x.type === "gb28181-publish"), 8000, "the session to end after BYE");
    await waitFor(srv, () => hooks.some((b) => b.action === "on_unpublish" && b.stream === id), 5000, "on_unpublish");
    expect(srv.output()).toContain(`device ${id}: BYE, stream ends`);
    d.close();
  }, 90000);

  test("H.265 device over SIP/UDP plays back as HEVC (HLS)", async () => {
    const id = "34020000001320000002";
    const d = device({ id, transport: "UDP", clip: "clip-hevc.ts" });
    await d.connect();
    expect(await d.register()).toBe(200);
    await waitFor(srv, () => d.mediaBytes > 0, 10000, "the device's media");
    // FFmpeg 5.1 cannot read HEVC in FLV: played over HLS (TS segments)
    const m3u8 = srv.httpUrl(`/live/${id}.m3u8`);
    await waitFor(srv, async () => (await fetch(m3u8)).status === 200, 15000, "HLS playlist");
    const hls = await liveFrames(m3u8, 2);
    expect(hls).toBeGreaterThan(25);
    const streams = await probeStreams(m3u8);
    expect(streams.find((s) => s.codec_type === "video")?.codec_name).toBe("hevc");
    // unregistering ends the device and its stream
    expect(await d.register(0)).toBe(200);
    await waitFor(srv, async () => !(await clients()).some((x) => x.name === id), 8000, "the session to end after unregister");
    d.close();
  }, 90000);

  test("G.711 A-law audio (PSM 0x90) is passed through: RTMP/FLV carry it as pcm_alaw", async () => {
    const id = "34020000001320000005";
    const d = device({ id, audio: "pcma" });
    await d.connect();
    expect(await d.register()).toBe(200);
    await waitFor(srv, () => d.mediaBytes > 0, 10000, "the device's media");
    const flv = await liveFrames(srv.httpUrl(`/live/${id}.flv`), 2);
    expect(flv).toBeGreaterThan(25);
    const streams = await probeStreams(srv.rtmpUrl(`/live/${id}`));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["h264", "pcm_alaw"]);
    d.close();
    await waitFor(srv, async () => !(await clients()).some((x) => x.name === id), 10000, "the session to end when the device goes");
  }, 60000);

  test("a device that registers and never sends media is invited again, then dropped with a log line", async () => {
    const id = "34020000001320000003";
    const d = device({ id, noMedia: true });
    await d.connect();
    expect(await d.register()).toBe(200);
    // timeout 2s, 3 INVITEs, then a BYE
    await waitFor(srv, () => srv.output().includes(`device ${id} session ended: no media after 3 INVITEs`), 15000, "the device dropped");
    expect(d.invites).toBe(3);
    await waitFor(srv, () => d.byes > 0, 3000, "the BYE");
    expect((await clients()).some((x) => x.name === id)).toBe(false);
    // its keepalive is now refused: it must register again
    expect(await d.keepalive(3)).toBe(403);
    d.close();
  }, 30000);

  test("bad SIP: missing headers, a huge body, garbage: a log line, that connection closed, the server fine", async () => {
    const a = await rawTcp(sipPort);
    a.sock.write("REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\n" +
      "CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n");
    await within(a.closed, 5000, "close after a REGISTER without From");
    const b = await rawTcp(sipPort);
    b.sock.write("MESSAGE sip:x@y SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\n" +
      "To: <sip:x@y>\r\nCall-ID: 1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 100000000\r\n\r\n");
    await within(b.closed, 5000, "close after a huge Content-Length");
    const c = await rawTcp(sipPort);
    c.sock.write(crypto.getRandomValues(new Uint8Array(40000)));
    await within(c.closed, 5000, "close after garbage");
    const m = await rawTcp(mediaPort);
    m.sock.write(crypto.getRandomValues(new Uint8Array(2000)));
    await within(m.closed, 5000, "media port closes garbage");
    expect(srv.output()).toContain("without From, connection closed");
    expect(srv.output()).toContain("over the 65536-byte limit, connection closed");
    // UDP garbage is dropped
    const { createSocket } = await import("node:dgram");
    const u = createSocket("udp4");
    await new Promise<void>((r) => u.send(crypto.getRandomValues(new Uint8Array(1000)), sipPort, "127.0.0.1", () => r()));
    u.close();
    // the server still takes devices
    const d = device({ id: "34020000001320000004" });
    await d.connect();
    expect(await d.register()).toBe(200);
    await waitFor(srv, () => d.mediaBytes > 0, 10000, "media after bad input");
    const frames = await liveFrames(srv.rtmpUrl("/live/34020000001320000004"), 2);
    expect(frames).toBeGreaterThan(25);
    d.close();
    await waitFor(srv, async () => !(await clients()).some((x) => x.name === "34020000001320000004"), 10000, "the session to end when the device goes");
  }, 60000);
});

describe("gb28181 caster without SIP (gb28181-without-sip.conf): sessions made through POST /gb/v1/publish/", () => {
  let srv: RunningServer;
  let rtmpPort: number;
  let mediaPort: number;
  const devices: GbDevice[] = [];

  async function gbPublish(body: unknown): Promise<Obj> {
    const r = await fetch(`http://127.0.0.1:${srv.api}/gb/v1/publish/`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
    return (await r.json()) as Obj;
  }

  beforeAll(async () => {
    rtmpPort = await freePort();
    mediaPort = await freePort();
    const api = await freePort();
    const http = await freePort();
    srv = await startServer({
      config: `listen 127.0.0.1:${rtmpPort}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
http_server { enabled on; listen 127.0.0.1:${http}; dir ./html; }
stream_caster {
  enabled on; caster gb28181; output rtmp://127.0.0.1:${rtmpPort}/live/[stream]; listen 127.0.0.1:${mediaPort};
  sip { enabled off; timeout 2; }
}
vhost __defaultVhost__ { ${FLV_AND_HLS} }
`,
      env: NO_ENV_LISTEN,
      ports: { rtmp: rtmpPort, http, api },
    });
  });

  afterAll(async () => {
    for (const d of devices) d.close();
    await srv?.stop();
  });

  test("the API sets a session up, the device's media plays; bad and busy requests are refused; no media ends it", async () => {
    expect(srv.output()).not.toContain("not implemented");
    expect(srv.output()).toContain("caster gb28181: sip disabled");
    const id = "34020000001320000010";
    expect(await gbPublish({ id, ssrc: "0200001234" })).toEqual({ code: 0, port: mediaPort, is_tcp: true });
    expect(await gbPublish({ id, ssrc: "0200001235" })).toMatchObject({ code: 1028 });
    expect(await gbPublish({ id: "other", ssrc: "0200001234" })).toMatchObject({ code: 1028 });
    expect(await gbPublish("{not json")).toMatchObject({ code: 3008 });
    expect(await gbPublish({ id })).toMatchObject({ code: 3008 });
    const d = new GbDevice({ id, sipPort: 0, transport: "TCP" });
    devices.push(d);
    void d.sendMedia("127.0.0.1", mediaPort, 200001234);
    const frames = await liveFrames(srv.rtmpUrl(`/live/${id}`), 3);
    expect(frames).toBeGreaterThan(40);
    const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/?count=100`);
    const list = ((await r.json()) as { clients: Obj[] }).clients;
    expect(list.find((c) => c.type === "gb28181-publish")?.name).toBe(id);
    d.close();
    await waitFor(srv, () => srv.output().includes(`device ${id} session ended: media ended`), 10000, "the session to end with its media");
    // a session whose media never comes ends after sip.timeout (2 s)
    expect(await gbPublish({ id: "34020000001320000011", ssrc: "0200005678" })).toMatchObject({ code: 0 });
    await waitFor(srv, () => srv.output().includes("device 34020000001320000011 session ended: no media 2s after the session was set up"), 8000, "timeout");
    // the id can be used again
    expect(await gbPublish({ id: "34020000001320000011", ssrc: "0200005678" })).toMatchObject({ code: 0 });
  }, 60000);
});
