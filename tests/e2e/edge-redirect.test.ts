/**
 * RTMP 302 (the origin cluster's answer, wire format in SRS SrsRtmpServer::redirect): a stub origin in the test
 * accepts connect and createStream, answers play with onStatus NetConnection.Connect.Rejected + ex.code 302 +
 * ex.redirect/redirect2 and closes. Our client (and so the edge) follows it to a real srs-ts origin, at most
 * three times: a stub that redirects to itself is given up with a clear error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { ChunkReader } from "../../lib/protocols/rtmp/chunk-reader.ts";
import { ChunkWriter } from "../../lib/protocols/rtmp/chunk-writer.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { connectResult, createStreamResult, decodeCommand, onStatus } from "../../lib/protocols/rtmp/commands.ts";
import { ServerHandshake } from "../../lib/protocols/rtmp/handshake.ts";
import { MSG_AMF0_COMMAND, MSG_VIDEO } from "../../lib/protocols/rtmp/messages.ts";
import { clip } from "../helpers/media.ts";
import { playFrames, publish, type Proc, type RunningServer, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * A stub origin answering every play with an RTMP 302 to `target()` (a tcUrl). With `srsOrder`, as SRS's origin
 * cluster does (SrsRtmpConn::playing): NetStream.Play.Start first, the 302 after it.
 */
function redirector(target: () => string, srsOrder = false): Promise<{ port: number; plays: string[]; close(): void }> {
  const sockets = new Set<Socket>();
  const plays: string[] = [];
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    const hs = new ServerHandshake();
    const reader = new ChunkReader();
    const writer = new ChunkWriter();
    let shaken = false;
    sock.on("data", (d: Buffer) => {
      let bytes: Uint8Array | undefined = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      if (!shaken) {
        const step = hs.feed(bytes);
        if (step.send) sock.write(step.send);
        if (!step.done) return;
        shaken = true;
        bytes = step.rest;
        if (!bytes) return;
      }
      for (const m of reader.feed(bytes)) {
        if (m.type !== MSG_AMF0_COMMAND) continue;
        const c = decodeCommand(m.payload);
        if (c.name === "connect") sock.write(writer.write(connectResult({ transactionId: c.transactionId })));
        else if (c.name === "createStream") sock.write(writer.write(createStreamResult(c.transactionId)));
        else if (c.name === "play") {
          const stream = String(c.args[0]);
          plays.push(stream);
          const tc = target();
          if (srsOrder) sock.write(writer.write(onStatus(1, { level: "status", code: "NetStream.Play.Start", description: "Started playing stream." })));
          sock.write(writer.write(onStatus(1, {
            level: "error",
            code: "NetConnection.Connect.Rejected",
            description: "RTMP 302 Redirect",
            extra: { ex: { code: 302, redirect: tc, redirect2: `${tc}/${stream}` } },
          })));
          setTimeout(() => sock.end(), 200);
        }
      }
    });
  });
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () =>
      r({
        port: (server.address() as { port: number }).port,
        plays,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      })
    )
  );
}

describe("RTMP 302: the client and the edge follow a redirect", () => {
  let o: RunningServer;
  let e: RunningServer;
  let pub: Proc;
  let stub: Awaited<ReturnType<typeof redirector>>;
  let loop: Awaited<ReturnType<typeof redirector>>;
  let srs: Awaited<ReturnType<typeof redirector>>;

  beforeAll(async () => {
    o = await startServer();
    stub = await redirector(() => `rtmp://127.0.0.1:${o.rtmp}/live`);
    loop = await redirector(() => `rtmp://127.0.0.1:${loop.port}/live`);
    srs = await redirector(() => `rtmp://127.0.0.1:${o.rtmp}/live`, true);
    e = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console; http_api { enabled on; listen 1985; }
vhost __defaultVhost__ { cluster { mode remote; origin 127.0.0.1:${stub.port}; } }
`,
    });
    pub = publish(clip("clip.flv"), o.rtmpUrl("/live/r"));
    await waitFor("ffmpeg publishing", () => o.output().includes("fmle-publish"), 15000, o);
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    await e?.stop();
    await o?.stop();
    stub?.close();
    loop?.close();
    srs?.close();
  });

  test("RtmpClient.connectPlay follows the 302 (redirect2, with the query) and plays", async () => {
    const hops: string[] = [];
    let video = 0;
    const c = await RtmpClient.connectPlay(`rtmp://127.0.0.1:${stub.port}/live/r?token=t`, {
      timeoutMs: 5000,
      onRedirect: (to) => hops.push(to),
      onMessage: (m) => void (m.type === MSG_VIDEO && video++),
    });
    try {
      expect(hops).toEqual([`rtmp://127.0.0.1:${o.rtmp}/live/r?token=t`]);
      await waitFor("video", () => video >= 25, 10000);
    } finally {
      c.destroy();
    }
  }, 20000);

  test("a 302 after NetStream.Play.Start (SRS's order) is followed too", async () => {
    const hops: string[] = [];
    let video = 0;
    const c = await RtmpClient.connectPlay(`rtmp://127.0.0.1:${srs.port}/live/r`, {
      timeoutMs: 5000,
      onRedirect: (to) => hops.push(to),
      onMessage: (m) => void (m.type === MSG_VIDEO && video++),
    });
    try {
      expect(hops).toEqual([`rtmp://127.0.0.1:${o.rtmp}/live/r`]);
      await waitFor("video", () => video >= 25, 10000);
    } finally {
      c.destroy();
    }
  }, 20000);

  test("a redirect loop is given up after 3 redirects", async () => {
    const before = loop.plays.length;
    await expect(RtmpClient.connectPlay(`rtmp://127.0.0.1:${loop.port}/live/r`, { timeoutMs: 5000 })).rejects.toThrow(
      "too many RTMP redirects (more than 3)",
    );
    expect(loop.plays.length - before).toBe(4);
  }, 20000);

  test("an edge whose origin redirects plays from the holder", async () => {
    const f = await playFrames(e.rtmpUrl("/live/r"), 2);
    expect(f.video).toBeGreaterThanOrEqual(25);
    expect(e.output()).toContain(`origin 127.0.0.1:${stub.port} redirects to rtmp://127.0.0.1:${o.rtmp}/live/r`);
  }, 30000);
});
