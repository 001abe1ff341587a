/**
 * srs-ts's `workers 2;` end to end: a primary and two worker processes share the RTMP, HTTP, API and SRT ports
 * (SO_REUSEPORT: the kernel spreads the connections); WebRTC has one UDP port per worker. FFmpeg publishes to one
 * worker; 20 light RTMP/HTTP-FLV players, ffmpeg decoders (RTMP, HTTP-FLV, HLS, SRT) and werift WHEP viewers,
 * spread over both workers by the kernel, all get the stream: the worker without the publisher pulls it from the
 * owner over its private loopback RTMP port. Hooks fire once per client (none for the pulls between workers). The
 * API shows the whole server whichever worker answers, and a kick reaches either worker. A second publisher of
 * the stream is refused as busy, whichever worker it lands on. HLS is written once, by the owner. The owner killed
 * with SIGKILL: the primary restarts it, and the stream plays again once the publisher reconnects. SIGHUP reloads
 * every worker; SIGTERM ends them all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { clip } from "../helpers/media.ts";
import { flvReader, type LightReader, rtmpReader } from "../helpers/edge-readers.ts";
import { freePort, freeUdpPort, playFrames, publish, type Proc, rtcEnv, run, type RunningServer, startServer, udpTaken } from "../helpers/server.ts";
import { whepViewer } from "../helpers/whep.ts";
import { hookRecorder } from "../helpers/hooks.ts";
import { count, waitFor } from "../helpers/wait.ts";

const config = (hooks: string, exporter: number) => `listen 1935; daemon off; srs_log_tank console; workers 2;
exporter { enabled on; listen 127.0.0.1:${exporter}; }
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  hls { enabled on; hls_path ./html; hls_fragment 1; hls_window 4; }
  srt { enabled on; srt_to_rtmp on; }
  rtc { enabled on; rtmp_to_rtc on; }
  http_hooks {
    enabled on;
    on_connect ${hooks}/hooks; on_close ${hooks}/hooks; on_publish ${hooks}/hooks; on_unpublish ${hooks}/hooks;
    on_play ${hooks}/hooks; on_stop ${hooks}/hooks;
  }
}
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function udpFree(port: number): Promise<boolean> {
  return !(await udpTaken(port));
}

/** Worker id -> pid, from the workers' start lines. */
function workerPids(out: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of out.matchAll(/worker (\d+)\/\d+: pid=(\d+)/g)) m.set(Number(x[1]), Number(x[2]));
  return m;
}

async function waitFrames(readers: LightReader[], min: number, ms: number, s: RunningServer): Promise<void> {
  const base = readers.map((r) => r.frames);
  await waitFor(`every player gets ${min} more frames`, () => readers.every((r, i) => r.frames - base[i]! >= min), ms, s);
}

