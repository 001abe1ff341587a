/**
 * The origin cluster (SRS's origin.cluster.serverA/B/C.conf) with three real srs-ts origins on loopback: FFmpeg
 * publishes to A; B and C answer /api/v1/clusters for themselves (null) while A names itself; an RTMP player on C
 * gets SRS's 302 redirect naming A (read here with our RTMP client, which then plays A); FFmpeg's HTTP-FLV player on
 * C follows the HTTP 302 to A and decodes frames; FFmpeg's RTMP player on C sees the redirect as a server error
 * (libavformat's rtmpproto does not follow it). Faults: a fourth origin D whose coworkers are down, hung, or answer
 * garbage before A: each is skipped with a log line and the player still reaches A; with only bad coworkers the
 * player is refused cleanly and D keeps running; a reload of D's coworkers applies to the next player.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import type { Amf0Object } from "../../lib/formats/amf0.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { MSG_VIDEO } from "../../lib/protocols/rtmp/messages.ts";
import { clip } from "../helpers/media.ts";
import { freePort, playFrames, type Proc, publish, reloadConfig, run, type RunningServer, startServer } from "../helpers/server.ts";
import { count, waitFor } from "../helpers/wait.ts";

const conf = (coworkers: string) => `listen 1935; max_connections 1000; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
    cluster {
        mode            local;
        origin_cluster  on;
        coworkers       ${coworkers};
    }
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;

const children: Proc[] = [];
const servers: RunningServer[] = [];
let A: RunningServer, B: RunningServer, C: RunningServer;
const api = { a: 0, b: 0, c: 0 };

type Obj = Record<string, unknown>;

async function clusters(s: RunningServer, q: string, method = "GET"): Promise<Obj> {
  const res = await fetch(`http://127.0.0.1:${s.api}/api/v1/clusters?${q}`, { method });
  expect(res.status).toBe(200);
  return (await res.json()) as Obj;
}

/** Connects and plays `url`; collects every onStatus; resolves when the server closed the connection. */
async function rtmpPlay(url: string): Promise<{ statuses: Amf0Object[]; playError: string; closedAfterMs: number; client: RtmpClient }> {
  const client = await RtmpClient.connect(url, { timeoutMs: 8000 });
  const statuses: Amf0Object[] = [];
  client.onStatus = (info) => statuses.push(info);
  const t0 = Date.now();
  const playError = await client.play().then(() => "", (e: Error) => e.message);
  await Promise.race([client.closed, Bun.sleep(15000)]);
  return { statuses, playError, closedAfterMs: Date.now() - t0, client };
}

const redirectOf = (statuses: Amf0Object[]) => statuses.find((s) => s.code === "NetConnection.Connect.Rejected");

beforeAll(async () => {
  api.a = await freePort();
  api.b = await freePort();
  api.c = await freePort();
  const co = (...ports: number[]) => ports.map((p) => `127.0.0.1:${p}`).join(" ");
  [A, B, C] = await Promise.all([
    startServer({ config: conf(co(api.b, api.c)), ports: { api: api.a } }),
    startServer({ config: conf(co(api.a, api.c)), ports: { api: api.b } }),
    startServer({ config: conf(co(api.a, api.b)), ports: { api: api.c } }),
  ]);
  servers.push(A, B, C);
  children.push(publish(clip("clip.flv"), A.rtmpUrl("/live/s")));
  await waitFor("A holds live/s", async () => {
    const j = await clusters(A, `vhost=__defaultVhost__&app=live&stream=s&coworker=127.0.0.1:${api.a}`);
    return (j.data as Obj).origin !== null;
  }, 20000, A);
}, 60000);

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(servers.map((s) => s.stop()));
});

