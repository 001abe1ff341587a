/**
 * The allowed directive tree, as SRS 7's `check_normal_config` accepts it (plus the value types we check).
 *
 * A block spec lists its children; anything not listed is an "illegal directive". `open` blocks accept any child
 * (FFmpeg parameter blocks such as `vparams { … }`, whose children are passed through to FFmpeg).
 * Leaf kinds:
 * - `str`: anything (also booleans: SRS's getters accept any word, only `on`/`off` matter);
 * - `int`: every argument must be an integer (`-12`, `30`);
 * - `num`: every argument must be a decimal number (`1.0`, `9.3`, `30`);
 * - `listen`: every argument must be a TCP/UDP endpoint: `port`, `ip:port`, `host:port` or `[ipv6]:port`.
 * A leaf given a `{ … }` block is an error too. Blocks ignore their own arguments (names like `vhost x`).
 */
export type LeafKind = "str" | "int" | "num" | "listen";

export interface BlockSpec {
  kind: "block";
  children: Record<string, Spec>;
  /** Accept any children (unchecked). */
  open?: boolean;
}

export type Spec = LeafKind | BlockSpec;

function block(children: Record<string, Spec>): BlockSpec {
  return { kind: "block", children };
}
const OPEN: BlockSpec = { kind: "block", children: {}, open: true };

function leaves(kind: LeafKind, names: string): Record<string, Spec> {
  const out: Record<string, Spec> = {};
  for (const n of names.split(/\s+/).filter(Boolean)) out[n] = kind;
  return out;
}

const HTTPS = block({ ...leaves("str", "enabled key cert"), listen: "listen" });

/** FFmpeg engine of `transcode` and `ingest`. */
const ENGINE = block({
  ...leaves("str", "enabled vcodec vprofile vpreset acodec output iformat oformat"),
  ...leaves("num", "vbitrate vfps vwidth vheight vthreads abitrate asample_rate achannels"),
  vfilter: OPEN,
  vparams: OPEN,
  aparams: OPEN,
  perfile: OPEN,
});

const VHOST = block({
  ...leaves("str", "enabled min_latency tcp_nodelay"),
  ...leaves("int", "chunk_size in_ack_size out_ack_size"),
  dvr: block({
    ...leaves("str", "enabled dvr_apply dvr_path dvr_plan dvr_wait_keyframe time_jitter"),
    dvr_duration: "num",
  }),
  rtsp_pull: block(leaves("str", "enabled url stream transport")),
  ingest: block({
    ...leaves("str", "enabled ffmpeg"),
    input: block(leaves("str", "type url")),
    engine: ENGINE,
  }),
  hls: block({
    ...leaves(
      "str",
      "enabled hls_entry_prefix hls_path hls_on_error hls_storage hls_mount hls_acodec hls_vcodec hls_m3u8_file " +
        "hls_ts_file hls_ts_floor hls_cleanup hls_wait_keyframe hls_keys hls_key_file hls_key_file_path hls_key_url " +
        "hls_dts_directly hls_ctx hls_ts_ctx hls_use_fmp4 hls_fmp4_file hls_init_file hls_recover hls_ll",
    ),
    ...leaves("num", "hls_fragment hls_window hls_td_ratio hls_aof_ratio hls_dispose hls_ll_part"),
    ...leaves("int", "hls_nb_notify hls_fragments_per_key"),
  }),
  http_hooks: block(leaves("str", "enabled on_connect on_close on_publish on_unpublish on_play on_stop on_dvr on_hls on_hls_notify")),
  refer: block(leaves("str", "enabled all publish play")),
  forward: block(leaves("str", "enabled destination backend")),
  transcode: block({ ...leaves("str", "enabled ffmpeg"), engine: ENGINE }),
  // Deprecated (bandwidth test), accepted unchecked as SRS does.
  bandcheck: OPEN,
  play: block({
    ...leaves("str", "time_jitter mix_correct atc atc_auto gop_cache reduce_sequence_header"),
    ...leaves("num", "mw_latency queue_length send_min_interval"),
    ...leaves("int", "mw_msgs gop_cache_max_frames"),
  }),
  publish: block({
    ...leaves("str", "mr parse_sps try_annexb_first"),
    ...leaves("num", "mr_latency firstpkt_timeout normal_timeout kickoff_for_idle"),
  }),
  cluster: block(leaves("str", "mode origin token_traverse vhost debug_srs_upnode origin_cluster coworkers protocol follow_client")),
  security: block(leaves("str", "enabled allow deny")),
  http_remux: block({ ...leaves("str", "enabled mount drop_if_not_match has_audio has_video guess_has_av"), fast_cache: "num" }),
  dash: block({
    ...leaves("str", "enabled dash_path dash_mpd_file dash_cleanup"),
    ...leaves("num", "dash_fragment dash_update_period dash_timeshift dash_dispose"),
    dash_window_size: "int",
  }),
  http_static: block(leaves("str", "enabled mount dir")),
  hds: block({ ...leaves("str", "enabled hds_path"), ...leaves("num", "hds_fragment hds_window") }),
  exec: block(leaves("str", "enabled publish")),
  rtc: block({
    ...leaves(
      "str",
      "enabled nack twcc nack_no_copy bframe aac stun_strict_check dtls_role dtls_version rtc_to_rtmp rtmp_to_rtc " +
        "keep_bframe keep_avc_nalu_sei",
    ),
    ...leaves("num", "stun_timeout pli_for_rtmp"),
    ...leaves("int", "drop_for_pt opus_bitrate aac_bitrate"),
  }),
  srt: block(leaves("str", "enabled srt_to_rtmp")),
  rtsp: block(leaves("str", "enabled rtmp_to_rtsp")),
});

