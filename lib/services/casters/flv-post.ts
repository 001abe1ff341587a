/**
 * `caster flv` (SRS: SrsAppCasterFlv / SrsDynamicHttpConn): an HTTP port taking FLV by POST, e.g.
 * `ffmpeg -re -i in.mp4 -c copy -method POST -f flv http://host:8936/live/livestream.flv` or
 * `curl -T in.flv http://host:8936/live/livestream.flv` (PUT is taken like POST).
 *
 *  - The request path names the stream (as SRS): `/app[/more]/stream.flv` gives [app] = everything before the
 *    last segment and [stream] = the last segment without `.flv` (which is optional); both fill the `output` template
 *    (`rtmp://127.0.0.1/[app]/[stream]`); the query is kept as the output's param (hooks see it).
 *  - The body (chunked or with a length, HTTP/1.1: RFC 9112 section 7.1) is an FLV file (FLV spec v10.1 annex E):
 *    header, then tags, each an RTMP message body (lib/formats/flv.ts, lib/media/flv-codec.ts), published as
 *    the session reads them (lib/services/casters/session.ts: hooks, claim). The answer comes when the body
 *    ends: 200; a refused publish is answered at once: 403 (hook or rules), 409 (stream busy), 503 (server full),
 *    404 (no app in the path), 405 (not POST/PUT).
 *  - Bad input: a corrupt FLV (a tag larger than 16 MiB, a bad header) ends the session with a log line and a 400;
 *    a tag body that does not decode is skipped. Memory stays within one tag.
 *  - A body that stops flowing ends the session after the vhost's publish.firstpkt_timeout (before the first
 *    bytes, 20 s) or normal_timeout (5 s), answered 408 if the client still listens.
 *  - A kick (API, reload removing the caster, quit) cancels the body and unpublishes.
 */
import type { StreamCasterConfig } from "../../config/cluster.ts";
import { FlvDemuxer } from "../../formats/flv.ts";
import { flvTagToPacket } from "../../media/flv-codec.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { formatEndpoint, parseEndpoint } from "../../net/endpoint.ts";
import { type HttpListener, serveHttp, type ServeInfo } from "../../runtime/http-serve.ts";
import { StallMeter } from "../../stall.ts";
import type { CasterInstance } from "./registry.ts";
import { type CasterPorts, CasterSession, fillOutput } from "./session.ts";

/**
 * app and stream from a POST path, as SRS takes them: the directory is the app, the last segment the stream
 * without its `.flv` (`/live/livestream.flv` -> live, livestream; `/live/s` -> live, s); undefined without an app.
 */
export function flvPostTarget(pathname: string): { app: string; stream: string } | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  const m = /^\/(.+)\/([^/]+)$/.exec(path);
  if (!m || m[1]!.split("/").some((s) => s === "" || s === "." || s === "..")) return undefined;
  const stream = m[2]!.endsWith(".flv") ? m[2]!.slice(0, -4) : m[2]!;
  if (stream === "" || stream === "." || stream === "..") return undefined;
  return { app: m[1]!, stream };
}

const TIMEOUT_CHECK_MS = 1000;

function text(status: number, body: string): Response {
  return new Response(body + "\n", { status, headers: { "Content-Type": "text/plain" } });
}

export class FlvPostCaster implements CasterInstance {
  readonly kind = "flv";
  private listener: HttpListener | undefined;
  private active = new Set<CasterSession>();

  constructor(private ctx: CasterPorts, readonly conf: StreamCasterConfig) {}

  get port(): number {
    return this.listener?.port ?? 0;
  }

  sessions(): CasterSession[] {
    return [...this.active];
  }

  async start(): Promise<void> {
    const ep = parseEndpoint(this.conf.listen);
    try {
      this.listener = await serveHttp({ hostname: ep.host, port: ep.port, fetch: (req, info) => this.handle(req, info) });
    } catch (e) {
      throw new Error(`listen stream_caster flv tcp://${formatEndpoint(ep)}: ${(e as Error).message}`);
    }
    this.ctx.log.trace(`caster flv listening on http ${formatEndpoint({ host: ep.host, port: this.port })}, output ${this.conf.output}`);
  }

