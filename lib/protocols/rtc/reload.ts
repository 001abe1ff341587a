/**
 * WebRTC's part of reload: `rtc_server` enabled/listen/protocol/tcp move the service (its UDP port and its ICE-TCP
 * listener). New ports are bound first (ones that cannot be bound keep the old service as it was), then the old
 * service closes with its sessions (their ICE/DTLS lives on the old socket or connection: players and publishers
 * join again). A port the old service holds (e.g. only `tcp.listen` changed: the UDP port stays) is freed first.
 * candidate and api_as_candidates are read per offer; the vhost's `rtc` section per session.
 * (SRS: on_reload_rtc_server does nothing, a restart is needed.)
 */
import { globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, failed, type ReloadHandler, type ReloadOutcome, type Slot, splitKeys } from "../../reload/handler.ts";
import { RtcService, type RtcServicePorts } from "./service.ts";

export function rtcReload(ctx: RtcServicePorts, slot: Slot<RtcService>): ReloadHandler {
  return {
    name: "rtc",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      const c = globalChange(e.diff, "rtc_server");
      if (c) {
        const k = splitKeys(c.keys, { live: ["candidate", "apiAsCandidates"], rebind: ["enabled", "listen", "protocol", "tcp"] });
        if (k.rebind.length) {
          const old = slot.get();
          try {
            // A new port first: one that cannot be bound leaves the running service as it was. A port the old
            // service holds (protocol or one of udp/tcp changed) must be freed first.
            const next = ctx.config.rtcServer();
            if (old && next.enabled && old.holdsPortsOf(next)) {
              await old.close();
              slot.set(undefined);
            }
            let s: RtcService | undefined;
            if (next.enabled) {
              s = new RtcService(ctx);
              await s.start();
            }
            slot.set(s);
            await old?.close();
            out.push(applied("rtc_server", s ? `listening on ${s.listening}${old ? ", sessions of the old port closed" : ""}` : "stopped"));
          } catch (err) {
            out.push(failed("rtc_server", `${(err as Error).message}${old && slot.get() === old ? `; still listening on ${old.listening}` : ""}`));
          }
        } else if (k.live.length) {
          out.push(applied("rtc_server", `${k.live.join(",")}: new sessions${k.other.length ? `; ${k.other.join(",")}: no effect in srs-ts` : ""}`));
        } else {
          out.push(applied("rtc_server", `${k.other.join(",")}: no effect in srs-ts`));
        }
      }
      for (const { vhost } of vhostChanges(e.diff, "rtc")) out.push(applied(`vhost ${vhost} rtc`, "new sessions"));
      return out;
    },
  };
}
