/**
 * Stream casters end to end against the real server (`bun main.ts`) with real FFmpeg and curl:
 *  - mpegts_over_udp: `ffmpeg -f mpegts udp://127.0.0.1:PORT?pkt_size=1316` publishes the output stream, played
 *    back over RTMP, HTTP-FLV and HLS; a sender that stops and restarts resumes; garbage and truncated datagrams
 *    do no harm; two UDP casters on two ports; the API lists the session; on_publish fires for it.
 *  - flv: `ffmpeg -method POST -f flv http://…/live/s.flv` and `curl -T -` (chunked) publish `live/<stream>`.
 *  - reload adds and removes a caster.
 * Every child process is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { spawn } from "node:child_process";
import { clip } from "../helpers/media.ts";
import { FLV_AND_HLS } from "../helpers/conf.ts";
import {
  freePort,
  NO_ENV_LISTEN,
  playFrames,
  probeStreams,
  type Proc,
  reloadConfig,
  run,
  type RunningServer,
  startServer,
  udpTaken,
} from "../helpers/server.ts";

const children: Proc[] = [];
function track(p: Proc): Proc {
  children.push(p);
  return p;
}

async function waitFor(srv: RunningServer, cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${srv.output().slice(-4000)}`);
    await Bun.sleep(100);
  }
}

/** ffmpeg sending the TS clip as MPEG-TS over UDP, 7 packets per datagram, in real time. */
function udpSend(port: number): Proc {
  return track(run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"),
    "-c", "copy", "-f", "mpegts", `udp://127.0.0.1:${port}?pkt_size=1316`,
  ]));
}

/** A shell pipeline, killed as a process group. */
function shell(cmd: string): Proc {
  const proc = spawn("bash", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return track({
    proc,
    output: () => out,
    done,
    kill: () => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        // gone
      }
    },
  });
}

/**
 * Frames played from a live stream once it has video: a probe first (it returns once the stream's video and
 * audio are known, so the hub holds a keyframe), then the play; a player joining before the first keyframe
 * would count audio-only seconds.
 */
async function liveFrames(url: string, seconds: number): Promise<number> {
  const end = Date.now() + 20000;
  for (;;) {
    const streams = await probeStreams(url).catch(() => []);
    if (streams.some((s) => s.codec_type === "video") || Date.now() > end) break;
    await Bun.sleep(300);
  }
  return (await playFrames(url, seconds)).video;
}

