/**
 * TCP listeners and connections for the servers (RTMP, WebRTC over TCP, GB28181 SIP) and the RTMP client, in the
 * runtime's own API: `Bun.listen`/`Bun.connect` under Bun (tcp-bun.ts), `node:net` elsewhere (tcp-node.ts, Deno).
 *
 * Why not node:net everywhere: under Bun, node:net is a JavaScript layer (streams, event emitters) over the same
 * native sockets, and loading it costs ~3.5 MB of RSS at start (probes of compiled executables: a Bun.serve with
 * fs and path 36.3 MB; the same plus node:net 39.8; plus node:net and node:dgram 41.8), and each of its sockets
 * carries a stream's state. The implementation module is imported on first use, so a Bun process never loads
 * node:net.
 *
 * The connection keeps node:net's meaning where our code relies on it: `write` never drops bytes (what the kernel
 * does not take at once is queued and sent on the next writable event) and returns false once that queue holds
 * 16 KB or more; the caller must not change bytes it wrote (node:net keeps a reference until they are sent; the
 * Bun implementation copies what it queues); `writableLength` is the queue; "drain" when it empties; "close" once, after "error" if any;
 * `end()` sends what is queued, then FIN; `destroy()` closes at once.
 */
import type { Buffer } from "node:buffer";
import { runtimeName } from "./platform.ts";

export interface TcpErrorLike extends Error {
  code?: string;
}

export interface TcpEvents {
  /** A fresh Buffer per read under both runtimes (never reused by the runtime: parsers may keep views of it). */
  data: (chunk: Buffer) => void;
  close: () => void;
  error: (e: TcpErrorLike) => void;
  drain: () => void;
}
export type TcpEventName = keyof TcpEvents;

export interface TcpConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Bytes accepted by `write` and not yet taken by the kernel. */
  readonly writableLength: number;
  /** A write returned false and "drain" has not come yet. */
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  write(data: Uint8Array): boolean;
  /** Sends what is queued, then closes the sending side (the connection closes when the peer closes too). */
  end(): void;
  /** Closes now; queued bytes are dropped. */
  destroy(): void;
  setNoDelay(on: boolean): void;
  on<E extends TcpEventName>(event: E, fn: TcpEvents[E]): void;
  off<E extends TcpEventName>(event: E, fn: TcpEvents[E]): void;
}

export interface TcpServer {
  /** The bound port (the system's choice for port 0). */
  readonly port: number;
  /** Stops accepting; resolves once every connection this listener accepted has closed. */
  close(): Promise<void>;
}

export interface TcpListenOptions {
  host: string;
  port: number;
  ipv6Only?: boolean;
  /** SO_REUSEPORT (workers share a port). */
  reusePort?: boolean;
  noDelay?: boolean;
}

export interface TcpConnectOptions {
  host: string;
  port: number;
  noDelay?: boolean;
}

export interface TcpImpl {
  listenTcp(o: TcpListenOptions, onConnection: (c: TcpConnection) => void): Promise<TcpServer>;
  connectTcp(o: TcpConnectOptions): Promise<TcpConnection>;
}

/** node:net's high-water mark: `write` returns false from this much queued. */
export const TCP_HIGH_WATER = 16 * 1024;

let impl: Promise<TcpImpl> | undefined;
function load(): Promise<TcpImpl> {
  impl ??= runtimeName() === "bun" ? import("./tcp-bun.ts") : import("./tcp-node.ts");
  return impl;
}

/** Listens on `o.host:o.port`; errors carry the system code (`EADDRINUSE`) in `code`. */
export async function listenTcp(o: TcpListenOptions, onConnection: (c: TcpConnection) => void): Promise<TcpServer> {
  return (await load()).listenTcp(o, onConnection);
}

/** Connects to `o.host:o.port`; rejects with the system's error (`ECONNREFUSED` in `code`). */
export async function connectTcp(o: TcpConnectOptions): Promise<TcpConnection> {
  return (await load()).connectTcp(o);
}

/** The listeners of one connection, by event: both implementations' connections extend it. */
export class TcpListeners {
  private readonly lists: { [E in TcpEventName]: TcpEvents[E][] } = { data: [], close: [], error: [], drain: [] };

  on<E extends TcpEventName>(event: E, fn: TcpEvents[E]): void {
    this.lists[event].push(fn);
  }

  off<E extends TcpEventName>(event: E, fn: TcpEvents[E]): void {
    const list = this.lists[event];
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  }

  emitData(chunk: Buffer): void {
    for (const fn of this.lists.data) fn(chunk);
  }
  emitClose(): void {
    for (const fn of [...this.lists.close]) fn();
  }
  emitError(e: TcpErrorLike): void {
    for (const fn of [...this.lists.error]) fn(e);
  }
  emitDrain(): void {
    for (const fn of [...this.lists.drain]) fn();
  }
}

/** The "address in use" style error both implementations throw from listenTcp. */
export function listenError(o: TcpListenOptions, cause: unknown): TcpErrorLike {
  const c = cause as TcpErrorLike;
  const e: TcpErrorLike = new Error(c?.message ?? String(cause));
  e.code = c?.code ?? (/in use/i.test(String(c?.message)) ? "EADDRINUSE" : undefined);
  if (e.code === "EADDRINUSE") e.message = `listen ${o.host}:${o.port}: address already in use`;
  return e;
}
