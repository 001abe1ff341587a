/**
 * Edge against its origins, real processes: token_traverse (the origin's on_connect/on_play hooks decide for
 * every edge client, even on a stream the edge already pulls), `protocol flv` (the edge pulls HTTP-FLV), and
 * origins that fail: an empty origin list (clean refusal), and origins that send garbage, hang, or do not
 * resolve (clear log lines, nothing crashes, an HTTP player gets 404 once the pull brought nothing).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { clip } from "../helpers/media.ts";
import { flvReader, type LightReader, rtmpReader, streamLive } from "../helpers/edge-readers.ts";
import { hookRecorder, type HookRecorder, hooksConf } from "../helpers/hooks.ts";
import { freePort, playFrames, publish, type Proc, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const originConf = (vhost = "") => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } ${vhost} }
`;

const edgeConf = (cluster: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
  cluster { mode remote; ${cluster} }
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;

async function clientTypes(s: RunningServer): Promise<string[]> {
  const j = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/`)).json()) as { clients: { type: string }[] };
  return j.clients.map((c) => c.type);
}

describe("edge token_traverse: the origin authorizes every edge client", () => {
  let hooks: HookRecorder;
  let o: RunningServer;
  let e: RunningServer;
  let pub: Proc;
  const readers: LightReader[] = [];

  beforeAll(async () => {
    // The origin's hook server lets in only ?token=good.
    hooks = hookRecorder((hit) => Response.json({ code: String(hit.body.param ?? "").includes("token=good") ? 0 : 403 }));
    o = await startServer({ config: originConf(hooksConf(`${hooks.base}/hook`, ["on_connect", "on_play"])) });
    e = await startServer({ config: edgeConf(`origin 127.0.0.1:${o.rtmp}; token_traverse on;`) });
    pub = publish(clip("clip.flv"), o.rtmpUrl("/live/t?token=good"));
    await waitFor("the stream on the origin", () => streamLive(o, "/live/t"), 15000, o);
  }, 40000);

  afterAll(async () => {
    for (const r of readers) r.close();
    pub?.kill();
    await e?.stop();
    await o?.stop();
    hooks?.close();
  });

  test("a good token plays over RTMP and HTTP-FLV; the token reached the origin's hooks", async () => {
    const r = await rtmpReader(e.rtmpUrl("/live/t?token=good"));
    readers.push(r);
    const f = await flvReader(e.httpUrl("/live/t.flv?token=good"));
    readers.push(f);
    await waitFor("frames", () => r.frames >= 50 && f.frames >= 50, 20000, e);
    expect(hooks.of("on_connect").some((h) => String(h.body.param).includes("token=good"))).toBe(true);
    // Only the edge's one upstream plays on the origin (the probes have left).
    await waitFor("one upstream", async () => (await clientTypes(o)).filter((t) => t === "rtmp-play").length === 1, 10000, o);
  }, 40000);

  test("a bad token is refused even though the edge already pulls the stream (RTMP refused, HTTP 403)", async () => {
    const before = hooks.hits.length;
    await expect(rtmpReader(e.rtmpUrl("/live/t?token=bad"))).rejects.toThrow(/refused/);
    await expect(flvReader(e.httpUrl("/live/t.flv?token=bad"))).rejects.toThrow("HTTP 403");
    await expect(rtmpReader(e.rtmpUrl("/live/t"))).rejects.toThrow(/refused/);
    // The origin's hook server was asked with the bad token each time.
    const asked = hooks.hits.slice(before).filter((h) => String(h.body.param ?? "").includes("token=bad"));
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(e.output()).toContain("edge token_traverse: origin 127.0.0.1:");
    // The good players never noticed.
    const n = readers.map((r) => r.frames);
    await waitFor("good players go on", () => readers.every((r, i) => r.frames > n[i]! + 25), 10000, e);
    for (const r of readers) expect(r.ended).toBe(false);
  }, 40000);
  test("publish edge with token_traverse: a bad token is refused, a good one reaches the origin", async () => {
    const bad = publish(clip("clip.flv"), e.rtmpUrl("/live/pt?token=bad"));
    const code = await Promise.race([bad.done, Bun.sleep(15000).then(() => "still running")]);
    bad.kill();
    expect(code).not.toBe("still running");
    expect(await streamLive(o, "/live/pt")).toBe(false);
    const good = publish(clip("clip.flv"), e.rtmpUrl("/live/pt?token=good"));
    try {
      await waitFor("the relay on the origin", () => streamLive(o, "/live/pt"), 15000, e);
      const f = await playFrames(o.rtmpUrl("/live/pt?token=good"), 2);
      expect(f.video).toBeGreaterThanOrEqual(25);
    } finally {
      good.kill();
    }
  }, 60000);
});

describe("edge protocol flv: the upstream is HTTP-FLV", () => {
  let o: RunningServer;
  let e: RunningServer;
  let pub: Proc;

  beforeAll(async () => {
    o = await startServer({ config: originConf() });
    e = await startServer({ config: edgeConf(`origin 127.0.0.1:${o.http}; protocol flv;`) });
    pub = publish(clip("clip.flv"), o.rtmpUrl("/live/h"));
    await waitFor("the stream on the origin", () => streamLive(o, "/live/h"), 15000, o);
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    await e?.stop();
    await o?.stop();
  });

  test("RTMP and HTTP-FLV players on the edge decode what the edge pulls over HTTP-FLV", async () => {
    const [rtmp, flv] = await Promise.all([playFrames(e.rtmpUrl("/live/h"), 3), playFrames(e.httpUrl("/live/h.flv"), 3)]);
    expect(rtmp.video).toBeGreaterThanOrEqual(50);
    expect(flv.video).toBeGreaterThanOrEqual(50);
    expect(e.output()).toMatch(new RegExp(`edge pull __defaultVhost__/live/h: playing from origin 127\\.0\\.0\\.1:${o.http} \\(http://127\\.0\\.0\\.1:${o.http}/live/h\\.flv\\)`));
    expect(o.output()).toContain("http stream play /live/h.flv");
  }, 40000);

  test("a stream the origin does not have: 404 upstream, 404 to the HTTP player, a log line", async () => {
    const t0 = Date.now();
    await expect(flvReader(e.httpUrl("/live/none.flv"), 20000)).rejects.toThrow("HTTP 404");
    expect(Date.now() - t0).toBeLessThan(15000);
    expect(e.output()).toContain("/live/none.flv: stream not found (HTTP 404)");
  }, 30000);
});

describe("edge cluster vhost: the upstream asks the origin for another vhost", () => {
  let o: RunningServer;
  let e: RunningServer;
  let pub: Proc;

  beforeAll(async () => {
    o = await startServer({ config: originConf() + "vhost up.example { }\n" });
    e = await startServer({ config: edgeConf(`origin 127.0.0.1:${o.rtmp}; vhost up.example; debug_srs_upnode off;`) });
    pub = publish(clip("clip.flv"), o.rtmpUrl("/live/v?vhost=up.example"));
    await waitFor("the stream on the origin's vhost", () => o.output().includes("fmle-publish"), 15000, o);
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    await e?.stop();
    await o?.stop();
  });

  test("players of the edge's default vhost get the origin's up.example stream", async () => {
    const f = await playFrames(e.rtmpUrl("/live/v"), 2);
    expect(f.video).toBeGreaterThanOrEqual(25);
    expect(e.output()).toContain(`playing from origin 127.0.0.1:${o.rtmp} (rtmp://127.0.0.1:${o.rtmp}/live/v?vhost=up.example)`);
    // debug_srs_upnode off: the edge does not introduce itself.
    expect(o.output()).not.toContain("rtmp connect from an edge");
  }, 30000);
});

const JUNK = new Uint8Array(64 * 1024).map(() => (Math.random() * 256) | 0);

/** A TCP server that answers every connection with endless garbage, or never answers at all. */
function badOrigin(mode: "garbage" | "hang"): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((c) => {
    sockets.add(c);
    c.on("error", () => {});
    c.on("close", () => sockets.delete(c));
    if (mode === "hang") return;
    // A plausible S0, then garbage where S1/S2 and chunks belong: 64 KiB every 10 ms while the socket lives.
    c.write(new Uint8Array([3]));
    const t = setInterval(() => (c.destroyed ? clearInterval(t) : c.write(JUNK)), 10);
    c.on("close", () => clearInterval(t));
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ port: (server.address() as { port: number }).port, server, sockets })));
}

