/**
 * How long this process was stalled, as seen by a periodic check: a check that runs late means the event loop
 * was busy (a burst of joining players, a large synchronous job) or the process was not scheduled (a CPU quota,
 * an overloaded host). A peer cannot be blamed for silence the server was not listening to: a timeout that
 * measures a peer's silence (RTMP/SRT publish timeouts) adds the stall to the peer's last-heard time. Timers run
 * before the I/O a stall left waiting, so without this a publisher still sending would be closed after a stall
 * longer than its timeout (seen in bench/workers-capacity.ts: a worker held to a tenth of a core with 1600
 * players joining at once closed its publisher after "no media for 5603ms").
 */
export class StallMeter {
  private last = Date.now();

  constructor(private readonly intervalMs: number) {}

  /** Call from the periodic check: ms of stall since the previous call beyond one interval of slack, or 0. */
  stalledMs(now = Date.now()): number {
    const late = now - this.last - this.intervalMs;
    this.last = now;
    return late > this.intervalMs ? late : 0;
  }
}
