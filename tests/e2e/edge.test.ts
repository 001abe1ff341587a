/**
 * Edge cluster end to end (SRS `cluster { mode remote; origin ...; }`), every server a real srs-ts process:
 * FFmpeg publishes to the origin, 50 players on the edge (light RTMP and HTTP-FLV readers, a few ffmpeg
 * decoders) are fed by ONE upstream the origin's API shows; the pull stops a little after the last player; a
 * publisher on the edge reaches the origin; SIGTERM with upstreams open exits at once; a reload of the cluster
 * block applies to the next upstream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { flvReader, type LightReader, rtmpReader, streamLive } from "../helpers/edge-readers.ts";
import { freePort, playFrames, probeStreams, publish, type Proc, reloadConfig, type RunningServer, startServer } from "../helpers/server.ts";
import { count, waitFor } from "../helpers/wait.ts";

const origin = () => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }
`;

const edge = (cluster: string, globals = "") => `listen 1935; daemon off; srs_log_tank console;
${globals}
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
  cluster { mode remote; ${cluster} }
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;

interface ClientJson {
  id: string;
  type: string;
  url: string;
  ip: string;
}

async function api<T>(s: RunningServer, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${s.api}${path}`);
  return (await r.json()) as T;
}

async function clients(s: RunningServer): Promise<ClientJson[]> {
  return (await api<{ clients: ClientJson[] }>(s, "/api/v1/clients/?count=1000")).clients;
}

interface StreamJson {
  id: string;
  url: string;
  clients: number;
  publish: { active: boolean; cid?: string };
  edge?: { mode: string; state: string; origin: string; url: string; connects: number };
}

async function streams(s: RunningServer): Promise<StreamJson[]> {
  return (await api<{ streams: StreamJson[] }>(s, "/api/v1/streams/?count=1000")).streams;
}

describe("edge: one origin, 50 players", () => {
  let o: RunningServer;
  let e: RunningServer;
  let pub: Proc;
  const readers: LightReader[] = [];
  let exporter = "";

  beforeAll(async () => {
    o = await startServer({ config: origin() });
    exporter = `exporter { enabled on; listen ${await freePort()}; }`;
    e = await startServer({ config: edge(`origin 127.0.0.1:${o.rtmp};`, exporter) });
    pub = publish(clip("clip.flv"), o.rtmpUrl("/live/s"));
    await waitFor("the stream on the origin", () => streamLive(o, "/live/s"), 15000, o);
  }, 40000);

  afterAll(async () => {
    for (const r of readers) r.close();
    pub?.kill();
    await e?.stop();
    await o?.stop();
  });

  test("the edge pulls on demand: 46 light players + 4 ffmpeg decoders, ONE upstream on the origin", async () => {
    // Nothing is pulled before the first player.
    expect((await clients(o)).filter((c) => c.type === "rtmp-play")).toHaveLength(0);
    const first = await rtmpReader(e.rtmpUrl("/live/s?token=first"));
    readers.push(first);
    const more = await Promise.all([
      ...Array.from({ length: 22 }, () => rtmpReader(e.rtmpUrl("/live/s"))),
      ...Array.from({ length: 23 }, () => flvReader(e.httpUrl("/live/s.flv"))),
    ]);
    readers.push(...more);
    const decoders = [
      playFrames(e.rtmpUrl("/live/s"), 3),
      playFrames(e.rtmpUrl("/live/s"), 3),
      playFrames(e.httpUrl("/live/s.flv"), 3),
      playFrames(e.httpUrl("/live/s.flv"), 3),
    ];
    await waitFor("every light player has 50 frames", () => readers.every((r) => r.frames >= 50), 20000, e);
    // The edge's API counts its 50 players on the stream and names the upstream.
    await waitFor("50 players on the edge", async () => (await streams(e)).find((x) => x.url === "/live/s")?.clients === 50, 10000, e);
    const st = (await streams(e)).find((x) => x.url === "/live/s")!;
    expect(st.edge).toMatchObject({ mode: "play", state: "playing", origin: `127.0.0.1:${o.rtmp}`, connects: 1 });
    expect(st.edge!.url).toBe(`rtmp://127.0.0.1:${o.rtmp}/live/s?token=first`);
    const frames = await Promise.all(decoders);
    for (const f of frames) expect(f.video).toBeGreaterThanOrEqual(50);
    // The origin sees one edge client (its upstream), whatever the number of edge players.
    const plays = (await clients(o)).filter((c) => c.type === "rtmp-play");
    expect(plays).toHaveLength(1);
    expect(plays[0]!.url).toBe("/live/s");
    for (const r of readers) {
      expect(r.ended).toBe(false);
      expect(r.backwards).toBe(0);
    }
    // The edge's metrics name its upstream.
    const metrics = await (await fetch(`http://127.0.0.1:${e.api}/metrics`)).text();
    expect(metrics).toMatch(/srsts_edge_upstream_connected\{[^}]*stream="s"[^}]*mode="play"[^}]*\} 1/);
    // debug_srs_upnode (on by default): the origin logged who the edge is.
    expect(o.output()).toContain("rtmp connect from an edge: srs_server=srs-ts/");
    expect(e.output()).toMatch(/edge pull __defaultVhost__\/live\/s: playing from origin 127\.0\.0\.1:\d+/);
  }, 60000);

  test("the upstream stops a couple of seconds after the last player leaves", async () => {
    for (const r of readers.splice(0)) r.close();
    const left = Date.now();
    await waitFor("no edge client on the origin", async () => (await clients(o)).every((c) => c.type !== "rtmp-play"), 10000, o);
    const after = Date.now() - left;
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(e.output()).toContain("edge pull __defaultVhost__/live/s: stop (no players for 2000 ms)");
    // A new player starts a new pull.
    const r = await rtmpReader(e.rtmpUrl("/live/s"));
    readers.push(r);
    await waitFor("frames again", () => r.frames >= 25, 15000, e);
    expect((await clients(o)).filter((c) => c.type === "rtmp-play")).toHaveLength(1);
  }, 30000);

  test("publish edge: a publisher on the edge reaches the origin; edge players play it directly", async () => {
    const p = publish(clip("clip.flv"), e.rtmpUrl("/live/up?k=v"));
    try {
      await waitFor("the edge's stream relayed to the origin", () => streamLive(o, "/live/up"), 15000, e);
      const got = await probeStreams(o.rtmpUrl("/live/up"));
      expect(got.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      const local = await playFrames(e.rtmpUrl("/live/up"), 2);
      expect(local.video).toBeGreaterThanOrEqual(25);
      const st = (await streams(e)).find((x) => x.url === "/live/up")!;
      expect(st.edge).toMatchObject({ mode: "publish", state: "publishing" });
      // The relay is one publisher on the origin, with the client's query.
      const pubs = (await clients(o)).filter((c) => c.url === "/live/up" && c.type.endsWith("-publish"));
      expect(pubs).toHaveLength(1);
      expect(e.output()).toMatch(/edge publish __defaultVhost__\/live\/up: relay to origin 127\.0\.0\.1:\d+, rtmp:\/\/127\.0\.0\.1:\d+\/live\/up\?k=v/);
    } finally {
      p.kill();
    }
    await waitFor("the relay ends with the publisher", async () => !(await streamLive(o, "/live/up")), 15000, o);
  }, 60000);

  test("reload of the cluster block applies to the next upstream", async () => {
    await reloadConfig(e, edge(`origin 127.0.0.1:${o.rtmp} 127.0.0.1:1;`, exporter));
    expect(e.output()).toContain("reload: vhost __defaultVhost__ cluster applied (origin: next upstream connect / next client)");
  }, 20000);

  test("SIGTERM with an upstream open exits at once", async () => {
    const r = await rtmpReader(e.rtmpUrl("/live/s"));
    readers.push(r);
    await waitFor("frames", () => r.frames >= 10, 15000, e);
    const t0 = Date.now();
    const code = await e.stop("SIGTERM");
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(code).toBe(0);
    await waitFor("the origin forgot the edge", async () => (await clients(o)).every((c) => c.type !== "rtmp-play"), 5000, o);
    expect(count(e.output(), "edge pull __defaultVhost__/live/s: stop (server stop)")).toBe(1);
  }, 30000);
});
