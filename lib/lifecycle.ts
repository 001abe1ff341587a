/**
 * Stop as one event every part of the server takes part in (MediaMTX: cancel everything, then wait; SRS: fast
 * quit on SIGTERM/SIGINT, graceful quit on SIGQUIT).
 *
 * A part registers a Closer for one phase and gets a disposer back (call it when the part closes on its own,
 * e.g. a listener rebound by a reload):
 *   accept    a listener: stop taking new clients now. It must never wait for its open connections.
 *   sessions  a session registry: end every session now (each sends its on_unpublish/on_stop/on_close and
 *             unpublishes its stream, so DVR and HLS close their files). `drained` lets a graceful quit wait.
 *   finish    a service: finalize what it writes (DVR files), close what the sessions shared (UDP sockets).
 * `track(promise)` adds work the exit waits for (hook notifications in flight), within the same deadline.
 *
 * stop(plan):
 *   graceful  wait startWaitMs (still accepting, so load balancers notice) -> accept -> let sessions end, at
 *             most finalWaitMs -> then as fast.
 *   fast      accept -> sessions -> finish -> tracked work, all within budgetMs of the fast part's start; what
 *             is not done by then is left behind (a hanging hook server cannot hold the exit).
 * A second stop() or hurry() (a second signal) cuts the graceful waits short.
 *
 *   const off = lifecycle.register({ name: "rtmp 127.0.0.1:1935", phase: "accept", close: () => srv.close() });
 *   await lifecycle.stop({ reason: "SIGTERM", budgetMs: 2500 });
 */
import type { Log } from "./log/logger.ts";

export type Phase = "accept" | "sessions" | "finish";

export interface Closer {
  /** For the log: what it is ("rtmp tcp://127.0.0.1:1935", "clients", "dvr"). */
  readonly name: string;
  readonly phase: Phase;
  close(reason: string): void | Promise<unknown>;
  /** Sessions only: resolves when every session has ended by itself, or after `ms`. */
  drained?(ms: number): Promise<void>;
}

export interface StopPlan {
  /** Why (the log says it): "SIGTERM", "SIGQUIT", "start failed". */
  reason: string;
  /** The fast part's deadline: listeners closed, sessions ended, files finalized, hooks sent. */
  budgetMs: number;
  /** SRS's graceful quit: grace_start_wait, then stop accepting, then up to grace_final_wait for sessions. */
  graceful?: { startWaitMs: number; finalWaitMs: number };
}

/** SIGTERM/SIGINT: the process is gone within 3 s; this leaves room for the exit itself. */
export const FAST_QUIT_BUDGET_MS = 2000;

export class Lifecycle {
  private closers = new Set<Closer>();
  private work = new Set<Promise<unknown>>();
  private running: Promise<void> | undefined;
  private hurried = false;
  private wakeUp: (() => void)[] = [];
  /** Phases already run by the stop. */
  private ran = new Set<Phase>();

  constructor(private log: Log) {}

  /** True once a stop began: new sessions may be refused by whoever asks. */
  get stopping(): boolean {
    return this.running !== undefined;
  }

  /**
   * A part registered after its phase has run (a listener a reload was still opening when the quit began) is
   * closed at once: nothing opened during a quit outlives it.
   */
  register(c: Closer): () => void {
    if (this.ran.has(c.phase)) {
      this.log.trace(`quit: ${c.name} opened during the quit, closing it`);
      void Promise.resolve().then(() => c.close("server quitting")).catch(() => undefined);
      return () => {};
    }
    this.closers.add(c);
    return () => void this.closers.delete(c);
  }

  /** Work the exit should wait for (within the deadline). Returns the same promise. */
  track<T>(p: Promise<T>): Promise<T> {
    this.work.add(p);
    const done = () => void this.work.delete(p);
    p.then(done, done);
    return p;
  }

  /** A second signal: skip what is left of the graceful waits. */
  hurry(): void {
    if (this.hurried) return;
    this.hurried = true;
    for (const w of this.wakeUp.splice(0)) w();
  }

