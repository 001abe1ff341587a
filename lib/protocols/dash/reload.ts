/**
 * DASH's part of reload: every live stream of a vhost whose `dash` changed takes the new settings at its next
 * keyframe (segment cut there, the MPD goes on); DASH turned off stops it (files kept until dash_dispose),
 * turned on starts it, other dash_path/dash_mpd_file start a new presentation there. Streams published later
 * read the config at publish.
 */
import { vhostChanges } from "../../config/diff.ts";
import type { HubRegistry } from "../../hub/registry.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { DashService } from "./service.ts";

export function dashReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, dash: () => DashService | undefined): ReloadHandler {
  return {
    name: "dash",
    reload(e): ReloadOutcome[] {
      const out: ReloadOutcome[] = [];
      for (const { vhost, change } of vhostChanges(e.diff, "dash")) {
        const counts = { switching: 0, started: 0, stopped: 0, none: 0 };
        const service = dash();
        if (service) for (const hub of ctx.hubs.ofVhost(vhost)) if (hub.active) counts[service.reload(hub)]++;
        const live = [
          counts.switching && `${counts.switching} live streams switch at their next keyframe`,
          counts.started && `${counts.started} started`,
          counts.stopped && `${counts.stopped} stopped`,
        ].filter(Boolean).join(", ");
        out.push(applied(`vhost ${vhost} dash`, `${change.keys.join(",")}${live ? `; ${live}` : "; next publish"}`));
      }
      return out;
    },
  };
}
