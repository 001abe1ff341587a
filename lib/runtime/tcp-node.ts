/** tcp.ts outside Bun (Deno, Node): node:net, whose sockets already queue and emit as tcp.ts describes. */
import type { Buffer } from "node:buffer";
import { connect, createServer, type Socket } from "node:net";
import {
  listenError,
  type TcpConnection,
  type TcpConnectOptions,
  TcpListeners,
  type TcpListenOptions,
  type TcpServer,
} from "./tcp.ts";

class NodeConnection extends TcpListeners implements TcpConnection {

  constructor(private readonly s: Socket) {
    super();
    s.on("data", (d: Buffer) => this.emitData(d));
    s.on("error", (e) => this.emitError(e));
    s.on("close", () => this.emitClose());
    s.on("drain", () => this.emitDrain());
  }

  get remoteAddress(): string {
    return this.s.remoteAddress ?? "";
  }
  get remotePort(): number {
    return this.s.remotePort ?? 0;
  }
  get localAddress(): string {
    return this.s.localAddress ?? "";
  }
  get localPort(): number {
    return this.s.localPort ?? 0;
  }
  get bytesRead(): number {
    return this.s.bytesRead;
  }
  get bytesWritten(): number {
    return this.s.bytesWritten;
  }
  get writableLength(): number {
    return this.s.writableLength;
  }
  get writableNeedDrain(): boolean {
    return this.s.writableNeedDrain;
  }
  get destroyed(): boolean {
    return this.s.destroyed;
  }
  write(data: Uint8Array): boolean {
    return this.s.write(data);
  }
  end(): void {
    this.s.end();
  }
  destroy(): void {
    this.s.destroy();
  }
  setNoDelay(on: boolean): void {
    this.s.setNoDelay(on);
  }
}

export async function listenTcp(o: TcpListenOptions, onConnection: (c: TcpConnection) => void): Promise<TcpServer> {
  const server = createServer({ noDelay: o.noDelay ?? false }, (s) => onConnection(new NodeConnection(s)));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(listenError(o, e)));
    server.listen({ port: o.port, host: o.host, ipv6Only: o.ipv6Only === true, reusePort: o.reusePort === true, exclusive: true }, () => resolve());
  });
  server.on("error", () => {});
  const addr = server.address();
  let closing: Promise<void> | undefined;
  return {
    port: typeof addr === "object" && addr ? addr.port : o.port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closing;
    },
  };
}

export async function connectTcp(o: TcpConnectOptions): Promise<TcpConnection> {
  const s = connect({ host: o.host, port: o.port });
  if (o.noDelay !== undefined) s.setNoDelay(o.noDelay);
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => {
      s.off("error", reject);
      resolve();
    });
    s.once("error", reject);
  });
  return new NodeConnection(s);
}
