/**
 * The server-wide part of reload: log level, limits and quit timings, process settings (restart), vhosts added
 * and removed, and the vhost sections every session reads when it starts (publish, security, hooks, …).
 *
 * Differences from SRS: a removed or disabled vhost also closes its connected clients (SRS only logs, they stay
 * until they leave); the play options reach running streams (gop_cache and player queues now, time_jitter at the
 * next publish).
 */
import { globalChange, vhostChanges } from "../config/diff.ts";
import type { PlayQueueConfig } from "../hub/lease.ts";
import type { HubOptions, StreamHub } from "../hub/stream-hub.ts";
import type { HubRegistry } from "../hub/registry.ts";
import type { ClientRegistry } from "../clients.ts";
import { parseLogLevel } from "../log/logger.ts";
import type { StreamKey } from "../media/packet.ts";
import { applied, needsRestart, type ReloadHandler, type ReloadOutcome } from "./handler.ts";

export interface CoreReloadDeps {
  hubs: HubRegistry;
  clients: ClientRegistry;
  /** The hub options of a stream under the config in force. */
  hubOptions(key: StreamKey): HubOptions;
}

/** Read when needed (a quit, an accept): the new value is simply in force. */
const LIVE_GLOBAL = ["max_connections", "grace_start_wait", "grace_final_wait", "force_grace_quit"];
/** Fixed for the life of the process. */
const RESTART_GLOBAL = ["srs_log_tank", "srs_log_file", "utc_time", "pid", "daemon", "workers", "work_dir", "server_id", "asprocess"];
/** The cluster fields the edge reads at each upstream connect or client (a reload applies to the next one). */
const EDGE_KEYS = ["mode", "isEdge", "origin", "tokenTraverse", "vhost", "debugSrsUpnode", "protocol", "followClient"];
/** Accepted as SRS does but without effect in srs-ts (see the not-implemented warnings at start). */
const UNUSED_GLOBAL = ["pithy_print_ms", "stats", "circuit_breaker", "threads"];
/** Vhost sections read when a session or stream starts. */
const LIVE_VHOST: Record<string, string> = {
  publish: "new publishers",
  security: "next connection",
  refer: "next connection",
  http_hooks: "next event",
};
const UNUSED_VHOST = ["dash", "hds"];

/**
 * The play queue options (mw_latency, min_latency, queue_length) reach the players already playing, as SRS's
 * on_reload_vhost_play does for each connection: each shared output of the vhost's streams takes them in place.
 * A vhost changed in both sections is simply reconfigured twice with the same values.
 */
function playerQueues(v: PlayQueueConfig | undefined, hubs: StreamHub[]): number {
  if (!v) return 0;
  let n = 0;
  for (const hub of hubs) n += hub.reconfigureOutputs(v);
  return n;
}

export function coreReload(d: CoreReloadDeps): ReloadHandler {
  return {
    name: "core",
    reload(e): ReloadOutcome[] {
      const out: ReloadOutcome[] = [];
      // The level itself is set by the server once the reload is logged (so "warn" does not hide these lines).
      if (globalChange(e.diff, "srs_log_level")) out.push(applied("srs_log_level", parseLogLevel(e.next.logLevel())));
      for (const s of LIVE_GLOBAL) if (globalChange(e.diff, s)) out.push(applied(s));
      for (const s of RESTART_GLOBAL) if (globalChange(e.diff, s)) out.push(needsRestart(s));
      for (const s of UNUSED_GLOBAL) if (globalChange(e.diff, s)) out.push(applied(s, "no effect: not implemented in srs-ts"));

      for (const v of e.diff.vhostsAdded) out.push(applied(`vhost ${v} added`, "new connections"));
      for (const v of e.diff.vhostsRemoved) {
        const gone = d.clients.all().filter((c) => c.stream?.vhost === v);
        for (const c of gone) c.kick(`vhost ${v} removed by reload`);
        out.push(applied(`vhost ${v} removed`, `${gone.length} clients closed`));
      }
      for (const { vhost, change } of vhostChanges(e.diff, "play")) {
        const hubs = d.hubs.ofVhost(vhost);
        for (const hub of hubs) hub.setOptions(d.hubOptions(hub.key));
        const outputs = playerQueues(e.next.vhost(vhost), hubs);
        out.push(applied(`vhost ${vhost} play`, `${change.keys.join(",")}; ${hubs.length} streams: gop_cache now, time_jitter at next publish, player queues now (${outputs} outputs)`));
      }
      for (const { vhost } of vhostChanges(e.diff, "min_latency")) {
        const outputs = playerQueues(e.next.vhost(vhost), d.hubs.ofVhost(vhost));
        out.push(applied(`vhost ${vhost} min_latency`, `player queues now (${outputs} outputs)`));
      }
      for (const [section, when] of Object.entries(LIVE_VHOST)) {
        for (const { vhost } of vhostChanges(e.diff, section)) out.push(applied(`vhost ${vhost} ${section}`, when));
      }
      for (const { vhost, change } of vhostChanges(e.diff, "cluster")) {
        // The edge reads its cluster block at every upstream connect (origins, vhost, protocol, token_traverse);
        // a vhost that becomes or stops being an edge changes how its running streams were started.
        const was = e.old.vhost(vhost)?.cluster.isEdge ?? false;
        const is = e.next.vhost(vhost)?.cluster.isEdge ?? false;
        const other = change.keys.filter((k) => !EDGE_KEYS.includes(k));
        if (was !== is) out.push(needsRestart(`vhost ${vhost} cluster mode`, "running streams keep their role; new streams take the new one"));
        else if (other.length) out.push(needsRestart(`vhost ${vhost} cluster`, other.join(",")));
        else out.push(applied(`vhost ${vhost} cluster`, `${change.keys.join(",")}: next upstream connect / next client`));
      }
      for (const section of UNUSED_VHOST) {
        for (const { vhost } of vhostChanges(e.diff, section)) {
          out.push(applied(`vhost ${vhost} ${section}`, "no effect: not implemented in srs-ts"));
        }
      }
      return out;
    },
  };
}
