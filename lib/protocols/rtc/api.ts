/**
 * SRS's WebRTC signalling on the HTTP API listener (only when rtc_server is enabled):
 *  - POST /rtc/v1/publish/ and /rtc/v1/play/: JSON {api, tid, streamurl:"webrtc://host/app/stream?params",
 *    clientip, sdp} -> {code:0, server, service, pid, sdp, sessionid:"<our ufrag>:<their ufrag>"}; errors are
 *    HTTP 200 with a non-zero code (5019 when the body is not JSON), as the rest of SRS's API.
 *  - POST /rtc/v1/whip/?app=&stream= (WHIP, RFC 9725) with an application/sdp offer -> 201 + answer,
 *    Location: /rtc/v1/whip/?action=delete&token=…&app=…&stream=…&session=…; `action=play`, /rtc/v1/whep/
 *    and /rtc/v1/whip-play/ play (WHEP). DELETE on the Location ends the session (the token must match).
 *    Errors: 400 bad offer, 403 refused (hook, security, rtc disabled), 409 stream busy, 404 unknown session.
 * Extra query parameters reach the hooks as `param` (`?token=…`). `eip`/`candidate` override the advertised
 * address (ip[:port]); `ice-ufrag`/`ice-pwd` pin our ICE credentials.
 */
import type { Context, Hono } from "hono";
import type { ServeInfo } from "../../runtime/http-serve.ts";
import type { Log } from "../../log/logger.ts";
import { resolveRtmpRequest } from "../../net/stream-url.ts";
import { type OfferRequest, RtcRefused, type RtcService } from "./service.ts";

/** What the WebRTC signalling routes need of the server (lib/server.ts, the composition root, satisfies it). */
export interface RtcApiPorts {
  /** Server and service ids for SRS's JSON answers. */
  readonly serverId: string;
  readonly serviceId: string;
  readonly log: Log;
}

type Env = { Bindings: Partial<ServeInfo> };

/** ERROR_RTC_API_BODY in SRS: the body of /rtc/v1/publish|play is not the expected JSON. */
export const ERROR_RTC_API_BODY = 5019;

const WHIP_KEYS = new Set(["app", "stream", "action", "vhost"]);

function hostOf(c: Context): string {
  const h = c.req.header("host") ?? "127.0.0.1";
  return h.startsWith("[") ? h.slice(1, h.indexOf("]")) : h.split(":")[0]!;
}

function clientIpOf(c: Context<Env>): string {
  return (c.env?.remoteAddr ?? "").replace(/^::ffff:/, "");
}

