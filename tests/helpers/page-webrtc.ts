/**
 * The WebRTC code the browser tests run inside their Chromium pages, written once: launchBrowser installs
 * `installPageWebrtc` in every page (playwright's addInitScript), and a test's `page.evaluate` body calls
 * `(globalThis as unknown as WithSrs).srs.whep(api, stream)` instead of repeating the offer/answer exchange.
 * The function is serialized into the page: it may use only browser APIs and nothing from its module.
 */

export interface PageWhep {
  pc: RTCPeerConnection;
  /** The WHEP POST's HTTP status (201 when the answer was applied). */
  status: number;
  /** The answer SDP, or the error body. */
  answer: string;
  location: string | null;
}

export interface PageWebrtc {
  /**
   * A recvonly video + audio offer POSTed to `${api}/rtc/v1/whep/?app=live&stream=${stream}`; on 201 the answer is
   * applied. `audio`: the audio track plays in an <audio> element (else Chromium decodes no samples).
   */
  whep(api: string, stream: string, opts?: { audio?: boolean }): Promise<PageWhep>;
  /** The numeric fields of the inbound-rtp stats, by kind ("video", "audio"). */
  inbound(pc: RTCPeerConnection): Promise<Record<string, Record<string, number>>>;
}

export type WithSrs = { srs: PageWebrtc };

export function installPageWebrtc(): void {
  const lib: PageWebrtc = {
    async whep(api, stream, opts = {}) {
      const pc = new RTCPeerConnection();
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      if (opts.audio) {
        const ms = new MediaStream();
        pc.ontrack = (e) => {
          ms.addTrack(e.track);
          if (e.track.kind !== "audio") return;
          const el = document.createElement("audio");
          el.autoplay = true;
          el.srcObject = ms;
          document.body.appendChild(el);
          void el.play().catch(() => {});
        };
      }
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(`${api}/rtc/v1/whep/?app=live&stream=${stream}`, {
        method: "POST", body: pc.localDescription!.sdp, headers: { "Content-Type": "application/sdp" },
      });
      const answer = await res.text();
      if (res.status === 201) await pc.setRemoteDescription({ type: "answer", sdp: answer });
      return { pc, status: res.status, answer, location: res.headers.get("location") };
    },
    async inbound(pc) {
      const out: Record<string, Record<string, number>> = {};
      (await pc.getStats()).forEach((x: Record<string, unknown>) => {
        if (x.type !== "inbound-rtp") return;
        const fields: Record<string, number> = {};
        for (const [k, v] of Object.entries(x)) if (typeof v === "number") fields[k] = v;
        out[String(x.kind)] = fields;
      });
      return out;
    },
  };
  (globalThis as unknown as WithSrs).srs = lib;
}
