/**
 * The pid file (`pid` in the config): written at start with this process's pid, refused when it names another
 * srs-ts that is still running, and removed at exit only while it still holds this process's pid. Used by the
 * server (one process) and by the workers' primary (`workers N;`).
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Writes this process's pid to `path`; throws (with the reason) when another live process holds it. */
export function writePidFile(path: string): void {
  if (existsSync(path)) {
    const old = Number(readFileSync(path, "utf8").trim());
    if (old > 0 && old !== process.pid && processAlive(old)) {
      throw new Error(`pid file ${path}: srs-ts is already running as pid ${old}`);
    }
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${process.pid}\n`);
  } catch (e) {
    throw new Error(`write pid file ${path}: ${(e as Error).message}`);
  }
}

/** Removes the pid file when it still holds this process's pid (another process may have taken it over). */
export function removePidFile(path: string): void {
  try {
    const cur = Number(readFileSync(path, "utf8").trim());
    if (cur === process.pid) unlinkSync(path);
  } catch {
    // already gone
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
