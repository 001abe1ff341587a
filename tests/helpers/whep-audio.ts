/**
 * WHEP playback with audio in a browser page (tests/helpers/browser.ts): what Chromium's inbound-rtp stats say of
 * the audio (packets, samples, energy, level) and video (frames decoded) it received.
 */
import type { Page } from "playwright-core";
import type { WithSrs } from "./page-webrtc.ts";

export interface AudioStats {
  packets: number;
  samples: number;
  energy: number;
  level: number;
  frames: number;
}

/** Plays by WHEP with an <audio> element attached; samples inbound-rtp audio/video stats after 1.5 s and after `seconds`. */
export async function whepPlayAudio(p: Page, api: string, stream: string, seconds: number): Promise<{ status: number; first: AudioStats; last: AudioStats; levels: number[] }> {
  return await p.evaluate(async ({ api, stream, seconds }) => {
    const { srs } = globalThis as unknown as WithSrs;
    const { pc, status, location } = await srs.whep(api, stream, { audio: true });
    const zero = { packets: 0, samples: 0, energy: 0, level: 0, frames: 0 };
    if (status !== 201) return { status, first: zero, last: zero, levels: [] };
    const stat = async () => {
      const { audio = {}, video = {} } = await srs.inbound(pc);
      return {
        packets: audio.packetsReceived ?? 0, samples: audio.totalSamplesReceived ?? 0, energy: audio.totalAudioEnergy ?? 0,
        level: audio.audioLevel ?? 0, frames: video.framesDecoded ?? 0,
      };
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
    if (location) await fetch(`${api}${location}`, { method: "DELETE" });
    return { status, first, last, levels };
  }, { api, stream, seconds });
}
