/**
 * The transcoding workers of the audio bridge: a small pool of Web Workers (worker.ts) that run the DSP off the
 * main event loop, so bridged streams do not delay the RTMP/SRT/WebRTC timers.
 *
 * `open(spec, sink)` returns a handle to one transcoder inside a worker (the least busy; a new worker is started
 * while fewer than `size` run). `handle.push(p)` posts a copy of the packet (its bytes transferred, one message
 * per frame); the worker answers every push, in order, and `sink.packets()` gets what it made. Workers start on
 * first use and stop after `idleMs` without a transcoder; they never keep the process alive (unref).
 *
 * Where the worker comes from: under `bun main.ts` and `deno run -A main.ts` it is worker.ts next to this file;
 * in a `bun build --compile` executable it is the same file, bundled as an extra entrypoint by build.ts and found
 * on the executable's embedded file system (see workerEntry).
 */
import { availableParallelism } from "node:os";
import type { Log } from "../../log/logger.ts";
import type { TranscoderStats } from "../../media/audio/transcoder.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { type FromWorker, ownedCopy, type ToWorker, type TranscoderSpec } from "./protocol.ts";

/** Where a transcoder's results go (called on the main thread, in the order of the pushes). */
export interface TranscoderSink {
  packets(out: MediaPacket[]): void;
  /** The transcoder died (its worker failed or it could not start); the handle is closed already. */
  failed(message: string): void;
}

export interface PoolOptions {
  /** Workers at most (default: one per spare core, at most 2, at least 1). */
  size?: number;
  /** A worker with no transcoder for this long is stopped (default 10 s). */
  idleMs?: number;
  /** Override the worker's URL (tests). */
  workerUrl?: string;
  /**
   * Packets a transcoder may have in flight; more are dropped (and counted) instead of queueing without bound
   * when the workers cannot keep up (default 500: 11.6 s of AAC, 10 s of Opus; a few hundred KB).
   */
  maxPending?: number;
}

function emptyStats(): TranscoderStats {
  return { framesIn: 0, packetsOut: 0, decodeErrors: 0, concealed: 0, resyncs: 0 };
}

/**
 * The worker's entry. In a compiled executable the bundled modules have moved (import.meta.url is the
 * executable's virtual root), so the entry is named by its path from the repository root, which is how
 * `bun build --compile main.ts lib/services/audio-bridge/worker.ts` stores it.
 */
export function workerEntry(): string {
  const here = import.meta.url;
  if (here.includes("/$bunfs/") || here.includes("/~BUN/")) return "./lib/services/audio-bridge/worker.ts";
  return new URL("./worker.ts", here).href;
}

