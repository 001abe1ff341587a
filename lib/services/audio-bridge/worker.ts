/**
 * The audio bridge's worker: runs the transcoders (AAC/MP3 decode, resampling, Opus and AAC encode; lib/media/
 * audio/) off the server's event loop. One worker serves many streams: each `open` makes a transcoder under the
 * main thread's id, each `push` runs one packet through it and answers with what came out (see protocol.ts).
 *
 * Started by pool.ts as `new Worker(<this file>)` under Bun and Deno; `bun build --compile` gets this file as
 * a second entrypoint (build.ts), so the executable carries it.
 */
import { AacToOpus, Mp3ToOpus, OpusToAac, type TranscoderStats } from "../../media/audio/transcoder.ts";
import { opusAvailable } from "../../media/audio/opus.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { type FromWorker, ownedCopy, type ToWorker, type TranscoderSpec } from "./protocol.ts";

interface Transcoder {
  push(p: MediaPacket): MediaPacket[];
  close(): void;
  readonly stats: TranscoderStats;
}

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker, transfer: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;

function create(spec: TranscoderSpec): Transcoder {
  switch (spec.kind) {
    case "opus->aac":
      return new OpusToAac({ bitrate: spec.bitrate, sampleRate: spec.sampleRate ?? 48000 });
    case "mp3->opus":
      return new Mp3ToOpus({ bitrate: spec.bitrate });
    case "aac->opus":
      return new AacToOpus({ bitrate: spec.bitrate });
  }
}

const transcoders = new Map<number, Transcoder>();

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

function handle(msg: ToWorker): void {
  switch (msg.t) {
    case "open":
      transcoders.get(msg.id)?.close();
      // Every direction needs libopus: say so at once rather than count every frame as a decode error.
      if (!opusAvailable()) throw new Error("the Opus WebAssembly module (opusscript) did not load in the worker");
      transcoders.set(msg.id, create(msg.spec));
      return;
    case "close":
      transcoders.get(msg.id)?.close();
      transcoders.delete(msg.id);
      return;
    case "push": {
      const tx = transcoders.get(msg.id);
      if (!tx) {
        post({ t: "out", id: msg.id, packets: [], stats: { framesIn: 0, packetsOut: 0, decodeErrors: 0, concealed: 0, resyncs: 0 }, cpuMs: 0 });
        return;
      }
      const t0 = performance.now();
      const made = tx.push(msg.p);
      const cpuMs = performance.now() - t0;
      // The encoders may keep what they returned (the AAC config): send copies and transfer those.
      const packets: MediaPacket[] = [];
      const transfer: ArrayBuffer[] = [];
      for (const q of made) {
        const c = ownedCopy(q);
        packets.push(c.p);
        transfer.push(c.buffer);
      }
      post({ t: "out", id: msg.id, packets, stats: { ...tx.stats }, cpuMs }, transfer);
      return;
    }
  }
}

scope.onmessage = (e) => {
  const msg = e.data;
  try {
    handle(msg);
  } catch (err) {
    // The transcoders conceal bad media themselves; this is a failure of the machinery (e.g. the wasm).
    transcoders.get(msg.id)?.close();
    transcoders.delete(msg.id);
    post({ t: "error", id: msg.id, message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
};
