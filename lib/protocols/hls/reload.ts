/**
 * HLS's part of reload (SRS: SrsOriginHub::on_reload_vhost_hls → SrsHls::async_reload): every live stream of a
 * vhost whose `hls` changed switches to the new settings at its next keyframe (segment cut there, playlist goes
 * on); HLS turned off stops it, turned on starts it. Streams published later read the config at publish.
 */
import type { HubRegistry } from "../../hub/registry.ts";
import type { ReloadHandler } from "../../reload/handler.ts";
import { liveStreamsReload } from "../../reload/live-streams.ts";
import type { HlsService } from "./service.ts";

export function hlsReload(ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> }, hls: () => HlsService | undefined): ReloadHandler {
  return liveStreamsReload(ctx, "hls", hls, { result: "switching", note: (n) => `${n} live streams switch at their next keyframe` });
}
