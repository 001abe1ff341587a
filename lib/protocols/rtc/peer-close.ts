/**
 * Noticing that a WebRTC peer left, at once instead of after stun_timeout:
 *  - a DTLS alert (close_notify on pc.close(), RFC 6347 4.1 / RFC 5246 7.2.1): werift's DTLS transport goes to
 *    "closed" (or "failed"), but its RTCPeerConnection does not follow, so we watch the transport;
 *  - an RTCP BYE (RFC 3550 6.6, packet type 203) in a compound SRTCP packet: werift's RTCP parser skips BYE,
 *    so the decrypted compound is read here with rtcp.ts's reader (the one a released viewer's RTCP goes through).
 * Like ice.ts, this reaches into werift's internals (the DTLS transport's SRTCP session); kept to this file.
 */
import type { RTCPeerConnection } from "werift";
import { readRtcp } from "./rtcp.ts";

/** True when the (decrypted) compound RTCP packet `d` holds a BYE (rtcp.ts reads it; a malformed header ends it). */
export function hasRtcpBye(d: Uint8Array): boolean {
  return readRtcp(d).some((it) => it.type === "bye");
}

interface SrtcpDecryptor {
  decrypt(d: Buffer): Buffer;
}

/** Calls `onClose` once, with the reason, when the peer closes its DTLS association or sends an RTCP BYE. */
export function watchPeerClose(pc: RTCPeerConnection, onClose: (why: string) => void): void {
  let done = false;
  const fire = (why: string) => {
    if (done) return;
    done = true;
    onClose(why);
  };
  for (const t of pc.dtlsTransports) {
    t.onStateChange.subscribe((state) => {
      if (state === "closed") fire("DTLS closed by peer (alert)");
      else if (state === "failed") fire("DTLS failed");
      else if (state === "connected") {
        // SRTCP starts just before "connected": wrap its decrypt to see each compound packet once.
        const srtcp = (t as unknown as { srtcp?: SrtcpDecryptor }).srtcp;
        if (!srtcp) return;
        const decrypt = srtcp.decrypt.bind(srtcp);
        srtcp.decrypt = (d) => {
          const out = decrypt(d);
          if (hasRtcpBye(out)) queueMicrotask(() => fire("RTCP BYE from peer"));
          return out;
        };
      }
    });
  }
}
