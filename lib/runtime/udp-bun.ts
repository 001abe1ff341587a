/** udp.ts under Bun: `Bun.udpSocket` (https://bun.com/docs/api/udp); buffer sizes through sockopt-bun.ts. */
import type { Buffer } from "node:buffer";
import { familyOfAddress, type UdpBindOptions, type UdpSocket } from "./udp.ts";

export async function bindUdp(o: UdpBindOptions): Promise<UdpSocket> {
  let sock: import("bun").udp.Socket<"buffer">;
  try {
    sock = await Bun.udpSocket({
      hostname: o.host,
      port: o.port,
      binaryType: "buffer",
      // Not typed by bun-types 1.4.5: the socket flags node:dgram passes (uSockets' LIBUS_LISTEN_REUSE_PORT = 4,
      // LIBUS_SOCKET_IPV6_ONLY = 8); tests/e2e/ipv6.test.ts and workers.test.ts check both.
      ...({ flags: (o.reusePort ? 4 : 0) | (o.ipv6Only ? 8 : 0) } as object),
      socket: {
        data(_s, data: Buffer, port: number, address: string) {
          o.onMessage(data, { address, port, family: familyOfAddress(address) });
        },
        // Bun 1.4.5 calls this without an error when an ICMP error (port unreachable: a peer that went away) comes
        // back for one of our sends: nothing to do, as with node:dgram, which does not report those.
        error(_s, e: Error | undefined) {
          if (e instanceof Error) o.onError?.(e);
        },
      },
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const out: Error & { code?: string } = new Error(`bind udp ${o.host}:${o.port}: ${err.code === "EADDRINUSE" ? "address already in use" : err.message}`);
    out.code = err.code;
    throw out;
  }
  const native = sock;
  return {
    port: native.port,
    send(data, port, address) {
      if (native.closed) return false;
      try {
        return native.send(data, port, address);
      } catch (e) {
        if (!stale(e)) throw e;
        // The error was the kernel's report of an ICMP error for an earlier datagram; this one was not sent.
        try {
          return native.send(data, port, address);
        } catch (e2) {
          if (stale(e2)) return false;
          throw e2;
        }
      }
    },
    sendMany(list) {
      if (native.closed) return 0;
      try {
        return native.sendMany(list as never);
      } catch (e) {
        if (!stale(e)) throw e;
        try {
          return native.sendMany(list as never);
        } catch (e2) {
          if (stale(e2)) return 0;
          throw e2;
        }
      }
    },
    setBufferSizes(recv, send) {
      const fd = (native as unknown as { fd?: number }).fd;
      if (typeof fd !== "number") return false;
      return setSocketBuffers(fd, recv, send);
    },
    close() {
      if (!native.closed) native.close();
      return Promise.resolve();
    },
  };
}

/**
 * An error a send reports for an earlier datagram: Linux keeps the ICMP error (port or host unreachable) that came
 * back for one datagram and fails the next send(2) with it. node:dgram hands it to that send's callback, which our
 * callers ignored; a UDP server has nothing to do about a peer that went away but wait for its timeout.
 */
function stale(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN";
}

type SetBuffers = (fd: number, recv: number, send: number) => boolean;
let setter: SetBuffers | null | undefined;

/** SO_RCVBUF/SO_SNDBUF by setsockopt(2) through bun:ffi (Bun's UDP socket has no call for them), Linux and macOS. */
function setSocketBuffers(fd: number, recv: number, send: number): boolean {
  if (setter === undefined) setter = loadSetter();
  return setter ? setter(fd, recv, send) : false;
}

function loadSetter(): SetBuffers | null {
  const opts = process.platform === "linux"
    ? { level: 1, rcv: 8, snd: 7, libs: ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] }
    : process.platform === "darwin"
    ? { level: 0xffff, rcv: 0x1002, snd: 0x1001, libs: ["libc.dylib", "/usr/lib/libSystem.B.dylib"] }
    : undefined;
  if (!opts) return null;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    for (const lib of opts.libs) {
      try {
        const libc = ffi.dlopen(lib, {
          setsockopt: { args: [ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.ptr, ffi.FFIType.u32], returns: ffi.FFIType.i32 },
        });
        const value = new Int32Array(1);
        return (fd, recv, send) => {
          value[0] = recv;
          const a = libc.symbols.setsockopt(fd, opts.level, opts.rcv, ffi.ptr(value), 4);
          value[0] = send;
          const b = libc.symbols.setsockopt(fd, opts.level, opts.snd, ffi.ptr(value), 4);
          return a === 0 && b === 0;
        };
      } catch {
        // try the next name
      }
    }
  } catch {
    // no bun:ffi on this build
  }
  return null;
}
