/**
 * Honest config: directives SRS accepts (so the schema accepts them too) but srs-ts does not implement yet. They are
 * still accepted — an SRS config must load unchanged — but the start log and `srs -t` name each one with file:line
 * and "not implemented in srs-ts", so nobody believes e.g. an edge config is pulling from its origin.
 *
 * The table was built by checking, for every directive of schema.ts, whether any code outside lib/config reads the
 * accessor field it feeds. A directive is reported only when it changes something: a feature block when it is
 * enabled, a setting when its value differs from what srs-ts does anyway (usually SRS's default), and a setting
 * inside an optional block (`hls`, `http_server.https`…) only when that block is enabled. Settings that only tune an
 * unimplemented feature (`hds_fragment` for `hds`) are covered by the feature's line. The same directive in several vhosts is one line.
 *
 * Env overrides (`SRS_VHOST_HDS_ENABLED=on`, `SRS_STATS_NETWORK=1`) are named by their variable instead of
 * file:line; the blocks SRS gives no env overrides (cluster, exec, ingest, transcode, stream_caster) have none.
 */
import type { SrsConfig } from "./config.ts";
import { envValue } from "./env.ts";
import type { Directive } from "./parser.ts";

/** One report line: where it was first seen, and the text to log. */
export interface UnimplementedDirective {
  /** Dotted schema path, e.g. `vhost.hls.hls_storage`. */
  path: string;
  file: string;
  line: number;
  /** The vhosts it was found in (empty for global directives). */
  vhosts: string[];
  /** Set for the edge/cluster case: the config asks for something srs-ts silently does differently. */
  loud: boolean;
  /** The whole line, e.g. `srs.conf:12: vhost.hds (vhost v): HDS output: not implemented in srs-ts, ignored`. */
  text: string;
}

interface Rule {
  /** Dotted path below the root; `vhost.` paths are looked up in every vhost. */
  path: string;
  /** What the directive does in SRS, for the message. */
  what: string;
  /**
   * `block-on`: a block reported when `enabled on`; `block-not-off`: reported unless `enabled off` (SRS's
   * prefer-true blocks); `leaf`: a setting reported when its first argument is not in `ok`.
   */
  kind: "block-on" | "block-not-off" | "leaf";
  /** For `leaf`: the values for which srs-ts already behaves as asked (compared lower-case). */
  ok?: string[];
  /** For `leaf`: only when the enclosing block has `enabled on` (hls, hds, https…). */
  whenParentOn?: boolean;
  /** The edge/origin-cluster rules: said loudly. */
  loud?: boolean;
  /** Only the directives this accepts (e.g. the stream casters of a kind not implemented yet). */
  only?: (d: Directive) => boolean;
}

/** The `stream_caster` kinds srs-ts runs (lib/services/casters/registry.ts). */
const CASTERS_IMPLEMENTED = ["mpegts_over_udp", "flv", "gb28181"];

/** Paths under which SRS reads no env overrides (see env.ts `Scope` with a null prefix). */
const NO_ENV = ["vhost.cluster", "vhost.exec", "vhost.ingest", "vhost.transcode", "stream_caster", "threads"];

/** The env variable SRS reads for `path` (`vhost.hls.hls_storage` → `SRS_VHOST_HLS_HLS_STORAGE`), or undefined. */
function envNameOf(path: string): string | undefined {
  if (NO_ENV.some((p) => path === p || path.startsWith(`${p}.`))) return undefined;
  return `SRS_${path.replace(/\./g, "_").toUpperCase()}`;
}

/** The env override that asks for `rule`, as `NAME=value`, or undefined. */
function envHit(rule: Rule, cfg: SrsConfig, parentOnInFile: boolean): string | undefined {
  const name = envNameOf(rule.path);
  if (name === undefined) return undefined;
  if (rule.kind !== "leaf") {
    const v = envValue(cfg.env, `${name}_ENABLED`)?.toLowerCase();
    const asks = rule.kind === "block-on" ? v === "on" : v !== undefined && v !== "off";
    return asks ? `${name}_ENABLED=${v}` : undefined;
  }
  const v = envValue(cfg.env, name);
  if (v === undefined || (rule.ok ?? []).includes(v.toLowerCase())) return undefined;
  if (rule.whenParentOn) {
    const parent = envNameOf(rule.path.slice(0, rule.path.lastIndexOf(".")));
    const parentOn = parentOnInFile || (parent !== undefined && envValue(cfg.env, `${parent}_ENABLED`) === "on");
    if (!parentOn) return undefined;
  }
  return `${name}=${v}`;
}

