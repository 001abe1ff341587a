/**
 * Opus encoder/decoder on opusscript (libopus 1.4 compiled to WebAssembly, MIT/BSD), at 48 kHz, mono or stereo,
 * planar Float32 PCM in and out.
 *
 * Loading: opusscript's own index.js reads its .wasm next to itself through __dirname, which does not exist inside a
 * `bun build --compile` executable. So this module instantiates the Emscripten glue itself and hands it the wasm
 * bytes (`wasmBinary`): under Bun through static `require`s, which the bundler follows — the glue is bundled and the
 * .wasm is embedded as a file on the executable's virtual file system; elsewhere (Deno, Node) through
 * createRequire + require.resolve from node_modules. The module is instantiated once, on first use, synchronously.
 *
 * Loss: `decode(null)` (a lost packet) runs libopus's packet loss concealment for one frame of the last packet's
 * duration (a 1-byte packet holding only the last TOC with frame count code 0 is a zero-length frame, which libopus
 * conceals; opusscript's plain lost-packet call would conceal 120 ms at once). Invalid packets (odd TOC codes, junk)
 * are rejected by libopus and concealed the same way; nothing throws. Packets longer than 60 ms are concealed too
 * (opusscript's native decode corrupts its heap when writing more than 2880 samples per channel).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

interface OpusHandler {
  _encode(inPtr: number, samples: number, outPtr: number, frameSize: number): number;
  _decode(inPtr: number, bytes: number, outPtr: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
  _decoder_ctl(ctl: number, arg: number): number;
}

interface OpusNative {
  OpusScriptHandler: { new (rate: number, channels: number, application: number): OpusHandler; destroy_handler(h: OpusHandler): void };
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
  HEAP16: Int16Array;
}

type Factory = (m: { wasmBinary: Uint8Array }) => OpusNative;

let native: OpusNative | undefined;

function loadNative(): OpusNative {
  if (native) return native;
  let factory: Factory;
  let wasm: Uint8Array;
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) {
    // Literal specifiers on purpose: `bun build` bundles the glue and embeds the wasm (file loader -> its path).
    factory = require("opusscript/build/opusscript_native_wasm.js") as Factory;
    const wasmPath = require("opusscript/build/opusscript_native_wasm.wasm") as string | { default: string };
    wasm = readFileSync(typeof wasmPath === "string" ? wasmPath : wasmPath.default);
  } else {
    const req = createRequire(import.meta.url);
    factory = req("opusscript/build/opusscript_native_wasm.js") as Factory;
    wasm = readFileSync(req.resolve("opusscript/build/opusscript_native_wasm.wasm"));
  }
  native = factory({ wasmBinary: wasm });
  return native;
}

/** Whether the Opus WebAssembly module loads here (it is loaded on first use otherwise). */
export function opusAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

export const OPUS_APPLICATION_VOIP = 2048;
export const OPUS_APPLICATION_AUDIO = 2049;
export const OPUS_APPLICATION_RESTRICTED_LOWDELAY = 2051;
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;

const MAX_FRAME = 5760; // 120 ms at 48 kHz: what opusscript's decoder may write
const MAX_PACKET = 4000;
/** Bytes of the PCM buffers: opusscript spreads each s16le byte over a 16-bit slot (4 bytes per sample and channel). */
const PCM_BYTES = MAX_FRAME * 2 * 4 * 2;

export interface OpusEncoderOptions {
  channels: 1 | 2;
  /** Bits per second (default 64000 stereo, 32000 mono). */
  bitrate?: number;
  /** 0..10 (default 5: about half the CPU of 10, transparent enough for a bridge). */
  complexity?: number;
  application?: number;
  /** In-band FEC with this expected loss percentage (0 = off, the default). */
  packetLossPercent?: number;
}

/** Opus encoder at 48 kHz. */
export class OpusEncoder {
  readonly sampleRate = 48000;
  readonly channels: 1 | 2;
  private readonly m: OpusNative;
  private readonly h: OpusHandler;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private closed = false;

  constructor(o: OpusEncoderOptions) {
    this.channels = o.channels;
    this.m = loadNative();
    this.h = new this.m.OpusScriptHandler(48000, o.channels, o.application ?? OPUS_APPLICATION_AUDIO);
    this.inPtr = this.m._malloc(PCM_BYTES);
    this.outPtr = this.m._malloc(MAX_PACKET);
    this.setBitrate(o.bitrate ?? (o.channels === 2 ? 64000 : 32000));
    this.h._encoder_ctl(OPUS_SET_COMPLEXITY, Math.max(0, Math.min(10, o.complexity ?? 5)));
    if (o.packetLossPercent) {
      this.h._encoder_ctl(OPUS_SET_INBAND_FEC, 1);
      this.h._encoder_ctl(OPUS_SET_PACKET_LOSS_PERC, Math.min(100, o.packetLossPercent));
    }
  }

  setBitrate(bps: number): void {
    this.h._encoder_ctl(OPUS_SET_BITRATE, Math.max(6000, Math.min(510000, Math.round(bps))));
  }

