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

async function create(spec: TranscoderSpec): Promise<Transcoder> {
  switch (spec.kind) {
    case "opus->aac":
      return new OpusToAac({ bitrate: spec.bitrate, sampleRate: spec.sampleRate ?? 48000 });
    case "mp3->opus":
      return await Mp3ToOpus.create({ bitrate: spec.bitrate }); // mpg123's WebAssembly instance: async
    case "aac->opus":
      return new AacToOpus({ bitrate: spec.bitrate });
  }
}

const transcoders = new Map<number, Transcoder>();

// mpg123-decoder prints every decode error of a corrupt stream with console.error; the transcoders count them
// (stats.decodeErrors, in the bridge's log line). This is the worker's own console: the server's is untouched.
const consoleError = console.error.bind(console);
console.error = (...args: unknown[]) => {
  if (typeof args[0] === "string" && args[0].startsWith("mpg123-decoder:")) return;
  consoleError(...args);
};

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

/** Handles one message; only an `open` may wait (for a WebAssembly instance), and then later messages wait too. */
function handle(msg: ToWorker): Promise<void> | undefined {
  switch (msg.t) {
    case "open":
      transcoders.get(msg.id)?.close();
      // Every direction needs libopus: say so at once rather than count every frame as a decode error.
      if (!opusAvailable()) throw new Error("the Opus WebAssembly module (opusscript) did not load in the worker");
      return create(msg.spec).then((tx) => void transcoders.set(msg.id, tx));
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

function failed(msg: ToWorker, err: unknown): void {
  // The transcoders conceal bad media themselves; this is a failure of the machinery (e.g. the wasm).
  transcoders.get(msg.id)?.close();
  transcoders.delete(msg.id);
  post({ t: "error", id: msg.id, message: err instanceof Error ? err.stack ?? err.message : String(err) });
}

/** Runs one message; the promise (an `open` waiting for its WebAssembly instance) settles when it is done. */
function run(msg: ToWorker): Promise<void> | undefined {
  try {
    return handle(msg)?.catch((err: unknown) => failed(msg, err));
  } catch (err) {
    failed(msg, err);
    return undefined;
  }
}

/**
 * Messages not yet run because an `open` is waiting: while there are any, each new message runs after them, so
 * every stream's packets keep their order (and reach their transcoder once it exists).
 */
let queued = 0;
let tail: Promise<void> = Promise.resolve();

scope.onmessage = (e) => {
  const msg = e.data;
  if (queued === 0) {
    const p = run(msg);
    if (!p) return;
    queued++;
    tail = p.finally(() => void queued--);
    return;
  }
  queued++;
  tail = tail.then(() => run(msg)).finally(() => void queued--);
};