  private async handle(req: Request, info: ServeInfo): Promise<Response> {
    if (req.method !== "POST" && req.method !== "PUT") return text(405, "POST an FLV body to /app/stream.flv");
    const url = new URL(req.url);
    const target = flvPostTarget(url.pathname);
    if (!target || !req.body) return text(404, "POST an FLV body to /app/stream.flv");
    const s = new CasterSession(this.ctx, {
      caster: this.kind,
      type: "flv-publish",
      protocol: "http",
      ip: info.remoteAddr,
      port: info.remotePort,
      url: fillOutput(this.conf.output, target) + url.search,
      log: this.ctx.log,
    });
    this.active.add(s);
    try {
      const err = await s.start();
      if (err !== undefined) {
        await req.body.cancel().catch(() => undefined);
        const status = /busy/.test(err) ? 409 : /max_connections|full/.test(err) ? 503 : /refused/.test(err) ? 403 : 502;
        return text(status, err);
      }
      const result = await this.read(req.body, s);
      s.close(result.reason);
      return text(result.status, result.reason);
    } finally {
      s.close("request ended");
      this.active.delete(s);
    }
  }

  /** Reads the body into the session until it ends, fails or the session closes. */
  private async read(body: ReadableStream<Uint8Array>, s: CasterSession): Promise<{ status: number; reason: string }> {
    const reader = body.getReader();
    s.onClose(() => void reader.cancel().catch(() => undefined));
    const flv = new FlvDemuxer();
    let bad = 0;
    // A body that stops flowing: publish.firstpkt_timeout before the first bytes, normal_timeout after.
    let lastDataAt = Date.now();
    let got = false;
    const stall = new StallMeter(TIMEOUT_CHECK_MS);
    const timer = setInterval(() => {
      lastDataAt += stall.stalledMs();
      const pub = s.stream ? this.ctx.config.vhost(s.stream.vhost)?.publish : undefined;
      const limit = (got ? pub?.normalTimeout : pub?.firstpktTimeout) ?? (got ? 5000 : 20000);
      const idle = Date.now() - lastDataAt;
      if (idle > limit) {
        s.log.warn(`caster flv: no data for ${idle}ms (limit ${limit}ms)`);
        s.close("publish timeout");
      }
    }, TIMEOUT_CHECK_MS);
    timer.unref?.();
    try {
      return await this.pump(reader, flv, s, () => {
        lastDataAt = Date.now();
        got = true;
      }, () => bad++);
    } finally {
      clearInterval(timer);
    }
  }

  private async pump(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    flv: FlvDemuxer,
    s: CasterSession,
    onData: () => void,
    onBad: () => number,
  ): Promise<{ status: number; reason: string }> {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        return { status: 400, reason: `body read failed: ${(e as Error).message}` };
      }
      if (s.isClosed) return { status: s.closeReason === "publish timeout" ? 408 : 200, reason: s.closeReason };
      if (r.done) return { status: 200, reason: "body ended" };
      onData();
      s.addBytesIn(r.value.byteLength);
      let tags;
      try {
        tags = flv.push(r.value);
      } catch (e) {
        s.log.warn(`caster flv: bad FLV body: ${(e as Error).message}`);
        return { status: 400, reason: `bad FLV: ${(e as Error).message}` };
      }
      for (const t of tags) {
        let p: MediaPacket | null;
        try {
          p = flvTagToPacket(t.type, t.timestamp, t.data);
        } catch (e) {
          if (onBad() === 0) s.log.warn(`caster flv: tag skipped: ${(e as Error).message}`);
          continue;
        }
        if (p) s.push(p);
      }
    }
  }

  stop(reason: string): Promise<void> {
    for (const s of [...this.active]) s.close(reason);
    const l = this.listener;
    this.listener = undefined;
    return l ? l.close() : Promise.resolve();
  }
}
