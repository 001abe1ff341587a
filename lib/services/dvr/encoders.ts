/**
 * What goes into a DVR file, per container. Both take packets whose timestamps the DVR already rebased.
 *
 * FLV (as SRS's DVR): header, an onMetaData carrying the publisher's metadata plus `service`, `duration` and
 * `filesize` numbers that are patched in place when the file is closed, then every tag.
 *
 * MP4: fragmented while recording (FragmentedMp4Muxer: init segment, then a moof+mdat every 1-3 s, written
 * as they are cut), finalized in place to a progressive MP4 when the file is closed (see
 * lib/formats/mp4/finalize.ts for why). A server killed mid-recording leaves a `.mp4.tmp` that plays up to
 * its last fragment.
 */
import type { FileHandle } from "node:fs/promises";
import { type Amf0Object, decodeAll, ecmaArray, encode, isAmf0Object } from "../../formats/amf0.ts";
import { encodeFlvHeader, encodeFlvTag, encodePacketFlvTag, FLV_TAG_SCRIPT } from "../../formats/flv.ts";
import { fileHandleAccess, finalizeFragmentedMp4, FragmentedMp4Muxer } from "../../formats/mp4/index.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { SERVER_SIGNATURE } from "../../version.ts";
import type { DvrFile } from "./file.ts";

export interface DvrEncoder {
  /** Packets of the file, timestamps rebased. `config` packets come first. */
  push(p: MediaPacket): void;
  /** No more packets. */
  end(): void;
  /** Media frames written. */
  readonly frames: number;
  /** Media duration so far, ms. */
  readonly durationMs: number;
  /** Runs on the open file before it is closed and renamed. */
  finalize(h: FileHandle, size: number): Promise<void>;
}

const FLV_HEADER_AND_PTS0 = 13;
const FLV_TAG_HEADER = 11;

function metadataObject(meta: MediaPacket | undefined): Amf0Object {
  if (!meta) return {};
  try {
    const values = decodeAll(meta.data);
    const obj = values.find((v, i): v is Amf0Object => i > 0 && isAmf0Object(v));
    return obj ? { ...obj } : {};
  } catch {
    return {};
  }
}

function findAscii(b: Uint8Array, s: string): number {
  outer: for (let i = 0; i + s.length <= b.length; i++) {
    for (let j = 0; j < s.length; j++) if (b[i + j] !== s.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

export class FlvDvrEncoder implements DvrEncoder {
  frames = 0;
  private first = -1;
  private last = 0;
  private durationAt = -1;
  private filesizeAt = -1;

  constructor(private file: DvrFile, o: { hasAudio: boolean; hasVideo: boolean; metadata: MediaPacket | undefined }) {
    const props = metadataObject(o.metadata);
    delete props.duration;
    delete props.filesize;
    // duration and filesize first, so their 8-byte values sit at fixed, findable offsets.
    const body = encode("onMetaData", ecmaArray({ duration: 0, filesize: 0, ...props, service: SERVER_SIGNATURE }));
    const base = FLV_HEADER_AND_PTS0 + FLV_TAG_HEADER;
    this.durationAt = base + findAscii(body, "duration") + 8 + 1;
    this.filesizeAt = base + findAscii(body, "filesize") + 8 + 1;
    file.write([encodeFlvHeader(o), encodeFlvTag(FLV_TAG_SCRIPT, 0, body)]);
  }

  get durationMs(): number {
    return this.first < 0 ? 0 : this.last - this.first;
  }

  push(p: MediaPacket): void {
    if (p.kind === "data") return; // the metadata was written first
    if (!p.config) {
      this.frames++;
      if (this.first < 0) this.first = p.dts;
      this.last = Math.max(this.last, p.dts);
    }
    this.file.write([encodePacketFlvTag(p)]);
    if (p.kind === "video" && p.keyframe) this.file.flush();
  }

  end(): void {
    this.file.flush();
  }

  async finalize(h: FileHandle, size: number): Promise<void> {
    const num = (v: number): Uint8Array => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v);
      return b;
    };
    await h.write(num(this.durationMs / 1000), 0, 8, this.durationAt);
    await h.write(num(size), 0, 8, this.filesizeAt);
  }
}

export class Mp4DvrEncoder implements DvrEncoder {
  private muxer: FragmentedMp4Muxer;

  constructor(private file: DvrFile, warn: (msg: string) => void) {
    this.muxer = new FragmentedMp4Muxer({
      init: (b) => {
        file.write([b]);
        file.flush();
      },
      fragment: (parts) => {
        // One fragment, one write: a crash leaves whole fragments plus at most one partial one.
        file.write(parts);
        file.flush();
      },
      warn,
    });
  }

  get frames(): number {
    return this.muxer.samples;
  }

  get durationMs(): number {
    const m = this.muxer;
    return m.firstMs === undefined || m.lastMs === undefined ? 0 : m.lastMs - m.firstMs;
  }

  /** True once the init segment exists (a file without it holds no media). */
  get hasMedia(): boolean {
    return this.muxer.started;
  }

  push(p: MediaPacket): void {
    this.muxer.push(p);
  }

  end(): void {
    this.muxer.end();
    this.file.flush();
  }

  async finalize(h: FileHandle): Promise<void> {
    await finalizeFragmentedMp4(fileHandleAccess(h), this.muxer.tracks);
  }
}
