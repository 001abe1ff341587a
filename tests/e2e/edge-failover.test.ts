/**
 * Edge failover with real processes: an edge with two origins (A, B), FFmpeg publishing to A, players on the
 * edge (light RTMP and HTTP-FLV readers plus an ffmpeg decoder). A is killed with SIGKILL (a separate process),
 * FFmpeg re-publishes to B; the players keep receiving and decoding without reconnecting, their timestamps
 * never go back, and the edge's API names B as the upstream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { flvReader, type LightReader, rtmpReader, streamLive } from "../helpers/edge-readers.ts";
import { playFrames, publish, type Proc, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const origin = `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ { }
`;

const edge = (origins: string, jitter: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ {
  cluster { mode remote; origin ${origins}; }
  play { time_jitter ${jitter}; }
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
`;

for (const jitter of ["full", "zero", "off"]) {
  describe(`edge failover (time_jitter ${jitter})`, () => {
    let a: RunningServer;
    let b: RunningServer;
    let e: RunningServer;
    let pubA: Proc;
    let pubB: Proc | undefined;
    const readers: LightReader[] = [];

    beforeAll(async () => {
      a = await startServer({ config: origin });
      b = await startServer({ config: origin });
      e = await startServer({ config: edge(`127.0.0.1:${a.rtmp} 127.0.0.1:${b.rtmp}`, jitter) });
      pubA = publish(clip("clip.flv"), a.rtmpUrl("/live/f"));
      await waitFor("the stream on A", () => streamLive(a, "/live/f"), 15000, a);
    }, 40000);

    afterAll(async () => {
      for (const r of readers) r.close();
      pubA?.kill();
      pubB?.kill();
      await e?.stop();
      await a?.stop("SIGKILL");
      await b?.stop();
    });

    test("kill -9 the first origin, republish to the second: players keep decoding, no reconnect", async () => {
      readers.push(
        ...(await Promise.all([
          rtmpReader(e.rtmpUrl("/live/f")),
          rtmpReader(e.rtmpUrl("/live/f")),
          rtmpReader(e.rtmpUrl("/live/f")),
          flvReader(e.httpUrl("/live/f.flv")),
          flvReader(e.httpUrl("/live/f.flv")),
        ])),
      );
      await waitFor("frames from A", () => readers.every((r) => r.frames >= 50), 20000, e);
      // An ffmpeg decoder spans the failover: 12 s of media while A dies and B takes over.
      const decoding = playFrames(e.rtmpUrl("/live/f"), 12, 45000);
      await Bun.sleep(2000);
      const before = readers.map((r) => r.frames);
      a.proc.kill("SIGKILL");
      pubA.kill();
      pubB = publish(clip("clip.flv"), b.rtmpUrl("/live/f"));
      await waitFor("frames from B", () => readers.every((r, i) => r.frames >= before[i]! + 75), 30000, e);
      for (const r of readers) {
        expect(r.ended).toBe(false);
        expect(r.backwards).toBe(0);
      }
      // A figure, not an assertion: how long the players waited for B's first frame.
      console.log(`edge failover (time_jitter ${jitter}): longest stall ${Math.max(...readers.map((r) => r.maxGapMs))} ms`);
      const d = await decoding;
      // 12 s at 25 fps is 300 frames; the switch costs a short stall, not the decoder.
      expect(d.video).toBeGreaterThanOrEqual(200);
      const j = (await (await fetch(`http://127.0.0.1:${e.api}/api/v1/streams/`)).json()) as {
        streams: { url: string; edge?: { origin: string; connects: number } }[];
      };
      const st = j.streams.find((x) => x.url === "/live/f")!;
      expect(st.edge!.origin).toBe(`127.0.0.1:${b.rtmp}`);
      expect(st.edge!.connects).toBeGreaterThanOrEqual(2);
      expect(e.output()).toMatch(new RegExp(`edge pull __defaultVhost__/live/f: upstream 127\\.0\\.0\\.1:${a.rtmp} ended`));
      expect(e.output()).toMatch(new RegExp(`edge pull __defaultVhost__/live/f: playing from origin 127\\.0\\.0\\.1:${b.rtmp}`));
      // The edge never unpublished: players saw one publish.
      expect(e.output()).not.toContain("hub __defaultVhost__/live/f: publish stop");
    }, 90000);
  });
}

describe("publish edge failover", () => {
  let a: RunningServer;
  let b: RunningServer;
  let e: RunningServer;
  let pub: Proc;

  beforeAll(async () => {
    a = await startServer({ config: origin });
    b = await startServer({ config: origin });
    e = await startServer({ config: edge(`127.0.0.1:${a.rtmp} 127.0.0.1:${b.rtmp}`, "full") });
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    await e?.stop();
    await a?.stop("SIGKILL");
    await b?.stop();
  });

  test("the relay of an edge publisher moves to the next origin when its origin dies", async () => {
    pub = publish(clip("clip.flv"), e.rtmpUrl("/live/p"));
    await waitFor("the relay on A", () => streamLive(a, "/live/p"), 15000, e);
    const edgePlayer = await rtmpReader(e.rtmpUrl("/live/p"));
    a.proc.kill("SIGKILL");
    await waitFor("the relay on B", () => streamLive(b, "/live/p"), 15000, e);
    const f = await playFrames(b.rtmpUrl("/live/p"), 2);
    expect(f.video).toBeGreaterThanOrEqual(25);
    // The publisher and the edge's own players never noticed.
    const n = edgePlayer.frames;
    await waitFor("edge player goes on", () => edgePlayer.frames > n + 25, 10000, e);
    expect(edgePlayer.ended).toBe(false);
    expect(pub.proc.exitCode).toBeNull();
    edgePlayer.close();
  }, 60000);
});
