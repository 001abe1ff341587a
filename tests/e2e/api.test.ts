/**
 * The HTTP API against SRS's recorded answers (tests/fixtures/srs-samples): same key sets and value types, recursively,
 * with a live ffmpeg publisher and an ffmpeg RTMP player; stats are true (codec, size, clients, kbps); kick ends
 * the publisher's ffmpeg; errors, JSONP, CORS, raw reload, basic auth, HTTPS and a fuzz that never crashes it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, type Proc, publish, run, type RunningServer, startServer } from "../helpers/server.ts";
import { clip, REPO_ROOT } from "../helpers/media.ts";
import { srsSampleJson } from "../helpers/fixtures.ts";

const sample = srsSampleJson;

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** Differences in key sets and value types between `got` and SRS's `want`, recursively (arrays: first item). */
export function shapeDiff(got: unknown, want: unknown, path = "$", nullable = new Set<string>()): string[] {
  const kg = kind(got);
  const kw = kind(want);
  if (kg !== kw) {
    if (nullable.has(path) && (kg === "null" || kw === "null")) return [];
    return [`${path}: ${kg} != ${kw}`];
  }
  if (kw === "array") {
    const g = got as unknown[];
    const w = want as unknown[];
    if (w.length === 0 || g.length === 0) return [];
    return shapeDiff(g[0], w[0], `${path}[]`, nullable);
  }
  if (kw === "object") {
    const g = got as Record<string, unknown>;
    const w = want as Record<string, unknown>;
    const out: string[] = [];
    for (const k of Object.keys(w)) if (!(k in g)) out.push(`${path}.${k}: missing`);
    for (const k of Object.keys(g)) if (!(k in w)) out.push(`${path}.${k}: extra`);
    for (const k of Object.keys(w)) if (k in g) out.push(...shapeDiff(g[k], w[k], `${path}.${k}`, nullable));
    return out;
  }
  return [];
}

async function getJson(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const r = await fetch(url, init);
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

async function waitFor<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await Bun.sleep(250);
  }
}

type Obj = Record<string, unknown>;

