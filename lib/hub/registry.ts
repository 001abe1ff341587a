/**
 * All stream hubs of a server, by vhost/app/stream. Owned by the Server; no global state. Adapters take leases
 * (publish, play, hold: lease.ts); a hub is forgotten when its last lease is given back.
 */
import type { Log } from "../log/logger.ts";
import type { StreamKey } from "../media/packet.ts";
import { streamKeyString } from "../media/packet.ts";
import type { HubHold, OutputSpec, PlayLease, PublishLease, SharedOutput } from "./lease.ts";
import { type HubLifecycle, type HubOptions, type PublisherInfo, StreamHub } from "./stream-hub.ts";

export class HubRegistry {
  private hubs = new Map<string, StreamHub>();
  private nextId = 1;
  /** A per-process prefix so stream ids look like SRS's `vid-xxxxxxx`. */
  private readonly idPrefix = Math.random().toString(36).slice(2, 6);

  /** Called when any stream starts or stops publishing (per-stream services attach here: HLS, DVR, forward). */
  private listeners: HubLifecycle[] = [];
  private readonly lifecycle: HubLifecycle = {
    onPublish: (hub) => {
      for (const l of this.listeners) this.safe(() => l.onPublish(hub), hub, "publish");
    },
    onUnpublish: (hub) => {
      for (const l of this.listeners) this.safe(() => l.onUnpublish(hub), hub, "unpublish");
    },
    onDemand: (hub, wanted) => {
      for (const l of this.listeners) if (l.onDemand) this.safe(() => l.onDemand!(hub, wanted), hub, "demand");
    },
  };

  constructor(private log: Log, private optionsFor: (key: StreamKey) => HubOptions) {}

  /** Registers a listener of every stream's publish/unpublish. */
  listen(l: HubLifecycle): void {
    this.listeners.push(l);
  }

  private safe(f: () => void, hub: StreamHub, what: string): void {
    try {
      f();
    } catch (e) {
      this.log.error(`stream ${hub.name}: ${what} listener failed`, e);
    }
  }

  /**
   * The hub of a stream, created when missing. Adapters use the leases below instead: a hub got here and never
   * leased stays in the registry until some lease of it is given back.
   */
  get(key: StreamKey): StreamHub {
    const name = streamKeyString(key);
    let hub = this.hubs.get(name);
    if (!hub) {
      const id = `vid-${this.idPrefix}${(this.nextId++).toString(36).padStart(3, "0")}`;
      hub = new StreamHub(key, this.optionsFor(key), this.log, id, this.lifecycle, (h) => this.release(h));
      this.hubs.set(name, hub);
    }
    return hub;
  }

  /** Claims `key` for a publisher (PublishError when busy: nothing is kept). */
  publish(key: StreamKey, info: PublisherInfo): PublishLease {
    const hub = this.get(key);
    try {
      return hub.claim(info);
    } catch (e) {
      this.release(hub);
      throw e;
    }
  }

  /** A player of `key` on the shared output `spec` (players may wait for a publisher). */
  play<P, O extends SharedOutput<P>>(key: StreamKey, spec: OutputSpec<O>, player: P): PlayLease<O> {
    return this.get(key).play(spec, player);
  }

  /** Keeps the hub of `key` (created when missing) until disposed. */
  hold(key: StreamKey): HubHold {
    const hub = this.get(key);
    const l = hub.hold();
    return { hub, dispose: () => l.dispose() };
  }

  /** Wants `key` (created when missing) without playing it yet: see StreamHub.demand. */
  demand(key: StreamKey): HubHold {
    const hub = this.get(key);
    const l = hub.demand();
    return { hub, dispose: () => l.dispose() };
  }

  find(key: StreamKey): StreamHub | undefined {
    return this.hubs.get(streamKeyString(key));
  }

  findById(id: string): StreamHub | undefined {
    for (const h of this.hubs.values()) if (h.id === id) return h;
    return undefined;
  }

  /**
   * Forgets a hub nobody uses any more (called by the hub when its last lease is given back). Deferred to the
   * end of the current job, so what the adapter does right after its dispose() (the on_unpublish / on_stop hook
   * with the stream's id) still finds the hub; a hub leased again meanwhile is kept.
   */
  private release(hub: StreamHub): void {
    queueMicrotask(() => {
      if (hub.idle && this.hubs.get(hub.name) === hub) this.hubs.delete(hub.name);
    });
  }

  all(): StreamHub[] {
    return [...this.hubs.values()];
  }

  /** The hubs of one vhost (what a reload of that vhost's settings applies to). */
  ofVhost(vhost: string): StreamHub[] {
    return this.all().filter((h) => h.key.vhost === vhost);
  }
}

/** What adapters use of the hubs (their narrow port): leases and lookups. */
export type StreamHubs = Pick<HubRegistry, "publish" | "play" | "hold" | "demand" | "find">;
