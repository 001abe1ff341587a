/**
 * One elementary stream of a program stream: PES payloads in, access units out (PsFrame).
 *
 * Video: PES boundaries do not follow frames (GB28181 cameras split one frame over several PES, FFmpeg packs
 * several small frames into one), so the Annex-B bytes are cut into access units at the NAL units that start one
 * (H.264 7.4.1.2.3, H.265 7.4.2.4.4: AUD, parameter sets, SEI, or the first slice of a picture after a picture's
 * slices). A PES's PTS/DTS belongs to the first access unit that starts in it (ISO/IEC 13818-1 2.4.3.7); one
 * starting in a PES without PTS has NaN timestamps. An access unit is handed out when the next one starts (one
 * frame of latency) or on flush(). Without a PSM the codec is told from the first NAL header.
 *
 * Audio: handed out per PES, as it came (the packetizer splits codec frames). Without a PSM the codec is told from
 * the first sync word (ADTS or MPEG audio).
 *
 * The pending bytes are capped at `maxFrame`; a larger access unit is dropped (reported) and video skips to the
 * next access unit start.
 */

export type PsCodec = "h264" | "h265" | "aac" | "mpeg-audio" | "pcma" | "pcmu";

export interface PsFrame {
  kind: "video" | "audio";
  codec: PsCodec;
  streamId: number;
  /** stream_type from the PSM, or the one implied by probing (0x1b, 0x24, 0x0f, 0x03). */
  streamType: number;
  /** 90 kHz ticks on the unwrapped timeline; NaN when the access unit had none. */
  pts: number;
  dts: number;
  /** Video: one Annex-B access unit. Audio: the payload of one PES (whole or partial codec frames). */
  data: Uint8Array;
}

/**
 * stream_type (ISO/IEC 13818-1 Table 2-34; GB/T 28181-2016: 0x90 G.711, A-law in practice; 0x91 mu-law is what
 * devices use beyond the standard) -> codec. SVAC (0x80), G.722.1 (0x92), G.723.1 (0x93), G.729 (0x99) are not carried.
 */
export function codecOfStreamType(t: number): PsCodec | undefined {
  switch (t) {
    case 0x1b: return "h264";
    case 0x24: return "h265";
    case 0x0f: return "aac";
    case 0x03: case 0x04: return "mpeg-audio";
    case 0x90: return "pcma";
    case 0x91: return "pcmu";
    default: return undefined;
  }
}

/** PES starts remembered while their access unit is pending. */
const MAX_TS_QUEUE = 64;

interface PesStart {
  /** Offset in the pending bytes where the PES payload began. */
  off: number;
  pts: number;
  dts: number;
}

export interface EsSink {
  frame(f: PsFrame): void;
  problem(counter: "frameOverflows" | "unknownStreams", message: string): void;
}

export class PsEsStream {
  private buf: Uint8Array;
  private len = 0;
  /** Video: where the access unit scan resumes; whether the pending access unit holds a slice. */
  private scan = 0;
  private seenVcl = false;
  private starts: PesStart[] = [];
  /** Dropping bytes until the next access unit (after an overflow). */
  private dropping = false;
  private unknownWarned = false;

  constructor(
    readonly streamId: number,
    readonly kind: "video" | "audio",
    private codec: PsCodec | undefined,
    public streamType: number,
    private readonly maxFrame: number,
    private readonly sink: EsSink,
  ) {
    this.buf = new Uint8Array(kind === "video" ? 65536 : 4096);
  }

  get bufferedBytes(): number {
    return this.buf.length;
  }

  /** A PES begins; its timestamps (unwrapped 90 kHz, NaN when absent) apply from here. */
  pesStart(pts: number, dts: number): void {
    if (this.starts.length >= MAX_TS_QUEUE) this.starts.shift();
    this.starts.push({ off: this.len, pts, dts });
  }

  /** PES payload bytes b[from, to). */
  append(b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (this.len + n > this.buf.length) {
      if (this.len + n > this.maxFrame) {
        this.sink.problem("frameOverflows", `stream 0x${this.streamId.toString(16)}: access unit over ${this.maxFrame} bytes dropped`);
        this.len = 0;
        this.scan = 0;
        this.seenVcl = false;
        this.starts.length = 0;
        this.dropping = this.kind === "video";
        if (n > this.maxFrame) return;
        if (n > this.buf.length) this.buf = new Uint8Array(n);
      } else {
        const nb = new Uint8Array(Math.min(this.maxFrame, Math.max(this.len + n, this.buf.length * 2)));
        nb.set(this.buf.subarray(0, this.len));
        this.buf = nb;
      }
    }
    this.buf.set(b.subarray(from, to), this.len);
    this.len += n;
    if (this.kind === "video") this.scanVideo();
  }

  /** The PES ended. */
  pesEnd(): void {
    if (this.kind === "audio") this.emitAudio();
  }

