/** udp.ts outside Bun (Deno, Node): node:dgram; `send` copies into pooled buffers until its callback. */
import { createSocket, type SocketOptions } from "node:dgram";
import { familyOfAddress, type UdpBindOptions, type UdpSocket } from "./udp.ts";

/** Pooled buffers fit one MTU-sized datagram; larger ones get a buffer of their own. */
const POOLED = 2048;

export async function bindUdp(o: UdpBindOptions): Promise<UdpSocket> {
  const options: SocketOptions & { reusePort?: boolean } = {
    type: o.host.includes(":") ? "udp6" : "udp4",
    ipv6Only: o.ipv6Only === true,
    reusePort: o.reusePort === true,
  };
  const sock = createSocket(options);
  await new Promise<void>((resolve, reject) => {
    sock.once("error", (e: Error & { code?: string }) => {
      const out: Error & { code?: string } = new Error(`bind udp ${o.host}:${o.port}: ${e.code === "EADDRINUSE" ? "address already in use" : e.message}`);
      out.code = e.code;
      reject(out);
    });
    sock.bind(o.port, o.host, () => resolve());
  });
  sock.removeAllListeners("error");
  sock.on("error", (e) => o.onError?.(e));
  sock.on("message", (msg, r) => o.onMessage(msg, { address: r.address, port: r.port, family: familyOfAddress(r.address) }));
  // Sends complete in order: a FIFO of the buffers in flight, returned to the pool by each callback.
  const free: Uint8Array[] = [];
  let inflight: Uint8Array[] = [];
  let head = 0;
  let closed = false;
  const onSent = () => {
    const b = inflight[head];
    if (b !== undefined) {
      inflight[head] = undefined as unknown as Uint8Array;
      head++;
      if (free.length < 1024 && b.byteLength === POOLED) free.push(b);
    }
    if (head > 1024 && head * 2 > inflight.length) {
      inflight = inflight.slice(head);
      head = 0;
    }
  };
  return {
    port: sock.address().port,
    send(data, port, address) {
      if (closed) return false;
      const b = data.byteLength <= POOLED ? (free.pop() ?? new Uint8Array(POOLED)) : new Uint8Array(data.byteLength);
      b.set(data, 0);
      inflight.push(b);
      try {
        sock.send(b, 0, data.byteLength, port, address, onSent);
        return true;
      } catch (e) {
        inflight.pop();
        if (/closed|not running/i.test(String(e))) return false;
        throw e;
      }
    },
    sendMany: undefined,
    setBufferSizes(recv, send) {
      try {
        sock.setRecvBufferSize(recv);
        sock.setSendBufferSize(send);
        return true;
      } catch {
        return false;
      }
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => sock.close(() => resolve()));
    },
  };
}
