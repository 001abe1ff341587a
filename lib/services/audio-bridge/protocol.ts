/**
 * Messages between the main thread (lib/services/audio-bridge/pool.ts) and the transcoding worker
 * (lib/services/audio-bridge/worker.ts). Structured-clone data only; packet bytes travel as transferred
 * ArrayBuffers (each side sends a copy it owns, never a view of a buffer someone else still reads).
 *
 * Every `push` gets exactly one `out` reply, in order (a worker handles one message at a time and postMessage
 * keeps order), so the main thread knows when everything it sent has been transcoded.
 */
import type { TranscoderStats } from "../../media/audio/transcoder.ts";
import type { MediaPacket } from "../../media/packet.ts";

/** What runs in the worker: the transcoders of lib/media/audio/transcoder.ts. */
export type TranscoderKind = "aac->opus" | "mp3->opus" | "opus->aac";

export interface TranscoderSpec {
  kind: TranscoderKind;
  /** Output bitrate, bits per second. */
  bitrate: number;
  /** opus->aac: the AAC sampling rate. */
  sampleRate?: 44100 | 48000;
}

export type ToWorker =
  | { t: "open"; id: number; spec: TranscoderSpec }
  | { t: "push"; id: number; p: MediaPacket }
  | { t: "close"; id: number };

export type FromWorker =
  /** The packets one push made (possibly none), the transcoder's counters and the push's CPU time (ms). */
  | { t: "out"; id: number; packets: MediaPacket[]; stats: TranscoderStats; cpuMs: number }
  /** Something failed outside the transcoders' own error handling (e.g. the Opus WebAssembly did not load). */
  | { t: "error"; id: number; message: string };

/** A copy of `p` whose bytes sit alone in their own ArrayBuffer (safe to transfer), and that buffer. */
export function ownedCopy(p: MediaPacket): { p: MediaPacket; buffer: ArrayBuffer } {
  // Not p.data.slice(): on a Node Buffer (what sockets give) slice() is a view of the socket's chunk, and
  // transferring its buffer would empty every packet that shares it.
  const data = new Uint8Array(p.data.byteLength);
  data.set(p.data);
  return { p: { ...p, data }, buffer: data.buffer };
}
