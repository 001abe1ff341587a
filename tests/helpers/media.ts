/**
 * Test media: the deterministic clips of ../shared/tools/make-media.sh, generated once into tests/.media/
 * (git-ignored). A missing ffmpeg is a failure, never a skip.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir ?? new URL(".", import.meta.url).pathname, "../..");
export const MEDIA_DIR = join(REPO_ROOT, "tests/.media");

function makeMediaScript(): string {
  const candidates = [
    process.env.SRS_MAKE_MEDIA,
    join(REPO_ROOT, "../shared/tools/make-media.sh"),
  ].filter((p): p is string => !!p);
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`make-media.sh not found (looked in ${candidates.join(", ")})`);
}

export type ClipName = "clip.flv" | "clip.ts" | "clip-main.flv" | "clip-main.ts" | "clip-hevc.ts";

/** Path of a test clip, generating all clips on first use. */
export function clip(name: ClipName): string {
  const p = join(MEDIA_DIR, name);
  if (!existsSync(p)) {
    execFileSync("bash", [makeMediaScript(), MEDIA_DIR], { stdio: "pipe" });
    if (!existsSync(p)) throw new Error(`make-media.sh did not produce ${p}`);
  }
  return p;
}
