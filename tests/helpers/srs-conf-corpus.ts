/**
 * SRS's own config files (trunk/conf/*.conf, 102 files) are not kept in this repository. Tests that read them run
 * when the corpus is found: $SRS_CONF_CORPUS, else ../shared/srs-conf beside the repository. Otherwise they are
 * skipped with a visible message, unless SRS_CONF_CORPUS_REQUIRED=1 (as .ci/run sets), where a missing corpus
 * is a failing test.
 */
import { describe, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "./media.ts";

export interface SrsConfCorpus {
  /** Directory looked in. */
  dir: string;
  /** The .conf files found there, sorted (empty when the corpus is missing). */
  files: string[];
}

/** Where the corpus is looked for, and what it holds. */
export function srsConfCorpus(): SrsConfCorpus {
  const dir = resolve(process.env.SRS_CONF_CORPUS || join(REPO_ROOT, "../shared/srs-conf"));
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".conf")).sort() : [];
  return { dir, files };
}

/**
 * Declares a describe block that needs the corpus. With the corpus, `body` runs as usual; without it, a single
 * test reports the absence: skipped (and a line on stderr), or failed under SRS_CONF_CORPUS_REQUIRED=1.
 */
export function describeWithCorpus(name: string, body: (corpus: SrsConfCorpus) => void): void {
  const corpus = srsConfCorpus();
  if (corpus.files.length > 0) {
    describe(name, () => body(corpus));
    return;
  }
  const why = `SRS config corpus not found in ${corpus.dir} (set SRS_CONF_CORPUS to SRS's trunk/conf)`;
  if (process.env.SRS_CONF_CORPUS_REQUIRED === "1") {
    describe(name, () => {
      test("SRS config corpus present (SRS_CONF_CORPUS_REQUIRED=1)", () => {
        throw new Error(why);
      });
    });
    return;
  }
  console.warn(`SKIP ${name}: ${why}`);
  describe(name, () => {
    test.skip(`needs the SRS config corpus: ${why}`, () => {});
  });
}
