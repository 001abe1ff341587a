/**
 * lib/runtime/tcp.ts and udp.ts: both implementations (Bun's native sockets, node:net/node:dgram as under Deno) run
 * here, under Bun, against real loopback sockets, and must behave alike where the servers rely on it.
 */
import { describe, expect, test } from "bun:test";
import { createHmac, createHash } from "node:crypto";
import * as tcpBun from "../../../lib/runtime/tcp-bun.ts";
import * as tcpNode from "../../../lib/runtime/tcp-node.ts";
import * as udpBun from "../../../lib/runtime/udp-bun.ts";
import * as udpNode from "../../../lib/runtime/udp-node.ts";
import type { TcpConnection, TcpImpl } from "../../../lib/runtime/tcp.ts";
import type { UdpImpl, UdpRemote } from "../../../lib/runtime/udp.ts";
import { hmac, randomBytes, randomInt } from "../../../lib/runtime/hash.ts";

const TCP: [string, TcpImpl][] = [["bun", tcpBun], ["node", tcpNode]];
const UDP: [string, UdpImpl][] = [["bun", udpBun], ["node", udpNode]];

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() > end) {
        clearInterval(t);
        reject(new Error("timed out"));
      }
    }, 2);
  });
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

for (const [name, impl] of TCP) {
  describe(`tcp (${name})`, () => {
    test("8 MB to a peer that reads late: write queues (and copies) what the kernel does not take, drain, bytes in order", async () => {
      const got: Uint8Array[] = [];
      let serverSide: TcpConnection | undefined;
      const server = await impl.listenTcp({ host: "127.0.0.1", port: 0 }, (c) => {
        serverSide = c;
        c.on("data", (d) => got.push(new Uint8Array(d)));
      });
      const client = await impl.connectTcp({ host: "127.0.0.1", port: server.port, noDelay: true });
      const src = pattern(8 << 20);
      let chunk = new Uint8Array(256 << 10);
      let returnedFalse = false;
      let drains = 0;
      client.on("drain", () => drains++);
      for (let o = 0; o < src.length; o += chunk.length) {
        chunk.set(src.subarray(o, o + chunk.length));
        if (!client.write(chunk)) returnedFalse = true;
        // Bun's implementation copies what it queues, so even a reused buffer arrives intact there; node:net keeps a
        // reference (callers never change written bytes), so the node implementation gets a fresh one.
        if (name === "bun") chunk.fill(0xee);
        else chunk = new Uint8Array(256 << 10);
      }
      expect(returnedFalse).toBe(true);
      expect(client.writableLength).toBeGreaterThan(0);
      await until(() => got.reduce((n, b) => n + b.length, 0) >= src.length, 20000);
      const all = Buffer.concat(got);
      expect(all.length).toBe(src.length);
      expect(Buffer.compare(all, Buffer.from(src))).toBe(0);
      await until(() => client.writableLength === 0 && drains > 0);
      expect(client.bytesWritten).toBe(src.length);
      expect(serverSide!.bytesRead).toBe(src.length);
      expect(serverSide!.remoteAddress.replace(/^::ffff:/, "")).toBe("127.0.0.1");
      expect(serverSide!.remotePort).toBe(client.localPort);
      client.destroy();
      await server.close();
    }, 30000);

    test("end() sends what is queued first; the peer sees close; close() resolves once connections are gone", async () => {
      let total = 0;
      let closed = false;
      const server = await impl.listenTcp({ host: "127.0.0.1", port: 0 }, (c) => {
        c.on("data", (d) => (total += d.length));
        c.on("close", () => (closed = true));
      });
      const client = await impl.connectTcp({ host: "127.0.0.1", port: server.port });
      let clientClosed = 0;
      client.on("close", () => clientClosed++);
      client.write(pattern(4 << 20));
      client.end();
      let serverClosed = false;
      void server.close().then(() => (serverClosed = true));
      await until(() => closed && clientClosed === 1 && serverClosed, 20000);
      expect(total).toBe(4 << 20);
      // a new connection is refused once close() was called
      await expect(impl.connectTcp({ host: "127.0.0.1", port: server.port })).rejects.toThrow();
      expect(client.destroyed).toBe(true);
      expect(client.write(new Uint8Array(1))).toBe(false);
    }, 30000);

    test("destroy() closes at once: close comes once, on both sides", async () => {
      let serverClosed = 0;
      const server = await impl.listenTcp({ host: "127.0.0.1", port: 0 }, (c) => c.on("close", () => serverClosed++));
      const client = await impl.connectTcp({ host: "127.0.0.1", port: server.port });
      let clientClosed = 0;
      client.on("close", () => clientClosed++);
      client.write(pattern(1000));
      client.destroy();
      client.destroy();
      await until(() => serverClosed === 1 && clientClosed === 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(serverClosed).toBe(1);
      expect(clientClosed).toBe(1);
      await server.close();
    });

    test("a port in use: EADDRINUSE; with reusePort on both, two listeners share it", async () => {
      const a = await impl.listenTcp({ host: "127.0.0.1", port: 0 }, () => {});
      const e = await impl.listenTcp({ host: "127.0.0.1", port: a.port }, () => {}).catch((x) => x);
      expect((e as { code?: string }).code).toBe("EADDRINUSE");
      await a.close();
      const r1 = await impl.listenTcp({ host: "127.0.0.1", port: 0, reusePort: true }, () => {});
      const r2 = await impl.listenTcp({ host: "127.0.0.1", port: r1.port, reusePort: true }, () => {});
      expect(r2.port).toBe(r1.port);
      await r1.close();
      await r2.close();
    });

    test("ipv6Only: [::] and 0.0.0.0 on one port", async () => {
      const v4 = await impl.listenTcp({ host: "0.0.0.0", port: 0 }, () => {});
      const v6 = await impl.listenTcp({ host: "::", port: v4.port, ipv6Only: true }, () => {});
      expect(v6.port).toBe(v4.port);
      await v4.close();
      await v6.close();
    });

    test("connect to a closed port rejects with ECONNREFUSED", async () => {
      const a = await impl.listenTcp({ host: "127.0.0.1", port: 0 }, () => {});
      const port = a.port;
      await a.close();
      const e = await impl.connectTcp({ host: "127.0.0.1", port }).catch((x) => x);
      expect(String((e as { code?: string }).code ?? e)).toContain("ECONNREFUSED");
    });
  });
}

for (const [name, impl] of UDP) {
  describe(`udp (${name})`, () => {
    test("datagrams both ways; the sender may reuse its buffer at once; buffer sizes set", async () => {
      const got: { d: Uint8Array; from: UdpRemote }[] = [];
      const a = await impl.bindUdp({ host: "127.0.0.1", port: 0, onMessage: (d, from) => got.push({ d, from }) });
      const back: Uint8Array[] = [];
      const b = await impl.bindUdp({ host: "127.0.0.1", port: 0, onMessage: (d) => back.push(d) });
      expect(a.setBufferSizes(1 << 20, 1 << 20)).toBe(true);
      const buf = new Uint8Array(1200);
      for (let i = 0; i < 50; i++) {
        buf.fill(i);
        expect(b.send(buf, a.port, "127.0.0.1")).toBe(true);
      }
      await until(() => got.length === 50);
      for (let i = 0; i < 50; i++) {
        expect(got[i]!.d.length).toBe(1200);
        expect(got[i]!.d[0]).toBe(i);
        expect(got[i]!.d[1199]).toBe(i);
      }
      expect(got[0]!.from).toEqual({ address: "127.0.0.1", port: b.port, family: "IPv4" });
      // datagrams are kept whole and not reused by the runtime
      expect(new Set(got.map((g) => g.d[0])).size).toBe(50);
      if (a.sendMany) {
        expect(a.sendMany([new Uint8Array([1]), b.port, "127.0.0.1", new Uint8Array([2, 2]), b.port, "127.0.0.1"])).toBe(2);
        await until(() => back.length === 2);
        expect(back.map((x) => x.length)).toEqual([1, 2]);
      } else {
        expect(name).toBe("node");
      }
      await a.close();
      await b.close();
      expect(a.send(buf, b.port, "127.0.0.1")).toBe(false);
    });

    test("a port in use: EADDRINUSE; ipv6Only lets [::] share a port with 0.0.0.0; reusePort shares one", async () => {
      const a = await impl.bindUdp({ host: "0.0.0.0", port: 0, onMessage: () => {} });
      const e = await impl.bindUdp({ host: "0.0.0.0", port: a.port, onMessage: () => {} }).catch((x) => x);
      expect((e as { code?: string }).code).toBe("EADDRINUSE");
      const v6 = await impl.bindUdp({ host: "::", port: a.port, ipv6Only: true, onMessage: () => {} });
      expect(v6.port).toBe(a.port);
      await a.close();
      await v6.close();
      const r1 = await impl.bindUdp({ host: "127.0.0.1", port: 0, reusePort: true, onMessage: () => {} });
      const r2 = await impl.bindUdp({ host: "127.0.0.1", port: r1.port, reusePort: true, onMessage: () => {} });
      expect(r2.port).toBe(r1.port);
      await r1.close();
      await r2.close();
    });

    test("sending to a port nobody listens on does not throw nor report an error", async () => {
      const errors: Error[] = [];
      const a = await impl.bindUdp({ host: "127.0.0.1", port: 0, onMessage: () => {}, onError: (e) => errors.push(e) });
      const gone = await impl.bindUdp({ host: "127.0.0.1", port: 0, onMessage: () => {} });
      const port = gone.port;
      await gone.close();
      for (let i = 0; i < 20; i++) a.send(new Uint8Array(10), port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 100));
      expect(errors).toEqual([]);
      await a.close();
    });
  });
}

