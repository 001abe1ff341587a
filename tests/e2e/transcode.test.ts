/**
 * Transcode end to end with real FFmpeg: a vhost-wide transcode as ffmpeg.transcode.conf (libx264 to a smaller
 * size and bitrate, `[stream]_[engine]` published back) checked with ffprobe (width, height, measured video
 * bitrate), not applied again to its own output, restarted by a reload of the transcode, stopped at unpublish; an engine SRS refuses (libx264 without
 * vprofile) is refused with a log line; an audio-only transcode to HLS as transcode2hls.audio.only.conf
 * (video copied, MP3 audio made AAC, HLS of the output; its libfdk_aac, absent from Debian's FFmpeg, becomes aac).
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { clip } from "../helpers/media.ts";
import { alive, processes } from "../helpers/processes.ts";
import { probeStreams, publish, reloadConfig, run, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";
import { waitFor } from "../helpers/wait.ts";

const { servers, track } = cleanupAfterAll();

const conf = (vhostBody: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./objs/nginx/html; }
vhost __defaultVhost__ {
  ${vhostBody}
}
`;

async function streamNames(s: { api: number }): Promise<string[]> {
  const j = (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams`).then((r) => r.json())) as { streams: { name: string }[] };
  return j.streams.map((x) => x.name).sort();
}

/** Records `seconds` of a stream to a file and measures its video bitrate (kbps) from the packet sizes. */
async function videoKbps(url: string, seconds: number): Promise<{ kbps: number; width?: number; height?: number }> {
  const file = join(tempDir("srs-ts-transcode-"), "out.flv");
  const rec = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rw_timeout", "8000000", "-i", url, "-t", String(seconds), "-c", "copy", "-y", file], { timeoutMs: 30000 });
  await rec.done;
  const p = run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size,pts_time:stream=width,height", "-of", "json", file], { timeoutMs: 15000 });
  await p.done;
  const j = JSON.parse(p.output()) as { packets: { size: string; pts_time: string }[]; streams: { width: number; height: number }[] };
  const bytes = j.packets.reduce((n, x) => n + Number(x.size), 0);
  const t = j.packets.map((x) => Number(x.pts_time));
  const dur = Math.max(...t) - Math.min(...t);
  return { kbps: (bytes * 8) / dur / 1000, width: j.streams[0]?.width, height: j.streams[0]?.height };
}

/** ffmpeg.transcode.conf's shape, at `vbitrate` kbps, with an engine SRS refuses. */
const ffConf = (vbitrate: number) => conf(`transcode {
    enabled on;
    ffmpeg ./objs/ffmpeg/bin/ffmpeg;
    engine ff {
      enabled on;
      vfilter { }
      vcodec libx264; vbitrate ${vbitrate}; vfps 25; vwidth 320; vheight 180; vthreads 1; vprofile baseline; vpreset veryfast;
      vparams { g 50; }
      acodec aac; abitrate 64; asample_rate 44100; achannels 2;
      aparams { }
      output rtmp://127.0.0.1:[port]/[app]/[stream]_[engine]?vhost=[vhost];
    }
    engine nopreset {
      enabled on;
      vcodec libx264; vprofile main;
      acodec aac;
      output rtmp://127.0.0.1:[port]/[app]/[stream]_[engine]?vhost=[vhost];
    }
  }`);

