import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { ChunkReader } from "../../../lib/protocols/rtmp/chunk-reader.ts";
import { decodeCommand } from "../../../lib/protocols/rtmp/commands.ts";
import {
  ClientHandshake,
  digestOffset,
  HANDSHAKE_SIZE,
  makeDigestPacket,
  ServerHandshake,
  validateC1,
  validateS1,
} from "../../../lib/protocols/rtmp/handshake.ts";
import type { HandshakeStep } from "../../../lib/protocols/rtmp/handshake.ts";
import { MSG_AMF0_COMMAND } from "../../../lib/protocols/rtmp/messages.ts";
import { clip } from "../../helpers/media.ts";

/** Runs client and server against each other in memory, feeding `split` bytes at a time. */
function pair(complex: boolean, split = 1 << 20, extra = new Uint8Array(0)) {
  const client = new ClientHandshake({ complex });
  const server = new ServerHandshake();
  const feed = (h: { feed(b: Uint8Array): HandshakeStep }, bytes: Uint8Array): HandshakeStep[] => {
    const steps: HandshakeStep[] = [];
    for (let o = 0; o < bytes.length; o += split) steps.push(h.feed(bytes.subarray(o, o + split)));
    return steps;
  };
  const c0c1 = client.start();
  expect(c0c1.length).toBe(1 + HANDSHAKE_SIZE);
  const s = feed(server, c0c1);
  const s0s1s2 = concat(s.map((x) => x.send).filter((x): x is Uint8Array => !!x));
  expect(s0s1s2.length).toBe(1 + 2 * HANDSHAKE_SIZE);
  const c = feed(client, s0s1s2);
  const last = c[c.length - 1]!;
  expect(last.done).toBe(true);
  expect(last.send!.length).toBe(HANDSHAKE_SIZE);
  const s2 = feed(server, concat([last.send!, extra]));
  const done = s2.find((x) => x.done)!;
  expect(done).toBeDefined();
  const rest = concat(s2.map((x) => x.rest).filter((x): x is Uint8Array => !!x));
  return { client, server, rest, s0s1s2 };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe("handshake: our client <-> our server", () => {
  test("complex (digest) handshake", () => {
    const { client, server, s0s1s2 } = pair(true);
    expect(server.complex).toBe(true);
    expect(server.schema).toBe(1);
    expect(client.serverComplex).toBe(true);
    expect(client.serverS2Valid).toBe(true);
    expect(s0s1s2[0]).toBe(3);
    expect(validateS1(s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE))?.schema).toBe(1);
  });

  test("complex handshake, schema 0 client", () => {
    const client = new ClientHandshake({ complex: true, schema: 0 });
    const server = new ServerHandshake();
    const r = server.feed(client.start());
    expect(server.schema).toBe(0);
    expect(validateS1(r.send!.subarray(1, 1 + HANDSHAKE_SIZE))?.schema).toBe(0);
    const c2 = client.feed(r.send!);
    expect(client.serverS2Valid).toBe(true);
    expect(server.feed(c2.send!).done).toBe(true);
  });

  test("simple handshake: echoes", () => {
    const { client, server, s0s1s2 } = pair(false);
    expect(server.complex).toBe(false);
    expect(client.serverComplex).toBe(false);
    // S2 echoes C1 (except its second time field)
    expect(s0s1s2.length).toBe(3073);
  });

  test("byte-at-a-time feeding and rest after C2", () => {
    const extra = new Uint8Array([1, 2, 3, 4, 5]);
    for (const complex of [true, false]) {
      const { rest } = pair(complex, 1, extra);
      expect(Array.from(rest)).toEqual([1, 2, 3, 4, 5]);
    }
    const { rest } = pair(true, 1000, extra);
    expect(Array.from(rest)).toEqual([1, 2, 3, 4, 5]);
  });

  test("a C1 with a broken digest falls back to simple", () => {
    const c1 = makeDigestPacket([9, 0, 124, 2], 1, new TextEncoder().encode("Genuine Adobe Flash Player 001"));
    expect(validateC1(c1)?.schema).toBe(1);
    c1[digestOffset(c1, 1)]! ^= 0xff;
    expect(validateC1(c1)).toBeUndefined();
    const server = new ServerHandshake();
    const r = server.feed(concat([new Uint8Array([3]), c1]));
    expect(server.complex).toBe(false);
    // S2 = C1 echoed, apart from bytes 4..7
    expect(Buffer.from(r.send!.subarray(1 + HANDSHAKE_SIZE + 8)).equals(Buffer.from(c1.subarray(8)))).toBe(true);
  });

  test("encrypted RTMP is refused", () => {
    const data = new Uint8Array(1 + HANDSHAKE_SIZE);
    data[0] = 6;
    expect(() => new ServerHandshake().feed(data)).toThrow("encrypted");
  });
});

