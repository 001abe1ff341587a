/**
 * MPEG-1, MPEG-2 (LSF) and MPEG-2.5 audio Layer III decoder, written from ISO/IEC 11172-3 (2.4.2.7, 2.4.3.4,
 * Annex A/B) and ISO/IEC 13818-3 (lower sampling frequencies). Output: planar Float32 PCM, full scale ±1.
 *
 *   const dec = new Mp3Decoder();
 *   const r = dec.decodeFrame(frame);      // one frame: header, side info, main data (bit reservoir kept here)
 *   // r.pcm[c].subarray(0, r.samples) for c < r.channels; the buffers are reused by the next call: copy them
 *
 * Pipeline per granule and channel: side info -> main data from the bit reservoir -> scale factors (MPEG-1 with
 * scfsi, MPEG-2 LSF partitions incl. the intensity-stereo right channel) -> Huffman (big_values with linbits,
 * count1 quadruples) -> requantization -> M/S and intensity stereo (MPEG-1 tan ratios, MPEG-2 powers of
 * 2^-1/4 or 2^-1/2) -> short-block reordering -> alias reduction -> IMDCT (long, short, mixed; windows of
 * block types 0..3) with overlap-add -> frequency inversion -> polyphase synthesis filterbank.
 *
 * Never throws on bad media: a frame that is not Layer III, truncated or inconsistent is concealed (the spectra
 * are zeroed, so the previous frame's overlap fades out instead of clicking) and counted in `errors`. A frame
 * whose main data begins before the reservoir holds data (the first frames after joining a stream) is concealed
 * too and counted in `reservoirMisses`. Output is always finite.
 */
import { parseMpegAudioHeader, type MpegAudioHeader } from "../mp3.ts";
import {
  HUFFMAN, type HuffmanTableData, LSF_NR_OF_SFB, PRETAB, SFB_LONG, SFB_SHORT, SLEN1, SLEN2, SYNTH_WINDOW,
} from "./mp3-tables.ts";

// ---------------------------------------------------------------------------------------------------------------
// Huffman trees (built once from Table B.7)

/**
 * A binary decoding tree: node n's children are at [2n] (bit 0) and [2n + 1] (bit 1); a positive entry is a node
 * index, a negative one a leaf -(value + 1). Pairs decode to x * 16 + y, count1 quadruples to v*8 + w*4 + x*2 + y.
 * Throws when the code is not a prefix code (a transcription error; the unit test checks every table).
 */
export function buildHuffmanTree(t: HuffmanTableData): Int32Array {
  const n = t.hlen.length;
  const tree = new Int32Array(2 * Math.max(1, n));
  let nodes = 1;
  for (let idx = 0; idx < n; idx++) {
    const len = t.hlen[idx]!;
    if (len === 0) continue;
    const code = t.hcod[idx]!;
    const value = t.size > 1 ? ((Math.floor(idx / t.size) << 4) | (idx % t.size)) : idx;
    let node = 0;
    for (let b = len - 1; b >= 0; b--) {
      const slot = 2 * node + ((code >> b) & 1);
      if (b === 0) {
        if (tree[slot] !== 0) throw new Error(`huffman: code ${code}/${len} collides`);
        tree[slot] = -(value + 1);
      } else {
        let next = tree[slot]!;
        if (next < 0) throw new Error(`huffman: code ${code}/${len} has a prefix that is a code`);
        if (next === 0) {
          next = nodes++;
          if (2 * next + 1 >= tree.length) throw new Error("huffman: too many nodes");
          tree[slot] = next;
        }
        node = next;
      }
    }
  }
  return tree;
}

