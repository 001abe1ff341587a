/**
 * HttpServers.rebind when a new port is taken: a listener freed because its port changes role (shared
 * http_server+http_api → api alone) is opened again, so the failed reload leaves the server as it found it.
 */
import { expect, test } from "bun:test";
import { createServer } from "node:net";
import { loadConfig } from "../../../lib/config/index.ts";
import { Lifecycle } from "../../../lib/lifecycle.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { HttpServers, type HttpRoutes, type HttpServersPorts } from "../../../lib/protocols/http/servers.ts";
import { freePort } from "../../helpers/ports.ts";

/** Only an API route to probe (the real API is mounted by the composition root). */
const ROUTES: HttpRoutes = { api: [(app) => app.get("/api/v1/versions", (c) => c.json({ code: 0 }))], http: [] };

const conf = (http: number, api: number) => loadConfig({
  text: `listen 1935; http_server { enabled on; listen 127.0.0.1:${http}; dir ./html; } http_api { enabled on; listen 127.0.0.1:${api}; }
vhost __defaultVhost__ { }\n`,
  env: {},
});

test("a failed rebind that had freed a shared port opens it again", async () => {
  const [x, z] = [await freePort(), await freePort()];
  const log = new Log(new LogSink({ tank: "console", file: "", level: "error", utc: false }), "test");
  const ctx: HttpServersPorts & { config: unknown } = {
    config: conf(x, x),
    log, lifecycle: new Lifecycle(log),
  };
  const other = createServer((c) => c.destroy());
  await new Promise<void>((r) => other.listen(z, "127.0.0.1", () => r()));
  const http = new HttpServers(ctx, ROUTES);
  await http.start();
  try {
    expect((await fetch(`http://127.0.0.1:${x}/api/v1/versions`)).status).toBe(200);
    // The API stays on x alone, the HTTP server moves to z, which is taken.
    (ctx as { config: unknown }).config = conf(z, x);
    await expect(http.rebind()).rejects.toThrow("address already in use");
    expect(http.apiPorts).toEqual([x]);
    expect(http.httpPorts).toEqual([x]);
    expect((await fetch(`http://127.0.0.1:${x}/api/v1/versions`)).status).toBe(200);
  } finally {
    await http.close();
    other.close();
  }
});

test("a quit during a rebind wins: the HTTP port opened meanwhile does not stay open", async () => {
  const [x, y, z] = [await freePort(), await freePort(), await freePort()];
  const log = new Log(new LogSink({ tank: "console", file: "", level: "error", utc: false }), "test");
  const ctx: HttpServersPorts & { config: unknown } = {
    config: conf(x, y),
    log, lifecycle: new Lifecycle(log),
  };
  const http = new HttpServers(ctx, ROUTES);
  await http.start();
  (ctx as { config: unknown }).config = conf(z, y);
  const rebinding = http.rebind();
  await ctx.lifecycle.stop({ reason: "test", budgetMs: 500 });
  await expect(rebinding).rejects.toThrow("quitting");
  const refused = (port: number) => fetch(`http://127.0.0.1:${port}/`).then(() => false, () => true);
  expect(await refused(z)).toBe(true);
  expect(await refused(y)).toBe(true);
});