  /** Runs the stop once; a later call hurries the running one and resolves with it. */
  stop(plan: StopPlan): Promise<void> {
    if (this.running) {
      this.log.trace(`quit: ${plan.reason} again, quitting now`);
      this.hurry();
      return this.running;
    }
    this.running = this.run(plan);
    return this.running;
  }

  private async run(plan: StopPlan): Promise<void> {
    const g = plan.graceful;
    if (g) {
      this.log.trace(`graceful quit (${plan.reason}): wait ${g.startWaitMs}ms, then stop accepting`);
      await this.sleep(g.startWaitMs);
      await this.phase("accept", plan.reason, Date.now() + plan.budgetMs);
      const sessions = this.of("sessions").filter((c) => c.drained);
      this.log.trace(`graceful quit: listeners closed, waiting up to ${g.finalWaitMs}ms for sessions to end`);
      const t0 = Date.now();
      await this.interruptible(Promise.all(sessions.map((c) => c.drained!(g.finalWaitMs))), g.finalWaitMs);
      this.log.trace(`graceful quit: waited ${Date.now() - t0}ms${this.hurried ? " (hurried by a second signal)" : ""}`);
    } else {
      this.log.trace(`fast quit (${plan.reason})`);
    }
    const deadline = Date.now() + plan.budgetMs;
    if (!g) await this.phase("accept", plan.reason, deadline);
    await this.phase("sessions", plan.reason, deadline);
    await this.phase("finish", plan.reason, deadline);
    // Tracked work may start more (on_dvr after a DVR file is renamed): wait until none is left or time is up.
    while (this.work.size > 0 && Date.now() < deadline) {
      await within(Promise.allSettled([...this.work]), deadline - Date.now());
    }
    if (this.work.size > 0) this.log.warn(`quit: ${this.work.size} hook calls still pending after ${plan.budgetMs}ms, not waiting`);
  }

  private of(phase: Phase): Closer[] {
    return [...this.closers].filter((c) => c.phase === phase);
  }

  /** Closes every part of a phase at once, waiting for them at most until the deadline. */
  private async phase(phase: Phase, reason: string, deadline: number): Promise<void> {
    this.ran.add(phase);
    const parts = this.of(phase);
    for (const c of parts) this.closers.delete(c);
    const pending = new Set<string>();
    const all = parts.map(async (c) => {
      pending.add(c.name);
      try {
        await c.close(`server quit (${reason})`);
      } catch (e) {
        this.log.warn(`quit: closing ${c.name} failed: ${(e as Error).message}`);
      } finally {
        pending.delete(c.name);
      }
    });
    await within(Promise.all(all), deadline - Date.now());
    if (pending.size) this.log.warn(`quit: ${phase}: ${[...pending].join(", ")} not done in time, not waiting`);
  }

  private sleep(ms: number): Promise<void> {
    return this.interruptible(new Promise<void>(() => {}), ms);
  }

  /** `p`, or `ms` elapsed, or hurry(), whichever comes first. */
  private interruptible(p: Promise<unknown>, ms: number): Promise<void> {
    if (this.hurried) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      this.wakeUp.push(done);
      p.then(done, done);
    });
  }
}

/**
 * Registers a listener (a plain object with close(), e.g. an HttpListener) for the accept phase; the returned
 * copy's close() also ends the registration, so a listener closed early (a reload rebinding it) is forgotten.
 */
export function acceptPart<L extends { close(): Promise<void> }>(lifecycle: Lifecycle, name: string, l: L): L {
  const off = lifecycle.register({ name, phase: "accept", close: () => l.close() });
  return Object.assign({}, l, {
    close: () => {
      off();
      return l.close();
    },
  });
}

/** Resolves when `p` settles or after `ms`, whichever comes first; never rejects. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, Math.max(0, ms));
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    p.then(done, done);
  });
}