/** Whether env turns `rule` off whatever the file says (`SRS_VHOST_HDS_ENABLED=off`, `SRS_VHOST_HLS_HLS_STORAGE=disk`). */
function envCancels(rule: Rule, cfg: SrsConfig): boolean {
  const name = envNameOf(rule.path);
  if (name === undefined) return false;
  if (rule.kind !== "leaf") return envValue(cfg.env, `${name}_ENABLED`)?.toLowerCase() === "off";
  const v = envValue(cfg.env, name);
  return v !== undefined && (rule.ok ?? []).includes(v.toLowerCase());
}

/** Whether the block enclosing `rule`'s setting is `enabled on` somewhere in the file (any vhost). */
function parentOnInFile(rule: Rule, cfg: SrsConfig): boolean {
  const parts = rule.path.split(".").slice(0, -1);
  const scopes = parts[0] === "vhost" ? cfg.root.children.filter((c) => c.name === "vhost") : [cfg.root];
  const rest = parts[0] === "vhost" ? parts.slice(1) : parts;
  return scopes.some((s) => {
    let d: Directive | undefined = s;
    for (const p of rest) d = d?.children.find((c) => c.name === p);
    return d !== undefined && enabledArg(d) === "on";
  });
}

/** The unimplemented directives; see the file comment for how the list was made. */
export const UNIMPLEMENTED: readonly Rule[] = [
  // Global settings.
  { path: "asprocess", kind: "leaf", ok: ["off"], what: "exit when the parent process exits" },
  { path: "empty_ip_ok", kind: "leaf", ok: ["on"], what: "refusing clients with no IP address" },
  { path: "in_docker", kind: "leaf", ok: ["off"], what: "docker detection" },
  { path: "disable_daemon_for_docker", kind: "leaf", ok: ["on"], what: "docker daemon override" },
  { path: "inotify_auto_reload", kind: "leaf", ok: ["off"], what: "reload when the config file changes" },
  { path: "auto_reload_for_docker", kind: "leaf", ok: ["on"], what: "auto reload in docker" },
  { path: "query_latest_version", kind: "leaf", ok: ["off"], what: "querying the latest SRS version" },
  { path: "pithy_print_ms", kind: "leaf", ok: ["10000"], what: "the interval of periodic stats log lines" },
  { path: "tcmalloc_release_rate", kind: "leaf", ok: [], what: "tcmalloc tuning (not applicable)" },
  { path: "rtc_server.ecdsa", kind: "leaf", ok: ["on"], what: "RSA DTLS certificates (ECDSA is used)" },
  { path: "rtc_server.encrypt", kind: "leaf", ok: ["on"], what: "unencrypted RTP (SRTP is always used: browsers refuse media without DTLS-SRTP)" },
  { path: "rtc_server.reuseport", kind: "leaf", ok: ["1"], what: "several UDP sockets per port" },
  { path: "rtc_server.merge_nalus", kind: "leaf", ok: ["off"], what: "merging NALUs into one RTP packet" },
  { path: "rtc_server.resolve_api_domain", kind: "leaf", ok: ["off"], what: "resolving the API domain as a candidate" },
  { path: "rtc_server.keep_api_domain", kind: "leaf", ok: ["off"], what: "the API domain as a candidate" },
  { path: "rtc_server.use_auto_detect_network_ip", kind: "leaf", ok: ["on"], what: "turning off interface IP detection" },
  { path: "rtc_server.black_hole", kind: "block-on", what: "copying RTP to a black hole address" },
  { path: "srt_server.sei_filter", kind: "leaf", ok: ["off"], what: "dropping SEI NALUs from SRT streams (they are kept)" },
  { path: "srt_server.mix_correct", kind: "leaf", ok: ["off"], what: "interleaving SRT audio/video by timestamp" },
  {
    path: "stream_caster",
    kind: "block-on",
    what: "this stream caster (mpegts_over_udp, flv and gb28181 are implemented)",
    only: (d) => !CASTERS_IMPLEMENTED.includes(d.children.find((c) => c.name === "caster")?.args[0] ?? ""),
  },
  { path: "stats.enabled", kind: "leaf", ok: ["on"], what: "turning off the periodic system stats" },
  { path: "stats.network", kind: "leaf", ok: ["0"], what: "choosing the network device of the summaries API" },
  { path: "stats.disk", kind: "leaf", ok: [], what: "disk stats in the summaries API" },
  { path: "threads", kind: "block-not-off", what: "thread stats" },
  { path: "circuit_breaker", kind: "block-not-off", what: "the CPU circuit breaker" },
  { path: "tencentcloud_cls", kind: "block-on", what: "Tencent Cloud CLS logging" },
  { path: "tencentcloud_apm", kind: "block-on", what: "Tencent Cloud APM tracing" },
  { path: "rtmps", kind: "block-on", what: "the RTMPS (RTMP over TLS) server" },
  { path: "rtsp_server", kind: "block-on", what: "the RTSP server" },

  // Vhost settings.
  { path: "vhost.in_ack_size", kind: "leaf", ok: ["0"], what: "the RTMP acknowledgement window of publishers" },
  { path: "vhost.play.mix_correct", kind: "leaf", ok: ["off"], what: "interleaving audio/video by timestamp" },
  { path: "vhost.play.atc", kind: "leaf", ok: ["off"], what: "absolute timestamps (ATC)" },
  { path: "vhost.play.atc_auto", kind: "leaf", ok: ["off"], what: "ATC from metadata" },
  { path: "vhost.play.mw_msgs", kind: "leaf", ok: ["8"], what: "merged-write message count (mw_latency is used)" },
  { path: "vhost.play.send_min_interval", kind: "leaf", ok: ["0"], what: "a minimum interval between sends" },
  { path: "vhost.play.reduce_sequence_header", kind: "leaf", ok: ["off"], what: "dropping repeated sequence headers" },
  { path: "vhost.publish.mr", kind: "leaf", ok: ["off"], what: "merged read" },
  { path: "vhost.publish.parse_sps", kind: "leaf", ok: ["on"], what: "turning off SPS parsing" },
  { path: "vhost.publish.try_annexb_first", kind: "leaf", ok: ["on"], what: "turning off the Annex B first guess" },
  { path: "vhost.publish.kickoff_for_idle", kind: "leaf", ok: ["0"], what: "kicking idle publishers" },
  { path: "vhost.hls.hls_dts_directly", kind: "leaf", ok: ["on"], whenParentOn: true, what: "turning off DTS as is" },
  { path: "vhost.hls.hls_recover", kind: "leaf", ok: ["on"], whenParentOn: true, what: "turning off HLS error recovery" },
  { path: "vhost.hls.hls_storage", kind: "leaf", ok: ["disk"], whenParentOn: true, what: "HLS in RAM" },
  { path: "vhost.http_remux.fast_cache", kind: "leaf", ok: ["0"], whenParentOn: true, what: "the HTTP-FLV audio fast cache" },
  { path: "vhost.http_static", kind: "block-on", what: "per-vhost static file mounts (http_server.dir is served)" },
  { path: "vhost.rtc.nack_no_copy", kind: "leaf", ok: ["on"], whenParentOn: true, what: "copying NACK packets" },
  { path: "vhost.rtc.stun_strict_check", kind: "leaf", ok: ["off"], whenParentOn: true, what: "strict STUN checks" },
  { path: "vhost.rtc.dtls_version", kind: "leaf", ok: ["auto", "dtls1.2"], whenParentOn: true, what: "DTLS 1.0 (werift speaks DTLS 1.2 only, as every current browser does)" },
  { path: "vhost.rtc.drop_for_pt", kind: "leaf", ok: ["0"], whenParentOn: true, what: "dropping RTP by payload type" },
  { path: "vhost.rtsp", kind: "block-on", what: "RTSP output" },
  { path: "vhost.hds", kind: "block-on", what: "HDS output" },
];

