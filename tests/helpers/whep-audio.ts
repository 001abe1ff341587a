/**
 * WHEP playback with audio in a browser page (tests/helpers/browser.ts): what Chromium's inbound-rtp stats say of
 * the audio (packets, samples, energy, level) and video (frames decoded) it received.
 */
import type { Page } from "playwright-core";

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
