/**
 * Fuzz: random byte- and token-level mutations of SRS's corpus configs (conf syntax and their YAML renderings).
 * Loading must either return a config or throw ConfigError — never another exception, never hang. Seeded, so a
 * failure is reproducible: the message prints the seed, iteration and mutated text.
 */
import { describe, expect, test } from "bun:test";
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig, loadYamlSupport, parseConfText, type SrsConfig } from "../../../lib/config/index.ts";
import { stringifyYaml } from "../../../lib/config/yaml.ts";
import { newIncludeContext } from "../../../lib/config/parser.ts";
import { prng as mulberry32 } from "../../helpers/prng.ts";
import { srsConfCorpus, describeWithCorpus } from "../../helpers/srs-conf-corpus.ts";
import { tempDir } from "../../helpers/temp.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20251122);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const BUDGET_MS = 20000;


const SPECIAL = [";", "{", "}", '"', "'", "#", "\n", "\r", " ", "\t", "\0", "$", "[", "]", ":", "-", "&", "*", "|", ">", "é"];
const WORDS = [
  "on",
  "off",
  "0",
  "-1",
  "65537",
  "1.5",
  "x",
  "",
  "include",
  "include conf/include.conf;",
  "include nope.conf;",
  "vhost",
  "listen",
  "chunk_size",
  "is_full on;",
  "$CANDIDATE",
  "constructor",
  "__proto__",
  "hasOwnProperty",
  "_args",
  "toString",
  "[vhost]/[app]/[stream].ts",
];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const pos = () => Math.floor(rnd() * (text.length + 1));
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const op = Math.floor(rnd() * 9);
    if (op === 0) {
      const p = pos();
      text = text.slice(0, p) + pick(SPECIAL) + text.slice(p);
    } else if (op === 1) {
      const p = pos();
      text = text.slice(0, p) + text.slice(p + 1 + Math.floor(rnd() * 8));
    } else if (op === 2) {
      const p = pos();
      text = text.slice(0, p) + String.fromCharCode(Math.floor(rnd() * 256)) + text.slice(p + 1);
    } else {
      // Token level.
      const tokens = text.split(/(\s+|[;{}])/);
      const t = Math.floor(rnd() * tokens.length);
      if (op === 3) tokens[t] = pick(WORDS);
      else if (op === 4) tokens.splice(t, 1);
      else if (op === 5) tokens.splice(t, 0, tokens[Math.floor(rnd() * tokens.length)] ?? "");
      else if (op === 6) {
        const u = Math.floor(rnd() * tokens.length);
        const tmp = tokens[t] as string;
        tokens[t] = tokens[u] as string;
        tokens[u] = tmp;
      } else if (op === 7) {
        const lines = tokens.join("").split("\n");
        const l = Math.floor(rnd() * lines.length);
        if (rnd() < 0.5) lines.splice(l, 1);
        else lines.splice(l, 0, lines[Math.floor(rnd() * lines.length)] ?? "");
        text = lines.join("\n");
        continue;
      } else tokens[t] = String(Math.floor(rnd() * 200000) - 1000);
      text = tokens.join("");
    }
  }
  return text;
}

const corpus = srsConfCorpus();
const trunk = tempDir("srs-fuzz-");
if (corpus.files.length > 0) cpSync(corpus.dir, join(trunk, "conf"), { recursive: true });

interface Seed {
  name: string;
  text: string;
  format: "conf" | "yaml";
}

const seeds: Seed[] = [];
for (const f of corpus.files) {
  const text = readFileSync(join(corpus.dir, f), "utf8");
  seeds.push({ name: f, text, format: "conf" });
  try {
    seeds.push({ name: `${f}.yaml`, text: stringifyYaml(parseConfText(text, f, newIncludeContext(trunk))), format: "yaml" });
  } catch {
    // not convertible (e.g. nginx syntax); conf form only
  }
}

/** Loads and touches every accessor, so getters are fuzzed too. */
function exercise(text: string, format: "conf" | "yaml"): SrsConfig {
  const cfg = loadConfig({ text, format, file: `conf/fuzz.${format}`, cwd: trunk, env: { CANDIDATE: "1.2.3.4" } });
  cfg.listen();
  cfg.httpApi();
  cfg.httpServer();
  cfg.rtcServer();
  cfg.srtServer();
  cfg.streamCasters();
  for (const name of [...cfg.vhosts(), "unknown.vhost"]) {
    const v = cfg.vhost(name);
    if (!v) continue;
    void [v.play, v.publish, v.hls, v.httpRemux, v.httpHooks, v.dvr, v.forward, v.security, v.refer, v.cluster, v.rtc];
    void [v.srt, v.dash, v.hds, v.exec, v.ingests, v.transcodes, v.chunkSize, v.enabled];
  }
  return cfg;
}

describeWithCorpus("fuzz: config loader over the corpus", () => {
  test(`mutated corpus configs: only ConfigError (seed ${SEED}, ${ITERATIONS} iterations)`, () => {
    expect(seeds.length).toBeGreaterThan(100);
    const rnd = mulberry32(SEED);
    const start = performance.now();
    let loaded = 0;
    let rejected = 0;
    let i = 0;
    for (; i < ITERATIONS && performance.now() - start < BUDGET_MS; i++) {
      const seed = seeds[Math.floor(rnd() * seeds.length)] as Seed;
      const text = mutate(seed.text, rnd);
      const t0 = performance.now();
      try {
        exercise(text, seed.format);
        loaded++;
      } catch (e) {
        if (!(e instanceof ConfigError)) {
          throw new Error(`seed=${SEED} iteration=${i} file=${seed.name}: ${String(e)}\n--- text ---\n${text}`);
        }
        rejected++;
      }
      const dt = performance.now() - t0;
      if (dt > 2000) throw new Error(`seed=${SEED} iteration=${i} file=${seed.name}: took ${dt.toFixed(0)} ms`);
    }
    // Both outcomes must actually occur, or the mutations are not doing their job.
    expect(loaded).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    expect(i).toBeGreaterThan(Math.min(ITERATIONS, 500));
  }, 60000);
});

await loadYamlSupport();

describe("fuzz: config loader", () => {
  test("random bytes", () => {
    const rnd = mulberry32(SEED + 1);
    for (let i = 0; i < 1000; i++) {
      const len = Math.floor(rnd() * 200);
      let s = "";
      for (let j = 0; j < len; j++) s += rnd() < 0.5 ? (SPECIAL[Math.floor(rnd() * SPECIAL.length)] as string) : String.fromCharCode(32 + Math.floor(rnd() * 95));
      for (const format of ["conf", "yaml"] as const) {
        try {
          exercise(s, format);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw new Error(`iteration=${i} ${format}: ${String(e)}\n--- text ---\n${JSON.stringify(s)}`);
        }
      }
    }
  });
});
