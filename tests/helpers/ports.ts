/**
 * Free loopback ports for servers and clients started as child processes (the server under test, srt-live-transmit,
 * an ffmpeg listener), which must be told a port number before they bind it.
 *
 * Asking the kernel for port 0 and closing the socket leaves a window in which the same number can be handed to
 * someone else: another test process running at once (tests/run.sh runs several), or any outgoing connection,
 * because port-0 numbers come from the ephemeral range that connect() also draws from. So ports here come from
 * below Linux's default ephemeral range (32768–60999), in blocks:
 *
 * - tests/run.sh gives each test process its own block (SRS_TEST_PORT_SLOT = job number): processes running at
 *   once never pick the same number. A plain `bun test` takes a random block.
 * - A process never hands out the same number twice (a counter walks its block, wrapping at the end).
 * - A number is handed out only if it can be bound right now, TCP and UDP, on every address.
 *
 * What remains (something outside the tests binding the port before the child does) is handled by startServer,
 * which retries with new ports when the server reports "address already in use".
 */
import { createSocket } from "node:dgram";
import { createServer, Socket } from "node:net";

const FIRST = 20000;
const END = 32768;
const BLOCK = 400;
const BLOCKS = Math.floor((END - FIRST) / BLOCK);

function blockStart(): number {
  const slot = Number(process.env.SRS_TEST_PORT_SLOT);
  const b = Number.isInteger(slot) && slot >= 0 ? slot % BLOCKS : Math.floor(Math.random() * BLOCKS);
  return FIRST + b * BLOCK;
}

/** Per-process picker state: this process's block and the next offset in it. */
const picker = { start: blockStart(), next: 0 };

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen({ port, host: "0.0.0.0", exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => {
      try {
        s.close();
      } catch {
        // never bound: nothing to close
      }
      resolve(false);
    });
    s.bind({ port, address: "0.0.0.0", exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port nobody holds, TCP and UDP, not handed out before by this process (until its block wraps). */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < BLOCK; tries++) {
    const port = picker.start + (picker.next++ % BLOCK);
    if ((await tcpFree(port)) && (await udpFree(port))) return port;
  }
  throw new Error(`no free port in ${picker.start}-${picker.start + BLOCK - 1} (SRS_TEST_PORT_SLOT=${process.env.SRS_TEST_PORT_SLOT ?? "unset"})`);
}

/** Same as freePort (every port is checked for UDP too); named for call sites that bind UDP. */
export const freeUdpPort = freePort;

/** Whether a child's output says it could not bind (worth a retry on new ports). */
export function addressInUse(output: string): boolean {
  return /EADDRINUSE|address already in use/i.test(output);
}

/** True when a TCP connect to the port on 127.0.0.1 succeeds (something is listening and accepting). */
export function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new Socket();
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
    c.connect(port, "127.0.0.1");
  });
}

/** True when a UDP port is taken: our bind on `host` fails (0.0.0.0 also clashes with any one address). */
export function udpTaken(port: number, host = "0.0.0.0"): Promise<boolean> {
  return new Promise((resolve) => {
    const u = createSocket("udp4");
    u.once("error", () => resolve(true));
    u.bind(port, host, () => u.close(() => resolve(false)));
  });
}
