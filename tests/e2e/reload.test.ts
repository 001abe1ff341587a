/**
 * Reload as a user meets it (SIGHUP and /api/v1/raw?rpc=reload): a player of a live stream goes through five
 * reloads that change hls settings, other vhosts and the ports without losing a frame; moved ports answer on the
 * new port and not the old one; an hls change reaches the running stream; a vhost added by reload accepts
 * publishing and a removed one stops accepting; every change has its log line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clip } from "../helpers/media.ts";
import {
  freePort, NO_ENV_LISTEN, probeStreams, publish, reloadConfig, run, startServer, tcpAnswers, udpTaken,
} from "../helpers/server.ts";
import { count } from "../helpers/wait.ts";

interface ConfState {
  listens: number[];
  http: number;
  api: number;
  dir: string;
  fragment: number;
  other: string;
  added: boolean;
  allowReload: boolean;
  extra?: string;
  /** The played vhost's queue settings (SRS defaults at first: mw_latency 350, queue_length 30). */
  mainPlay?: string;
}

function conf(s: ConfState): string {
  return `
listen ${s.listens.map((p) => `127.0.0.1:${p}`).join(" ")};
max_connections 1000;
${s.extra ?? ""}
http_api { enabled on; listen 127.0.0.1:${s.api}; raw_api { enabled on; allow_reload ${s.allowReload ? "on" : "off"}; } }
http_server { enabled on; listen 127.0.0.1:${s.http}; dir ${s.dir}; }
vhost main.test {
  ${s.mainPlay ?? ""}
  hls { enabled on; hls_path ${s.dir}; hls_fragment ${s.fragment}; hls_window 120; hls_dispose 0; }
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
}
vhost other.test { ${s.other} }
${s.added ? "vhost added.test { srt { enabled on; } }" : ""}
`;
}

const url = (port: number, vhost: string, stream: string) => `rtmp://127.0.0.1:${port}/live?vhost=${vhost}/${stream}`;

