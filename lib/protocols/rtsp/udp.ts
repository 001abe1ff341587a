/**
 * The UDP socket pair of one RTP track (RFC 3550 11: RTP on an even port, RTCP on the next one when we can get
 * them; any two ports otherwise, the Transport header names both).
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";

export interface UdpPair {
  rtp: UdpSocket;
  rtcp: UdpSocket;
  ports: [number, number];
}

/** Binds a UDP pair for RTP and RTCP (consecutive ports when possible, as RFC 3550 11 recommends). */
export async function bindPair(host: string): Promise<UdpPair> {
  const family = host.includes(":") && !host.startsWith("::ffff:") ? "udp6" : "udp4";
  const addr = host.replace(/^::ffff:/, "");
  const bind = (port: number): Promise<UdpSocket> => new Promise((resolve, reject) => {
    const s = createSocket(family);
    s.once("error", (e) => {
      s.close();
      reject(e);
    });
    s.bind(port, addr, () => {
      s.removeAllListeners("error");
      s.on("error", () => undefined);
      resolve(s);
    });
  });
  for (let i = 0; i < 8; i++) {
    const rtp = await bind(0);
    const port = rtp.address().port;
    try {
      const rtcp = await bind(port + 1);
      return { rtp, rtcp, ports: [port, port + 1] };
    } catch {
      rtp.close();
    }
  }
  const rtp = await bind(0);
  const rtcp = await bind(0);
  return { rtp, rtcp, ports: [rtp.address().port, rtcp.address().port] };
}

export function closePair(u: UdpPair): void {
  for (const s of [u.rtp, u.rtcp]) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
}
