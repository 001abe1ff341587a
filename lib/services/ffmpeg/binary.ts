/**
 * Which program to run: the configured path, or, when that is SRS's bundled FFmpeg (`./objs/ffmpeg/bin/ffmpeg`,
 * built by SRS's configure) and absent, the `ffmpeg` on PATH (said once per path in the log). A name without a
 * slash is looked up on PATH, as a shell would.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** SRS's bundled FFmpeg, relative to its work dir (every SRS config names it). */
export const BUNDLED_FFMPEG = /(^|\/)objs\/ffmpeg\/bin\/ffmpeg$/;

function executable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH, or undefined. */
export function onPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (executable(p)) return p;
  }
  return undefined;
}

export type Resolved = { path: string; fallback?: string } | { missing: string };

/**
 * Resolves `bin` to a program that exists: `{path}` (with `fallback` set to the configured path when SRS's
 * bundled FFmpeg was replaced by the one on PATH), or `{missing}` with the reason.
 */
export function resolveProgram(bin: string): Resolved {
  if (!bin) return { missing: "no program configured" };
  if (!bin.includes("/")) {
    const p = onPath(bin);
    return p ? { path: p } : { missing: `${bin} is not on PATH` };
  }
  if (executable(bin)) return { path: bin };
  if (BUNDLED_FFMPEG.test(bin)) {
    const p = onPath("ffmpeg");
    return p ? { path: p, fallback: bin } : { missing: `${bin} is absent (SRS's bundled FFmpeg) and no ffmpeg is on PATH` };
  }
  return { missing: `${bin} does not exist or is not executable` };
}

/** setpriv (util-linux), to give children a parent-death signal: no FFmpeg outlives a killed server. */
export function setprivPath(): string | undefined {
  return onPath("setpriv");
}