async function waitFor<T>(f: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** Video packet dts of an ffmpeg `-f framecrc` output (stream 0). */
function videoDts(out: string): number[] {
  return [...out.matchAll(/^0,\s*(-?\d+),\s*(-?\d+),\s*(\d+),/gm)].map((m) => Number(m[1]));
}

/** Publishes for a moment; resolves with ffmpeg's exit code (0: the server took the stream). */
async function tryPublish(u: string): Promise<number | null> {
  const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.flv"), "-t", "1", "-c", "copy", "-f", "flv", u], { timeoutMs: 15000 });
  return await p.done;
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("reload", () => {
  test("a player goes through five reloads (hls, vhosts, ports) without losing a frame; each change is applied and logged", async () => {
    const [p1, p2, h1, h2, api] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const state: ConfState = { listens: [p1], http: h1, api, dir: "", fragment: 6, other: "", added: false, allowReload: true };
    // The harness makes the work dir; the config names it, so write a first config once we know it.
    const s = await startServer({ config: conf({ ...state, dir: "." }), env: NO_ENV_LISTEN, ports: { rtmp: p1, http: h1, api } });
    cleanup.push(() => s.stop("SIGKILL"));
    state.dir = s.dir;
    await reloadConfig(s, conf(state));

    const pub = publish(clip("clip.flv"), url(p1, "main.test", "livestream"));
    cleanup.push(() => pub.kill());
    const player = run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-rw_timeout", "8000000", "-i", url(p1, "main.test", "livestream"),
      "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-",
    ], { timeoutMs: 120000 });
    cleanup.push(() => player.kill());
    await waitFor(() => videoDts(player.output()).length > 25, 15000, "the rtmp player's first second");
    // An HTTP-FLV player on the HTTP port that reload 5 moves away: its request goes on.
    const flv = run("ffmpeg", [
      "-hide_banner", "-loglevel", "error", "-rw_timeout", "8000000", "-i", `http://127.0.0.1:${h1}/live/livestream.flv?vhost=main.test`,
      "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-",
    ], { timeoutMs: 120000 });
    cleanup.push(() => flv.kill());
    await waitFor(() => videoDts(flv.output()).length > 25, 15000, "the http-flv player's first second")
      .catch((e) => {
        throw new Error(`${e}: rtmp=${player.output().slice(-300)} flv=${flv.output().slice(-300)} server=${s.output().slice(-1500)}`);
      });

    // A vhost not configured yet refuses a publisher.
    expect(await tryPublish(url(p1, "added.test", "s2"))).not.toBe(0);

    // 1: the played stream's hls_fragment, and its players' queues: from 350 ms merged writes to every packet at once.
    state.fragment = 2;
    state.mainPlay = "min_latency on; play { mw_latency 0; queue_length 5; }";
    await reloadConfig(s, conf(state));
    expect(s.output()).toContain("reload: vhost main.test hls applied");
    expect(s.output()).toContain("reload: vhost main.test play applied (mwLatency,queueLength; 1 streams: gop_cache now, time_jitter at next publish, player queues now (2 outputs))");
    expect(s.output()).toContain("reload: vhost main.test min_latency applied (player queues now (2 outputs))");
    // The RTMP and HTTP-FLV players' outputs take the new options in place and are filed under them for new players.
    expect(s.output()).toMatch(/output rtmp\/\d+\?mw_latency=350&queue_length=30 re-keyed rtmp\/\d+\?mw_latency=0&queue_length=5/);
    expect(s.output()).toContain("output flv?mw_latency=350&queue_length=30 re-keyed flv?mw_latency=0&queue_length=5");

    // 2: another vhost changes, a vhost is added: it accepts publishing now.
    state.other = "play { gop_cache off; } forward { enabled on; destination 127.0.0.1:9; }";
    state.added = true;
    await reloadConfig(s, conf(state));
    expect(s.output()).toContain("reload: vhost other.test play applied");
    expect(s.output()).toContain("reload: vhost other.test forward applied");
    expect(s.output()).toContain("reload: vhost added.test added applied");
    const addedPub = publish(clip("clip.flv"), url(p1, "added.test", "s2"));
    cleanup.push(() => addedPub.kill());
    await waitFor(() => s.output().includes("hub added.test/live/s2: publish start") || undefined, 10000, "publish on the added vhost");

    // 3: a second RTMP port.
    state.listens = [p1, p2];
    await reloadConfig(s, conf(state));
    expect(s.output()).toContain("reload: listen applied");
    expect(await tcpAnswers(p2)).toBe(true);

    // 4: the first RTMP port goes away: it stops answering, while the sessions that came through it go on.
    state.listens = [p2];
    await reloadConfig(s, conf(state));
    expect(await tcpAnswers(p1)).toBe(false);
    expect(await tcpAnswers(p2)).toBe(true);

    // 5: the HTTP server moves, the added vhost is removed (its publisher is closed, a new one refused).
    state.http = h2;
    state.added = false;
    await reloadConfig(s, conf(state));
    expect(s.output()).toContain("reload: http_server listen applied");
    expect(s.output()).toContain("reload: vhost added.test removed applied (1 clients closed)");
    expect(await tcpAnswers(h1)).toBe(false);
    const home = await fetch(`http://127.0.0.1:${h2}/`);
    expect(home.status).toBe(200);
    expect(await waitFor(async () => (addedPub.proc.exitCode ?? undefined) !== undefined ? true : undefined, 10000, "the removed vhost's publisher to end")).toBe(true);
    expect(await tryPublish(url(p2, "added.test", "s3"))).not.toBe(0);

    // Both players keep receiving after the last reload, and their timelines have no hole: no frame was lost.
    const atLast = [videoDts(player.output()).length, videoDts(flv.output()).length];
    await waitFor(() => videoDts(player.output()).length > atLast[0]! + 25 && videoDts(flv.output()).length > atLast[1]! + 25 || undefined, 10000, "frames after the last reload");
    for (const [name, p] of [["rtmp", player], ["http-flv", flv]] as const) {
      const dts = videoDts(p.output());
      let worst = 0;
      for (let i = 1; i < dts.length; i++) worst = Math.max(worst, dts[i]! - dts[i - 1]!);
      console.log(`reload: ${name} player got ${dts.length} video frames over ${(dts.at(-1)! - dts[0]!) / 1000}s of stream, largest dts step ${worst} ms`);
      expect(worst).toBeLessThanOrEqual(40); // 25 fps: 40 ms per frame; one lost frame makes a step of 80 ms
      expect(dts.length).toBe((dts.at(-1)! - dts[0]!) / 40 + 1); // every frame of the timeline arrived, once
      expect(p.proc.exitCode).toBeNull();
    }
    expect(pub.proc.exitCode).toBeNull();

    // The hls change reached the running stream: after the switch (a discontinuity) segments are ~2 s, not 6.
    const m3u8 = join(s.dir, "live", "livestream.m3u8");
    const after = await waitFor(() => {
      let text = "";
      try {
        text = readFileSync(m3u8, "utf8");
      } catch {
        return undefined;
      }
      const tail = text.slice(text.lastIndexOf("#EXT-X-DISCONTINUITY"));
      const d = [...tail.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
      return d.length >= 2 ? d : undefined;
    }, 15000, "two segments after the hls reload");
    for (const d of after) expect(d).toBeLessThan(3);
    // ... and the switch lost no frame and wrote none twice: the next segment starts one frame after the last one.
    const entries: { disc: boolean; uri: string }[] = [];
    let disc = false;
    for (const line of readFileSync(m3u8, "utf8").split("\n")) {
      if (line.startsWith("#EXT-X-DISCONTINUITY")) disc = true;
      else if (line && !line.startsWith("#")) {
        entries.push({ disc, uri: line.trim() });
        disc = false;
      }
    }
    const j = entries.findLastIndex((e, i) => i > 0 && e.disc);
    expect(j).toBeGreaterThan(0);
    const ptsOf = async (uri: string) => {
      const p = run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", join(s.dir, "live", uri)]);
      await p.done;
      return p.output().split("\n").filter((l) => /^[\d.]+/.test(l)).map((l) => parseFloat(l));
    };
    const before = await ptsOf(entries[j - 1]!.uri);
    const afterSwitch = await ptsOf(entries[j]!.uri);
    expect(Math.round((Math.min(...afterSwitch) - Math.max(...before)) * 1000)).toBe(40);
    expect(count(s.output(), "reload ok")).toBe(6);
  }, 90000);

  test("rpc=reload through the API applies the config, reports refusals in reload-fetch, and is refused when disabled", async () => {
    const [rtmp, http, api] = [await freePort(), await freePort(), await freePort()];
    const state: ConfState = { listens: [rtmp], http, api, dir: ".", fragment: 2, other: "", added: false, allowReload: true };
    const s = await startServer({ config: conf(state), env: NO_ENV_LISTEN, ports: { rtmp, http, api } });
    cleanup.push(() => s.stop("SIGKILL"));
    const get = async (q: string) => (await (await fetch(`http://127.0.0.1:${api}/api/v1/raw?${q}`)).json()) as Record<string, unknown>;
    const raw = await get("rpc=raw");
    expect(raw.code).toBe(0);
    expect(raw.http_api).toMatchObject({ enabled: true, raw_api: { enabled: true, allow_reload: true } });

    // A vhost added, the exporter, SRT and WebRTC servers turned on, and a process setting changed: one line each.
    const [exp, srt, rtc] = [await freePort(), await freePort(), await freePort()];
    state.added = true;
    state.extra = `server_id reload-test; exporter { enabled on; listen 127.0.0.1:${exp}; }
      srt_server { enabled on; listen ${srt}; } rtc_server { enabled on; listen ${rtc}; }`;
    writeFileSync(join(s.dir, "srs.conf"), conf(state));
    expect(await get("rpc=reload")).toEqual({ code: 0 });
    await waitFor(() => s.output().includes("reload ok") || undefined, 10000, "reload ok");
    expect(s.output()).toContain("reload: vhost added.test added applied");
    expect(s.output()).toContain("reload: server_id changed, needs a restart");
    expect(s.output()).toContain(`reload: exporter applied (listening on 127.0.0.1:${exp})`);
    expect(s.output()).toContain(`reload: srt_server applied (listening on udp ${srt})`);
    expect(s.output()).toContain(`reload: rtc_server applied (listening on udp ${rtc})`);
    expect(((await get("rpc=reload-fetch")).data as Record<string, unknown>).err).toBe(0);
    expect(await tryPublish(url(rtmp, "added.test", "s"))).toBe(0);
    const metrics = await fetch(`http://127.0.0.1:${exp}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("srs_");
    expect(await udpTaken(rtc, "127.0.0.1")).toBe(true);
    const srtPub = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.ts"), "-t", "2", "-c", "copy", "-f", "mpegts",
      `srt://127.0.0.1:${srt}?streamid=#!::h=added.test,r=live/srt,m=publish`], { timeoutMs: 15000 });
    await waitFor(() => s.output().includes("hub added.test/live/srt: publish start") || undefined, 10000, "SRT publish after reload");
    await srtPub.done;

    // A bad config is refused: the old one keeps running, reload-fetch says so.
    writeFileSync(join(s.dir, "srs.conf"), conf(state) + "\nvhost broken {\n");
    expect(await get("rpc=reload")).toEqual({ code: 0 });
    await waitFor(() => s.output().includes("reload failed") || undefined, 10000, "reload failed");
    expect(((await get("rpc=reload-fetch")).data as Record<string, unknown>).err).toBe(1023);
    expect(await tcpAnswers(rtmp)).toBe(true);

    // allow_reload off (applied by this reload): the next rpc=reload is refused with 1061.
    state.allowReload = false;
    writeFileSync(join(s.dir, "srs.conf"), conf(state));
    expect(await get("rpc=reload")).toEqual({ code: 0 });
    await waitFor(() => count(s.output(), "reload ok") >= 2 || undefined, 10000, "second reload ok");
    expect(s.output()).toContain("reload: http_api rawApi applied");
    expect(s.output()).not.toContain("reload: srt_server"  + " applied (stopped)"); // unchanged sections untouched
    expect(await get("rpc=reload")).toEqual({ code: 1061 });
    expect((await get("rpc=nope")).code).toBe(1060);
  }, 60000);

  test("a dvr change reaches the running stream: its file is finished and a new one starts with the new path", async () => {
    const dvrConf = (dir: string) => `vhost __defaultVhost__ {
  dvr { enabled on; dvr_plan session; dvr_path ./${dir}/[stream].[timestamp].flv; }
}
`;
    const s = await startServer({ config: dvrConf("a") });
    cleanup.push(() => s.stop("SIGKILL"));
    const files = (d: string) => (existsSync(join(s.dir, d)) ? readdirSync(join(s.dir, d)) : []);
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/rec"));
    cleanup.push(() => pub.kill());
    await waitFor(() => files("a").some((f) => f.endsWith(".flv.tmp")) || undefined, 10000, "the first recording");
    await Bun.sleep(1500);
    await reloadConfig(s, dvrConf("b"));
    expect(s.output()).toContain("reload: vhost __defaultVhost__ dvr applied (path; 1 recordings restarted in a new file)");
    const first = await waitFor(() => files("a").find((f) => f.endsWith(".flv")), 10000, "the first file finished");
    await waitFor(() => files("b").some((f) => f.endsWith(".flv.tmp")) || undefined, 10000, "the second recording");
    expect(pub.proc.exitCode).toBeNull();
    const probe = run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", join(s.dir, "a", first)]);
    await probe.done;
    expect(Number(probe.output().trim())).toBeGreaterThan(1);
  }, 40000);

  test("a forward added by reload starts for the running stream", async () => {
    const b = await startServer();
    cleanup.push(() => b.stop("SIGKILL"));
    const fwdConf = (on: boolean) => `vhost __defaultVhost__ { ${on ? `forward { enabled on; destination 127.0.0.1:${b.rtmp}; }` : ""} }\n`;
    const a = await startServer({ config: fwdConf(false) });
    cleanup.push(() => a.stop("SIGKILL"));
    const pub = publish(clip("clip.flv"), a.rtmpUrl("/live/fwd"));
    cleanup.push(() => pub.kill());
    await waitFor(() => a.output().includes("hub __defaultVhost__/live/fwd: publish start") || undefined, 10000, "publish on a");
    expect(b.output()).not.toContain("live/fwd");
    await reloadConfig(a, fwdConf(true));
    expect(a.output()).toContain("reload: vhost __defaultVhost__ forward applied (1 live streams, 1 forwards restarted)");
    const streams = await probeStreams(b.rtmpUrl("/live/fwd"));
    expect(streams.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
  }, 40000);
});
