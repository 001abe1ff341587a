/**
 * Join admission for the RTC service: at most `limit` sessions are in their handshake (offer → ICE → DTLS →
 * connected) at once; the others wait in FIFO order for a slot, up to `maxWaitMs`.
 *
 * Why: every handshake costs the one JS thread (werift's DTLS runs its ECDHE in JS, ~3–5 ms per session, and a
 * connected viewer then gets the GOP cache in one go). A burst of hundreds of WHEP joins at once used to run all
 * of them interleaved: timers ran 20 s late, established viewers starved, clients gave up and RSS reached GBs.
 * With the gate, the burst is worked off `limit` at a time while established viewers keep their media flowing.
 *
 * The HTTP answer of a queued join is held until its slot frees (the browser just sees a slower POST): a browser
 * starts its ICE checks and its ICE/DTLS timeouts only once it has the answer, so deferring the answer instead
 * of the handshake can never make it fail. A join that waits longer than `maxWaitMs` is refused (503 +
 * Retry-After). A slot is released when the session connects, fails or closes, or after `handshakeMs` at the
 * latest (a client that never completes must not hold a slot).
 */

export interface AdmissionStats {
  /** Sessions holding a slot now. */
  active: number;
  /** Joins waiting for a slot now. */
  queued: number;
  /** Joins that had to wait, and joins refused after maxWaitMs, since start. */
  waitedTotal: number;
  refusedTotal: number;
  /** Longest wait seen, ms. */
  maxWaitedMs: number;
}

interface Waiter {
  resolve: (release: (() => void) | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
  since: number;
}

export class HandshakeGate {
  private active = 0;
  private queue: Waiter[] = [];
  readonly stats: AdmissionStats = { active: 0, queued: 0, waitedTotal: 0, refusedTotal: 0, maxWaitedMs: 0 };

  constructor(readonly limit: number, readonly maxWaitMs: number, readonly handshakeMs: number) {}

  /** Resolves with a release function once a slot is ours, or undefined after maxWaitMs. */
  acquire(): Promise<(() => void) | undefined> {
    if (this.active < this.limit && !this.queue.length) return Promise.resolve(this.take());
    this.stats.waitedTotal++;
    return new Promise((resolve) => {
      const w: Waiter = {
        since: Date.now(),
        resolve,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          this.stats.refusedTotal++;
          this.sync();
          resolve(undefined);
        }, this.maxWaitMs),
      };
      this.queue.push(w);
      this.sync();
    });
  }

  private take(): () => void {
    this.active++;
    this.sync();
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      clearTimeout(limitTimer);
      this.active--;
      this.next();
    };
    const limitTimer = setTimeout(release, this.handshakeMs);
    return release;
  }

  private next(): void {
    while (this.active < this.limit && this.queue.length) {
      const w = this.queue.shift()!;
      clearTimeout(w.timer);
      this.stats.maxWaitedMs = Math.max(this.stats.maxWaitedMs, Date.now() - w.since);
      w.resolve(this.take());
    }
    this.sync();
  }

  private sync(): void {
    this.stats.active = this.active;
    this.stats.queued = this.queue.length;
  }

  /** Refuses everything still queued (server shutdown). */
  close(): void {
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.sync();
  }
}
