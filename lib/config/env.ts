/**
 * SRS_* environment overrides.
 *
 * SRS derives the env name of every setting from its dotted path: upper-case it, turn `.` into `_`, prefix `SRS_`
 * (`http_api.listen` → `SRS_HTTP_API_LISTEN`, `rtc_server.tcp.enabled` → `SRS_RTC_SERVER_TCP_ENABLED`). Vhost
 * settings drop the vhost name and apply to **all** vhosts (`vhost.hls.hls_fragment` → `SRS_VHOST_HLS_HLS_FRAGMENT`).
 * The log settings are reachable under two names each (`SRS_LOG_TANK` and `SRS_SRS_LOG_TANK`, …). An env var that
 * is set and non-empty wins over the file; multi-value settings (listens, hooks) split it on spaces.
 *
 * Design: we apply env in the getters (see `Scope`), never by rewriting the tree, so the tree stays what the file
 * said (for `srs -t`, reload diffs and the raw API) and `SRS_VHOST_*` naturally covers every vhost, including the
 * `__defaultVhost__` fallback.
 *
 * `$NAME` values are only expanded for `rtc_server.candidate` and `stream_caster.sip.candidate`: the env var
 * `NAME`, or `*` when it is unset/empty. There is no general `${VAR}` interpolation, as in SRS.
 *
 * `SRS_ENV_ONLY` (any value, as SRS checks only for presence) or `-e` means no config file: daemon defaults to off,
 * the log tank to console and an empty tree gets an implicit `vhost __defaultVhost__ {}`.
 */
import { type Directive, getChild } from "./parser.ts";

export type Env = Record<string, string | undefined>;

/** `http_api.https.listen` → `SRS_HTTP_API_HTTPS_LISTEN`. */
export function envName(path: string): string {
  return "SRS_" + path.replace(/\./g, "_").toUpperCase();
}

/** The value of `name` if set and non-empty. */
export function envValue(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

/** Space-separated multi-value env (empty items dropped), undefined when unset/empty. */
export function envList(env: Env, name: string): string[] | undefined {
  const v = envValue(env, name);
  return v === undefined ? undefined : v.split(" ").filter((x) => x !== "");
}

/** `$NAME` → env NAME, or `*` when unset; other values unchanged. */
export function expandDollar(value: string, env: Env): string {
  if (!value.startsWith("$")) return value;
  return envValue(env, value.slice(1)) ?? "*";
}

export function isEnvOnly(env: Env): boolean {
  return env.SRS_ENV_ONLY !== undefined;
}

/** The env as seen in env-only mode: `SRS_DAEMON=off` and console logs unless the user chose otherwise. */
export function envOnlyDefaults(env: Env): Env {
  const out: Env = { ...env };
  if (out.SRS_DAEMON === undefined) out.SRS_DAEMON = "off";
  if (out.SRS_SRS_LOG_TANK === undefined && out.SRS_LOG_TANK === undefined) out.SRS_SRS_LOG_TANK = "console";
  return out;
}

/** C `atoi`: leading integer, 0 when none. */
export function atoi(s: string): number {
  const m = /^\s*[+-]?\d+/.exec(s);
  return m ? Number.parseInt(m[0], 10) : 0;
}

/** C `atof`: leading decimal number, 0 when none. */
export function atof(s: string): number {
  const m = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(s);
  return m ? Number.parseFloat(m[0]) : 0;
}

/**
 * A config block plus the env prefix of its settings. Getters read `env[prefix + KEY]` first, then the first child
 * directive's arguments, then the default. A scope with a `null` prefix has no env overrides (SRS has none for
 * e.g. `cluster`, `forward`, `security`, `ingest`, `transcode`, `stream_caster`).
 */
export class Scope {
  constructor(
    readonly dir: Directive | undefined,
    readonly envPrefix: string | null,
    readonly env: Env,
  ) {}

  /** The first child directive named `name`. */
  get(name: string): Directive | undefined {
    return getChild(this.dir, name);
  }

  all(name: string): Directive[] {
    return this.dir ? this.dir.children.filter((c) => c.name === name) : [];
  }

  /** The sub-block `name` (possibly absent), with env prefix `PREFIX_NAME_`. */
  child(name: string, dir: Directive | undefined = this.get(name)): Scope {
    return new Scope(dir, this.envPrefix === null ? null : `${this.envPrefix}${name.toUpperCase()}_`, this.env);
  }

  /** The env names for `key` (aliases first-wins). */
  envNames(key: string, aliases: string[] = []): string[] {
    return this.envPrefix === null ? [] : [...aliases, this.envPrefix + key.toUpperCase()];
  }

  /** The env value for `key` if any. `aliases` are full env names checked first. */
  envOf(key: string, aliases: string[] = []): string | undefined {
    for (const n of this.envNames(key, aliases)) {
      const v = envValue(this.env, n);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The raw value: env, else arg0 of the directive (undefined when unset or empty). */
  raw(key: string, aliases: string[] = []): string | undefined {
    const e = this.envOf(key, aliases);
    if (e !== undefined) return e;
    const a = this.get(key)?.args[0];
    return a === undefined || a === "" ? undefined : a;
  }

  str(key: string, def: string, aliases: string[] = []): string {
    return this.raw(key, aliases) ?? def;
  }

  /** SRS "prefer false": only `on` is true. */
  boolOn(key: string, def = false, aliases: string[] = []): boolean {
    const v = this.raw(key, aliases);
    return v === undefined ? def : v === "on";
  }

  /** SRS "prefer true": only `off` is false. */
  boolNotOff(key: string, def = true, aliases: string[] = []): boolean {
    const v = this.raw(key, aliases);
    return v === undefined ? def : v !== "off";
  }

  int(key: string, def: number, aliases: string[] = []): number {
    const v = this.raw(key, aliases);
    return v === undefined ? def : atoi(v);
  }

  num(key: string, def: number, aliases: string[] = []): number {
    const v = this.raw(key, aliases);
    return v === undefined ? def : atof(v);
  }

  /** All arguments (env: space-split); `def` when unset. */
  list(key: string, def: string[] = [], aliases: string[] = []): string[] {
    for (const n of this.envNames(key, aliases)) {
      const v = envList(this.env, n);
      if (v !== undefined) return v;
    }
    const d = this.get(key);
    return d ? [...d.args] : [...def];
  }
}