function enabledArg(d: Directive): string | undefined {
  return d.children.find((c) => c.name === "enabled")?.args[0]?.toLowerCase();
}

function where(d: Directive): string {
  return d.line > 0 ? `${d.file}:${d.line}` : d.file;
}

interface Hit {
  rule: Rule;
  d: Directive;
  vhost?: string;
  dir?: Directive;
}

/** The directives `rule` finds under `scope` (the root, or a vhost with `path` relative to it). */
function hits(rule: Rule, scope: Directive, path: string[], parentOn: boolean | undefined): Directive[] {
  const [head, ...rest] = path;
  const out: Directive[] = [];
  for (const c of scope.children) {
    if (c.name !== head) continue;
    if (rest.length > 0) {
      out.push(...hits(rule, c, rest, enabledArg(c) === "on"));
      continue;
    }
    const v = (c.args[0] ?? "").toLowerCase();
    const report = rule.kind === "block-on"
      ? enabledArg(c) === "on"
      : rule.kind === "block-not-off"
      ? enabledArg(c) !== "off"
      : !(rule.ok ?? []).includes(v) && (!rule.whenParentOn || parentOn === true);
    if (report && (!rule.only || rule.only(c))) out.push(c);
  }
  return out;
}

function describe(d: Directive, rule: Rule): string {
  return d.args.length > 0 ? `${rule.path} ${d.args.join(" ")}` : rule.path;
}

