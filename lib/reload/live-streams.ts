/**
 * The reload handler of an output that runs per live stream and is configured by a vhost section (HLS, DASH,
 * DVR): for every vhost whose section changed, each active stream of that vhost is asked to take the new
 * settings (the service's `reload(hub)` answers what it did), and one outcome per vhost counts the answers:
 * `vhost <v> <section>` applied, with the changed keys and e.g. "2 live streams switch at their next keyframe,
 * 1 started" (or "next publish" when no live stream was touched).
 */
import { vhostChanges } from "../config/diff.ts";
import type { HubRegistry } from "../hub/registry.ts";
import type { StreamHub } from "../hub/stream-hub.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "./handler.ts";

/** What a stream's reload did; "none" is not reported. */
export type LiveReloadResult<K extends string> = K | "started" | "stopped" | "none";

/**
 * `section`: the vhost section (also the handler's name); `service`: the running service, undefined when off;
 * `changed`: the note for the streams that took the new settings in place (the service's own answer `K`).
 */
export function liveStreamsReload<K extends string>(
  ctx: { readonly hubs: Pick<HubRegistry, "ofVhost"> },
  section: string,
  service: () => { reload(hub: StreamHub): LiveReloadResult<K> } | undefined,
  changed: { readonly result: K; readonly note: (n: number) => string },
): ReloadHandler {
  return {
    name: section,
    reload(e): ReloadOutcome[] {
      const out: ReloadOutcome[] = [];
      for (const { vhost, change } of vhostChanges(e.diff, section)) {
        const counts = new Map<string, number>();
        const s = service();
        if (s) {
          for (const hub of ctx.hubs.ofVhost(vhost)) {
            if (hub.active) {
              const r = s.reload(hub);
              counts.set(r, (counts.get(r) ?? 0) + 1);
            }
          }
        }
        const n = (r: string) => counts.get(r) ?? 0;
        const live = [
          n(changed.result) && changed.note(n(changed.result)),
          n("started") && `${n("started")} started`,
          n("stopped") && `${n("stopped")} stopped`,
        ].filter(Boolean).join(", ");
        out.push(applied(`vhost ${vhost} ${section}`, `${change.keys.join(",")}${live ? `; ${live}` : "; next publish"}`));
      }
      return out;
    },
  };
}
