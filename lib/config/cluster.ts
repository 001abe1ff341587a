/** Clustering: the vhost's `cluster` block (edge/origin), the global `heartbeat` and `stream_caster` blocks. */
import type { Directive } from "./parser.ts";
import { expandDollar, type Env, Scope } from "./env.ts";

export interface ClusterConfig {
  mode: "local" | "remote";
  isEdge: boolean;
  origin: string[];
  tokenTraverse: boolean;
  /** The vhost to use upstream (edge transform); "" = same vhost. */
  vhost: string;
  debugSrsUpnode: boolean;
  originCluster: boolean;
  coworkers: string[];
  protocol: "rtmp" | "flv" | "flvs";
  followClient: boolean;
}

export interface HeartbeatConfig {
  enabled: boolean;
  /** Seconds (float), default 9.9. */
  interval: number;
  url: string;
  deviceId: string;
  summaries: boolean;
  ports: boolean;
}

export interface StreamCasterConfig {
  enabled: boolean;
  caster: string;
  output: string;
  listen: string;
  sip: { enabled: boolean; listen: string; timeout: number; reinvite: number; candidate: string };
}

/** The vhost's `cluster` block `s` (no env overrides). */
export function clusterOf(s: Scope): ClusterConfig {
  const mode = s.str("mode", "local") === "remote" ? "remote" : "local";
  const protocol = s.str("protocol", "rtmp");
  return {
    mode,
    isEdge: mode === "remote",
    origin: s.list("origin"),
    tokenTraverse: s.boolOn("token_traverse"),
    vhost: s.str("vhost", ""),
    debugSrsUpnode: s.boolNotOff("debug_srs_upnode"),
    originCluster: s.boolOn("origin_cluster"),
    coworkers: s.list("coworkers"),
    protocol: protocol === "flv" || protocol === "flvs" ? protocol : "rtmp",
    followClient: s.boolOn("follow_client"),
  };
}

/** `heartbeat`, from the global scope `g`. */
export function heartbeatOf(g: Scope): HeartbeatConfig {
  const s = g.child("heartbeat");
  return {
    enabled: s.boolOn("enabled"),
    interval: s.num("interval", 9.9),
    url: s.str("url", "http://127.0.0.1:8085/api/v1/servers"),
    deviceId: s.str("device_id", ""),
    summaries: s.boolOn("summaries"),
    ports: s.boolOn("ports"),
  };
}

/** Every `stream_caster` block under `root` (no env overrides). */
export function streamCastersOf(root: Directive, env: Env): StreamCasterConfig[] {
  return root.children
    .filter((c) => c.name === "stream_caster")
    .map((d) => {
      const s = new Scope(d, null, env);
      const sip = s.child("sip");
      return {
        enabled: s.boolOn("enabled"),
        caster: s.str("caster", ""),
        output: s.str("output", ""),
        listen: s.str("listen", ""),
        sip: {
          enabled: sip.boolNotOff("enabled"),
          listen: sip.str("listen", "5060"),
          timeout: sip.num("timeout", 60),
          reinvite: sip.num("reinvite", 5),
          candidate: expandDollar(sip.str("candidate", "*"), env),
        },
      };
    });
}
