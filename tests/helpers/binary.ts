/**
 * The standalone executables of build.ts, for tests that run them: a binary in dist/ newer than every build
 * input is reused; otherwise `bun build.ts --targets T` makes it. `aloneInEmptyDir` copies it where no source is.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../../lib/version.ts";
import { REPO_ROOT } from "./media.ts";
import { tempDir } from "./temp.ts";

/** Everything a binary is built from: a newer file here means dist/ is stale. */
export const BUILD_INPUTS = ["main.ts", "build.ts", "package.json", "package-lock.json", "tsconfig.json", "lib", "www", "conf"];

function newestInputMtime(): number {
  let newest = 0;
  const visit = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return; // an input that does not exist (yet)
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const input of BUILD_INPUTS) visit(join(REPO_ROOT, input));
  return newest;
}

const built = new Map<string, string>();

/** dist/srs-ts-<version>-<target>, built now unless a fresh one is there. */
export function builtBinary(target: string): string {
  const cached = built.get(target);
  if (cached) return cached;
  const out = join(REPO_ROOT, "dist", `srs-ts-${VERSION}-${target}`);
  if (!existsSync(out) || statSync(out).mtimeMs < newestInputMtime()) {
    const r = spawnSync(process.execPath, ["build.ts", "--targets", target], { cwd: REPO_ROOT, encoding: "utf8", timeout: 280_000 });
    if (r.status !== 0 || !existsSync(out)) {
      throw new Error(`bun build.ts --targets ${target} failed (exit ${r.status}, ${r.signal ?? "no signal"}):\n${r.stdout}\n${r.stderr}`);
    }
  }
  built.set(target, out);
  return out;
}

/** A fresh empty folder holding only a copy of the binary, named `srs`. */
export function aloneInEmptyDir(bin: string): { dir: string; exe: string } {
  const dir = tempDir("srs-bin-");
  const exe = join(dir, "srs");
  copyFileSync(bin, exe);
  chmodSync(exe, 0o755);
  return { dir, exe };
}
