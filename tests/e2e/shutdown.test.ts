/**
 * Stop, as a user sees it: the process is gone in time whatever is connected, its recordings are playable and
 * the hook server heard about every session's end.
 *  - SIGTERM with an RTMP publisher, RTMP + HTTP-FLV + SRT players, an HLS session and a DVR recording:
 *    exit < 3 s, every player's connection ends, the MP4 is finalized, on_unpublish/on_stop/on_close arrived.
 *  - A hook server that never answers does not hold the exit.
 *  - SIGQUIT: still accepting during grace_start_wait, refused after; sessions may end by themselves (exit
 *    then), otherwise they are ended after grace_final_wait. A second signal makes it fast.
 *  - The shipped systemd unit: its KillSignal with a publisher connected exits well within TimeoutStopSec
 *    (no systemd here: the test sends the unit's signal itself).
 * The WHEP viewer is werift in this process (no browser: cheaper). The forward goes to a destination that
 * accepts and never answers (the worst case for a quit); its connection must end with the server.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { FLV_AND_HLS, serverConf } from "../helpers/conf.ts";
import { hookRecorder, hooksConf } from "../helpers/hooks.ts";
import { freePort, publish, rtcEnv, run, type RunningServer, startServer, tcpAnswers } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";
import { whepViewer } from "../helpers/whep.ts";

/** A hook server allowing every gate and recording every call; `hang` actions get no answer at all. */
function hookServer(hang: Set<string> = new Set()) {
  const rec = hookRecorder(async (hit, hold) => {
    if (hang.has(String(hit.body.action ?? ""))) await hold();
    return Response.json({ code: 0 });
  });
  const actions = ["on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop", "on_dvr"];
  return { ...rec, hooksConf: hooksConf(`${rec.base}/hook`, actions) };
}

