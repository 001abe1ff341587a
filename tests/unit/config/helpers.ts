import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Directive } from "../../../lib/config/index.ts";
import { tempDir } from "../../helpers/temp.ts";

/** A compact, location-free view of a tree: `["name a b", [children…]]`. */
export type Shape = string | [string, Shape[]];

export function shape(d: Directive): Shape[] {
  return d.children.map((c) => {
    const head = [c.name, ...c.args].join(" ");
    return c.children.length ? [head, shape(c)] : head;
  });
}

/** Writes `files` (path → text) into a fresh temp dir and returns it. */
export function tempTree(files: Record<string, string>): string {
  const dir = tempDir("srs-config-");
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

export const MIN = "listen 1935;\n";
