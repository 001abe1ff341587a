/**
 * The UDP socket pair of one RTP track (RFC 3550 11: RTP on an even port, RTCP on the next one when we can get
 * them; any two ports otherwise, the Transport header names both), on the runtime's UDP sockets
 * (lib/runtime/udp.ts). What arrives goes to `onRtp` / `onRtcp`, set by the owner once it knows the peer.
 */
import type { Buffer } from "node:buffer";
import { bindUdp, type UdpRemote, type UdpSocket } from "../../runtime/udp.ts";

export interface UdpPair {
  rtp: UdpSocket;
  rtcp: UdpSocket;
  ports: [number, number];
  onRtp?: (data: Buffer, from: UdpRemote) => void;
  onRtcp?: (data: Buffer, from: UdpRemote) => void;
}

/** Binds a pair on `host` (consecutive ports when possible). */
export async function bindPair(host: string): Promise<UdpPair> {
  const addr = host.replace(/^::ffff:/, "");
  const pair: Partial<UdpPair> = {};
  const bind = (port: number, rtcp: boolean): Promise<UdpSocket> => bindUdp({
    host: addr,
    port,
    onMessage: (data, from) => (rtcp ? pair.onRtcp : pair.onRtp)?.(data, from),
    onError: () => undefined,
  });
  let rtp: UdpSocket | undefined;
  let rtcp: UdpSocket | undefined;
  for (let i = 0; i < 8 && !rtcp; i++) {
    rtp = await bind(0, false);
    try {
      rtcp = await bind(rtp.port + 1, true);
    } catch {
      void rtp.close();
      rtp = undefined;
    }
  }
  if (!rtp || !rtcp) {
    rtp = await bind(0, false);
    rtcp = await bind(0, true);
  }
  pair.rtp = rtp;
  pair.rtcp = rtcp;
  pair.ports = [rtp.port, rtcp.port];
  return pair as UdpPair;
}

export function closePair(u: UdpPair): void {
  u.onRtp = undefined;
  u.onRtcp = undefined;
  void u.rtp.close().catch(() => undefined);
  void u.rtcp.close().catch(() => undefined);
}