describe("origin cluster A/B/C (SRS's origin.cluster.serverA/B/C.conf)", () => {
  test("/api/v1/clusters: A names itself as SRS does (coworker host, RTMP port, api), B and C answer null", async () => {
    const q = `vhost=__defaultVhost__&ip=10.1.2.3&app=live&stream=s&coworker=127.0.0.1:${api.a}`;
    const a = await clusters(A, q);
    expect(a.code).toBe(0);
    expect(a.data).toEqual({
      query: { ip: "10.1.2.3", vhost: "__defaultVhost__", app: "live", stream: "s" },
      origin: {
        ip: "127.0.0.1",
        port: A.rtmp,
        vhost: "__defaultVhost__",
        api: `127.0.0.1:${api.a}`,
        routers: [`127.0.0.1:${api.a}`],
        http: `127.0.0.1:${A.http}`,
      },
    });
    // SRS's discover_co_workers POSTs: the same answer.
    expect(((await clusters(A, q, "POST")).data as Obj).origin).toEqual((a.data as Obj).origin);
    for (const s of [B, C]) {
      const j = await clusters(s, q.replace(String(api.a), String(s.api)));
      expect(j).toEqual({ code: 0, data: { query: { ip: "10.1.2.3", vhost: "__defaultVhost__", app: "live", stream: "s" }, origin: null } });
    }
    // An unknown stream on A: null.
    expect(((await clusters(A, "vhost=__defaultVhost__&app=live&stream=nope")).data as Obj).origin).toBeNull();
  });

  test("an RTMP player on C gets SRS's 302 naming A (query kept), then plays A at that URL", async () => {
    const { statuses, playError, closedAfterMs, client } = await rtmpPlay(C.rtmpUrl("/live/s?token=abc"));
    client.destroy();
    expect(playError).toBe("NetConnection.Connect.Rejected: RTMP 302 Redirect");
    // The redirect is the answer to play (SRS sends Play.Start before it; see session.ts).
    expect(statuses.map((s) => s.code)).toEqual(["NetConnection.Connect.Rejected"]);
    const r = redirectOf(statuses);
    expect(r).toBeDefined();
    expect(r!.level).toBe("error");
    expect(r!.description).toBe("RTMP 302 Redirect");
    expect(r!.ex).toEqual({
      code: 302,
      redirect: `rtmp://127.0.0.1:${A.rtmp}/live`,
      redirect2: `rtmp://127.0.0.1:${A.rtmp}/live/s?token=abc`,
    });
    // C closes the connection within its redirect wait (SRS: 3 s) even when the player says nothing.
    expect(closedAfterMs).toBeLessThan(6000);
    expect(C.output()).toContain("redirect in cluster live/s to");
    // Follow it by hand (the edge follows it by itself): video arrives from A.
    const follow = await RtmpClient.connect(String((r!.ex as Obj).redirect2), { timeoutMs: 8000 });
    await follow.play();
    let videos = 0;
    for await (const m of follow.messages()) {
      if (m.type === MSG_VIDEO && ++videos >= 10) break;
    }
    follow.destroy();
    expect(videos).toBe(10);
  }, 30000);

  test("B too redirects to A; the player answering anything is closed at once", async () => {
    const client = await RtmpClient.connect(B.rtmpUrl("/live/s"), { timeoutMs: 8000 });
    const statuses: Amf0Object[] = [];
    client.onStatus = (info) => statuses.push(info);
    await client.play().catch(() => undefined);
    await waitFor("redirect", () => !!redirectOf(statuses), 8000, B);
    expect((redirectOf(statuses)!.ex as Obj).redirect2).toBe(`rtmp://127.0.0.1:${A.rtmp}/live/s`);
    const t0 = Date.now();
    client.notify("closeStream", 0);
    await Promise.race([client.closed, Bun.sleep(5000)]);
    expect(Date.now() - t0).toBeLessThan(2000);
  }, 20000);

  test("FFmpeg's HTTP-FLV player on C follows the HTTP 302 to A and decodes frames", async () => {
    const res = await fetch(C.httpUrl("/live/s.flv?token=abc"), { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`http://127.0.0.1:${A.http}/live/s.flv?token=abc`);
    const got = await playFrames(C.httpUrl("/live/s.flv"), 2);
    expect(got.video).toBeGreaterThan(20);
    expect(C.output()).toContain(`http stream live/s.flv: redirect in cluster to http://127.0.0.1:${A.http}/live/s.flv`);
  }, 40000);

  test("FFmpeg's RTMP player on C: libavformat does not follow the 302, it reports the server's error", async () => {
    const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rw_timeout", "8000000", "-i", C.rtmpUrl("/live/s"),
      "-t", "2", "-f", "null", "-"], { timeoutMs: 20000 });
    const code = await p.done;
    expect(code).not.toBe(0);
    expect(p.output()).toContain("RTMP 302 Redirect");
  }, 30000);

  test("a stream no origin holds: the RTMP player is refused at once (no waiting), HTTP-FLV gets 404", async () => {
    const { statuses, closedAfterMs, client } = await rtmpPlay(C.rtmpUrl("/live/none"));
    client.destroy();
    expect(statuses.map((s) => s.code)).toEqual(["NetStream.Play.StreamNotFound"]);
    expect(statuses[0]!.level).toBe("error");
    expect(closedAfterMs).toBeLessThan(5000);
    expect(C.output()).toContain("holds __defaultVhost__/live/none");
    const res = await fetch(C.httpUrl("/live/none.flv"), { redirect: "manual" });
    expect(res.status).toBe(404);
  }, 20000);
});