const TREES: (Int32Array | undefined)[] = [];
const LINBITS = new Int32Array(34);
for (let i = 0; i < 34; i++) {
  const t = HUFFMAN[i];
  if (t && t.hlen.length) {
    // tables 17..23 / 25..31 share their code words with 16 / 24
    const shared = i > 16 && i < 24 ? TREES[16] : i > 24 && i < 32 ? TREES[24] : undefined;
    TREES[i] = shared ?? buildHuffmanTree(t);
  }
  LINBITS[i] = t?.linbits ?? 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Constant tables derived from the spec's formulas

/** |i|^(4/3) for every value a Huffman pair can carry (15 + 2^13 - 1). */
const POW43 = new Float64Array(8207);
for (let i = 0; i < POW43.length; i++) POW43[i] = Math.pow(i, 4 / 3);

/** Alias-reduction butterflies (11172-3 Table B.9): cs_i, ca_i from c_i. */
const ALIAS_C = [-0.6, -0.535, -0.33, -0.185, -0.095, -0.041, -0.0142, -0.0037];
const CS = new Float64Array(8);
const CA = new Float64Array(8);
for (let i = 0; i < 8; i++) {
  const sq = Math.sqrt(1 + ALIAS_C[i]! * ALIAS_C[i]!);
  CS[i] = 1 / sq;
  CA[i] = ALIAS_C[i]! / sq;
}

/** IMDCT kernels: 36-point (long) cos(pi/72 (2i+1+18)(2k+1)) and 12-point (short) cos(pi/24 (2i+1+6)(2k+1)). */
const COS36 = new Float64Array(36 * 18);
for (let i = 0; i < 36; i++) for (let k = 0; k < 18; k++) COS36[i * 18 + k] = Math.cos((Math.PI / 72) * (2 * i + 1 + 18) * (2 * k + 1));
const COS12 = new Float64Array(12 * 6);
for (let i = 0; i < 12; i++) for (let k = 0; k < 6; k++) COS12[i * 6 + k] = Math.cos((Math.PI / 24) * (2 * i + 1 + 6) * (2 * k + 1));

/** The 36-sample windows of block types 0 (normal), 1 (start), 3 (stop); index 2 holds the 12-sample short window. */
const WINDOWS: Float64Array[] = [new Float64Array(36), new Float64Array(36), new Float64Array(12), new Float64Array(36)];
for (let i = 0; i < 36; i++) {
  const normal = Math.sin((Math.PI / 36) * (i + 0.5));
  WINDOWS[0]![i] = normal;
  WINDOWS[1]![i] = i < 18 ? normal : i < 24 ? 1 : i < 30 ? Math.sin((Math.PI / 12) * (i - 18 + 0.5)) : 0;
  WINDOWS[3]![i] = i < 6 ? 0 : i < 12 ? Math.sin((Math.PI / 12) * (i - 6 + 0.5)) : i < 18 ? 1 : normal;
}
for (let i = 0; i < 12; i++) WINDOWS[2]![i] = Math.sin((Math.PI / 12) * (i + 0.5));

/**
 * Polyphase matrixing: V[i] = sum_k cos((16 + i)(2k + 1) pi / 64) S[k], i = 0..63. With C[m] = sum_k
 * cos(m (2k + 1) pi / 64) S[k] (m = 0..31) the 64 values are C[16..32], -C[31..1] and -C[0..15] (the cosine's
 * symmetries), so one 32x32 product per time slot.
 */
const SYNTH_COS = new Float64Array(32 * 32);
for (let m = 0; m < 32; m++) for (let k = 0; k < 32; k++) SYNTH_COS[m * 32 + k] = Math.cos((m * (2 * k + 1) * Math.PI) / 64);
const D = new Float64Array(512);
for (let i = 0; i < 512; i++) D[i] = SYNTH_WINDOW[i]! / 65536;

/** MPEG-1 intensity stereo: left/right factors for is_pos 0..6 (is_ratio = tan(is_pos pi / 12)). */
const IS1_L = new Float64Array(7);
const IS1_R = new Float64Array(7);
for (let p = 0; p < 7; p++) {
  const s = Math.sin((p * Math.PI) / 12);
  const c = Math.cos((p * Math.PI) / 12);
  IS1_L[p] = s / (s + c);
  IS1_R[p] = c / (s + c);
}

// ---------------------------------------------------------------------------------------------------------------

/** Bit reader over a byte buffer; reads past `len` return zeros (corrupt lengths must not fault). */
class Bits {
  buf: Uint8Array = new Uint8Array(0);
  len = 0;
  pos = 0;
  reset(buf: Uint8Array, len: number, pos: number): void {
    this.buf = buf;
    this.len = len;
    this.pos = pos;
  }
  bit(): number {
    const p = this.pos++;
    const b = p >> 3;
    return b < this.len ? (this.buf[b]! >> (7 - (p & 7))) & 1 : 0;
  }
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }
  /** One symbol of a Huffman tree (depth-bounded: a complete code never needs the bound). */
  huff(tree: Int32Array): number {
    let node = 0;
    for (let depth = 0; depth < 24; depth++) {
      const c = tree[2 * node + this.bit()]!;
      if (c < 0) return -c - 1;
      node = c;
    }
    return 0;
  }
}

interface GranuleInfo {
  part23: number;
  bigValues: number;
  globalGain: number;
  sfCompress: number;
  winSwitch: boolean;
  blockType: number;
  mixed: boolean;
  tableSelect: Int32Array;
  subblockGain: Int32Array;
  region0: number;
  region1: number;
  preflag: number;
  sfScale: number;
  count1Table: number;
  /** MPEG-2 intensity stereo: intensity_scale of the right channel. */
  isScale: number;
}

function newGranule(): GranuleInfo {
  return {
    part23: 0, bigValues: 0, globalGain: 0, sfCompress: 0, winSwitch: false, blockType: 0, mixed: false,
    tableSelect: new Int32Array(3), subblockGain: new Int32Array(3), region0: 0, region1: 0, preflag: 0, sfScale: 0,
    count1Table: 0, isScale: 0,
  };
}

