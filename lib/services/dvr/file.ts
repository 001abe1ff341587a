/**
 * One DVR file being written: `<path>.tmp` while recording, renamed to `<path>` once complete (as SRS).
 *
 * Nothing here blocks the caller: write() queues buffers and returns; the file operations run one after the
 * other on a promise chain. The queue is bounded (MAX_PENDING_BYTES): a disk that cannot keep up fails the
 * file instead of growing memory. Any error (unwritable directory, disk full, rename) marks the file failed,
 * removes the temporary file and is reported once through `onError`; later writes are dropped.
 */
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

/** Bytes a file may have queued for the disk before it is given up. */
export const MAX_PENDING_BYTES = 32 * 1024 * 1024;
/** Bytes gathered before one vectored write. */
const WRITE_BATCH = 256 * 1024;

export type Finalizer = (h: FileHandle, size: number) => Promise<void>;

export class DvrFile {
  readonly tmp: string;
  failed = false;
  /** Bytes handed to write() (the file size once flushed). */
  size = 0;
  private handle: FileHandle | undefined;
  private io: Promise<void> = Promise.resolve();
  private batch: Uint8Array[] = [];
  private batched = 0;
  private pending = 0;
  private closed = false;

  constructor(readonly path: string, private onError: (what: string, e: unknown) => void) {
    this.tmp = `${path}.tmp`;
    this.enqueue(async () => {
      await mkdir(dirname(this.tmp), { recursive: true });
      this.handle = await open(this.tmp, "w+"); // read too: the MP4 finalizer reads its moofs back
    }, `open ${this.tmp}`);
  }

  private enqueue(f: () => Promise<void>, what: string): void {
    this.io = this.io.then(async () => {
      if (this.failed) return;
      try {
        await f();
      } catch (e) {
        this.fail(what, e);
      }
    });
  }

  private fail(what: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.batch = [];
    this.onError(what, e);
    const h = this.handle;
    this.handle = undefined;
    void (async () => {
      await h?.close().catch(() => undefined);
      await rm(this.tmp, { force: true }).catch(() => undefined);
    })();
  }

  /** Queues bytes at the end of the file. */
  write(chunks: readonly Uint8Array[]): void {
    if (this.failed || this.closed) return;
    let n = 0;
    for (const c of chunks) n += c.length;
    if (this.pending + n > MAX_PENDING_BYTES) {
      this.fail(`write ${this.tmp}`, new Error(`disk too slow: ${this.pending} bytes queued`));
      return;
    }
    for (const c of chunks) this.batch.push(c);
    this.batched += n;
    this.pending += n;
    this.size += n;
    if (this.batched >= WRITE_BATCH) this.flush();
  }

  /** Sends the gathered bytes to the disk now (the muxers call this per fragment/keyframe). */
  flush(): void {
    if (this.batch.length === 0) return;
    const chunks = this.batch;
    const n = this.batched;
    this.batch = [];
    this.batched = 0;
    this.enqueue(async () => {
      try {
        const h = this.handle;
        if (!h) throw new Error("file not open");
        let left = n;
        let bufs = chunks;
        while (left > 0) {
          const { bytesWritten } = await h.writev(bufs);
          left -= bytesWritten;
          if (left > 0) bufs = remaining(bufs, bytesWritten);
        }
      } finally {
        this.pending -= n;
      }
    }, `write ${this.tmp}`);
  }

  /**
   * Flushes, runs `finalize` on the open file (patches, appended index), closes it and renames it to its
   * final name. Resolves true when the file is complete on disk.
   */
  async close(finalize?: Finalizer): Promise<boolean> {
    if (this.closed) return false;
    this.flush();
    this.closed = true;
    this.enqueue(async () => {
      const h = this.handle;
      if (!h) throw new Error("file not open");
      if (finalize) await finalize(h, this.size);
      this.handle = undefined;
      await h.close();
      await rename(this.tmp, this.path);
    }, `finish ${this.path}`);
    await this.io;
    return !this.failed;
  }

  /** Gives the file up (no media in it): closes and removes the temporary file. */
  async discard(): Promise<void> {
    this.closed = true;
    this.batch = [];
    await this.io;
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }

  /** Resolves when the queued operations are done. */
  flushed(): Promise<void> {
    return this.io;
  }
}

function remaining(bufs: Uint8Array[], written: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = written;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
