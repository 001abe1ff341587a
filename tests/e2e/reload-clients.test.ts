/**
 * Reload and the clients it touches, as a user sees them:
 *  - a vhost disabled by reload closes its clients of every protocol (RTMP publisher and player, HTTP-FLV, SRT
 *    publisher and player, an HLS session, a WHEP viewer), while clients of other vhosts go on;
 *  - `play` options changed by reload reach the running stream: gop_cache off→on for the next player,
 *    time_jitter at the stream's next publish (its hub kept by a waiting player).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clip } from "../helpers/media.ts";
import { freePort, type Proc, publish, rtcEnv, run, type RunningServer, startServer } from "../helpers/server.ts";
import { whepViewer } from "../helpers/whep.ts";

const procs: Proc[] = [];
const servers: RunningServer[] = [];
const track = (p: Proc) => (procs.push(p), p);
afterAll(async () => {
  for (const p of procs) p.kill();
  for (const s of servers) await s.stop("SIGKILL");
});

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number, s?: RunningServer): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${s?.output().slice(-3000) ?? ""}`);
    await Bun.sleep(50);
  }
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Writes the config and sends SIGHUP; resolves when the server logged the end of that reload. */
async function reload(s: RunningServer, config: string): Promise<void> {
  const before = count(s.output(), "reload ok");
  writeFileSync(join(s.dir, "srs.conf"), config);
  s.proc.kill("SIGHUP");
  await waitFor("reload ok", () => count(s.output(), "reload ok") > before, 10000, s);
}

/** A client as the API lists it (`name`: its stream; this test's streams have names unique across vhosts). */
interface ApiClient {
  id: string;
  type: string;
  name: string;
}

async function clients(s: RunningServer): Promise<ApiClient[]> {
  try {
    const r = await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/?count=100`);
    const j = (await r.json()) as { clients: ApiClient[] };
    return j.clients;
  } catch {
    return [];
  }
}

/** Video packet dts of an ffmpeg `-f framecrc` output (stream 0), with whether each is a keyframe. */
function videoPackets(out: string): { dts: number; key: boolean }[] {
  return [...out.matchAll(/^0,\s*(-?\d+),\s*(-?\d+),\s*(\d+),\s*(\d+),\s*0x[0-9a-f]+(, F=0x([0-9A-F]+))?/gm)]
    .map((m) => ({ dts: Number(m[1]), key: m[6] === undefined || (parseInt(m[7]!, 16) & 1) === 1 }));
}

/** An ffmpeg player printing one line per video packet (framecrc; non-keyframes carry `F=0x0`). */
function framePlayer(url: string, extra: string[] = []): Proc {
  return track(run("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-rw_timeout", "15000000", ...extra, "-i", url,
    "-map", "0:v:0", "-c", "copy", "-copyinkf", "-f", "framecrc", "-",
  ], { timeoutMs: 90000 }));
}

const rtmp = (s: RunningServer, vhost: string, stream: string) => s.rtmpUrl(`/live?vhost=${vhost}/${stream}`);

describe("reload: a disabled vhost", () => {
  test("closes its clients of every protocol; other vhosts' clients go on; new ones are refused", async () => {
    const vhostConf = (enabled: boolean) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { }
vhost gone.test {
  enabled ${enabled ? "on" : "off"};
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  hls { enabled on; hls_path ./hls; hls_fragment 1; hls_window 10; }
  srt { enabled on; srt_to_rtmp on; }
}
`;
    const s = await startServer({ config: vhostConf(true), env: { SRS_SRT_SERVER_ENABLED: "on", ...rtcEnv(await freePort()) } });
    servers.push(s);
    const srt = (stream: string, mode: string) => `srt://127.0.0.1:${s.srt}?streamid=#!::h=gone.test,r=live/${stream},m=${mode}`;

    // A stream on the vhost that stays: its publisher and player must not notice the reload.
    const keepPub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/keep")));
    const keepPlayer = framePlayer(s.rtmpUrl("/live/keep"));
    // The vhost that goes: clients of every protocol.
    const pub = track(publish(clip("clip.flv"), rtmp(s, "gone.test", "a")));
    await waitFor("the publishers", async () => (await clients(s)).filter((c) => c.type === "fmle-publish").length === 2, 15000, s);
    const srtPub = track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip("clip.ts"),
      "-c", "copy", "-f", "mpegts", srt("b", "publish")]));
    const players = [
      framePlayer(rtmp(s, "gone.test", "a")),
      framePlayer(s.httpUrl("/live/a.flv?vhost=gone.test")),
      framePlayer(srt("a", "request"), ["-f", "mpegts"]),
    ];
    // An HLS session: the first playlist request answers a master playlist naming the session (hls_ctx).
    let variant = "";
    await waitFor("the HLS session", async () => {
      const r = await fetch(s.httpUrl("/live/a.m3u8?vhost=gone.test"));
      const text = await r.text();
      variant = text.split("\n").find((l) => l.includes("hls_ctx=")) ?? "";
      return r.status === 200 && variant !== "";
    }, 15000, s);
    expect((await fetch(s.httpUrl(variant.trim()))).status).toBe(200);
    const whep = await whepViewer(s.api, "a", "&vhost=gone.test");
    await waitFor("WHEP video", () => whep.packets() > 20, 15000, s);
    const gone = ["flv-play", "fmle-publish", "hls-play", "rtc-play", "rtmp-play", "srt-play", "srt-publish"];
    await waitFor(`clients of gone.test: ${gone}`, async () => {
      return (await clients(s)).filter((c) => c.name !== "keep").map((c) => c.type).sort().join() === gone.join();
    }, 15000, s);
    await waitFor("the players' first frames", () => players.every((p) => videoPackets(p.output()).length > 10), 15000, s);
    const keepBefore = videoPackets(keepPlayer.output()).length;

    await reload(s, vhostConf(false));
    expect(s.output()).toContain(`reload: vhost gone.test removed applied (${gone.length} clients closed)`);

    // Every client of the vhost is gone: the API lists none, every ffmpeg ends by itself.
    await waitFor("the API to list no gone.test client", async () => (await clients(s)).every((c) => c.name === "keep"), 5000, s);
    const ended = await Promise.race([Promise.all([pub, srtPub, ...players].map((p) => p.done)).then(() => true), Bun.sleep(15000).then(() => false)]);
    expect(ended).toBe(true);
    // The HLS session is over, and no new one starts: its playlist is not served any more.
    expect((await fetch(s.httpUrl(variant.trim()))).status).not.toBe(200);
    expect((await fetch(s.httpUrl("/live/a.m3u8?vhost=gone.test"))).status).not.toBe(200);
    // The WHEP viewer receives nothing more.
    await Bun.sleep(500);
    const atEnd = whep.packets();
    await Bun.sleep(1500);
    expect(whep.packets()).toBe(atEnd);
    await whep.pc.close();

    // New clients of the disabled vhost are refused.
    const retry = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.flv"), "-t", "1", "-c", "copy", "-f", "flv", rtmp(s, "gone.test", "c")], { timeoutMs: 15000 });
    expect(await retry.done).not.toBe(0);

    // The other vhost's publisher and player went on.
    await waitFor("frames of the kept stream after the reload", () => videoPackets(keepPlayer.output()).length > keepBefore + 50, 10000, s);
    expect(keepPub.proc.exitCode).toBeNull();
    expect(keepPlayer.proc.exitCode).toBeNull();
    expect((await clients(s)).map((c) => c.type).sort()).toEqual(["fmle-publish", "rtmp-play"]);
  }, 90000);
});
