/**
 * SRT's part of reload: when `srt_server` enabled/listen change, the SRT service moves to the new port. The new
 * socket is bound first (a port that cannot be bound leaves the old service as it was); the old one then takes
 * no new caller and closes once its sessions have ended (like RTMP sessions outliving a closed listener). Other
 * srt_server settings are the listener's options, fixed while it runs: they need a restart (or take effect with
 * the next move). The vhost's `srt` section is read per connection. (SRS needs a restart for srt_server.)
 */
import { globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, failed, needsRestart, type ReloadHandler, type ReloadOutcome, type Slot, splitKeys } from "../../reload/handler.ts";
import { type SrtPorts, type SrtService, startSrt } from "./bridge.ts";

export function srtReload(ctx: SrtPorts, slot: Slot<SrtService>): ReloadHandler {
  return {
    name: "srt",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      const c = globalChange(e.diff, "srt_server");
      if (c) {
        const k = splitKeys(c.keys, { rebind: ["enabled", "listen"] });
        if (k.rebind.length) {
          const old = slot.get();
          try {
            const s = await startSrt(ctx);
            slot.set(s);
            const live = old?.sessions.active.size ?? 0;
            old?.retire();
            const kept = old ? `, udp ${old.port} closes when its ${live} sessions end` : "";
            out.push(applied("srt_server", `${s ? `listening on udp ${s.port}` : "stopped"}${kept}`));
          } catch (err) {
            out.push(failed("srt_server", `${(err as Error).message}${old ? `; still listening on udp ${old.port}` : ""}`));
          }
        } else {
          out.push(needsRestart("srt_server", `${k.other.join(",")}: options of the running listener`));
        }
      }
      for (const { vhost } of vhostChanges(e.diff, "srt")) out.push(applied(`vhost ${vhost} srt`, "new connections"));
      return out;
    },
  };
}
