/**
 * max_connections counts every client of every protocol: with `max_connections 2`, an RTMP publisher and an
 * HTTP-FLV player fill the server, and a third client of any protocol is refused with that protocol's own error
 * (RTMP: connection closed; HTTP-FLV and HLS: 503; SRT: handshake rejected; WHEP: 503). When the player leaves,
 * the next client gets in.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { clip } from "../helpers/media.ts";
import { freePort, publish, run, type RunningServer, rtcEnv, startServer } from "../helpers/server.ts";

const CONF = `listen 1935; daemon off; srs_log_tank console; max_connections 2;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; }
vhost __defaultVhost__ {
  hls { enabled on; hls_fragment 1; hls_window 6; }
  http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
  srt { enabled on; }
  rtc { enabled on; }
}
`;

/** A WHEP offer the server accepts (H.264 + Opus, recvonly); it only has to get as far as the connection check. */
const OFFER = [
  "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=ice-ufrag:abcd", "a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa",
  "a=fingerprint:sha-256 " + Array(32).fill("AB").join(":"), "a=setup:actpass", "a=mid:0", "a=recvonly", "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "m=video 9 UDP/TLS/RTP/SAVPF 102", "c=IN IP4 0.0.0.0", "a=ice-ufrag:abcd", "a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa",
  "a=fingerprint:sha-256 " + Array(32).fill("AB").join(":"), "a=setup:actpass", "a=mid:1", "a=recvonly", "a=rtcp-mux",
  "a=rtpmap:102 H264/90000", "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", "",
].join("\r\n");

const running: RunningServer[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});

async function waitFor(f: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await Bun.sleep(100);
  }
}

async function clientTypes(s: RunningServer): Promise<string[]> {
  const j = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/clients/`)).json()) as { clients: { type: string }[] };
  return j.clients.map((c) => c.type).sort();
}

describe("max_connections", () => {
  test("an RTMP publisher + an HTTP-FLV player fill max_connections 2; RTMP, FLV, HLS, SRT and WHEP clients are refused", async () => {
    const udp = await freePort();
    const s = await startServer({ config: CONF, env: { ...rtcEnv(udp), SRS_SRT_SERVER_ENABLED: "on" } });
    running.push(s);
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    try {
      // The HLS playlist must exist before the server is full (a refused HLS client is one the server would serve).
      const m3u8 = join(s.dir, "objs/nginx/html/live/s.m3u8");
      await waitFor(() => existsSync(m3u8), 15000, "the HLS playlist");
      const flv = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.httpUrl("/live/s.flv"), "-f", "null", "-"]);
      try {
        await waitFor(async () => (await clientTypes(s)).join() === "flv-play,fmle-publish", 10000, "publisher + FLV player");

        // HTTP-FLV and HLS: 503.
        const flv2 = await fetch(s.httpUrl("/live/s.flv"));
        expect(flv2.status).toBe(503);
        await flv2.body?.cancel();
        const hls = await fetch(s.httpUrl("/live/s.m3u8"));
        expect(hls.status).toBe(503);
        // WHEP: 503; /rtc/v1/play: SRS's ERROR_EXCEED_CONNECTIONS.
        const whep = await fetch(`http://127.0.0.1:${s.api}/rtc/v1/whep/?app=live&stream=s`, { method: "POST", body: OFFER });
        expect(whep.status).toBe(503);
        const rtcApi = await (await fetch(`http://127.0.0.1:${s.api}/rtc/v1/play/`, {
          method: "POST", body: JSON.stringify({ streamurl: "webrtc://127.0.0.1/live/s", sdp: OFFER }),
        })).json() as { code: number };
        expect(rtcApi.code).toBe(1074);
        // SRT: the handshake is rejected, ffmpeg fails.
        const srt = run("ffmpeg", ["-hide_banner", "-loglevel", "error",
          "-i", `srt://127.0.0.1:${s.srt}?streamid=#!::r=live/s,m=request&connect_timeout=3000`, "-t", "1", "-f", "null", "-"],
          { timeoutMs: 15000 });
        expect(await srt.done).not.toBe(0);
        // RTMP: the connection is closed, ffmpeg fails.
        const rtmp = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/s"), "-t", "1", "-f", "null", "-"],
          { timeoutMs: 15000 });
        expect(await rtmp.done).not.toBe(0);

        const log = s.output();
        for (const who of ["http stream", "hls: play", "rtc play", "srt client", "rtmp: reject"]) {
          expect({ who, refused: new RegExp(`${who}.*max_connections 2 reached`).test(log) }).toEqual({ who, refused: true });
        }
        // Still only the two.
        expect(await clientTypes(s)).toEqual(["flv-play", "fmle-publish"]);
      } finally {
        flv.kill();
      }
      // The player left: the next client gets in.
      await waitFor(async () => (await clientTypes(s)).join() === "fmle-publish", 10000, "the FLV player to leave");
      const again = await fetch(s.httpUrl("/live/s.flv"));
      expect(again.status).toBe(200);
      const r = again.body!.getReader();
      const first = await r.read();
      expect(first.done).toBe(false);
      expect(new TextDecoder().decode(first.value!.subarray(0, 3))).toBe("FLV");
      await r.cancel();
    } finally {
      pub.kill();
    }
  }, 60000);

  test("HLS players arriving while a slow on_play hook answers cannot overshoot the limit", async () => {
    // The hook takes 500 ms: all three players ask before the first one is admitted.
    const hook = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async () => {
        await Bun.sleep(500);
        return Response.json({ code: 0 });
      },
    });
    const conf = CONF.replace(
      "vhost __defaultVhost__ {",
      `vhost __defaultVhost__ {\n  http_hooks { enabled on; on_play http://127.0.0.1:${hook.port}/; }`,
    );
    const s = await startServer({ config: conf });
    running.push(s);
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/h"));
    try {
      await waitFor(() => existsSync(join(s.dir, "objs/nginx/html/live/h.m3u8")), 15000, "the HLS playlist");
      const statuses = await Promise.all(Array.from({ length: 3 }, () =>
        fetch(s.httpUrl("/live/h.m3u8")).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        })));
      // Publisher + one HLS session = 2.
      expect(statuses.sort()).toEqual([200, 503, 503]);
      expect(await clientTypes(s)).toEqual(["fmle-publish", "hls-play"]);
    } finally {
      pub.kill();
      hook.stop(true);
    }
  }, 60000);
});
