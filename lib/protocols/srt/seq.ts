/**
 * SRT sequence-number arithmetic (31-bit, wrapping) and message numbers (26-bit, wrapping, never 0).
 * All helpers are pure integer math: no allocation, safe in the packet path.
 */
export const SEQ_MAX = 0x7fffffff;
const SEQ_MOD = 0x80000000;
const SEQ_HALF = 0x40000000;

/** `a + n` modulo 2^31. */
export function seqAdd(a: number, n: number): number {
  const r = (a + n) % SEQ_MOD;
  return r < 0 ? r + SEQ_MOD : r;
}

/** The signed distance from `a` to `b` (b - a), taking the 31-bit wrap into account. */
export function seqOff(a: number, b: number): number {
  let d = b - a;
  if (d >= SEQ_HALF) d -= SEQ_MOD;
  else if (d < -SEQ_HALF) d += SEQ_MOD;
  return d;
}

/** Negative when a precedes b, 0 when equal, positive when a follows b. */
export function seqCmp(a: number, b: number): number {
  return seqOff(b, a);
}

export const MSGNO_MAX = 0x03ffffff;

/** The next message number: 1..2^26-1, 0 is never used. */
export function msgNext(m: number): number {
  return m >= MSGNO_MAX ? 1 : m + 1;
}
