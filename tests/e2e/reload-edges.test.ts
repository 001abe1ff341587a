/**
 * Reload at its edges, as an operator meets them:
 *  - SIGHUP while a graceful quit (SIGQUIT) runs is ignored (one log line) and the quit completes as planned;
 *  - a reload whose new ports are taken (RTMP, HTTP, SRT, WebRTC) keeps every old listener working and logs a
 *    failure line per listener;
 *  - moving the SRT port keeps the SRT sessions of the old port until they end (as RTMP sessions outlive their
 *    listener); the old port takes no new caller and closes after its last session.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server as TcpServer } from "node:net";
import { join } from "node:path";
import { clip } from "../helpers/media.ts";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import {
  freePort, NO_ENV_LISTEN, type Proc, publish, reloadConfig, run, type RunningServer, startServer, tcpAnswers, udpTaken,
} from "../helpers/server.ts";
import { count, waitFor } from "../helpers/wait.ts";

const { servers, cleanup, track } = cleanupAfterAll();

async function clientTypes(s: RunningServer, api: number): Promise<string[]> {
  try {
    const r = await fetch(`http://127.0.0.1:${api}/api/v1/clients/?count=100`);
    return ((await r.json()) as { clients: { type: string }[] }).clients.map((c) => c.type).sort();
  } catch {
    return [];
  }
}

/** An ffmpeg SRT publisher of the TS clip, looping until killed (or for `seconds`). */
function srtPublish(port: number, stream: string, seconds?: number): Proc {
  const loop = seconds === undefined ? ["-stream_loop", "-1"] : [];
  const t = seconds === undefined ? [] : ["-t", String(seconds)];
  return track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", ...loop, "-i", clip("clip.ts"), ...t, "-c", "copy",
    "-f", "mpegts", `srt://127.0.0.1:${port}?streamid=#!::r=live/${stream},m=publish`], { timeoutMs: 30000 }));
}

/** Video packets an ffmpeg player has written (framecrc lines of stream 0). */
function frames(p: Proc): number {
  return (p.output().match(/^0,/gm) ?? []).length;
}

function framePlayer(url: string): Proc {
  return track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rw_timeout", "15000000", "-i", url,
    "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"], { timeoutMs: 90000 }));
}

describe("reload during a graceful quit", () => {
  test("SIGHUP while SIGQUIT runs is ignored with a log line; the quit completes on its schedule", async () => {
    const [p1, p2, api] = [await freePort(), await freePort(), await freePort()];
    const conf = (rtmp: number, extra = "") => `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console;
grace_start_wait 1500; grace_final_wait 1500;
http_api { enabled on; listen 127.0.0.1:${api}; }
vhost __defaultVhost__ { ${extra} }
`;
    const s = await startServer({ config: conf(p1), env: NO_ENV_LISTEN, ports: { rtmp: p1, api } });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${p1}/live/q`));
    await waitFor("the publisher", async () => (await clientTypes(s, api)).includes("fmle-publish"), 10000, s);

    const t0 = Date.now();
    const exited = new Promise<number | null>((r) => s.proc.once("exit", (code) => r(code)));
    s.proc.kill("SIGQUIT");
    await Bun.sleep(300);
    // During grace_start_wait: a reload that would move the RTMP port and add a forward.
    writeFileSync(join(s.dir, "srs.conf"), conf(p2, "forward { enabled on; destination 127.0.0.1:9; }"));
    s.proc.kill("SIGHUP");
    await waitFor("the reload to be refused", () => s.output().includes("reload ignored: the server is quitting"), 5000, s);
    expect(await tcpAnswers(p2)).toBe(false);
    expect(await tcpAnswers(p1)).toBe(true); // still accepting: grace_start_wait is not over
    const code = await exited;
    const ms = Date.now() - t0;
    console.log(`SIGQUIT with a SIGHUP 300 ms into it: exit after ${ms} ms (grace 1500 + 1500 ms)`);
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(3000);
    expect(ms).toBeLessThan(6000);
    const out = s.output();
    expect(out).not.toContain("reload ok");
    expect(out).not.toContain("forward");
    expect(out).toContain("graceful quit: waited");
    expect(await Promise.race([pub.done.then(() => true), Bun.sleep(10000).then(() => false)])).toBe(true);
  }, 40000);
});

describe("reload onto ports that are taken", () => {
  test("keeps the old RTMP, HTTP, SRT and WebRTC listeners working and logs one failure line each", async () => {
    const [rtmp1, http1, api, srt1, rtc1] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const [rtmp2, http2, srt2, rtc2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const conf = (rtmp: number, http: number, srt: number, rtc: number) => `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
http_server { enabled on; listen 127.0.0.1:${http}; dir ./html; }
srt_server { enabled on; listen ${srt}; }
rtc_server { enabled on; listen ${rtc}; }
vhost __defaultVhost__ { srt { enabled on; srt_to_rtmp on; } rtc { enabled on; } }
`;
    const s = await startServer({ config: conf(rtmp1, http1, srt1, rtc1), env: NO_ENV_LISTEN, ports: { rtmp: rtmp1, http: http1, api } });
    servers.push(s);
    // Someone else holds the new ports.
    const tcp: TcpServer[] = [];
    for (const port of [rtmp2, http2]) {
      const t = createServer((c) => c.destroy());
      await new Promise<void>((r) => t.listen(port, "127.0.0.1", () => r()));
      tcp.push(t);
    }
    const udp: UdpSocket[] = [];
    for (const port of [srt2, rtc2]) {
      const u = createSocket("udp4");
      await new Promise<void>((r) => u.bind(port, "0.0.0.0", () => r()));
      udp.push(u);
    }
    cleanup.push(() => {
      for (const t of tcp) t.close();
      for (const u of udp) u.close();
    });

    await reloadConfig(s, conf(rtmp2, http2, srt2, rtc2));
    const out = s.output();
    expect(out).toContain("reload: listen failed");
    expect(out).toContain(`still listening on ${rtmp1}`);
    expect(out).toContain("reload: http_server listen failed");
    expect(out).toContain("old listeners kept");
    expect(out).toContain(`reload: srt_server failed`);
    expect(out).toContain(`still listening on udp ${srt1}`);
    expect(out).toContain(`reload: rtc_server failed`);
    expect(out).toContain(`still listening on udp ${rtc1}`);
    expect(out).toMatch(/reload ok: .* 4 failed/);

    // The old listeners still serve: RTMP in, SRT in, HTTP-FLV... the home page on the old HTTP port, WebRTC's
    // UDP port still ours.
    const pub = track(publish(clip("clip.flv"), `rtmp://127.0.0.1:${rtmp1}/live/old`));
    const srtPub = srtPublish(srt1, "oldsrt");
    await waitFor("RTMP and SRT publishers on the old ports", async () => {
      const t = await clientTypes(s, api);
      return t.includes("fmle-publish") && t.includes("srt-publish");
    }, 15000, s);
    expect((await fetch(`http://127.0.0.1:${http1}/`)).status).toBe(200);
    const offer = await fetch(`http://127.0.0.1:${api}/api/v1/summaries`);
    expect(offer.status).toBe(200);
    for (const u of udp) u.close();
    udp.length = 0;
    expect(await udpTaken(rtc1)).toBe(true);
    expect(await udpTaken(srt1)).toBe(true);
    pub.kill();
    srtPub.kill();
  }, 60000);
});

