/**
 * What a viewer's own send path (rtp-send.ts) takes from werift once DTLS is connected: the SRTP master keys and
 * salts of both sides and the negotiated protection profile (RFC 5764 4.2, exported by werift's DTLS transport),
 * and per media section the SSRC werift announced in the answer (and its RTX SSRC), the negotiated payload
 * types, the MID and the id of the MID header extension (RFC 8843 15.2, RFC 8285). Like ice.ts and
 * peer-close.ts, this reaches into werift's internals (the SRTP session's config); kept to this file.
 */
import type { RTCPeerConnection, RTCRtpTransceiver } from "werift";

/** The sdes:mid header extension (RFC 8843 16.2). */
export const URI_SDES_MID = "urn:ietf:params:rtp-hdrext:sdes:mid";

export interface SrtpKeying {
  profile: number;
  /** Our side's master key and salt (what we send), and the peer's (what it sends). */
  local: { key: Uint8Array; salt: Uint8Array };
  remote: { key: Uint8Array; salt: Uint8Array };
}

export interface SendParams {
  ssrc: number;
  payloadType: number;
  clockRate: number;
  mid?: string;
  midExtId?: number;
  rtx?: { ssrc: number; payloadType: number };
}

interface SrtpConfigHolder {
  srtp?: {
    config?: {
      keys?: { localMasterKey?: Uint8Array; localMasterSalt?: Uint8Array; remoteMasterKey?: Uint8Array; remoteMasterSalt?: Uint8Array };
      profile?: number;
    };
  };
}

/** The SRTP keying of both directions (after DTLS connected), or undefined when werift has none (yet). */
export function srtpKeying(pc: RTCPeerConnection): SrtpKeying | undefined {
  const t = pc.dtlsTransports[0] as unknown as SrtpConfigHolder | undefined;
  const c = t?.srtp?.config;
  const k = c?.keys;
  if (!k?.localMasterKey || !k.localMasterSalt || !k.remoteMasterKey || !k.remoteMasterSalt || c?.profile === undefined) return undefined;
  return {
    profile: c.profile,
    local: { key: Uint8Array.from(k.localMasterKey), salt: Uint8Array.from(k.localMasterSalt) },
    remote: { key: Uint8Array.from(k.remoteMasterKey), salt: Uint8Array.from(k.remoteMasterSalt) },
  };
}

/** The negotiated send parameters of a transceiver (after setRemoteDescription), or undefined without a codec. */
export function sendParams(t: RTCRtpTransceiver): SendParams | undefined {
  const codecs = t.codecs;
  const main = codecs.find((c) => c.name.toLowerCase() !== "rtx");
  if (!main) return undefined;
  const rtxCodec = codecs.find((c) => c.name.toLowerCase() === "rtx" && aptOf(c.parameters) === main.payloadType);
  const midExt = t.headerExtensions.find((e) => e.uri === URI_SDES_MID);
  return {
    ssrc: t.sender.ssrc,
    payloadType: main.payloadType,
    clockRate: main.clockRate,
    mid: t.mid ?? undefined,
    midExtId: midExt?.id,
    rtx: rtxCodec ? { ssrc: t.sender.rtxSsrc, payloadType: rtxCodec.payloadType } : undefined,
  };
}

function aptOf(fmtp: string | undefined): number | undefined {
  const m = /(?:^|;)\s*apt=(\d+)/.exec(fmtp ?? "");
  return m ? Number(m[1]) : undefined;
}