type Obj = Record<string, unknown>;
async function clients(srv: RunningServer): Promise<Obj[]> {
  const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/?count=100`);
  return ((await r.json()) as { clients: Obj[] }).clients;
}

/** Sends datagrams to a UDP port. */
async function sendDatagrams(port: number, datagrams: Uint8Array[]): Promise<void> {
  const sock = createSocket("udp4");
  for (const d of datagrams) {
    await new Promise<void>((resolve) => sock.send(d, port, "127.0.0.1", () => resolve()));
  }
  sock.close();
}

function garbage(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 50; i++) {
    const n = 1 + Math.floor(Math.random() * 1500);
    const d = new Uint8Array(n);
    crypto.getRandomValues(d);
    out.push(d);
  }
  // truncated TS packets: sync byte then too few bytes, and whole-looking packets of random content
  for (let i = 0; i < 20; i++) {
    const d = new Uint8Array(100 + i);
    crypto.getRandomValues(d);
    d[0] = 0x47;
    out.push(d);
    const full = new Uint8Array(188 * 7);
    crypto.getRandomValues(full);
    for (let k = 0; k < 7; k++) full[k * 188] = 0x47;
    out.push(full);
  }
  return out;
}

describe("stream casters", () => {
  let srv: RunningServer;
  let rtmpPort: number;
  let udpA: number;
  let udpB: number;
  let udpC: number;
  let flvPort: number;
  const hooks: Obj[] = [];
  let hookServer: ReturnType<typeof Bun.serve>;
  let conf: (extra: string) => string;

  beforeAll(async () => {
    hookServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const body = (await req.json()) as Obj;
        hooks.push(body);
        if (body.action === "on_publish" && body.stream === "refused") return Response.json({ code: 403 });
        return Response.json({ code: 0 });
      },
    });
    rtmpPort = await freePort();
    udpA = await freePort();
    udpB = await freePort();
    udpC = await freePort();
    flvPort = await freePort();
    const api = await freePort();
    const http = await freePort();
    const h = `http://127.0.0.1:${hookServer.port}/api/v1/streams`;
    conf = (extra: string) => `listen 127.0.0.1:${rtmpPort}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
http_server { enabled on; listen 127.0.0.1:${http}; dir ./html; }
stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:${rtmpPort}/live/udp; listen 127.0.0.1:${udpA}; }
stream_caster { enabled on; caster flv; output rtmp://127.0.0.1:${rtmpPort}/[app]/[stream]; listen 127.0.0.1:${flvPort}; }
${extra}
vhost __defaultVhost__ {
  ${FLV_AND_HLS}
  http_hooks { enabled on; on_publish ${h}; on_unpublish ${h}; }
  publish { normal_timeout 3000; }
}
`;
    srv = await startServer({
      config: conf(`stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:${rtmpPort}/live/udp2; listen 127.0.0.1:${udpB}; }`),
      env: NO_ENV_LISTEN,
      ports: { rtmp: rtmpPort, http, api },
    });
  });

  afterAll(async () => {
    for (const c of children) c.kill();
    await srv?.stop();
    hookServer?.stop(true);
  });

  test("the start log names no caster as not implemented and every caster listens", () => {
    expect(srv.output()).not.toContain("stream_caster: not implemented");
    expect(srv.output()).toContain(`caster mpegts_over_udp listening on udp 127.0.0.1:${udpA}`);
    expect(srv.output()).toContain(`caster flv listening on http 127.0.0.1:${flvPort}`);
  });

  test("MPEG-TS over UDP plays back over RTMP, HTTP-FLV and HLS; the API lists it; on_publish fired", async () => {
    udpSend(udpA);
    const rtmp = await liveFrames(srv.rtmpUrl("/live/udp"), 3);
    expect(rtmp).toBeGreaterThan(40);
    const flv = await liveFrames(srv.httpUrl("/live/udp.flv"), 2);
    expect(flv).toBeGreaterThan(25);
    await waitFor(srv, async () => (await fetch(srv.httpUrl("/live/udp.m3u8"))).status === 200, 15000, "HLS playlist");
    const hls = await liveFrames(srv.httpUrl("/live/udp.m3u8"), 2);
    expect(hls).toBeGreaterThan(25);
    const c = (await clients(srv)).find((x) => x.type === "mpegts-publish");
    expect(c).toBeDefined();
    expect(c!.name).toBe("udp");
    expect(c!.url).toBe("/live/udp");
    const one = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/clients/${c!.id}`)).json()) as { client: Obj };
    expect(one.client.caster).toMatchObject({ kind: "mpegts_over_udp", target: "local", output: `rtmp://127.0.0.1:${rtmpPort}/live/udp` });
    expect(c!.publish).toBe(true);
    expect(hooks.some((b) => b.action === "on_publish" && b.stream === "udp" && b.app === "live")).toBe(true);
  }, 90000);

  test("garbage and truncated datagrams do no harm: the stream keeps playing", async () => {
    // from other sources (each batch from a new port) while the stream is live: dropped, the stream goes on
    await sendDatagrams(udpA, garbage());
    await sendDatagrams(udpA, garbage());
    const rtmp = await liveFrames(srv.rtmpUrl("/live/udp"), 3);
    expect(rtmp).toBeGreaterThan(40);
    expect(srv.output()).toMatch(/caster mpegts_over_udp udp \d+: dropped a datagram/);
    // to an idle caster: TS-shaped noise carries no program, so no session starts and no hook fires
    await sendDatagrams(udpB, garbage());
    await Bun.sleep(500);
    expect((await clients(srv)).some((c) => c.name === "udp2")).toBe(false);
    expect(hooks.some((b) => b.stream === "udp2")).toBe(false);
    expect(srv.proc.exitCode).toBeNull();
  }, 60000);

  test("a sender that stops and restarts resumes the stream", async () => {
    for (const c of children.splice(0)) c.kill();
    await Bun.sleep(1000);
    udpSend(udpA);
    const rtmp = await liveFrames(srv.rtmpUrl("/live/udp"), 3);
    expect(rtmp).toBeGreaterThan(40);
    // and after a stop longer than the publish timeout: a new publish
    for (const c of children.splice(0)) c.kill();
    await waitFor(srv, () => srv.output().includes("caster mpegts_over_udp: unpublish live/udp"), 15000, "unpublish on timeout");
    udpSend(udpA);
    const again = await liveFrames(srv.rtmpUrl("/live/udp"), 2);
    expect(again).toBeGreaterThan(25);
    for (const c of children.splice(0)) c.kill();
  }, 90000);

  test("two UDP casters on two ports publish two streams", async () => {
    udpSend(udpA);
    udpSend(udpB);
    const [a, b] = await Promise.all([liveFrames(srv.rtmpUrl("/live/udp"), 2), liveFrames(srv.rtmpUrl("/live/udp2"), 2)]);
    expect(a).toBeGreaterThan(25);
    expect(b).toBeGreaterThan(25);
    for (const c of children.splice(0)) c.kill();
  }, 60000);

  test("garbage from the sender's own port, between its datagrams: the demuxer resynchronises, the stream plays", async () => {
    // ffmpeg writes TS to stdout in real time; we cut it into 1316-byte datagrams and send them from one socket,
    // with a random or truncated datagram after every 10th.
    const ff = track(run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"), "-c", "copy", "-f", "mpegts", "-",
    ]));
    const sock = createSocket("udp4");
    let pending = new Uint8Array(0);
    let sent = 0;
    ff.proc.stdout!.removeAllListeners("data");
    ff.proc.stdout!.on("data", (chunk: Buffer) => {
      const all = new Uint8Array(pending.length + chunk.length);
      all.set(pending);
      all.set(chunk, pending.length);
      let off = 0;
      for (; off + 1316 <= all.length; off += 1316) {
        sock.send(all.subarray(off, off + 1316), udpB, "127.0.0.1");
        if (++sent % 10 === 0) {
          const junk = new Uint8Array(sent % 20 === 0 ? 100 : 1 + (sent % 1400));
          crypto.getRandomValues(junk);
          junk[0] = 0x47;
          sock.send(junk, udpB, "127.0.0.1");
        }
      }
      pending = all.slice(off);
    });
    try {
      // Frames hit by the junk are lost (a junk packet with the video PID breaks its PES): the stream plays on.
      const frames = await liveFrames(srv.rtmpUrl("/live/udp2"), 3);
      expect(frames).toBeGreaterThan(25);
    } finally {
      ff.kill();
      sock.close();
    }
    expect(srv.proc.exitCode).toBeNull();
  }, 60000);

  test("FFmpeg -method POST -f flv publishes live/<stream>", async () => {
    track(run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.flv"),
      "-c", "copy", "-method", "POST", "-f", "flv", `http://127.0.0.1:${flvPort}/live/post.flv`,
    ]));
    const rtmp = await liveFrames(srv.rtmpUrl("/live/post"), 3);
    expect(rtmp).toBeGreaterThan(40);
    const flv = await liveFrames(srv.httpUrl("/live/post.flv"), 2);
    expect(flv).toBeGreaterThan(25);
    const c = (await clients(srv)).find((x) => x.type === "flv-publish");
    expect(c?.name).toBe("post");
    for (const c of children.splice(0)) c.kill();
  }, 60000);

  test("curl -T - (a chunked body) publishes; a refused on_publish answers 403", async () => {
    shell(`ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i ${clip("clip.flv")} -c copy -f flv - | ` +
      `curl -s -T - http://127.0.0.1:${flvPort}/app2/curl.flv`);
    const rtmp = await liveFrames(srv.rtmpUrl("/app2/curl"), 2);
    expect(rtmp).toBeGreaterThan(25);
    for (const c of children.splice(0)) c.kill();
    const refused = run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", clip("clip.flv"), `http://127.0.0.1:${flvPort}/live/refused.flv`]);
    await refused.done;
    expect(refused.output().trim()).toBe("403");
    const notFlv = await fetch(`http://127.0.0.1:${flvPort}/x.flv`, { method: "POST", body: "x" });
    expect(notFlv.status).toBe(404);
    // a corrupt FLV body: a log line and a 400, the server goes on
    const bad = await fetch(`http://127.0.0.1:${flvPort}/live/bad.flv`, { method: "POST", body: new Uint8Array(5000).fill(0xff) });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("bad FLV");
    expect(srv.output()).toContain("caster flv: bad FLV body");
    expect(srv.proc.exitCode).toBeNull();
  }, 60000);

  test("a POST whose body stops flowing ends after publish.normal_timeout with a 408", async () => {
    const sock = connect(flvPort, "127.0.0.1");
    let answer = "";
    sock.on("data", (d: Buffer) => (answer += d.toString()));
    sock.on("error", () => undefined);
    await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
    const header = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
    sock.write(`POST /live/stall.flv HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${header.length.toString(16)}\r\n`);
    sock.write(header);
    sock.write("\r\n");
    await waitFor(srv, () => (hooks.some((b) => b.action === "on_publish" && b.stream === "stall")), 5000, "on_publish stall");
    const t0 = Date.now();
    await waitFor(srv, () => answer.includes("408"), 10000, "408");
    expect(Date.now() - t0).toBeGreaterThan(1500);
    expect(srv.output()).toContain("caster flv: no data for");
    await waitFor(srv, () => hooks.some((b) => b.action === "on_unpublish" && b.stream === "stall"), 5000, "on_unpublish stall");
    sock.destroy();
  }, 30000);

  test("reload adds a caster and removes one", async () => {
    await reloadConfig(srv, conf(`stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:${rtmpPort}/live/udp3; listen 127.0.0.1:${udpC}; }`));
    expect(srv.output()).toContain("reload: stream_caster applied");
    await waitFor(srv, async () => await udpTaken(udpC, "127.0.0.1"), 5000, "udp C bound");
    await waitFor(srv, async () => !(await udpTaken(udpB, "127.0.0.1")), 5000, "udp B released");
    udpSend(udpC);
    const c = await liveFrames(srv.rtmpUrl("/live/udp3"), 2);
    expect(c).toBeGreaterThan(25);
    for (const c of children.splice(0)) c.kill();
  }, 60000);
});

