/**
 * SrtServer on loopback with our caller and raw handshake packets: stateless cookies under an induction flood,
 * per-IP reply rate, bad cookies, max connections, async accept, idle timeout.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createSocket, type Socket } from "node:dgram";
import { srtConnect, SrtRejectError } from "../../../lib/protocols/srt/caller.ts";
import { encodeHandshake, encodeHsReq, EXT_HSREQ, HS_CONCLUSION, HS_INDUCTION } from "../../../lib/protocols/srt/handshake.ts";
import { CTRL_HANDSHAKE, HEADER_SIZE, writeControlHeader } from "../../../lib/protocols/srt/packet.ts";
import { SrtServer } from "../../../lib/protocols/srt/server.ts";
import { silentLog } from "../../../lib/log/logger.ts";

const servers: SrtServer[] = [];
const socks: Socket[] = [];
afterAll(async () => {
  for (const s of socks) s.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function server(opts: ConstructorParameters<typeof SrtServer>[0] = {}, hooks: ConstructorParameters<typeof SrtServer>[1] = {}) {
  const s = new SrtServer({ port: 0, host: "127.0.0.1", log: silentLog(), ...opts }, hooks);
  servers.push(s);
  const { port } = await s.listen();
  return { s, port };
}

async function rawSocket(onMsg: (m: Buffer) => void): Promise<Socket> {
  const sock = createSocket("udp4");
  socks.push(sock);
  sock.on("message", onMsg);
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  return sock;
}

function hsPacket(type: number, socketId: number, cookie: number, version: number, exts = [] as { type: number; data: Uint8Array }[]): Uint8Array {
  const cif = encodeHandshake({
    version, encryption: 0, extension: version === 4 ? 2 : 1, isn: 1000, mtu: 1500, flowWindow: 8192, type, socketId, cookie,
    peerIp: new Uint8Array(16), extensions: exts,
  });
  const p = new Uint8Array(HEADER_SIZE + cif.length);
  writeControlHeader(p, CTRL_HANDSHAKE, 0, 0, 0, 0);
  p.set(cif, HEADER_SIZE);
  return p;
}

describe("SrtServer", () => {
  test("induction flood: replies rate-limited per IP, no state kept, memory flat", async () => {
    const { s, port } = await server({ handshakeRatePerIp: 100 });
    let replies = 0;
    const sock = await rawSocket(() => replies++);
    Bun.gc(true);
    const heap0 = process.memoryUsage().heapUsed;
    const started = performance.now();
    for (let i = 0; i < 20000; i++) {
      sock.send(hsPacket(HS_INDUCTION, i + 1, 0, 4), port, "127.0.0.1");
      if (i % 500 === 499) await Bun.sleep(1);
    }
    // conclusions with made-up cookies: ignored
    for (let i = 0; i < 2000; i++) {
      sock.send(hsPacket(HS_CONCLUSION, i + 1, 0x12345678 + i, 5, [{ type: EXT_HSREQ, data: encodeHsReq({ version: 0x10501, flags: 0xbf, recvDelayMs: 120, sendDelayMs: 120 }) }]), port, "127.0.0.1");
    }
    await Bun.sleep(300);
    // the limiter's 1 s windows this flood touched, however long a busy machine made it last
    const windows = Math.ceil((performance.now() - started) / 1000) + 1;
    Bun.gc(true);
    const grown = process.memoryUsage().heapUsed - heap0;
    expect(s.connectionCount).toBe(0);
    expect(s.stats().handshakesIn).toBeGreaterThan(15000);
    expect(replies).toBeLessThanOrEqual(100 * windows); // 100/s per IP
    expect(s.stats().rateLimited).toBeGreaterThan(10000);
    expect(grown).toBeLessThan(8 * 1024 * 1024);
    // A real caller still gets in (next rate window).
    await Bun.sleep(1100);
    const c = await srtConnect({ host: "127.0.0.1", port, streamId: "after-flood" });
    expect(s.connectionCount).toBe(1);
    c.close();
  }, 20000);

  test("maxConnections → 1003 (SRT_REJ_RESOURCE); async accept sees the stream id", async () => {
    const seen: string[] = [];
    const { s, port } = await server({ maxConnections: 2 }, {
      accept: async (req) => {
        seen.push(`${req.streamId}@${req.peer.address}`);
        return true;
      },
    });
    const a = await srtConnect({ host: "127.0.0.1", port, streamId: "one" });
    const b = await srtConnect({ host: "127.0.0.1", port, streamId: "two" });
    const e = await srtConnect({ host: "127.0.0.1", port, streamId: "three" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SrtRejectError);
    expect((e as SrtRejectError).code).toBe(1003);
    expect(seen).toEqual(["one@127.0.0.1", "two@127.0.0.1"]); // refused before the hook runs
    expect(s.connectionCount).toBe(2);
    a.close();
    b.close();
  });

  test("accept hook: false → 1403, custom code, thrown error → 1003, slow hook → timeout 1016", async () => {
    const { port } = await server({ connectTimeout: 300 }, {
      accept: (req) => {
        if (req.streamId === "no") return false;
        if (req.streamId === "404") return { reject: 1404 };
        if (req.streamId === "slow") return new Promise((r) => setTimeout(() => r(true), 2000));
        throw new Error("boom");
      },
    });
    const code = async (sid: string) =>
      ((await srtConnect({ host: "127.0.0.1", port, streamId: sid, connectTimeout: 2000 }).catch((x: unknown) => x)) as SrtRejectError).code;
    expect(await code("no")).toBe(1403);
    expect(await code("404")).toBe(1404);
    expect(await code("boom")).toBe(1003);
    expect(await code("slow")).toBe(1016);
  });

  test("peer idle timeout closes a connection whose peer vanished", async () => {
    const { s, port } = await server({ peerIdleTimeout: 300 });
    const reasons: string[] = [];
    s.onConnection((c) => c.onClose((r) => reasons.push(r)));
    const c = await srtConnect({ host: "127.0.0.1", port, streamId: "ghost", peerIdleTimeout: 60000 });
    // Silence the caller without a SHUTDOWN: stop its socket from answering by closing it behind its back.
    (c as unknown as { transport: { send: () => void } }).transport.send = () => {};
    for (let waited = 0; s.connectionCount > 0 && waited < 5000; waited += 50) await Bun.sleep(50);
    expect(s.connectionCount).toBe(0);
    expect(reasons[0]).toContain("idle");
    c.close();
  });
});
