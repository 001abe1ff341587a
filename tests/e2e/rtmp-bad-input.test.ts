/**
 * RTMP bad input against the real server: malformed handshakes, absurd chunk headers, broken commands, lying
 * FLV bodies, random bytes. Each bad connection must be closed with an error line in the server log, while the
 * server stays up, a healthy stream keeps flowing to its player, and the server's memory stays bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { encode } from "../../lib/formats/amf0.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { ChunkWriter } from "../../lib/protocols/rtmp/chunk-writer.ts";
import { commandMessage } from "../../lib/protocols/rtmp/commands.ts";
import { ClientHandshake, HANDSHAKE_SIZE } from "../../lib/protocols/rtmp/handshake.ts";
import { CSID_OVER_CONNECTION2, MSG_AMF0_COMMAND, MSG_VIDEO, type RtmpMessage } from "../../lib/protocols/rtmp/messages.ts";
import { clip } from "../helpers/media.ts";
import { type Proc, publish, run, type RunningServer, startServer } from "../helpers/server.ts";
import { prng } from "../helpers/prng.ts";
import { tempDir } from "../helpers/temp.ts";

const children: Proc[] = [];
const sockets: Socket[] = [];
const clients: RtmpClient[] = [];
let srv: RunningServer | undefined;
const work = tempDir("srs-ts-rtmp-bad-");

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const s of sockets) s.destroy();
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  await srv?.stop("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

interface Raw {
  socket: Socket;
  /** Resolves when the server ended the connection (or it closed); "timeout" if not within ms. */
  closedWithin(ms: number): Promise<"closed" | "timeout">;
  received(): number;
  /** Bytes received after the handshake. */
  data(): Uint8Array;
  write(b: Uint8Array): void;
}

async function raw(port: number): Promise<Raw> {
  const socket = netConnect({ host: "127.0.0.1", port });
  sockets.push(socket);
  const chunks: Buffer[] = [];
  let received = 0;
  let closed = false;
  const closedP = new Promise<void>((res) => {
    const done = () => {
      closed = true;
      res();
    };
    socket.once("end", done);
    socket.once("close", done);
  });
  socket.on("error", () => {});
  socket.on("data", (d: Buffer) => {
    received += d.byteLength;
    chunks.push(d);
  });
  await new Promise<void>((res, rej) => {
    socket.once("connect", () => res());
    socket.once("error", rej);
  });
  return {
    socket,
    closedWithin: async (ms) => {
      if (closed) return "closed";
      let t: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        closedP.then(() => "closed" as const),
        new Promise<"timeout">((res) => (t = setTimeout(() => res("timeout"), ms))),
      ]);
      clearTimeout(t);
      return r;
    },
    received: () => received,
    data: () => new Uint8Array(Buffer.concat(chunks)).subarray(1 + 2 * HANDSHAKE_SIZE),
    write: (b) => {
      if (!socket.destroyed) socket.write(b);
    },
  };
}

/** A raw connection that has done a (simple) handshake. */
async function handshaken(port: number): Promise<Raw> {
  const r = await raw(port);
  r.write(new ClientHandshake({ complex: false }).start());
  const end = Date.now() + 5000;
  while (r.received() < 1 + 2 * HANDSHAKE_SIZE) {
    if (Date.now() > end) throw new Error("no S0S1S2");
    await Bun.sleep(10);
  }
  // C2: the server does not verify it (nor does SRS), zeros will do.
  r.write(new Uint8Array(HANDSHAKE_SIZE));
  return r;
}

const CONNECT_PROPS = (port: number) => ({ app: "live", tcUrl: `rtmp://127.0.0.1:${port}/live`, flashVer: "LNX 9,0,124,2" });

/** Counts log lines (server output) matching `re`. */
function logCount(re: RegExp): number {
  return (srv!.output().match(new RegExp(re.source, "gm")) ?? []).length;
}

/**
 * Runs one bad-input case: `act` misbehaves on a fresh connection; the server must close it within 5 s and log
 * a new error line matching `logRe`.
 */
async function expectRejected(logRe: RegExp, act: (r: Raw) => Promise<void> | void, opts: { handshake?: boolean } = {}): Promise<Raw> {
  const before = logCount(logRe);
  const r = opts.handshake === false ? await raw(srv!.rtmp) : await handshaken(srv!.rtmp);
  await act(r);
  expect(await r.closedWithin(5000)).toBe("closed");
  const end = Date.now() + 2000;
  while (logCount(logRe) <= before && Date.now() < end) await Bun.sleep(20);
  if (logCount(logRe) <= before) throw new Error(`no log line matching ${logRe} in:\n${srv!.output().slice(-3000)}`);
  r.socket.destroy();
  return r;
}