describe("faulty coworkers", () => {
  let D: RunningServer;
  let hang: Server;
  const hung = new Set<Socket>();
  let garbage: ReturnType<typeof Bun.serve>;
  let big: ReturnType<typeof Bun.serve>;
  let down = 0;

  beforeAll(async () => {
    hang = createServer((s) => {
      hung.add(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", () => r()));
    garbage = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("<html>not json</html>") });
    // SRS's shape but no port, and a huge body.
    big = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => new URL(req.url).searchParams.get("stream") === "s"
        ? Response.json({ code: 0, data: { origin: { ip: "127.0.0.1" } } })
        : new Response("x".repeat(1 << 20)),
    });
    down = await freePort();
    const hangPort = (hang.address() as { port: number }).port;
    const co = [`127.0.0.1:${down}`, `127.0.0.1:${hangPort}`, `127.0.0.1:${garbage.port}`, `127.0.0.1:${big.port}`,
      `127.0.0.1:${api.a}`].join(" ");
    D = await startServer({ config: conf(co) });
    servers.push(D);
  }, 30000);

  afterAll(() => {
    for (const s of hung) s.destroy();
    hang.close();
    garbage.stop(true);
    big.stop(true);
  });

  test("down, hung, garbage and incomplete coworkers are skipped with a log line; the player reaches A", async () => {
    const { statuses, closedAfterMs, client } = await rtmpPlay(D.rtmpUrl("/live/s"));
    client.destroy();
    expect((redirectOf(statuses)?.ex as Obj | undefined)?.redirect2).toBe(`rtmp://127.0.0.1:${A.rtmp}/live/s`);
    // The coworkers are asked at once: the hung one costs its timeout (3 s) once, not per coworker.
    expect(closedAfterMs).toBeLessThan(3000 + 3000 + 2000);
    const out = D.output();
    expect(out).toMatch(new RegExp(`coworker 127\\.0\\.0\\.1:${down} skipped for __defaultVhost__/live/s: unreachable`));
    expect(out).toContain(`:${(hang.address() as { port: number }).port} skipped for __defaultVhost__/live/s: no answer within 3000 ms`);
    expect(out).toContain(`:${garbage.port} skipped for __defaultVhost__/live/s: not JSON: "<html>not json</html>"`);
    expect(out).toContain(`:${big.port} skipped for __defaultVhost__/live/s: data.origin without ip/port`);
  }, 30000);

  test("only bad coworkers: a clean refusal; an oversized answer is cut; D keeps serving", async () => {
    const { statuses, client } = await rtmpPlay(D.rtmpUrl("/live/other"));
    client.destroy();
    expect(statuses.find((s) => s.code === "NetStream.Play.StreamNotFound")).toBeDefined();
    expect(D.output()).toContain(`:${big.port} skipped for __defaultVhost__/live/other: answer larger than 65536 bytes`);
    const res = await fetch(`http://127.0.0.1:${D.api}/api/v1/versions`);
    expect(res.status).toBe(200);
    expect(D.proc.exitCode).toBeNull();
  }, 30000);

  test("a reload of the coworkers applies to the next player", async () => {
    await reloadConfig(D, conf(`127.0.0.1:${down}`));
    const before = count(D.output(), "redirect in cluster");
    let r = await rtmpPlay(D.rtmpUrl("/live/s"));
    r.client.destroy();
    expect(redirectOf(r.statuses)).toBeUndefined();
    expect(r.statuses.find((s) => s.code === "NetStream.Play.StreamNotFound")).toBeDefined();
    await reloadConfig(D, conf(`127.0.0.1:${api.b} 127.0.0.1:${api.a}`));
    r = await rtmpPlay(D.rtmpUrl("/live/s"));
    r.client.destroy();
    expect((redirectOf(r.statuses)?.ex as Obj | undefined)?.redirect).toBe(`rtmp://127.0.0.1:${A.rtmp}/live`);
    expect(count(D.output(), "redirect in cluster")).toBe(before + 1);
  }, 40000);

  test("SIGTERM while players wait on a hung coworker: D exits at once", async () => {
    await reloadConfig(D, conf(`127.0.0.1:${(hang.address() as { port: number }).port}`));
    const asked = hung.size;
    const waiting = await RtmpClient.connect(D.rtmpUrl("/live/s"), { timeoutMs: 8000 });
    void waiting.play().catch(() => undefined);
    const http = fetch(D.httpUrl("/live/s.flv"), { redirect: "manual" }).catch(() => undefined);
    await waitFor("the query is under way", () => hung.size >= asked + 2, 5000, D);
    const t0 = Date.now();
    expect(await D.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2500);
    await Promise.race([waiting.closed, Bun.sleep(3000)]);
    waiting.destroy();
    await http;
    expect(D.output()).not.toContain("Unhandled");
  }, 30000);
});
