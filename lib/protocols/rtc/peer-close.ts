/**
 * Noticing that a WebRTC peer left, at once instead of after stun_timeout:
 *  - a DTLS alert (close_notify on pc.close(), RFC 6347 4.1 / RFC 5246 7.2.1): werift's DTLS transport goes to
 *    "closed" (or "failed"), but its RTCPeerConnection does not follow, so we watch the transport;
 *  - an RTCP BYE (RFC 3550 6.6, packet type 203) in a compound SRTCP packet: werift's RTCP parser skips BYE,
 *    so the decrypted compound is scanned here (headers only: RFC 3550 6.4.1, length in 32-bit words minus one).
 * Like ice.ts, this reaches into werift's internals (the DTLS transport's SRTCP session); kept to this file.
 */
import type { RTCPeerConnection } from "werift";

/** RTCP packet type of BYE (RFC 3550 12.1). */
export const RTCP_BYE = 203;

/** True when the (decrypted) compound RTCP packet `d` holds a BYE. Stops at the first malformed header. */
export function hasRtcpBye(d: Uint8Array): boolean {
  let pos = 0;
  while (pos + 4 <= d.byteLength) {
    if (d[pos]! >> 6 !== 2) return false; // version 2
    if (d[pos + 1] === RTCP_BYE) return true;
    pos += ((d[pos + 2]! << 8 | d[pos + 3]!) + 1) * 4;
  }
  return false;
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
