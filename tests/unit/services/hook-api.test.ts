/** The hook API other services call (on_dvr, on_hls POST; on_hls_notify GET with template variables). */
import { afterAll, expect, test } from "bun:test";
import type { ClientInfo } from "../../../lib/clients.ts";
import { loadConfig } from "../../../lib/config/index.ts";
import { HubRegistry } from "../../../lib/hub/registry.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { hookOnDvr, type HookPorts, hookOnHls, hookOnHlsNotify } from "../../../lib/services/hooks/index.ts";

const hits: { method: string; path: string; body: string }[] = [];
const hookServer = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const u = new URL(req.url);
    hits.push({ method: req.method, path: u.pathname + u.search, body: req.method === "POST" ? await req.text() : "" });
    return new Response("x".repeat(100000));
  },
});
afterAll(() => hookServer.stop(true));

test("on_dvr and on_hls POST SRS's payloads; on_hls_notify GETs the expanded template", async () => {
  const h = `http://127.0.0.1:${hookServer.port}`;
  const config = loadConfig({
    text: `listen 1935;
vhost __defaultVhost__ { hls { enabled on; hls_nb_notify 16; } http_hooks { enabled on; on_dvr ${h}/api/v1/dvrs; on_hls ${h}/api/v1/hls;
  on_hls_notify ${h}/api/v1/hls/[server_id]/[app]/[stream]/[ts_url][param]; } }
`,
    env: {},
  });
  const log = new Log(new LogSink({ tank: "console", file: "", level: "error", utc: false }), "test");
  // The hooks' narrow port: the config, the hubs (stream ids), the log and the server's ids.
  const ctx: HookPorts = {
    config, hubs: new HubRegistry(log, () => ({ gopCache: true, gopCacheMaxFrames: 100, timeJitter: "full" })),
    log, serverId: "vid-ss9w0t2", serviceId: "9s991a45",
  };
  const key = { vhost: "__defaultVhost__", app: "live", stream: "livestream" };
  const hub = ctx.hubs.get(key);
  const client: ClientInfo = {
    id: "849maa0u", type: "fmle-publish", ip: "127.0.0.1", protocol: "rtmp", tcUrl: "rtmp://127.0.0.1:19350/live",
    param: "?token=abc", connectedAt: 0, bytesIn: () => 0, bytesOut: () => 0, kick: () => {},
  };
  await hookOnDvr(ctx, { client, key, file: "./objs/nginx/html/live/livestream.1.flv" });
  await hookOnHls(ctx, {
    client, key, duration: 2.96, file: "./objs/nginx/html/live/livestream-0.ts", url: "live/livestream-0.ts",
    m3u8: "./objs/nginx/html/live/livestream.m3u8", m3u8Url: "live/livestream.m3u8", seqNo: 0,
  });
  await hookOnHlsNotify(ctx, { client, key, tsUrl: "livestream-0.ts" });
  expect(hits.map((x) => [x.method, x.path])).toEqual([
    ["POST", "/api/v1/dvrs"],
    ["POST", "/api/v1/hls"],
    ["GET", "/api/v1/hls/vid-ss9w0t2/live/livestream/livestream-0.ts?token=abc"],
  ]);
  const dvr = JSON.parse(hits[0]!.body) as Record<string, unknown>;
  expect(dvr).toMatchObject({ action: "on_dvr", stream_id: hub.id, file: "./objs/nginx/html/live/livestream.1.flv", param: "?token=abc" });
  const hls = JSON.parse(hits[1]!.body) as Record<string, unknown>;
  expect(hls).toMatchObject({ action: "on_hls", seq_no: 0, duration: 2.96, m3u8_url: "live/livestream.m3u8" });
});
