/**
 * Files shipped with the server: the web pages in `www/` and the sample configs in `conf/`.
 *
 * - From source (`bun main.ts`, `deno run -A main.ts`, also `deno compile --include www --include conf`) they are
 *   read from the repository, located from this module's URL (never from the process cwd), so edits show at once.
 * - In a `bun build --compile` executable, build.ts embeds them with Bun's `compile.assets` option: they sit on
 *   Bun's virtual file system beside the bundled entry (`/$bunfs/root/www/index.html`) and are read with node:fs,
 *   so a binary copied alone into an empty folder still has them. Nothing is decoded at start-up.
 *
 * Paths are relative and slash-separated ("www/index.html", "conf/srs.conf"). Anything outside `www/` and `conf/`,
 * with `..`, or naming a hidden file is refused, so URL paths can be passed through `wwwAssetForUrl` safely.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileUrlPath, isBunfsPath } from "./platform.ts";

/** The top-level folders whose files are assets (build.ts embeds exactly these). */
export const ASSET_DIRS: readonly string[] = ["www", "conf"];

const moduleUrl = import.meta.url;
/** Inside a Bun executable everything is bundled into one module at the virtual root, assets beside it. */
const embedded = isBunfsPath(moduleUrl);
const root = embedded ? dirname(fileUrlPath(moduleUrl)) : resolve(dirname(fileUrlPath(moduleUrl)), "../..");
/** Embedded files never change, so they are read once; files on disk are read on every call. */
const cache = new Map<string, Uint8Array | null>();

/** Where assets are read from: the repository root, or `/$bunfs/root` in a compiled binary. */
export function assetRoot(): string {
  return root;
}

/** Whether assets come from the executable itself (true) or from the source tree (false). */
export function assetsEmbedded(): boolean {
  return embedded;
}

/** Checks and normalises a relative asset path; undefined when it is not a legal asset path. */
export function normalizeAssetPath(relPath: string): string | undefined {
  let p = relPath.replace(/^(\.\/)+/, "");
  if (p.length === 0 || p.includes("\\") || p.includes("\0") || p.startsWith("/")) return undefined;
  p = p.replace(/\/+$/, "");
  const parts = p.split("/");
  if (parts.length < 2 || !ASSET_DIRS.includes(parts[0]!)) return undefined;
  for (const part of parts) if (part === "" || part === "." || part === ".." || part.startsWith(".")) return undefined;
  return p;
}

/** The bytes of an asset ("www/index.html", "conf/srs.conf"), or undefined if there is no such file. */
export function getAsset(relPath: string): Uint8Array | undefined {
  const p = normalizeAssetPath(relPath);
  if (p === undefined) return undefined;
  if (embedded) {
    const hit = cache.get(p);
    if (hit !== undefined) return hit ?? undefined;
    const data = readFileOrUndefined(join(root, p));
    cache.set(p, data ?? null);
    return data;
  }
  return readFileOrUndefined(join(root, p));
}

/** An asset decoded as UTF-8 text, or undefined. */
export function getAssetText(relPath: string): string | undefined {
  const data = getAsset(relPath);
  return data === undefined ? undefined : new TextDecoder().decode(data);
}

/** Every asset path, sorted, optionally only those starting with `prefix` (e.g. "www/", "conf/"). */
export function listAssets(prefix = ""): string[] {
  const out: string[] = [];
  for (const dir of ASSET_DIRS) {
    if (!(dir + "/").startsWith(prefix) && !prefix.startsWith(dir + "/")) continue; // cannot match
    walk(dir, out);
  }
  return out.filter((p) => p.startsWith(prefix)).sort();
}

function walk(rel: string, out: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(join(root, rel));
  } catch {
    return;
  }
  for (const name of entries) {
    if (name.startsWith(".")) continue;
    const child = `${rel}/${name}`;
    let isDir: boolean;
    try {
      isDir = statSync(join(root, child)).isDirectory();
    } catch {
      continue;
    }
    if (isDir) walk(child, out);
    else out.push(child);
  }
}

function readFileOrUndefined(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined; // missing, or a directory
  }
}

/**
 * The asset an HTTP path maps to under `www/`: "/" → "www/index.html", "/console/" → "www/console/index.html",
 * "/players/x.js" → "www/players/x.js". Undefined when no such asset exists or the path is not legal.
 * (Redirecting "/console" to "/console/" is left to the HTTP layer: this returns undefined for it.)
 */
export function wwwAssetForUrl(urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0]!);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith("/")) return undefined;
  const rel = decoded.endsWith("/") ? `www${decoded}index.html` : `www${decoded}`;
  const p = normalizeAssetPath(rel);
  if (p === undefined || getAsset(p) === undefined) return undefined;
  return p;
}

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  conf: "text/plain; charset=utf-8",
  service: "text/plain; charset=utf-8",
  yaml: "text/yaml; charset=utf-8",
  yml: "text/yaml; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  wasm: "application/wasm",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  m3u8: "application/vnd.apple.mpegurl",
  mpd: "application/dash+xml",
  ts: "video/mp2t",
  m4s: "video/iso.segment",
  mp4: "video/mp4",
  m4v: "video/mp4",
  m4a: "audio/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  flv: "video/x-flv",
  mp3: "audio/mpeg",
  aac: "audio/aac",
  wav: "audio/wav",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  vtt: "text/vtt; charset=utf-8",
};

/** The Content-Type for a path by its extension; "application/octet-stream" when unknown. */
export function assetContentType(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot < 0) return "application/octet-stream";
  return CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}