describe("http api with a live publisher and player", () => {
  let s: RunningServer;
  let pub: Proc;
  let player: Proc;
  const api = (p: string) => `http://127.0.0.1:${s.api}${p}`;

  beforeAll(async () => {
    s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; raw_api { enabled on; allow_reload on; } }
http_server { enabled on; listen 8080; }
vhost __defaultVhost__ { hls { enabled on; } }
`,
    });
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream"));
    await waitFor(async () => {
      const j = await getJson(api("/api/v1/streams/"));
      const st = (j.streams as Obj[])[0];
      return st && (st.publish as Obj).active && st.video ? st : undefined;
    }, 15000, "stream to go live");
    player = run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", s.rtmpUrl("/live/livestream"), "-f", "null", "-"]);
    await waitFor(async () => {
      const j = await getJson(api("/api/v1/clients/"));
      return (j.clients as Obj[]).some((c) => c.type === "rtmp-play") ? true : undefined;
    }, 10000, "player");
    // Two kbps samples (2 s apart) with bytes flowing.
    await Bun.sleep(5000);
  }, 40000);

  afterAll(async () => {
    pub?.kill();
    player?.kill();
    await s?.stop();
  });

  const simple: [string, string][] = [
    ["/api/v1/versions", "versions.json"],
    ["/api/v1/summaries", "summaries.json"],
    ["/api/v1/rusages", "rusages.json"],
    ["/api/v1/self_proc_stats", "self_proc_stats.json"],
    ["/api/v1/system_proc_stats", "system_proc_stats.json"],
    ["/api/v1/meminfos", "meminfos.json"],
    ["/api/v1/authors", "authors.json"],
    ["/api/v1/features", "features.json"],
    ["/api/v1/vhosts/", "vhosts.json"],
    ["/api/v1/streams/", "streams.json"],
    ["/api/v1/clusters", "clusters.json"],
    ["/", "root.json"],
    ["/api/", "api.json"],
    ["/api/v1/", "v1root.json"],
  ];
  for (const [path, file] of simple) {
    test(`${path} has the shape of SRS's ${file}`, async () => {
      const got = await getJson(api(path));
      if (file === "streams.json") {
        // srs-ts's extension (issue #21): each stream's health, which SRS does not have
        for (const st of got.streams as Record<string, unknown>[]) {
          expect((st.health as { status: string }).status).toMatch(/^(ok|warning|bad)$/);
          delete st.health;
        }
      }
      expect(shapeDiff(got, sample(file))).toEqual([]);
      expect(got.code).toBe(0);
      if (file !== "clusters.json") {
        expect(typeof got.pid).toBe("string");
        expect(got.pid).toBe(String(s.proc.pid));
      }
    });
  }

  test("clients has the shape of SRS's clients.json", async () => {
    const got = await getJson(api("/api/v1/clients/"));
    expect(shapeDiff(got, sample("clients.json"))).toEqual([]);
  });

  test("streams are true: H264 Baseline 3.1 640x360, AAC LC 44100 2ch, 2 clients, kbps > 0", async () => {
    const j = await getJson(api("/api/v1/streams/"));
    const st = (j.streams as Obj[])[0]!;
    expect(st.name).toBe("livestream");
    expect(st.app).toBe("live");
    expect(st.url).toBe("/live/livestream");
    expect(String(st.id)).toMatch(/^vid-/);
    expect(st.video).toEqual({ codec: "H264", profile: "Baseline", level: "3.1", width: 640, height: 360 });
    expect(st.audio).toEqual({ codec: "AAC", sample_rate: 44100, channel: 2, profile: "LC" });
    expect(st.clients).toBe(2);
    const kbps = st.kbps as Obj;
    expect(kbps.recv_30s as number).toBeGreaterThan(0);
    expect(kbps.send_30s as number).toBeGreaterThan(0);
    expect(Math.abs((st.live_ms as number) - Date.now())).toBeLessThan(5000);
    const v = await getJson(api("/api/v1/vhosts/"));
    const vh = (v.vhosts as Obj[])[0]!;
    expect(st.vhost).toBe(vh.id);
    expect(vh.name).toBe("__defaultVhost__");
    expect(vh.streams).toBe(1);
    expect(vh.clients).toBe(2);
    expect(vh.hls).toEqual({ enabled: true, fragment: 10 });
    // single stream / vhost
    const one = await getJson(api(`/api/v1/streams/${st.id}`));
    expect(shapeDiff(one.stream, st)).toEqual([]);
    const onev = await getJson(api(`/api/v1/vhosts/${vh.id}`));
    expect((onev.vhost as Obj).name).toBe("__defaultVhost__");
  });

  test("clients are true: the publisher's cid, fmle-publish and rtmp-play, kbps > 0", async () => {
    const j = await getJson(api("/api/v1/clients/"));
    const clients = j.clients as Obj[];
    expect(clients.length).toBe(2);
    const pubc = clients.find((c) => c.type === "fmle-publish")!;
    const playc = clients.find((c) => c.type === "rtmp-play")!;
    expect(pubc.publish).toBe(true);
    expect(playc.publish).toBe(false);
    expect(String(pubc.id)).toMatch(/^[a-z0-9]{8}$/);
    const st = ((await getJson(api("/api/v1/streams/"))).streams as Obj[])[0]!;
    expect(st.publish).toEqual({ active: true, cid: pubc.id });
    expect(pubc.stream).toBe(st.id);
    expect(pubc.vhost).toBe(st.vhost);
    expect(pubc.ip).toBe("127.0.0.1");
    expect(typeof pubc.alive).toBe("number");
    expect(pubc.alive as number).toBeGreaterThan(1);
    expect((pubc.kbps as Obj).recv_30s as number).toBeGreaterThan(0);
    expect((playc.kbps as Obj).send_30s as number).toBeGreaterThan(0);
    expect(pubc.recv_bytes as number).toBeGreaterThan(100000);
    expect(playc.send_bytes as number).toBeGreaterThan(100000);
    const one = await getJson(api(`/api/v1/clients/${playc.id}`));
    expect((one.client as Obj).type).toBe("rtmp-play");
  });

  test("errors: unknown stream 2048, client 2049, vhost 2014; tests/errors 100; wrong method 405", async () => {
    expect(await getJson(api("/api/v1/streams/vid-nope123"))).toEqual({ code: 2048 });
    expect(await getJson(api("/api/v1/clients/nope1234"))).toEqual({ code: 2049 });
    expect(await getJson(api("/api/v1/clients/nope1234"), { method: "DELETE" })).toEqual({ code: 2049 });
    expect(await getJson(api("/api/v1/vhosts/vid-nope123"))).toEqual({ code: 2014 });
    expect(await getJson(api("/api/v1/tests/errors"))).toEqual({ code: 100 });
    expect((await fetch(api("/api/v1/streams/"), { method: "POST", body: "x" })).status).toBe(405);
    const redir = await fetch(api("/api/v1/tests/redirects"), { redirect: "manual" });
    expect(redir.status).toBe(301);
    expect(redir.headers.get("location")).toBe("/api/v1/tests/errors");
    // prefix mux: unknown v1 path → the v1 index
    const idx = await getJson(api("/api/v1/nothing/here"));
    expect(shapeDiff(idx, sample("v1root.json"))).toEqual([]);
  });

  test("start/count paging: count is at least 10", async () => {
    const j = await getJson(api("/api/v1/clients/?start=0&count=1"));
    expect((j.clients as Obj[]).length).toBe(2);
    const k = await getJson(api("/api/v1/clients/?start=1&count=1"));
    expect((k.clients as Obj[]).length).toBe(1);
    const none = await getJson(api("/api/v1/streams/?start=5"));
    expect(none.streams).toEqual([]);
  });

  test("JSONP and CORS", async () => {
    const r = await fetch(api("/api/v1/versions?callback=cb"));
    expect(r.headers.get("content-type")).toContain("text/javascript");
    const t = await r.text();
    expect(t.startsWith("cb({")).toBe(true);
    expect(t.endsWith("})")).toBe(true);
    const c = await fetch(api("/api/v1/versions"), { headers: { Origin: "http://example.com" } });
    expect(c.headers.get("access-control-allow-origin")).toBe("*");
    expect(c.headers.get("access-control-allow-credentials")).toBe("false");
    const n = await fetch(api("/api/v1/versions"));
    expect(n.headers.get("access-control-allow-origin")).toBeNull();
    const o = await fetch(api("/api/v1/streams/"), { method: "OPTIONS", headers: { Origin: "http://x" } });
    expect(o.status).toBe(200);
    expect(await o.text()).toBe("");
    expect(n.headers.get("server")).toContain("SRS/7.0.18");
  });

  test("raw api: rpc=raw, rpc=reload calls the server's reload", async () => {
    const raw = await getJson(api("/api/v1/raw?rpc=raw"));
    expect(((raw.http_api as Obj).raw_api as Obj).allow_reload).toBe(true);
    const r = await getJson(api("/api/v1/raw?rpc=reload"));
    expect(r.code).toBe(0);
    await waitFor(async () => (s.output().includes("reload ok") ? true : undefined), 5000, "reload log");
    expect((await getJson(api("/api/v1/raw?rpc=nope"))).code).toBe(1060);
  });

  test("kick: DELETE the publisher's client id ends its ffmpeg and the stream", async () => {
    const j = await getJson(api("/api/v1/clients/"));
    const pubc = (j.clients as Obj[]).find((c) => c.type === "fmle-publish")!;
    const k = await getJson(api(`/api/v1/clients/${pubc.id}`), { method: "DELETE" });
    expect(k).toEqual({ code: 0, server: k.server, service: k.service, pid: String(s.proc.pid) });
    const code = await Promise.race([pub.done, Bun.sleep(15000).then(() => "timeout")]);
    expect(code).not.toBe("timeout");
    const st = ((await getJson(api("/api/v1/streams/"))).streams as Obj[]).find((x) => x.name === "livestream");
    if (st) {
      expect((st.publish as Obj).active).toBe(false);
      expect(st.video).toBeNull();
      expect(st.audio).toBeNull();
    }
    expect(await getJson(api(`/api/v1/clients/${pubc.id}`))).toEqual({ code: 2049 });
  }, 30000);
});

