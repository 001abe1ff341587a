/**
 * A response body that streams a byte range of a file from disk, never holding the file in memory: under Bun,
 * a `Bun.file(...).slice()` (Bun.serve sends it straight from the file); elsewhere (Deno, Node) a pull
 * ReadableStream over a node:fs FileHandle, reading one chunk each time the consumer asks (backpressure).
 */
import { open } from "node:fs/promises";

const CHUNK = 64 * 1024;

interface BunFileLike {
  slice(begin: number, end: number): Blob;
}
interface BunFiles {
  file(path: string): BunFileLike;
}

/** Bytes [start, end) of the file at `path`. The file is opened only when the body is read. */
export function fileBody(path: string, start: number, end: number): BodyInit {
  const bun = (globalThis as unknown as { Bun?: BunFiles }).Bun;
  if (bun) return bun.file(path).slice(start, end);
  return fileStream(path, start, end);
}

/** A byte stream of [start, end) of a file, read chunk by chunk on demand; closes the file when done or cancelled. */
export function fileStream(path: string, start: number, end: number): ReadableStream<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let pos = start;
  const closeHandle = async () => {
    const h = handle;
    handle = undefined;
    await h?.close().catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        handle ??= await open(path, "r");
        const want = Math.min(CHUNK, end - pos);
        if (want <= 0) {
          await closeHandle();
          controller.close();
          return;
        }
        const buf = new Uint8Array(want);
        const { bytesRead } = await handle.read(buf, 0, want, pos);
        if (bytesRead === 0) {
          // The file shrank under us: end the body early (the client sees a short response).
          await closeHandle();
          controller.error(new Error(`${path}: file ended at ${pos}, expected ${end} bytes`));
          return;
        }
        pos += bytesRead;
        controller.enqueue(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      } catch (e) {
        await closeHandle();
        controller.error(e);
      }
    },
    async cancel() {
      await closeHandle();
    },
  });
}
