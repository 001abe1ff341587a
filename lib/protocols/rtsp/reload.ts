/**
 * RTSP's part of reload: `rtsp_server` enabled/listen changes start a new service on the new address(es) and retire
 * the old one (no new connection, its sessions go on until they end); a new address that cannot be bound leaves the
 * old service as it was. `auth` is read per connection: it applies to new connections. The vhosts' `rtsp_pull`
 * blocks are matched on every reload: new ones start, removed, disabled or changed ones stop (and start again).
 */
import { globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, failed, type ReloadHandler, type ReloadOutcome, type Slot, splitKeys } from "../../reload/handler.ts";
import type { RtspService, RtspServicePorts } from "./server.ts";
import type { RtspPullService } from "./pull.ts";

/** The RTSP service when `rtsp_server.enabled`; its modules are loaded then only (lib/server.ts does the same). */
async function startRtsp(ctx: RtspServicePorts): Promise<RtspService | undefined> {
  if (!ctx.config.rtspServer().enabled) return undefined;
  return (await import("./server.ts")).startRtsp(ctx);
}

export function rtspReload(ctx: RtspServicePorts, slot: Slot<RtspService>, pulls?: () => Promise<RtspPullService | undefined>): ReloadHandler {
  return {
    name: "rtsp",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      // Pulls follow the vhosts' rtsp_pull blocks (and vhosts added, removed, disabled): matched on every reload.
      const p = (await pulls?.())?.reconcile();
      const note = p ? `pulls: ${p.started} started, ${p.stopped} stopped` : "pulls run in worker 1";
      for (const { vhost } of vhostChanges(e.diff, "rtsp_pull")) out.push(applied(`vhost ${vhost} rtsp_pull`, note));
      for (const { vhost } of vhostChanges(e.diff, "rtsp")) out.push(applied(`vhost ${vhost} rtsp`, "new sessions"));
      const c = globalChange(e.diff, "rtsp_server");
      if (!c) return out;
      const k = splitKeys(c.keys, { rebind: ["enabled", "listen", "listens"] });
      if (k.rebind.length) {
        const old = slot.get();
        let s: RtspService | undefined;
        try {
          try {
            s = await startRtsp(ctx);
          } catch (err) {
            // The same port spelled another way (8554 -> 0.0.0.0:8554): free it, then bind again.
            if (!old || !/in use/.test((err as Error).message)) throw err;
            old.retire();
            s = await startRtsp(ctx);
          }
          slot.set(s);
          const live = old?.sessions.size ?? 0;
          old?.retire();
          out.push(applied("rtsp_server", `${s ? `listening on tcp ${s.ports.join(",")}` : "stopped"}${old ? `, ${live} sessions of tcp ${old.ports.join(",") || "(old)"} go on` : ""}`));
        } catch (err) {
          out.push(failed("rtsp_server", `${(err as Error).message}${old ? `; still listening on tcp ${old.ports.join(",")}` : ""}`));
        }
      }
      if (k.other.length) out.push(applied("rtsp_server", `${k.other.join(",")}: new connections`));
      return out;
    },
  };
}
