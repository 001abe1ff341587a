/**
 * HLS's part of reload (SRS: SrsOriginHub::on_reload_vhost_hls → SrsHls::async_reload): every live stream of a
 * vhost whose `hls` changed switches to the new settings at its next keyframe (segment cut there, playlist goes
 * on); HLS turned off stops it, turned on starts it. Streams published later read the config at publish.
 */
import { vhostChanges } from "../../config/diff.ts";
import type { HubRegistry } from "../../hub/registry.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { HlsService } from "./service.ts";

export function hlsReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, hls: () => HlsService | undefined): ReloadHandler {
  return {
    name: "hls",
    reload(e): ReloadOutcome[] {
      const out: ReloadOutcome[] = [];
      for (const { vhost, change } of vhostChanges(e.diff, "hls")) {
        const counts = { switching: 0, started: 0, stopped: 0, none: 0 };
        const service = hls();
        if (service) for (const hub of ctx.hubs.ofVhost(vhost)) if (hub.active) counts[service.reload(hub)]++;
        const live = [
          counts.switching && `${counts.switching} live streams switch at their next keyframe`,
          counts.started && `${counts.started} started`,
          counts.stopped && `${counts.stopped} stopped`,
        ].filter(Boolean).join(", ");
        out.push(applied(`vhost ${vhost} hls`, `${change.keys.join(",")}${live ? `; ${live}` : "; next publish"}`));
      }
      return out;
    },
  };
}
