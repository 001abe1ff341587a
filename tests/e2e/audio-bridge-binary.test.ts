/**
 * The audio bridge's worker inside the standalone executable (build.ts adds it as a second entrypoint): the
 * linux-x64 binary, copied alone into an empty folder, transcodes both ways in its worker.
 *  - Opus → AAC: FFmpeg publishes H.264 + Opus in MPEG-TS over SRT; FFmpeg plays RTMP and decodes AAC.
 *  - AAC → Opus: FFmpeg publishes the clip (H.264 + AAC) over RTMP; Chromium plays it by WHEP with Opus audio.
 *  - MP3 → Opus: the same with MP3 audio (libmpg123 in WebAssembly, inside the worker, inside the executable).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aloneInEmptyDir, builtBinary } from "../helpers/binary.ts";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip } from "../helpers/media.ts";
import { freePort, probeStreams, publish, run, type RunningServer, rtcEnv, startServer } from "../helpers/server.ts";
import { whepPlayAudio } from "../helpers/whep-audio.ts";

let srv: RunningServer;
let browser: TestBrowser | undefined;

beforeAll(async () => {
  const { exe } = aloneInEmptyDir(builtBinary("linux-x64"));
  const udp = await freePort();
  srv = await startServer({
    command: [exe],
    env: {
      ...rtcEnv(udp),
      SRS_SRT_SERVER_ENABLED: "on",
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
      SRS_VHOST_RTC_RTC_TO_RTMP: "on",
    },
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

describe("audio bridge in the compiled executable", () => {
  test("SRT publisher with Opus: RTMP players get AAC made by the worker", async () => {
    const pub = run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.flv"), "-t", "12",
      "-c:v", "copy", "-c:a", "libopus", "-b:a", "64k", "-ar", "48000", "-f", "mpegts",
      `srt://127.0.0.1:${srv.srt}?streamid=#!::r=live/o2a,m=publish`,
    ], { timeoutMs: 30000 });
    try {
      await Bun.sleep(2000);
      const streams = await probeStreams(srv.rtmpUrl("/live/o2a"));
      const audio = streams.find((s) => s.codec_type === "audio");
      expect(audio?.codec_name).toBe("aac");
      expect(audio?.sample_rate).toBe("48000");
      // 3 s of the AAC decoded by FFmpeg, frame by frame
      const play = run("ffmpeg", [
        "-hide_banner", "-nostats", "-loglevel", "error", "-i", srv.rtmpUrl("/live/o2a"), "-t", "3", "-map", "0:a:0", "-f", "framecrc", "-",
      ], { timeoutMs: 20000 });
      expect(await play.done).toBe(0);
      const samples = [...play.output().matchAll(/^0,\s*-?\d+,\s*-?\d+,\s*(\d+),/gm)].reduce((n, m) => n + Number(m[1]), 0);
      expect(samples / 48000).toBeGreaterThan(2.7);
      expect(play.output().replace(/^[0#].*\n/gm, "")).not.toMatch(/error|invalid/i);
      expect(srv.output()).toContain("audio bridge: worker 1 started");
      expect(srv.output()).toMatch(/live\/o2a: opus→aac at \d+ bps started/);
      expect(srv.output()).not.toMatch(/audio bridge.*(failed|cannot start)/);
    } finally {
      pub.kill();
    }
  }, 60000);

  for (const [codec, stream, extra] of [["aac", "a2o", []], ["mp3", "m2o", ["-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k"]]] as const) {
    test(`RTMP publisher with ${codec.toUpperCase()}: a WHEP viewer in Chromium gets Opus made by the worker`, async () => {
      const ff = publish(clip("clip.flv"), srv.rtmpUrl(`/live/${stream}`), [...extra]);
      try {
        browser ??= await launchBrowser();
        await Bun.sleep(1500);
        const page = await browser.context.newPage();
        await page.goto(`http://127.0.0.1:${srv.http}/`);
        const play = await whepPlayAudio(page, `http://127.0.0.1:${srv.api}`, stream, 4);
        await page.close();
        expect(play.status).toBe(201);
        expect(play.last.packets - play.first.packets).toBeGreaterThan(150); // ~50 Opus packets a second
        expect(play.last.samples - play.first.samples).toBeGreaterThan(150000); // 48 kHz
        expect(play.last.energy).toBeGreaterThan(0); // the clip's tones, not silence
        expect(srv.output()).toMatch(new RegExp(`live/${stream}: (audio bridged )?${codec}→opus at \\d+ bps`));
        expect(srv.output()).not.toContain("rtmp session error"); // the publisher's packets are left intact
        expect(srv.output()).not.toMatch(/audio bridge.*(failed|cannot start)/);
      } finally {
        ff.kill();
      }
    }, 60000);
  }
});
