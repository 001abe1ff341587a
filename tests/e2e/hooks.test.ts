/**
 * HTTP callbacks with a real hook server (Bun.serve) that records every payload and allows or refuses:
 * field sets as SRS's (tests/fixtures/srs-samples/hooks.jsonl), the allow rule, token auth through `param`, a refusing
 * on_connect/on_publish stops only that client, and a hanging hook server delays only the client waiting on it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { publish, run, type RunningServer, startServer } from "../helpers/server.ts";
import { clip } from "../helpers/media.ts";
import { srsHookSamples } from "../helpers/fixtures.ts";
import { FLV_AND_HLS, serverConf } from "../helpers/conf.ts";
import { type HookHit, type HookRecorder, hookRecorder, hooksConf } from "../helpers/hooks.ts";

type Obj = Record<string, unknown>;

const SAMPLE_HOOKS = srsHookSamples();

/** SRS's field set per action, from the recorded payloads. */
function srsFields(action: string): string[] {
  const h = SAMPLE_HOOKS.find((x) => x.body?.action === action);
  if (!h?.body) throw new Error(`no sample for ${action}`);
  return Object.keys(h.body);
}

async function waitFor<T>(f: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await Bun.sleep(100);
  }
}

describe("http hooks", () => {
  let hooks: HookRecorder;
  let hits: HookHit[] = [];
  let s: RunningServer;
  const hangs: (() => void)[] = [];

  beforeAll(async () => {
    hooks = hookRecorder(async ({ body }) => {
      if (body.app === "deny") return Response.json({ code: 403 });
      if (body.stream === "slow" && body.action === "on_publish") {
        await new Promise<void>((r) => hangs.push(r));
        return new Response("0");
      }
      if (body.action === "on_publish" && String(body.param ?? "").includes("token=bad")) return Response.json({ code: 401 });
      if (body.action === "on_play" && body.stream === "text") return new Response("ok"); // not JSON: refused
      if (body.action === "on_play" && body.stream === "status") return new Response("0", { status: 403 });
      return body.action === "on_play" ? new Response("0") : Response.json({ code: 0, msg: "ok" });
    });
    hits = hooks.hits;
    const h = hooks.base;
    s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ {
    http_hooks {
        enabled on;
        on_connect ${h}/api/v1/clients;
        on_close ${h}/api/v1/clients;
        on_publish ${h}/api/v1/streams ${h}/api/v1/streams2;
        on_unpublish ${h}/api/v1/streams;
        on_play ${h}/api/v1/sessions;
        on_stop ${h}/api/v1/sessions;
    }
}
`,
    });
  });

  afterAll(async () => {
    for (const r of hangs) r();
    const t0 = Date.now();
    await s?.stop();
    expect(Date.now() - t0).toBeLessThan(9000);
    hooks?.close();
  }, 20000);

  const of = (action: string, pred: (b: Obj) => boolean = () => true) => hits.filter((h) => h.body.action === action && pred(h.body));

  test("publish + play + stop: SRS's payloads, in order, token in param, all URLs of a hook called", async () => {
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream?token=abc"));
    await waitFor(() => (of("on_publish").length >= 2 ? true : undefined), 10000, "on_publish");
    await Bun.sleep(1500);
    const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/livestream?k=v"), "-t", "2", "-f", "null", "-"]);
    expect(await player.done).toBe(0);
    await waitFor(() => (of("on_close", (b) => b.client_id === of("on_play")[0]?.body.client_id).length ? true : undefined), 10000, "player on_close");
    pub.kill();
    await waitFor(() => (of("on_unpublish").length && of("on_close").length >= 2 ? true : undefined), 10000, "on_unpublish");

    for (const action of ["on_connect", "on_publish", "on_play", "on_stop", "on_unpublish", "on_close"]) {
      const h = of(action)[0]!;
      expect({ action, keys: Object.keys(h.body) }).toEqual({ action, keys: srsFields(action) });
    }
    const pubId = of("on_publish")[0]!.body.client_id;
    const playId = of("on_play")[0]!.body.client_id;
    expect(pubId).not.toBe(playId);
    const connectPub = of("on_connect", (b) => b.client_id === pubId)[0]!.body;
    expect(connectPub).toMatchObject({ app: "live", stream: "livestream", param: "?token=abc", vhost: "__defaultVhost__", ip: "127.0.0.1", pageUrl: "" });
    expect(String(connectPub.tcUrl)).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
    const onPub = of("on_publish")[0]!.body;
    expect(onPub).toMatchObject({ stream_url: "/live/livestream", param: "?token=abc" });
    expect(String(onPub.stream_id)).toMatch(/^vid-/);
    // One stream, one id: the hub held for on_publish is the one published, played and unpublished (the hub is
    // forgotten only after on_unpublish got its id).
    for (const action of ["on_play", "on_stop", "on_unpublish"]) {
      expect({ action, id: of(action)[0]!.body.stream_id }).toEqual({ action, id: onPub.stream_id });
    }
    // both URLs of on_publish
    expect(hits.filter((h) => h.body.action === "on_publish").map((h) => h.path).sort()).toEqual(["/api/v1/streams", "/api/v1/streams2"]);
    expect(of("on_play")[0]!.body).toMatchObject({ param: "?k=v", stream: "livestream" });
    const close = of("on_close", (b) => b.client_id === pubId)[0]!.body;
    expect(close.recv_bytes as number).toBeGreaterThan(10000);
    expect(typeof close.send_bytes).toBe("number");
    // order per client
    const seqOf = (id: unknown) => hits.filter((h) => h.body.client_id === id).map((h) => h.body.action);
    expect(seqOf(pubId)).toEqual(["on_connect", "on_publish", "on_publish", "on_unpublish", "on_close"]);
    expect(seqOf(playId)).toEqual(["on_connect", "on_play", "on_stop", "on_close"]);
    expect(hits.every((h) => h.method === "POST")).toBe(true);
  }, 40000);

  test("on_publish refusing a bad token stops that publisher only", async () => {
    const good = publish(clip("clip.flv"), s.rtmpUrl("/live/good?token=abc"));
    await waitFor(() => (of("on_publish", (b) => b.stream === "good").length >= 2 ? true : undefined), 10000, "good publish");
    await Bun.sleep(500);
    const bad = publish(clip("clip.flv"), s.rtmpUrl("/live/bad?token=bad"));
    const code = await Promise.race([bad.done, Bun.sleep(15000).then(() => "timeout")]);
    expect(code).not.toBe("timeout");
    expect(code).not.toBe(0);
    expect(good.proc.exitCode).toBeNull();
    const j = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/`)).json()) as { streams: Obj[] };
    const names = j.streams.filter((x) => (x.publish as Obj).active).map((x) => x.name);
    expect(names).toContain("good");
    expect(names).not.toContain("bad");
    good.kill();
    expect(s.output()).toContain("refused");
  }, 30000);

  test("on_connect refusing ({code:403}) closes the client; on_close still notified", async () => {
    const p = publish(clip("clip.flv"), s.rtmpUrl("/deny/s1"));
    const code = await Promise.race([p.done, Bun.sleep(15000).then(() => "timeout")]);
    expect(code).not.toBe("timeout");
    expect(code).not.toBe(0);
    const c = of("on_connect", (b) => b.app === "deny")[0]!;
    expect(c.body).toMatchObject({ stream: "s1", param: "" });
    await waitFor(() => (of("on_close", (b) => b.client_id === c.body.client_id).length ? true : undefined), 5000, "on_close");
    expect(of("on_publish", (b) => b.app === "deny")).toEqual([]);
  }, 30000);

  test("a non-JSON answer or a non-200 status refuses play", async () => {
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/text"));
    await waitFor(() => (of("on_publish", (b) => b.stream === "text").length >= 2 ? true : undefined), 10000, "publish text");
    for (const [stream, why] of [["text", "invalid response"], ["status", "http status 403"]] as const) {
      const t0 = Date.now();
      const p = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rw_timeout", "8000000", "-i", s.rtmpUrl(`/live/${stream}`), "-t", "2", "-f", "null", "-"]);
      const code = await p.done;
      expect(code).not.toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(s.output()).toContain(why);
    }
    pub.kill();
  }, 30000);

  test("a hanging hook delays only its client: another stream keeps flowing and new clients get in", async () => {
    const api = `http://127.0.0.1:${s.api}`;
    const fast = publish(clip("clip.flv"), s.rtmpUrl("/live/fast"));
    const bytesOfFast = async () => {
      const j = (await (await fetch(`${api}/api/v1/streams/`)).json()) as { streams: Obj[] };
      const st = j.streams.find((x) => x.name === "fast" && (x.publish as Obj).active);
      return st ? (st.recv_bytes as number) : undefined;
    };
    await waitFor(bytesOfFast, 10000, "fast stream");
    const slow = publish(clip("clip.flv"), s.rtmpUrl("/live/slow"));
    await waitFor(() => (hangs.length ? true : undefined), 10000, "hanging hook");
    const t0 = Date.now();
    const before = (await bytesOfFast())!;
    // While the slow publisher waits, a player of the fast stream gets in and plays.
    const player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/fast"), "-t", "1", "-f", "null", "-"]);
    expect(await player.done).toBe(0);
    const after = (await bytesOfFast())!;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(after).toBeGreaterThan(before);
    // The slow publisher is refused when its hook times out (5 s).
    const code = await Promise.race([slow.done, Bun.sleep(15000).then(() => "timeout")]);
    expect(code).not.toBe("timeout");
    expect(s.output()).toMatch(/on_publish .* refused client \w+: no answer in 5000ms/);
    expect(fast.proc.exitCode).toBeNull();
    fast.kill();
  }, 40000);
});

