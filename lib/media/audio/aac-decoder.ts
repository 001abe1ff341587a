/**
 * AAC-LC decoder (ISO/IEC 14496-3 subpart 4, General Audio): one raw_data_block (no ADTS) per call, given the
 * AudioSpecificConfig, to planar Float32 PCM in [-1, 1] (1024 samples per channel per frame).
 *
 * Implemented: SCE, CPE (common window, M/S), LFE, CCE (parsed and skipped), DSE, PCE, FIL (skipped, so SBR
 * payloads are ignored: HE-AAC streams decode as their AAC-LC core at the core rate), ics_info with long/start/
 * short/stop windows and grouping, section data, scalefactors (DPCM Huffman), pulse data, TNS, spectral Huffman
 * codebooks 1..11 with escapes, intensity stereo, perceptual noise substitution, IMDCT with sine and KBD windows,
 * overlap-add.
 *
 * Never throws from decode(): a corrupt frame (bad Huffman code, overrun, unsupported tool, wrong element for the
 * configuration) is concealed — the previous frame's windowed tail is played out and the filterbank state is
 * cleared, so the next good frame fades in — and reported with `ok: false` and an error message. The PCM never
 * contains NaN or infinities.
 */
import { parseAudioSpecificConfig } from "../aac.ts";
import type { AudioSpecificConfig } from "../aac.ts";
import {
  BOOK_DIM, BOOK_MOD, BOOK_UNSIGNED, EIGHT_SHORT_SEQUENCE, ESC_HCB, INTENSITY_HCB, INTENSITY_HCB2, LONG_START_SEQUENCE,
  LONG_STOP_SEQUENCE, NOISE_HCB, SCF_BOOK, SPECTRUM_BOOKS, swbInfo, windowRisingHalf, ZERO_HCB,
} from "./aac-tables.ts";
import type { HuffmanBook, SwbInfo } from "./aac-tables.ts";
import { Mdct } from "./mdct.ts";

class AacDecodeError extends Error {}

function fail(msg: string): never {
  throw new AacDecodeError(msg);
}

// ---------------------------------------------------------------------------------------------------------
// Bit reading (MSB first). Reads past the end return zero bits; callers check `overrun` at element ends.

