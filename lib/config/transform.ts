/**
 * SRS's legacy config rewrites (`srs_config_transform_vhost`), applied to the parsed tree before it is checked, so
 * configs written for SRS 1–6 keep working. The tree is modified in place. Rewritten/created directives keep the
 * file:line of the directive they came from.
 *
 * Global:
 * - `http_stream {}` → `http_server {}`
 * - `rtc_server { perf_stat; queue_length; }` → removed
 * - `srt_server { tlpkdrop; }` → `tlpktdrop`
 * - `stream_caster { tcp_enable rtp_port_min rtp_port_max wait_keyframe rtp_idle_timeout audio_enable
 *   auto_create_channel; sip { serial realm ack_timeout keepalive_timeout invite_port_fixed query_catalog_interval
 *   auto_play } }` → dropped (old GB28181 options); `stream_caster { host x; }` → `sip { candidate x; }`
 * Per vhost:
 * - `http {}` → `http_static {}`; `http_remux { hstrs; }` → dropped
 * - `refer a b;` / `refer_play a;` / `refer_publish a;` → `refer { enabled on; all a b; play a; publish a; }`
 * - `mr { enabled; latency; }` → `publish { mr; mr_latency; }`
 * - `publish_1stpkt_timeout` / `publish_normal_timeout` → `publish { firstpkt_timeout; normal_timeout; }`
 * - `time_jitter mix_correct atc atc_auto mw_latency gop_cache gop_cache_max_frames queue_length send_min_interval
 *   reduce_sequence_header` → `play { … }`
 * - `forward a b;` → `forward { enabled on; destination a b; }`
 * - `mode origin token_traverse vhost debug_srs_upnode` → `cluster { … }`
 * - `nack { enabled; no_copy; }` / `twcc { enabled; }` → `rtc { nack; nack_no_copy; twcc; }`
 * - `rtc { aac transcode|…; }` → `rtc { rtmp_to_rtc on|off; }`; `rtc { bframe keep|discard; }` → `keep_bframe on|off`
 *
 * Unlike SRS 7 we do not move the global `listen`/`chunk_size` into an `rtmp {}` block: both forms are accepted and
 * the accessors read the top-level directive first (which is also what SRS 7's rewrite makes win).
 */
import { type Directive, getChild, getOrCreate, newDirective } from "./parser.ts";

const GB_UNUSED = new Set(["tcp_enable", "rtp_port_min", "rtp_port_max", "wait_keyframe", "rtp_idle_timeout", "audio_enable", "auto_create_channel"]);
const GB_SIP_UNUSED = new Set(["serial", "realm", "ack_timeout", "keepalive_timeout", "invite_port_fixed", "query_catalog_interval", "auto_play"]);
const PLAY_SHADOW = new Set([
  "time_jitter",
  "mix_correct",
  "atc",
  "atc_auto",
  "mw_latency",
  "gop_cache",
  "gop_cache_max_frames",
  "queue_length",
  "send_min_interval",
  "reduce_sequence_header",
]);
const CLUSTER_SHADOW = new Set(["mode", "origin", "token_traverse", "vhost", "debug_srs_upnode"]);

/** A human-readable note per rewrite made (SRS logs these as warnings). */
export type TransformNote = string;

/** Sets `d` to have exactly one argument `v`. */
function setArg0(d: Directive, v: string): void {
  d.args = [v, ...d.args.slice(1)];
}

export function transformConfig(root: Directive): TransformNote[] {
  const notes: TransformNote[] = [];
  for (const dir of root.children) {
    if (dir.name === "http_stream") {
      dir.name = "http_server";
      notes.push("http_stream => http_server");
      continue;
    }
    if (dir.name === "rtc_server") {
      dir.children = dir.children.filter((c) => c.name !== "perf_stat" && c.name !== "queue_length");
    }
    if (dir.name === "srt_server") {
      for (const c of dir.children) if (c.name === "tlpkdrop") c.name = "tlpktdrop";
    }
    if (dir.name === "stream_caster") {
      dir.children = dir.children.filter((c) => !GB_UNUSED.has(c.name));
      const sip = getChild(dir, "sip");
      if (sip) sip.children = sip.children.filter((c) => !GB_SIP_UNUSED.has(c.name));
      const hosts = dir.children.filter((c) => c.name === "host");
      if (hosts.length > 0) {
        dir.children = dir.children.filter((c) => c.name !== "host");
        const sipBlock = getOrCreate(dir, "sip");
        for (const h of hosts) sipBlock.children.push({ ...h, name: "candidate" });
        notes.push("stream_caster.host => stream_caster.sip.candidate");
      }
    }
    if (dir.name === "vhost") transformVhost(dir, notes);
  }
  return notes;
}