class Channel {
  readonly ix = new Int32Array(576);
  readonly xr = new Float64Array(576);
  /** Index after the last line that may be non-zero (Huffman output). */
  nz = 0;
  readonly sfL = new Int32Array(22);
  readonly sfS = new Int32Array(13 * 3);
  /** MPEG-2: the largest value each scale factor could take (its "illegal" intensity position). */
  readonly maxL = new Int32Array(22);
  readonly maxS = new Int32Array(13 * 3);
  readonly scfsi = new Int32Array(4);
  readonly overlap = new Float64Array(576);
  readonly v = new Float64Array(1024);
  vOff = 0;
  reset(): void {
    this.overlap.fill(0);
    this.v.fill(0);
    this.vOff = 0;
    this.sfL.fill(0);
    this.sfS.fill(0);
  }
}

export interface Mp3FrameResult {
  /** False when the frame was concealed (corrupt, not Layer III, or main data not in the reservoir). */
  ok: boolean;
  /** Samples per channel in `pcm` (1152 MPEG-1, 576 MPEG-2/2.5; 0 when nothing could be parsed). */
  samples: number;
  channels: number;
  sampleRate: number;
  /** Planar output, reused by the next call. */
  pcm: Float32Array[];
}

const RESERVOIR_KEEP = 511; // main_data_begin is 9 bits (MPEG-1), 8 bits (MPEG-2)
const MAX_MAIN_DATA = 4096;

export class Mp3Decoder {
  /** Frames concealed because they were corrupt or unsupported. */
  errors = 0;
  /** Frames concealed because their main data began before the data the reservoir holds (stream start/join). */
  reservoirMisses = 0;
  frames = 0;
  /** Granule-channels decoded per block type 0..3, and [4] mixed blocks (type 2 with mixed_block_flag). */
  readonly blockTypes = new Uint32Array(5);
  sampleRate = 0;
  channels = 0;
  readonly pcm: Float32Array[] = [new Float32Array(1152), new Float32Array(1152)];

  private readonly ch = [new Channel(), new Channel()];
  private readonly gi: GranuleInfo[][] = [[newGranule(), newGranule()], [newGranule(), newGranule()]];
  private readonly bits = new Bits();
  private readonly res = new Uint8Array(RESERVOIR_KEEP + MAX_MAIN_DATA + 8);
  private resLen = 0;
  private lastSamples = 1152;
  private readonly tmp = new Float64Array(576);
  private readonly sub = new Float64Array(18 * 32); // [t][sb]
  private readonly z = new Float64Array(36);
  private readonly c32 = new Float64Array(32);
  private sfbL: readonly number[] = SFB_LONG[44100]!;
  private sfbS: readonly number[] = SFB_SHORT[44100]!;
  private mpeg1 = true;

  /** Forgets the stream: reservoir, overlap and filterbank state. */
  reset(): void {
    this.resLen = 0;
    for (const c of this.ch) c.reset();
  }

  /** Output for a missing frame: the previous overlap fading out (then silence), same length as the last frame. */
  concealFrame(): Mp3FrameResult {
    return this.conceal(this.lastSamples);
  }

  /** Decodes one frame (header first). Extra bytes after the frame are ignored. */
  decodeFrame(frame: Uint8Array): Mp3FrameResult {
    let h: MpegAudioHeader | null;
    try {
      h = parseMpegAudioHeader(frame, 0);
    } catch {
      h = null;
    }
    if (!h || h.layer !== 3 || !SFB_LONG[h.sampleRate]) {
      this.errors++;
      return this.conceal(h ? h.samplesPerFrame : this.lastSamples);
    }
    const ngr = h.version === 1 ? 2 : 1;
    if (h.sampleRate !== this.sampleRate || h.channels !== this.channels) {
      if (this.sampleRate) this.reset();
      this.sampleRate = h.sampleRate;
      this.channels = h.channels;
      this.sfbL = SFB_LONG[h.sampleRate]!;
      this.sfbS = SFB_SHORT[h.sampleRate]!;
    }
    this.mpeg1 = h.version === 1;
    this.lastSamples = ngr * 576;
    try {
      const r = this.decodeLayer3(frame, h, ngr);
      if (r === "ok") {
        this.frames++;
        return this.result(true, ngr * 576);
      }
      if (r === "reservoir") this.reservoirMisses++;
      else this.errors++;
    } catch {
      this.errors++;
      this.resLen = 0;
    }
    return this.conceal(ngr * 576);
  }

  private result(ok: boolean, samples: number): Mp3FrameResult {
    return { ok, samples, channels: Math.max(1, this.channels), sampleRate: this.sampleRate || 44100, pcm: this.pcm };
  }

  private conceal(samples: number): Mp3FrameResult {
    const nch = Math.max(1, this.channels);
    for (let gr = 0; gr * 576 < samples; gr++) {
      for (let c = 0; c < nch; c++) {
        this.ch[c]!.xr.fill(0);
        this.ch[c]!.nz = 0;
        this.synthesize(c, gr, null);
      }
    }
    return this.result(false, samples);
  }

