/**
 * Honest config: directives SRS accepts but srs-ts does not implement are still accepted, and named with file:line
 * and "not implemented in srs-ts" (unimplemented.ts), one line per directive with repeated vhost ones grouped.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG_TEXT, loadConfig, UNIMPLEMENTED, unimplementedDirectives } from "../../../lib/config/index.ts";
import { ROOT_SPEC, type Spec } from "../../../lib/config/schema.ts";
import { tempDir } from "../../helpers/temp.ts";

const REPO = join(import.meta.dir, "../../..");

function lines(text: string, env: Record<string, string> = {}): string[] {
  return unimplementedDirectives(loadConfig({ text, file: "t.conf", env })).map((u) => u.text);
}

function specOf(path: string): Spec | undefined {
  let spec: Spec | undefined = ROOT_SPEC;
  for (const p of path.split(".")) {
    if (spec === undefined || typeof spec === "string") return undefined;
    spec = Object.hasOwn(spec.children, p) ? spec.children[p] : undefined;
  }
  return spec;
}

describe("unimplemented directives", () => {
  test("every rule names a directive the schema accepts, blocks as blocks and settings as settings", () => {
    for (const r of UNIMPLEMENTED) {
      const spec = specOf(r.path);
      expect({ path: r.path, known: spec !== undefined }).toEqual({ path: r.path, known: true });
      const isBlock = typeof spec === "object";
      expect({ path: r.path, isBlock }).toEqual({ path: r.path, isBlock: r.kind !== "leaf" });
    }
  });

  test("the shipped configs use none", () => {
    expect(lines(DEFAULT_CONFIG_TEXT)).toEqual([]);
    expect(lines(readFileSync(join(REPO, "conf/srs.conf"), "utf8"))).toEqual([]);
  });

  test("a feature block is named with file:line when enabled, not when disabled", () => {
    const on = lines("listen 1935;\nvhost v {\n  hds {\n    enabled on;\n  }\n}\n");
    expect(on).toEqual(["t.conf:3: vhost.hds (vhost v): not implemented in srs-ts, ignored: HDS output"]);
    expect(lines("listen 1935;\nvhost v {\n  hds { enabled off; }\n  ingest x { enabled off; }\n}\n")).toEqual([]);
    const hds = lines("listen 1935;\nvhost v {\n  hds { enabled on; }\n}\n");
    expect(hds).toHaveLength(1);
    expect(hds[0]).toStartWith("t.conf:3: vhost.hds (vhost v): not implemented in srs-ts");
    // ingest, transcode and exec are implemented (lib/services/ffmpeg): not named.
    expect(lines("listen 1935;\nvhost v {\n  ingest cam1 { enabled on; input { type stream; url rtsp://x; } }\n}\n")).toEqual([]);
  });

  test("a setting is named when its value changes something, and only inside an enabled block", () => {
    expect(lines("listen 1935;\nvhost v { hls { enabled on;\n hls_storage ram; } }\n")).toEqual([
      "t.conf:3: vhost.hls.hls_storage ram (vhost v): not implemented in srs-ts, ignored: HLS in RAM",
    ]);
    expect(lines("listen 1935;\nvhost v { hls { enabled off; hls_storage ram; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { hls { enabled on; hls_storage disk; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { rtc { enabled on; dtls_role passive; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nvhost v { rtc { enabled on; dtls_version dtls1.0; } }\n")[0]).toContain("vhost.rtc.dtls_version dtls1.0");
    expect(lines("listen 1935;\nvhost v { play { atc on; } }\n")[0]).toContain("vhost.play.atc on");
    // mpegts_over_udp, flv and gb28181 (with or without its SIP server) are implemented (lib/services/casters).
    expect(lines("listen 1935;\nstream_caster { enabled on; caster flv; }\n")).toEqual([]);
    expect(lines("listen 1935;\nstream_caster { enabled on; caster mpegts_over_udp; }\n")).toEqual([]);
    expect(lines("listen 1935;\nstream_caster { enabled on; caster gb28181; }\n")).toEqual([]);
    expect(lines("listen 1935;\nstream_caster { enabled on; caster gb28181; sip { enabled on; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nstream_caster { enabled on; caster gb28181; sip { enabled off; } }\n")).toEqual([]);
    expect(lines("listen 1935;\nstream_caster { enabled on; caster rtsp; }\n")[0]).toStartWith("t.conf:2: stream_caster:");
    expect(lines("listen 1935;\nstream_caster { enabled off; caster gb28181; }\n")).toEqual([]);
    // heartbeat is implemented (lib/services/cluster/heartbeat.ts): not named.
    expect(lines("listen 1935;\nheartbeat { enabled on; url http://x/; }\n")).toEqual([]);
  });

  test("the same directive in several vhosts is one line naming every vhost and place", () => {
    const text = "listen 1935;\n" +
      "vhost a { hds { enabled on; } }\n" +
      "vhost b { hds { enabled on; } }\n" +
      "vhost c { hds { enabled on; } }\n";
    expect(lines(text)).toEqual([
      "t.conf:2: vhost.hds (vhosts a, b, c): not implemented in srs-ts, ignored: HDS output; also at t.conf:3, t.conf:4",
    ]);
  });

  test("an edge (cluster mode remote) is implemented: no line for it, nor for the origin cluster", () => {
    const out = lines("listen 1935;\nvhost v {\n  hds { enabled on; }\n  cluster {\n    mode remote;\n    origin 10.0.0.1:1935 10.0.0.2;\n    token_traverse on;\n    protocol flv;\n  }\n}\n");
    expect(out).toHaveLength(1);
    expect(out[0]).toContain("vhost.hds");
    expect(lines("listen 1935;\nvhost v { cluster { mode local; } }\n")).toEqual([]);
    // The origin cluster is implemented (lib/services/cluster/origin-cluster.ts): no line.
    expect(lines("listen 1935;\nvhost v { cluster { mode local; origin_cluster on; coworkers 127.0.0.1:9091; } }\n")).toEqual([]);
  });

  test("an included file is named by its own path and line", () => {
    const dir = tempDir("srs-unimpl-");
    writeFileSync(join(dir, "v.conf"), "vhost v {\n  hds { enabled on; }\n}\n");
    writeFileSync(join(dir, "main.conf"), "listen 1935;\ninclude v.conf;\n");
    const cfg = loadConfig({ file: join(dir, "main.conf"), cwd: dir, env: {} });
    const u = unimplementedDirectives(cfg);
    expect(u.map((x) => `${x.file}:${x.line}`)).toEqual([`${join(dir, "v.conf")}:2`]);
  });

  test("env overrides are named by their variable; env turning a feature off silences the file's line", () => {
    const base = "listen 1935;\nvhost v { hls { enabled on; } }\n";
    expect(lines(base, { SRS_VHOST_HLS_HLS_STORAGE: "ram" })).toEqual([
      "env SRS_VHOST_HLS_HLS_STORAGE=ram: vhost.hls.hls_storage (every vhost): not implemented in srs-ts, ignored: HLS in RAM",
    ]);
    expect(lines("listen 1935;\nvhost v {}\n", { SRS_VHOST_HLS_HLS_STORAGE: "ram" })).toEqual([]); // hls is off
    expect(lines(base, { SRS_VHOST_HDS_ENABLED: "on", SRS_STATS_NETWORK: "1" }).map((l) => l.split(":")[0])).toEqual([
      "env SRS_STATS_NETWORK=1",
      "env SRS_VHOST_HDS_ENABLED=on",
    ]);
    expect(lines("listen 1935;\nvhost v { hds { enabled on; } }\n", { SRS_VHOST_HDS_ENABLED: "off" })).toEqual([]);
    // SRS has no env for cluster: only the file counts.
    expect(lines("listen 1935;\nvhost v {}\n", { SRS_VHOST_CLUSTER_MODE: "remote" })).toEqual([]);
  });
});

/**
 * Every directive the schema accepts is classified, so a directive added to the schema without code reading it
 * cannot slip by silently: READ (code outside lib/config reads its accessor field; checked by hand when the list
 * was made), COVERED (only tunes an unimplemented feature named by its own line), LEGACY (SRS ignores or rewrites
 * it too), or in UNIMPLEMENTED (itself or a block above it).
 */
