/**
 * DVR's part of reload (SRS: SrsOriginHub::on_reload_vhost_dvr): the live streams of a vhost whose `dvr`
 * changed finish their file (on_dvr as usual) and start a new one with the new settings, when DVR still
 * applies to them.
 */
import { vhostChanges } from "../../config/diff.ts";
import type { HubRegistry } from "../../hub/registry.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { DvrService } from "./service.ts";

export function dvrReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, dvr: () => DvrService | undefined): ReloadHandler {
  return {
    name: "dvr",
    reload(e): ReloadOutcome[] {
      const out: ReloadOutcome[] = [];
      for (const { vhost, change } of vhostChanges(e.diff, "dvr")) {
        const counts = { restarted: 0, started: 0, stopped: 0, none: 0 };
        const service = dvr();
        if (service) for (const hub of ctx.hubs.ofVhost(vhost)) if (hub.active) counts[service.reload(hub)]++;
        const live = [
          counts.restarted && `${counts.restarted} recordings restarted in a new file`,
          counts.started && `${counts.started} started`,
          counts.stopped && `${counts.stopped} stopped`,
        ].filter(Boolean).join(", ");
        out.push(applied(`vhost ${vhost} dvr`, `${change.keys.join(",")}${live ? `; ${live}` : "; next publish"}`));
      }
      return out;
    },
  };
}