describe("on_hls and on_hls_notify", () => {
  test("every HLS segment POSTs on_hls with SRS's fields and GETs the on_hls_notify template", async () => {
    const hooks = hookRecorder();
    const hits = hooks.hits;
    const h = hooks.base;
    const s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
vhost __defaultVhost__ {
    hls { enabled on; hls_fragment 2; hls_window 10; hls_path ./html; }
    http_hooks {
        enabled on;
        on_hls ${h}/api/v1/hls;
        on_hls_notify ${h}/notify/[app]/[stream]/[ts_url][param];
    }
}
`,
    });
    try {
      const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream?token=abc"));
      const hls = await waitFor(() => hits.find((x) => x.body.action === "on_hls"), 20000, "on_hls");
      expect(Object.keys(hls.body)).toEqual(srsFields("on_hls"));
      expect(hls.body).toMatchObject({ app: "live", stream: "livestream", param: "?token=abc", m3u8_url: "live/livestream.m3u8" });
      expect(String(hls.body.url)).toMatch(/^live\/livestream-\d+\.ts$/);
      expect(hls.body.duration as number).toBeGreaterThan(1);
      expect(typeof hls.body.seq_no).toBe("number");
      const notify = await waitFor(() => hits.find((x) => x.method === "GET"), 10000, "on_hls_notify");
      expect(notify.path).toMatch(/^\/notify\/live\/livestream\/live\/livestream-\d+\.ts\?token=abc$/);
      pub.kill();
    } finally {
      await s.stop();
      hooks.close();
    }
  }, 40000);
});

describe("which clients get on_connect/on_close", () => {
  test("as SRS: an SRT publisher does; HTTP-FLV and HLS players get on_play/on_stop only (WebRTC: see shutdown.test.ts)", async () => {
    const hooks = hookRecorder();
    const hits = hooks.hits;
    const h = `${hooks.base}/hook`;
    const s = await startServer({
      config: serverConf(`${FLV_AND_HLS}
srt { enabled on; srt_to_rtmp on; }
${hooksConf(h, ["on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop"])}`),
      env: { SRS_SRT_SERVER_ENABLED: "on" },
    });
    const of = hooks.of;
    const seqOf = (id: unknown) => hits.filter((x) => x.body.client_id === id).map((x) => x.body.action);
    try {
      // An SRT publisher that ends by itself; HTTP-FLV and HLS players meanwhile.
      const pub = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip("clip.ts"), "-t", "6", "-c", "copy", "-f", "mpegts",
        `srt://127.0.0.1:${s.srt}?streamid=#!::r=live/who,m=publish`], { timeoutMs: 30000 });
      await waitFor(() => (of("on_publish").length ? true : undefined), 10000, "on_publish");
      const flv = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.httpUrl("/live/who.flv"), "-t", "1", "-f", "null", "-"], { timeoutMs: 20000 });
      expect(await flv.done).toBe(0);
      const master = await waitFor(async () => {
        const r = await fetch(s.httpUrl("/live/who.m3u8"));
        return r.status === 200 ? await r.text() : undefined;
      }, 15000, "the HLS playlist");
      expect(master).toContain("hls_ctx=");
      await pub.done;
      await waitFor(() => (of("on_unpublish").length && of("on_stop").length >= 2 ? true : undefined), 20000, "on_unpublish and both on_stop");

      const pubId = of("on_publish")[0]!.body.client_id;
      await waitFor(() => (of("on_close", pubId).length ? true : undefined), 10000, "the SRT publisher's on_close");
      expect(seqOf(pubId)).toEqual(["on_connect", "on_publish", "on_unpublish", "on_close"]);
      const players = of("on_play").map((x) => x.body.client_id);
      expect(players.length).toBe(2); // HTTP-FLV and HLS
      for (const id of players) expect(seqOf(id)).toEqual(["on_play", "on_stop"]);
      expect(of("on_connect").length).toBe(1);
      expect(of("on_close").length).toBe(1);
    } finally {
      await s.stop();
      hooks.close();
    }
  }, 60000);
});