describe("transcode", () => {
  test("ffmpeg.transcode.conf's shape: libx264 to 320x180 at 300 kbps, published back as [stream]_[engine], not transcoded again, restarted by reload, stopped at unpublish", async () => {
    const s = await startServer({ config: ffConf(300) });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/livestream")));
    await waitFor("the transcoded stream", async () => (await streamNames(s)).includes("livestream_ff"), 20000, s);
    const m = await videoKbps(s.rtmpUrl("/live/livestream_ff"), 6);
    console.log(`transcoded video: ${m.width}x${m.height}, ${m.kbps.toFixed(0)} kbps (vbitrate 300; source 640x360 ~900 kbps)`);
    expect({ width: m.width, height: m.height }).toEqual({ width: 320, height: 180 });
    expect(m.kbps).toBeGreaterThan(100);
    expect(m.kbps).toBeLessThan(600);
    const probed = await probeStreams(s.rtmpUrl("/live/livestream_ff"));
    expect(probed.find((x) => x.codec_type === "video")).toMatchObject({ codec_name: "h264", profile: "Constrained Baseline" });
    expect(probed.find((x) => x.codec_type === "audio")).toMatchObject({ codec_name: "aac", channels: 2 });

    // The engine without vpreset is refused as SRS refuses it; the output is not transcoded again.
    expect(s.output()).toContain("engine nopreset refused as SRS refuses it: invalid vpreset");
    expect(s.output()).toContain("livestream_ff is what engine ff of this transcode outputs, not transcoded again (loop)");
    await Bun.sleep(2000);
    expect(await streamNames(s)).toEqual(["livestream", "livestream_ff"]);
    const procs = await processes(s);
    expect(procs.map((p) => `${p.kind} ${p.name}`)).toEqual(["transcode __defaultVhost__/live/livestream ff"]);
    expect(procs[0]!.cmdline).toContain(`-f flv -i rtmp://127.0.0.1:${s.rtmp}/live?vhost=__defaultVhost__/livestream -vcodec libx264 -b:v 300000 -r 25.00 -s 320x180 -aspect 320:180 -threads 1 -profile:v baseline -preset veryfast -g 50 -acodec aac -b:a 64000 -ar 44100 -ac 2 -f flv -y rtmp://127.0.0.1:${s.rtmp}/live/livestream_ff?vhost=__defaultVhost__`);
    expect(existsSync(join(s.dir, "objs/ffmpeg-encoder-__defaultVhost__-live-livestream-ff.log"))).toBe(true);

    // A reload of the vhost's transcode restarts the FFmpeg of the live stream with the new engine.
    await reloadConfig(s, ffConf(200));
    expect(s.output()).toContain("reload: vhost __defaultVhost__ transcode applied (1 live streams, 1 FFmpegs restarted)");
    expect(alive(procs[0]!.pid!)).toBe(false);
    await waitFor("the new transcode FFmpeg", async () => (await processes(s)).some((p) => p.state === "running" && p.cmdline.includes("-b:v 200000")), 5000, s);

    // Unpublish: the transcode FFmpeg ends, its output goes away.
    const pid = (await processes(s))[0]!.pid!;
    pub.kill();
    await waitFor("transcode FFmpeg gone at unpublish", () => !alive(pid), 5000, s);
    await waitFor("no processes", async () => (await processes(s)).length === 0, 5000, s);
    await waitFor("output unpublished", async () => (await streamNames(s)).length === 0, 5000, s);
  }, 90000);

  test("transcode2hls.audio.only.conf's shape: video copied, MP3 audio to AAC, HLS of the output", async () => {
    const s = await startServer({
      config: conf(`hls { enabled on; hls_fragment 2; hls_window 10; hls_path ./objs/nginx/html; hls_m3u8_file [app]/[stream].m3u8; hls_ts_file [app]/[stream]-[seq].ts; }
  transcode {
    enabled on;
    ffmpeg ./objs/ffmpeg/bin/ffmpeg;
    engine ff {
      enabled on;
      vcodec copy;
      acodec libfdk_aac;
      aparams { }
      output rtmp://127.0.0.1:[port]/[app]/[stream]_[engine]?vhost=[vhost];
    }
  }`),
    });
    servers.push(s);
    // The source's audio is MP3 (which SRS's HLS would carry as is); the transcode makes it AAC.
    track(publish(clip("clip.flv"), s.rtmpUrl("/live/radio"), ["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100"]));
    const m3u8 = join(s.dir, "objs/nginx/html/live/radio_ff.m3u8");
    await waitFor("the output's m3u8", () => existsSync(m3u8), 30000, s);
    const streams = await probeStreams(s.httpUrl("/live/radio_ff.m3u8"));
    expect(streams.find((x) => x.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
    expect(streams.find((x) => x.codec_type === "video")).toMatchObject({ codec_name: "h264", width: 640, height: 360 });
    // SRS's config asks for SRS's bundled FFmpeg's libfdk_aac; Debian's FFmpeg has none: its aac is used, said once.
    expect(s.output()).toContain("has no libfdk_aac encoder (SRS's bundled FFmpeg has), using libfdk_aac -> aac");
    expect((await processes(s))[0]!.cmdline).toContain("-vcodec copy -acodec aac -f flv");
    const source = await probeStreams(s.rtmpUrl("/live/radio"));
    expect(source.find((x) => x.codec_type === "audio")).toMatchObject({ codec_name: "mp3" });
  }, 90000);
});
