/**
 * What changed between two loaded configs, for reload (SIGHUP, `/api/v1/raw?rpc=reload`). Pure: it reads both
 * configs through their accessors (so defaults and env overrides count, as the running server sees them) and
 * says, per global section and per vhost section, which fields differ. SRS compares directive trees
 * (srs_app_config.cpp `reload_conf`/`reload_vhost`); comparing resolved values instead means a change that
 * resolves to the same value (e.g. adding `hls_fragment 10;`, the default) is no change at all. Directives no
 * accessor covers are still compared, as raw directives, so every edit of the file shows up somewhere.
 *
 * Each change has a name ("listen", "http_server", "vhost live hls", "vhost x added"): the reload handlers
 * claim changes by these names and the server logs one line per change.
 */
import type { Directive } from "./parser.ts";
import type { SrsConfig, VhostConfig } from "./index.ts";

/** One changed section: its name and the fields that differ ([] when the section is a plain value or a list). */
export interface SectionChange {
  section: string;
  keys: string[];
}

export interface VhostChange {
  vhost: string;
  sections: SectionChange[];
}

export interface ConfigDiff {
  global: SectionChange[];
  /** Vhosts new in the config, or disabled before and enabled now (SRS: "DISABLED => ENABLED"). */
  vhostsAdded: string[];
  /** Vhosts gone from the config, or enabled before and disabled now. */
  vhostsRemoved: string[];
  /** Vhosts enabled in both whose settings differ. */
  vhostsChanged: VhostChange[];
}

/** Global sections by name, with the root directives each one covers. */
const GLOBAL: { name: string; directives: string[]; value: (c: SrsConfig) => unknown }[] = [
  { name: "listen", directives: ["listen", "rtmp"], value: (c) => c.listen() },
  { name: "max_connections", directives: ["max_connections"], value: (c) => c.maxConnections() },
  { name: "chunk_size", directives: ["chunk_size"], value: (c) => c.chunkSize() },
  { name: "srs_log_level", directives: ["srs_log_level", "srs_log_level_v2"], value: (c) => c.logLevel() },
  { name: "srs_log_tank", directives: ["srs_log_tank"], value: (c) => c.logTank() },
  { name: "srs_log_file", directives: ["srs_log_file"], value: (c) => c.logFile() },
  { name: "utc_time", directives: ["utc_time"], value: (c) => c.utcTime() },
  { name: "pid", directives: ["pid"], value: (c) => c.pidFile() },
  { name: "daemon", directives: ["daemon"], value: (c) => c.daemon() },
  { name: "workers", directives: ["workers"], value: (c) => c.workers() },
  { name: "work_dir", directives: ["work_dir"], value: (c) => c.workDir() },
  { name: "server_id", directives: ["server_id"], value: (c) => c.serverId() ?? "" },
  { name: "asprocess", directives: ["asprocess"], value: (c) => c.asprocess() },
  { name: "pithy_print_ms", directives: ["pithy_print_ms"], value: (c) => c.pithyPrintMs() },
  { name: "ff_log_dir", directives: ["ff_log_dir"], value: (c) => c.ffLogDir() },
  { name: "ff_log_level", directives: ["ff_log_level"], value: (c) => c.ffLogLevel() },
  { name: "grace_start_wait", directives: ["grace_start_wait"], value: (c) => c.graceStartWait() },
  { name: "grace_final_wait", directives: ["grace_final_wait"], value: (c) => c.graceFinalWait() },
  { name: "force_grace_quit", directives: ["force_grace_quit"], value: (c) => c.forceGraceQuit() },
  { name: "http_api", directives: ["http_api"], value: (c) => c.httpApi() },
  { name: "http_server", directives: ["http_server"], value: (c) => c.httpServer() },
  { name: "rtc_server", directives: ["rtc_server"], value: (c) => c.rtcServer() },
  { name: "srt_server", directives: ["srt_server"], value: (c) => c.srtServer() },
  { name: "rtsp_server", directives: ["rtsp_server"], value: (c) => c.rtspServer() },
  { name: "exporter", directives: ["exporter"], value: (c) => c.exporter() },
  { name: "heartbeat", directives: ["heartbeat"], value: (c) => c.heartbeat() },
  { name: "stats", directives: ["stats"], value: (c) => c.stats() },
  { name: "circuit_breaker", directives: ["circuit_breaker"], value: (c) => c.circuitBreaker() },
  { name: "threads", directives: ["threads"], value: (c) => c.threadsInterval() },
  { name: "stream_caster", directives: ["stream_caster"], value: (c) => c.streamCasters() },
];

