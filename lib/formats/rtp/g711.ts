/**
 * G.711 (PCMU, PCMA) over RTP (RFC 3551 4.5.14): static payload types 0 (PCMU) and 8 (PCMA), 8000 Hz, one byte
 * per sample, so the RTP timestamp advances by the payload length. A frame longer than the MTU is cut into
 * packets whose timestamps follow on.
 */
import { DEFAULT_RTP_MTU, type RtpPayload } from "./h264.ts";

export const G711_CLOCK = 8000;
export const PT_PCMU = 0;
export const PT_PCMA = 8;

export interface G711Payload extends RtpPayload {
  /** Samples before this payload within the frame (add to the frame's RTP timestamp). */
  offset: number;
}

export function packetizeG711(frame: Uint8Array, mtu = DEFAULT_RTP_MTU): G711Payload[] {
  const out: G711Payload[] = [];
  for (let o = 0; o < frame.byteLength; o += mtu) out.push({ payload: frame.subarray(o, Math.min(frame.byteLength, o + mtu)), marker: false, offset: o });
  return out;
}
