/**
 * The audio bridge for MP3 publishers end to end: an RTMP stream whose audio FFmpeg encodes to MP3 (libmp3lame,
 * 44.1 kHz) plays by WHEP in headless Chromium WITH audio: the server decodes the MP3 (lib/media/audio/
 * mp3-decoder.ts) and encodes Opus while the viewer watches.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { clip } from "../helpers/media.ts";
import { freePort, probeStreams, publish, type RunningServer, startServer } from "../helpers/server.ts";

let srv: RunningServer;
let browser: TestBrowser;
let api: string;

beforeAll(async () => {
  const udp = await freePort();
  srv = await startServer({
    env: {
      SRS_RTC_SERVER_ENABLED: "on",
      SRS_RTC_SERVER_LISTEN: String(udp),
      CANDIDATE: "127.0.0.1",
      SRS_VHOST_RTC_ENABLED: "on",
      SRS_VHOST_RTC_RTMP_TO_RTC: "on",
    },
  });
  api = `http://127.0.0.1:${srv.api}`;
  browser = await launchBrowser();
}, 60000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
  for (const line of srv?.output().split("\n") ?? []) if (/audio bridge .* total /.test(line)) console.log(line.trim());
});

async function page(): Promise<Page> {
  const p = await browser.context.newPage();
  await p.goto(`http://127.0.0.1:${srv.http}/`);
  return p;
}

interface AudioStats {
  packets: number;
  samples: number;
  energy: number;
  level: number;
  frames: number;
}

/** Plays by WHEP with an <audio> element attached; samples inbound-rtp audio/video stats after 1.5 s and after `seconds`. */
async function whepPlayAudio(p: Page, stream: string, seconds: number): Promise<{ status: number; first: AudioStats; last: AudioStats; levels: number[] }> {
  return await p.evaluate(async ({ api, stream, seconds }) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const ms = new MediaStream();
    pc.ontrack = (e) => {
      ms.addTrack(e.track);
      if (e.track.kind === "audio") {
        const el = document.createElement("audio");
        el.autoplay = true;
        el.srcObject = ms;
        document.body.appendChild(el);
        void el.play().catch(() => {});
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`${api}/rtc/v1/whep/?app=live&stream=${stream}`, { method: "POST", body: pc.localDescription!.sdp });
    const answer = await res.text();
    const zero = { packets: 0, samples: 0, energy: 0, level: 0, frames: 0 };
    if (res.status !== 201) return { status: res.status, first: zero, last: zero, levels: [] };
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    const stat = async () => {
      const s = { ...zero };
      (await pc.getStats()).forEach((x: Record<string, unknown>) => {
        if (x.type !== "inbound-rtp") return;
        if (x.kind === "audio") {
          s.packets = Number(x.packetsReceived ?? 0);
          s.samples = Number(x.totalSamplesReceived ?? 0);
          s.energy = Number(x.totalAudioEnergy ?? 0);
          s.level = Number(x.audioLevel ?? 0);
        } else if (x.kind === "video") {
          s.frames = Number(x.framesDecoded ?? 0);
        }
      });
      return s;
    };
    await new Promise((r) => setTimeout(r, 1500));
    const first = await stat();
    const levels: number[] = [];
    for (let t = 0; t < seconds * 1000; t += 500) {
      await new Promise((r) => setTimeout(r, 500));
      levels.push((await stat()).level);
    }
    const last = await stat();
    pc.close();
    const location = res.headers.get("location");
    if (location) await fetch(`${api}${location}`, { method: "DELETE" });
    return { status: res.status, first, last, levels };
  }, { api, stream, seconds });
}

describe("audio bridge, MP3 publisher", () => {
  test("an RTMP stream with MP3 audio plays by WHEP in Chromium with audio: Opus packets, samples and energy grow", async () => {
    const ff = publish(clip("clip.flv"), srv.rtmpUrl("/live/m2o"), ["-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k"]);
    try {
      await Bun.sleep(1500);
      const streams = await probeStreams(srv.rtmpUrl("/live/m2o"));
      expect(streams.find((s) => s.codec_type === "audio")?.codec_name).toBe("mp3");
      const b = await page();
      const play = await whepPlayAudio(b, "m2o", 5);
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
