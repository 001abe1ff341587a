/**
 * opusscript's WebAssembly inside a `bun build --compile` executable: the probe (opus-probe.ts) is built exactly as
 * main.ts is and run alone in an empty folder, so the .wasm must come from the executable itself.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../../../lib/version.ts";
import { REPO_ROOT } from "../../helpers/media.ts";
import { tempDir } from "../../helpers/temp.ts";

describe("Opus in a compiled binary", () => {
  test("encodes and decodes (with one concealed packet) when the executable runs alone", () => {
    const work = tempDir("srs-opus-bin-");
    try {
      const b = spawnSync(process.execPath, [join(REPO_ROOT, "build.ts"), "--targets", "linux-x64", "--entry",
        join(REPO_ROOT, "tests/unit/audio/opus-probe.ts"), "--outdir", join(work, "out")], { cwd: work, encoding: "utf8", timeout: 280_000 });
      expect({ status: b.status, output: b.stdout + b.stderr }).toMatchObject({ status: 0 });
      const alone = join(work, "alone");
      mkdirSync(alone);
      copyFileSync(join(work, "out", `srs-ts-${VERSION}-linux-x64`), join(alone, "probe"));
      const r = spawnSync("./probe", [], { cwd: alone, encoding: "utf8", timeout: 60_000 });
      expect(r.stderr).toBe("");
      const o = JSON.parse(r.stdout) as { bytes: number; samples: number; rms: number };
      expect(o.samples).toBe(48000);
      expect(o.rms).toBeGreaterThan(0.3); // a 0.5 sine has RMS 0.354
      expect(o.bytes).toBeGreaterThan(5000);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});
