/**
 * The gate every session passes through: security rules (allow/deny by IP), refer checks and the HTTP
 * callbacks (on_connect, on_publish, on_play refuse; on_unpublish, on_stop, on_close only notify).
 * Protocol sessions await the gates (a port every adapter takes); the implementation is lib/services/gate.ts
 * (security rules, refer, hooks).
 */
import type { ClientInfo } from "./clients.ts";
import type { StreamKey } from "./media/packet.ts";

export type AccessResult = { ok: true } | { ok: false; reason: string };

export const ALLOWED: AccessResult = { ok: true };

export interface AccessControl {
  /** A client connected (RTMP connect; HTTP/SRT/RTC sessions call it when they start). */
  onConnect(c: ClientInfo): Promise<AccessResult>;
  /** A client wants to publish `key`. */
  onPublish(c: ClientInfo, key: StreamKey): Promise<AccessResult>;
  /** A client wants to play `key`. */
  onPlay(c: ClientInfo, key: StreamKey): Promise<AccessResult>;
  /** Notifications: failures are logged and ignored. */
  onUnpublish(c: ClientInfo, key: StreamKey): void;
  onStop(c: ClientInfo, key: StreamKey): void;
  onClose(c: ClientInfo): void;
}

/** Lets everyone in; used until the hooks/security services are configured (and in unit tests). */
export class OpenAccess implements AccessControl {
  onConnect(): Promise<AccessResult> {
    return Promise.resolve(ALLOWED);
  }
  onPublish(): Promise<AccessResult> {
    return Promise.resolve(ALLOWED);
  }
  onPlay(): Promise<AccessResult> {
    return Promise.resolve(ALLOWED);
  }
  onUnpublish(): void {}
  onStop(): void {}
  onClose(): void {}
}
