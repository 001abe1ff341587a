/**
 * The messages between the primary and its workers (srs-ts's `workers N;`), over the IPC channel the primary
 * opens to each worker (node:child_process, JSON). The primary is the registry of stream owners: one publisher
 * per stream across the server.
 */

/** Worker -> primary. */
export type WorkerMessage =
  /** Started: its private loopback RTMP port (other workers pull its streams from there). */
  | { t: "hello"; rtmp: number; api: number }
  /** Wants to publish `key` (a vhost/app/stream string); answered by "claimed" with the same id. */
  | { t: "claim"; id: number; key: string }
  /** Stopped publishing `key`. */
  | { t: "release"; key: string }
  /** Every stream it publishes now (claims not in it, older than a few seconds, are dropped). */
  | { t: "published"; keys: string[] };

/** Primary -> worker. */
export type PrimaryMessage =
  | { t: "claimed"; id: number; ok: boolean; owner: number }
  /** Every stream's owner and the owner's private RTMP port, sent at each change. */
  | { t: "owners"; owners: [key: string, worker: number, rtmp: number][]; workers: [id: number, rtmp: number, api: number][] };