/** Vhost sections by SRS directive name (the name used in change names and log lines). */
const VHOST: { name: string; value: (v: VhostConfig) => unknown }[] = [
  { name: "chunk_size", value: (v) => v.chunkSize },
  { name: "tcp_nodelay", value: (v) => v.tcpNodelay },
  { name: "min_latency", value: (v) => v.minLatency },
  { name: "in_ack_size", value: (v) => v.inAckSize },
  { name: "out_ack_size", value: (v) => v.outAckSize },
  { name: "play", value: (v) => v.play },
  { name: "publish", value: (v) => v.publish },
  { name: "hls", value: (v) => v.hls },
  { name: "http_remux", value: (v) => v.httpRemux },
  { name: "http_static", value: (v) => v.httpStatic },
  { name: "http_hooks", value: (v) => v.httpHooks },
  { name: "dvr", value: (v) => v.dvr },
  { name: "forward", value: (v) => v.forward },
  { name: "security", value: (v) => v.security },
  { name: "refer", value: (v) => v.refer },
  { name: "cluster", value: (v) => v.cluster },
  { name: "rtc", value: (v) => v.rtc },
  { name: "srt", value: (v) => v.srt },
  { name: "dash", value: (v) => v.dash },
  { name: "hds", value: (v) => v.hds },
  { name: "exec", value: (v) => v.exec },
  { name: "ingest", value: (v) => v.ingests },
  { name: "rtsp_pull", value: (v) => v.rtspPulls },
  { name: "rtsp", value: (v) => v.rtsp },
  { name: "transcode", value: (v) => v.transcodes },
];
/** Vhost directives whose values the sections above already cover (the rest are compared raw). */
const VHOST_COVERED = new Set(["enabled", ...VHOST.map((s) => s.name)]);

/** Stable text of a value: objects with sorted keys, so field order never counts as a change. */
function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x && typeof x === "object" && !Array.isArray(x)) {
      const o = x as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return x;
  }) ?? "undefined";
}

/** The fields of `a` and `b` that differ: top-level keys of two objects, else [] (the whole value). */
function changedKeys(a: unknown, b: unknown): string[] | undefined {
  if (canon(a) === canon(b)) return undefined;
  const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === "object" && !Array.isArray(x);
  if (!isObj(a) || !isObj(b)) return [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canon(a[k]) !== canon(b[k])).sort();
}

/** Raw text of the directives named `name` among `children` (for directives no accessor covers). */
function rawOf(children: Directive[], name: string): string {
  return canon(children.filter((c) => c.name === name).map(function strip(d): unknown {
    return [d.args, d.children.map(strip)];
  }));
}

function rawChanges(a: Directive[], b: Directive[], covered: Set<string>): SectionChange[] {
  const names = [...new Set([...a, ...b].map((d) => d.name))].filter((n) => !covered.has(n)).sort();
  return names.filter((n) => rawOf(a, n) !== rawOf(b, n)).map((section) => ({ section, keys: [] }));
}

function enabledVhost(c: SrsConfig, name: string): VhostConfig | undefined {
  const v = c.vhostExact(name);
  return v?.enabled ? v : undefined;
}

const GLOBAL_COVERED = new Set(["vhost", ...GLOBAL.flatMap((g) => g.directives)]);

/** Compares the running config `a` with the new one `b`. */
export function diffConfig(a: SrsConfig, b: SrsConfig): ConfigDiff {
  const global: SectionChange[] = [];
  for (const g of GLOBAL) {
    const keys = changedKeys(g.value(a), g.value(b));
    if (keys) global.push({ section: g.name, keys });
  }
  global.push(...rawChanges(a.root.children, b.root.children, GLOBAL_COVERED));

  const names = [...new Set([...a.vhosts(), ...b.vhosts()])];
  const vhostsAdded: string[] = [];
  const vhostsRemoved: string[] = [];
  const vhostsChanged: VhostChange[] = [];
  for (const name of names) {
    const va = enabledVhost(a, name);
    const vb = enabledVhost(b, name);
    if (!va && vb) vhostsAdded.push(name);
    else if (va && !vb) vhostsRemoved.push(name);
    else if (va && vb) {
      const sections: SectionChange[] = [];
      for (const s of VHOST) {
        const keys = changedKeys(s.value(va), s.value(vb));
        if (keys) sections.push({ section: s.name, keys });
      }
      sections.push(...rawChanges(va.dir.children, vb.dir.children, VHOST_COVERED));
      if (sections.length > 0) vhostsChanged.push({ vhost: name, sections });
    }
  }
  return { global, vhostsAdded, vhostsRemoved, vhostsChanged };
}

/** The change names of a diff, in the order they are applied and logged. */
export function changeNames(d: ConfigDiff): string[] {
  return [
    ...d.global.map((g) => g.section),
    ...d.vhostsAdded.map((v) => `vhost ${v} added`),
    ...d.vhostsRemoved.map((v) => `vhost ${v} removed`),
    ...d.vhostsChanged.flatMap((v) => v.sections.map((s) => `vhost ${v.vhost} ${s.section}`)),
  ];
}

export function isEmptyDiff(d: ConfigDiff): boolean {
  return changeNames(d).length === 0;
}

/** The change of one global section, if it changed. */
export function globalChange(d: ConfigDiff, section: string): SectionChange | undefined {
  return d.global.find((g) => g.section === section);
}

/** Every (vhost, section change) pair of a vhost section name, e.g. all "hls" changes. */
export function vhostChanges(d: ConfigDiff, section: string): { vhost: string; change: SectionChange }[] {
  const out: { vhost: string; change: SectionChange }[] = [];
  for (const v of d.vhostsChanged) {
    for (const s of v.sections) if (s.section === section) out.push({ vhost: v.vhost, change: s });
  }
  return out;
}
