/**
 * Reload and the clients it touches, as a user sees them:
 *  - a vhost disabled by reload closes its clients of every protocol (RTMP publisher and player, HTTP-FLV, SRT
 *    publisher and player, an HLS session, a WHEP viewer), while clients of other vhosts go on;
 *  - `play` options changed by reload reach the running stream: gop_cache off→on for the next player,
 *    time_jitter at the stream's next publish (its hub kept by a waiting player);
 *  - a GStreamer publisher (flvmux ! rtmp2sink) goes through reloads without its player losing a frame.
 */
import { describe, expect, test } from "bun:test";
import { clip } from "../helpers/media.ts";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { freePort, type Proc, publish, reloadConfig, rtcEnv, run, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";
import { whepViewer } from "../helpers/whep.ts";

const { servers, track } = cleanupAfterAll();

/** A client as the API lists it (`name`: its stream; this test's streams have names unique across vhosts). */
interface ApiClient {
  id: string;
  type: string;
  name: string;
}

async function clients(s: RunningServer): Promise<ApiClient[]> {
  try {
    const r = await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/?count=100`);
    const j = (await r.json()) as { clients: ApiClient[] };
    return j.clients;
  } catch {
    return [];
  }
}

/** Video packet dts of an ffmpeg `-f framecrc` output (stream 0), with whether each is a keyframe. */
function videoPackets(out: string): { dts: number; key: boolean }[] {
  return [...out.matchAll(/^0,\s*(-?\d+),\s*(-?\d+),\s*(\d+),\s*(\d+),\s*0x[0-9a-f]+(, F=0x([0-9A-F]+))?/gm)]
    .map((m) => ({ dts: Number(m[1]), key: m[6] === undefined || (parseInt(m[7]!, 16) & 1) === 1 }));
}

/** An ffmpeg player printing one line per video packet, timestamps as received (framecrc; non-keyframes carry `F=0x0`). */
function framePlayer(url: string, extra: string[] = []): Proc {
  return track(run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-rw_timeout", "15000000", ...extra, "-i", url,
    "-map", "0:v:0", "-c", "copy", "-copyinkf", "-copyts", "-f", "framecrc", "-",
  ], { timeoutMs: 90000 }));
}

const rtmp = (s: RunningServer, vhost: string, stream: string) => s.rtmpUrl(`/live?vhost=${vhost}/${stream}`);

describe("reload: a disabled vhost", () => {
  test("closes its clients of every protocol; other vhosts' clients go on; new ones are refused", async () => {
    const vhostConf = (enabled: boolean) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { }
vhost gone.test {
  enabled ${enabled ? "on" : "off"};
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  hls { enabled on; hls_path ./hls; hls_fragment 1; hls_window 10; }
  srt { enabled on; srt_to_rtmp on; }
}
`;
    const s = await startServer({ config: vhostConf(true), env: { SRS_SRT_SERVER_ENABLED: "on", ...rtcEnv(await freePort()) } });
    servers.push(s);
    const srt = (stream: string, mode: string) => `srt://127.0.0.1:${s.srt}?streamid=#!::h=gone.test,r=live/${stream},m=${mode}`;

    // A stream on the vhost that stays: its publisher and player must not notice the reload.
    const keepPub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/keep")));
    const keepPlayer = framePlayer(s.rtmpUrl("/live/keep"));
    // The vhost that goes: clients of every protocol.
    const pub = track(publish(clip("clip.flv"), rtmp(s, "gone.test", "a")));
    await waitFor("the publishers", async () => (await clients(s)).filter((c) => c.type === "fmle-publish").length === 2, 15000, s);
    const srtPub = track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"),
      "-c", "copy", "-f", "mpegts", srt("b", "publish")]));
    const players = [
      framePlayer(rtmp(s, "gone.test", "a")),
      framePlayer(s.httpUrl("/live/a.flv?vhost=gone.test")),
      framePlayer(srt("a", "request"), ["-f", "mpegts"]),
    ];
    // An HLS session: the first playlist request answers a master playlist naming the session (hls_ctx).
    let variant = "";
    await waitFor("the HLS session", async () => {
      const r = await fetch(s.httpUrl("/live/a.m3u8?vhost=gone.test"));
      const text = await r.text();
      variant = text.split("\n").find((l) => l.includes("hls_ctx=")) ?? "";
      return r.status === 200 && variant !== "";
    }, 15000, s);
    expect((await fetch(s.httpUrl(variant.trim()))).status).toBe(200);
    const whep = await whepViewer(s.api, "a", "&vhost=gone.test");
    await waitFor("WHEP video", () => whep.packets() > 20, 15000, s);
    const gone = ["flv-play", "fmle-publish", "hls-play", "rtc-play", "rtmp-play", "srt-play", "srt-publish"];
    await waitFor(`clients of gone.test: ${gone}`, async () => {
      return (await clients(s)).filter((c) => c.name !== "keep").map((c) => c.type).sort().join() === gone.join();
    }, 15000, s);
    await waitFor("the players' first frames", () => players.every((p) => videoPackets(p.output()).length > 10), 15000, s);
    const keepBefore = videoPackets(keepPlayer.output()).length;

    await reloadConfig(s, vhostConf(false));
    expect(s.output()).toContain(`reload: vhost gone.test removed applied (${gone.length} clients closed)`);

    // Every client of the vhost is gone: the API lists none, every ffmpeg ends by itself.
    await waitFor("the API to list no gone.test client", async () => (await clients(s)).every((c) => c.name === "keep"), 5000, s);
    const ended = await Promise.race([Promise.all([pub, srtPub, ...players].map((p) => p.done)).then(() => true), Bun.sleep(15000).then(() => false)]);
    expect(ended).toBe(true);
    // The HLS session is over, and no new one starts: its playlist is not served any more.
    expect((await fetch(s.httpUrl(variant.trim()))).status).not.toBe(200);
    expect((await fetch(s.httpUrl("/live/a.m3u8?vhost=gone.test"))).status).not.toBe(200);
    // The WHEP viewer receives nothing more.
    await Bun.sleep(500);
    const atEnd = whep.packets();
    await Bun.sleep(1500);
    expect(whep.packets()).toBe(atEnd);
    await whep.pc.close();

    // New clients of the disabled vhost are refused.
    const retry = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.flv"), "-t", "1", "-c", "copy", "-f", "flv", rtmp(s, "gone.test", "c")], { timeoutMs: 15000 });
    expect(await retry.done).not.toBe(0);

    // The other vhost's publisher and player went on.
    await waitFor("frames of the kept stream after the reload", () => videoPackets(keepPlayer.output()).length > keepBefore + 50, 10000, s);
    expect(keepPub.proc.exitCode).toBeNull();
    expect(keepPlayer.proc.exitCode).toBeNull();
    expect((await clients(s)).map((c) => c.type).sort()).toEqual(["fmle-publish", "rtmp-play"]);
  }, 90000);
});

