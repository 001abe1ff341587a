/** All stream hubs of a server, by vhost/app/stream. Owned by the Server; no global state. */
import type { Log } from "../log/logger.ts";
import type { StreamKey } from "../media/packet.ts";
import { streamKeyString } from "../media/packet.ts";
import { type HubOptions, StreamHub } from "./stream-hub.ts";

export class HubRegistry {
  private hubs = new Map<string, StreamHub>();
  private nextId = 1;
  /** A per-process prefix so stream ids look like SRS's `vid-xxxxxxx`. */
  private readonly idPrefix = Math.random().toString(36).slice(2, 6);

  constructor(private log: Log, private optionsFor: (key: StreamKey) => HubOptions) {}

  /** The hub of a stream, created when missing (players may wait for a publisher). */
  get(key: StreamKey): StreamHub {
    const name = streamKeyString(key);
    let hub = this.hubs.get(name);
    if (!hub) {
      hub = new StreamHub(key, this.optionsFor(key), this.log, `vid-${this.idPrefix}${(this.nextId++).toString(36)}`);
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
