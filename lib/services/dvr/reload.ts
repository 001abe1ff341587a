/**
 * DVR's part of reload (SRS: SrsOriginHub::on_reload_vhost_dvr): the live streams of a vhost whose `dvr`
 * changed finish their file (on_dvr as usual) and start a new one with the new settings, when DVR still
 * applies to them.
 */
import type { HubRegistry } from "../../hub/registry.ts";
import type { ReloadHandler } from "../../reload/handler.ts";
import { liveStreamsReload } from "../../reload/live-streams.ts";
import type { DvrService } from "./service.ts";

export function dvrReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, dvr: () => DvrService | undefined): ReloadHandler {
  return liveStreamsReload(ctx, "dvr", dvr, { result: "restarted", note: (n) => `${n} recordings restarted in a new file` });
}
