/**
 * Temporary folders for tests: made under the system's temp dir and removed when the test process exits, so a
 * run leaves nothing behind in /tmp (servers, players and recorders write there; files stay readable until the
 * process ends, after a server was stopped too).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
let hooked = false;

/** A new empty folder named `<prefix>XXXXXX`, removed with its content at process exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}