// -----------------------------------------------------------------------------------------------------------
// Against FFmpeg

const children: ChildProcess[] = [];
const servers: Server[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const s of servers) s.close();
});

function listen(onConn: (s: Socket) => void): Promise<number> {
  return new Promise((res) => {
    const srv = createServer(onConn);
    servers.push(srv);
    srv.listen(0, "127.0.0.1", () => res((srv.address() as AddressInfo).port));
  });
}

function ffmpeg(args: string[]): ChildProcess {
  const p = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(p);
  return p;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what}: timeout`)), ms))]);
}

describe("handshake with FFmpeg", () => {
  test("FFmpeg's C1 carries a schema-1 digest (Flash Player key)", async () => {
    let resolveC1!: (b: Uint8Array) => void;
    const got = new Promise<Uint8Array>((r) => (resolveC1 = r));
    const port = await listen((sock) => {
      let buf: Uint8Array = new Uint8Array(0);
      sock.on("data", (d: Buffer) => {
        buf = concat([buf, new Uint8Array(d)]);
        if (buf.length >= 1 + HANDSHAKE_SIZE) {
          resolveC1(buf.slice(0, 1 + HANDSHAKE_SIZE));
          sock.destroy();
        }
      });
      sock.on("error", () => {});
    });
    const p = ffmpeg(["-re", "-i", clip("clip.flv"), "-c", "copy", "-f", "flv", `rtmp://127.0.0.1:${port}/live/s`]);
    const c0c1 = await timeout(got, 15000, "ffmpeg C1");
    p.kill("SIGKILL");
    expect(c0c1[0]).toBe(3);
    const c1 = c0c1.subarray(1);
    expect(c1[4]).not.toBe(0); // a version: complex handshake
    const v = validateC1(c1);
    expect(v).toBeDefined();
    expect(v!.schema).toBe(1);
  }, 20000);

  // FFmpeg as a player verifies S1's digest and S2's signature ("Server response validating failed" otherwise),
  // then sends connect: receiving connect proves our complex server handshake is right.
  for (const mode of ["play", "publish"] as const) {
    test(`FFmpeg ${mode}er completes the handshake with ServerHandshake and sends connect`, async () => {
      let resolveCmd!: (v: { name: string; complex: boolean; app: unknown }) => void;
      const got = new Promise<{ name: string; complex: boolean; app: unknown }>((r) => (resolveCmd = r));
      const port = await listen((sock) => {
        const hs = new ServerHandshake();
        const reader = new ChunkReader();
        let done = false;
        sock.on("error", () => {});
        sock.on("data", (d: Buffer) => {
          let bytes: Uint8Array | undefined = new Uint8Array(d);
          if (!done) {
            const step = hs.feed(bytes);
            if (step.send) sock.write(step.send);
            if (!step.done) return;
            done = true;
            bytes = step.rest;
          }
          if (!bytes) return;
          for (const m of reader.feed(bytes)) {
            if (m.type === MSG_AMF0_COMMAND) {
              const c = decodeCommand(m.payload);
              resolveCmd({ name: c.name, complex: hs.complex, app: (c.commandObject as Record<string, unknown>).app });
              sock.destroy();
            }
          }
        });
      });
      const url = `rtmp://127.0.0.1:${port}/live/s`;
      const p = mode === "play"
        ? ffmpeg(["-i", url, "-t", "1", "-f", "null", "-"])
        : ffmpeg(["-re", "-i", clip("clip.flv"), "-c", "copy", "-f", "flv", url]);
      let stderr = "";
      p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      const r = await timeout(got, 15000, `ffmpeg ${mode} connect`).catch((e: Error) => {
        throw new Error(`${e.message}; ffmpeg said: ${stderr}`);
      });
      p.kill("SIGKILL");
      expect(r).toEqual({ name: "connect", complex: true, app: "live" });
    }, 20000);
  }
});
