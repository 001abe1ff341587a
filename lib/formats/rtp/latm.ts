/**
 * AAC over RTP as MP4A-LATM (RFC 6416 6.1, was RFC 3016): what GStreamer's rtspclientsink and many cameras send.
 * Only the out-of-band form is read (`cpresent=0`, the StreamMuxConfig in the SDP's `config=`), with one
 * program, one layer and one sub-frame per packet (what every sender we know uses). Receive only: our players
 * get mpeg4-generic (aac.ts).
 *
 * StreamMuxConfig (ISO 14496-3 1.7.3, audioMuxVersion 0): audioMuxVersion(1) allStreamsSameTimeFraming(1)
 * numSubFrames(6) numProgram(4) numLayer(3) AudioSpecificConfig (bit-aligned) frameLengthType(3) ...
 * Payload (PayloadLengthInfo + PayloadMux): the AU's length as bytes of 255 plus a last byte < 255, then the AU.
 * An AU may span several packets; the marker bit ends it (RFC 6416 6.1.1).
 */
import { buildAudioSpecificConfig, parseAudioSpecificConfig } from "../../media/aac.ts";
import { concat } from "./nalu-fragments.ts";

/** The AudioSpecificConfig in a StreamMuxConfig (hex from `config=`), rebuilt byte-aligned; undefined when unreadable. */
export function latmAudioSpecificConfig(hex: string): Uint8Array | undefined {
  if (!/^([0-9a-fA-F]{2}){2,64}$/.test(hex)) return undefined;
  const b = new Uint8Array(Buffer.from(hex, "hex"));
  if (b[0]! & 0x80) return undefined; // audioMuxVersion 1 not read
  // the ASC starts at bit 15: shift the bytes left by 15 bits
  const shifted = new Uint8Array(b.length - 1);
  for (let i = 0; i < shifted.length; i++) {
    const hi = ((b[i + 1]! << 7) | ((b[i + 2] ?? 0) >> 1)) & 0xff;
    shifted[i] = hi;
  }
  try {
    const asc = parseAudioSpecificConfig(shifted);
    return buildAudioSpecificConfig({ objectType: asc.objectType, sampleRate: asc.sampleRate, channels: asc.channels });
  } catch {
    return undefined;
  }
}

/** Most bytes one AU may collect across packets. */
const MAX_AU = 64 * 1024;

export class LatmDepacketizer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private lastSeq: number | undefined;
  errors = 0;

  /** Feeds one payload; returns the AU it completes, if any. */
  push(payload: Uint8Array, seq: number, marker: boolean): Uint8Array | undefined {
    if (this.lastSeq !== undefined && ((this.lastSeq + 1) & 0xffff) !== seq && this.parts.length) {
      this.parts = [];
      this.size = 0;
    }
    this.lastSeq = seq;
    this.size += payload.byteLength;
    if (this.size > MAX_AU) {
      this.parts = [];
      this.size = 0;
      this.errors++;
      return undefined;
    }
    this.parts.push(payload.slice());
    if (!marker) return undefined;
    const all = concat(this.parts);
    this.parts = [];
    this.size = 0;
    let len = 0;
    let o = 0;
    for (; o < all.length; o++) {
      len += all[o]!;
      if (all[o] !== 255) {
        o++;
        break;
      }
    }
    if (len === 0 || o + len > all.length) {
      this.errors++;
      return undefined;
    }
    return all.subarray(o, o + len);
  }
}
