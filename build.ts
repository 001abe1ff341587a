/**
 * Builds standalone srs-ts executables with `bun build --compile`, one per target, into dist/:
 *
 *   bun build.ts                                   # every default target (below)
 *   bun build.ts --targets linux-x64               # just one (the tests use this)
 *   bun build.ts --targets linux-x64,linux-arm64 --outdir out --no-minify --no-bytecode
 *
 * Output: dist/srs-ts-<version>-<target> (…-windows-x64.exe), plus dist/SHA256SUMS for the files present.
 * The web pages (www/) and sample configs (conf/) are embedded (see lib/runtime/assets.ts), so a binary runs
 * alone. Bun fetches the runtime of a foreign target from the npm registry once and caches it.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { VERSION } from "./lib/version.ts";
import { ASSET_DIRS, listAssets } from "./lib/runtime/assets.ts";

/** Extra entrypoints: Web Workers, which Bun does not find from `new Worker(...)` by itself. */
const AUDIO_WORKER = "./lib/services/audio-bridge/worker.ts";

/**
 * mpg123-decoder's index.js, without its Web Worker variant (unused here). Bun 1.4.5's bundler drops the module
 * `./src/MPEGDecoderWebWorker.js` (the package says "sideEffects": false) but keeps index.js's
 * `assignNames(MPEGDecoderWebWorker, …)`, so the executable died at start with "MPEGDecoderWebWorker is not
 * defined". This loads the same module minus that class; the build fails if the file no longer looks as expected.
 */
const mpg123WithoutWorker: Bun.BunPlugin = {
  name: "mpg123-decoder without its web worker",
  setup(build) {
    build.onLoad({ filter: /[\\/]mpg123-decoder[\\/]index\.js$/ }, async (args) => {
      const text = await Bun.file(args.path).text();
      const expected = ['import MPEGDecoder from "./src/MPEGDecoder.js";', 'import { assignNames } from "@wasm-audio-decoders/common";'];
      if (!expected.every((line) => text.includes(line))) throw new Error(`${args.path}: not the index.js build.ts expects`);
      return {
        loader: "js",
        contents: `${expected.join("\n")}\nassignNames(MPEGDecoder, "MPEGDecoder");\nexport { MPEGDecoder };\n`,
      };
    });
  },
};

/** Our target names → Bun's. Linux ones are built by default; the others on request. */
const TARGETS: Record<string, { bun: Bun.Build.CompileTarget; default: boolean }> = {
  "linux-x64": { bun: "bun-linux-x64", default: true },
  "linux-x64-baseline": { bun: "bun-linux-x64-baseline", default: true }, // CPUs without AVX2 (pre-2013)
  "linux-arm64": { bun: "bun-linux-arm64", default: true },
  "linux-x64-musl": { bun: "bun-linux-x64-musl", default: true }, // Alpine
  "linux-arm64-musl": { bun: "bun-linux-arm64-musl", default: true },
  "darwin-x64": { bun: "bun-darwin-x64", default: false },
  "darwin-arm64": { bun: "bun-darwin-arm64", default: false },
  "windows-x64": { bun: "bun-windows-x64", default: false },
};

interface Options {
  targets: string[];
  outdir: string;
  minify: boolean;
  /** Ship JavaScriptCore bytecode with the source: start-up 20 → 8 ms (x64), 0.94 → 0.73 s (arm64 under qemu). */
  bytecode: boolean;
  /** The program to compile: main.ts, or a probe of the tests. */
  entry: string;
}

function usage(code: number): never {
  console.log(`usage: bun build.ts [--targets T1,T2,...] [--outdir DIR] [--no-minify] [--no-bytecode] [--entry FILE (default main.ts)]
targets: ${Object.entries(TARGETS).map(([n, t]) => (t.default ? n : `${n} (not default)`)).join(", ")}`);
  process.exit(code);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    targets: Object.keys(TARGETS).filter((t) => TARGETS[t]!.default),
    outdir: resolve(import.meta.dir, "dist"),
    minify: true,
    bytecode: true,
    entry: "./main.ts",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(2);
      return v;
    };
    switch (flag) {
      case "--targets":
      case "--target":
        opts.targets = value().split(",").map((t) => t.trim()).filter(Boolean);
        break;
      case "--outdir":
        opts.outdir = resolve(value());
        break;
      case "--entry":
        opts.entry = resolve(value());
        break;
      case "--no-bytecode":
        opts.bytecode = false;
        break;
      case "--no-minify":
        opts.minify = false;
        break;
      case "-h":
      case "--help":
        return usage(0);
      default:
        console.error(`unknown argument: ${a}`);
        usage(2);
    }
  }
  for (const t of opts.targets) {
    if (!(t in TARGETS)) {
      console.error(`unknown target: ${t}`);
      usage(2);
    }
  }
  return opts;
}