/** A publisher of a generated 25 fps video with a 4 s GOP whose timestamps start at 100 s. */
function longGopPublisher(url: string): Proc {
  return track(run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "100", "-keyint_min", "100", "-sc_threshold", "0",
    "-bf", "0", "-output_ts_offset", "100", "-f", "flv", url,
  ]));
}

const GOP_MS = 4000;

/**
 * Waits until the reference player is 1–2.6 s into a GOP that began after `afterDts` (so a player starting now
 * joins mid-GOP), and returns that GOP's keyframe dts and the reference's last dts.
 */
async function midGop(ref: Proc, afterDts: number, s: RunningServer): Promise<{ key: number; now: number }> {
  let at = { key: -1, now: -1 };
  await waitFor("the reference player to be mid-GOP", () => {
    const v = videoPackets(ref.output());
    const key = v.findLast((p) => p.key)?.dts ?? -1;
    const now = v.at(-1)?.dts ?? -1;
    at = { key, now };
    return key > afterDts && now - key >= 1000 && now - key <= 2600;
  }, 20000, s);
  return at;
}

/** The first video packet a new RTMP player gets. */
async function firstPacket(url: string, s: RunningServer): Promise<{ dts: number; key: boolean }> {
  const p = framePlayer(url);
  await waitFor("a new player's first frame", () => videoPackets(p.output()).length > 0, 15000, s);
  p.kill();
  return videoPackets(p.output())[0]!;
}

