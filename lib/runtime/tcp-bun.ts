/**
 * tcp.ts under Bun: `Bun.listen` and `Bun.connect` (https://bun.com/docs/api/tcp). A Bun socket's `write` returns
 * how many bytes the kernel took and keeps nothing; the rest is queued here (copied, as Bun's node:net did: the
 * shared fan-out bytes stay small when one player lags) and written from the `drain` handler.
 */
import type { Buffer } from "node:buffer";
import {
  listenError,
  TCP_HIGH_WATER,
  type TcpConnection,
  type TcpConnectOptions,
  type TcpErrorLike,
  TcpListeners,
  type TcpListenOptions,
  type TcpServer,
} from "./tcp.ts";

type BunSocket = import("bun").Socket<BunConnection>;

class BunConnection extends TcpListeners implements TcpConnection {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ending = false;
  private closed = false;
  private needDrain = false;
  bytesRead = 0;
  bytesWritten = 0;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;

  constructor(private readonly socket: BunSocket, readonly onGone?: (c: BunConnection) => void) {
    super();
    this.remoteAddress = socket.remoteAddress ?? "";
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? "";
    this.localPort = socket.localPort ?? 0;
  }

  get writableLength(): number {
    return this.queued;
  }
  get writableNeedDrain(): boolean {
    return this.needDrain;
  }
  get destroyed(): boolean {
    return this.closed;
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.ending || data.byteLength === 0) return !this.closed && !this.ending;
    if (this.queued === 0) {
      const n = this.socket.write(data);
      if (n > 0) this.bytesWritten += n;
      if (n >= data.byteLength) return true;
      this.enqueue(data.slice(Math.max(0, n)));
    } else {
      this.enqueue(data.slice());
    }
    const ok = this.queued < TCP_HIGH_WATER;
    if (!ok) this.needDrain = true;
    return ok;
  }

  private enqueue(copy: Uint8Array): void {
    this.queue.push(copy);
    this.queued += copy.byteLength;
  }

  /** Bun's drain handler: write what is queued; "drain" once it is all out. */
  onWritable(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      const n = this.socket.write(head);
      if (n > 0) {
        this.bytesWritten += n;
        this.queued -= n;
      }
      if (n < head.byteLength) {
        if (n > 0) this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.closed) return;
    if (this.ending) {
      this.socket.end();
      return;
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.emitDrain();
    }
  }

  onData(chunk: Buffer): void {
    this.bytesRead += chunk.byteLength;
    this.emitData(chunk);
  }

  onError(e: TcpErrorLike): void {
    this.emitError(e);
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.onGone?.(this);
    this.emitClose();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queued === 0) this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.terminate();
    // Bun calls the close handler from terminate(); make sure "close" comes even if it did not.
    this.onClose();
  }

  setNoDelay(on: boolean): void {
    this.socket.setNoDelay(on);
  }

}

/** The handlers every Bun socket of ours uses: they forward to the BunConnection in `socket.data`. */
const handlers = {
  data(s: BunSocket, chunk: Buffer) {
    s.data?.onData(chunk);
  },
  drain(s: BunSocket) {
    s.data?.onWritable();
  },
  error(s: BunSocket, e: Error | undefined) {
    s.data?.onError((e instanceof Error ? e : new Error(String(e ?? "socket error (no detail)"))) as TcpErrorLike);
  },
  close(s: BunSocket) {
    s.data?.onClose();
  },
};

export async function listenTcp(o: TcpListenOptions, onConnection: (c: TcpConnection) => void): Promise<TcpServer> {
  const live = new Set<BunConnection>();
  const waiters: (() => void)[] = [];
  const gone = (c: BunConnection) => {
    live.delete(c);
    if (live.size === 0) for (const w of waiters.splice(0)) w();
  };
  let listener: import("bun").TCPSocketListener<BunConnection>;
  try {
    listener = Bun.listen<BunConnection>({
      hostname: o.host,
      port: o.port,
      // Not typed by bun-types 1.4.5 on listen, but honoured (node:net passes them the same way).
      ...({ ipv6Only: o.ipv6Only === true, reusePort: o.reusePort === true } as object),
      socket: {
        ...handlers,
        open(s) {
          if (o.noDelay !== undefined) s.setNoDelay(o.noDelay);
          const c = new BunConnection(s, gone);
          s.data = c;
          live.add(c);
          onConnection(c);
        },
      },
    });
  } catch (e) {
    throw listenError(o, e);
  }
  let stopped = false;
  return {
    port: listener.port,
    close(): Promise<void> {
      if (!stopped) {
        stopped = true;
        listener.stop(false);
      }
      if (live.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

export async function connectTcp(o: TcpConnectOptions): Promise<TcpConnection> {
  let conn: BunConnection | undefined;
  await Bun.connect<BunConnection>({
    hostname: o.host,
    port: o.port,
    socket: {
      ...handlers,
      open(s) {
        if (o.noDelay !== undefined) s.setNoDelay(o.noDelay);
        conn = new BunConnection(s);
        s.data = conn;
      },
    },
  });
  if (!conn) throw new Error(`connect ${o.host}:${o.port}: no connection`);
  return conn;
}