export function binaryName(target: string): string {
  return `srs-ts-${VERSION}-${target}${target.startsWith("windows") ? ".exe" : ""}`;
}

const startDir = process.cwd();

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function buildOne(target: string, opts: Options): Promise<string> {
  const outfile = join(opts.outdir, binaryName(target));
  rmSync(outfile, { force: true });
  const started = performance.now();
  const result = await Bun.build({
    // The audio bridge's worker is a second entrypoint: Bun embeds it under its path from the repository root
    // (/$bunfs/root/lib/services/audio-bridge/worker.js), where lib/services/audio-bridge/pool.ts starts it.
    entrypoints: [opts.entry, AUDIO_WORKER],
    compile: {
      target: TARGETS[target]!.bun,
      outfile,
      // Embedded under their relative paths: /$bunfs/root/www/index.html (read by lib/runtime/assets.ts).
      // Folders, not files: Bun 1.4.5 keeps the relative path of files found in a folder given here, but
      // puts a file given by itself at the root under its base name.
      assets: ASSET_DIRS.filter((d) => existsSync(d)),
      // A server must not pick up a .env or bunfig.toml from whatever folder it is started in.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    // Whitespace and syntax minified; identifiers kept so errors name real classes and functions (Bun 1.4.5's
    // keepNames does not keep class names, and renaming saves nothing next to the ~100 MB runtime). The source
    // map is embedded in the executable: stack traces point at the original .ts lines.
    minify: opts.minify ? { whitespace: true, syntax: true, identifiers: false } : false,
    sourcemap: "linked",
    bytecode: opts.bytecode,
    // Code splitting: what main.ts imports dynamically (werift and the WebRTC sessions, the proxy) is its own chunk,
    // read only when first imported: idle RSS of linux-x64 with every service on 59.7 -> 55.9 MB (bench/memory.ts).
    splitting: true,
    format: "esm", // bytecode would default to CommonJS, which has no top-level await
    plugins: [mpg123WithoutWorker],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build failed for ${target}`);
  }
  if (!existsSync(outfile)) throw new Error(`bun reported success but ${outfile} is missing`);
  // Bun also writes the source map beside the executable (…-windows-x64.map for the .exe): it is embedded already.
  // With the worker as a second entrypoint, its map lands there too (worker.js.map).
  const maps = [`${outfile}.map`, `${outfile.replace(/\.exe$/, "")}.map`, join(opts.outdir, "worker.js.map")];
  for (const o of result.outputs) if (o.path.endsWith(".map")) maps.push(o.path);
  for (const map of new Set(maps)) rmSync(map, { force: true });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${relative(startDir, outfile)}  ${mib(statSync(outfile).size)}  (${seconds} s)`);
  return outfile;
}

function writeChecksums(outdir: string): void {
  const prefix = `srs-ts-${VERSION}-`;
  const lines = readdirSync(outdir)
    .filter((f) => f.startsWith(prefix))
    .sort()
    .map((f) => `${createHash("sha256").update(readFileSync(join(outdir, f))).digest("hex")}  ${f}`);
  writeFileSync(join(outdir, "SHA256SUMS"), lines.join("\n") + "\n");
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2)); // paths given are relative to the caller's cwd
  process.chdir(resolve(import.meta.dir)); // asset folders are relative to the repository root
  mkdirSync(opts.outdir, { recursive: true });
  const assets = listAssets();
  const assetBytes = assets.reduce((n, a) => n + statSync(a).size, 0);
  console.log(`srs-ts ${VERSION}: ${opts.targets.length} target(s), ${assets.length} embedded files (${mib(assetBytes)})`);
  for (const target of opts.targets) await buildOne(target, opts);
  writeChecksums(opts.outdir);
}

if (import.meta.main) {
  await main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e, (e as { errors?: unknown }).errors ?? "");
    process.exit(1);
  });
}
