/** The proxy's UDP listeners (WebRTC, SRT): one socket bound to an SRS-style listen value, with a periodic sweep. */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { Log } from "../log/logger.ts";
import { parseEndpoint } from "../net/endpoint.ts";

export interface UdpListener {
  readonly sock: Socket;
  readonly port: number;
  close(): void;
}

/**
 * Binds `value` ("port" or "ip:port"), hands every datagram to `onDatagram` and calls `sweep` every 5 s (expiring
 * idle relays); `what` names it in the log.
 */
export async function listenUdp(
  value: string,
  what: string,
  log: Log,
  onDatagram: (d: Uint8Array, from: RemoteInfo) => void,
  sweep: () => void,
): Promise<UdpListener> {
  const ep = parseEndpoint(value);
  const sock = createSocket(ep.host.includes(":") ? "udp6" : "udp4");
  sock.on("message", (d: Uint8Array, r) => onDatagram(d, r));
  sock.on("error", (e) => log.warn(`proxy: ${what} UDP: ${e.message}`));
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(ep.port, ep.host, () => resolve());
  });
  const port = sock.address().port;
  const timer = setInterval(sweep, 5000);
  (timer as { unref?: () => void }).unref?.();
  log.trace(`proxy: ${what} UDP listening on ${ep.host}:${port}`);
  return {
    sock,
    port,
    close: () => {
      clearInterval(timer);
      sock.close();
    },
  };
}
