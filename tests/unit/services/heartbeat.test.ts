/** SRS's heartbeat (lib/services/cluster/heartbeat.ts): the payload as SRS 7 sends it, the ticks, reload, stop. */
import { describe, expect, test } from "bun:test";
import { loadConfig, type SrsConfig } from "../../../lib/config/index.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import { Heartbeat, heartbeatPayload, type HeartbeatPorts } from "../../../lib/services/cluster/heartbeat.ts";

function ports(text: string, env: Record<string, string> = {}): HeartbeatPorts & { config: SrsConfig } {
  return {
    config: loadConfig({ text, env: { SRS_DEVICE_IP: "10.1.2.3", ...env } }),
    log: silentLog(),
    serverId: "vid-abc",
    serviceId: "svc1",
    summaries: () => ({ ok: true }),
  };
}

const FULL = `listen 19351 127.0.0.1:19352;
http_server { enabled on; listen 8081; }
http_api { enabled on; listen 19851; }
srt_server { enabled on; listen 10081; }
rtc_server { enabled on; listen 8001; tcp { enabled on; listen 8002; } }
heartbeat { enabled on; interval 9; url http://127.0.0.1:12025/api/v1/srs/register; device_id origin1; ports on; summaries on; }
vhost __defaultVhost__ {}
`;

describe("heartbeat payload", () => {
  test("with ports and summaries: SRS 7's fields and formats", () => {
    expect(heartbeatPayload(ports(FULL))).toEqual({
      device_id: "origin1", ip: "10.1.2.3", server: "vid-abc", service: "svc1", pid: String(process.pid),
      summaries: { ok: true },
      rtmp: ["19351", "127.0.0.1:19352"], http: ["8081"], api: ["19851"],
      srt: ["udp://0.0.0.0:10081"], rtc: ["udp://0.0.0.0:8001", "tcp://0.0.0.0:8002"],
    });
  });

  test("without ports: who we are only; disabled servers are not listed", () => {
    const p = heartbeatPayload(ports("listen 1935;\nheartbeat { enabled on; }\nvhost __defaultVhost__ {}\n"));
    expect(Object.keys(p).sort()).toEqual(["device_id", "ip", "pid", "server", "service"]);
    const q = heartbeatPayload(ports("listen 1935;\nhttp_api { enabled off; }\nheartbeat { enabled on; ports on; }\nvhost __defaultVhost__ {}\n"));
    expect(q.rtmp).toEqual(["1935"]);
    expect(q.api).toBeUndefined();
    expect(q.srt).toBeUndefined();
    expect(q.rtc).toBeUndefined();
  });

  test("no SRS_DEVICE_IP: a local IPv4 address", () => {
    const p = heartbeatPayload({ ...ports("listen 1935;\nvhost __defaultVhost__ {}\n"), config: loadConfig({ text: "listen 1935;\n", env: {} }) });
    expect(p.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});

describe("heartbeat ticks", () => {
  test("posts JSON every interval; a failing endpoint is retried; stop ends it", async () => {
    const bodies: Record<string, unknown>[] = [];
    let fail = true;
    const srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        bodies.push(await req.json() as Record<string, unknown>);
        if (fail) {
          fail = false;
          return new Response("no", { status: 500 });
        }
        return new Response(JSON.stringify({ code: 0 }));
      },
    });
    try {
      const p = ports(`listen 1935;\nheartbeat { enabled on; interval 0.2; url http://127.0.0.1:${srv.port}/api/v1/srs/register; ports on; }\n`);
      const hb = new Heartbeat(p);
      hb.start();
      const end = Date.now() + 5000;
      while (bodies.length < 3 && Date.now() < end) await Bun.sleep(20);
      expect(bodies.length).toBeGreaterThanOrEqual(3);
      expect(bodies[0]).toMatchObject({ server: "vid-abc", service: "svc1", rtmp: ["1935"] });
      hb.stop();
      const n = bodies.length;
      await Bun.sleep(600);
      expect(bodies.length).toBeLessThanOrEqual(n + 1);
    } finally {
      srv.stop(true);
    }
  });

  test("a reload that turns it off stops the posts; on again restarts them", async () => {
    let posts = 0;
    const srv = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (posts++, new Response("{}")) });
    try {
      const url = `http://127.0.0.1:${srv.port}/`;
      const p = ports(`listen 1935;\nheartbeat { enabled on; interval 0.1; url ${url}; }\n`);
      const hb = new Heartbeat(p);
      hb.start();
      await Bun.sleep(400);
      expect(posts).toBeGreaterThan(1);
      p.config = loadConfig({ text: `listen 1935;\nheartbeat { enabled off; interval 0.1; url ${url}; }\n`, env: {} });
      hb.start();
      const off = posts;
      await Bun.sleep(400);
      expect(posts).toBeLessThanOrEqual(off + 1);
      p.config = loadConfig({ text: `listen 1935;\nheartbeat { enabled on; interval 0.1; url ${url}; }\n`, env: {} });
      hb.start();
      await Bun.sleep(400);
      expect(posts).toBeGreaterThan(off + 1);
      hb.stop();
    } finally {
      srv.stop(true);
    }
  });
});
