/**
 * H.265 over RTP (RFC 7798), our own packetizer and depacketizer, without DONL (sprop-max-don-diff=0, the
 * default 7.1): single NAL unit packets (4.4.1), aggregation packets (AP, type 48, 4.4.2) and fragmentation units
 * (FU, type 49, 4.4.3). PACI (type 50) is not sent and is skipped when received.
 *
 *   PayloadHdr (2 bytes, = NAL unit header, 1.1.4): F(1) Type(6) LayerId(6) TID(3)
 *   FU header (1 byte): S(1) E(1) FuType(6)
 *
 * Packetizer: one access unit (NALUs without start codes) -> payloads no larger than the MTU, VPS/SPS/PPS first
 * in one AP on keyframes; marker on the last payload of the access unit (4.1).
 * Depacketizer: payloads in sequence order -> access units, ending at the marker or a timestamp change; a
 * sequence gap marks the unit broken.
 */
import { HEVC_NALU_AUD, HEVC_NALU_PPS, HEVC_NALU_SPS, HEVC_NALU_VPS, isHevcIrapType } from "../../media/hevc.ts";
import { DEFAULT_RTP_MTU, NaluDepacketizer, packetizeNalus, type NaluFrame, type NaluPacketFormat, type RtpPayload } from "./nalu-fragments.ts";

export const HEVC_AP = 48;
export const HEVC_FU = 49;
export const HEVC_PACI = 50;

const naluType = (n: Uint8Array): number => (n[0]! >> 1) & 0x3f;

const H265_FORMAT: NaluPacketFormat = {
  headerBytes: 2,
  // AP (4.4.2): PayloadHdr with type 48, F if any unit has it, the lowest LayerId and TID of the units.
  aggregationHeader: (nalus) => {
    let layer = 63;
    let tid = 7;
    let f = 0;
    for (const n of nalus) {
      f |= n[0]! & 0x80;
      layer = Math.min(layer, ((n[0]! & 1) << 5) | (n[1]! >> 3));
      tid = Math.min(tid, n[1]! & 7);
    }
    return Uint8Array.of(f | (HEVC_AP << 1) | (layer >> 5), ((layer & 0x1f) << 3) | tid);
  },
  // FU (4.4.3): PayloadHdr = the NAL header with type 49; the FU header (S, E, FuType) follows.
  fuPrefix: (n) => Uint8Array.of((n[0]! & 0x81) | (HEVC_FU << 1), n[1]!),
  fuType: naluType,
  skip: (n) => {
    const t = naluType(n);
    return t === HEVC_NALU_AUD || t === HEVC_NALU_VPS || t === HEVC_NALU_SPS || t === HEVC_NALU_PPS;
  },
};

export function packetizeH265(nalus: readonly Uint8Array[], paramSets: readonly Uint8Array[] | undefined, mtu = DEFAULT_RTP_MTU): RtpPayload[] {
  return packetizeNalus(H265_FORMAT, nalus, paramSets, mtu);
}

export type H265Frame = NaluFrame;

export class H265Depacketizer extends NaluDepacketizer {
  protected parse(p: Uint8Array): void {
    if (p.byteLength < 3) return;
    const type = naluType(p);
    if (type === HEVC_AP) {
      this.aggregated(p, 2, 2);
    } else if (type === HEVC_FU) {
      const h = p[2]!;
      // The start fragment rebuilds the NAL unit header: F, LayerId and TID from the PayloadHdr, FuType as the type.
      const header = (h & 0x80) !== 0 ? Uint8Array.of((p[0]! & 0x81) | ((h & 0x3f) << 1), p[1]!) : undefined;
      this.fragment(header, p.subarray(3), (h & 0x40) !== 0);
    } else if (type === HEVC_PACI) {
      // PACI (4.4.4) carries a unit behind extra headers: we never negotiate it.
      this.broken = true;
    } else {
      this.single(p);
    }
  }

  protected isKeyNalu(n: Uint8Array): boolean {
    return isHevcIrapType(naluType(n));
  }
}
