/** What ingest, transcode and exec need of the server (the composition root, lib/server.ts, provides it). */
import type { ServerView } from "../server-view.ts";

export type FfmpegPorts = Pick<ServerView, "config" | "hubs" | "clients" | "log" | "lifecycle"> & {
  /** This server's RTMP port (the first one bound): where FFmpegs read streams and publish them back. */
  rtmpPort(): number | undefined;
  /** False in every worker but the first (srs-ts's `workers N;`): ingests run once per server. */
  readonly runsIngest: boolean;
};
