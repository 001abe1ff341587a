/**
 * The service side of an output that writes files per published stream (HLS, DASH): one stream object per
 * stream name, created at publish when the vhost's section is enabled, kept after unpublish (until its own
 * dispose forgets it) so a republish continues it, rebound to the new hub at each publish. Reload asks it to
 * switch to new settings in place, stop, or start; when the new settings name other files (`sameFiles` says
 * no), the old stream stops (its files stay until its dispose) and a new one starts there.
 *
 * Use: a subclass gives `settings` (its vhost section), `create` (a new stream) and, when a reload can move the
 * files, `sameFiles`; `startStreamOutput` starts it and waits for its queued files at quit.
 */
import type { SrsConfig } from "../config/index.ts";
import type { HubRegistry } from "../hub/registry.ts";
import { isWorkerCopy, type StreamHub } from "../hub/stream-hub.ts";
import type { Lifecycle } from "../lifecycle.ts";
import type { Log } from "../log/logger.ts";

/** What such an output needs of the server (lib/server.ts, the composition root, satisfies it). */
export interface StreamOutputPorts {
  /** The config in force (read at each publish: a reload applies to the next one). */
  readonly config: Pick<SrsConfig, "vhost">;
  /** Every stream's publish/unpublish. */
  readonly hubs: Pick<HubRegistry, "listen">;
  readonly log: Log;
  /** Quit: the last segments and playlists are written out in the finish phase. */
  readonly lifecycle: Pick<Lifecycle, "register">;
}

/** One stream's output, as the service drives it. */
export interface StreamOutput<C> {
  /** The stream's current hub (rebound when a republish gets a new hub object). */
  hub: StreamHub;
  readonly publishing: boolean;
  start(cfg: C): void;
  /** The publisher left (or the output was turned off). */
  stop(): void;
  /** New settings for the running stream, taken at its next keyframe. */
  reload(cfg: C): void;
  /** Queued file operations done. */
  flushed(): Promise<void>;
}

export abstract class StreamOutputService<C extends { readonly enabled: boolean }, S extends StreamOutput<C>> {
  private streams = new Map<string, S>();

  constructor(protected readonly ctx: StreamOutputPorts) {}

  /** The vhost's settings of this output. */
  protected abstract settings(vhost: string): C | undefined;
  /** A new stream; it calls `forget` when it is disposed. */
  protected abstract create(hub: StreamHub, cfg: C, forget: (s: S) => void): S;
  /** Whether `cfg` names the files `s` writes (else a new stream starts); by default always. */
  protected sameFiles(_s: S, _cfg: C): boolean {
    return true;
  }

  /** The stream's state (live or waiting for dispose). */
  stream(name: string): S | undefined {
    return this.streams.get(name);
  }

  all(): S[] {
    return [...this.streams.values()];
  }

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => this.streams.get(hub.name)?.stop(),
    });
  }

  /**
   * Reload of the stream's vhost section: a running stream switches to the new settings at the next keyframe
   * (or, for other files, stops and a new one starts), a disabled one stops, a newly enabled one starts.
   * Returns what happened.
   */
  reload(hub: StreamHub): "switching" | "started" | "stopped" | "none" {
    if (!hub.active) return "none";
    const cfg = this.settings(hub.key.vhost);
    const s = this.streams.get(hub.name);
    const running = s?.publishing && s.hub === hub ? s : undefined;
    if (!cfg?.enabled) {
      running?.stop();
      return running ? "stopped" : "none";
    }
    if (running) {
      if (this.sameFiles(running, cfg)) {
        running.reload(cfg);
        return "switching";
      }
      // Other files: a new stream there (the old files stay until their dispose).
      running.stop();
      this.streams.delete(hub.name);
    }
    this.onPublish(hub);
    return "started";
  }

  private onPublish(hub: StreamHub): void {
    if (isWorkerCopy(hub)) return; // the owner worker runs it
    const cfg = this.settings(hub.key.vhost);
    if (!cfg?.enabled) return;
    let s = this.streams.get(hub.name);
    if (s && !this.sameFiles(s, cfg)) {
      // Other files than the stopped stream's: that one goes at its dispose, a new one starts.
      this.streams.delete(hub.name);
      s = undefined;
    }
    if (s) s.hub = hub;
    else {
      s = this.create(hub, cfg, (x) => {
        if (this.streams.get(x.hub.name) === x) this.streams.delete(x.hub.name);
      });
      this.streams.set(hub.name, s);
    }
    s.start(cfg);
  }
}

/** Starts `service` (the composition root keeps it); at quit its queued segments and playlists are written out. */
export function startStreamOutput<T extends { start(): void; all(): { flushed(): Promise<void> }[] }>(name: string, service: T, ctx: StreamOutputPorts): T {
  service.start();
  ctx.lifecycle.register({ name, phase: "finish", close: () => Promise.all(service.all().map((x) => x.flushed())) });
  return service;
}