  private decodeLayer3(frame: Uint8Array, h: MpegAudioHeader, ngr: number): "ok" | "corrupt" | "reservoir" {
    const nch = h.channels;
    const frameEnd = h.frameLength > 0 ? h.frameLength : frame.length;
    if (frameEnd > frame.length) return "corrupt"; // truncated
    const sideStart = 4 + (h.protection ? 2 : 0);
    const sideLen = this.mpeg1 ? (nch === 1 ? 17 : 32) : (nch === 1 ? 9 : 17);
    const mainStart = sideStart + sideLen;
    if (mainStart > frameEnd) return "corrupt";

    // --- side information (2.4.1.7)
    const br = this.bits;
    br.reset(frame, frameEnd, sideStart * 8);
    const mainDataBegin = br.read(this.mpeg1 ? 9 : 8);
    br.read(this.mpeg1 ? (nch === 1 ? 5 : 3) : (nch === 1 ? 1 : 2)); // private bits
    if (this.mpeg1) for (let c = 0; c < nch; c++) for (let b = 0; b < 4; b++) this.ch[c]!.scfsi[b] = br.bit();
    let part23Total = 0;
    for (let gr = 0; gr < ngr; gr++) {
      for (let c = 0; c < nch; c++) {
        const g = this.gi[gr]![c]!;
        g.part23 = br.read(12);
        g.bigValues = br.read(9);
        g.globalGain = br.read(8);
        g.sfCompress = br.read(this.mpeg1 ? 4 : 9);
        g.winSwitch = br.bit() === 1;
        if (g.winSwitch) {
          g.blockType = br.read(2);
          g.mixed = br.bit() === 1;
          g.tableSelect[0] = br.read(5);
          g.tableSelect[1] = br.read(5);
          g.tableSelect[2] = 0;
          for (let w = 0; w < 3; w++) g.subblockGain[w] = br.read(3);
          if (g.blockType === 0) return "corrupt"; // forbidden with window switching
          g.region0 = g.blockType === 2 && !g.mixed ? 8 : 7;
          g.region1 = 36;
        } else {
          g.blockType = 0;
          g.mixed = false;
          for (let r = 0; r < 3; r++) g.tableSelect[r] = br.read(5);
          g.subblockGain.fill(0);
          g.region0 = br.read(4);
          g.region1 = br.read(3);
        }
        g.preflag = this.mpeg1 ? br.bit() : 0;
        g.sfScale = br.bit();
        g.count1Table = br.bit();
        if (g.bigValues > 288) return "corrupt";
        part23Total += g.part23;
      }
    }

    // --- main data through the bit reservoir (2.4.3.4.1)
    const mainLen = frameEnd - mainStart;
    if (mainLen > MAX_MAIN_DATA) return "corrupt";
    if (this.resLen > RESERVOIR_KEEP) {
      this.res.copyWithin(0, this.resLen - RESERVOIR_KEEP, this.resLen);
      this.resLen = RESERVOIR_KEEP;
    }
    const have = this.resLen;
    this.res.set(frame.subarray(mainStart, frameEnd), have);
    this.resLen = have + mainLen;
    this.res.fill(0, this.resLen, this.resLen + 8);
    if (mainDataBegin > have) return "reservoir";
    const dataStart = (have - mainDataBegin) * 8;
    if (dataStart + part23Total > this.resLen * 8) return "corrupt"; // more bits than exist
    br.reset(this.res, this.resLen, dataStart);

    const modeExt = (frame[3]! >> 4) & 3;
    const joint = h.channelMode === 1;
    const msStereo = joint && (modeExt & 2) !== 0;
    const isStereo = joint && (modeExt & 1) !== 0;

    for (let gr = 0; gr < ngr; gr++) {
      for (let c = 0; c < nch; c++) {
        const g = this.gi[gr]![c]!;
        const chan = this.ch[c]!;
        const part2Start = br.pos;
        const end = part2Start + g.part23;
        if (this.mpeg1) this.scalefactorsMpeg1(chan, g, gr);
        else this.scalefactorsLsf(chan, g, isStereo && c === 1);
        if (br.pos > end) return "corrupt";
        if (!this.huffman(chan, g, end)) return "corrupt";
        br.pos = end;
        this.blockTypes[g.mixed ? 4 : g.blockType]++;
        this.requantize(chan, g);
      }
      if (nch === 2 && (msStereo || isStereo)) this.stereo(this.gi[gr]![1]!, msStereo, isStereo);
      for (let c = 0; c < nch; c++) this.synthesize(c, gr, this.gi[gr]![c]!);
    }
    return "ok";
  }

  // --- scale factors

