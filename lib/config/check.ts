/**
 * Config checks, as SRS's `check_config` (`srs -t`), run after the legacy rewrites:
 * 1. the tree against the schema (unknown directive → "illegal directive", numbers where numbers are required →
 *    "bad value type", a plain setting given a block → "is not a block"); all name file:line;
 * 2. cross-checks on effective values (env included): "conf is empty" (unless env-only), `listen` present (unless
 *    env-only) and valid, http_api/http_server listens non-empty and valid, HTTPS pairing rules, heartbeat interval
 *    and stats network, one `http_remux` per vhost, HLS vs HTTP-TS mount conflict, forward vs kickoff_for_idle,
 *    unique ingest ids, chunk_size in [128, 65536] (SRS only warns; we refuse), asprocess vs daemon,
 *    max_connections > 0 and finally `is_full on` → "never use full.conf".
 */
import type { SrsConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import type { Directive } from "./parser.ts";
import { type BlockSpec, isInt, isNumber, isValidEndpoint, ROOT_SPEC } from "./schema.ts";

export const MIN_CHUNK_SIZE = 128;
export const MAX_CHUNK_SIZE = 65536;
/** The most `workers` a config may ask for (srs-ts directive). */
export const MAX_WORKERS = 64;

function at(d: Directive, reason: string): ConfigError {
  return new ConfigError(reason, { file: d.file, line: d.line, directive: d.name });
}

/** Checks names, nesting and value types of the tree against the schema. */
export function checkTree(root: Directive): void {
  walk(root, ROOT_SPEC, "");
}

function walk(dir: Directive, spec: BlockSpec, path: string): void {
  if (spec.open) return;
  for (const c of dir.children) {
    const full = path ? `${path}.${c.name}` : c.name;
    const sub = spec.children[c.name];
    if (sub === undefined || !Object.hasOwn(spec.children, c.name)) throw at(c, `illegal directive ${full}`);
    if (typeof sub !== "string") {
      walk(c, sub, full);
      continue;
    }
    if (c.children.length > 0) throw at(c, `${full} is not a block`);
    for (const a of c.args) {
      if (sub === "int" && !isInt(a)) throw at(c, `bad value type: ${full} requires an integer, got "${a}"`);
      if (sub === "num" && !isNumber(a)) throw at(c, `bad value type: ${full} requires a number, got "${a}"`);
      if (sub === "listen" && !isValidEndpoint(a)) throw at(c, `bad value type: ${full}=${a} is not a valid [ip:]port`);
    }
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The cross-checks on effective values; `cfg` is the loaded config (tree + env). */
export function checkSemantics(cfg: SrsConfig): void {
  const root = cfg.root;
  const file = cfg.file ?? root.file;
  const fail = (reason: string, d?: Directive): never => {
    throw d ? at(d, reason) : new ConfigError(reason, { file });
  };
  const find = (path: string): Directive | undefined => {
    let d: Directive | undefined = root;
    for (const p of path.split(".")) d = d?.children.find((c) => c.name === p);
    return d;
  };

  if (!cfg.envOnly && root.children.length === 0) fail("conf is empty");

  const listens = cfg.rtmpListens();
  if (!cfg.envOnly && listens.length === 0) fail("listen requires params", find("listen"));
  for (const l of listens) if (!isValidEndpoint(l)) fail(`listen=${l} is invalid`, find("listen"));

  const hb = cfg.heartbeat();
  if (!(hb.interval > 0)) fail(`invalid heartbeat.interval=${hb.interval}`, find("heartbeat.interval"));
  if (cfg.stats().network < 0) fail(`invalid stats.network=${cfg.stats().network}`, find("stats.network"));

  const api = cfg.httpApi();
  const server = cfg.httpServer();
  if (api.listens.length === 0) fail("http_api.listen requires params", find("http_api.listen"));
  for (const l of api.listens) if (!isValidEndpoint(l)) fail(`http_api.listen=${l} is invalid`, find("http_api.listen"));
  if (server.listens.length === 0) fail("http_server.listen requires params", find("http_server.listen"));
  for (const l of server.listens) if (!isValidEndpoint(l)) fail(`http_server.listen=${l} is invalid`, find("http_server.listen"));
  for (const l of [api.https.listen, server.https.listen]) if (!isValidEndpoint(l)) fail(`https listen=${l} is invalid`);
  const apis = api.listens;
  const servers = server.listens;
  const sapis = [api.https.listen];
  const sservers = [server.https.listen];
  if (sameList(apis, servers) && !sameList(sapis, sservers)) {
    fail(`for same http, https api(${sapis.join(",")}) != server(${sservers.join(",")})`, find("http_api.https"));
  }
  if (sameList(sapis, sservers) && !sameList(apis, servers)) {
    fail(`for same https, http api(${apis.join(",")}) != server(${servers.join(",")})`, find("http_api.https"));
  }
  if (api.https.enabled && !api.enabled) fail("https api depends on http", find("http_api"));
  if (server.https.enabled && !server.enabled) fail("https stream depends on http", find("http_server"));

  const rtc = cfg.rtcServer();
  if (rtc.enabled && !(rtc.listen >= 0 && rtc.listen <= 65535)) fail(`rtc_server.listen=${rtc.listen} is invalid`, find("rtc_server.listen"));
  for (const l of rtc.enabled ? rtc.listens : []) if (!isValidEndpoint(l)) fail(`rtc_server.listen=${l} is invalid`, find("rtc_server.listen"));
  for (const l of rtc.enabled && rtc.tcp.enabled ? rtc.tcp.listens : []) {
    if (!isValidEndpoint(l)) fail(`rtc_server.tcp.listen=${l} is invalid`, find("rtc_server.tcp.listen"));
  }
  const srt = cfg.srtServer();
  for (const l of srt.enabled ? srt.listens : []) if (!isValidEndpoint(l)) fail(`srt_server.listen=${l} is invalid`, find("srt_server.listen"));
  const rtsp = cfg.rtspServer();
  for (const l of rtsp.enabled ? rtsp.listens : []) if (!isValidEndpoint(l)) fail(`rtsp_server.listen=${l} is invalid`, find("rtsp_server.listen"));

  if (cfg.logTank() === "file" && cfg.logFile() === "") fail("log file is empty", find("srs_log_file"));

  for (const vhost of root.children.filter((c) => c.name === "vhost")) {
    const name = vhost.args[0] ?? "";
    const remuxes = vhost.children.filter((c) => c.name === "http_remux");
    if (remuxes.length > 1) fail(`vhost.http_remux only one but count=${remuxes.length} of ${name}`, remuxes[1]);
    // As SRS: look at the file's text only (`enabled on` must come before `mount` in the block).
    let httpTs = false;
    for (const r of remuxes) {
      let on = false;
      for (const c of r.children) {
        if (c.name === "enabled" && c.args[0] === "on") on = true;
        if (on && c.name === "mount" && (c.args[0] ?? "").endsWith(".ts")) httpTs = true;
      }
    }
    const hlsOn = vhost.children.some((h) => h.name === "hls" && h.children.some((c) => c.name === "enabled" && c.args[0] === "on"));
    if (hlsOn && httpTs) fail(`vhost.hls conflict with vhost.http-ts of ${name}`, vhost);

    const v = cfg.vhostExact(name);
    if (v && v.forward.enabled && v.publish.kickoffForIdle > 0) {
      fail("vhost.forward conflicts with vhost.publish.kickoff_for_idle", vhost);
    }

    const ids = new Set<string>();
    for (const ing of vhost.children.filter((c) => c.name === "ingest")) {
      const id = ing.args[0] ?? "";
      if (ids.has(id)) fail(`ingest id=${id} exists for ${name}`, ing);
      ids.add(id);
    }

    if (v) {
      const cs = v.chunkSize;
      if (cs < MIN_CHUNK_SIZE || cs > MAX_CHUNK_SIZE) {
        fail(`chunk_size=${cs} of ${name} should be in [${MIN_CHUNK_SIZE}, ${MAX_CHUNK_SIZE}]`, vhost.children.find((c) => c.name === "chunk_size") ?? vhost);
      }
    }
  }

  const cs = cfg.chunkSize();
  if (cs < MIN_CHUNK_SIZE || cs > MAX_CHUNK_SIZE) {
    fail(`chunk_size=${cs} should be in [${MIN_CHUNK_SIZE}, ${MAX_CHUNK_SIZE}]`, find("chunk_size") ?? find("rtmp.chunk_size"));
  }

  if (cfg.asprocess() && cfg.daemon()) fail("daemon conflicts with asprocess", find("asprocess"));
  const w = cfg.workers();
  if (w < 1 || w > MAX_WORKERS) fail(`workers=${cfg.workersValue()} should be auto or in [1, ${MAX_WORKERS}]`, find("workers"));
  if (cfg.maxConnections() <= 0) fail(`max_connections=${cfg.maxConnections()} is invalid`, find("max_connections"));

  const full = find("is_full");
  if (full && full.args[0] === "on") fail(`never use full.conf(${file})`, full);
}