class Bits {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  end = 0;

  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length * 8;
  }

  /** The next n (<= 24) bits without consuming them. */
  peek(n: number): number {
    const p = this.pos;
    const i = p >> 3;
    const b = this.buf;
    const len = b.length;
    const w = ((i < len ? b[i]! : 0) << 24) | ((i + 1 < len ? b[i + 1]! : 0) << 16) |
      ((i + 2 < len ? b[i + 2]! : 0) << 8) | (i + 3 < len ? b[i + 3]! : 0);
    return ((w << (p & 7)) >>> (32 - n)) & ((1 << n) - 1);
  }

  read(n: number): number {
    if (n === 0) return 0;
    const v = this.peek(n);
    this.pos += n;
    return v;
  }

  bit(): number {
    const p = this.pos++;
    const i = p >> 3;
    return i < this.buf.length ? (this.buf[i]! >> (7 - (p & 7))) & 1 : 0;
  }

  skip(n: number): void {
    this.pos += n;
  }

  align(): void {
    this.pos = (this.pos + 7) & ~7;
  }

  get overrun(): boolean {
    return this.pos > this.end;
  }

  check(): void {
    if (this.pos > this.end) fail("frame truncated (read past the end)");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Huffman decoding tables: a 2-level lookup (9 bits, then the remaining bits of the longest code of the prefix).
// Leaf: (symbol << 5) | length; link: ~((offset << 5) | subBits).

const PRIMARY_BITS = 9;

function buildHuffmanDecoder(book: HuffmanBook): Int32Array {
  const P = PRIMARY_BITS;
  const n = book.len.length;
  const subBits = new Map<number, number>();
  for (let s = 0; s < n; s++) {
    const L = book.len[s]!;
    if (L > P) {
      const top = book.code[s]! >>> (L - P);
      subBits.set(top, Math.max(subBits.get(top) ?? 0, L - P));
    }
  }
  let size = 1 << P;
  const offsets = new Map<number, number>();
  for (const [top, sb] of subBits) {
    offsets.set(top, size);
    size += 1 << sb;
  }
  // Unfilled slots (none for a complete code) decode as symbol 0 consuming the primary bits.
  const t = new Int32Array(size).fill(P);
  for (const [top, sb] of subBits) t[top] = ~((offsets.get(top)! << 5) | sb);
  for (let s = 0; s < n; s++) {
    const L = book.len[s]!;
    const c = book.code[s]!;
    if (L <= P) {
      const base = c << (P - L);
      for (let j = 0; j < 1 << (P - L); j++) t[base + j] = (s << 5) | L;
    } else {
      const top = c >>> (L - P);
      const sb = subBits.get(top)!;
      const low = c & ((1 << (L - P)) - 1);
      const base = offsets.get(top)! + (low << (sb - (L - P)));
      for (let j = 0; j < 1 << (sb - (L - P)); j++) t[base + j] = (s << 5) | L;
    }
  }
  return t;
}

let scfTable: Int32Array | undefined;
let specTables: Int32Array[] | undefined;

function tables(): { scf: Int32Array; spec: Int32Array[] } {
  if (!scfTable || !specTables) {
    scfTable = buildHuffmanDecoder(SCF_BOOK);
    specTables = SPECTRUM_BOOKS.map((b, i) => (i === 0 ? new Int32Array(0) : buildHuffmanDecoder(b)));
  }
  return { scf: scfTable, spec: specTables };
}

function huffDecode(br: Bits, t: Int32Array): number {
  let e = t[br.peek(PRIMARY_BITS)]!;
  if (e >= 0) {
    br.pos += e & 31;
    return e >> 5;
  }
  const x = ~e;
  const sb = x & 31;
  e = t[(x >> 5) + (br.peek(PRIMARY_BITS + sb) & ((1 << sb) - 1))]!;
  br.pos += e & 31;
  return e >> 5;
}

// ---------------------------------------------------------------------------------------------------------
// Shared constant tables

/** |q|^(4/3) for q in 0..8191. */
const POW43 = (() => {
  const t = new Float32Array(8192);
  for (let i = 0; i < 8192; i++) t[i] = Math.pow(i, 4 / 3);
  return t;
})();

interface Windows {
  longRise: [Float32Array, Float32Array]; // [sine, kbd], 1024 values
  shortRise: [Float32Array, Float32Array]; // 128 values
}

let windowsCache: Windows | undefined;

function windows(): Windows {
  if (!windowsCache) {
    windowsCache = {
      longRise: [Float32Array.from(windowRisingHalf(2048, false)), Float32Array.from(windowRisingHalf(2048, true))],
      shortRise: [Float32Array.from(windowRisingHalf(256, false)), Float32Array.from(windowRisingHalf(256, true))],
    };
  }
  return windowsCache;
}

// ---------------------------------------------------------------------------------------------------------
// Per-channel state

interface IcsInfo {
  windowSequence: number;
  windowShape: number;
  maxSfb: number;
  numWindows: number;
  numWindowGroups: number;
  groupLength: Uint8Array; // per group
  swb: Uint16Array; // band offsets for this window type
  numSwb: number;
}

function newIcsInfo(): IcsInfo {
  return {
    windowSequence: 0, windowShape: 0, maxSfb: 0, numWindows: 1, numWindowGroups: 1,
    groupLength: new Uint8Array(8), swb: new Uint16Array(1), numSwb: 0,
  };
}

function copyIcsInfo(dst: IcsInfo, src: IcsInfo): void {
  dst.windowSequence = src.windowSequence;
  dst.windowShape = src.windowShape;
  dst.maxSfb = src.maxSfb;
  dst.numWindows = src.numWindows;
  dst.numWindowGroups = src.numWindowGroups;
  dst.groupLength.set(src.groupLength);
  dst.swb = src.swb;
  dst.numSwb = src.numSwb;
}

const MAX_BANDS = 8 * 64;

class ChannelState {
  readonly ics = newIcsInfo();
  /** Codebook per (group, sfb): index g * 64 + sfb. */
  readonly cb = new Uint8Array(MAX_BANDS);
  /** Scalefactor / intensity position / noise energy per (group, sfb). */
  readonly sf = new Int32Array(MAX_BANDS);
  /** Quantized values, window-major (w * 128 + k for short windows). */
  readonly q = new Int32Array(1024);
  /** Dequantized spectrum, same layout. */
  readonly spec = new Float32Array(1024);
  readonly overlap = new Float32Array(1024);
  prevWindowShape = 0;
  // TNS
  tnsPresent = false;
  readonly tnsNFilt = new Uint8Array(8);
  readonly tnsCoefRes = new Uint8Array(8);
  readonly tnsLength = new Uint8Array(8 * 3);
  readonly tnsOrder = new Uint8Array(8 * 3);
  readonly tnsDirection = new Uint8Array(8 * 3);
  readonly tnsCoefCompress = new Uint8Array(8 * 3);
  readonly tnsCoef = new Int8Array(8 * 3 * 32);
  // pulse
  pulsePresent = false;
  pulseCount = 0;
  pulseStartSfb = 0;
  readonly pulseOffset = new Uint8Array(4);
  readonly pulseAmp = new Uint8Array(4);
  globalGain = 0;
}

export interface AacDecodeResult {
  /** Planar PCM, one Float32Array of 1024 samples per output channel; buffers are reused by the next call. */
  pcm: Float32Array[];
  /** False when the frame was concealed (corrupt or unsupported); `pcm` is then the concealment. */
  ok: boolean;
  error?: string;
}

export interface AacDecoderInfo {
  sampleRate: number;
  channels: number;
  /** Why the configuration cannot be decoded (then every frame is concealed as silence). */
  configError?: string;
}

/** Counts the channels of a program_config_element (4.4.1.1) embedded in a GASpecificConfig. */
function pceChannels(br: Bits): number {
  br.skip(4 + 2 + 4);
  const front = br.read(4);
  const side = br.read(4);
  const back = br.read(4);
  const lfe = br.read(2);
  const assoc = br.read(3);
  const cc = br.read(4);
  if (br.bit()) br.skip(4);
  if (br.bit()) br.skip(4);
  if (br.bit()) br.skip(3);
  let ch = 0;
  for (let i = 0; i < front + side + back; i++) {
    ch += br.bit() ? 2 : 1;
    br.skip(4);
  }
  br.skip(lfe * 4 + assoc * 4 + cc * 5);
  br.align();
  const comment = br.read(8);
  br.skip(comment * 8);
  return ch + lfe;
}

export class AacDecoder {
  readonly sampleRate: number;
  readonly channels: number;
  readonly configError: string | undefined;
  private readonly samplingIndex: number;
  private readonly swb: SwbInfo;
  private readonly br = new Bits();
  private readonly chans: ChannelState[] = [];
  private readonly out: Float32Array[] = [];
  private readonly mdctLong = new Mdct(2048);
  private readonly mdctShort = new Mdct(256);
  private readonly buf = new Float64Array(2048);
  private readonly shortBuf = new Float64Array(256);
  private readonly tnsLpc = new Float64Array(33);
  private readonly tnsTmp = new Float64Array(33);
  private readonly cceState = new ChannelState();
  private readonly tabs = tables();
  private readonly win = windows();
  private noiseSeed = 0x1f2e3d4c;
  /** Channels written by the current frame. */
  private chanCursor = 0;

  /** `config`: the AudioSpecificConfig bytes (or parsed). Never throws: see `configError`. */
  constructor(config: Uint8Array | AudioSpecificConfig) {
    let asc: AudioSpecificConfig | undefined;
    let err: string | undefined;
    let channels = 2;
    try {
      asc = config instanceof Uint8Array ? parseAudioSpecificConfig(config) : config;
      if (asc.objectType !== 2 && asc.objectType !== 1 && asc.objectType !== 4) {
        err = `audio object type ${asc.objectType} is not AAC-LC`;
      } else if (asc.frameLengthFlag) {
        err = "960-sample frames are not supported";
      }
      channels = asc.channels;
      if (asc.channelConfig === 0 && config instanceof Uint8Array) {
        // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder (+14), extensionFlag, then the PCE.
        const br = new Bits();
        br.reset(config);
        br.skip(5 + 4 + (asc.samplingIndex === 15 ? 24 : 0) + 4);
        br.skip(1);
        if (br.bit()) br.skip(14);
        br.skip(1);
        channels = pceChannels(br);
        if (br.overrun) channels = 0;
      }
      if (channels < 1 || channels > 48) {
        if (!err) err = `unsupported channel layout (${channels} channels)`;
        channels = 2;
      }
    } catch (e) {
      err = `bad AudioSpecificConfig: ${(e as Error).message}`;
    }
    this.configError = err;
    this.sampleRate = asc && asc.sampleRate > 0 ? asc.sampleRate : 44100;
    this.samplingIndex = asc ? asc.samplingIndex : 4;
    this.channels = channels;
    this.swb = swbInfo(this.samplingIndex, this.sampleRate);
    for (let c = 0; c < channels; c++) {
      this.chans.push(new ChannelState());
      this.out.push(new Float32Array(1024));
    }
  }

  get info(): AacDecoderInfo {
    const i: AacDecoderInfo = { sampleRate: this.sampleRate, channels: this.channels };
    if (this.configError) i.configError = this.configError;
    return i;
  }

  /** Decode one raw_data_block. Never throws. */
  decode(frame: Uint8Array): AacDecodeResult {
    if (this.configError) {
      for (const o of this.out) o.fill(0);
      return { pcm: this.out, ok: false, error: this.configError };
    }
    try {
      this.decodeBlock(frame);
      // Guard against non-finite output (cannot happen with in-range scalefactors; cheap insurance).
      for (const o of this.out) {
        let s = 0;
        for (let i = 0; i < 1024; i += 8) s += o[i]!;
        if (!Number.isFinite(s)) fail("non-finite output");
      }
      return { pcm: this.out, ok: true };
    } catch (e) {
      this.conceal();
      return { pcm: this.out, ok: false, error: e instanceof AacDecodeError ? e.message : `internal: ${String(e)}` };
    }
  }

  /** Output for a frame that is lost or corrupt: the previous frame's windowed tail, then silence. */
  conceal(): void {
    for (let c = 0; c < this.channels; c++) {
      const st = this.chans[c]!;
      const o = this.out[c]!;
      let finite = true;
      for (let i = 0; i < 1024; i++) if (!Number.isFinite(st.overlap[i]!)) finite = false;
      if (finite) o.set(st.overlap);
      else o.fill(0);
      st.overlap.fill(0);
    }
  }

  /** PCM for one lost frame (conceal()), in the buffers decode() returns. */
  concealFrame(): Float32Array[] {
    this.conceal();
    return this.out;
  }

  /** Forget the filterbank state (after a discontinuity). */
  reset(): void {
    for (const st of this.chans) {
      st.overlap.fill(0);
      st.prevWindowShape = 0;
    }
  }

  private decodeBlock(frame: Uint8Array): void {
    const br = this.br;
    br.reset(frame);
    this.chanCursor = 0;
    let elements = 0;
    for (;;) {
      if (br.pos + 3 > br.end) fail("missing ID_END");
      const id = br.read(3);
      if (id === 7) break; // ID_END
      if (++elements > 64) fail("too many syntax elements");
      switch (id) {
        case 0: // SCE
        case 3: { // LFE
          br.skip(4);
          const ch = this.nextChannels(1);
          const st = this.chans[ch]!;
          this.individualChannelStream(st, false);
          this.reconstructChannel(st);
          this.filterbank(st, this.out[ch]!);
          break;
        }
        case 1: { // CPE
          br.skip(4);
          const ch = this.nextChannels(2);
          this.channelPair(this.chans[ch]!, this.chans[ch + 1]!);
          this.filterbank(this.chans[ch]!, this.out[ch]!);
          this.filterbank(this.chans[ch + 1]!, this.out[ch + 1]!);
          break;
        }
        case 2: // CCE: parsed to find the next element, not applied
          this.couplingChannelElement();
          break;
        case 4: { // DSE
          br.skip(4);
          const align = br.bit();
          let cnt = br.read(8);
          if (cnt === 255) cnt += br.read(8);
          if (align) br.align();
          br.skip(cnt * 8);
          break;
        }
        case 5: // PCE
          pceChannels(br);
          break;
        case 6: { // FIL
          let cnt = br.read(4);
          if (cnt === 15) cnt += br.read(8) - 1;
          br.skip(cnt * 8);
          break;
        }
      }
      br.check();
    }
    br.check();
    if (this.chanCursor < this.channels) {
      if (this.chanCursor === 0) fail("no audio element in frame");
      // Fewer channels than configured (e.g. an SCE in a stereo stream): duplicate the last decoded channel.
      for (let c = this.chanCursor; c < this.channels; c++) this.out[c]!.set(this.out[this.chanCursor - 1]!);
    }
  }

  private nextChannels(n: number): number {
    const c = this.chanCursor;
    if (c + n > this.channels) fail("more channels in the frame than in the configuration");
    this.chanCursor += n;
    return c;
  }

  // -------------------------------------------------------------------------------------------------------
  // Syntax

  private icsInfo(ics: IcsInfo): void {
    const br = this.br;
    br.skip(1); // ics_reserved_bit
    ics.windowSequence = br.read(2);
    ics.windowShape = br.bit();
    if (ics.windowSequence === EIGHT_SHORT_SEQUENCE) {
      ics.maxSfb = br.read(4);
      const grouping = br.read(7);
      ics.numWindows = 8;
      ics.numWindowGroups = 1;
      ics.groupLength.fill(0);
      ics.groupLength[0] = 1;
      for (let i = 0; i < 7; i++) {
        if (grouping & (1 << (6 - i))) ics.groupLength[ics.numWindowGroups - 1]!++;
        else ics.groupLength[ics.numWindowGroups++] = 1;
      }
      ics.swb = this.swb.short;
    } else {
      ics.maxSfb = br.read(6);
      if (br.bit()) fail("predictor_data_present (AAC Main prediction) is not supported");
      ics.numWindows = 1;
      ics.numWindowGroups = 1;
      ics.groupLength.fill(0);
      ics.groupLength[0] = 1;
      ics.swb = this.swb.long;
    }
    ics.numSwb = ics.swb.length - 1;
    if (ics.maxSfb > ics.numSwb) fail(`max_sfb ${ics.maxSfb} > num_swb ${ics.numSwb}`);
  }

  private channelPair(l: ChannelState, r: ChannelState): void {
    const br = this.br;
    const common = br.bit();
    let msMask = 0;
    const ms = this.msUsed;
    if (common) {
      this.icsInfo(l.ics);
      copyIcsInfo(r.ics, l.ics);
      msMask = br.read(2);
      if (msMask === 3) fail("reserved ms_mask_present");
      if (msMask === 1) {
        for (let g = 0; g < l.ics.numWindowGroups; g++) {
          for (let sfb = 0; sfb < l.ics.maxSfb; sfb++) ms[g * 64 + sfb] = br.bit();
        }
      } else {
        ms.fill(msMask === 2 ? 1 : 0);
      }
    } else {
      ms.fill(0);
    }
    this.individualChannelStream(l, common === 1);
    this.individualChannelStream(r, common === 1);
    this.dequantize(l);
    this.dequantize(r);
    this.noise(l, null);
    if (common && msMask !== 0) this.noise(r, l);
    else this.noise(r, null);
    if (common) this.stereo(l, r, msMask);
    this.tns(l);
    this.tns(r);
  }

  private readonly msUsed = new Uint8Array(MAX_BANDS);

  private individualChannelStream(st: ChannelState, commonWindow: boolean): void {
    const br = this.br;
    const ics = st.ics;
    st.globalGain = br.read(8);
    if (!commonWindow) this.icsInfo(ics);
    this.sectionData(st);
    this.scaleFactorData(st);
    st.pulsePresent = br.bit() === 1;
    if (st.pulsePresent) {
      if (ics.windowSequence === EIGHT_SHORT_SEQUENCE) fail("pulse data in short windows");
      st.pulseCount = br.read(2) + 1;
      st.pulseStartSfb = br.read(6);
      if (st.pulseStartSfb > ics.numSwb) fail("pulse_start_sfb out of range");
      for (let i = 0; i < st.pulseCount; i++) {
        st.pulseOffset[i] = br.read(5);
        st.pulseAmp[i] = br.read(4);
      }
    }
    st.tnsPresent = br.bit() === 1;
    if (st.tnsPresent) this.tnsData(st);
    if (br.bit()) fail("gain_control_data (AAC SSR) is not supported");
    this.spectralData(st);
    br.check();
    if (st.pulsePresent) {
      let k = ics.swb[st.pulseStartSfb]!;
      for (let i = 0; i < st.pulseCount; i++) {
        k += st.pulseOffset[i]!;
        if (k >= 1024) fail("pulse position out of range");
        const v = st.q[k]!;
        st.q[k] = v > 0 ? v + st.pulseAmp[i]! : v - st.pulseAmp[i]!;
      }
    }
  }

  private sectionData(st: ChannelState): void {
    const br = this.br;
    const ics = st.ics;
    const bits = ics.windowSequence === EIGHT_SHORT_SEQUENCE ? 3 : 5;
    const esc = (1 << bits) - 1;
    for (let g = 0; g < ics.numWindowGroups; g++) {
      let k = 0;
      while (k < ics.maxSfb) {
        const cb = br.read(4);
        if (cb === 12) fail("reserved codebook 12");
        let len = 0;
        for (;;) {
          const incr = br.read(bits);
          len += incr;
          if (incr !== esc) break;
          if (br.overrun) fail("section data truncated");
        }
        if (len === 0 && br.overrun) fail("section data truncated");
        if (k + len > ics.maxSfb) fail("section exceeds max_sfb");
        for (let s = k; s < k + len; s++) st.cb[g * 64 + s] = cb;
        k += len;
      }
    }
  }

  private scaleFactorData(st: ChannelState): void {
    const br = this.br;
    const ics = st.ics;
    const scf = this.tabs.scf;
    let sf = st.globalGain;
    let isPos = 0;
    let noiseNrg = st.globalGain - 90;
    let noisePcm = true;
    for (let g = 0; g < ics.numWindowGroups; g++) {
      for (let sfb = 0; sfb < ics.maxSfb; sfb++) {
        const i = g * 64 + sfb;
        const cb = st.cb[i]!;
        if (cb === ZERO_HCB) {
          st.sf[i] = 0;
        } else if (cb === INTENSITY_HCB || cb === INTENSITY_HCB2) {
          isPos += huffDecode(br, scf) - 60;
          st.sf[i] = isPos;
        } else if (cb === NOISE_HCB) {
          if (noisePcm) {
            noisePcm = false;
            noiseNrg += br.read(9) - 256;
          } else {
            noiseNrg += huffDecode(br, scf) - 60;
          }
          st.sf[i] = noiseNrg;
        } else {
          sf += huffDecode(br, scf) - 60;
          if (sf < 0 || sf > 255) fail(`scalefactor ${sf} out of range`);
          st.sf[i] = sf;
        }
      }
    }
    if (isPos < -155 || isPos > 155 || noiseNrg < -200 || noiseNrg > 400) fail("intensity/noise scalefactor out of range");
  }

  private tnsData(st: ChannelState): void {
    const br = this.br;
    const short = st.ics.windowSequence === EIGHT_SHORT_SEQUENCE;
    const maxOrder = short ? 7 : 12;
    for (let w = 0; w < st.ics.numWindows; w++) {
      const nf = br.read(short ? 1 : 2);
      st.tnsNFilt[w] = nf;
      if (nf === 0) continue;
      st.tnsCoefRes[w] = br.bit();
      for (let f = 0; f < nf; f++) {
        const j = w * 3 + f;
        st.tnsLength[j] = br.read(short ? 4 : 6);
        const order = br.read(short ? 3 : 5);
        if (order > maxOrder) fail(`TNS order ${order} > ${maxOrder}`);
        st.tnsOrder[j] = order;
        if (order) {
          st.tnsDirection[j] = br.bit();
          st.tnsCoefCompress[j] = br.bit();
          const coefBits = st.tnsCoefRes[w]! + 3 - st.tnsCoefCompress[j]!;
          for (let i = 0; i < order; i++) {
            const v = br.read(coefBits);
            // two's complement in coefBits
            st.tnsCoef[j * 32 + i] = v >= 1 << (coefBits - 1) ? v - (1 << coefBits) : v;
          }
        }
      }
    }
  }

  private spectralData(st: ChannelState): void {
    const br = this.br;
    const ics = st.ics;
    const q = st.q;
    q.fill(0);
    const swb = ics.swb;
    const spec = this.tabs.spec;
    let win = 0;
    for (let g = 0; g < ics.numWindowGroups; g++) {
      const glen = ics.groupLength[g]!;
      for (let sfb = 0; sfb < ics.maxSfb; sfb++) {
        const cb = st.cb[g * 64 + sfb]!;
        if (cb === ZERO_HCB || cb > ESC_HCB) continue;
        const t = spec[cb]!;
        const dim = BOOK_DIM[cb]!;
        const unsigned = BOOK_UNSIGNED[cb]!;
        const mod = BOOK_MOD[cb]!;
        const off = unsigned ? 0 : (mod - 1) >> 1;
        const start = swb[sfb]!;
        const end = swb[sfb + 1]!;
        for (let w = 0; w < glen; w++) {
          const base = (win + w) * 128;
          for (let k = start; k < end; k += dim) {
            const idx = huffDecode(br, t);
            if (dim === 4) {
              let a = ((idx / 27) | 0) - off;
              let b = (((idx / 9) | 0) % 3) - off;
              let c = (((idx / 3) | 0) % 3) - off;
              let d = (idx % 3) - off;
              if (unsigned) {
                if (a && br.bit()) a = -a;
                if (b && br.bit()) b = -b;
                if (c && br.bit()) c = -c;
                if (d && br.bit()) d = -d;
              }
              const p = base + k;
              q[p] = a;
              q[p + 1] = b;
              q[p + 2] = c;
              q[p + 3] = d;
            } else {
              let a = ((idx / mod) | 0) - off;
              let b = (idx % mod) - off;
              if (unsigned) {
                if (a && br.bit()) a = -a;
                if (b && br.bit()) b = -b;
              }
              if (cb === ESC_HCB) {
                if (a === 16 || a === -16) a = a > 0 ? this.escape(br) : -this.escape(br);
                if (b === 16 || b === -16) b = b > 0 ? this.escape(br) : -this.escape(br);
              }
              const p = base + k;
              q[p] = a;
              q[p + 1] = b;
            }
          }
          if (br.overrun) fail("spectral data truncated");
        }
      }
      win += glen;
    }
  }

  private escape(br: Bits): number {
    let n = 0;
    while (br.bit()) {
      if (++n > 8) fail("escape sequence too long");
    }
    return (1 << (n + 4)) + br.read(n + 4);
  }

  private couplingChannelElement(): void {
    const br = this.br;
    br.skip(4);
    const indSw = br.bit();
    const numCoupled = br.read(3);
    let gainLists = 0;
    for (let c = 0; c <= numCoupled; c++) {
      gainLists++;
      const isCpe = br.bit();
      br.skip(4);
      if (isCpe) {
        const l = br.bit();
        const r = br.bit();
        if (l && r) gainLists++;
      }
    }
    br.skip(1 + 1 + 2); // cc_domain, gain_element_sign, gain_element_scale
    const st = this.cceState;
    this.individualChannelStream(st, false);
    const scf = this.tabs.scf;
    for (let c = 1; c < gainLists; c++) {
      const cge = indSw ? 1 : br.bit();
      if (cge) {
        huffDecode(br, scf);
      } else {
        for (let g = 0; g < st.ics.numWindowGroups; g++) {
          for (let sfb = 0; sfb < st.ics.maxSfb; sfb++) {
            if (st.cb[g * 64 + sfb] !== ZERO_HCB) huffDecode(br, scf);
          }
        }
      }
      br.check();
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Reconstruction

  private reconstructChannel(st: ChannelState): void {
    this.dequantize(st);
    this.noise(st, null);
    this.tns(st);
  }

  private dequantize(st: ChannelState): void {
    const ics = st.ics;
    const spec = st.spec;
    const q = st.q;
    spec.fill(0);
    const swb = ics.swb;
    let win = 0;
    for (let g = 0; g < ics.numWindowGroups; g++) {
      const glen = ics.groupLength[g]!;
      for (let sfb = 0; sfb < ics.maxSfb; sfb++) {
        const cb = st.cb[g * 64 + sfb]!;
        if (cb === ZERO_HCB || cb > ESC_HCB) continue;
        const gain = Math.pow(2, 0.25 * (st.sf[g * 64 + sfb]! - 100));
        const start = swb[sfb]!;
        const end = swb[sfb + 1]!;
        for (let w = 0; w < glen; w++) {
          const base = (win + w) * 128;
          for (let k = base + start; k < base + end; k++) {
            const v = q[k]!;
            if (v === 0) continue;
            spec[k] = v > 0 ? POW43[v]! * gain : -POW43[-v]! * gain;
          }
        }
      }
      win += glen;
    }
  }

  private nextRandom(): number {
    // 32-bit LCG (Numerical Recipes constants); a uniform value in [-1, 1)
    this.noiseSeed = (Math.imul(this.noiseSeed, 1664525) + 1013904223) | 0;
    return this.noiseSeed / 2147483648;
  }

  /**
   * Perceptual noise substitution (4.6.13): noise bands get random values scaled to the energy 2^(noise_nrg/2).
   * With `left` given (a CPE with M/S signalled), bands that are noise in both channels and flagged in ms_used
   * reuse the left channel's noise vector (correlated noise).
   */
  private noise(st: ChannelState, left: ChannelState | null): void {
    const ics = st.ics;
    const swb = ics.swb;
    const spec = st.spec;
    let win = 0;
    for (let g = 0; g < ics.numWindowGroups; g++) {
      const glen = ics.groupLength[g]!;
      for (let sfb = 0; sfb < ics.maxSfb; sfb++) {
        const i = g * 64 + sfb;
        if (st.cb[i] !== NOISE_HCB) continue;
        const start = swb[sfb]!;
        const end = swb[sfb + 1]!;
        const copy = left !== null && left.cb[i] === NOISE_HCB && this.msUsed[i] === 1;
        const gain = Math.pow(2, 0.25 * st.sf[i]!);
        for (let w = 0; w < glen; w++) {
          const base = (win + w) * 128;
          let energy = 0;
          for (let k = base + start; k < base + end; k++) {
            const r = copy ? left.spec[k]! : this.nextRandom();
            spec[k] = r;
            energy += r * r;
          }
          const s = energy > 0 ? gain / Math.sqrt(energy) : 0;
          for (let k = base + start; k < base + end; k++) spec[k] = spec[k]! * s;
        }
      }
      win += glen;
    }
  }

  /** M/S (4.6.8.1) and intensity stereo (4.6.8.2.3) of a CPE with a common window. */
  private stereo(l: ChannelState, r: ChannelState, msMask: number): void {
    const ics = l.ics;
    const swb = ics.swb;
    const L = l.spec;
    const R = r.spec;
    let win = 0;
    for (let g = 0; g < ics.numWindowGroups; g++) {
      const glen = ics.groupLength[g]!;
      for (let sfb = 0; sfb < ics.maxSfb; sfb++) {
        const i = g * 64 + sfb;
        const rcb = r.cb[i]!;
        const start = swb[sfb]!;
        const end = swb[sfb + 1]!;
        if (rcb === INTENSITY_HCB || rcb === INTENSITY_HCB2) {
          let sign = rcb === INTENSITY_HCB ? 1 : -1;
          // The spec's invert_intensity() looks at ms_used only for ms_mask_present 1; FFmpeg's encoder writes
          // ms_mask_present 2 (all bands) with intensity bands and expects them inverted too (as its decoder
          // does), so any set ms_used bit inverts here. Streams from other encoders rarely combine the two.
          if (msMask !== 0 && this.msUsed[i]) sign = -sign;
          const scale = sign * Math.pow(0.5, 0.25 * r.sf[i]!);
          for (let w = 0; w < glen; w++) {
            const base = (win + w) * 128;
            for (let k = base + start; k < base + end; k++) R[k] = L[k]! * scale;
          }
        } else if (msMask !== 0 && this.msUsed[i] && rcb !== NOISE_HCB && l.cb[i] !== NOISE_HCB) {
          for (let w = 0; w < glen; w++) {
            const base = (win + w) * 128;
            for (let k = base + start; k < base + end; k++) {
              const m = L[k]!;
              const s = R[k]!;
              L[k] = m + s;
              R[k] = m - s;
            }
          }
        }
      }
      win += glen;
    }
  }

  /** TNS decoding (4.6.9.3): all-pole filtering of the spectral regions of each window. */
  private tns(st: ChannelState): void {
    if (!st.tnsPresent) return;
    const ics = st.ics;
    const short = ics.windowSequence === EIGHT_SHORT_SEQUENCE;
    const tnsMax = short ? this.swb.tnsMaxBandsShort : this.swb.tnsMaxBandsLong;
    const lim = Math.min(tnsMax, ics.maxSfb);
    const swb = ics.swb;
    const spec = st.spec;
    const lpc = this.tnsLpc;
    const tmp = this.tnsTmp;
    for (let w = 0; w < ics.numWindows; w++) {
      let bottom = ics.numSwb;
      const base = w * (short ? 128 : 0);
      for (let f = 0; f < st.tnsNFilt[w]!; f++) {
        const j = w * 3 + f;
        const top = bottom;
        bottom = Math.max(top - st.tnsLength[j]!, 0);
        const order = st.tnsOrder[j]!;
        if (order === 0) continue;
        // coefficients -> reflection coefficients -> LPC (step-up)
        const res = st.tnsCoefRes[w]! + 3;
        const iqfac = ((1 << (res - 1)) - 0.5) / (Math.PI / 2);
        const iqfacM = ((1 << (res - 1)) + 0.5) / (Math.PI / 2);
        lpc[0] = 1;
        for (let m = 1; m <= order; m++) {
          const c = st.tnsCoef[j * 32 + m - 1]!;
          const k = Math.sin(c / (c >= 0 ? iqfac : iqfacM));
          for (let i = 1; i < m; i++) tmp[i] = lpc[i]! + k * lpc[m - i]!;
          for (let i = 1; i < m; i++) lpc[i] = tmp[i]!;
          lpc[m] = k;
        }
        const start = swb[Math.min(bottom, lim)]!;
        const end = swb[Math.min(top, lim)]!;
        const size = end - start;
        if (size <= 0) continue;
        if (st.tnsDirection[j]) {
          // downward: y[n] = x[n] - sum lpc[i] y[n + i]
          for (let n = end - 1; n >= start; n--) {
            let y = spec[base + n]!;
            for (let i = 1; i <= order && n + i < end; i++) y -= lpc[i]! * spec[base + n + i]!;
            spec[base + n] = y;
          }
        } else {
          for (let n = start; n < end; n++) {
            let y = spec[base + n]!;
            for (let i = 1; i <= order && n - i >= start; i++) y -= lpc[i]! * spec[base + n - i]!;
            spec[base + n] = y;
          }
        }
      }
    }
  }

  /** IMDCT, windowing and overlap-add (4.6.11) into `out` (scaled to [-1, 1]). */
  private filterbank(st: ChannelState, out: Float32Array): void {
    const ics = st.ics;
    const buf = this.buf;
    const seq = ics.windowSequence;
    const cur = ics.windowShape;
    const prev = st.prevWindowShape;
    const { longRise, shortRise } = this.win;
    const ov = st.overlap;
    if (seq === EIGHT_SHORT_SEQUENCE) {
      buf.fill(0);
      const sb = this.shortBuf;
      const scale = 2 / 256 / 32768;
      for (let j = 0; j < 8; j++) {
        this.mdctShort.inverse(st.spec, j * 128, sb, 0, scale);
        const left = shortRise[j === 0 ? prev : cur]!;
        const right = shortRise[cur]!;
        const o = 448 + 128 * j;
        for (let n = 0; n < 128; n++) buf[o + n] = buf[o + n]! + sb[n]! * left[n]!;
        for (let n = 0; n < 128; n++) buf[o + 128 + n] = buf[o + 128 + n]! + sb[128 + n]! * right[127 - n]!;
      }
    } else {
      this.mdctLong.inverse(st.spec, 0, buf, 0, 2 / 2048 / 32768);
      // left half
      if (seq === LONG_STOP_SEQUENCE) {
        const sl = shortRise[prev]!;
        for (let n = 0; n < 448; n++) buf[n] = 0;
        for (let n = 0; n < 128; n++) buf[448 + n] = buf[448 + n]! * sl[n]!;
      } else {
        const ll = longRise[prev]!;
        for (let n = 0; n < 1024; n++) buf[n] = buf[n]! * ll[n]!;
      }
      // right half
      if (seq === LONG_START_SEQUENCE) {
        const sr = shortRise[cur]!;
        for (let n = 0; n < 128; n++) buf[1472 + n] = buf[1472 + n]! * sr[127 - n]!;
        for (let n = 1600; n < 2048; n++) buf[n] = 0;
      } else {
        const lr = longRise[cur]!;
        for (let n = 0; n < 1024; n++) buf[1024 + n] = buf[1024 + n]! * lr[1023 - n]!;
      }
    }
    for (let n = 0; n < 1024; n++) {
      out[n] = buf[n]! + ov[n]!;
      ov[n] = buf[1024 + n]!;
    }
    st.prevWindowShape = cur;
  }
}