/** Chunk header bytes: basic header (1-3 bytes) + type 0/1/2 message header. */
function basicHeader(fmt: number, csid: number): number[] {
  if (csid < 64) return [(fmt << 6) | csid];
  if (csid < 320) return [fmt << 6, csid - 64];
  return [(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8];
}
function type0(csid: number, length: number, type: number, streamId = 0, ts = 0): number[] {
  return [
    ...basicHeader(0, csid),
    (ts >> 16) & 0xff, (ts >> 8) & 0xff, ts & 0xff,
    (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff,
    type,
    streamId & 0xff, (streamId >> 8) & 0xff, (streamId >> 16) & 0xff, (streamId >> 24) & 0xff,
  ];
}

describe("rtmp bad input", () => {
  let healthyFrames = 0;
  let maxRss = 0;
  let sampler: ReturnType<typeof setInterval> | undefined;
  let player: RtmpClient;

  beforeAll(async () => {
    srv = await startServer();
    const pub = publish(clip("clip.flv"), srv.rtmpUrl("/live/healthy"));
    children.push(pub);
    // A long-running healthy player, counting video frames.
    const end = Date.now() + 15000;
    for (;;) {
      player = await RtmpClient.connect(srv.rtmpUrl("/live/healthy"), { timeoutMs: 5000 });
      clients.push(player);
      player.onMessage = (m: RtmpMessage) => {
        if (m.type === MSG_VIDEO && m.payload[1] === 1) healthyFrames++;
      };
      await player.play();
      const t = Date.now();
      while (healthyFrames === 0 && Date.now() - t < 1500) await Bun.sleep(50);
      if (healthyFrames > 0) break;
      player.destroy();
      if (Date.now() > end) throw new Error("healthy stream not live");
    }
    const pid = srv.proc.pid!;
    maxRss = rssMb(pid);
    sampler = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, rssMb(pid));
      } catch {
        // server gone: checked by the last test
      }
    }, 100);
  });

  test("garbage C0 is refused at once", async () => {
    await expectRejected(/\[Error\].*handshake.*C0 version 255/, (r) => r.write(randomBytes(1537, 1).fill(0xff, 0, 1)), { handshake: false });
    // An HTTP request on the RTMP port: refused on its first byte, without waiting for a whole C1.
    await expectRejected(/\[Error\].*handshake.*C0 version 71/, (r) => r.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")), {
      handshake: false,
    });
  });

  test("C0 = 6 (RTMPE) is refused", async () => {
    const b = randomBytes(1537, 2);
    b[0] = 6;
    await expectRejected(/\[Error\].*encrypted RTMP \(C0 version 6\)/, (r) => r.write(b), { handshake: false });
  });

  test("truncated C1, then the client closes", async () => {
    const before = logCount(/handshake incomplete/);
    const r = await raw(srv!.rtmp);
    r.write(Uint8Array.of(3, ...randomBytes(700, 3)));
    await Bun.sleep(100);
    r.socket.end();
    expect(await r.closedWithin(5000)).toBe("closed");
    const end = Date.now() + 2000;
    while (logCount(/handshake incomplete/) <= before && Date.now() < end) await Bun.sleep(20);
    expect(srv!.output()).toMatch(/rtmp handshake incomplete: peer closed after 701 bytes/);
  });

  test("absurd message lengths (0xFFFFFF) on many chunk streams", async () => {
    await expectRejected(/\[Error\].*more than 64 chunk streams with unfinished messages/, (r) => {
      const parts: number[] = [];
      // Each chunk stream starts a 16 MB message and sends one 128-byte chunk of it.
      for (let csid = 3; csid < 3 + 200; csid++) parts.push(...type0(csid, 0xffffff, 9, 1), ...new Array<number>(128).fill(0));
      r.write(Uint8Array.from(parts));
    });
  });

  test("huge chunk stream ids (3-byte basic headers up to 65599) with absurd lengths", async () => {
    await expectRejected(/\[Error\].*more than 64 chunk streams with unfinished messages/, (r) => {
      const parts: number[] = [];
      for (let csid = 65599; csid > 65599 - 100; csid--) parts.push(...type0(csid, 0xffffff, 8, 1), ...new Array<number>(128).fill(1));
      r.write(Uint8Array.from(parts));
    });
    // A huge csid by itself is legal: connect sent on chunk stream 65599 is answered.
    const r = await handshaken(srv!.rtmp);
    const payload = encode("connect", 1, CONNECT_PROPS(srv!.rtmp));
    r.write(Uint8Array.from([...type0(65599, payload.length, MSG_AMF0_COMMAND), ...payload]));
    const end = Date.now() + 5000;
    while (!new TextDecoder("latin1").decode(r.data()).includes("NetConnection.Connect.Success") && Date.now() < end) {
      await Bun.sleep(20);
    }
    expect(new TextDecoder("latin1").decode(r.data())).toContain("NetConnection.Connect.Success");
    r.socket.destroy();
  });

  test("type 3 (and type 2) chunks on unknown chunk streams", async () => {
    await expectRejected(/\[Error\].*chunk type 3 on chunk stream 9 that never had a full header/, (r) => {
      r.write(Uint8Array.of(...basicHeader(3, 9), ...new Array<number>(64).fill(7)));
    });
    await expectRejected(/\[Error\].*chunk type 2 on chunk stream 300 that never had a full header/, (r) => {
      r.write(Uint8Array.of(...basicHeader(2, 300), 0, 0, 40, ...new Array<number>(64).fill(7)));
    });
  });

  test("truncated AMF in connect", async () => {
    await expectRejected(/\[Error\].*bad command message/, (r) => {
      const full = encode("connect", 1, CONNECT_PROPS(srv!.rtmp));
      const cut = full.subarray(0, 30); // inside the command object
      r.write(Uint8Array.from([...type0(3, cut.length, MSG_AMF0_COMMAND), ...cut]));
    });
  });

  test("publish before connect", async () => {
    await expectRejected(/\[Error\].*command publish not allowed in state wait-connect/, (r) => {
      r.write(new ChunkWriter().write(commandMessage(["publish", 5, null, "evil", "live"], 1, CSID_OVER_CONNECTION2)));
    });
  });

  test("unknown commands are ignored (as SRS does): the connection stays usable", async () => {
    const r = await handshaken(srv!.rtmp);
    const w = new ChunkWriter();
    r.write(w.write(commandMessage(["noSuchCommand", 7, null, "x"])));
    r.write(w.write(commandMessage(["connect", 1, CONNECT_PROPS(srv!.rtmp)])));
    r.write(w.write(commandMessage(["anotherUnknown", 8, { a: 1 }])));
    r.write(w.write(commandMessage(["createStream", 2, null])));
    const end = Date.now() + 5000;
    const text = () => new TextDecoder("latin1").decode(r.data());
    while (!text().includes("NetConnection.Connect.Success") && Date.now() < end) await Bun.sleep(20);
    expect(text()).toContain("NetConnection.Connect.Success");
    expect(await r.closedWithin(300)).toBe("timeout");
    r.socket.destroy();
  });

  test("FLV bodies that lie: an AVC NALU video tag 2 bytes long", async () => {
    const before = srv!.output().length;
    await expectRejected(/\[Error\].*rtmp session error in state publishing.*video/i, async (r) => {
      const w = new ChunkWriter();
      r.write(w.write(commandMessage(["connect", 1, CONNECT_PROPS(srv!.rtmp)])));
      r.write(w.write(commandMessage(["createStream", 2, null])));
      r.write(w.write(commandMessage(["publish", 3, null, "liar", "live"], 1, CSID_OVER_CONNECTION2)));
      const end = Date.now() + 5000;
      while (!new TextDecoder("latin1").decode(r.data()).includes("NetStream.Publish.Start") && Date.now() < end) {
        await Bun.sleep(20);
      }
      expect(new TextDecoder("latin1").decode(r.data())).toContain("NetStream.Publish.Start");
      r.write(w.write({ csid: 7, type: MSG_VIDEO, streamId: 1, timestamp: 0, payload: Uint8Array.of(0x17, 0x01) }));
    });
    // The stream was unpublished: it can be published again.
    expect(srv!.output().slice(before)).toMatch(/unpublish __defaultVhost__\/live\/liar/);
    const c = await RtmpClient.connect(srv!.rtmpUrl("/live/liar"), { timeoutMs: 5000 });
    clients.push(c);
    await c.publish();
    c.destroy();
  });

  test("random bytes after a valid handshake", async () => {
    for (const seed of [11, 12, 13, 14, 15, 16, 17, 18]) {
      const before = logCount(/\[Error\].*rtmp (protocol|session) error/);
      const r = await handshaken(srv!.rtmp);
      // Enough bytes to finish any chunk a random header can start with the default 128-byte chunk size.
      r.write(randomBytes(64 * 1024, seed));
      const got = await r.closedWithin(5000);
      if (got !== "closed") throw new Error(`seed ${seed}: connection not closed; log:\n${srv!.output().slice(-2000)}`);
      const end = Date.now() + 2000;
      while (logCount(/\[Error\].*rtmp (protocol|session) error/) <= before && Date.now() < end) await Bun.sleep(20);
      expect(logCount(/\[Error\].*rtmp (protocol|session) error/)).toBeGreaterThan(before);
      r.socket.destroy();
    }
  });

  test("the server stayed up, the healthy player kept getting frames, memory stayed bounded", async () => {
    const before = healthyFrames;
    await Bun.sleep(1500);
    expect(healthyFrames).toBeGreaterThan(before + 20);
    expect(srv!.proc.exitCode).toBeNull();
    // A fresh ffmpeg player decodes the healthy stream.
    const prog = join(work, "play.txt");
    const p = run("ffmpeg", [
      "-hide_banner", "-nostats", "-loglevel", "error", "-rw_timeout", "8000000", "-i", srv!.rtmpUrl("/live/healthy"),
      "-t", "2", "-map", "0:v:0", "-f", "null", "-progress", prog, "-",
    ], { timeoutMs: 20000 });
    children.push(p);
    expect(await p.done).toBe(0);
    const frames = [...readFileSync(prog, "utf8").matchAll(/^frame=(\d+)/gm)].map((m) => Number(m[1]));
    expect(frames[frames.length - 1]).toBeGreaterThanOrEqual(45);
    clearInterval(sampler);
    expect(maxRss).toBeLessThan(200);
    player.destroy();
  }, 30000);
});
