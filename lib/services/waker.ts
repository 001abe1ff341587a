/**
 * A pause that can be cut short: a reconnect loop sleeps through its back-off (or waits for work) and `wake()`
 * ends the pause at once (stop, new data). One pending pause at a time, which is all a loop needs.
 */
export class Waker {
  private pending: (() => void) | undefined;

  /** Resolves after `ms`, or at the next wake(). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending = undefined;
        resolve();
      }, ms);
      this.pending = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Resolves at the next wake(). */
  wait(): Promise<void> {
    return new Promise((resolve) => (this.pending = resolve));
  }

  /** Ends the pending sleep or wait, if any. */
  wake(): void {
    const w = this.pending;
    this.pending = undefined;
    w?.();
  }
}
