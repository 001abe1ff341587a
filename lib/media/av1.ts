/**
 * AV1CodecConfigurationRecord ('av1C', AV1 Codec ISO Media File Format Binding 2.3.3): the fixed 4 bytes
 * and the trailing configOBUs.
 */

export class Av1Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Av1Error";
  }
}

export interface Av1Config {
  version: number;
  seqProfile: number;
  seqLevelIdx0: number;
  seqTier0: number;
  highBitdepth: boolean;
  twelveBit: boolean;
  monochrome: boolean;
  chromaSubsamplingX: number;
  chromaSubsamplingY: number;
  chromaSamplePosition: number;
  /** initial_presentation_delay_minus_one + 1, when present. */
  initialPresentationDelay?: number;
  /** Sequence header (and metadata) OBUs, a subarray of the input. */
  configObus: Uint8Array;
}

export function parseAv1Config(data: Uint8Array): Av1Config {
  if (data.length < 4) throw new Av1Error(`av1C: too short (${data.length} bytes)`);
  const b0 = data[0]!;
  if ((b0 & 0x80) === 0) throw new Av1Error("av1C: marker bit not set");
  const version = b0 & 0x7f;
  if (version !== 1) throw new Av1Error(`av1C: unsupported version ${version}`);
  const b1 = data[1]!;
  const b2 = data[2]!;
  const b3 = data[3]!;
  const cfg: Av1Config = {
    version,
    seqProfile: b1 >> 5,
    seqLevelIdx0: b1 & 0x1f,
    seqTier0: b2 >> 7,
    highBitdepth: ((b2 >> 6) & 1) === 1,
    twelveBit: ((b2 >> 5) & 1) === 1,
    monochrome: ((b2 >> 4) & 1) === 1,
    chromaSubsamplingX: (b2 >> 3) & 1,
    chromaSubsamplingY: (b2 >> 2) & 1,
    chromaSamplePosition: b2 & 3,
    configObus: data.subarray(4),
  };
  if (b3 & 0x10) cfg.initialPresentationDelay = (b3 & 0x0f) + 1;
  return cfg;
}

export function buildAv1Config(c: Omit<Av1Config, "version" | "configObus"> & { configObus?: Uint8Array }): Uint8Array {
  const obus = c.configObus ?? new Uint8Array(0);
  const out = new Uint8Array(4 + obus.length);
  out[0] = 0x81;
  out[1] = ((c.seqProfile & 7) << 5) | (c.seqLevelIdx0 & 0x1f);
  out[2] = ((c.seqTier0 & 1) << 7) | (c.highBitdepth ? 0x40 : 0) | (c.twelveBit ? 0x20 : 0) | (c.monochrome ? 0x10 : 0) |
    ((c.chromaSubsamplingX & 1) << 3) | ((c.chromaSubsamplingY & 1) << 2) | (c.chromaSamplePosition & 3);
  out[3] = c.initialPresentationDelay !== undefined ? 0x10 | ((c.initialPresentationDelay - 1) & 0x0f) : 0;
  out.set(obus, 4);
  return out;
}

/** Codec string "av01.P.LLT.DD" (AV1 ISOBMFF binding, Codecs Parameter String). */
export function av1CodecString(c: Av1Config): string {
  const depth = c.highBitdepth ? (c.twelveBit ? 12 : 10) : 8;
  return `av01.${c.seqProfile}.${String(c.seqLevelIdx0).padStart(2, "0")}${c.seqTier0 ? "H" : "M"}.${String(depth).padStart(2, "0")}`;
}
