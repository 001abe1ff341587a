/**
 * The proxy's system API (PROXY_SYSTEM_API, SRS 7 proxy/api.go): origins register with their heartbeat,
 * POST /api/v1/srs/register (body: lib/proxy/backend.ts parseRegister). A bad body is a 400 naming the field;
 * it never reaches the load balancer. Also GET /api/v1/versions.
 */
import type { Log } from "../log/logger.ts";
import { SRS_COMPAT_VERSION, VERSION } from "../version.ts";
import { backendId, describeBackend, MAX_REGISTER_BODY, parseRegister, RegisterError } from "./backend.ts";
import { BodyTooLargeError, corsHeaders, readBounded, text } from "./http.ts";
import type { LoadBalancer } from "./lb.ts";

function json(body: unknown, status = 200): Response {
  const headers = corsHeaders();
  headers.set("Content-Type", "application/json");
  headers.set("Server", `srs-ts-proxy/${VERSION}`);
  return new Response(JSON.stringify(body), { status, headers });
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
        let body: string;
        try {
          body = await readBounded(req, MAX_REGISTER_BODY);
        } catch (e) {
          throw e instanceof BodyTooLargeError ? new RegisterError(e.message) : e;
        }
        const b = parseRegister(body);
        await this.lb.update(b);
        const id = backendId(b);
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
