/**
 * Polling for e2e tests: wait until a condition holds (or a value is there), with the server's recent output in the
 * timeout error.
 */

/** Polls `cond` every 50 ms until it is true; after `ms`, throws naming `what` (with the tail of `s`'s output). */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number, s?: { output(): string }): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${s?.output().slice(-3000) ?? ""}`);
    await Bun.sleep(50);
  }
}

/** Polls `f` every 100 ms until it gives a value (not undefined/false/0/""), and returns it; after `ms`, throws naming `what`. */
export async function waitForValue<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 20000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v) return v;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** How many times `needle` occurs in `text` (log lines of one kind, for example). */
export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
