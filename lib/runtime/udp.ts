/**
 * UDP sockets for the servers (SRT, WebRTC, the MPEG-TS caster, GB28181) and the SRT caller, in the runtime's own
 * API: `Bun.udpSocket` under Bun (udp-bun.ts), `node:dgram` elsewhere (udp-node.ts, Deno). As with tcp.ts, a Bun
 * process then never loads node:dgram (~2 MB of RSS at start: a compiled Bun.serve with fs, path and Bun's native
 * sockets idles at 36.3 MB, with node:dgram in place of the native UDP socket 39.8).
 *
 * `send` is synchronous as far as the caller is concerned: the bytes may be reused as soon as it returns (Bun
 * copies them into the kernel with sendto(2); the node:dgram implementation copies them into a pooled buffer
 * until its asynchronous send completes). `sendMany` (Bun only) is one sendmmsg(2) for many datagrams.
 */
import type { Buffer } from "node:buffer";
import { runtimeName } from "./platform.ts";

export interface UdpRemote {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

export interface UdpSocket {
  /** The bound port (the system's choice for port 0). */
  readonly port: number;
  /** Sends one datagram; false when it was not (send buffer full, socket closed). Throws on a bad address. */
  send(data: Uint8Array, port: number, address: string): boolean;
  /**
   * Sends [bytes, port, address] triples, flattened, in one system call; the bytes may be reused once it returns.
   * Returns how many datagrams the kernel took. Undefined where the runtime has no such call (node:dgram).
   */
  readonly sendMany: ((list: (Uint8Array | number | string)[]) => number) | undefined;
  /** SO_RCVBUF / SO_SNDBUF, best effort (Linux caps them at rmem_max / wmem_max); false when not applied. */
  setBufferSizes(recv: number, send: number): boolean;
  close(): Promise<void>;
}

export interface UdpBindOptions {
  /** "0.0.0.0", "::", an interface address; an IPv6 address makes an IPv6 socket. */
  host: string;
  port: number;
  ipv6Only?: boolean;
  /** SO_REUSEPORT (workers share a port). */
  reusePort?: boolean;
  /** Each datagram, in a fresh Buffer (the runtime does not reuse it). */
  onMessage(data: Buffer, from: UdpRemote): void;
  onError?(e: Error): void;
}

export interface UdpImpl {
  bindUdp(o: UdpBindOptions): Promise<UdpSocket>;
}

let impl: Promise<UdpImpl> | undefined;
function load(): Promise<UdpImpl> {
  impl ??= runtimeName() === "bun" ? import("./udp-bun.ts") : import("./udp-node.ts");
  return impl;
}

/** Binds a UDP socket; errors carry the system code (`EADDRINUSE`) in `code`. */
export async function bindUdp(o: UdpBindOptions): Promise<UdpSocket> {
  return (await load()).bindUdp(o);
}

/** "IPv6" when `address` is an IPv6 address (IPv4-mapped ones included), else "IPv4". */
export function familyOfAddress(address: string): "IPv4" | "IPv6" {
  return address.includes(":") ? "IPv6" : "IPv4";
}
