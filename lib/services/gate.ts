/**
 * The server's AccessControl: security rules, refer checks and HTTP callbacks, in SRS's order.
 *
 *   connect : refer `all` (pageUrl)                    -> refuse closes the connection
 *   publish : security -> refer `publish` -> edge -> on_connect (once per client) -> on_publish
 *   play    : security -> refer `play`    -> edge -> on_connect (once per client) -> on_play
 *
 * `edge` is for clients of an edge vhost (lib/services/cluster/edge.ts authorize): refused when the vhost has no
 * origin; with token_traverse, an origin is asked with the client's query and its refusal refuses the client.
 * With workers, a publisher is refused when another worker publishes the stream (after refer, before the edge and the
 * hooks); another worker's pull passes without a check or a hook.
 *   unpublish/stop/close: on_unpublish / on_stop / on_close, logged and ignored on failure
 *
 * on_connect is sent when the client names its stream (publish/play), so its payload carries `stream` and
 * `param` as SRS's does (`?token=…` reaches the hook server for token auth). As in SRS, only connection clients
 * get on_connect/on_close: RTMP (SrsRtmpConn) and SRT (SrsMpegtsSrtConn). HTTP-FLV/TS, HLS and WebRTC clients
 * get on_play/on_stop (WebRTC publishers on_publish/on_unpublish) and neither of the two. on_close is sent
 * exactly to the clients that got an on_connect. Notifications of one client go out in order (on_unpublish/on_stop before on_close)
 * without blocking anything. A refused client counts in srs_clients_errs_total.
 */
import type { ClientInfo } from "../clients.ts";
import type { HttpHooksConfig } from "../config/config.ts";
import type { StreamKey } from "../media/packet.ts";
import type { HookPorts } from "./hooks/index.ts";
import type { Stats } from "./stats.ts";
import type { ServerView } from "./server-view.ts";
import { ALLOWED, type AccessControl, type AccessResult } from "../access.ts";
import {
  closePayload,
  connectPayload,
  gateHooks,
  type HookAction,
  type HookPayload,
  notifyHooks,
  playPayload,
  streamPayload,
} from "./hooks/index.ts";
import { checkRefer, checkSecurity } from "./security/index.ts";

/** What the gate needs of the server: the vhost's security/refer/hooks, stream ids and holds, stats, the log. */
export type GatePorts = HookPorts & Pick<ServerView, "lifecycle"> & {
  readonly stats: Stats;
  readonly edge?: EdgeGatePort;
  readonly workers?: WorkersGatePort;
};

/**
 * srs-ts's workers (lib/services/workers/link.ts): another worker's pull is an internal client (no security, no
 * hooks: its players had theirs on their worker), and a publisher needs the stream granted to this worker.
 */
export interface WorkersGatePort {
  isInternal(c: ClientInfo): boolean;
  claim(key: StreamKey): Promise<AccessResult>;
}

/** What the gate asks of the edge: its verdict on a client of an edge vhost (undefined for other vhosts). */
export interface EdgeGatePort {
  authorize(c: ClientInfo, key: StreamKey, method: "publish" | "play"): Promise<AccessResult | undefined>;
}

/** The protocols whose clients get on_connect/on_close (SRS: srs_app_rtmp_conn.cpp, srs_app_srt_conn.cpp). */
const CONNECTION_PROTOCOLS: ReadonlySet<string> = new Set(["rtmp", "srt"]);

export class Gate implements AccessControl {
  /** Clients that got an on_connect (so they get an on_close), by id → their vhost/app. */
  private connected = new Map<string, { vhost: string; app: string }>();
  /** Per-client chain of notifications, so they reach the hook server in order. */
  private chains = new Map<string, Promise<void>>();

  constructor(private ctx: GatePorts) {}

  private hooks(vhost: string): HttpHooksConfig | undefined {
    const h = this.ctx.config.vhost(vhost)?.httpHooks;
    return h && h.enabled ? h : undefined;
  }

  private refuse(c: ClientInfo, reason: string): AccessResult {
    this.ctx.stats.noteClientError();
    this.ctx.log.child(c.id).warn(`access refused for ${c.type} client ip=${c.ip}: ${reason}`);
    return { ok: false, reason };
  }

  onConnect(c: ClientInfo): Promise<AccessResult> {
    this.ctx.stats.noteClient(c);
    const vhost = this.ctx.config.vhost(c.stream?.vhost);
    const r = checkRefer(vhost?.refer, "connect", c.pageUrl ?? "");
    return Promise.resolve(r.ok ? ALLOWED : this.refuse(c, r.reason));
  }

  onPublish(c: ClientInfo, key: StreamKey): Promise<AccessResult> {
    return this.streamGate(c, key, "publish");
  }

