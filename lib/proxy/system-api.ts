/**
 * The proxy's system API (PROXY_SYSTEM_API, SRS 7 proxy/api.go): origins register with their heartbeat,
 * POST /api/v1/srs/register (body: lib/proxy/backend.ts parseRegister). A bad body is a 400 naming the field;
 * it never reaches the load balancer. Also GET /api/v1/versions.
 */
import type { Log } from "../log/logger.ts";
import { SRS_COMPAT_VERSION, VERSION } from "../version.ts";
import { describeBackend, MAX_REGISTER_BODY, parseRegister, RegisterError } from "./backend.ts";
import { corsHeaders, text } from "./http.ts";
import type { LoadBalancer } from "./lb.ts";

function json(body: unknown, status = 200): Response {
  const headers = corsHeaders();
  headers.set("Content-Type", "application/json");
  headers.set("Server", `srs-ts-proxy/${VERSION}`);
  return new Response(JSON.stringify(body), { status, headers });
}

/** The body as text, refusing more than `max` bytes (whatever Content-Length says). */
export async function readBounded(req: Request, max: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > max) throw new RegisterError(`body of ${declared} bytes is larger than ${max}`);
  if (!req.body) return "";
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => undefined);
      throw new RegisterError(`body larger than ${max} bytes`);
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString("utf8");
}

export class SystemApi {
  /** Servers seen, by id, for the log line (new vs refreshed). */
  private seen = new Set<string>();

  constructor(private lb: LoadBalancer, private log: Log) {}

  async handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname.replace(/\/+$/, "");
    if (req.method === "OPTIONS") return new Response(null, { status: 200, headers: corsHeaders() });
    if (path === "/api/v1/versions") {
      const [major = 0, minor = 0, revision = 0] = SRS_COMPAT_VERSION.split(".").map(Number);
      return json({ code: 0, pid: String(process.pid), data: { major, minor, revision, version: SRS_COMPAT_VERSION } });
    }
    if (path === "/api/v1/srs/register") {
      if (req.method !== "POST") return text(405, "proxy: register with POST");
      try {
        const b = parseRegister(await readBounded(req, MAX_REGISTER_BODY));
        await this.lb.update(b);
        const id = `${b.server_id}-${b.service_id}-${b.pid}`;
        if (!this.seen.has(id)) {
          if (this.seen.size > 10_000) this.seen.clear();
          this.seen.add(id);
          this.log.trace(`proxy: origin registered: ${describeBackend(b)}`);
        }
        return json({ code: 0, pid: String(process.pid) });
      } catch (e) {
        if (e instanceof RegisterError) {
          this.log.warn(`proxy: register refused: ${e.message}`);
          return text(400, `proxy: register refused: ${e.message}`);
        }
        throw e;
      }
    }
    return text(404, `proxy: no API ${path}`);
  }
}