/** The clients the API lists (publishers and players). */
async function clientList(s: RunningServer): Promise<{ id: string; type: string }[]> {
  try {
    const r = await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/?count=100`);
    const j = (await r.json()) as { clients: { id: string; type: string }[] };
    return j.clients;
  } catch {
    return [];
  }
}

/** The client types the API lists (publishers and players). */
async function clientTypes(s: RunningServer): Promise<string[]> {
  return (await clientList(s)).map((c) => c.type).sort();
}

/** The signal's time to the process's exit, with its exit code. */
async function timeExit(s: RunningServer, signal: NodeJS.Signals): Promise<{ ms: number; code: number | null }> {
  const t0 = Date.now();
  const exited = new Promise<number | null>((r) => s.proc.once("exit", (code) => r(code)));
  s.proc.kill(signal);
  const guard = setTimeout(() => s.proc.kill("SIGKILL"), 30000);
  const code = await exited;
  clearTimeout(guard);
  return { ms: Date.now() - t0, code };
}

function probeDuration(file: string): number {
  const r = spawnSync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", file], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

const { servers, track } = cleanupAfterAll();

const play = (url: string, extra: string[] = []) =>
  track(run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rw_timeout", "20000000", ...extra, "-i", url, "-c", "copy", "-f", "null", "-"]));

describe("SIGTERM: fast quit", () => {
  const hooks = hookServer();
  afterAll(() => hooks.close());

  test("with RTMP/HTTP-FLV/SRT/WHEP players, an HLS session, a forward and a DVR recording: gone within 3 s, file finalized, hooks sent", async () => {
    // A forward destination that accepts and never answers; it records when the forward's connection ends.
    let forwardIn = 0;
    let forwardClosed = 0;
    const hung = createServer((c) => {
      forwardIn++;
      c.on("error", () => {});
      c.on("close", () => forwardClosed++);
      c.resume(); // read and drop (the RTMP handshake is never answered)
    });
    await new Promise<void>((r) => hung.listen(0, "127.0.0.1", () => r()));
    afterAll(() => void hung.close());
    const hungPort = (hung.address() as { port: number }).port;
    const s = await startServer({
      config: serverConf(`${FLV_AND_HLS}
dvr { enabled on; dvr_plan session; dvr_path ./rec/[stream].mp4; }
forward { enabled on; destination 127.0.0.1:${hungPort}; }
srt { enabled on; srt_to_rtmp on; }
${hooks.hooksConf}`),
      env: { SRS_SRT_SERVER_ENABLED: "on", ...rtcEnv(await freePort()) },
    });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/term")));
    await waitFor("the publisher", async () => (await clientTypes(s)).includes("fmle-publish"), 10000, s);
    const players = [
      play(s.rtmpUrl("/live/term")),
      play(s.httpUrl("/live/term.flv")),
      play(`srt://127.0.0.1:${s.srt}?streamid=#!::r=live/term,m=request`, ["-f", "mpegts"]),
    ];
    // An HLS session: a playlist request makes one (it lasts until it times out or is kicked). The answer is a
    // master playlist naming the session's own playlist (?hls_ctx=…), polled below as a player does: a session
    // without requests ends after hls_fragment × 2 + 5 s, which a slow machine reached before the check (seen in CI).
    let variant = "";
    await waitFor("the HLS playlist", async () => {
      const r = await fetch(s.httpUrl("/live/term.m3u8"));
      if (r.status !== 200) return false;
      const line = (await r.text()).split("\n").find((l) => l.includes("hls_ctx="));
      if (line) variant = new URL(line.trim(), s.httpUrl("/live/term.m3u8")).href;
      return true;
    }, 10000, s);
    const keepHls = setInterval(() => void (variant && fetch(variant).then((r) => r.arrayBuffer()).catch(() => {})), 1000);
    const whep = await whepViewer(s.api, "term");
    await waitFor("WHEP video", () => whep.packets() > 50, 15000, s);
    const want = ["flv-play", "fmle-publish", "hls-play", "rtc-play", "rtmp-play", "srt-play"];
    await waitFor(`clients ${want}`, async () => {
      const t = await clientTypes(s);
      return want.every((x) => t.includes(x));
    }, 15000, s);
    await waitFor("the forward's connection", () => forwardIn > 0, 10000, s);
    // SRS sends on_connect/on_close to RTMP and SRT clients only (not HTTP-FLV, HLS or WebRTC).
    const connClients = (await clientList(s)).filter((c) => ["fmle-publish", "rtmp-play", "srt-play"].includes(c.type));
    const connIds = connClients.map((c) => c.id).sort();
    expect(connIds.length).toBe(3);
    await Bun.sleep(2500); // a few seconds of recording

    const { ms, code } = await timeExit(s, "SIGTERM");
    clearInterval(keepHls);
    console.log(`SIGTERM with ${want.length} clients + DVR: exit after ${ms} ms`);
    await whep.pc.close();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(3000);

    // Every player's connection ended with the server: each ffmpeg ends by itself.
    const ended = await Promise.race([Promise.all(players.map((p) => p.done)).then(() => true), Bun.sleep(10000).then(() => false)]);
    expect(ended).toBe(true);
    await waitFor("the forward's connection to end", () => forwardClosed === forwardIn, 5000);
    pub.kill();

    // The session recording is finalized and renamed: ffprobe reads its duration.
    const rec = join(s.dir, "rec");
    expect(readdirSync(rec)).toEqual(["term.mp4"]);
    expect(probeDuration(join(rec, "term.mp4"))).toBeGreaterThan(2);

    // The hook server heard every end: on_unpublish for the publisher, on_stop per player, on_close per client,
    // and on_dvr for the file.
    const out = s.output();
    expect(hooks.of("on_unpublish").map((h) => h.body.stream)).toEqual(["term"]);
    expect(hooks.of("on_stop").length).toBe(hooks.of("on_play").length);
    expect(hooks.of("on_stop").length).toBeGreaterThanOrEqual(5);
    // on_connect and on_close: exactly the RTMP publisher, the RTMP player and the SRT player, once each (SRS
    // sends neither to HTTP-FLV, HLS or WebRTC clients; those get on_play/on_stop only).
    expect(hooks.of("on_play").length).toBe(5);
    expect(hooks.of("on_connect").map((h) => String(h.body.client_id)).sort()).toEqual(connIds);
    expect(hooks.of("on_close").map((h) => String(h.body.client_id)).sort()).toEqual(connIds);
    expect(hooks.of("on_dvr").length).toBe(1);
    expect(out).toContain("fast quit (SIGTERM)");
  }, 60000);
});

