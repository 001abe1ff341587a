/**
 * The Prometheus exporter: exactly SRS's ten srs_* metrics (names and types as tests/fixtures/srs-samples/metrics.txt) on
 * its own port and on the API's /metrics, true values with a live publisher, and srs-ts's per-stream series that
 * go away with the stream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpus } from "node:os";
import { freePort, type Proc, publish, type RunningServer, startServer } from "../helpers/server.ts";
import { clip } from "../helpers/media.ts";
import { srsSampleText } from "../helpers/fixtures.ts";

function types(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of text.split("\n")) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(l);
    if (t) m.set(t[1]!, t[2]!);
  }
  return m;
}

function value(text: string, series: string): number | undefined {
  for (const l of text.split("\n")) {
    if (l.startsWith("#")) continue;
    const sp = l.lastIndexOf(" ");
    if (l.slice(0, sp) === series || (series.endsWith("{") && l.startsWith(series))) return Number(l.slice(sp + 1));
  }
  return undefined;
}

describe("exporter", () => {
  let s: RunningServer;
  let port: number;
  let pub: Proc;
  const sampleTypes = types(srsSampleText("metrics.txt"));

  beforeAll(async () => {
    port = await freePort();
    s = await startServer({
      config: `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
exporter { enabled on; listen 127.0.0.1:${port}; label cn-beijing; tag node-1; }
vhost __defaultVhost__ { }
`,
    });
    pub = publish(clip("clip.flv"), s.rtmpUrl("/live/livestream"));
    const end = Date.now() + 15000;
    while (Date.now() < end) {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (value(t, "srs_streams") === 1 && (value(t, "srs_receive_bytes_total") ?? 0) > 50000) break;
      await Bun.sleep(300);
    }
    await Bun.sleep(4500);
  }, 30000);

  afterAll(async () => {
    pub?.kill();
    await s?.stop();
  });

  test("exactly SRS's ten srs_* metrics with SRS's types, on the exporter port and the API port", async () => {
    expect(sampleTypes.size).toBe(10);
    for (const url of [`http://127.0.0.1:${port}/metrics`, `http://127.0.0.1:${s.api}/metrics`]) {
      const r = await fetch(url);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      const got = types(await r.text());
      const srs = new Map([...got].filter(([k]) => k.startsWith("srs_")));
      expect(Object.fromEntries(srs)).toEqual(Object.fromEntries(sampleTypes));
      for (const [k] of got) expect(k.startsWith("srs_") || k.startsWith("srsts_stream_") || k.startsWith("srsts_forward_") || k.startsWith("srsts_edge_")).toBe(true);
    }
  });

  test("values are true with a live publisher", async () => {
    const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(value(t, "srs_streams")).toBe(1);
    expect(value(t, "srs_clients")).toBe(1);
    expect(value(t, "srs_clients_total")!).toBeGreaterThanOrEqual(1);
    expect(value(t, "srs_clients_errs_total")).toBe(0);
    expect(value(t, "srs_receive_bytes_total")!).toBeGreaterThan(100000);
    expect(value(t, "srs_memory")!).toBeGreaterThan(1000);
    // a percentage of the process's CPU: a finite number within what the machine's cores can give
    const cpu = value(t, "srs_cpu_percent");
    expect(Number.isFinite(cpu) && cpu! >= 0 && cpu! <= 100 * cpus().length).toBe(true);
    const build = t.split("\n").find((l) => l.startsWith("srs_build_info{"))!;
    expect(build).toContain(`pid="${s.proc.pid}"`);
    expect(build).toContain(`version="7.0.18"`);
    expect(build).toContain(`major="7"`);
    expect(build).toContain(`label="cn-beijing"`);
    expect(build).toContain(`tag="node-1"`);
    expect(build).toMatch(/build_date="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"/);
    expect(t).toMatch(/^srs_node_uname_info\{sysname="[^"]+",nodename="[^"]*",release="[^"]*",version="[^"]*",machine="[^"]*"\} 1$/m);
    const labels = `{vhost="__defaultVhost__",app="live",stream="livestream"}`;
    expect(value(t, `srsts_stream_receive_bytes_total${labels}`)!).toBeGreaterThan(100000);
    expect(value(t, `srsts_stream_clients${labels}`)).toBe(1);
    expect(value(t, `srsts_stream_recv_kbps${labels}`)!).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  test("per-stream series go with the stream", async () => {
    pub.kill();
    const end = Date.now() + 10000;
    let t = "";
    while (Date.now() < end) {
      t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (value(t, "srs_streams") === 0 && !t.includes(`stream="livestream"`)) break;
      await Bun.sleep(300);
    }
    expect(value(t, "srs_streams")).toBe(0);
    expect(value(t, "srs_clients")).toBe(0);
    expect(t).not.toContain(`stream="livestream"`);
  }, 15000);
});