describe("hash.ts", () => {
  test("HMAC-SHA256 and HMAC-SHA1 equal node:crypto's (RFC 4231 case 2, RFC 2202 case 2, binary keys, parts)", () => {
    expect(Buffer.from(hmac("sha256", "Jefe", "what do ya want ", "for nothing?")).toString("hex"))
      .toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(Buffer.from(hmac("sha1", "Jefe", "what do ya want for nothing?")).toString("hex"))
      .toBe("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(1 + (i * 13) % 100);
      const data = randomBytes((i * 97) % 3000);
      expect(Buffer.from(hmac("sha256", key, data.subarray(0, 7), data.subarray(7)))).toEqual(createHmac("sha256", key).update(data).digest());
      expect(Buffer.from(hmac("sha1", key, data))).toEqual(createHmac("sha1", key).update(data).digest());
    }
  });

  test("randomBytes fills any length (beyond getRandomValues' 64 KiB); randomInt stays in range and covers it", () => {
    const big = randomBytes(200_000);
    expect(big.length).toBe(200_000);
    expect(createHash("sha1").update(big.subarray(150_000)).digest("hex")).not.toBe(createHash("sha1").update(new Uint8Array(50_000)).digest("hex"));
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = randomInt(3, 13);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThan(13);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
    const wide = randomInt(1, 0x7fffffff);
    expect(wide >= 1 && wide < 0x7fffffff).toBe(true);
    expect(() => randomInt(5, 5)).toThrow();
  });
});
