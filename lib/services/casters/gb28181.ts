/**
 * `caster gb28181` (SRS 7: SrsGbListener): GB28181 devices register over SIP, are invited to send PS over RTP to
 * the `listen` port, and each device's media becomes the stream `output` names with `[stream]` = the device id
 * (the REGISTER's From user), as SRS names it. The SIP server, the dialogs and the media receiving live in the
 * protocol layer (lib/protocols/gb28181/server.ts); the composition root hands its factory in through
 * CasterPorts.gb28181 (services do not import protocols). This file gives that engine the one thing it needs of
 * the server: a publisher per device (a CasterSession: hooks, security, claim, API listing as "gb28181-publish").
 *
 * `sip { enabled off; }` (gb28181-without-sip.conf): no SIP server; an external one sets each session up through
 * SRS's HTTP API, `POST /gb/v1/publish/ {"id": device, "ssrc": "..."}` (publish() here, routed by the API service
 * through CasterService.gbPublish), answered `{"code": 0, "port": <listen>, "is_tcp": true}`.
 */
import type { StreamCasterConfig } from "../../config/cluster.ts";
import type { GbEngine, GbSink } from "../../gb-engine.ts";
import { parseEndpoint } from "../../net/endpoint.ts";
import type { CasterInstance } from "./registry.ts";
import { type CasterPorts, CasterSession, fillOutput } from "./session.ts";

/** Media idle this long ends a device's stream (SRS: the publish normal timeout). */
const MEDIA_IDLE_MS = 5000;

export class Gb28181Caster implements CasterInstance {
  readonly kind = "gb28181";
  private engine: GbEngine | undefined;
  private readonly live = new Set<CasterSession>();

  constructor(private ctx: CasterPorts, readonly conf: StreamCasterConfig) {}

  get port(): number {
    return this.engine?.boundMediaPort ?? 0;
  }

  sessions(): CasterSession[] {
    return [...this.live];
  }

  /** The registered devices (with or without a stream). */
  devices(): ReturnType<GbEngine["deviceList"]> {
    return this.engine?.deviceList() ?? [];
  }

  async start(): Promise<void> {
    const factory = this.ctx.gb28181;
    if (!factory) throw new Error("stream_caster gb28181: no GB28181 engine in this build");
    const media = parseEndpoint(this.conf.listen);
    const sip = parseEndpoint(this.conf.sip.listen, media.host);
    const engine = await factory({
      mediaHost: media.host, mediaPort: media.port, sipHost: sip.host, sipPort: sip.port,
      candidate: this.conf.sip.candidate, timeoutSec: this.conf.sip.timeout, reinviteSec: this.conf.sip.reinvite,
      mediaIdleMs: MEDIA_IDLE_MS, sip: this.conf.sip.enabled, log: this.ctx.log,
      openStream: (o) => this.open(o),
    });
    await engine.start().catch((e: Error) => {
      throw new Error(`listen stream_caster gb28181: ${e.message}`);
    });
    this.engine = engine;
  }

  /** A session an external SIP server sets up (the HTTP API): the media port, or why not. */
  publish(id: string, ssrc: string): { port: number } | string {
    if (!this.engine) return "caster not running";
    return this.engine.bindSession(id, ssrc);
  }

  private async open(o: { deviceId: string; ip: string; port: number }): Promise<GbSink | string> {
    const s = new CasterSession(this.ctx, {
      caster: this.kind, type: "gb28181-publish", protocol: "gb28181", ip: o.ip, port: o.port,
      url: fillOutput(this.conf.output, { stream: o.deviceId }), log: this.ctx.log,
    });
    const err = await s.start();
    if (err !== undefined) return err;
    if (!this.engine) {
      s.close("caster stopped");
      return "caster stopped";
    }
    this.live.add(s);
    s.onClose(() => this.live.delete(s));
    return s;
  }

  async stop(reason: string): Promise<void> {
    const e = this.engine;
    this.engine = undefined;
    for (const s of [...this.live]) s.close(reason);
    await e?.stop(reason);
  }
}