describe("moving the SRT port", () => {
  test("the old port's sessions go on until they end; the old port takes no new caller, then closes", async () => {
    const [rtmp, api, srt1, srt2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const conf = (srt: number) => `listen 127.0.0.1:${rtmp}; daemon off; srs_log_tank console;
http_api { enabled on; listen 127.0.0.1:${api}; }
srt_server { enabled on; listen ${srt}; }
vhost __defaultVhost__ { srt { enabled on; srt_to_rtmp on; } }
`;
    const s = await startServer({ config: conf(srt1), env: NO_ENV_LISTEN, ports: { rtmp, api } });
    servers.push(s);
    const pub = srtPublish(srt1, "moving");
    await waitFor("the SRT publisher", async () => (await clientTypes(s, api)).includes("srt-publish"), 15000, s);
    const player = framePlayer(`rtmp://127.0.0.1:${rtmp}/live/moving`);
    await waitFor("the player's frames", () => frames(player) > 25, 15000, s);

    await reloadConfig(s, conf(srt2));
    expect(count(s.output(), "reload ok")).toBe(1);
    expect(s.output()).toContain(`reload: srt_server applied (listening on udp ${srt2}, udp ${srt1} closes when its 1 sessions end)`);

    // The publisher on the old port goes on: its player keeps receiving.
    const atReload = frames(player);
    await waitFor("frames after the move", () => frames(player) > atReload + 50, 10000, s);
    expect(pub.proc.exitCode).toBeNull();
    // The old port takes no new caller; the new one does.
    const refused = srtPublish(srt1, "late", 1);
    expect(await refused.done).not.toBe(0);
    const fresh = srtPublish(srt2, "fresh", 2);
    await waitFor("a publisher on the new port", () => s.output().includes("hub __defaultVhost__/live/fresh: publish start"), 10000, s);
    await fresh.done;
    // The last session of the old port ends (ffmpeg closes its SRT connection): the port closes.
    pub.proc.kill("SIGINT");
    await waitFor("the old port to close", () => s.output().includes(`srt server on udp ${srt1} closed: its last session ended`), 15000, s);
    expect(await udpTaken(srt1)).toBe(false);
    expect(await udpTaken(srt2)).toBe(true);
  }, 60000);
});