const READ = `
    heartbeat.enabled heartbeat.interval heartbeat.url heartbeat.device_id heartbeat.summaries heartbeat.ports
    listen chunk_size pid srs_log_tank srs_log_level srs_log_level_v2 srs_log_file daemon workers utc_time work_dir
    server_id force_grace_quit max_connections grace_start_wait grace_final_wait http_api.enabled
    http_api.crossdomain http_api.listen http_api.raw_api.enabled http_api.raw_api.allow_reload
    http_api.auth.enabled http_api.auth.username http_api.auth.password http_api.https.enabled http_api.https.key
    http_api.https.cert http_api.https.listen http_server.enabled http_server.dir http_server.crossdomain
    http_server.listen http_server.https.enabled http_server.https.listen http_server.https.key http_server.https.cert
    rtc_server.enabled rtc_server.candidate rtc_server.ip_family rtc_server.api_as_candidates
    rtc_server.listen rtc_server.protocol rtc_server.tcp.enabled rtc_server.tcp.listen srt_server.enabled srt_server.default_app srt_server.tlpktdrop srt_server.tsbpdmode
    srt_server.passphrase srt_server.listen srt_server.maxbw srt_server.mss srt_server.latency
    srt_server.recvlatency srt_server.peerlatency srt_server.connect_timeout srt_server.peer_idle_timeout
    srt_server.sendbuf srt_server.recvbuf srt_server.payloadsize srt_server.pbkeylen exporter.enabled exporter.label
    exporter.tag exporter.listen rtmp.listen rtmp.chunk_size vhost.enabled vhost.min_latency vhost.tcp_nodelay
    vhost.chunk_size vhost.out_ack_size vhost.dvr.enabled vhost.dvr.dvr_apply vhost.dvr.dvr_path vhost.dvr.dvr_plan
    vhost.dvr.dvr_wait_keyframe vhost.dvr.time_jitter vhost.dvr.dvr_duration vhost.hls.enabled
    vhost.hls.hls_entry_prefix vhost.hls.hls_path vhost.hls.hls_on_error vhost.hls.hls_acodec vhost.hls.hls_vcodec
    vhost.hls.hls_m3u8_file vhost.hls.hls_ts_file vhost.hls.hls_ts_floor vhost.hls.hls_cleanup
    vhost.hls.hls_wait_keyframe vhost.hls.hls_ctx vhost.hls.hls_ts_ctx vhost.hls.hls_use_fmp4
    vhost.hls.hls_fmp4_file vhost.hls.hls_init_file vhost.hls.hls_ll vhost.hls.hls_fragment vhost.hls.hls_window
    vhost.hls.hls_td_ratio vhost.hls.hls_aof_ratio vhost.hls.hls_dispose vhost.hls.hls_ll_part
    vhost.hls.hls_nb_notify vhost.http_hooks.enabled vhost.http_hooks.on_connect vhost.http_hooks.on_close
    vhost.http_hooks.on_publish vhost.http_hooks.on_unpublish vhost.http_hooks.on_play vhost.http_hooks.on_stop
    vhost.http_hooks.on_dvr vhost.http_hooks.on_hls vhost.http_hooks.on_hls_notify vhost.refer.enabled
    vhost.refer.all vhost.refer.publish vhost.refer.play vhost.forward.enabled vhost.forward.destination
    vhost.forward.backend vhost.play.time_jitter vhost.play.gop_cache vhost.play.mw_latency vhost.play.queue_length
    vhost.play.gop_cache_max_frames vhost.publish.firstpkt_timeout vhost.publish.normal_timeout
    vhost.security.enabled vhost.security.allow vhost.security.deny vhost.http_remux.enabled vhost.http_remux.mount
    vhost.http_remux.drop_if_not_match vhost.http_remux.has_audio vhost.http_remux.has_video
    vhost.http_remux.guess_has_av vhost.rtc.enabled vhost.rtc.nack vhost.rtc.twcc vhost.rtc.rtc_to_rtmp
    vhost.rtc.rtmp_to_rtc vhost.rtc.keep_bframe vhost.rtc.keep_avc_nalu_sei vhost.rtc.stun_timeout
    vhost.rtc.pli_for_rtmp vhost.rtc.opus_bitrate vhost.rtc.aac_bitrate vhost.rtc.dtls_role vhost.srt.enabled vhost.srt.srt_to_rtmp
    vhost.cluster.mode vhost.cluster.origin vhost.cluster.token_traverse vhost.cluster.vhost vhost.cluster.debug_srs_upnode
    vhost.cluster.protocol vhost.cluster.follow_client vhost.cluster.origin_cluster vhost.cluster.coworkers
    ff_log_dir ff_log_level vhost.ingest.enabled vhost.ingest.ffmpeg vhost.ingest.input.type vhost.ingest.input.url
    vhost.ingest.engine.enabled vhost.ingest.engine.vcodec vhost.ingest.engine.vprofile vhost.ingest.engine.vpreset
    vhost.ingest.engine.acodec vhost.ingest.engine.output vhost.ingest.engine.iformat vhost.ingest.engine.oformat
    vhost.ingest.engine.vbitrate vhost.ingest.engine.vfps vhost.ingest.engine.vwidth vhost.ingest.engine.vheight
    vhost.ingest.engine.vthreads vhost.ingest.engine.abitrate vhost.ingest.engine.asample_rate
    vhost.ingest.engine.achannels vhost.ingest.engine.vfilter vhost.ingest.engine.vparams
    vhost.ingest.engine.aparams vhost.ingest.engine.perfile vhost.transcode.enabled vhost.transcode.ffmpeg
    vhost.transcode.engine.enabled vhost.transcode.engine.vcodec vhost.transcode.engine.vprofile
    vhost.transcode.engine.vpreset vhost.transcode.engine.acodec vhost.transcode.engine.output
    vhost.transcode.engine.iformat vhost.transcode.engine.oformat vhost.transcode.engine.vbitrate
    vhost.transcode.engine.vfps vhost.transcode.engine.vwidth vhost.transcode.engine.vheight
    vhost.transcode.engine.vthreads vhost.transcode.engine.abitrate vhost.transcode.engine.asample_rate
    vhost.transcode.engine.achannels vhost.transcode.engine.vfilter vhost.transcode.engine.vparams
    vhost.transcode.engine.aparams vhost.transcode.engine.perfile vhost.exec.enabled vhost.exec.publish
    vhost.hls.hls_keys vhost.hls.hls_key_file vhost.hls.hls_key_file_path vhost.hls.hls_key_url
    vhost.hls.hls_fragments_per_key vhost.dash.enabled vhost.dash.dash_fragment vhost.dash.dash_update_period
    vhost.dash.dash_timeshift vhost.dash.dash_path vhost.dash.dash_mpd_file vhost.dash.dash_window_size
    vhost.dash.dash_cleanup vhost.dash.dash_dispose
`.split(/\s+/).filter(Boolean);
const COVERED = `
    first_wait_for_qlv vhost.hls.hls_mount vhost.publish.mr_latency
`.split(/\s+/).filter(Boolean);
const LEGACY = `
    is_full http_api.raw_api.allow_query http_api.raw_api.allow_update rtc_server.dir vhost.bandcheck
    vhost.rtc.bframe vhost.rtc.aac
`.split(/\s+/).filter(Boolean);

function schemaPaths(spec: Spec = ROOT_SPEC, path = ""): string[] {
  if (typeof spec === "string" || spec.open) return [path];
  return Object.entries(spec.children).flatMap(([k, v]) => schemaPaths(v, path ? `${path}.${k}` : k));
}

describe("every accepted directive is read or named", () => {
  test("each schema directive is in exactly one class", () => {
    const unimplemented = UNIMPLEMENTED.map((r) => r.path);
    for (const p of schemaPaths()) {
      const classes = [
        READ.includes(p) && "READ",
        COVERED.includes(p) && "COVERED",
        LEGACY.includes(p) && "LEGACY",
        unimplemented.some((u) => p === u || p.startsWith(`${u}.`)) && "UNIMPLEMENTED",
      ].filter(Boolean);
      // A new directive: make code read it (READ) or add it to UNIMPLEMENTED in lib/config/unimplemented.ts.
      expect({ directive: p, classes }).toEqual({ directive: p, classes: [expect.any(String)] });
    }
  });

  test("the lists name no directive the schema does not accept", () => {
    const all = new Set(schemaPaths());
    for (const p of [...READ, ...COVERED, ...LEGACY]) expect({ p, known: all.has(p) }).toEqual({ p, known: true });
  });
});