  private scalefactorsMpeg1(chan: Channel, g: GranuleInfo, gr: number): void {
    const br = this.bits;
    const s1 = SLEN1[g.sfCompress]!;
    const s2 = SLEN2[g.sfCompress]!;
    if (g.winSwitch && g.blockType === 2) {
      let sfb = 0;
      if (g.mixed) {
        for (let b = 0; b < 8; b++) chan.sfL[b] = br.read(s1);
        sfb = 3;
      }
      for (; sfb < 12; sfb++) {
        const n = sfb < 6 ? s1 : s2;
        for (let w = 0; w < 3; w++) chan.sfS[sfb * 3 + w] = br.read(n);
      }
      for (let w = 0; w < 3; w++) chan.sfS[36 + w] = 0;
    } else {
      // scfsi bands: 0..5, 6..10, 11..15, 16..20; in granule 1 a set bit reuses granule 0's factors
      const bounds = [0, 6, 11, 16, 21];
      for (let k = 0; k < 4; k++) {
        if (gr === 1 && chan.scfsi[k]) continue;
        const n = k < 2 ? s1 : s2;
        for (let b = bounds[k]!; b < bounds[k + 1]!; b++) chan.sfL[b] = br.read(n);
      }
      chan.sfL[21] = 0;
    }
  }

  private readonly slen = new Int32Array(4);

  private scalefactorsLsf(chan: Channel, g: GranuleInfo, isRight: boolean): void {
    const br = this.bits;
    const slen = this.slen;
    let sfc = g.sfCompress;
    let table: number;
    g.preflag = 0;
    if (isRight) {
      g.isScale = sfc & 1;
      sfc >>= 1;
      if (sfc < 180) {
        slen[0] = Math.floor(sfc / 36); slen[1] = Math.floor((sfc % 36) / 6); slen[2] = (sfc % 36) % 6; slen[3] = 0;
        table = 3;
      } else if (sfc < 244) {
        sfc -= 180;
        slen[0] = (sfc % 64) >> 4; slen[1] = (sfc % 16) >> 2; slen[2] = sfc % 4; slen[3] = 0;
        table = 4;
      } else {
        sfc -= 244;
        slen[0] = Math.floor(sfc / 3); slen[1] = sfc % 3; slen[2] = 0; slen[3] = 0;
        table = 5;
      }
    } else if (sfc < 400) {
      slen[0] = Math.floor((sfc >> 4) / 5); slen[1] = (sfc >> 4) % 5; slen[2] = (sfc & 15) >> 2; slen[3] = sfc & 3;
      table = 0;
    } else if (sfc < 500) {
      sfc -= 400;
      slen[0] = Math.floor((sfc >> 2) / 5); slen[1] = (sfc >> 2) % 5; slen[2] = sfc & 3; slen[3] = 0;
      table = 1;
    } else {
      sfc -= 500;
      slen[0] = Math.floor(sfc / 3); slen[1] = sfc % 3; slen[2] = 0; slen[3] = 0;
      g.preflag = 1;
      table = 2;
    }
    const kind = g.winSwitch && g.blockType === 2 ? (g.mixed ? 2 : 1) : 0;
    const nr = LSF_NR_OF_SFB[table]![kind]!;
    chan.sfL.fill(0);
    chan.sfS.fill(0);
    chan.maxL.fill(0);
    chan.maxS.fill(0);
    let k = 0;
    for (let part = 0; part < 4; part++) {
      const n = slen[part]!;
      const max = (1 << n) - 1;
      for (let j = 0; j < nr[part]!; j++, k++) {
        const v = n ? br.read(n) : 0;
        if (kind === 0) {
          chan.sfL[k] = v;
          chan.maxL[k] = max;
        } else if (kind === 2 && k < 6) {
          chan.sfL[k] = v;
          chan.maxL[k] = max;
        } else {
          const s = kind === 2 ? 9 + (k - 6) : k; // mixed: short bands from 3 (index 9 = band 3, window 0)
          if (s < 39) {
            chan.sfS[s] = v;
            chan.maxS[s] = max;
          }
        }
      }
    }
  }

  // --- Huffman decoding (2.4.2.7 big_values, count1)

  private huffman(chan: Channel, g: GranuleInfo, end: number): boolean {
    const br = this.bits;
    const ix = chan.ix;
    const bigEnd = Math.min(g.bigValues * 2, 576);
    let r1: number;
    let r2: number;
    if (g.winSwitch) {
      r1 = g.blockType === 2 && !g.mixed ? 3 * this.sfbS[3]! : this.sfbL[8]!;
      r2 = 576;
    } else {
      r1 = this.sfbL[Math.min(g.region0 + 1, 22)]!;
      r2 = this.sfbL[Math.min(g.region0 + g.region1 + 2, 22)]!;
    }
    let i = 0;
    for (let region = 0; region < 3; region++) {
      const limit = Math.min(region === 0 ? r1 : region === 1 ? r2 : 576, bigEnd);
      const tsel = g.tableSelect[region]!;
      const tree = TREES[tsel];
      if (!tree) {
        for (; i < limit; i++) ix[i] = 0; // table 0 (and the unused 4, 14): all zero
        continue;
      }
      const linbits = LINBITS[tsel]!;
      for (; i < limit; i += 2) {
        const v = br.huff(tree);
        let x = v >> 4;
        let y = v & 15;
        if (x === 15 && linbits) x += br.read(linbits);
        if (x && br.bit()) x = -x;
        if (y === 15 && linbits) y += br.read(linbits);
        if (y && br.bit()) y = -y;
        ix[i] = x;
        ix[i + 1] = y;
      }
    }
    if (br.pos > end) return false;
    const quad = TREES[32 + g.count1Table]!;
    while (i + 4 <= 576 && br.pos < end) {
      const v = br.huff(quad);
      let a = (v >> 3) & 1;
      let b = (v >> 2) & 1;
      let c = (v >> 1) & 1;
      let d = v & 1;
      if (a && br.bit()) a = -1;
      if (b && br.bit()) b = -1;
      if (c && br.bit()) c = -1;
      if (d && br.bit()) d = -1;
      if (br.pos > end) break; // the last quadruple ran past part2_3_length: not part of the granule
      ix[i] = a;
      ix[i + 1] = b;
      ix[i + 2] = c;
      ix[i + 3] = d;
      i += 4;
    }
    chan.nz = i;
    for (; i < 576; i++) ix[i] = 0;
    return true;
  }

