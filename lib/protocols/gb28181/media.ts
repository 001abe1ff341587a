/**
 * A GB28181 media stream's receiving side, without sockets: PS over RTP (GB/T 28181-2016 C.2, RFC 3550), from
 * RFC 4571 length-prefixed frames on TCP or from UDP datagrams, into MediaPackets for the hub.
 *
 *   TCP bytes -> Rfc4571Deframer -> RTP packet -> (SSRC/PT checks, sequence tracking) -> PS payload
 *   UDP datagram ------------------^                                                     -> PsDemuxer -> PsPacketizer -> onPacket
 *
 * No reordering: a camera on TCP delivers in order; on UDP a gap is counted and the PS demuxer resynchronises on
 * the next start code (the frame the lost bytes belonged to may come out damaged or be dropped at the next
 * access unit). A packet whose SSRC differs from the expected one (the y= line of the SDP) is dropped and counted,
 * so a stray sender cannot inject into the stream. Nothing here throws on bad input; problems go to onError.
 */
import { parseRtpPacket } from "../../formats/rtp-packet.ts";
import { PsDemuxer, type PsDemuxOptions } from "../../formats/ps/demux.ts";
import { PsPacketizer } from "../../formats/ps/packets.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { Rfc4571Deframer } from "../../net/rfc4571.ts";

export interface GbMediaStats {
  rtpPackets: number;
  badRtp: number;
  foreignSsrc: number;
  /** Sequence numbers skipped (lost or reordered packets). */
  lost: number;
  payloadBytes: number;
}

export interface GbMediaOptions {
  /** The SSRC the SDP's y= line announced; packets with another are dropped. Undefined: take the first seen. */
  ssrc?: number;
  /** Largest access unit kept by the PS demuxer. */
  maxFrameBytes?: PsDemuxOptions["maxFrameBytes"];
  onError?(message: string): void;
}

export class GbMediaReceiver {
  readonly stats: GbMediaStats = { rtpPackets: 0, badRtp: 0, foreignSsrc: 0, lost: 0, payloadBytes: 0 };
  readonly demuxer: PsDemuxer;
  private readonly packetizer: PsPacketizer;
  private readonly deframer = new Rfc4571Deframer();
  private ssrc: number | undefined;
  private nextSeq = -1;

  constructor(onPacket: (p: MediaPacket) => void, private readonly opts: GbMediaOptions = {}) {
    this.ssrc = opts.ssrc;
    this.packetizer = new PsPacketizer(onPacket, opts.onError);
    this.demuxer = new PsDemuxer((f) => this.packetizer.push(f), { maxFrameBytes: opts.maxFrameBytes, onError: opts.onError });
  }

  /** The SSRC being received (the expected one, or the first seen). */
  get currentSsrc(): number | undefined {
    return this.ssrc;
  }

  /** Bytes held: a partial RFC 4571 frame and the PS demuxer's buffers. */
  get bufferedBytes(): number {
    return this.deframer.buffered + this.demuxer.bufferedBytes;
  }

  /** Bytes from the TCP media connection (RFC 4571 framing, any chunking). */
  pushTcp(chunk: Uint8Array): void {
    // maxFrame is the 16-bit maximum, so push() cannot throw FramingError
    for (const f of this.deframer.push(chunk)) this.pushRtp(f);
  }

  /** One UDP datagram (one RTP packet), or one deframed TCP frame. */
  pushRtp(packet: Uint8Array): void {
    const p = parseRtpPacket(packet);
    if (typeof p === "string") {
      this.stats.badRtp++;
      this.opts.onError?.(`gb28181: ${p}`);
      return;
    }
    if (this.ssrc === undefined) this.ssrc = p.ssrc;
    else if (p.ssrc !== this.ssrc) {
      if (this.stats.foreignSsrc++ === 0) this.opts.onError?.(`gb28181: RTP from SSRC ${p.ssrc}, expected ${this.ssrc}: dropped`);
      return;
    }
    this.stats.rtpPackets++;
    if (this.nextSeq >= 0 && p.sequence !== this.nextSeq) {
      const gap = (p.sequence - this.nextSeq) & 0xffff;
      if (gap < 0x8000) {
        this.stats.lost += gap;
        this.opts.onError?.(`gb28181: RTP sequence ${p.sequence}, expected ${this.nextSeq}: ${gap} packets lost`);
      } else {
        // an old (duplicate or late) packet: its bytes would land in the wrong place of the PS stream
        this.opts.onError?.(`gb28181: late RTP sequence ${p.sequence} dropped`);
        return;
      }
    }
    this.nextSeq = (p.sequence + 1) & 0xffff;
    this.stats.payloadBytes += p.payload.length;
    this.demuxer.feed(p.payload);
  }

  /** End of the stream: hands out the last access unit. */
  close(): void {
    this.demuxer.flush();
  }
}
