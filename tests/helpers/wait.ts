/**
 * Polling for e2e tests: wait until a condition holds, with the server's recent output in the timeout error.
 */

/** Polls `cond` every 50 ms until it is true; after `ms`, throws naming `what` (with the tail of `s`'s output). */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number, s?: { output(): string }): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}\n${s?.output().slice(-3000) ?? ""}`);
    await Bun.sleep(50);
  }
}

/** How many times `needle` occurs in `text` (log lines of one kind, for example). */
export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
