/**
 * The audio bridge end to end: an RTMP (AAC) clip plays by WHEP in headless Chromium WITH audio (Opus made by
 * the bridge while the viewer watches), and a WHIP stream from Chromium's fake microphone + camera (Opus) plays
 * over RTMP and HTTP-FLV in FFmpeg with AAC audio decoded for the whole duration; an RTMP stream with MP3 audio
 * (FFmpeg's libmp3lame) plays by WHEP with audio too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip } from "../helpers/media.ts";
import { whepPlayAudio } from "../helpers/whep-audio.ts";
import { freePort, probeStreams, publish, run, type RunningServer, startServer, rtcEnv } from "../helpers/server.ts";

let srv: RunningServer;
let browser: TestBrowser;
let api: string;

beforeAll(async () => {
  const udp = await freePort();
  srv = await startServer({
    env: {
      ...rtcEnv(udp),
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
      SRS_VHOST_RTC_RTC_TO_RTMP: "on",
    },
  });
  api = `http://127.0.0.1:${srv.api}`;
  browser = await launchBrowser();
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
  // the bridges' cost, as the server measured it (transcoder time per second of audio)
  for (const line of srv?.output().split("\n") ?? []) if (/audio bridge .* total /.test(line)) console.log(line.trim());
});

async function page(): Promise<Page> {
  const p = await browser.context.newPage();
  await p.goto(`http://127.0.0.1:${srv.http}/`);
  return p;
}

/** Publishes the fake camera + microphone by WHIP (H.264 + Opus). */
async function whipPublish(p: Page, stream: string): Promise<{ status: number; state: string }> {
  return await p.evaluate(async ({ api, stream }) => {
    const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    const pc = new RTCPeerConnection();
    for (const t of s.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`${api}/rtc/v1/whip/?app=live&stream=${stream}`, {
      method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" },
    });
    const answer = await res.text();
    if (res.status !== 201) return { status: res.status, state: answer };
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    (globalThis as unknown as { pub: RTCPeerConnection }).pub = pc;
    for (let i = 0; i < 50 && pc.connectionState !== "connected"; i++) await new Promise((r) => setTimeout(r, 100));
    return { status: res.status, state: pc.connectionState };
  }, { api, stream });
}

/**
 * Decodes `seconds` of the URL's audio with FFmpeg, one framecrc line per decoded frame: the seconds of audio
 * actually decoded (sum of frame durations, so gaps do not count), the frames, wall time and errors.
 */