async function streamIds(s: RunningServer): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/?count=100`);
  return ((await r.json()) as { streams: { id: string }[] }).streams.map((x) => x.id);
}

describe("reload: play options reach the running stream", () => {
  test("gop_cache off→on: the next player starts from the cached keyframe; time_jitter: at the stream's next publish", async () => {
    const playConf = (gop: boolean, jitter: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ { play { gop_cache ${gop ? "on" : "off"}; time_jitter ${jitter}; } srt { enabled on; srt_to_rtmp on; } }
`;
    const s = await startServer({ config: playConf(false, "off"), env: { SRS_SRT_SERVER_ENABLED: "on" } });
    servers.push(s);
    const url = s.rtmpUrl("/live/opts");
    const pub = longGopPublisher(url);
    const ref = framePlayer(url);
    // An SRT player waits through a republish: it keeps the stream's hub (and its options) across it.
    const keeper = track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "mpegts", "-i",
      `srt://127.0.0.1:${s.srt}?streamid=#!::r=live/opts,m=request`, "-c", "copy", "-f", "null", "-"]));
    await waitFor("the reference player's frames", () => videoPackets(ref.output()).length > 10, 15000, s);
    // time_jitter off: the publisher's timestamps (from 100 s) reach players as they are.
    expect(videoPackets(ref.output())[0]!.dts).toBeGreaterThanOrEqual(100000);

    // gop_cache off: a player joining mid-GOP waits for the next keyframe.
    const before = await midGop(ref, 0, s);
    const a = await firstPacket(url, s);
    expect(a.key).toBe(true);
    expect(a.dts).toBeGreaterThanOrEqual(before.key + GOP_MS);

    await reloadConfig(s, playConf(true, "full"));
    expect(s.output()).toContain("reload: vhost __defaultVhost__ play applied");
    const reloadedAt = videoPackets(ref.output()).at(-1)!.dts;

    // gop_cache on: a player joining mid-GOP (of a GOP cached since the reload) starts at that GOP's keyframe.
    const after = await midGop(ref, reloadedAt, s);
    const b = await firstPacket(url, s);
    expect(b.key).toBe(true);
    expect(b.dts).toBe(after.key);

    // time_jitter full takes effect at the next publish of the same (kept) stream: timestamps from 0 again.
    const ids = await streamIds(s);
    expect(ids.length).toBe(1);
    pub.kill();
    await waitFor("the publisher to leave", () => s.output().includes("hub __defaultVhost__/live/opts: publish stop"), 10000, s);
    expect(keeper.proc.exitCode).toBeNull();
    longGopPublisher(url);
    const c = await firstPacket(url, s);
    expect(await streamIds(s)).toEqual(ids);
    expect(c.key).toBe(true);
    expect(c.dts).toBeLessThan(GOP_MS * 3);
  }, 90000);
});

describe("reload with a GStreamer publisher", () => {
  test("flvmux ! rtmp2sink publishes through three reloads (hls on, a vhost added, hls changed): the player loses no frame", async () => {
    const conf = (hls: string, added: boolean) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { ${hls} }
${added ? "vhost added.test { }" : ""}
`;
    const s = await startServer({ config: conf("", false) });
    servers.push(s);
    const url = s.rtmpUrl("/live/gst");
    const gst = track(run("gst-launch-1.0", [
      "-q", "videotestsrc", "is-live=true", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!",
      "x264enc", "speed-preset=ultrafast", "tune=zerolatency", "key-int-max=25", "!", "h264parse", "!",
      "flvmux", "name=m", "streamable=true", "!", "rtmp2sink", `location=${url}`,
      "audiotestsrc", "is-live=true", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!", "m.",
    ]));
    await waitFor("the GStreamer publisher", () => s.output().includes("hub __defaultVhost__/live/gst: publish start"), 15000, s);
    const player = framePlayer(url);
    await waitFor("the player's frames", () => videoPackets(player.output()).length > 25, 15000, s);
    const hls = (fragment: number) => `hls { enabled on; hls_path ./html; hls_fragment ${fragment}; hls_window 10; }`;
    await reloadConfig(s, conf(hls(2), false));
    await reloadConfig(s, conf(hls(2), true));
    await reloadConfig(s, conf(hls(1), true));
    expect(s.output()).toContain("reload: vhost __defaultVhost__ hls applied");
    expect(s.output()).toContain("reload: vhost added.test added applied");
    // HLS started for the running stream by the first reload.
    await waitFor("the HLS playlist", async () => (await fetch(s.httpUrl("/live/gst.m3u8"))).status === 200, 15000, s);
    const atLast = videoPackets(player.output()).length;
    await waitFor("frames after the last reload", () => videoPackets(player.output()).length > atLast + 50, 10000, s);
    const dts = videoPackets(player.output()).map((p) => p.dts);
    let worst = 0;
    for (let i = 1; i < dts.length; i++) worst = Math.max(worst, dts[i]! - dts[i - 1]!);
    // A live GStreamer source stamps frames with its capture clock: on a loaded machine one frame may come 50 ms
    // late and the next early (steps of 93 then 27 ms), which loses nothing. A lost frame leaves the count short
    // of the span: 25 fps, 40 ms per frame.
    const missing = Math.round((dts[dts.length - 1]! - dts[0]!) / 40) + 1 - dts.length;
    console.log(`reload with GStreamer: ${dts.length} video frames, largest dts step ${worst} ms, missing ${missing}`);
    expect(missing).toBeLessThanOrEqual(0);
    expect(worst).toBeLessThan(200); // and no stall
    expect(gst.proc.exitCode).toBeNull();
    expect(player.proc.exitCode).toBeNull();
  }, 60000);
});
