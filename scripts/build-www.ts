/**
 * Copies the browser players' libraries from node_modules into www/players/js/ (and the console's charting library,
 * uPlot, into www/console/js/), where build.ts embeds them with the rest of www/ (lib/runtime/assets.ts serves
 * them). Run after changing their versions in package.json:
 *
 *   npm run build:www        # = bun scripts/build-www.ts
 *
 * The copies are committed (about 660 KB), so a fresh clone serves the players and builds the binary without this
 * step; tests/e2e/players.test.ts fails when they differ from node_modules (a bump without re-running this).
 * hls.light.min.js is hls.js without subtitles, alternate audio and DRM, which live SRS streams do not use;
 * dash.mediaplayer.min.js is dash.js's player without DRM, MSS and reporting, for the same reason.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const out = join(root, "www/players/js");
const consoleOut = join(root, "www/console/js");

/** [package, file in the package, name in www/players/js]. */
export const VENDORED: [string, string, string][] = [
  ["mpegts.js", "dist/mpegts.js", "mpegts.js"],
  ["mpegts.js", "dist/mpegts.js.LICENSE.txt", "mpegts.js.LICENSE.txt"],
  ["hls.js", "dist/hls.light.min.js", "hls.min.js"],
  ["dashjs", "dist/modern/umd/dash.mediaplayer.min.js", "dash.mediaplayer.min.js"],
  ["dashjs", "dist/modern/umd/dash.mediaplayer.min.js.LICENSE.txt", "dash.mediaplayer.min.js.LICENSE.txt"],
  ["dashjs", "LICENSE.md", "dash.js.LICENSE.txt"],
];

/** [package, file in the package, name in www/console/js]: the console's graphs (uPlot, MIT). */
export const VENDORED_CONSOLE: [string, string, string][] = [
  ["uplot", "dist/uPlot.iife.min.js", "uPlot.min.js"],
  ["uplot", "dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot", "LICENSE", "uPlot.LICENSE.txt"],
];

function consoleLibs(): void {
  mkdirSync(consoleOut, { recursive: true });
  const notice = ["Third-party library bundled with the console (copied from node_modules by scripts/build-www.ts):", ""];
  for (const [pkg, file, name] of VENDORED_CONSOLE) {
    const dir = join(root, "node_modules", pkg);
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string; license: string };
    copyFileSync(join(dir, file), join(consoleOut, name));
    if (name.endsWith(".js")) notice.push(`${name}: ${pkg} ${meta.version} (${file}), license ${meta.license}, https://www.npmjs.com/package/${pkg}`);
    console.log(`www/console/js/${name} <- ${pkg}@${meta.version}/${file}`);
  }
  notice.push("", "uPlot is licensed under the MIT License (uPlot.LICENSE.txt).", "");
  writeFileSync(join(consoleOut, "NOTICE.txt"), notice.join("\n"));
}

function main(): void {
  consoleLibs();
  mkdirSync(out, { recursive: true });
  const notice: string[] = [
    "Third-party libraries bundled with the players (copied from node_modules by scripts/build-www.ts):",
    "",
  ];
  for (const [pkg, file, name] of VENDORED) {
    const dir = join(root, "node_modules", pkg);
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string; license: string };
    copyFileSync(join(dir, file), join(out, name));
    if (name.endsWith(".js")) notice.push(`${name}: ${pkg} ${meta.version} (${file}), license ${meta.license}, https://www.npmjs.com/package/${pkg}`);
    console.log(`www/players/js/${name} <- ${pkg}@${meta.version}/${file}`);
  }
  notice.push(
    "",
    "mpegts.js and hls.js are licensed under the Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0",
    "dash.js is licensed under the BSD 3-Clause license, reproduced in dash.js.LICENSE.txt",
    "",
  );
  writeFileSync(join(out, "NOTICE.txt"), notice.join("\n"));
}

if (import.meta.main) main();
