/**
 * The HTTP server end to end (`bun main.ts` on free loopback ports): static files from http_server.dir, path
 * traversal, the embedded pages, CORS as SRS on the HTTP server and the API, the Server header, and hostile
 * requests (huge headers, garbage, bad URLs) that must get a 4xx and leave the server serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/media.ts";
import { freePort, type RunningServer, startServer } from "../helpers/server.ts";

const servers: RunningServer[] = [];
let srv: RunningServer;
let html: string;

const CONFIG = `
listen 1935;
daemon off;
srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }
`;

beforeAll(async () => {
  srv = await startServer({ config: CONFIG });
  servers.push(srv);
  html = join(srv.dir, "html");
  mkdirSync(join(html, "sub"), { recursive: true });
  writeFileSync(join(html, "hello.txt"), "hello from the dir\n");
  writeFileSync(join(html, "sub", "index.html"), "<p>sub index</p>\n");
  writeFileSync(join(html, "secret-neighbour.txt"), "inside\n");
  // A www/ in the working directory must never be served as the embedded pages.
  mkdirSync(join(srv.dir, "www"), { recursive: true });
  writeFileSync(join(srv.dir, "www", "index.html"), "NOT THE EMBEDDED PAGE\n");
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
});

/** Sends raw bytes on a fresh connection; returns everything received until the server closes or `ms`. */
async function raw(port: number, bytes: string | Uint8Array, ms = 2000): Promise<string> {
  return await new Promise((resolve) => {
    const s = netConnect({ host: "127.0.0.1", port });
    let out = "";
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(out);
    };
    const t = setTimeout(done, ms);
    s.on("connect", () => s.write(bytes));
    s.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      // One response is enough.
      const sep = out.indexOf("\r\n\r\n");
      if (sep >= 0) {
        const m = /content-length: (\d+)/i.exec(out.slice(0, sep));
        if (m && out.length >= sep + 4 + Number(m[1])) done();
      }
    });
    s.on("error", () => done());
    s.on("close", () => done());
  });
}

function statusOf(response: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return m ? Number(m[1]) : 0;
}

