/**
 * DASH's part of reload: every live stream of a vhost whose `dash` changed takes the new settings at its next
 * keyframe (segment cut there, the MPD goes on); DASH turned off stops it (files kept until dash_dispose),
 * turned on starts it, other dash_path/dash_mpd_file start a new presentation there. Streams published later
 * read the config at publish.
 */
import type { HubRegistry } from "../../hub/registry.ts";
import type { ReloadHandler } from "../../reload/handler.ts";
import { liveStreamsReload } from "../../reload/live-streams.ts";
import type { DashService } from "./service.ts";

export function dashReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, dash: () => DashService | undefined): ReloadHandler {
  return liveStreamsReload(ctx, "dash", dash, { result: "switching", note: (n) => `${n} live streams switch at their next keyframe` });
}