describe("a caster whose output is another server", () => {
  let origin: RunningServer;
  let srv: RunningServer;
  let flvPort: number;
  let udpPort: number;

  beforeAll(async () => {
    origin = await startServer({ config: "listen 1935; daemon off; srs_log_tank console;\nvhost __defaultVhost__ { }\n" });
    flvPort = await freePort();
    udpPort = await freePort();
    srv = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
stream_caster { enabled on; caster flv; output rtmp://127.0.0.1:${origin.rtmp}/[app]/[stream]; listen 127.0.0.1:${flvPort}; }
stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:${origin.rtmp}/live/fromudp; listen 127.0.0.1:${udpPort}; }
vhost __defaultVhost__ { }
`,
    });
  });

  afterAll(async () => {
    for (const c of children) c.kill();
    await srv?.stop();
    await origin?.stop();
  });

  test("FLV POST and MPEG-TS over UDP are pushed with our RTMP client and play from the other server", async () => {
    track(run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.flv"),
      "-c", "copy", "-method", "POST", "-f", "flv", `http://127.0.0.1:${flvPort}/live/remote.flv`,
    ]));
    udpSend(udpPort);
    const [a, b] = await Promise.all([liveFrames(origin.rtmpUrl("/live/remote"), 3), liveFrames(origin.rtmpUrl("/live/fromudp"), 3)]);
    expect(a).toBeGreaterThan(40);
    expect(b).toBeGreaterThan(40);
    expect(srv.output()).toContain(`pushes to rtmp://127.0.0.1:${origin.rtmp}/live/remote`);
    // the origin sees an RTMP publisher; the caster's server has no local stream
    const streams = (await (await fetch(`http://127.0.0.1:${srv.api}/api/v1/streams/`)).json()) as { streams: Obj[] };
    expect(streams.streams.length).toBe(0);
    for (const c of children.splice(0)) c.kill();
  }, 60000);
});

