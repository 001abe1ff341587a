/**
 * Security rules, refer and max_connections with real ffmpeg clients: a refused publisher's ffmpeg fails, the
 * rest keeps working, and the server says why in its log.
 */
import { describe, expect, test } from "bun:test";
import { publish, run, type RunningServer, startServer } from "../helpers/server.ts";
import { clip } from "../helpers/media.ts";

type Obj = Record<string, unknown>;

function conf(vhostBody: string, global = ""): string {
  return `listen 1935; daemon off; srs_log_tank console; ${global}
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ { ${vhostBody} }
`;
}

async function exits(p: { done: Promise<number | null> }, ms = 15000): Promise<number | null | "running"> {
  return await Promise.race([p.done, Bun.sleep(ms).then(() => "running" as const)]);
}

async function clients(s: RunningServer): Promise<Obj[]> {
  const j = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/`)).json()) as { clients: Obj[] };
  return j.clients;
}

async function waitFor(f: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await Bun.sleep(200);
  }
}

describe("security", () => {
  test("deny publish 127.0.0.1: the publisher is refused, players still get in", async () => {
    const s = await startServer({ config: conf("security { enabled on; deny publish 127.0.0.1; }") });
    try {
      const p = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream"));
      const code = await exits(p);
      expect(code).not.toBe("running");
      expect(code).not.toBe(0);
      expect(s.output()).toContain("security: publish denied by rule <deny publish 127.0.0.1> for 127.0.0.1");
      const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/livestream"), "-f", "null", "-"]);
      await waitFor(async () => (await clients(s)).some((c) => c.type === "rtmp-play"), 10000, "player admitted");
      player.kill();
      const m = await (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/`)).json() as { streams: Obj[] };
      expect(m.streams.every((x) => !(x.publish as Obj).active)).toBe(true);
    } finally {
      await s.stop();
    }
  }, 30000);

  test("allow publish by CIDR, play only for another IP: publish works, play is refused", async () => {
    const s = await startServer({ config: conf("security { enabled on; allow publish 127.0.0.0/8; allow play 10.0.0.1; }") });
    try {
      const p = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream"));
      await waitFor(async () => (await clients(s)).some((c) => c.type === "fmle-publish"), 10000, "publisher admitted");
      const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/livestream"), "-t", "2", "-f", "null", "-"]);
      const code = await exits(player);
      expect(code).not.toBe("running");
      expect(code).not.toBe(0);
      expect(s.output()).toContain("security: play not allowed by any of 2/0 rules for 127.0.0.1");
      expect(p.proc.exitCode).toBeNull();
      p.kill();
    } finally {
      await s.stop();
    }
  }, 30000);

  test("refer publish: a publisher without a matching pageUrl is refused; play has no refer list and works", async () => {
    const s = await startServer({ config: conf("refer { enabled on; publish example.com; }") });
    try {
      const p = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream"));
      const code = await exits(p);
      expect(code).not.toBe("running");
      expect(code).not.toBe(0);
      expect(s.output()).toContain(`refer: publish denied, pageUrl "" not in [example.com]`);
      const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/livestream"), "-f", "null", "-"]);
      await waitFor(async () => (await clients(s)).some((c) => c.type === "rtmp-play"), 10000, "player admitted");
      player.kill();
    } finally {
      await s.stop();
    }
  }, 30000);

  test("max_connections: the client beyond the limit is refused with a clear log line", async () => {
    const s = await startServer({ config: conf("", "max_connections 1;") });
    try {
      const p = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream"));
      await waitFor(async () => (await clients(s)).some((c) => c.type === "fmle-publish"), 10000, "publisher admitted");
      const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/livestream"), "-t", "2", "-f", "null", "-"]);
      const code = await exits(player);
      expect(code).not.toBe(0);
      expect(s.output()).toMatch(/max_connections 1 reached/);
      expect(p.proc.exitCode).toBeNull();
      p.kill();
    } finally {
      await s.stop();
    }
  }, 30000);
});
