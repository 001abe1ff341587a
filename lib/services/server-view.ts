/**
 * What the services (API, exporter, stats, hooks, the access gate, DVR, forward) may see of the running server:
 * a read-only view that the composition root (lib/server.ts) satisfies. Each service declares the part it uses
 * as its own port (a Pick of this, plus the one service slot it keeps, if any), so no module imports server.ts.
 */
import type { ClientRegistry } from "../clients.ts";
import type { SrsConfig } from "../config/index.ts";
import type { HubRegistry } from "../hub/registry.ts";
import type { Lifecycle } from "../lifecycle.ts";
import type { Log } from "../log/logger.ts";

export interface ServerView {
  /** The config in force (read on every use: a reload replaces it). */
  readonly config: SrsConfig;
  readonly hubs: HubRegistry;
  readonly clients: ClientRegistry;
  readonly log: Log;
  /** Server id (as SRS's `server_id`) and service id (random per process). */
  readonly serverId: string;
  readonly serviceId: string;
  readonly startedAt: number;
  /** Stop as one event: listeners, sessions and services register their part (lib/lifecycle.ts). */
  readonly lifecycle: Lifecycle;
}
