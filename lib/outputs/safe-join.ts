/**
 * A request's URL path resolved under the folder an output writes to (hls_path, dash_path) for the HTTP
 * handlers that serve its files: percent-decoded, and refused when it would leave the folder (`..` segments,
 * NUL, bad escapes, or a resolved path outside it).
 */
import { join, resolve, sep } from "node:path";

/** `urlPath` resolved under `root`; undefined when it would leave it (`..`, NUL, bad escapes). */
export function safeJoin(root: string, urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (rel.includes("\0") || rel.split(/[\\/]/).includes("..")) return undefined;
  const abs = resolve(join(root, rel));
  return abs.startsWith(root.endsWith(sep) ? root : root + sep) ? abs : undefined;
}