describe("edge faults: empty, garbage, hanging and unresolvable origins", () => {
  let garbage: Awaited<ReturnType<typeof badOrigin>>;
  let hang: Awaited<ReturnType<typeof badOrigin>>;
  let e: RunningServer;
  let empty: RunningServer;

  beforeAll(async () => {
    garbage = await badOrigin("garbage");
    hang = await badOrigin("hang");
    const closed = await freePort();
    e = await startServer({
      config: edgeConf(`origin 127.0.0.1:${garbage.port} 127.0.0.1:${hang.port} no-such-origin.invalid:1935 127.0.0.1:${closed};`),
    });
    empty = await startServer({ config: edgeConf("") });
  }, 30000);

  afterAll(async () => {
    await e?.stop();
    await empty?.stop();
    for (const b of [garbage, hang]) {
      for (const s of b?.sockets ?? []) s.destroy();
      b?.server.close();
    }
  });

  test("no origin configured: players are refused at once (RTMP refused, HTTP 403)", async () => {
    await expect(rtmpReader(empty.rtmpUrl("/live/x"))).rejects.toThrow(/refused/);
    await expect(flvReader(empty.httpUrl("/live/x.flv"))).rejects.toThrow("HTTP 403");
    expect(empty.output()).toContain("edge vhost __defaultVhost__ has no cluster.origin");
  }, 20000);

  test("garbage, hanging, unresolvable and closed origins: log lines, the server lives, players get 404 or wait", async () => {
    // An RTMP player just waits for the stream, as on SRS; an HTTP player gets 404 when the pull brought nothing.
    const waiting = await rtmpReader(e.rtmpUrl("/live/x"));
    const t0 = Date.now();
    await expect(flvReader(e.httpUrl("/live/x.flv"), 30000)).rejects.toThrow("HTTP 404");
    expect(Date.now() - t0).toBeLessThan(20000);
    await waitFor("every origin tried", () => e.output().includes("every origin failed"), 30000, e);
    const out = e.output();
    expect(out).toContain(`edge pull __defaultVhost__/live/x: origin 127.0.0.1:${garbage.port} failed`);
    expect(out).toContain(`edge pull __defaultVhost__/live/x: origin 127.0.0.1:${hang.port} failed: handshake: timed out after 5000 ms`);
    expect(out).toMatch(/origin no-such-origin\.invalid:1935 failed: .*(ENOTFOUND|getaddrinfo|resolve|DNS)/i);
    expect(waiting.ended).toBe(false);
    expect(waiting.frames).toBe(0);
    // Alive and answering; the pull stops once nobody waits.
    expect((await fetch(`http://127.0.0.1:${e.api}/api/v1/versions`)).status).toBe(200);
    waiting.close();
    await waitFor("the pull stops", () => e.output().includes("edge pull __defaultVhost__/live/x: stop (no players"), 10000, e);
    expect(e.proc.exitCode).toBeNull();
  }, 60000);

  test("SIGTERM while the edge waits on a hanging origin exits at once", async () => {
    const waiting = await rtmpReader(e.rtmpUrl("/live/y"));
    await waitFor("connecting to the hanging origin", () => e.output().includes(`edge pull __defaultVhost__/live/y: connecting to origin 127.0.0.1:${hang.port}`), 10000, e);
    const t0 = Date.now();
    expect(await e.stop("SIGTERM")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1500);
    waiting.close();
  }, 30000);
});
