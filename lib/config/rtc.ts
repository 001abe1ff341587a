/** WebRTC: the global `rtc_server` and the vhost's `rtc` block. */
import { portOf } from "../net/endpoint.ts";
import { expandDollar, type Scope } from "./env.ts";

export interface RtcServerConfig {
  enabled: boolean;
  /** UDP port of the first listen, default 8000 (-1 when that value is not a valid endpoint). */
  listen: number;
  /** Every listen value: ports, `ip:port`, `[ipv6]:port` (SRS takes a port only; srs-ts takes what `listen` takes). */
  listens: string[];
  /** Candidate IP/host, `$VAR` expanded (unset var → `*`), default `*`. */
  candidate: string;
  /**
   * The candidates advertised: `udp` (default), `tcp` (passive TCP candidates only, RFC 6544), `all` (both, TCP at
   * a lower priority). `tcp`/`all` need `tcp { enabled on; }`; without it UDP candidates are advertised.
   */
  protocol: "udp" | "tcp" | "all";
  /**
   * ICE over TCP (SRS's "WebRTC over TCP"): `enabled` (default off) and the TCP port of its first `listen`
   * (default 8000, the UDP port's number; -1 when not a valid endpoint); `listens`: every value, as `listen`.
   */
  tcp: { enabled: boolean; listen: number; listens: string[] };
  ipFamily: "ipv4" | "ipv6" | "all";
  apiAsCandidates: boolean;
  resolveApiDomain: boolean;
  keepApiDomain: boolean;
  useAutoDetectNetworkIp: boolean;
  ecdsa: boolean;
  encrypt: boolean;
  reuseport: number;
  mergeNalus: boolean;
  blackHole: { enabled: boolean; addr: string };
}

export interface RtcConfig {
  enabled: boolean;
  nack: boolean;
  nackNoCopy: boolean;
  twcc: boolean;
  /** Seconds. */
  stunTimeout: number;
  stunStrictCheck: boolean;
  dtlsRole: "passive" | "active";
  dtlsVersion: "auto" | "dtls1.0" | "dtls1.2";
  dropForPt: number;
  rtmpToRtc: boolean;
  rtcToRtmp: boolean;
  /** Seconds (float) between PLIs when bridging to RTMP, clamped to [0.5, 30]. */
  pliForRtmp: number;
  keepBframe: boolean;
  keepAvcNaluSei: boolean;
  opusBitrate: number;
  aacBitrate: number;
}

/** `rtc_server`, from the global scope `g`. */
export function rtcServerOf(g: Scope): RtcServerConfig {
  const s = g.child("rtc_server");
  const tcp = s.child("tcp");
  const bh = s.child("black_hole");
  const protocol = s.str("protocol", "udp");
  const family = s.str("ip_family", "ipv4");
  const listens = s.list("listen", ["8000"]);
  const tcpListens = tcp.list("listen", ["8000"]);
  return {
    enabled: s.boolOn("enabled"),
    listen: portOf(listens[0] ?? "8000"),
    listens,
    candidate: expandDollar(s.str("candidate", "*"), g.env),
    protocol: protocol === "tcp" || protocol === "all" ? protocol : "udp",
    tcp: { enabled: tcp.boolOn("enabled"), listen: portOf(tcpListens[0] ?? "8000"), listens: tcpListens },
    ipFamily: family === "ipv6" || family === "all" ? family : "ipv4",
    apiAsCandidates: s.boolNotOff("api_as_candidates"),
    resolveApiDomain: s.boolNotOff("resolve_api_domain"),
    keepApiDomain: s.boolOn("keep_api_domain"),
    useAutoDetectNetworkIp: s.boolNotOff("use_auto_detect_network_ip"),
    ecdsa: s.boolNotOff("ecdsa"),
    encrypt: s.boolNotOff("encrypt"),
    reuseport: s.int("reuseport", 1),
    mergeNalus: s.boolOn("merge_nalus"),
    blackHole: { enabled: bh.boolOn("enabled"), addr: bh.str("addr", "") },
  };
}

/** The vhost's `rtc` block `s`. */
export function rtcOf(s: Scope): RtcConfig {
  const role = s.str("dtls_role", "passive");
  const version = s.str("dtls_version", "auto");
  let pli = s.num("pli_for_rtmp", 6.0);
  if (pli < 0.5 || pli > 30) pli = 6.0;
  return {
    enabled: s.boolOn("enabled"),
    nack: s.boolNotOff("nack"),
    nackNoCopy: s.boolNotOff("nack_no_copy"),
    twcc: s.boolNotOff("twcc"),
    stunTimeout: s.num("stun_timeout", 30),
    stunStrictCheck: s.boolOn("stun_strict_check"),
    dtlsRole: role === "active" ? "active" : "passive",
    dtlsVersion: version === "dtls1.0" || version === "dtls1.2" ? version : "auto",
    dropForPt: s.int("drop_for_pt", 0),
    rtmpToRtc: s.boolOn("rtmp_to_rtc"),
    rtcToRtmp: s.boolOn("rtc_to_rtmp"),
    pliForRtmp: pli,
    keepBframe: s.boolOn("keep_bframe"),
    keepAvcNaluSei: s.boolNotOff("keep_avc_nalu_sei"),
    opusBitrate: s.int("opus_bitrate", 48000),
    aacBitrate: s.int("aac_bitrate", 48000),
  };
}
