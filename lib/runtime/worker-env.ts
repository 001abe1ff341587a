/**
 * Whether this process is one worker of several (srs-ts's `workers N;`, lib/workers/primary.ts): the primary
 * starts every worker with SRS_WORKER_ID (1..N), SRS_WORKER_COUNT and SRS_WORKER_SECRET (what a worker's pull
 * from another worker carries, so the owner knows it for an internal client). Read from the environment each
 * time (the process's own settings, never changed after start): listeners share their ports (SO_REUSEPORT) in
 * a worker, and only there.
 */
export interface WorkerEnv {
  id: number;
  count: number;
  secret: string;
}

export function workerEnv(env: Record<string, string | undefined> = process.env): WorkerEnv | undefined {
  const id = Number(env.SRS_WORKER_ID);
  if (!(Number.isInteger(id) && id > 0)) return undefined;
  return { id, count: Number(env.SRS_WORKER_COUNT) || 1, secret: env.SRS_WORKER_SECRET ?? "" };
}

/**
 * What a worker adds to a port that must be its own (WebRTC: the port advertised in the ICE candidates, so a
 * session's packets reach the worker that answered its offer): worker i binds port + i - 1; 0 outside workers.
 */
export function workerPortOffset(): number {
  const w = workerEnv();
  return w ? w.id - 1 : 0;
}

/**
 * Whether a listener on `port` binds with SO_REUSEPORT (the kernel spreads connections over the workers): in a
 * worker only, and never for port 0 (a worker's private port, its own: the system picks a fresh one).
 */
export function reusePort(port: number): boolean {
  return workerEnv() !== undefined && port !== 0;
}
