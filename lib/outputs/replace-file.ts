/**
 * Whole-file writes for outputs that other readers poll (playlists, MPDs, init segments, keys): the bytes go to
 * `<file>.tmp` (its folder made as needed), then are renamed over `file`, so a reader never sees a partial file.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Writes `data` to `file` through `<file>.tmp` and a rename; rejects with the fs error. */
export async function replaceFile(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file + ".tmp", data);
  await rename(file + ".tmp", file);
}