  /**
   * Encode `frameSize` samples per channel (120, 240, 480, 960, 1920 or 2880) of planar PCM from `offset`.
   * Returns a new Uint8Array with the packet, or null if libopus refused (bad frame size).
   */
  encode(pcm: readonly Float32Array[], offset = 0, frameSize = 960): Uint8Array | null {
    if (this.closed || frameSize > 2880) return null;
    const C = this.channels;
    // opusscript's native side takes the s16le bytes one per 16-bit slot (as its index.js copies a Buffer into a
    // Uint16Array) and packs them itself. HEAP16 may be replaced when the wasm memory grows: read it per call.
    const heap = this.m.HEAP16;
    const base = this.inPtr >> 1;
    for (let c = 0; c < C; c++) {
      const src = pcm[Math.min(c, pcm.length - 1)]!;
      for (let i = 0; i < frameSize; i++) {
        let v = (src[offset + i] ?? 0) * 32768;
        v = v >= 32767 ? 32767 : v <= -32768 ? -32768 : v === v ? Math.round(v) : 0;
        const j = base + 2 * (i * C + c);
        heap[j] = v & 0xff;
        heap[j + 1] = (v >> 8) & 0xff;
      }
    }
    const len = this.h._encode(this.inPtr, frameSize * C * 2, this.outPtr, frameSize);
    if (len < 0) return null;
    return this.m.HEAPU8.slice(this.outPtr, this.outPtr + len);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.m.OpusScriptHandler.destroy_handler(this.h);
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
  }
}

export interface OpusDecodeResult {
  /** Planar PCM (reused buffers, valid until the next call); `samples` per channel are valid. */
  pcm: Float32Array[];
  samples: number;
  /** False when the packet was lost or rejected and the output is concealment. */
  ok: boolean;
}

/** Samples per channel at 48 kHz of an Opus packet (RFC 6716 3.1), or 0 when the packet is malformed. */
export function opusPacketSamples(p: Uint8Array): number {
  if (p.length < 1) return 0;
  const toc = p[0]!;
  const config = toc >> 3;
  let frame: number;
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3]!; // SILK
  else if (config < 16) frame = (config & 1) ? 960 : 480; // hybrid
  else frame = [120, 240, 480, 960][config & 3]!; // CELT
  const code = toc & 3;
  let count: number;
  if (code === 0) count = 1;
  else if (code === 3) {
    if (p.length < 2) return 0;
    count = p[1]! & 0x3f;
  } else count = 2;
  const total = frame * count;
  return count === 0 || total > 5760 ? 0 : total;
}

/** Opus decoder at 48 kHz with packet loss concealment. */
export class OpusDecoder {
  readonly sampleRate = 48000;
  readonly channels: 1 | 2;
  private readonly m: OpusNative;
  private readonly h: OpusHandler;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly out: Float32Array[] = [];
  /** TOC byte (code 0) and duration of the last good packet: the shape of a concealed frame. */
  private lastToc = 0xfc; // CELT FB 20 ms, code 0
  private lastSamples = 960;
  private closed = false;

  constructor(o: { channels: 1 | 2 }) {
    this.channels = o.channels;
    this.m = loadNative();
    this.h = new this.m.OpusScriptHandler(48000, o.channels, OPUS_APPLICATION_AUDIO);
    this.inPtr = this.m._malloc(MAX_PACKET);
    this.outPtr = this.m._malloc(PCM_BYTES);
    for (let c = 0; c < o.channels; c++) this.out.push(new Float32Array(MAX_FRAME));
  }

  /** Decode a packet, or conceal one lost frame when `packet` is null. Never throws. */
  decode(packet: Uint8Array | null): OpusDecodeResult {
    if (this.closed) return { pcm: this.out, samples: 0, ok: false };
    let n = -1;
    let ok = false;
    // Packets longer than 60 ms (legal up to 120 ms, unused by WebRTC) are treated as invalid: opusscript's native
    // decode corrupts its heap on outputs over 2880 samples per channel.
    const dur = packet ? opusPacketSamples(packet) : 0;
    if (packet && packet.length > 0 && packet.length <= MAX_PACKET && dur > 0 && dur <= 2880) {
      this.m.HEAPU8.set(packet, this.inPtr);
      n = this.h._decode(this.inPtr, packet.length, this.outPtr);
      if (n > 0) {
        ok = true;
        this.lastToc = packet[0]! & 0xfc;
        this.lastSamples = dur;
      }
    }
    if (!ok) {
      // Conceal: one zero-length frame shaped like the last packet, repeated to cover its duration.
      const frame = opusPacketSamples(Uint8Array.of(this.lastToc)) || 960;
      let total = 0;
      const heap8 = this.m.HEAPU8;
      heap8[this.inPtr] = this.lastToc;
      while (total < this.lastSamples) {
        const r = this.h._decode(this.inPtr, 1, this.outPtr + total * this.channels * 4);
        if (r <= 0) break;
        total += r;
        if (frame <= 0) break;
      }
      n = total;
    }
    const heap = this.m.HEAP16;
    const base = this.outPtr >> 1;
    const C = this.channels;
    if (n < 0) n = 0;
    for (let c = 0; c < C; c++) {
      const o = this.out[c]!;
      for (let i = 0; i < n; i++) {
        // one byte of the s16le output per 16-bit slot (see encode)
        const j = base + 2 * (i * C + c);
        o[i] = ((((heap[j + 1]! & 0xff) << 24) >> 16) | (heap[j]! & 0xff)) / 32768;
      }
    }
    return { pcm: this.out, samples: n, ok };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.m.OpusScriptHandler.destroy_handler(this.h);
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
  }
}
