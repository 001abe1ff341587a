/**
 * Forward's part of reload (SRS: SrsOriginHub::on_reload_vhost_forward): the forwards of a vhost's live streams
 * are stopped and the configured ones started again.
 */
import { vhostChanges } from "../../config/diff.ts";
import type { HubRegistry } from "../../hub/registry.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { ForwardService } from "./service.ts";

export function forwardReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, forward: () => ForwardService | undefined): ReloadHandler {
  return {
    name: "forward",
    reload(e): ReloadOutcome[] {
      const out: ReloadOutcome[] = [];
      for (const { vhost } of vhostChanges(e.diff, "forward")) {
        let streams = 0;
        let forwards = 0;
        const service = forward();
        if (service) {
          for (const hub of ctx.hubs.ofVhost(vhost)) {
            if (!hub.active) continue;
            streams++;
            forwards += service.reload(hub);
          }
        }
        out.push(applied(`vhost ${vhost} forward`, streams ? `${streams} live streams, ${forwards} forwards restarted` : "next publish"));
      }
      return out;
    },
  };
}
