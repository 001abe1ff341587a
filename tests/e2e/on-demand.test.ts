/**
 * Services loaded on demand (lib/services/on-demand.ts) as a user meets them: a server whose config uses none of
 * DVR, DASH or the FFmpeg services does not load them; a reload (SIGHUP) that turns one on loads it and it catches
 * up with the stream already live: DVR records it (a file appears and grows, then plays), DASH serves its MPD and
 * segments, an ingest added by the reload publishes. The audio bridge, which the built-in default config turns on,
 * loads at the first publish that needs it (tests/e2e/audio-bridge.test.ts hears it work). A server started with
 * DVR on loads it before it accepts publishers and records from the first publish.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { serverConf } from "../helpers/conf.ts";
import { clip } from "../helpers/media.ts";
import { probeStreams, publish, reloadConfig, run, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor, waitForValue } from "../helpers/wait.ts";

const { servers, track } = cleanupAfterAll();

const FLV = "http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }";
const DVR_ON = "dvr { enabled on; dvr_path ./rec/[app]/[stream].[timestamp].flv; dvr_plan session; }";

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function start(vhost: string): Promise<RunningServer> {
  const s = await startServer({ config: serverConf(vhost) });
  servers.push(s);
  return s;
}

/** Waits until the stream plays over HTTP-FLV (the server has it live). */
async function live(s: RunningServer, stream: string): Promise<void> {
  await waitForValue(`${stream} live`, async () => {
    try {
      return (await probeStreams(s.httpUrl(`/live/${stream}.flv`), 8000)).some((x) => x.codec_type === "video");
    } catch {
      return false;
    }
  }, 20000);
}

describe("services loaded on demand", () => {
  test("DVR turned on by a reload records the stream already live: a file appears, grows, and plays", async () => {
    const s = await start(FLV);
    expect(s.output()).not.toContain("dvr: loaded");
    expect(s.output()).not.toContain("dash: loaded");
    expect(s.output()).not.toContain("ffmpeg: loaded");
    expect(s.output()).not.toContain("forward: loaded");
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/late")));
    await live(s, "late");
    const rec = join(s.dir, "rec");
    expect(filesUnder(rec)).toEqual([]);

    await reloadConfig(s, serverConf(`${FLV}\n${DVR_ON}`));
    expect(s.output()).toContain("dvr: loaded, the config uses it");
    expect(s.output()).toMatch(/reload: vhost __defaultVhost__ dvr applied \([^)]*; 1 started\)/);
    const tmp = await waitForValue("a DVR file", () => filesUnder(rec).find((f) => f.endsWith(".flv.tmp")), 10000);
    const size0 = await waitForValue("the file written", () => statSync(tmp).size || false, 10000);
    await waitFor("the file growing", () => existsSync(tmp) && statSync(tmp).size > size0 + 50_000, 10000, s);

    // The publisher leaves: the file is closed, renamed, and plays (video and audio).
    pub.kill();
    const flv = await waitForValue("the finished file", () => filesUnder(rec).find((f) => f.endsWith(".flv")), 10000);
    const probed = run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", flv]);
    expect(await probed.done).toBe(0);
    expect(probed.output().trim().split("\n").sort()).toEqual(["aac", "h264"]);
    expect(s.output()).toContain("dvr: __defaultVhost__/live/late file");
  }, 60000);

  test("DASH turned on by a reload serves the live stream's MPD and segments", async () => {
    const s = await start(FLV);
    track(publish(clip("clip.flv"), s.rtmpUrl("/live/dashed")));
    await live(s, "dashed");
    const mpdUrl = s.httpUrl("/live/dashed.mpd");
    expect((await fetch(mpdUrl)).status).toBe(404);

    await reloadConfig(s, serverConf(`${FLV}\ndash { enabled on; dash_path ./dash; dash_fragment 1; }`));
    expect(s.output()).toContain("dash: loaded, the config uses it");
    expect(s.output()).toMatch(/reload: vhost __defaultVhost__ dash applied \([^)]*; 1 started\)/);
    const mpd = await waitForValue("the MPD", async () => {
      const r = await fetch(mpdUrl);
      return r.status === 200 ? { type: r.headers.get("content-type"), text: await r.text() } : false;
    }, 15000);
    expect(mpd.type).toBe("application/dash+xml");
    expect(mpd.text).toContain("<MPD");
    // A player's view: FFmpeg reads the presentation over HTTP and finds the stream's video and audio.
    const streams = await probeStreams(mpdUrl, 20000);
    expect(streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort()).toEqual(["audio:aac", "video:h264"]);
  }, 60000);

  test("an ingest added by a reload loads the FFmpeg services and publishes", async () => {
    const s = await start(FLV);
    const ingest = `ingest cam {
    enabled on;
    input { type file; url ${clip("clip.flv")}; }
    ffmpeg ./objs/ffmpeg/bin/ffmpeg;
    engine { enabled off; output rtmp://127.0.0.1:[port]/live/ingested; }
  }`;
    await reloadConfig(s, serverConf(`${FLV}\n${ingest}`));
    expect(s.output()).toContain("ffmpeg: loaded, the config uses it");
    expect(s.output()).toContain("reload: vhost __defaultVhost__ ingest applied (started __defaultVhost__/cam)");
    await live(s, "ingested");
  }, 60000);

  test("the audio bridge (rtmp_to_rtc) is not loaded at start but by the first publish on a vhost that bridges", async () => {
    const s = await start(`${FLV}\nrtc { enabled on; rtmp_to_rtc on; }`);
    expect(s.output()).not.toContain("audio bridge: loaded");
    track(publish(clip("clip.flv"), s.rtmpUrl("/live/bridged")));
    await waitFor("the audio bridge loaded", () => s.output().includes("audio bridge: loaded, the config uses it"), 15000, s);
    await live(s, "bridged");
  }, 60000);

  test("a server started with DVR on loads it before accepting publishers and records the first publish", async () => {
    const s = await start(`${FLV}\n${DVR_ON}`);
    const out = s.output();
    expect(out.indexOf("dvr: loaded, the config uses it")).toBeGreaterThan(-1);
    expect(out.indexOf("dvr: loaded, the config uses it")).toBeLessThan(out.indexOf("rtmp listen at"));
    track(publish(clip("clip.flv"), s.rtmpUrl("/live/first")));
    const rec = join(s.dir, "rec");
    const tmp = await waitForValue("a DVR file", () => filesUnder(rec).find((f) => f.endsWith(".flv.tmp")), 15000);
    await waitFor("the file growing", () => existsSync(tmp) && statSync(tmp).size > 50_000, 10000, s);
  }, 60000);
});