describe("static files", () => {
  test("a file from http_server.dir, with Content-Type and the Server header", async () => {
    const r = await fetch(srv.httpUrl("/hello.txt"));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello from the dir\n");
    expect(r.headers.get("content-type")).toContain("text/plain");
    expect(r.headers.get("server")).toMatch(/^SRS\/7\.0\.\d+/);
  });

  test("a directory serves its index.html; without the slash it redirects", async () => {
    const r = await fetch(srv.httpUrl("/sub/"));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("<p>sub index</p>\n");
    const r2 = await fetch(srv.httpUrl("/sub"), { redirect: "manual" });
    expect(r2.status).toBe(301);
    expect(r2.headers.get("location")).toBe("/sub/");
  });

  test("a missing file is 404 with the Server header", async () => {
    const r = await fetch(srv.httpUrl("/nope.txt"));
    expect(r.status).toBe(404);
    expect(r.headers.get("server")).toMatch(/^SRS\//);
    await r.arrayBuffer();
  });

  test("`..` is refused, also percent-encoded or with backslashes; nothing outside the dir leaks", async () => {
    // srs.conf sits in the server's working dir, the parent of ./html.
    expect(readFileSync(join(srv.dir, "srs.conf"), "utf8")).toContain("http_server");
    const attempts = [
      "/../srs.conf",
      "/sub/../../srs.conf",
      "/%2e%2e/srs.conf",
      "/%2E%2E/srs.conf",
      "/..%2fsrs.conf",
      "/sub/..%2f..%2fsrs.conf",
      "/..%5csrs.conf",
      "/%2e%2e%2f%2e%2e%2fsrs.conf",
      "/..%252fsrs.conf",
      "/hello.txt%00.html",
    ];
    for (const path of attempts) {
      const res = await raw(srv.http, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      const status = statusOf(res);
      expect({ path, ok: status >= 400 && status < 500 }).toEqual({ path, ok: true });
      expect(res).not.toContain("http_server");
    }
    const encoded = await raw(srv.http, `GET /..%2fsrs.conf HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(statusOf(encoded)).toBe(403);
  });
});

describe("embedded pages", () => {
  test("/ is the embedded home page while the dir has no index.html, then the dir's index wins", async () => {
    const embedded = readFileSync(join(REPO_ROOT, "www/index.html"), "utf8");
    const r = await fetch(srv.httpUrl("/"));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/html");
    const body = await r.text();
    expect(body).toBe(embedded);
    expect(body).not.toContain("NOT THE EMBEDDED PAGE");
    writeFileSync(join(html, "index.html"), "<p>local home</p>\n");
    const r2 = await fetch(srv.httpUrl("/"));
    expect(await r2.text()).toBe("<p>local home</p>\n");
  });
});

describe("CORS (crossdomain on by default)", () => {
  const CORS = ["access-control-allow-origin", "access-control-allow-headers", "access-control-allow-methods", "access-control-expose-headers"];
  /** SRS answers `*` for each; Allow-Headers also names Authorization (the wildcard does not cover it). */
  const corsValue = (h: string) => (h === "access-control-allow-headers" ? "*, Authorization" : "*");

  test("HTTP server: CORS headers only when the request has Origin", async () => {
    const withOrigin = await fetch(srv.httpUrl("/hello.txt"), { headers: { Origin: "http://example.com" } });
    for (const h of CORS) expect(withOrigin.headers.get(h)).toBe(corsValue(h));
    await withOrigin.arrayBuffer();
    const without = await fetch(srv.httpUrl("/hello.txt"));
    for (const h of CORS) expect(without.headers.get(h)).toBeNull();
    await without.arrayBuffer();
  });

  test("HTTP server and API: OPTIONS answers 200 empty with the CORS headers", async () => {
    for (const url of [srv.httpUrl("/live/s.flv"), `http://127.0.0.1:${srv.api}/api/v1/versions`]) {
      const r = await fetch(url, {
        method: "OPTIONS",
        headers: { Origin: "http://example.com", "Access-Control-Request-Method": "GET" },
      });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("");
      for (const h of CORS) expect(r.headers.get(h)).toBe(corsValue(h));
      expect(r.headers.get("server")).toMatch(/^SRS\//);
    }
  });

  test("API: CORS with Origin on a JSON answer", async () => {
    const r = await fetch(`http://127.0.0.1:${srv.api}/api/v1/versions`, { headers: { Origin: "http://example.com" } });
    expect(r.status).toBe(200);
    for (const h of CORS) expect(r.headers.get(h)).toBe(corsValue(h));
    expect(((await r.json()) as { code: number }).code).toBe(0);
  });

  test("crossdomain off: no CORS headers, OPTIONS is 405", async () => {
    const s = await startServer({ config: CONFIG, env: { SRS_HTTP_SERVER_CROSSDOMAIN: "off" } });
    servers.push(s);
    const r = await fetch(s.httpUrl("/"), { headers: { Origin: "http://example.com" } });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    await r.arrayBuffer();
    const o = await fetch(s.httpUrl("/"), { method: "OPTIONS", headers: { Origin: "http://example.com" } });
    expect(o.status).toBe(405);
    await o.arrayBuffer();
  }, 20000);
});

describe("one port for the API and the HTTP server", () => {
  test("http_api.listen == http_server.listen: both answer on it", async () => {
    const port = await freePort();
    const s = await startServer({
      config: CONFIG,
      env: { SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${port}`, SRS_HTTP_API_LISTEN: `127.0.0.1:${port}` },
    });
    servers.push(s);
    const v = await fetch(`http://127.0.0.1:${port}/api/v1/versions`, { headers: { Origin: "http://x" } });
    expect(((await v.json()) as { code: number }).code).toBe(0);
    expect(v.headers.get("access-control-allow-origin")).toBe("*");
    const home = await fetch(`http://127.0.0.1:${port}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get("content-type")).toContain("text/html");
    await home.arrayBuffer();
  }, 20000);
});

describe("hostile requests get a 4xx and the server keeps serving", () => {
  async function stillServing(): Promise<void> {
    const r = await fetch(srv.httpUrl("/hello.txt"));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello from the dir\n");
  }

  test("a 64 KB header", async () => {
    const big = "x".repeat(64 * 1024);
    const res = await raw(srv.http, `GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`);
    const status = statusOf(res);
    // Refused with a 4xx, or the connection closed without an answer; never a crash.
    expect(status === 0 || (status >= 400 && status < 500)).toBe(true);
    await stillServing();
    const api = await raw(srv.api, `GET /api/v1/versions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`);
    const st2 = statusOf(api);
    expect(st2 === 0 || (st2 >= 400 && st2 < 500)).toBe(true);
    expect(srv.proc.exitCode).toBeNull();
  });

  test("garbage bytes, a bad request line, bad percent-encoding, odd targets", async () => {
    const garbage = new Uint8Array(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    const cases: (string | Uint8Array)[] = [
      garbage,
      "HELLO\r\n\r\n",
      "GET\r\n\r\n",
      "GET /%zz%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /live/%zz.flv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET http://evil.example/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      `GET /${"a/".repeat(4000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      "POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    ];
    for (const c of cases) {
      const res = await raw(srv.http, c);
      const status = statusOf(res);
      expect(status === 0 || (status >= 400 && status < 500)).toBe(true);
      expect(res).not.toContain("root:");
    }
    // An unknown HTTP version is the one bad request answered 505 (HTTP Version Not Supported), as it should.
    expect(statusOf(await raw(srv.http, "GET / HTTP/9.9\r\nHost: x\r\n\r\n"))).toBe(505);
    await stillServing();
    expect(srv.proc.exitCode).toBeNull();
  });
});
