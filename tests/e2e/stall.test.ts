/**
 * A server that stalls (its process stopped with SIGSTOP for longer than the publish timeout, as a CPU quota or
 * an overloaded host can do) keeps its RTMP and SRT publishers: the time it was not listening does not count as
 * the publishers' silence (lib/stall.ts). publish.normal_timeout is 2 s here; the stall is 3.5 s, shorter than
 * the SRT peer's own idle timeout (5 s), so both publishers still send when the server comes back.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { playFrames, publish, type Proc, run, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const CONFIG = `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
srt_server { enabled on; listen 10080; }
vhost __defaultVhost__ {
  publish { normal_timeout 2000; }
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  srt { enabled on; srt_to_rtmp on; }
}
`;

describe("a stalled server keeps its publishers", () => {
  let s: RunningServer;
  let rtmpPub: Proc;
  let srtPub: Proc;

  beforeAll(async () => {
    s = await startServer({ config: CONFIG, env: { SRS_SRT_SERVER_ENABLED: "on" } });
    rtmpPub = publish(clip("clip.flv"), s.rtmpUrl("/live/r"));
    srtPub = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"),
      "-c", "copy", "-f", "mpegts", `srt://127.0.0.1:${s.srt}?streamid=#!::r=live/t,m=publish`]);
  }, 30000);

  afterAll(async () => {
    rtmpPub?.kill();
    srtPub?.kill();
    await s?.stop();
  });

  test("SIGSTOP for 3.5 s (publish timeout 2 s): no publish timeout, both streams play after SIGCONT", async () => {
    const active = async (url: string) => {
      const r = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/?count=100`)).json()) as { streams: { url: string; publish: { active: boolean } }[] };
      return r.streams.some((x) => x.url === url && x.publish.active);
    };
    await waitFor("both publishers live", async () => (await active("/live/r")) && (await active("/live/t")), 20000, s);
    await Bun.sleep(1000);
    s.proc.kill("SIGSTOP");
    await Bun.sleep(3500);
    s.proc.kill("SIGCONT");
    await Bun.sleep(2500);
    expect(s.output()).not.toContain("publish timeout");
    expect(await active("/live/r")).toBe(true);
    expect(await active("/live/t")).toBe(true);
    const [r, t] = await Promise.all([playFrames(s.httpUrl("/live/r.flv"), 2), playFrames(s.httpUrl("/live/t.flv"), 2)]);
    expect(r.video).toBeGreaterThan(20);
    expect(t.video).toBeGreaterThan(20);
  }, 60000);
});
