/**
 * A ByteSink for hub unit tests: keeps every write (the same objects the fan-out handed over, not copies) and
 * never pushes back (writableLength stays 0 unless a test sets it).
 */
import type { ByteSink } from "../../lib/hub/fanout.ts";

export class RecordingSink implements ByteSink {
  writes: Uint8Array[] = [];
  writableLength = 0;
  destroyed = false;
  write(data: Uint8Array): boolean {
    this.writes.push(data);
    return true;
  }
  /** Every byte written, in order. */
  bytes(): number[] {
    return this.writes.flatMap((w) => [...w]);
  }
}