/** Mounts SRS's WebRTC signalling; `rtc` finds the running RTC service (none: 404). */
export function mountRtc(app: Hono, ctx: RtcApiPorts, rtc: () => RtcService | undefined): void {
  const a = app as unknown as Hono<Env>;
  const json = (body: Record<string, unknown>) =>
    new Response(JSON.stringify({ code: 0, server: ctx.serverId, service: ctx.serviceId, pid: String(process.pid), ...body }), {
      headers: { "Content-Type": "application/json", Connection: "Close" },
    });

  const jsonApi = (role: "publish" | "play") => async (c: Context<Env>) => {
    const svc = rtc();
    if (!svc) return c.notFound();
    let body: { streamurl?: unknown; sdp?: unknown; clientip?: unknown };
    try {
      body = JSON.parse(await c.req.text()) as typeof body;
      if (typeof body !== "object" || body === null) throw new Error("not an object");
    } catch {
      return json({ code: ERROR_RTC_API_BODY });
    }
    if (typeof body.streamurl !== "string" || typeof body.sdp !== "string" || !body.sdp) return json({ code: ERROR_RTC_API_BODY });
    const m = /^webrtc:\/\/([^/]*)\/(.+)\/([^/?]+)(\?.*)?$/.exec(body.streamurl);
    if (!m) return json({ code: ERROR_RTC_API_BODY });
    const req = resolveRtmpRequest(`webrtc://${m[1]}/${m[2]}`, m[3]!, m[4] ?? "");
    const q = new URL(c.req.url).searchParams;
    const r: OfferRequest = {
      role,
      key: { vhost: req.vhost, app: req.app, stream: req.stream },
      param: req.param,
      clientIp: typeof body.clientip === "string" && body.clientip ? body.clientip : clientIpOf(c),
      tcUrl: `webrtc://${m[1]}/${m[2]}`,
      sdp: body.sdp,
      eip: q.get("eip") ?? q.get("candidate") ?? undefined,
      apiHost: hostOf(c),
    };
    try {
      const { session, answer } = await svc.offer(r);
      return json({ sdp: answer, sessionid: session.sessionId });
    } catch (e) {
      if (e instanceof RtcRefused) {
        ctx.log.warn(`rtc ${role} api refused: ${e.message}`);
        return json({ code: e.code, msg: e.message });
      }
      throw e;
    }
  };
  a.post("/rtc/v1/publish/", jsonApi("publish"));
  a.post("/rtc/v1/play/", jsonApi("play"));

  const whip = (forcePlay: boolean) => async (c: Context<Env>) => {
    const svc = rtc();
    if (!svc) return c.notFound();
    const url = new URL(c.req.url);
    const q = url.searchParams;
    const role = forcePlay || q.get("action") === "play" ? "play" : "publish";
    const appName = q.get("app") || "live";
    const streamName = q.get("stream") || "livestream";
    const extra = [...q.entries()].filter(([k]) => !WHIP_KEYS.has(k)).map(([k, v]) => `${k}=${v}`);
    const vhostQ = q.get("vhost");
    const param = (vhostQ ? [`vhost=${vhostQ}`, ...extra] : extra).join("&");
    const host = hostOf(c);
    const req = resolveRtmpRequest(`webrtc://${host}/${appName}`, streamName, param ? `?${param}` : "");
    const ufrag = q.get("ice-ufrag");
    const pwd = q.get("ice-pwd");
    const r: OfferRequest = {
      role,
      key: { vhost: req.vhost, app: req.app, stream: req.stream },
      param: req.param,
      clientIp: clientIpOf(c),
      tcUrl: `webrtc://${host}/${appName}`,
      sdp: await c.req.text(),
      eip: q.get("eip") ?? q.get("candidate") ?? undefined,
      apiHost: host,
      creds: ufrag && pwd ? { ufrag, password: pwd } : undefined,
    };
    try {
      const { session, answer } = await svc.offer(r);
      const loc = `${url.pathname}?action=delete&token=${session.token}&app=${encodeURIComponent(req.app)}` +
        `&stream=${encodeURIComponent(req.stream)}&session=${encodeURIComponent(session.sessionId)}`;
      return new Response(answer, {
        status: 201,
        headers: { "Content-Type": "application/sdp", Location: loc, "Access-Control-Expose-Headers": "Location" },
      });
    } catch (e) {
      if (e instanceof RtcRefused) {
        ctx.log.warn(`rtc ${role} (whip) refused: ${e.message}`);
        const headers: Record<string, string> = { "Content-Type": "text/plain" };
        if (e.status === 503) headers["Retry-After"] = "2";
        return new Response(`${e.message}\n`, { status: e.status, headers });
      }
      throw e;
    }
  };
  const del = async (c: Context<Env>) => {
    const svc = rtc();
    if (!svc) return c.notFound();
    const q = new URL(c.req.url).searchParams;
    const ok = await svc.remove(q.get("session") ?? "", q.get("token") ?? "");
    return new Response(ok ? "" : "session not found or bad token\n", { status: ok ? 200 : 404 });
  };
  for (const [path, play] of [["/rtc/v1/whip/", false], ["/rtc/v1/whep/", true], ["/rtc/v1/whip-play/", true]] as const) {
    a.post(path, whip(play));
    a.delete(path, del);
  }
}