  // --- requantization (2.4.3.4.7.1)

  private requantize(chan: Channel, g: GranuleInfo): void {
    const { ix, xr } = chan;
    const nz = chan.nz;
    const base = 0.25 * (g.globalGain - 210);
    const mult = g.sfScale ? 1 : 0.5;
    const L = this.sfbL;
    const S = this.sfbS;
    const short = g.winSwitch && g.blockType === 2;
    const longEnd = short ? (g.mixed ? L[this.mpeg1 ? 8 : 6]! : 0) : 576;
    for (let sfb = 0; sfb < 22; sfb++) {
      const start = L[sfb]!;
      if (start >= longEnd || start >= nz) break;
      const end = Math.min(L[sfb + 1]!, longEnd, nz);
      const f = Math.pow(2, base - mult * (chan.sfL[sfb]! + (g.preflag ? PRETAB[sfb]! : 0)));
      for (let i = start; i < end; i++) {
        const q = ix[i]!;
        xr[i] = q === 0 ? 0 : q > 0 ? POW43[q]! * f : -POW43[-q]! * f;
      }
    }
    if (short) {
      for (let sfb = g.mixed ? 3 : 0; sfb < 13; sfb++) {
        const width = S[sfb + 1]! - S[sfb]!;
        for (let w = 0; w < 3; w++) {
          const start = 3 * S[sfb]! + w * width;
          if (start >= nz) continue;
          const end = Math.min(start + width, nz);
          const f = Math.pow(2, base - 2 * g.subblockGain[w]! - mult * chan.sfS[sfb * 3 + w]!);
          for (let i = start; i < end; i++) {
            const q = ix[i]!;
            xr[i] = q === 0 ? 0 : q > 0 ? POW43[q]! * f : -POW43[-q]! * f;
          }
        }
      }
    }
    xr.fill(0, Math.min(nz, 576));
  }

  // --- stereo processing (2.4.3.4.9), in the coded (not yet reordered) order

  private stereo(g1: GranuleInfo, ms: boolean, is: boolean): void {
    const l = this.ch[0]!;
    const r = this.ch[1]!;
    if (!is) {
      const n = Math.max(l.nz, r.nz);
      msRange(l.xr, r.xr, 0, n);
      l.nz = r.nz = n;
      return;
    }
    const L = this.sfbL;
    const S = this.sfbS;
    const xr1 = r.xr;
    const short = g1.winSwitch && g1.blockType === 2;
    const longEnd = short ? (g1.mixed ? L[this.mpeg1 ? 8 : 6]! : 0) : 576;
    // highest long band of the right channel holding a non-zero line (-1: none)
    let lastLong = -1;
    for (let sfb = 0; sfb < 22 && L[sfb]! < longEnd; sfb++) {
      for (let i = L[sfb]!; i < Math.min(L[sfb + 1]!, longEnd); i++) if (xr1[i] !== 0) { lastLong = sfb; break; }
    }
    let shortNonZero = false;
    if (short) {
      for (let w = 0; w < 3; w++) {
        let last = -1;
        for (let sfb = g1.mixed ? 3 : 0; sfb < 13; sfb++) {
          const width = S[sfb + 1]! - S[sfb]!;
          const start = 3 * S[sfb]! + w * width;
          for (let i = start; i < start + width; i++) if (xr1[i] !== 0) { last = sfb; break; }
        }
        if (last >= 0) shortNonZero = true;
        for (let sfb = g1.mixed ? 3 : 0; sfb < 13; sfb++) {
          const width = S[sfb + 1]! - S[sfb]!;
          const start = 3 * S[sfb]! + w * width;
          const src = sfb < 12 ? sfb : 11;
          if (sfb <= last) {
            if (ms) msRange(l.xr, xr1, start, start + width);
          } else {
            this.intensity(r.sfS[src * 3 + w]!, r.maxS[src * 3 + w]!, g1, ms, start, start + width);
          }
        }
      }
    }
    // long bands (all of a long block; the long part of a mixed one)
    for (let sfb = 0; sfb < 22 && L[sfb]! < longEnd; sfb++) {
      const start = L[sfb]!;
      const end = Math.min(L[sfb + 1]!, longEnd);
      if (sfb <= lastLong || shortNonZero) {
        if (ms) msRange(l.xr, xr1, start, end);
      } else {
        const src = sfb < 21 ? sfb : 20;
        this.intensity(r.sfL[src]!, r.maxL[src]!, g1, ms, start, end);
      }
    }
    l.nz = r.nz = 576;
  }

