/**
 * RtmpServer.rebind against a quit: a quit that closes the listeners while a reload is still binding a new
 * port wins (the port bound meanwhile stops accepting); a taken port leaves the old listener as it was.
 */
import { expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { ClientRegistry } from "../../../lib/clients.ts";
import { loadConfig } from "../../../lib/config/index.ts";
import { HubRegistry } from "../../../lib/hub/registry.ts";
import { Lifecycle } from "../../../lib/lifecycle.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { RtmpServer } from "../../../lib/protocols/rtmp/server.ts";
import { type RtmpServerPorts } from "../../../lib/protocols/rtmp/server.ts";
import { OpenAccess } from "../../../lib/access.ts";
import { freePort, tcpAnswers } from "../../helpers/ports.ts";

function context(): RtmpServerPorts & { lifecycle: Lifecycle } {
  const log = new Log(new LogSink({ tank: "console", file: "", level: "error", utc: false }), "test");
  return {
    config: loadConfig({ text: "listen 1935; vhost __defaultVhost__ { }\n", env: {} }),
    hubs: new HubRegistry(log, () => ({ gopCache: true, gopCacheMaxFrames: 100, timeJitter: "full" })),
    clients: new ClientRegistry(), log, access: new OpenAccess(), lifecycle: new Lifecycle(log),
  };
}

/** An RtmpServer listening on 127.0.0.1:p1 while another server holds 127.0.0.1:p2. */
async function listeningWithTakenPort(): Promise<{ p1: number; p2: number; other: Server; rtmp: RtmpServer }> {
  const [p1, p2] = [await freePort(), await freePort()];
  const other = createServer((c) => c.destroy());
  await new Promise<void>((r) => other.listen(p2, "127.0.0.1", () => r()));
  const rtmp = new RtmpServer(context());
  await rtmp.listen([`127.0.0.1:${p1}`]);
  return { p1, p2, other, rtmp };
}

test("a quit during a rebind wins: the port bound meanwhile does not accept", async () => {
  const ctx = context();
  const [p1, p2] = [await freePort(), await freePort()];
  const rtmp = new RtmpServer(ctx);
  await rtmp.listen([`127.0.0.1:${p1}`]);
  const rebinding = rtmp.rebind([`127.0.0.1:${p1}`, `127.0.0.1:${p2}`]);
  await ctx.lifecycle.stop({ reason: "test", budgetMs: 500 }); // closes the listeners while p2 is being bound
  await expect(rebinding).rejects.toThrow("quitting");
  expect(await tcpAnswers(p1)).toBe(false);
  expect(await tcpAnswers(p2)).toBe(false);
});

test("a taken port: rebind fails and the old listener keeps accepting", async () => {
  const { p1, p2, other, rtmp } = await listeningWithTakenPort();
  await expect(rtmp.rebind([`127.0.0.1:${p2}`])).rejects.toThrow("address already in use");
  expect(rtmp.ports).toEqual([p1]);
  expect(await tcpAnswers(p1)).toBe(true);
  await rtmp.close();
  other.close();
});

test("a failed rebind that had freed a port for a respelled address listens there again", async () => {
  const { p1, p2, other, rtmp } = await listeningWithTakenPort();
  // p1 respelled (freed first, bound again) and p2 taken: the rebind fails after p1 was freed.
  await expect(rtmp.rebind([`${p1}`, `127.0.0.1:${p2}`])).rejects.toThrow("address already in use");
  expect(rtmp.ports).toEqual([p1]);
  expect(await tcpAnswers(p1)).toBe(true);
  await rtmp.close();
  other.close();
});