describe("a hook server that never answers", () => {
  const hooks = hookServer(new Set(["on_unpublish", "on_stop", "on_close"]));
  afterAll(() => hooks.close());

  test("does not hold the exit: SIGTERM still exits within 3 s, after the hooks were sent", async () => {
    const s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ { ${hooks.hooksConf} }
`,
    });
    servers.push(s);
    track(publish(clip("clip.flv"), s.rtmpUrl("/live/hang")));
    const player = play(s.rtmpUrl("/live/hang"));
    // Playing, not just asking to: a session whose on_play is still pending when the quit comes gets no on_stop.
    await waitFor("publisher and player", async () => (await clientTypes(s)).join() === "fmle-publish,rtmp-play", 15000, s);
    await waitFor("the player's play started", () => s.output().includes("rtmp play __defaultVhost__/live/hang started"), 15000, s);
    const { ms, code } = await timeExit(s, "SIGTERM");
    console.log(`SIGTERM with a hanging hook server: exit after ${ms} ms`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(3000);
    expect(hooks.of("on_unpublish").length).toBe(1);
    expect(hooks.of("on_stop").length).toBe(1);
    expect(s.output()).toContain("not waiting");
    await player.done;
  }, 40000);
});

describe("SIGQUIT: graceful quit", () => {
  test("accepting during grace_start_wait, refused after; sessions are ended after grace_final_wait", async () => {
    const start = 1500;
    const final = 1500;
    const s = await startServer({ env: { SRS_GRACE_START_WAIT: String(start), SRS_GRACE_FINAL_WAIT: String(final) } });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/grace")));
    await waitFor("the publisher", async () => (await clientTypes(s)).includes("fmle-publish"), 10000, s);
    const t0 = Date.now();
    const exit = timeExit(s, "SIGQUIT");
    await Bun.sleep(start / 3);
    expect(await tcpAnswers(s.rtmp)).toBe(true); // still accepting: load balancers notice
    await Bun.sleep(start - (Date.now() - t0) + 400);
    expect(await tcpAnswers(s.rtmp)).toBe(false); // listeners closed
    expect(pub.proc.exitCode).toBeNull(); // the publisher still streams during grace_final_wait
    const { ms, code } = await exit;
    console.log(`SIGQUIT (start ${start} ms, final ${final} ms) with a publisher that stays: exit after ${ms} ms`);
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(start + final);
    expect(ms).toBeLessThan(start + final + 3000);
    const out = s.output();
    expect(out.indexOf("graceful quit (SIGQUIT)")).toBeGreaterThan(-1);
    expect(out.indexOf("listeners closed")).toBeGreaterThan(out.indexOf("graceful quit (SIGQUIT)"));
    expect(await Promise.race([pub.done.then(() => true), Bun.sleep(10000).then(() => false)])).toBe(true);
  }, 40000);

  test("exits as soon as the sessions have ended by themselves", async () => {
    const s = await startServer({ env: { SRS_GRACE_START_WAIT: "300", SRS_GRACE_FINAL_WAIT: "30000" } });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/leaves")));
    await waitFor("the publisher", async () => (await clientTypes(s)).includes("fmle-publish"), 10000, s);
    const exit = timeExit(s, "SIGQUIT");
    await Bun.sleep(1000);
    expect(s.proc.exitCode).toBeNull();
    const left = Date.now();
    pub.kill();
    const { code } = await exit;
    const after = Date.now() - left;
    console.log(`SIGQUIT: exit ${after} ms after the last session left (grace_final_wait 30000 ms)`);
    expect(code).toBe(0);
    expect(after).toBeLessThan(3000);
  }, 40000);

  for (const second of ["SIGTERM", "SIGQUIT"] as const) {
    test(`a second signal (${second}) makes it fast`, async () => {
      const s = await startServer({ env: { SRS_GRACE_START_WAIT: "30000", SRS_GRACE_FINAL_WAIT: "30000" } });
      servers.push(s);
      track(publish(clip("clip.flv"), s.rtmpUrl("/live/twice")));
      await waitFor("the publisher", async () => (await clientTypes(s)).includes("fmle-publish"), 10000, s);
      s.proc.kill("SIGQUIT");
      await Bun.sleep(500);
      expect(s.proc.exitCode).toBeNull();
      const { ms, code } = await timeExit(s, second);
      console.log(`SIGQUIT then ${second}: exit ${ms} ms after the second signal`);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(3000);
    }, 40000);
  }

  test("force_grace_quit on: SIGTERM quits gracefully (still accepting during grace_start_wait)", async () => {
    const s = await startServer({ env: { SRS_FORCE_GRACE_QUIT: "on", SRS_GRACE_START_WAIT: "1000", SRS_GRACE_FINAL_WAIT: "100" } });
    servers.push(s);
    const exit = timeExit(s, "SIGTERM");
    await Bun.sleep(300);
    expect(await tcpAnswers(s.rtmp)).toBe(true);
    const { ms, code } = await exit;
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(s.output()).toContain("graceful quit (SIGTERM)");
  }, 40000);
});

describe("conf/srs-ts.service", () => {
  test("systemctl stop: the unit's KillSignal with a publisher connected exits well within TimeoutStopSec", async () => {
    const unit = readFileSync(join(REPO_ROOT, "conf/srs-ts.service"), "utf8");
    const signal = /^KillSignal=(\w+)/m.exec(unit)?.[1] as NodeJS.Signals | undefined;
    const timeoutSec = Number(/^TimeoutStopSec=(\d+)/m.exec(unit)?.[1]);
    expect(signal).toBeDefined();
    expect(timeoutSec).toBeGreaterThan(0);
    expect(existsSync(join(REPO_ROOT, "conf/srs-ts.service"))).toBe(true);
    // The default config's grace waits (SRS's defaults), as the unit runs it.
    const s = await startServer({ config: `listen 1935; daemon off; srs_log_tank console; http_api { enabled on; listen 1985; } vhost __defaultVhost__ { }\n` });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/unit")));
    await waitFor("the publisher", async () => (await clientTypes(s)).includes("fmle-publish"), 10000, s);
    const { ms, code } = await timeExit(s, signal!);
    console.log(`${signal} (the unit's KillSignal) with a publisher: exit after ${ms} ms, TimeoutStopSec ${timeoutSec} s`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan((timeoutSec * 1000) / 2);
    expect(await Promise.race([pub.done.then(() => true), Bun.sleep(10000).then(() => false)])).toBe(true);
  }, 60000);
});
