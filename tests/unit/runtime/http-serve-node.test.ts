/**
 * The node:http path of lib/runtime/http-serve.ts (@hono/node-server's listener), run here under Bun's node:http:
 * requests and streamed responses go through, the client's address is passed on, a live body is cancelled
 * when the player leaves, and the runtime's Request/Response globals stay the runtime's own.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { serveNode, type ServeInfo } from "../../../lib/runtime/http-serve.ts";

describe("http-serve under node:http", () => {
  test("GET streams a body, POST reads one, the client's address is given, globals untouched", async () => {
    const OrigRequest = globalThis.Request;
    const seen: ServeInfo[] = [];
    const l = await serveNode({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req, info) => {
        seen.push(info);
        if (req.method === "POST") return new Response(`got ${(await req.text()).length} bytes`, { status: 201 });
        let n = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(c) {
            if (n === 3) return c.close();
            c.enqueue(new TextEncoder().encode(`chunk${n++};`));
          },
        });
        return new Response(body, { headers: { "content-type": "text/plain", "x-test": "1" } });
      },
    });
    try {
      const base = `http://127.0.0.1:${l.port}`;
      const r = await fetch(`${base}/live/a.flv`);
      expect(r.status).toBe(200);
      expect(r.headers.get("x-test")).toBe("1");
      expect(await r.text()).toBe("chunk0;chunk1;chunk2;");
      const p = await fetch(`${base}/api`, { method: "POST", body: "x".repeat(100000) });
      expect(p.status).toBe(201);
      expect(await p.text()).toBe("got 100000 bytes");
      expect(seen[0]!.remoteAddr).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      expect(seen[0]!.remotePort).toBeGreaterThan(0);
      expect(globalThis.Request).toBe(OrigRequest);
    } finally {
      await l.close();
    }
  });

  test("a live body is cancelled when the client goes away", async () => {
    let cancelled = false;
    let pulls = 0;
    const l = await serveNode({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(new ReadableStream<Uint8Array>({
          async pull(c) {
            pulls++;
            await new Promise((r) => setTimeout(r, 5));
            c.enqueue(new Uint8Array(1024));
          },
          cancel() {
            cancelled = true;
          },
        })),
    });
    try {
      const sock = connect(l.port, "127.0.0.1");
      await new Promise<void>((r) => sock.once("connect", () => r()));
      sock.write("GET /live/x.flv HTTP/1.1\r\nHost: x\r\n\r\n");
      await new Promise<void>((r) => sock.once("data", () => r()));
      sock.destroy();
      for (let i = 0; i < 100 && !cancelled; i++) await new Promise((r) => setTimeout(r, 20));
      expect(cancelled).toBe(true);
      const after = pulls;
      await new Promise((r) => setTimeout(r, 100));
      expect(pulls).toBeLessThanOrEqual(after + 1);
    } finally {
      await l.close();
    }
  });
});
