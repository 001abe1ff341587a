/** All stream hubs of a server, by vhost/app/stream. Owned by the Server; no global state. */
import type { Log } from "../log/logger.ts";
import type { StreamKey } from "../media/packet.ts";
import { streamKeyString } from "../media/packet.ts";
import { type HubLifecycle, type HubOptions, StreamHub } from "./stream-hub.ts";

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

  /** The hub of a stream, created when missing (players may wait for a publisher). */
  get(key: StreamKey): StreamHub {
    const name = streamKeyString(key);
    let hub = this.hubs.get(name);
    if (!hub) {
      const id = `vid-${this.idPrefix}${(this.nextId++).toString(36).padStart(3, "0")}`;
      hub = new StreamHub(key, this.optionsFor(key), this.log, id, this.lifecycle);
      this.hubs.set(name, hub);
    }
    return hub;
  }

  find(key: StreamKey): StreamHub | undefined {
    return this.hubs.get(streamKeyString(key));
  }

  findById(id: string): StreamHub | undefined {
    for (const h of this.hubs.values()) if (h.id === id) return h;
    return undefined;
  }

  /** Forget a hub nobody uses any more. */
  release(hub: StreamHub): void {
    if (hub.idle && this.hubs.get(hub.name) === hub) this.hubs.delete(hub.name);
  }

  all(): StreamHub[] {
    return [...this.hubs.values()];
  }
}