  /** End of input (or of this stream): what is pending is complete. */
  flush(): void {
    if (this.kind === "video" && this.len > 0 && !this.dropping) this.emitVideo(this.len);
    else if (this.kind === "audio") this.emitAudio();
    this.len = 0;
    this.scan = 0;
    this.seenVcl = false;
    this.starts.length = 0;
    this.dropping = false;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Video access units

  /** Finds access unit starts in the new bytes and hands out every completed access unit. */
  private scanVideo(): void {
    let i = this.scan;
    while (i + 5 < this.len) {
      const b = this.buf;
      if (b[i + 2]! > 1) {
        i += 3;
        continue;
      }
      if (b[i] !== 0 || b[i + 1] !== 0 || b[i + 2] !== 1) {
        i++;
        continue;
      }
      const h0 = b[i + 3]!;
      if (this.codec === undefined) {
        this.codec = probeVideo(h0, b[i + 4]!);
        this.streamType = this.codec === "h265" ? 0x24 : 0x1b;
      }
      let startsAu: boolean;
      let vcl: boolean;
      if (this.codec === "h265") {
        const t = (h0 >> 1) & 0x3f;
        vcl = t < 32;
        // first_slice_segment_in_pic_flag: the top bit after the 2-byte NAL header
        startsAu = vcl ? (b[i + 5]! & 0x80) !== 0 : (t >= 32 && t <= 35) || t === 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
      } else {
        const t = h0 & 0x1f;
        vcl = t >= 1 && t <= 5;
        // first_mb_in_slice == 0 is ue(v) '1': the top bit of the first slice header byte
        startsAu = vcl ? (b[i + 4]! & 0x80) !== 0 : t === 6 || t === 7 || t === 8 || t === 9 || (t >= 14 && t <= 18);
      }
      if (startsAu && (this.seenVcl || this.dropping)) {
        const cut = i > 0 && b[i - 1] === 0 ? i - 1 : i;
        if (this.dropping) this.discard(cut);
        else this.emitVideo(cut);
        i -= cut;
        this.dropping = false;
        this.seenVcl = false;
      }
      if (vcl) this.seenVcl = true;
      i += 3;
    }
    this.scan = i;
  }

  /** Timestamps of the access unit at the start of the buffer: those of the PES it starts in. */
  private auTimestamps(): PesStart | undefined {
    let at: PesStart | undefined;
    for (const p of this.starts) {
      if (p.off <= 3) at = p;
      else break;
    }
    return at;
  }

  private emitVideo(cut: number): void {
    const ts = this.auTimestamps();
    const data = this.buf.slice(0, cut);
    this.discard(cut);
    if (this.codec === undefined || data.length === 0) return;
    this.sink.frame({
      kind: "video", codec: this.codec, streamId: this.streamId, streamType: this.streamType, pts: ts?.pts ?? Number.NaN,
      dts: ts?.dts ?? Number.NaN, data,
    });
  }

  /** Drops the first `cut` bytes; a PES that began inside them holds the next access unit's start. */
  private discard(cut: number): void {
    this.buf.copyWithin(0, cut, this.len);
    this.len -= cut;
    const kept: PesStart[] = [];
    let carried: PesStart | undefined;
    for (const p of this.starts) {
      if (p.off <= 3) continue; // belonged to the access unit just cut
      const off = p.off - cut;
      if (off <= 0) carried = { off: 0, pts: p.pts, dts: p.dts };
      else kept.push({ off, pts: p.pts, dts: p.dts });
    }
    this.starts = carried ? [carried, ...kept] : kept;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Audio

  private emitAudio(): void {
    if (this.len === 0) return;
    const ts = this.starts[0];
    const data = this.buf.slice(0, this.len);
    this.len = 0;
    this.starts.length = 0;
    if (this.codec === undefined) {
      this.codec = probeAudio(data);
      if (this.codec) this.streamType = this.codec === "aac" ? 0x0f : 0x03;
      else if (!this.unknownWarned) {
        this.unknownWarned = true;
        this.sink.problem("unknownStreams", `stream 0x${this.streamId.toString(16)}: audio without PSM entry and no ADTS/MPEG audio sync`);
      }
    }
    if (this.codec === undefined) return;
    this.sink.frame({
      kind: "audio", codec: this.codec, streamId: this.streamId, streamType: this.streamType, pts: ts?.pts ?? Number.NaN,
      dts: ts?.dts ?? Number.NaN, data,
    });
  }
}

/** H.265 when the first NAL header is a VPS/SPS/PPS/AUD/SEI/IRAP of H.265 (layer 0, temporal id 1). */
function probeVideo(h0: number, h1: number): PsCodec {
  const t = (h0 >> 1) & 0x3f;
  if ((h0 & 0x81) === 0 && h1 === 1 && ((t >= 32 && t <= 35) || t === 39 || (t >= 16 && t <= 21))) return "h265";
  return "h264";
}

/** ADTS (0xFFF, layer 00) or MPEG audio (11-bit sync, layer != 00) at the first sync word. */
function probeAudio(d: Uint8Array): PsCodec | undefined {
  for (let i = 0; i + 1 < d.length && i < 2048; i++) {
    if (d[i] !== 0xff) continue;
    const b1 = d[i + 1]!;
    if ((b1 & 0xf6) === 0xf0) return "aac";
    if ((b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0) return "mpeg-audio";
  }
  return undefined;
}