export const ROOT_SPEC: BlockSpec = block({
  listen: "listen",
  chunk_size: "int",
  ...leaves(
    "str",
    "pid ff_log_dir ff_log_level srs_log_tank srs_log_level srs_log_level_v2 srs_log_file daemon utc_time work_dir " +
      "asprocess server_id force_grace_quit empty_ip_ok disable_daemon_for_docker inotify_auto_reload " +
      "auto_reload_for_docker in_docker query_latest_version is_full workers",
  ),
  ...leaves("int", "max_connections pithy_print_ms grace_start_wait grace_final_wait first_wait_for_qlv"),
  tcmalloc_release_rate: "num",
  http_api: block({
    ...leaves("str", "enabled crossdomain"),
    listen: "listen",
    raw_api: block(leaves("str", "enabled allow_reload allow_query allow_update")),
    auth: block(leaves("str", "enabled username password")),
    https: HTTPS,
  }),
  http_server: block({ ...leaves("str", "enabled dir crossdomain"), listen: "listen", https: HTTPS }),
  rtc_server: block({
    ...leaves(
      "str",
      "enabled dir candidate ecdsa encrypt merge_nalus protocol ip_family api_as_candidates resolve_api_domain " +
        "keep_api_domain use_auto_detect_network_ip",
    ),
    listen: "listen",
    reuseport: "int",
    tcp: block({ enabled: "str", listen: "listen" }),
    black_hole: block(leaves("str", "enabled addr")),
  }),
  srt_server: block({
    ...leaves("str", "enabled default_app sei_filter mix_correct tlpktdrop tsbpdmode passphrase"),
    listen: "listen",
    ...leaves("int", "maxbw mss latency recvlatency peerlatency connect_timeout peer_idle_timeout sendbuf recvbuf payloadsize pbkeylen"),
  }),
  stream_caster: block({
    ...leaves("str", "enabled caster output"),
    listen: "listen",
    sip: block({ ...leaves("str", "enabled candidate"), listen: "listen", ...leaves("num", "timeout reinvite") }),
  }),
  heartbeat: block({ ...leaves("str", "enabled url device_id summaries ports"), interval: "num" }),
  stats: block({ ...leaves("str", "enabled disk"), network: "int" }),
  exporter: block({ ...leaves("str", "enabled label tag"), listen: "listen" }),
  threads: block({ interval: "num" }),
  circuit_breaker: block({
    enabled: "str",
    ...leaves("int", "high_threshold high_pulse critical_threshold critical_pulse dying_threshold dying_pulse"),
  }),
  tencentcloud_cls: block({
    ...leaves("str", "enabled label tag secret_id secret_key endpoint topic_id debug_logging stat_heartbeat stat_streams"),
    ...leaves("num", "heartbeat_ratio streams_ratio"),
  }),
  tencentcloud_apm: block(leaves("str", "enabled team token endpoint service_name debug_logging")),
  // SRS 7 forms: `rtmp { listen; chunk_size; }`, `rtmps { … }`, `rtsp_server { … }`.
  rtmp: block({ listen: "listen", chunk_size: "int" }),
  rtmps: block({ ...leaves("str", "enabled key cert"), listen: "listen" }),
  rtsp_server: block({ enabled: "str", listen: "listen", auth: block(leaves("str", "enabled username password")) }),
  vhost: VHOST,
});

/** The spec at a dotted path such as `vhost.hls` (undefined if not a known block). */
export function specAt(path: string): BlockSpec | undefined {
  let spec: Spec = ROOT_SPEC;
  for (const part of path.split(".").filter(Boolean)) {
    if (typeof spec === "string") return undefined;
    const next: Spec | undefined = spec.children[part];
    if (!next) return undefined;
    spec = next;
  }
  return typeof spec === "string" ? undefined : spec;
}

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function isInt(s: string): boolean {
  return INT_RE.test(s);
}

export function isNumber(s: string): boolean {
  return NUM_RE.test(s);
}

/** A listen endpoint: `port`, `ip:port`, `host:port` or `[ipv6]:port`, port in 0..65535. */
export function isValidEndpoint(s: string): boolean {
  let port: string;
  if (/^\d+$/.test(s)) port = s;
  else if (s.startsWith("[")) {
    const m = /^\[([0-9a-fA-F:.%\w]*)\]:(\d+)$/.exec(s);
    if (!m || !(m[1] ?? "").includes(":")) return false;
    port = m[2] as string;
  } else {
    const i = s.lastIndexOf(":");
    if (i <= 0) return false;
    const host = s.slice(0, i);
    port = s.slice(i + 1);
    if (host.includes(":") || !/^[\w.-]+$/.test(host)) return false;
  }
  if (!/^\d{1,5}$/.test(port)) return false;
  return Number(port) <= 65535;
}