/** The unimplemented directives `cfg`'s file uses, one entry per rule (vhosts grouped), in table order. */
export function unimplementedDirectives(cfg: SrsConfig): UnimplementedDirective[] {
  const all: Hit[] = [];
  const vhosts = cfg.root.children.filter((c) => c.name === "vhost");
  for (const rule of UNIMPLEMENTED) {
    const parts = rule.path.split(".");
    if (parts[0] === "vhost") {
      for (const v of vhosts) {
        for (const d of hits(rule, v, parts.slice(1), undefined)) all.push({ rule, d, vhost: v.args[0] ?? "", dir: v });
      }
    } else {
      for (const d of hits(rule, cfg.root, parts, undefined)) all.push({ rule, d });
    }
  }
  const out: UnimplementedDirective[] = [];
  const lead = (rule: Rule) => (rule.loud ? "NOT IMPLEMENTED in srs-ts" : "not implemented in srs-ts, ignored");
  for (const rule of UNIMPLEMENTED) {
    const env = envHit(rule, cfg, parentOnInFile(rule, cfg));
    if (env !== undefined) {
      const scope = rule.path.startsWith("vhost.") ? " (every vhost)" : "";
      out.push({
        path: rule.path,
        file: "env",
        line: 0,
        vhosts: [],
        loud: rule.loud === true,
        text: `env ${env}: ${rule.path}${scope}: ${lead(rule)}: ${rule.what}`,
      });
    }
    const mine = env !== undefined || envCancels(rule, cfg) ? [] : all.filter((h) => h.rule === rule);
    const first = mine[0];
    if (!first) continue;
    const names = [...new Set(mine.flatMap((h) => (h.vhost === undefined ? [] : [h.vhost])))];
    const scope = names.length === 0 ? "" : names.length === 1 ? ` (vhost ${names[0]})` : ` (vhosts ${names.join(", ")})`;
    const also = mine.length > 1 ? `; also at ${mine.slice(1).map((h) => where(h.d)).join(", ")}` : "";
    out.push({
      path: rule.path,
      file: first.d.file,
      line: first.d.line,
      vhosts: names,
      loud: rule.loud === true,
      text: `${where(first.d)}: ${describe(first.d, rule)}${scope}: ${lead(rule)}: ${rule.what}${also}`,
    });
  }
  // The loud ones (a config asking for a role this server does not play) first.
  return [...out.filter((u) => u.loud), ...out.filter((u) => !u.loud)];
}