describe("casters under workers 2", () => {
  let srv: RunningServer;
  let flvPort: number;
  let udpPort: number;

  beforeAll(async () => {
    flvPort = await freePort();
    udpPort = await freePort();
    const rtmp = await freePort();
    srv = await startServer({
      config: `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console; workers 2;
http_api { enabled on; listen 1985; }
stream_caster { enabled on; caster flv; output rtmp://127.0.0.1:${rtmp}/[app]/[stream]; listen 127.0.0.1:${flvPort}; }
stream_caster { enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1:${rtmp}/live/wudp; listen 127.0.0.1:${udpPort}; }
vhost __defaultVhost__ { }
`,
      ports: { rtmp },
      env: { SRS_LISTEN: "" },
    });
  });

  afterAll(async () => {
    for (const c of children) c.kill();
    await srv?.stop();
  });

  test("the UDP caster runs in worker 1 only, the FLV caster in both; both streams play from any worker", async () => {
    const count = (re: RegExp) => (srv.output().match(re) ?? []).length;
    // Each worker logs its casters as it starts them: wait for both workers' lines, then make sure no second
    // UDP caster comes.
    await waitFor(srv, () => count(/caster flv listening/g) === 2 && count(/caster mpegts_over_udp listening/g) >= 1, 10000, "the casters of both workers");
    await Bun.sleep(500);
    expect(count(/caster mpegts_over_udp listening/g)).toBe(1);
    track(run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.flv"),
      "-c", "copy", "-method", "POST", "-f", "flv", `http://127.0.0.1:${flvPort}/live/wpost.flv`,
    ]));
    udpSend(udpPort);
    const urls = [srv.rtmpUrl("/live/wpost"), srv.rtmpUrl("/live/wudp"), srv.rtmpUrl("/live/wpost"), srv.rtmpUrl("/live/wudp")];
    const frames = await Promise.all(urls.map((u) => liveFrames(u, 2)));
    for (const f of frames) expect(f).toBeGreaterThan(25);
    for (const c of children.splice(0)) c.kill();
  }, 90000);
});