  onPlay(c: ClientInfo, key: StreamKey): Promise<AccessResult> {
    return this.streamGate(c, key, "play");
  }

  private async streamGate(c: ClientInfo, key: StreamKey, method: "publish" | "play"): Promise<AccessResult> {
    if (method === "play" && this.ctx.workers?.isInternal(c)) return ALLOWED;
    this.ctx.stats.noteClient(c);
    const vhost = this.ctx.config.vhost(key.vhost);
    const sec = checkSecurity(vhost?.security, method, c.ip);
    if (!sec.ok) return this.refuse(c, sec.reason);
    const ref = checkRefer(vhost?.refer, method, c.pageUrl ?? "");
    if (!ref.ok) return this.refuse(c, ref.reason);
    if (method === "publish" && this.ctx.workers) {
      const w = await this.ctx.workers.claim(key);
      if (!w.ok) return this.refuse(c, w.reason);
    }
    if (vhost?.cluster.isEdge && this.ctx.edge) {
      const e = await this.ctx.edge.authorize(c, key, method);
      if (e && !e.ok) return this.refuse(c, e.reason);
    }
    const h = this.hooks(key.vhost);
    if (!h) return ALLOWED;
    const log = this.ctx.log.child(c.id);
    if (CONNECTION_PROTOCOLS.has(c.protocol) && !this.connected.has(c.id)) {
      this.connected.set(c.id, { vhost: key.vhost, app: key.app });
      if (h.onConnect.length) {
        const r = await gateHooks(log, "on_connect", h.onConnect, connectPayload(this.ctx, c, key));
        if (!r.ok) return this.refuse(c, r.reason);
      }
    }
    const urls = method === "publish" ? h.onPublish : h.onPlay;
    if (!urls.length) return ALLOWED;
    // SRS's stat stream exists before on_publish/on_play (so their payload has stream_id): the hub is held
    // from now on. A refused client gives it back at once; an allowed one after the session has taken its own
    // lease (it does so as soon as this gate resolves, in the same turn of the event loop), so the stream keeps
    // the id the hook saw.
    const hold = this.ctx.hubs.hold(key);
    const payload = method === "publish"
      ? streamPayload(this.ctx, "on_publish", c, key, hold.hub.id)
      : playPayload(this.ctx, c, key, hold.hub.id);
    let r: AccessResult;
    try {
      r = await gateHooks(log, method === "publish" ? "on_publish" : "on_play", urls, payload);
    } catch (e) {
      hold.dispose();
      throw e;
    }
    if (r.ok) {
      setImmediate(() => hold.dispose());
      return ALLOWED;
    }
    hold.dispose();
    return this.refuse(c, r.reason);
  }

  /** Queues a notification behind the client's earlier ones. */
  private notify(c: ClientInfo, action: HookAction, urls: readonly string[], payload: HookPayload, last = false): void {
    const log = this.ctx.log.child(c.id);
    const prev = this.chains.get(c.id) ?? Promise.resolve();
    // Tracked: a quit waits for it (within its deadline), so on_unpublish/on_stop/on_close reach the hook server.
    const next = this.ctx.lifecycle.track(prev.then(() => notifyHooks(log, action, urls, payload)).catch((e: unknown) => {
      log.warn(`http hook ${action} failed (ignored): ${(e as Error).message}`);
    }));
    if (last) {
      this.chains.delete(c.id);
      void next;
    } else {
      this.chains.set(c.id, next);
      void next.then(() => {
        if (this.chains.get(c.id) === next) this.chains.delete(c.id);
      });
    }
  }

  onUnpublish(c: ClientInfo, key: StreamKey): void {
    const h = this.hooks(key.vhost);
    if (!h || !h.onUnpublish.length) return;
    this.notify(c, "on_unpublish", h.onUnpublish, streamPayload(this.ctx, "on_unpublish", c, key, this.ctx.hubs.find(key)?.id));
  }

  onStop(c: ClientInfo, key: StreamKey): void {
    if (this.ctx.workers?.isInternal(c)) return;
    const h = this.hooks(key.vhost);
    if (!h || !h.onStop.length) return;
    this.notify(c, "on_stop", h.onStop, streamPayload(this.ctx, "on_stop", c, key, this.ctx.hubs.find(key)?.id));
  }

  onClose(c: ClientInfo): void {
    const conn = this.connected.get(c.id);
    this.connected.delete(c.id);
    if (!conn) return;
    const h = this.hooks(conn.vhost);
    if (!h || !h.onClose.length) {
      this.chains.delete(c.id);
      return;
    }
    this.notify(c, "on_close", h.onClose, closePayload(this.ctx, c, conn), true);
  }
}
