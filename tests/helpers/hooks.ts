/**
 * A hook server for e2e tests (Bun.serve on a loopback port): records every HTTP callback the server sends
 * (path with query, method, JSON body) and answers through `answer` (default: allow, `{"code":0}`).
 */

export type HookBody = Record<string, unknown>;

export interface HookHit {
  /** Path and query string, e.g. `/notify/live/s.ts?token=abc`. */
  path: string;
  method: string;
  /** The POSTed JSON (`{ raw }` when it is not JSON; `{}` for a GET). */
  body: HookBody;
  at: number;
}

export interface HookRecorder {
  hits: HookHit[];
  /** `http://127.0.0.1:PORT` of the hook server. */
  base: string;
  /** Hits of one action, optionally of one client. */
  of(action: string, clientId?: unknown): HookHit[];
  /** Stops the server, first answering every held request. */
  close(): void;
}

/**
 * Starts the recorder. `answer` decides each reply; `hold()` gives a promise that resolves only at close(), for a
 * hook server that never answers.
 */
export function hookRecorder(
  answer: (hit: HookHit, hold: () => Promise<void>) => Response | Promise<Response> = () => Response.json({ code: 0 }),
): HookRecorder {
  const hits: HookHit[] = [];
  const held: (() => void)[] = [];
  const hold = () => new Promise<void>((r) => held.push(r));
  const srv = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const text = req.method === "POST" ? await req.text() : "";
      let body: HookBody = {};
      try {
        body = text ? (JSON.parse(text) as HookBody) : {};
      } catch {
        body = { raw: text };
      }
      const hit = { path: url.pathname + url.search, method: req.method, body, at: Date.now() };
      hits.push(hit);
      return await answer(hit, hold);
    },
  });
  return {
    hits,
    base: `http://127.0.0.1:${srv.port}`,
    of: (action, clientId) => hits.filter((h) => h.body.action === action && (clientId === undefined || h.body.client_id === clientId)),
    close: () => {
      for (const r of held.splice(0)) r();
      srv.stop(true);
    },
  };
}

/** An `http_hooks` section sending each of `actions` (on_connect, on_publish, ...) to `url`. */
export function hooksConf(url: string, actions: string[]): string {
  return `http_hooks { enabled on; ${actions.map((a) => `${a} ${url};`).join(" ")} }`;
}
