/** Reference data kept in the repository (tests/fixtures/): SRS 7's recorded answers, see srs-samples/README.md. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./media.ts";

export const SRS_SAMPLES_DIR = join(REPO_ROOT, "tests/fixtures/srs-samples");

/** Text of one recorded SRS answer (e.g. "metrics.txt"). */
export function srsSampleText(name: string): string {
  return readFileSync(join(SRS_SAMPLES_DIR, name), "utf8");
}

/** One recorded SRS API answer, parsed (e.g. "versions.json"). */
export function srsSampleJson(name: string): unknown {
  return JSON.parse(srsSampleText(name));
}

/** One HTTP callback SRS made, as recorded in hooks.jsonl. */
export interface SrsHookSample {
  path: string;
  headers: Record<string, string>;
  body?: Record<string, unknown>;
}

/** Every HTTP callback SRS made in the recording, in order. */
export function srsHookSamples(): SrsHookSample[] {
  return srsSampleText("hooks.jsonl").trim().split("\n").map((l) => JSON.parse(l) as SrsHookSample);
}
