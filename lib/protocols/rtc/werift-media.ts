/**
 * What a viewer's own send path (rtp-send.ts) takes from werift once DTLS is connected: the SRTP master key and
 * salt of our side and the negotiated protection profile (RFC 5764 4.2, exported by werift's DTLS transport),
 * and per media section the SSRC werift announced in the answer (and its RTX SSRC), the negotiated payload
 * types, the MID and the id of the MID header extension (RFC 8843 15.2, RFC 8285). Like ice.ts and
 * peer-close.ts, this reaches into werift's internals (the SRTP session's config); kept to this file.
 */
import type { RTCPeerConnection, RTCRtpTransceiver } from "werift";

/** The sdes:mid header extension (RFC 8843 16.2). */
export const URI_SDES_MID = "urn:ietf:params:rtp-hdrext:sdes:mid";

export interface SrtpKeying {
  profile: number;
  masterKey: Uint8Array;
  masterSalt: Uint8Array;
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
  srtp?: { config?: { keys?: { localMasterKey?: Uint8Array; localMasterSalt?: Uint8Array }; profile?: number } };
}

/** Our side's SRTP keying (after DTLS connected), or undefined when werift has none (yet). */
export function localSrtpKeying(pc: RTCPeerConnection): SrtpKeying | undefined {
  const t = pc.dtlsTransports[0] as unknown as SrtpConfigHolder | undefined;
  const c = t?.srtp?.config;
  const key = c?.keys?.localMasterKey;
  const salt = c?.keys?.localMasterSalt;
  if (!key || !salt || c?.profile === undefined) return undefined;
  return { profile: c.profile, masterKey: Uint8Array.from(key), masterSalt: Uint8Array.from(salt) };
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
