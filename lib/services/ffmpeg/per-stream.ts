/**
 * The programs a published stream runs (transcode engines, exec lines): started together at its publish, in the
 * worker that owns it, and stopped together at its unpublish (a server stop waits for them within its budget;
 * the parent-death signal covers the rest).
 */
import { isWorkerCopy, type StreamHub } from "../../hub/stream-hub.ts";
import type { FfmpegPorts } from "./ports.ts";
import type { ProcessInfo, SupervisedProcess } from "./process.ts";

export abstract class PerStreamProcesses {
  private active = new Map<StreamHub, SupervisedProcess[]>();

  constructor(protected ctx: FfmpegPorts) {}

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => void this.onUnpublish(hub),
    });
  }

  /** What `hub` runs from the config in force (an empty list: nothing). */
  protected abstract processesFor(hub: StreamHub): SupervisedProcess[];

  protected onPublish(hub: StreamHub): void {
    if (isWorkerCopy(hub)) return; // the owner worker runs them
    const list = this.processesFor(hub);
    if (!list.length) return;
    this.active.set(hub, list);
    for (const p of list) p.start();
  }

  protected async onUnpublish(hub: StreamHub): Promise<void> {
    const list = this.active.get(hub);
    if (!list) return;
    this.active.delete(hub);
    await this.ctx.lifecycle.track(Promise.all(list.map((p) => p.stop())));
  }

  /** How many programs `hub` runs now. */
  protected running(hub: StreamHub): number {
    return this.active.get(hub)?.length ?? 0;
  }

  processes(): ProcessInfo[] {
    return [...this.active.values()].flatMap((l) => l.map((p) => p.info()));
  }

  async stop(): Promise<void> {
    const all = [...this.active.values()].flat();
    this.active.clear();
    await Promise.all(all.map((p) => p.stop()));
  }
}
