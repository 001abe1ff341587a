/**
 * Opus over RTP (RFC 7587): one Opus packet per RTP payload (4.2), a 48 kHz RTP clock whatever the input rate
 * (4.1), no marker semantics but the first packet after silence (4.2). Nothing to packetize beyond passing the
 * packet; an empty payload is dropped.
 */
import type { RtpPayload } from "./h264.ts";

export const OPUS_CLOCK = 48000;

export function packetizeOpus(packet: Uint8Array): RtpPayload[] {
  return packet.byteLength ? [{ payload: packet, marker: false }] : [];
}

export function depacketizeOpus(payload: Uint8Array): Uint8Array | undefined {
  return payload.byteLength ? payload : undefined;
}
