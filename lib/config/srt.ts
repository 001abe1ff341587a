/** SRT: the global `srt_server` and the vhost's `srt` block. */
import { portOf } from "../net/endpoint.ts";
import type { Scope } from "./env.ts";

export interface SrtServerConfig {
  enabled: boolean;
  /** UDP port of the first listen, default 10080 (-1 when that value is not a valid endpoint). */
  listen: number;
  /** Every listen value: ports, `ip:port`, `[ipv6]:port` (SRS takes a port only; srs-ts takes what `listen` takes). */
  listens: string[];
  /** Milliseconds. */
  latency: number;
  recvlatency: number;
  peerlatency: number;
  tsbpdmode: boolean;
  tlpktdrop: boolean;
  /** Milliseconds. */
  connectTimeout: number;
  /** Milliseconds. */
  peerIdleTimeout: number;
  mss: number;
  payloadsize: number;
  /** Bytes/s, -1 = unlimited. */
  maxbw: number;
  sendbuf: number;
  recvbuf: number;
  passphrase: string;
  pbkeylen: number;
  defaultApp: string;
  seiFilter: boolean;
}

export interface SrtVhostConfig {
  enabled: boolean;
  srtToRtmp: boolean;
}

/** `srt_server`, from the global scope `g`. */
export function srtServerOf(g: Scope): SrtServerConfig {
  const s = g.child("srt_server");
  const listens = s.list("listen", ["10080"]);
  return {
    enabled: s.boolOn("enabled"),
    listen: portOf(listens[0] ?? "10080"),
    listens,
    latency: s.int("latency", 120),
    recvlatency: s.int("recvlatency", 120),
    peerlatency: s.int("peerlatency", 0),
    tsbpdmode: s.boolNotOff("tsbpdmode"),
    tlpktdrop: s.boolNotOff("tlpktdrop"),
    connectTimeout: s.int("connect_timeout", 3000),
    peerIdleTimeout: s.int("peer_idle_timeout", 10000),
    mss: s.int("mss", 1500),
    payloadsize: s.int("payloadsize", 1316),
    maxbw: s.int("maxbw", -1),
    sendbuf: s.int("sendbuf", 8192 * (1500 - 28)),
    recvbuf: s.int("recvbuf", 8192 * (1500 - 28)),
    passphrase: s.str("passphrase", ""),
    pbkeylen: s.int("pbkeylen", 0),
    defaultApp: s.str("default_app", "live"),
    seiFilter: s.boolNotOff("sei_filter"),
  };
}

/** The vhost's `srt` block `s`. */
export function srtVhostOf(s: Scope): SrtVhostConfig {
  return { enabled: s.boolOn("enabled"), srtToRtmp: s.boolNotOff("srt_to_rtmp", true, ["SRS_VHOST_SRT_TO_RTMP"]) };
}
