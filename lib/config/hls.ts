/** The vhost's `hls` block. */
import type { Scope } from "./env.ts";

export interface HlsConfig {
  enabled: boolean;
  entryPrefix: string;
  path: string;
  /** Seconds. */
  fragment: number;
  /** Seconds. */
  window: number;
  tdRatio: number;
  aofRatio: number;
  onError: "ignore" | "disconnect" | "continue";
  acodec: string;
  vcodec: string;
  m3u8File: string;
  tsFile: string;
  tsFloor: boolean;
  cleanup: boolean;
  nbNotify: number;
  waitKeyframe: boolean;
  /** Seconds. */
  dispose: number;
  keys: boolean;
  fragmentsPerKey: number;
  keyFile: string;
  keyFilePath: string;
  keyUrl: string;
  dtsDirectly: boolean;
  ctx: boolean;
  tsCtx: boolean;
  /** hls_use_fmp4 (SRS 6): fMP4 segments (hls_fmp4_file) with an init segment (hls_init_file). */
  useFmp4: boolean;
  fmp4File: string;
  initFile: string;
  recover: boolean;
  /** hls_ll (ours, not SRS): Low-Latency HLS, partial segments and blocking reload; implies fMP4. */
  ll: boolean;
  /** hls_ll_part (ours): LL-HLS part target, seconds (default 0.5). */
  llPart: number;
}

/** The vhost's `hls` block `s`. */
export function hlsOf(s: Scope): HlsConfig {
  const onError = s.str("hls_on_error", "continue");
  const path = s.str("hls_path", "./objs/nginx/html");
  return {
    enabled: s.boolOn("enabled"),
    entryPrefix: s.str("hls_entry_prefix", ""),
    path,
    fragment: s.num("hls_fragment", 10),
    window: s.num("hls_window", 60),
    tdRatio: s.num("hls_td_ratio", 1.0),
    aofRatio: s.num("hls_aof_ratio", 2.1),
    onError: onError === "ignore" || onError === "disconnect" ? onError : "continue",
    acodec: s.str("hls_acodec", "aac"),
    vcodec: s.str("hls_vcodec", "h264"),
    m3u8File: s.str("hls_m3u8_file", "[app]/[stream].m3u8"),
    tsFile: s.str("hls_ts_file", "[app]/[stream]-[seq].ts"),
    tsFloor: s.boolOn("hls_ts_floor"),
    cleanup: s.boolNotOff("hls_cleanup"),
    nbNotify: s.int("hls_nb_notify", 64),
    waitKeyframe: s.boolNotOff("hls_wait_keyframe"),
    dispose: s.num("hls_dispose", 120),
    keys: s.boolOn("hls_keys"),
    fragmentsPerKey: s.int("hls_fragments_per_key", 5),
    keyFile: s.str("hls_key_file", "[app]/[stream]-[seq].key"),
    keyFilePath: s.str("hls_key_file_path", path),
    keyUrl: s.str("hls_key_url", ""),
    dtsDirectly: s.boolNotOff("hls_dts_directly"),
    ctx: s.boolNotOff("hls_ctx"),
    tsCtx: s.boolNotOff("hls_ts_ctx"),
    useFmp4: s.boolOn("hls_use_fmp4"),
    fmp4File: s.str("hls_fmp4_file", "[app]/[stream]-[seq].m4s"),
    initFile: s.str("hls_init_file", "[app]/[stream]/init.mp4"),
    recover: s.boolNotOff("hls_recover"),
    ll: s.boolOn("hls_ll"),
    llPart: Math.min(5, Math.max(0.1, s.num("hls_ll_part", 0.5))),
  };
}
