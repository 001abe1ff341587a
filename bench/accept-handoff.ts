/**
 * Why srs-ts's workers share their ports with SO_REUSEPORT rather than have the primary accept and hand each
 * connection to a worker: the connection set-up rate of both, with 2 worker processes (Bun or Node).
 *   reuse:   both workers listen on one port with reusePort; the kernel picks the worker.
 *   handoff: the primary accepts (pauseOnConnect) and sends the socket to a worker over IPC (round robin).
 * Each worker writes one byte and closes; the client opens N connections, 100 at a time, and prints the rate.
 * (After set-up both are the same: the socket lives in the worker. And Bun.serve cannot take a socket from
 * elsewhere, so a hand-off would also move HTTP to node:http.)
 *
 *   bun bench/accept-handoff.ts reuse 4000
 *   bun bench/accept-handoff.ts handoff 4000
 */
import { spawn } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import { freePort } from "./server.ts";
const mode = process.argv[2] as "reuse" | "handoff";
const N = Number(process.argv[3] ?? 4000);
const C = 100;
const PORT = Number(process.env.PORT) || await freePort();
if (process.env.W) {
  const serve = (s: Socket) => { s.end("x"); };
  if (mode === "reuse") createServer(serve).listen({ port: PORT, host: "127.0.0.1", reusePort: true } as never, () => process.send!("ready"));
  else { process.on("message", (_m, h) => serve(h as Socket)); process.send!("ready"); }
} else {
  const kids = [1, 2].map((i) => spawn(process.execPath, [import.meta.path, mode], { stdio: ["inherit", "inherit", "inherit", "ipc"], env: { ...process.env, W: String(i), PORT: String(PORT) } }));
  await Promise.all(kids.map((k) => new Promise((r) => k.once("message", r))));
  let rr = 0;
  if (mode === "handoff") await new Promise<void>((r) => createServer({ pauseOnConnect: true }, (s) => kids[rr++ % 2]!.send("s", s)).listen(PORT, "127.0.0.1", () => r()));
  const one = () => new Promise<void>((r) => { const s = connect(PORT, "127.0.0.1"); s.on("data", () => {}); s.on("close", () => r()); s.on("error", () => r()); });
  const t0 = performance.now(); let started = 0;
  await Promise.all(Array.from({ length: C }, async () => { while (started < N) { started++; await one(); } }));
  const ms = performance.now() - t0;
  console.log(`${mode}: ${N} connections in ${ms.toFixed(0)} ms = ${(N / ms * 1000).toFixed(0)}/s`);
  for (const k of kids) k.kill();
  process.exit(0);
}