  /** Intensity stereo over [start, end): the left channel holds the sum; an illegal position falls back to M/S or L/R. */
  private intensity(pos: number, max: number, g1: GranuleInfo, ms: boolean, start: number, end: number): void {
    const a = this.ch[0]!.xr;
    const b = this.ch[1]!.xr;
    let kl: number;
    let kr: number;
    if (this.mpeg1) {
      if (pos >= 7) {
        if (ms) msRange(a, b, start, end);
        return;
      }
      kl = IS1_L[pos]!;
      kr = IS1_R[pos]!;
    } else {
      if (pos === max) {
        if (ms) msRange(a, b, start, end);
        return;
      }
      const io = g1.isScale ? Math.SQRT1_2 : 0.8408964152537145; // 2^-1/2, 2^-1/4
      if (pos === 0) {
        kl = 1;
        kr = 1;
      } else if (pos & 1) {
        kl = Math.pow(io, (pos + 1) >> 1);
        kr = 1;
      } else {
        kl = 1;
        kr = Math.pow(io, pos >> 1);
      }
    }
    for (let i = start; i < end; i++) {
      const v = a[i]!;
      a[i] = v * kl;
      b[i] = v * kr;
    }
  }

  // --- reorder, alias reduction, IMDCT, overlap-add, frequency inversion, synthesis -> pcm

  private synthesize(c: number, gr: number, g: GranuleInfo | null): void {
    const chan = this.ch[c]!;
    const xr = chan.xr;
    const short = g !== null && g.winSwitch && g.blockType === 2;
    const mixed = short && g.mixed;
    const L = this.sfbL;
    const S = this.sfbS;
    const longSb = mixed ? L[this.mpeg1 ? 8 : 6]! / 18 : 0; // subbands of the long part of a mixed block
    if (short) {
      // reorder the short bands: window-major within a band -> frequency-major (3 windows interleaved)
      const tmp = this.tmp;
      const first = mixed ? 3 : 0;
      for (let sfb = first; sfb < 13; sfb++) {
        const width = S[sfb + 1]! - S[sfb]!;
        const base = 3 * S[sfb]!;
        for (let w = 0; w < 3; w++) for (let j = 0; j < width; j++) tmp[base + 3 * j + w] = xr[base + w * width + j]!;
      }
      const from = 3 * S[first]!;
      for (let i = from; i < 576; i++) xr[i] = tmp[i]!;
    }
    // alias reduction between long-block subbands
    const sbLimit = short ? (mixed ? longSb : 0) : Math.min(32, Math.ceil(chan.nz / 18) + 1);
    for (let sb = 1; sb < sbLimit; sb++) {
      const o = 18 * sb;
      for (let i = 0; i < 8; i++) {
        const a = xr[o - 1 - i]!;
        const b = xr[o + i]!;
        xr[o - 1 - i] = a * CS[i]! - b * CA[i]!;
        xr[o + i] = b * CS[i]! + a * CA[i]!;
      }
    }
    // IMDCT + window + overlap-add, per subband; `sub` is [t][sb]
    const sub = this.sub;
    const ov = chan.overlap;
    const z = this.z;
    const blockType = g ? g.blockType : 0;
    for (let sb = 0; sb < 32; sb++) {
      const o = 18 * sb;
      let any = false;
      for (let k = 0; k < 18; k++) if (xr[o + k] !== 0) { any = true; break; }
      if (!any) {
        for (let t = 0; t < 18; t++) {
          sub[t * 32 + sb] = ov[o + t]!;
          ov[o + t] = 0;
        }
      } else {
        if (short && sb >= longSb) {
          z.fill(0);
          const win = WINDOWS[2]!;
          for (let w = 0; w < 3; w++) {
            for (let i = 0; i < 12; i++) {
              let s = 0;
              const row = i * 6;
              for (let k = 0; k < 6; k++) s += xr[o + 3 * k + w]! * COS12[row + k]!;
              z[6 + 6 * w + i] += s * win[i]!;
            }
          }
        } else {
          const win = WINDOWS[short ? 0 : blockType]!;
          for (let i = 0; i < 36; i++) {
            let s = 0;
            const row = i * 18;
            for (let k = 0; k < 18; k++) s += xr[o + k]! * COS36[row + k]!;
            z[i] = s * win[i]!;
          }
        }
        for (let t = 0; t < 18; t++) {
          sub[t * 32 + sb] = z[t]! + ov[o + t]!;
          ov[o + t] = z[t + 18]!;
        }
      }
      if (sb & 1) for (let t = 1; t < 18; t += 2) sub[t * 32 + sb] = -sub[t * 32 + sb]!;
    }
    // polyphase synthesis, 18 time slots of 32 subband samples -> 576 PCM samples
    const out = this.pcm[c]!;
    const v = chan.v;
    const cm = this.c32;
    let outPos = gr * 576;
    for (let t = 0; t < 18; t++) {
      const so = t * 32;
      for (let m = 0; m < 32; m++) {
        let s = 0;
        const row = m * 32;
        for (let k = 0; k < 32; k++) s += sub[so + k]! * SYNTH_COS[row + k]!;
        cm[m] = s;
      }
      const off = (chan.vOff = (chan.vOff - 64) & 1023);
      for (let i = 0; i <= 16; i++) v[off + i] = cm[16 + i] ?? 0; // C[32] = 0
      for (let i = 17; i < 48; i++) v[off + i] = -cm[48 - i]!;
      for (let i = 48; i < 64; i++) v[off + i] = -cm[i - 48]!;
      for (let j = 0; j < 32; j++) {
        let s = 0;
        for (let i = 0; i < 8; i++) {
          s += D[64 * i + j]! * v[(off + 128 * i + j) & 1023]!;
          s += D[64 * i + 32 + j]! * v[(off + 128 * i + 96 + j) & 1023]!;
        }
        out[outPos + j] = Number.isFinite(s) ? s : 0;
      }
      outPos += 32;
    }
  }
}