function transformVhost(vhost: Directive, notes: TransformNote[]): void {
  const vname = vhost.args[0] ?? "";
  // Like SRS: walk by index; a rewritten directive is removed first, then its new home is found or created (appended
  // to the vhost, where the walk will visit it later like any other directive).
  let i = 0;
  while (i < vhost.children.length) {
    const conf = vhost.children[i] as Directive;
    const n = conf.name;
    const remove = () => vhost.children.splice(i, 1);
    const home = (name: string): Directive => {
      const existing = getChild(vhost, name);
      if (existing) return existing;
      const d = newDirective(name, [], conf.file, conf.line);
      vhost.children.push(d);
      return d;
    };

    if (n === "http") {
      conf.name = "http_static";
      notes.push(`vhost.http => vhost.http_static of ${vname}`);
    } else if (n === "http_remux") {
      conf.children = conf.children.filter((c) => c.name !== "hstrs");
    } else if ((n === "refer" && conf.children.length === 0) || n === "refer_play" || n === "refer_publish") {
      remove();
      const refer = home("refer");
      if (!getChild(refer, "enabled", "on")) getOrCreate(refer, "enabled", "on");
      const key = n === "refer" ? "all" : n === "refer_play" ? "play" : "publish";
      getOrCreate(refer, key).args = [...conf.args];
      notes.push(`vhost.${n} => vhost.refer.${key} of ${vname}`);
      continue;
    } else if (n === "mr") {
      remove();
      const publish = home("publish");
      const enabled = getChild(conf, "enabled");
      if (enabled) getOrCreate(publish, "mr").args = [...enabled.args];
      const latency = getChild(conf, "latency");
      if (latency) getOrCreate(publish, "mr_latency").args = [...latency.args];
      notes.push(`vhost.mr => vhost.publish.mr of ${vname}`);
      continue;
    } else if (n === "publish_1stpkt_timeout" || n === "publish_normal_timeout") {
      remove();
      const key = n === "publish_1stpkt_timeout" ? "firstpkt_timeout" : "normal_timeout";
      getOrCreate(home("publish"), key).args = [...conf.args];
      notes.push(`vhost.${n} => vhost.publish.${key} of ${vname}`);
      continue;
    } else if (PLAY_SHADOW.has(n)) {
      remove();
      getOrCreate(home("play"), n).args = [...conf.args];
      notes.push(`vhost.${n} => vhost.play.${n} of ${vname}`);
      continue;
    } else if (n === "forward" && conf.children.length === 0 && conf.args.length > 0) {
      setArg0(getOrCreate(conf, "enabled"), "on");
      getOrCreate(conf, "destination").args = [...conf.args];
      conf.args = [];
      notes.push(`vhost.forward => vhost.forward.destination of ${vname}`);
    } else if (CLUSTER_SHADOW.has(n)) {
      remove();
      getOrCreate(home("cluster"), n).args = [...conf.args];
      notes.push(`vhost.${n} => vhost.cluster.${n} of ${vname}`);
      continue;
    } else if (n === "nack" || n === "twcc") {
      remove();
      const rtc = home("rtc");
      const enabled = getChild(conf, "enabled");
      if (enabled) getOrCreate(rtc, n).args = [...enabled.args];
      const noCopy = n === "nack" ? getChild(conf, "no_copy") : undefined;
      if (noCopy) getOrCreate(rtc, "nack_no_copy").args = [...noCopy.args];
      notes.push(`vhost.${n} => vhost.rtc.${n} of ${vname}`);
      continue;
    } else if (n === "rtc") {
      const aac = getChild(conf, "aac");
      if (aac) {
        const v = aac.args[0] === "transcode" ? "on" : "off";
        conf.children = conf.children.filter((c) => c !== aac);
        setArg0(getOrCreate(conf, "rtmp_to_rtc"), v);
        notes.push(`vhost.rtc.aac => vhost.rtc.rtmp_to_rtc ${v} of ${vname}`);
      }
      const bframe = getChild(conf, "bframe");
      if (bframe) {
        const v = bframe.args[0] === "keep" ? "on" : "off";
        conf.children = conf.children.filter((c) => c !== bframe);
        setArg0(getOrCreate(conf, "keep_bframe"), v);
        notes.push(`vhost.rtc.bframe => vhost.rtc.keep_bframe ${v} of ${vname}`);
      }
    }
    i++;
  }
}
