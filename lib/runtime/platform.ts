/**
 * The few facts about the JavaScript runtime that differ between Bun, Deno and Node. Core code uses `node:` APIs
 * and should not need more than this; keep it small.
 */

export type RuntimeName = "bun" | "deno" | "node";

interface DenoLike {
  version: { deno: string };
  execPath(): string;
}

function denoGlobal(): DenoLike | undefined {
  return (globalThis as { Deno?: DenoLike }).Deno;
}

function bunVersion(): string | undefined {
  return (globalThis as { Bun?: { version: string } }).Bun?.version;
}

/**
 * The path of a `file:` URL (node:url's `fileURLToPath` for the URLs of our own modules): "/a b/x.ts" for
 * "file:///a%20b/x.ts", "C:/x/y.ts" for "file:///C:/x/y.ts". node:url itself costs ~1.2 MB of RSS under Bun, for
 * this one call at start.
 */
export function fileUrlPath(url: string): string {
  const path = decodeURIComponent(new URL(url).pathname);
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path;
}

/** Which runtime runs this process. Deno also defines `process`, so test for the runtime globals first. */
export function runtimeName(): RuntimeName {
  if (bunVersion() !== undefined) return "bun";
  if (denoGlobal() !== undefined) return "deno";
  return "node";
}

/** The runtime's own version, e.g. "1.4.5" for Bun (for `/api/v1/versions`, logs, `srs_build_info`). */
export function runtimeVersion(): string {
  const bun = bunVersion();
  if (bun !== undefined) return bun;
  const deno = denoGlobal();
  if (deno !== undefined) return deno.version.deno;
  return process.versions.node;
}

/**
 * True in a standalone executable (`bun build --compile`, `deno compile`), false when run from source.
 * Bun places bundled modules on its virtual file system (`/$bunfs/root/…`, `B:/~BUN/root/…` on Windows);
 * a Deno executable is not called `deno`.
 */
export function isCompiledBinary(): boolean {
  if (runtimeName() === "bun") return isBunfsPath(import.meta.url);
  const deno = denoGlobal();
  if (deno !== undefined) return !/^deno(\.exe)?$/i.test(baseName(deno.execPath()));
  return false;
}

/** Whether a path or file URL points into a Bun executable's embedded file system. */
export function isBunfsPath(pathOrUrl: string): boolean {
  return pathOrUrl.includes("/$bunfs/") || pathOrUrl.includes("~BUN/");
}

/** A short description for logs and the version API: "bun 1.4.5 linux-x64 (binary)". */
export function runtimeDescription(): string {
  return `${runtimeName()} ${runtimeVersion()} ${process.platform}-${process.arch}${isCompiledBinary() ? " (binary)" : ""}`;
}

function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\"));
  return i < 0 ? p : p.slice(i + 1);
}