/** One transcoder in a worker. */
export class TranscoderHandle {
  /** The transcoder's counters as of its last answer. */
  stats: TranscoderStats = emptyStats();
  /** Milliseconds spent inside the transcoder (in the worker). */
  cpuMs = 0;
  closed = false;
  /** Packets dropped because `maxPending` were in flight (the workers fell behind). */
  dropped = 0;
  private pending = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly id: number,
    private readonly slot: WorkerSlot,
    private readonly sink: TranscoderSink,
    private readonly maxPending = 500,
  ) {}

  /** Sends one packet to the transcoder (a copy: the hub and other outputs keep reading the original). */
  push(p: MediaPacket): void {
    if (this.closed) return;
    if (this.pending >= this.maxPending && !p.config) {
      this.dropped++; // the transcoder conceals or resyncs over the gap
      return;
    }
    const { p: copy, buffer } = ownedCopy(p);
    this.pending++;
    this.slot.post({ t: "push", id: this.id, p: copy }, [buffer]);
  }

  /** Resolves once every packet pushed so far has been answered (or the handle closed). */
  flush(): Promise<void> {
    if (this.pending === 0 || this.closed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Frees the transcoder; answers still in flight are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.post({ t: "close", id: this.id });
    this.slot.release(this);
    this.settle();
  }

  /** From the worker: one push's answer. */
  answer(msg: FromWorker & { t: "out" }): void {
    if (this.pending > 0) this.pending--;
    if (this.closed) return;
    this.stats = msg.stats;
    this.cpuMs += msg.cpuMs;
    if (msg.packets.length) this.sink.packets(msg.packets);
    if (this.pending === 0) this.settle();
  }

  fail(message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.release(this);
    this.settle();
    this.sink.failed(message);
  }

  private settle(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

class WorkerSlot {
  readonly handles = new Map<number, TranscoderHandle>();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  dead = false;

  constructor(readonly worker: Worker, private readonly pool: TranscoderPool, private readonly idleMs: number) {
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.onMessage(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault?.(); // handled here: not an uncaught error of the server
      this.die(`audio bridge worker failed: ${e.message || "error"}`);
    };
    worker.onmessageerror = () => this.die("audio bridge worker: a message could not be read");
    (worker as { unref?: () => void }).unref?.();
  }

  post(msg: ToWorker, transfer: Transferable[] = []): void {
    if (!this.dead) this.worker.postMessage(msg, transfer);
  }

  add(h: TranscoderHandle, spec: TranscoderSpec): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.handles.set(h.id, h);
    this.post({ t: "open", id: h.id, spec });
  }

  release(h: TranscoderHandle): void {
    this.handles.delete(h.id);
    if (this.handles.size === 0 && !this.dead) {
      this.idleTimer = setTimeout(() => this.pool.retire(this), this.idleMs);
      (this.idleTimer as { unref?: () => void }).unref?.();
    }
  }

  private onMessage(msg: FromWorker): void {
    const h = this.handles.get(msg.id);
    if (!h) return;
    if (msg.t === "out") h.answer(msg);
    else h.fail(`audio bridge transcoder failed: ${msg.message}`);
  }

  /** Ends the worker; its transcoders fail with `why` (when it died) or quietly (pool closing). */
  die(why?: string): void {
    if (this.dead) return;
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.worker.terminate();
    this.pool.retire(this, why);
    for (const h of [...this.handles.values()]) (why ? h.fail(why) : h.close());
  }
}

export class TranscoderPool {
  private slots: WorkerSlot[] = [];
  private nextId = 1;
  private readonly size: number;
  private readonly idleMs: number;
  /** After a worker failed, no new one starts before this time (ms since epoch): no tight crash loop. */
  private brokenUntil = 0;
  /** Workers started since the pool was made (stats, tests). */
  started = 0;

  constructor(private readonly log: Log, private readonly opts: PoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(2, availableParallelism() - 1));
    this.idleMs = opts.idleMs ?? 10_000;
  }

  /** Workers running now. */
  get workers(): number {
    return this.slots.length;
  }

  /** A transcoder in a worker, or undefined while workers cannot start (the failure was logged). */
  open(spec: TranscoderSpec, sink: TranscoderSink): TranscoderHandle | undefined {
    const slot = this.pick();
    if (!slot) return undefined;
    const h = new TranscoderHandle(this.nextId++, slot, sink, this.opts.maxPending);
    slot.add(h, spec);
    return h;
  }

  private pick(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const s of this.slots) if (!best || s.handles.size < best.handles.size) best = s;
    if (best && (best.handles.size === 0 || this.slots.length >= this.size)) return best;
    return this.spawn() ?? best;
  }

  private spawn(): WorkerSlot | undefined {
    if (Date.now() < this.brokenUntil) return undefined;
    const url = this.opts.workerUrl ?? workerEntry();
    try {
      const slot = new WorkerSlot(new Worker(url, { type: "module" }), this, this.idleMs);
      this.slots.push(slot);
      this.started++;
      this.log.trace(`audio bridge: worker ${this.started} started (${this.slots.length}/${this.size})`);
      return slot;
    } catch (e) {
      this.brokenUntil = Date.now() + 5000;
      this.log.error(`audio bridge: cannot start a worker from ${url}`, e);
      return undefined;
    }
  }

  /** A slot leaves the pool (idle, or died: then `why` is logged and new workers wait a moment). */
  retire(slot: WorkerSlot, why?: string): void {
    if (!slot.dead && slot.handles.size) return; // busy again since its idle timer was set
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (why) {
      this.brokenUntil = Date.now() + 5000;
      this.log.error(why);
    }
    if (!slot.dead) slot.die();
  }

  /** Stops every worker (their transcoders are closed). */
  close(): void {
    for (const s of [...this.slots]) s.die();
    this.slots = [];
  }
}
