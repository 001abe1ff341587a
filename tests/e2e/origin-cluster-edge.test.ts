/**
 * Origin cluster A/B/C with an edge (SRS's origin.cluster.serverA/B/C.conf and origin.cluster.edge.conf): FFmpeg
 * publishes to A; the edge's origins are C then B, neither of which holds the stream, so the origin it asks
 * redirects it to A (RTMP 302, or HTTP 302 with `protocol flv`), and FFmpeg players on the edge decode frames from A.
 * A sees one edge upstream whatever the number of players on the edge.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { freePort, playFrames, type Proc, publish, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const origin = (coworkers: string) => `listen 19350; max_connections 1000; daemon off; srs_log_tank console;
http_api { enabled on; listen 9090; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
    cluster { mode local; origin_cluster on; coworkers ${coworkers}; }
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;
const edge = (origins: string, protocol = "rtmp") => `listen 1935; max_connections 1000; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
    cluster { mode remote; origin ${origins}; protocol ${protocol}; }
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;

const children: Proc[] = [];
const servers: RunningServer[] = [];
let A: RunningServer, B: RunningServer, C: RunningServer;

type Obj = Record<string, unknown>;

/** The clients A serves for live/s (the edge's upstream is one of them). */
async function playersOnA(): Promise<Obj[]> {
  const j = (await (await fetch(`http://127.0.0.1:${A.api}/api/v1/clients/?count=100`)).json()) as { clients: Obj[] };
  return j.clients.filter((c) => c.type !== "fmle-publish" && String(c.url ?? "").includes("/live/s"));
}

beforeAll(async () => {
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  const co = (...p: number[]) => p.map((x) => `127.0.0.1:${x}`).join(" ");
  [A, B, C] = await Promise.all([
    startServer({ config: origin(co(b, c)), ports: { api: a } }),
    startServer({ config: origin(co(a, c)), ports: { api: b } }),
    startServer({ config: origin(co(a, b)), ports: { api: c } }),
  ]);
  servers.push(A, B, C);
  children.push(publish(clip("clip.flv"), A.rtmpUrl("/live/s")));
  await waitFor("A publishes live/s", async () => {
    const j = (await (await fetch(`http://127.0.0.1:${a}/api/v1/clusters?app=live&stream=s&coworker=127.0.0.1:${a}`)).json()) as Obj;
    return (j.data as Obj).origin !== null;
  }, 20000, A);
}, 60000);

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(servers.map((s) => s.stop()));
});

describe("origin cluster A/B/C with an edge", () => {
  test("RTMP upstream: the edge asks C, is redirected to A; RTMP and HTTP-FLV players on the edge decode A's stream", async () => {
    const E = await startServer({ config: edge(`127.0.0.1:${C.rtmp} 127.0.0.1:${B.rtmp}`) });
    servers.push(E);
    const [rtmp, flv] = await Promise.all([playFrames(E.rtmpUrl("/live/s"), 2), playFrames(E.httpUrl("/live/s.flv"), 2)]);
    expect(rtmp.video).toBeGreaterThan(20);
    expect(flv.video).toBeGreaterThan(20);
    expect(C.output()).toContain(`redirect in cluster live/s to rtmp://127.0.0.1:${A.rtmp}/live/s`);
    // One upstream from the edge to A, whatever the number of players on the edge.
    expect((await playersOnA()).length).toBe(1);
    await E.stop();
  }, 60000);

  test("HTTP-FLV upstream (protocol flv): C answers the edge with an HTTP 302 to A", async () => {
    const E = await startServer({ config: edge(`127.0.0.1:${C.http}`, "flv") });
    servers.push(E);
    const got = await playFrames(E.rtmpUrl("/live/s"), 2);
    expect(got.video).toBeGreaterThan(20);
    expect(C.output()).toContain(`http stream live/s.flv: redirect in cluster to http://127.0.0.1:${A.http}/live/s.flv`);
    await E.stop();
  }, 60000);
});
