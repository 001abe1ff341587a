/**
 * The file side of one stream's output (HLS, DASH): its file operations run in order on one promise chain, off
 * the live path (the hub's onPacket only queues); the dispose timer (hls_dispose, dash_dispose) is armed at
 * unpublish and cancelled by a republish; removing files ignores those already gone.
 */
import { rm } from "node:fs/promises";

export class StreamFiles {
  private io: Promise<void> = Promise.resolve();
  private disposeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Queues a file operation after the ones before it (it runs whether they failed or not). */
  enqueue(f: () => Promise<void>): void {
    this.io = this.io.then(f, f);
  }

  /** Waits for the queued file operations (tests, shutdown). */
  flushed(): Promise<void> {
    return this.io;
  }

  /** Runs `dispose` in `seconds` (0 or less: never) unless cancelDispose comes first; the timer keeps no process up. */
  disposeIn(seconds: number, dispose: () => void): void {
    this.cancelDispose();
    if (seconds <= 0) return;
    this.disposeTimer = setTimeout(() => {
      this.disposeTimer = undefined;
      dispose();
    }, seconds * 1000);
    (this.disposeTimer as { unref?: () => void }).unref?.();
  }

  cancelDispose(): void {
    if (this.disposeTimer) clearTimeout(this.disposeTimer);
    this.disposeTimer = undefined;
  }
}

/** Removes `files`; one that is missing or cannot be removed is passed over. */
export async function removeFiles(files: readonly string[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f, { force: true }).catch(() => undefined)));
}
