/**
 * Forward as SRS (`vhost { forward { enabled on; destination host:port …; backend http://…; } }`): every
 * stream published on the vhost is relayed to each destination (URL rule in url.ts), and, with `backend`, to
 * the URLs the backend answers to on_forward (hooks/forward.ts). Forwards start at publish and stop at
 * unpublish; each one reconnects on its own (forwarder.ts).
 *
 * Differences from SRS: a failing backend call is logged and the stream is published without backend
 * forwards (SRS refuses the publish); `destination` takes host[:port] entries only.
 */
import { isWorkerCopy, type StreamHub } from "../../hub/stream-hub.ts";
import type { ServerView } from "../server-view.ts";
import { hookOnForward } from "../hooks/forward.ts";
import { Forwarder, type UpstreamConnector } from "./forwarder.ts";
import { forwardUrl } from "./url.ts";

/** What forward needs of the server: the vhost's forward, publish events, the publisher, ids, log. */
export type ForwardPorts = Pick<ServerView, "config" | "hubs" | "clients" | "log" | "serverId" | "serviceId">;

export class ForwardService {
  private active = new Map<StreamHub, Forwarder[]>();

  constructor(private ctx: ForwardPorts, private connect: UpstreamConnector) {}

  /** Every running forward with its stream (API, metrics). */
  all(): { hub: StreamHub; forwarder: Forwarder }[] {
    const out: { hub: StreamHub; forwarder: Forwarder }[] = [];
    for (const [hub, list] of this.active) for (const forwarder of list) out.push({ hub, forwarder });
    return out;
  }

  /** The forwards of a stream (stats, tests). */
  forwarders(hub: StreamHub): readonly Forwarder[] {
    return this.active.get(hub) ?? [];
  }

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => this.onUnpublish(hub),
    });
  }

  /**
   * Reload of the stream's vhost `forward` (SRS: SrsOriginHub::on_reload_vhost_forward): the stream's forwards
   * stop and the configured ones start again. Returns how many forwards run now.
   */
  reload(hub: StreamHub): number {
    this.onUnpublish(hub);
    if (hub.active) this.onPublish(hub);
    return this.active.get(hub)?.length ?? 0;
  }

  private onPublish(hub: StreamHub): void {
    if (isWorkerCopy(hub)) return; // the owner worker runs it
    const cfg = this.ctx.config.vhost(hub.key.vhost)?.forward;
    if (!cfg?.enabled) return;
    const publisher = hub.publisher;
    const client = publisher ? this.ctx.clients.get(publisher.clientId) : undefined;
    const list: Forwarder[] = [];
    this.active.set(hub, list);
    for (const dest of cfg.destination) {
      this.add(hub, list, forwardUrl(dest, hub.key, { tcUrl: client?.tcUrl, param: client?.param }));
    }
    if (cfg.backend) {
      if (!client) {
        this.ctx.log.warn(`forward: ${hub.name}: publisher unknown, backend ${cfg.backend} not asked`);
        return;
      }
      void hookOnForward(this.ctx, cfg.backend, client, hub.key).then((r) => {
        if (hub.publisher !== publisher || this.active.get(hub) !== list) return; // unpublished meanwhile
        if (!r.ok) {
          this.ctx.log.error(`forward: ${hub.name}: backend ${cfg.backend} failed: ${r.reason}; no backend forwards`);
          return;
        }
        this.ctx.log.trace(`forward: ${hub.name}: backend ${cfg.backend} answered ${r.urls.length} urls`);
        for (const url of r.urls) this.add(hub, list, url);
      });
    }
  }

  private add(hub: StreamHub, list: Forwarder[], url: string): void {
    const f = new Forwarder(hub, url, this.connect, this.ctx.log);
    list.push(f);
    f.start();
  }

  private onUnpublish(hub: StreamHub): void {
    const list = this.active.get(hub);
    if (!list) return;
    this.active.delete(hub);
    for (const f of list) void f.stop();
  }
}

/** Starts forwarding for a server (the composition root keeps the service). */
export function startForward(ctx: ForwardPorts, connect: UpstreamConnector): ForwardService {
  const s = new ForwardService(ctx, connect);
  s.start();
  return s;
}
