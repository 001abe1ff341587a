/**
 * Fan-out by options, end to end: an SRT player (no merged write) and an HTTP-TS player (the vhost's mw_latency)
 * of one RTMP-published stream each get their own TS output, built with their own settings (the server's log
 * names each output by format and options), and both decode H.264 + AAC at full frame rate at the same time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { serverConf } from "../helpers/conf.ts";
import { playFrames, type Proc, probeStreams, publish, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const children: Proc[] = [];

describe("fan-out by options: SRT and HTTP-TS players of one stream", () => {
  let srv: RunningServer;

  beforeAll(async () => {
    srv = await startServer({
      config: serverConf(`min_latency off;
play { mw_latency 300; queue_length 10; }
http_remux { enabled on; mount [vhost]/[app]/[stream].ts; }
srt { enabled on; srt_to_rtmp on; }`, "srs_log_level trace;\nsrt_server { enabled on; listen 10080; }"),
      env: { SRS_SRT_SERVER_ENABLED: "on" },
    });
    await waitFor("srt listener", () => srv.output().includes("srt server listening"), 5000, srv);
    children.push(publish(clip("clip.flv"), srv.rtmpUrl("/live/s")));
    await waitFor("publisher", () => srv.output().includes("publish start by"), 15000, srv);
    await Bun.sleep(1500); // a GOP in the cache
  }, 30000);

  afterAll(async () => {
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.done));
    await srv?.stop("SIGKILL");
  });

  test("each player gets its own TS output with its own settings; both decode at once", async () => {
    const srt = `srt://127.0.0.1:${srv.srt}?streamid=#!::r=live/s,m=request`;
    const http = srv.httpUrl("/live/s.ts");
    const [a, b] = await Promise.all([playFrames(srt, 5), playFrames(http, 5)]);
    expect(a.video).toBeGreaterThanOrEqual(110);
    expect(b.video).toBeGreaterThanOrEqual(110);
    const out = srv.output();
    expect(out).toContain("output ts?mw_latency=0&queue_length=10 created"); // the SRT player's
    expect(out).toContain("output ts?mw_latency=300&queue_length=10 created"); // the HTTP-TS player's
    const streams = await probeStreams(http);
    expect(streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
  }, 40000);
});
