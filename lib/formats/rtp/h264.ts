/**
 * H.264 over RTP (RFC 6184), our own packetizer and depacketizer, packetization-mode 1 (non-interleaved):
 * single NAL unit packets (5.6), STAP-A aggregation (5.7.1) and FU-A fragmentation (5.8).
 *
 * Packetizer: one access unit (AVCC NALUs) -> RTP payloads no larger than the MTU; before a keyframe a STAP-A
 * carries the SPS and PPS (browsers join mid-stream and need them in band); the last payload of the frame
 * gets the marker bit (RFC 6184 5.1). Access unit delimiters and in-frame parameter sets are dropped (the
 * STAP-A carries the current ones).
 * Depacketizer: payloads in sequence order -> access units (NALU lists), a frame ending at the marker bit or at
 * a timestamp change; a sequence gap inside a frame marks the frame broken (the caller drops it and waits for
 * a keyframe, asking the sender for one).
 */
import { AVC_NALU_AUD, AVC_NALU_IDR, AVC_NALU_PPS, AVC_NALU_SEI, AVC_NALU_SPS } from "../../media/avc.ts";
import { DEFAULT_RTP_MTU, NaluDepacketizer, packetizeNalus, type NaluFrame, type NaluPacketFormat, type RtpPayload } from "./nalu-fragments.ts";

export { DEFAULT_RTP_MTU, type RtpPayload } from "./nalu-fragments.ts";

export const STAP_A = 24;
export const FU_A = 28;

export interface PacketizeOptions {
  mtu?: number;
  /** Keep SEI NALUs (vhost rtc.keep_avc_nalu_sei, default on). */
  keepSei?: boolean;
}

/** NAL unit header (RFC 6184 1.3): F(1) NRI(2) Type(5). */
const naluType = (n: Uint8Array): number => n[0]! & 0x1f;

function h264Format(keepSei: boolean): NaluPacketFormat {
  return {
    headerBytes: 1,
    // STAP-A (5.7.1): F=0, NRI the highest of the units, type 24.
    aggregationHeader: (nalus) => Uint8Array.of(nalus.reduce((nri, n) => Math.max(nri, n[0]! & 0x60), 0) | STAP_A),
    // FU-A (5.8): indicator (F, NRI, type 28); the FU header (S, E, R=0, NAL type) follows.
    fuPrefix: (n) => Uint8Array.of((n[0]! & 0xe0) | FU_A),
    fuType: naluType,
    skip: (n) => {
      const t = naluType(n);
      return t === AVC_NALU_AUD || t === AVC_NALU_SPS || t === AVC_NALU_PPS || (t === AVC_NALU_SEI && !keepSei);
    },
  };
}
const WITH_SEI = h264Format(true);
const WITHOUT_SEI = h264Format(false);

/**
 * Packetizes one access unit. `nalus` are the frame's NAL units (no length prefix); `paramSets` (SPS, PPS)
 * are sent first in a STAP-A when given (pass them for keyframes).
 */
export function packetizeH264(nalus: readonly Uint8Array[], paramSets: readonly Uint8Array[] | undefined,
  opts: PacketizeOptions = {}): RtpPayload[] {
  return packetizeNalus((opts.keepSei ?? true) ? WITH_SEI : WITHOUT_SEI, nalus, paramSets, opts.mtu ?? DEFAULT_RTP_MTU);
}

export type H264Frame = NaluFrame;

export class H264Depacketizer extends NaluDepacketizer {
  protected parse(p: Uint8Array): void {
    if (p.byteLength < 1) return;
    const type = naluType(p);
    if (type >= 1 && type <= 23) {
      this.single(p);
    } else if (type === STAP_A) {
      this.aggregated(p, 1, 1);
    } else if (type === FU_A) {
      if (p.byteLength < 3) {
        this.broken = true;
        return;
      }
      const h = p[1]!;
      // The start fragment rebuilds the NAL unit header: F and NRI from the indicator, the type from the FU header.
      this.fragment((h & 0x80) !== 0 ? Uint8Array.of((p[0]! & 0xe0) | (h & 0x1f)) : undefined, p.subarray(2), (h & 0x40) !== 0);
    } else {
      // STAP-B, MTAP, FU-B are for interleaved mode, which we never negotiate.
      this.broken = true;
    }
  }

  protected isKeyNalu(n: Uint8Array): boolean {
    return naluType(n) === AVC_NALU_IDR;
  }
}
