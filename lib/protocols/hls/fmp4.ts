/**
 * fMP4 (CMAF-style) HLS segments, RFC 8216bis 3.1.2: one Media Initialization Section (ftyp + moov with mvex,
 * `#EXT-X-MAP`) per publish and `.m4s` media segments made of moof + mdat fragments. Built on our MP4 muxer
 * (lib/formats/mp4) with its own cutting turned off: the HLS segmenter decides every cut, through end() for
 * segments and cutPart() for LL-HLS partial segments (each part is one moof + mdat, so a segment is simply the
 * concatenation of its parts).
 *
 * The init segment appears once the muxer knows the stream's tracks (normally at the first media packet,
 * since the hub sends the sequence headers first); `onInit` hands it to the HLS stream, which writes it next
 * to the segments. Codecs: H.264, HEVC (hvc1), AAC, MP3; other tracks are skipped with a warning.
 */
import { FragmentedMp4Muxer, type Mp4Track } from "../../formats/mp4/index.ts";
import type { MediaPacket } from "../../media/packet.ts";
import type { SegmentContainer } from "./segmenter.ts";

export interface Fmp4ContainerOptions {
  /** The init segment (ftyp + moov), once per container, before any media bytes. */
  onInit(bytes: Uint8Array, tracks: readonly Mp4Track[]): void;
  warn?(message: string): void;
  /** hls_vcodec vn / hls_acodec an: drop that track. */
  noVideo?: boolean;
  noAudio?: boolean;
}

export class Fmp4Container implements SegmentContainer {
  readonly extension = "m4s";
  readonly muxer: FragmentedMp4Muxer;
  private out: Uint8Array[] = [];
  private outBytes = 0;
  /** The init segment, once known. */
  init: Uint8Array | undefined;

  constructor(private opts: Fmp4ContainerOptions) {
    this.muxer = new FragmentedMp4Muxer({
      init: (bytes, tracks) => {
        this.init = bytes;
        opts.onInit(bytes, tracks);
      },
      fragment: (parts) => {
        for (const b of parts) {
          this.out.push(b);
          this.outBytes += b.length;
        }
      },
      warn: (m) => opts.warn?.(m),
    }, { fragmentMs: Infinity, maxFragmentMs: Infinity });
  }

  begin(): null {
    return null;
  }

  write(p: MediaPacket): null {
    if ((p.kind === "video" && this.opts.noVideo) || (p.kind === "audio" && this.opts.noAudio)) return null;
    this.muxer.push(p);
    return null;
  }

  end(next?: MediaPacket): Uint8Array | null {
    if (next) this.muxer.cutBefore(next.dts);
    else this.muxer.end();
    return this.take();
  }

  cutPart(next: MediaPacket): Uint8Array | null {
    this.muxer.cutBefore(next.dts);
    return this.take();
  }

  /** The fragments emitted since the last call, as one buffer (null for none). */
  private take(): Uint8Array | null {
    if (this.outBytes === 0) return null;
    const buf = new Uint8Array(this.outBytes);
    let o = 0;
    for (const b of this.out) {
      buf.set(b, o);
      o += b.length;
    }
    this.out = [];
    this.outBytes = 0;
    return buf;
  }
}
