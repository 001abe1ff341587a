/**
 * SRT's part of reload: when `srt_server` enabled/listen change, the SRT service moves to the new port (its
 * sessions end: they live on the old UDP socket; callers reconnect). Other srt_server settings are the
 * listener's options, fixed while it runs: they need a restart (or take effect with the next move). The
 * vhost's `srt` section is read per connection. (SRS needs a restart for srt_server.)
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
            await old?.close();
            slot.set(undefined);
            const s = await startSrt(ctx);
            slot.set(s);
            out.push(applied("srt_server", s ? `listening on udp ${s.port}${old ? ", SRT sessions of the old port closed" : ""}` : "stopped"));
          } catch (err) {
            out.push(failed("srt_server", (err as Error).message));
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