describe("workers 2: one publisher, players spread over both workers", () => {
  let s: RunningServer;
  let pub: Proc;
  const readers: LightReader[] = [];
  const hooks = hookRecorder();
  let exporter = 0;

  beforeAll(async () => {
    // WebRTC: worker i binds rtc_server.listen + i - 1 (its own port in its candidates): two free UDP ports in a row.
    let udp = await freeUdpPort();
    while (!(await udpFree(udp + 1))) udp = await freeUdpPort();
    exporter = await freePort();
    s = await startServer({ config: config(hooks.base, exporter), env: { ...rtcEnv(udp), SRS_SRT_SERVER_ENABLED: "on" } });
    await waitFor("both workers started", () => count(s.output(), "server started") >= 2, 20000, s);
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    await waitFor("the publisher claimed the stream", () => s.output().includes("rtmp publish") || s.output().includes("publish"), 15000, s);
  }, 40000);

  afterAll(async () => {
    for (const r of readers) r.close();
    pub?.kill();
    await s?.stop();
    hooks.close();
    if (process.env.WORKERS_TEST_LOG) console.log(s.output());
  });

  test("20 players (10 RTMP, 10 HTTP-FLV) over both workers all get video; the other worker pulls from the owner", async () => {
    for (let i = 0; i < 10; i++) {
      readers.push(await rtmpReader(s.rtmpUrl("/live/s")));
      readers.push(await flvReader(s.httpUrl("/live/s.flv")));
    }
    await waitFrames(readers, 50, 30000, s);
    expect(readers.every((r) => r.backwards === 0)).toBe(true);
    // The kernel spread them: at least one pull from the owner's private port happened.
    await waitFor("a worker pulls from the owner", () => /edge pull .*playing from origin 127\.0\.0\.1:/.test(s.output()), 10000, s);
    expect(workerPids(s.output()).size).toBe(2);
    // Hooks fire once per client, on the worker that holds it; the pulls between workers fire none.
    expect(hooks.of("on_publish").length).toBe(1);
    expect(hooks.of("on_play").length).toBe(20);
    expect(hooks.of("on_connect").length).toBe(11); // the publisher and the 10 RTMP players
  }, 90000);

  test("the API shows the whole server: clients, streams and summaries over both workers; kick on any worker", async () => {
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${s.api}${path}`)).json()) as T;
    type Client = { id: string; type: string; url: string; worker: number };
    // Ask several times: each request lands on either worker, the answer is the same.
    for (let i = 0; i < 4; i++) {
      const { clients } = await get<{ clients: Client[] }>("/api/v1/clients/?count=1000");
      const live = clients.filter((c) => c.url === "/live/s");
      expect(live.filter((c) => !c.type.endsWith("publish")).length).toBe(readers.length);
      expect(live.filter((c) => c.type.endsWith("publish")).length).toBe(1);
      expect(new Set(live.map((c) => c.worker)).size).toBe(2);
      const { streams } = await get<{ streams: { url: string; clients: number; publish: { active: boolean } }[] }>("/api/v1/streams/?count=100");
      const st = streams.filter((x) => x.url === "/live/s");
      expect(st.length).toBe(1);
      expect(st[0]!.publish.active).toBe(true);
      expect(st[0]!.clients).toBe(live.length);
      const sum = await get<{ data: { system: { conn_srs: number }; workers: { id: number; conn_srs: number }[] } }>("/api/v1/summaries");
      expect(sum.data.workers.length).toBe(2);
      expect(sum.data.system.conn_srs).toBe(sum.data.workers.reduce((a, w) => a + w.conn_srs, 0));
      expect(sum.data.system.conn_srs).toBeGreaterThanOrEqual(live.length);
      const { vhosts } = await get<{ vhosts: { name: string; clients: number; streams: number }[] }>("/api/v1/vhosts");
      const dv = vhosts.find((v) => v.name === "__defaultVhost__")!;
      expect(dv.clients).toBe(clients.length);
      expect(dv.streams).toBe(1);
      const metrics = await (await fetch(`http://127.0.0.1:${exporter}/metrics`)).text();
      expect(metrics).toContain(`\nsrs_clients ${clients.length}\n`);
      expect(metrics).toContain("\nsrs_streams 1\n");
      expect(metrics.match(/^srs_build_info/gm)?.length).toBe(1);
    }
    // Kick one player of each worker through the shared port (the request may land on the other worker).
    const { clients } = await get<{ clients: Client[] }>("/api/v1/clients/?count=1000");
    for (const w of [1, 2]) {
      const victim = clients.find((c) => c.worker === w && c.type !== "fmle-publish" && c.url === "/live/s")!;
      const r = await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/${victim.id}`, { method: "DELETE" })).json() as { code: number };
      expect(r.code).toBe(0);
      await waitFor(`client ${victim.id} kicked`, async () => !(await get<{ clients: Client[] }>("/api/v1/clients/?count=1000")).clients.some((c) => c.id === victim.id), 10000, s);
    }
    await waitFor("two players ended", () => readers.filter((r) => r.ended).length === 2, 10000, s);
    readers.splice(0, readers.length, ...readers.filter((r) => !r.ended));
  }, 60000);

  test("ffmpeg decodes RTMP and HTTP-FLV from both workers", async () => {
    const plays = await Promise.all([
      playFrames(s.rtmpUrl("/live/s"), 3),
      playFrames(s.httpUrl("/live/s.flv"), 3),
      playFrames(s.rtmpUrl("/live/s"), 3),
      playFrames(s.httpUrl("/live/s.flv"), 3),
    ]);
    for (const p of plays) expect(p.video).toBeGreaterThan(30);
  }, 60000);

  test("SRT and WHEP players on both workers get the stream", async () => {
    const srt = `srt://127.0.0.1:${s.srt}?streamid=#!::r=live/s,m=request`;
    const srtPlays = [playFrames(srt, 3), playFrames(srt, 3), playFrames(srt, 3), playFrames(srt, 3)];
    const viewers = await Promise.all([0, 1, 2, 3].map(() => whepViewer(s.api, "s")));
    try {
      for (const p of await Promise.all(srtPlays)) expect(p.video).toBeGreaterThan(30);
      await waitFor("every WHEP viewer gets video", () => viewers.every((v) => v.packets() > 100), 20000, s);
      // Which workers answered (the kernel spreads the WHEP requests; each worker advertises its own UDP port).
      const pids = new Set([...s.output().matchAll(/\]\[(\d+)\]\[\w+\] rtc play connected/g)].map((m) => m[1]));
      console.log(`WHEP viewers connected on ${pids.size} worker(s)`);
    } finally {
      for (const v of viewers) await v.pc.close();
    }
  }, 60000);

  test("a second publisher of the same stream is refused as busy, on either worker", async () => {
    // Until one lands on the worker that does not own the stream (the primary refuses its claim).
    for (let i = 0; i < 16 && (i < 4 || !s.output().includes("busy: published on worker")); i++) {
      const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.flv"), "-t", "3", "-c", "copy", "-f", "flv", s.rtmpUrl("/live/s")], { timeoutMs: 20000 });
      const code = await p.done;
      expect(code).not.toBe(0);
    }
    expect(s.output()).toContain("stream __defaultVhost__/live/s is busy: published on worker");
  }, 90000);

  test("HLS is written once, by the owner", async () => {
    const dir = join(s.dir, "html", "live");
    await waitFor("HLS playlist", () => existsSync(join(dir, "s.m3u8")), 20000, s);
    // Several requests: the kernel spreads them; every worker serves the owner's files.
    for (let i = 0; i < 6; i++) expect(await (await fetch(s.httpUrl("/live/s.m3u8"))).text()).toContain("#EXTM3U");
    for (const p of await Promise.all([0, 1, 2].map(() => playFrames(s.httpUrl("/live/s.m3u8"), 2)))) expect(p.video).toBeGreaterThan(20);
    expect(readdirSync(dir).filter((f) => f.endsWith(".ts")).length).toBeGreaterThan(0);
    // One HLS muxer, in the owner: the worker that pulls the stream writes none.
    expect(s.output().match(/hls: \S*live\/s start/g)?.length).toBe(1);
  }, 40000);

  test("kill -9 the owner: the primary restarts it, the stream is back when the publisher reconnects", async () => {
    const pids = workerPids(s.output());
    // The owner is the worker whose log says it published; find it by the one the pulls went to: its private port.
    const owners = [...s.output().matchAll(/worker (\d+)\/\d+: pid=(\d+), private rtmp port (\d+)/g)];
    const pulledPort = /playing from origin 127\.0\.0\.1:(\d+)/.exec(s.output())![1];
    const owner = owners.find((o) => o[3] === pulledPort)!;
    expect(owner).toBeDefined();
    const before = count(s.output(), "server started");
    process.kill(Number(owner[2]), "SIGKILL");
    await waitFor("the primary restarts the worker", () => count(s.output(), "server started") > before, 20000, s);
    expect(workerPids(s.output()).get(Number(owner[1]))).not.toBe(pids.get(Number(owner[1])));
    pub.kill();
    await pub.done;
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    // RTMP players wait for the publisher; HTTP-FLV ones come once it is live again (before that: 404, as SRS).
    const fresh: LightReader[] = [];
    for (let i = 0; i < 3; i++) fresh.push(await rtmpReader(s.rtmpUrl("/live/s")));
    await waitFrames(fresh, 10, 30000, s);
    for (let i = 0; i < 3; i++) fresh.push(await flvReader(s.httpUrl("/live/s.flv"), 20000));
    readers.push(...fresh);
    await waitFrames(fresh, 30, 30000, s);
  }, 90000);

  test("SIGHUP to the primary reloads every worker; SIGTERM ends the primary and every worker", async () => {
    const before = count(s.output(), "reload ok");
    s.proc.kill("SIGHUP");
    await waitFor("both workers reloaded", () => count(s.output(), "reload ok") >= before + 2, 10000, s);
    const pids = [...workerPids(s.output()).values()];
    const live = pids.filter((p) => alive(p));
    expect(live.length).toBe(2);
    const t0 = Date.now();
    expect(await s.stop("SIGTERM")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(live.filter((p) => alive(p))).toEqual([]);
  }, 30000);
});