async function decodeAudio(url: string, seconds: number): Promise<{ decoded: number; frames: number; wall: number; log: string; code: number | null }> {
  const t0 = Date.now();
  const p = run("ffmpeg", [
    "-hide_banner", "-nostats", "-loglevel", "error", "-rw_timeout", "8000000", "-i", url,
    "-t", String(seconds), "-map", "0:a:0", "-f", "framecrc", "-",
  ], { timeoutMs: 30000 });
  const code = await p.done;
  // "0,        pts,        pts,     duration,     size, 0xcrc" in the stream's time base (1/sample_rate)
  const rows = [...p.output().matchAll(/^0,\s*-?\d+,\s*-?\d+,\s*(\d+),/gm)].map((m) => Number(m[1]));
  const rate = Number(/#sample_rate 0: (\d+)/.exec(p.output())?.[1] ?? 48000);
  const samples = rows.reduce((a, b) => a + b, 0);
  return { decoded: samples / rate, frames: rows.length, wall: (Date.now() - t0) / 1000, log: p.output().replace(/^[0#].*\n/gm, ""), code };
}

describe("audio bridge", () => {
  test("an RTMP clip (AAC) plays by WHEP in Chromium with audio: Opus packets, samples and energy grow", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/a2o"));
    try {
      await Bun.sleep(1500);
      const b = await page();
      const play = await whepPlayAudio(b, api, "a2o", 5);
      await b.close();
      expect(play.status).toBe(201);
      const { first, last } = play;
      // about 50 Opus packets a second for 5 s
      expect(last.packets - first.packets).toBeGreaterThan(200);
      // 48 kHz: ~240000 samples in 5 s
      expect(last.samples - first.samples).toBeGreaterThan(200000);
      // not silence (the clip has a tone)
      expect(last.energy).toBeGreaterThan(0);
      expect(Math.max(...play.levels)).toBeGreaterThan(0);
      expect(play.levels.filter((l) => l > 0).length).toBeGreaterThanOrEqual(play.levels.length / 2);
      // and video alongside
      expect(last.frames - first.frames).toBeGreaterThan(50);
      expect(srv.output()).toContain("audio bridged aac→opus at 48000 bps");
      expect(srv.output()).toMatch(/audio bridge __defaultVhost__\/live\/a2o: aac→opus at 48000 bps started/);
      // the viewer left: the bridge idles
      let idle = false;
      for (let i = 0; i < 20 && !idle; i++) {
        await Bun.sleep(250);
        idle = /a2o: aac→opus stopped \(no WebRTC viewer left, idle\)/.test(srv.output());
      }
      expect(idle).toBe(true);
    } finally {
      ff.kill();
    }
  }, 60000);

  test("a WHIP stream (Opus mic + camera) plays over RTMP and HTTP-FLV in FFmpeg with AAC audio for the whole duration", async () => {
    const a = await page();
    const pub = await whipPublish(a, "o2a");
    expect(pub.status).toBe(201);
    expect(pub.state).toBe("connected");
    await Bun.sleep(1500);
    expect(srv.output()).toContain("audio bridged opus→aac at 48000 bps");

    const rtmpUrl = srv.rtmpUrl("/live/o2a");
    const streams = await probeStreams(rtmpUrl);
    const audio = streams.find((s) => s.codec_type === "audio");
    expect(audio?.codec_name).toBe("aac");
    expect(audio?.sample_rate).toBe("48000");
    expect(streams.find((s) => s.codec_type === "video")?.codec_name).toBe("h264");

    // 5 s of audio decoded from the live stream (the GOP cache gives the first second or two at once)
    const r = await decodeAudio(rtmpUrl, 5);
    expect(r.code).toBe(0);
    expect(r.decoded).toBeGreaterThan(4.7);
    expect(r.frames).toBeGreaterThan(4.7 * 48000 / 1024);
    expect(r.wall).toBeGreaterThan(2.5);
    expect(r.log).not.toMatch(/error|invalid/i);

    const flvUrl = srv.httpUrl("/live/o2a.flv");
    const fs = await probeStreams(flvUrl);
    expect(fs.find((s) => s.codec_type === "audio")?.codec_name).toBe("aac");
    const f = await decodeAudio(flvUrl, 4);
    expect(f.code).toBe(0);
    expect(f.decoded).toBeGreaterThan(3.7);
    expect(f.log).not.toMatch(/error|invalid/i);

    // the API still describes the publisher's audio (Opus)
    const j = await (await fetch(`${api}/api/v1/streams/`)).json() as { streams: { name: string; audio: { codec: string } | null }[] };
    expect(j.streams.find((s) => s.name === "o2a")?.audio?.codec).toBe("Opus");
    await a.close();
  }, 90000);
});

// MP3 publishers: the server decodes the MP3 (lib/media/audio/mp3-decoder.ts) and encodes Opus while a viewer watches.
describe("audio bridge, MP3 publisher", () => {
  test("an RTMP stream with MP3 audio plays by WHEP in Chromium with audio: Opus packets, samples and energy grow", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/m2o"), ["-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k"]);
    try {
      await Bun.sleep(1500);
      const streams = await probeStreams(srv.rtmpUrl("/live/m2o"));
      expect(streams.find((s) => s.codec_type === "audio")?.codec_name).toBe("mp3");
      const b = await page();
      const play = await whepPlayAudio(b, api, "m2o", 5);
      await b.close();
      expect(play.status).toBe(201);
      const { first, last } = play;
      console.log(`WHEP of an MP3 publisher: ${last.packets - first.packets} audio packets, ${last.samples - first.samples} samples, ` +
        `energy ${last.energy.toFixed(3)}, levels ${play.levels.map((l) => l.toFixed(3)).join(" ")}, ${last.frames - first.frames} video frames`);
      expect(last.packets - first.packets).toBeGreaterThan(200); // ~50 Opus packets a second for 5 s
      expect(last.samples - first.samples).toBeGreaterThan(200000); // 48 kHz
      expect(last.energy).toBeGreaterThan(0); // the clip's tones, not silence
      expect(Math.max(...play.levels)).toBeGreaterThan(0);
      expect(play.levels.filter((l) => l > 0).length).toBeGreaterThanOrEqual(play.levels.length / 2);
      expect(last.frames - first.frames).toBeGreaterThan(50);
      expect(srv.output()).toContain("audio bridged mp3→opus at 48000 bps");
      expect(srv.output()).not.toContain("not available");
      let idle = false;
      for (let i = 0; i < 20 && !idle; i++) {
        await Bun.sleep(250);
        idle = /m2o: mp3→opus stopped \(no WebRTC viewer left, idle\)/.test(srv.output());
      }
      expect(idle).toBe(true);
    } finally {
      ff.kill();
    }
  }, 60000);
});
