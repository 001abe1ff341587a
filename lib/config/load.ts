/**
 * Loading a config: a file (SRS syntax or YAML), a text, or env only; then the legacy rewrites (transform.ts), the
 * schema check and the cross-checks (check.ts). The result is an `SrsConfig` (config.ts) that is always valid.
 */
import process from "node:process";
import { checkSemantics, checkTree } from "./check.ts";
import { DEFAULT_VHOST, SrsConfig } from "./config.ts";
import { type Env, envOnlyDefaults, envValue, isEnvOnly } from "./env.ts";
import { ConfigError } from "./errors.ts";
import {
  type Directive,
  extensionOf,
  type FileParser,
  getOrCreate,
  type IncludeContext,
  newDirective,
  newIncludeContext,
  parseConfText,
  parseFileInto,
} from "./parser.ts";
import { transformConfig } from "./transform.ts";

export interface LoadOptions {
  /** Config file path (`-c`). `SRS_CONFIG_FILE` in env overrides it (as SRS), unless `text` is given. */
  file?: string;
  /** Config text (instead of reading `file`; `file` then only names it in errors and picks the format). */
  text?: string;
  /** Text format when `text` is given without a `.yaml`/`.yml` file name. */
  format?: "conf" | "yaml";
  /** `-e`: no config file at all (also when `SRS_ENV_ONLY` is set in env). */
  envOnly?: boolean;
  /** Environment (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Working directory for relative paths and includes (default `process.cwd()`). */
  cwd?: string;
}

/**
 * The YAML parser (yaml.ts and the `yaml` package), imported the first time a config needs it: the package is a
 * quarter of the code the server loads at start (160 KB) and ~3.5 MB of heap, which a box configured in the conf
 * syntax never needs. A cache of a dynamic import, as the module registry itself.
 */
let yamlParser: FileParser | undefined;

/** Thrown by the synchronous `loadConfig` when a YAML file or text is met before `loadYamlSupport()`. */
export class YamlNotLoaded extends Error {
  constructor(readonly file: string) {
    super(`${file}: YAML support is not loaded (await loadYamlSupport() or use loadConfigAsync)`);
  }
}

/** Imports the YAML parser once; afterwards `loadConfig` reads YAML synchronously. */
export async function loadYamlSupport(): Promise<void> {
  yamlParser ??= (await import("./yaml.ts")).parseYamlInto;
}

const parseYaml: FileParser = (text, file, into, ctx) => {
  if (!yamlParser) throw new YamlNotLoaded(file);
  yamlParser(text, file, into, ctx);
};

function includeContext(cwd: string): IncludeContext {
  return newIncludeContext(cwd, { ".yaml": parseYaml, ".yml": parseYaml });
}

/**
 * Loads, transforms and checks a config; throws `ConfigError` on any problem. Never returns an invalid config.
 */
export function loadConfig(opts: LoadOptions): SrsConfig {
  let env: Env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const envOnly = opts.envOnly === true || isEnvOnly(env);
  const ctx = includeContext(cwd);

  let file: string | undefined = opts.file;
  let root: Directive;
  if (envOnly) {
    root = newDirective("", [], file ?? "<env>", 0);
  } else if (opts.text !== undefined) {
    const label = file ?? "<text>";
    root = newDirective("", [], label, 0);
    const yaml = opts.format === "yaml" || (opts.format === undefined && [".yaml", ".yml"].includes(extensionOf(label)));
    if (yaml) parseYaml(opts.text, label, root, ctx);
    else parseConfText(opts.text, label, ctx, root);
  } else {
    file = envValue(env, "SRS_CONFIG_FILE") ?? file;
    if (file === undefined || file === "") throw new ConfigError("no config file (use -c FILE or -e)", { file: "<cli>" });
    root = newDirective("", [], file, 0);
    parseFileInto(file, root, ctx);
  }

  const notes = transformConfig(root);
  if (envOnly) {
    env = envOnlyDefaults(env);
    if (root.children.length === 0) getOrCreate(root, "vhost", DEFAULT_VHOST);
  }
  checkTree(root);
  const cfg = new SrsConfig(root, { file, env, envOnly, cwd, notes });
  checkSemantics(cfg);
  return cfg;
}

/**
 * `loadConfig`, importing the YAML parser first when the config (the file, the text, or a file it includes) turns
 * out to need it: the load is then done again, synchronously. What the server and `srs -t` use.
 */
export async function loadConfigAsync(opts: LoadOptions): Promise<SrsConfig> {
  try {
    return loadConfig(opts);
  } catch (e) {
    if (!(e instanceof YamlNotLoaded)) throw e;
  }
  await loadYamlSupport();
  return loadConfig(opts);
}

/** `srs -t -c FILE`: ok, or the first error. Env overrides apply as when running (default `process.env`). */
export function checkConfigFile(
  path: string,
  cwd?: string,
  env: Record<string, string | undefined> = process.env,
): { ok: true } | { ok: false; error: ConfigError } {
  try {
    loadConfig({ file: path, cwd, env });
    return { ok: true };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, error: e };
    throw e;
  }
}