function msRange(a: Float64Array, b: Float64Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const m = a[i]!;
    const s = b[i]!;
    a[i] = (m + s) * Math.SQRT1_2;
    b[i] = (m - s) * Math.SQRT1_2;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Byte-stream helpers

/** Length of an ID3v2 tag at `off` (header + body + footer), 0 when there is none. */
function id3v2Length(b: Uint8Array, off: number): number {
  if (off + 10 > b.length || b[off] !== 0x49 || b[off + 1] !== 0x44 || b[off + 2] !== 0x33) return 0;
  const size = ((b[off + 6]! & 0x7f) << 21) | ((b[off + 7]! & 0x7f) << 14) | ((b[off + 8]! & 0x7f) << 7) | (b[off + 9]! & 0x7f);
  return 10 + size + ((b[off + 5]! & 0x10) ? 10 : 0);
}

/**
 * Splits MPEG audio bytes (a file, or an FLV/RTMP packet holding one or more frames) into frames: [start, end)
 * pairs. Skips ID3v2 tags and garbage; a header is accepted when the next frame (if the data continues) starts
 * with a header of the same version, layer and rate. A truncated last frame is returned as it is.
 */
export function mp3FrameSpans(b: Uint8Array): [number, number][] {
  const spans: [number, number][] = [];
  let off = 0;
  while (off + 4 <= b.length) {
    const id3 = id3v2Length(b, off);
    if (id3) {
      off += id3;
      continue;
    }
    const h = parseMpegAudioHeader(b, off);
    if (!h || h.frameLength < 4 + (h.protection ? 2 : 0)) {
      off++;
      continue;
    }
    const end = off + h.frameLength;
    if (end + 4 <= b.length) {
      const n = parseMpegAudioHeader(b, end);
      if (!n || n.version !== h.version || n.layer !== h.layer || n.sampleRate !== h.sampleRate) {
        if (spans.length === 0 || b[end] !== 0x54 /* 'T' of an ID3v1 tag */) {
          off++;
          continue;
        }
      }
    }
    spans.push([off, Math.min(end, b.length)]);
    off = end;
  }
  return spans;
}

/** Decodes a whole MP3 byte stream: planar PCM of every frame (concealed ones included), for tests and probes. */
export function decodeMp3(bytes: Uint8Array): { pcm: Float32Array[]; sampleRate: number; channels: number; errors: number; frames: number } {
  const dec = new Mp3Decoder();
  const spans = mp3FrameSpans(bytes);
  const chunks: Float32Array[][] = [];
  let total = 0;
  let channels = 1;
  for (const [s, e] of spans) {
    const r = dec.decodeFrame(bytes.subarray(s, e));
    channels = Math.max(channels, r.channels);
    chunks.push(r.pcm.slice(0, r.channels).map((p) => p.slice(0, r.samples)));
    total += r.samples;
  }
  const pcm: Float32Array[] = [];
  for (let c = 0; c < channels; c++) pcm.push(new Float32Array(total));
  let o = 0;
  for (const ch of chunks) {
    for (let c = 0; c < channels; c++) pcm[c]!.set(ch[Math.min(c, ch.length - 1)]!, o);
    o += ch[0]!.length;
  }
  return { pcm, sampleRate: dec.sampleRate, channels, errors: dec.errors, frames: spans.length };
}
