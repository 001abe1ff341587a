/**
 * Every output of an edge pulls: a WHEP viewer (werift) and an SRT player (ffmpeg) on the edge start the pull
 * as an RTMP player does, over the same one upstream; an HLS viewer's playlist requests do too, and the edge
 * makes the segments while it pulls (SRS's hls.edge.conf puts nginx in front of an origin instead).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { freePort, playFrames, publish, type Proc, rtcEnv, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";
import { whepViewer } from "../helpers/whep.ts";

async function rtmpPlays(s: RunningServer): Promise<number> {
  const j = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/`)).json()) as { clients: { type: string }[] };
  return j.clients.filter((c) => c.type === "rtmp-play").length;
}

describe("edge outputs: WebRTC, SRT and HLS on an edge", () => {
  let o: RunningServer;
  let e: RunningServer;
  let pub: Proc;

  beforeAll(async () => {
    o = await startServer();
    const udp = await freePort();
    e = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
srt_server { enabled on; listen 10080; }
vhost __defaultVhost__ {
  cluster { mode remote; origin 127.0.0.1:${o.rtmp}; }
  srt { enabled on; }
  hls { enabled on; hls_path ./html; hls_fragment 1; hls_window 10; }
}
`,
      // A viewer gone without a word is noticed after 3 s without STUN (the pull then stops 2 s later).
      env: { ...rtcEnv(udp), SRS_SRT_SERVER_ENABLED: "on", SRS_VHOST_RTC_STUN_TIMEOUT: "3" },
    });
    pub = publish(clip("clip.flv"), o.rtmpUrl("/live/o"));
    await waitFor("ffmpeg publishing", () => o.output().includes("fmle-publish"), 15000, o);
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    await e?.stop();
    await o?.stop();
  });

  test("a WHEP viewer alone starts the pull and receives video", async () => {
    const v = await whepViewer(e.api, "o");
    try {
      await waitFor("video RTP", () => v.packets() >= 200, 20000, e);
      expect(await rtmpPlays(o)).toBe(1);
      expect(e.output()).toContain("edge pull __defaultVhost__/live/o: playing from origin");
    } finally {
      await v.pc.close();
    }
  }, 40000);

  test("an HLS viewer alone (playlist requests) starts the pull; segments are made on the edge", async () => {
    await waitFor("the WHEP viewer's pull is over", async () => (await rtmpPlays(o)) === 0, 15000, o);
    await waitFor("an HLS playlist with segments on the edge", async () => {
      const r = await fetch(e.httpUrl("/live/o.m3u8"));
      if (r.status !== 200) return false;
      // hls_ctx (SRS's default): a master playlist first, naming the session's media playlist.
      const variant = (await r.text()).split("\n").find((l) => l && !l.startsWith("#"));
      if (!variant) return false;
      const m = await fetch(new URL(variant, e.httpUrl("/live/o.m3u8")));
      return m.status === 200 && (await m.text()).includes(".ts");
    }, 20000, e);
    // (The playlist of the earlier pull may still be on disk: the pull is what counts.)
    await waitFor("one upstream on the origin", async () => (await rtmpPlays(o)) === 1, 10000, o);
    const f = await playFrames(e.httpUrl("/live/o.m3u8"), 2);
    expect(f.video).toBeGreaterThanOrEqual(25);
  }, 40000);

  test("an SRT player decodes over the same one upstream", async () => {
    const f = await playFrames(`srt://127.0.0.1:${e.srt}?streamid=#!::r=live/o,m=request`, 3);
    expect(f.video).toBeGreaterThanOrEqual(50);
    expect(await rtmpPlays(o)).toBe(1);
  }, 40000);
});