describe("http api: disabled raw api, auth, https, fuzz", () => {
  test("raw api disabled → 1061; /metrics while the exporter is disabled → 1090", async () => {
    const s = await startServer();
    try {
      expect(await getJson(`http://127.0.0.1:${s.api}/api/v1/raw?rpc=reload`)).toEqual({ code: 1061 });
      expect(await getJson(`http://127.0.0.1:${s.api}/metrics`)).toEqual({ code: 1090 });
    } finally {
      await s.stop();
    }
  });

  test("http_api.auth: 401 on /api/ paths without or with wrong credentials", async () => {
    const s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; auth { enabled on; username admin; password s3cret; } }
`,
    });
    try {
      const u = (p: string) => `http://127.0.0.1:${s.api}${p}`;
      expect((await fetch(u("/api/v1/versions"))).status).toBe(401);
      expect((await fetch(u("/api/v1/streams/"))).status).toBe(401);
      expect((await fetch(u("/api/"))).status).toBe(401);
      const bad = { Authorization: `Basic ${btoa("admin:nope")}` };
      expect((await fetch(u("/api/v1/versions"), { headers: bad })).status).toBe(401);
      const good = { Authorization: `Basic ${btoa("admin:s3cret")}` };
      const ok = await fetch(u("/api/v1/versions"), { headers: good });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as Obj).code).toBe(0);
      // Paths without /api/ are not guarded.
      expect((await fetch(u("/"))).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  test("https api with conf/server.key and conf/server.crt", async () => {
    const port = await freePort();
    const s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; https { enabled on; listen 127.0.0.1:${port}; key ${join(REPO_ROOT, "conf/server.key")}; cert ${join(REPO_ROOT, "conf/server.crt")}; } }
`,
    });
    try {
      const r = await fetch(`https://127.0.0.1:${port}/api/v1/versions`, { tls: { rejectUnauthorized: false } } as RequestInit);
      expect(r.status).toBe(200);
      const j = (await r.json()) as Obj;
      expect(shapeDiff(j, sample("versions.json"))).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  test("fuzz: random paths, queries, bodies and methods never crash or leak", async () => {
    const s = await startServer();
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T,>(a: readonly T[]): T => a[rnd(a.length)]!;
    const segs = ["api", "v1", "versions", "streams", "clients", "vhosts", "raw", "summaries", "clusters", "tests", "errors",
      "redirects", "requests", "features", "metrics", "..", ".", "%2e%2e", "%00", "vid-xxxxxxx", "", "a".repeat(300), "%ff", "ü"];
    const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
    const queries = ["", "?callback=cb", "?callback=<script>", "?start=-1&count=abc", "?count=99999999999", "?rpc=reload",
      "?rpc=raw", "?rpc=reload-fetch", "?start=1e309", "?vhost=&app=live&stream=livestream", "?callback=a.b&start=0"];
    const bodies = [undefined, "", "{", "null", JSON.stringify({ a: 1 }), "\u0000\u0001", "x".repeat(10000)];
    try {
      for (let i = 0; i < 400; i++) {
        const n = 1 + rnd(5);
        const path = "/" + Array.from({ length: n }, () => pick(segs)).join("/");
        const method = pick(methods);
        const body = method === "GET" || method === "HEAD" ? undefined : pick(bodies);
        const headers: Record<string, string> = {};
        if (rnd(3) === 0) headers.Origin = "http://fuzz";
        if (rnd(4) === 0) headers.Authorization = pick(["Basic ###", "Basic " + btoa("a:b"), "Bearer x", "Basic"]);
        const r = await fetch(`http://127.0.0.1:${s.api}${path}${pick(queries)}`, { method, body, headers });
        const text = await r.text();
        expect(r.status).toBeLessThan(500);
        expect(text).not.toMatch(/\bat .*\.ts:\d+|Error:|stack/);
      }
      const v = await getJson(`http://127.0.0.1:${s.api}/api/v1/versions`);
      expect(v.code).toBe(0);
      expect(s.proc.exitCode).toBeNull();
    } finally {
      await s.stop();
    }
  }, 60000);
});
