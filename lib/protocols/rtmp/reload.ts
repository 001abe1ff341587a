/**
 * RTMP's part of reload (SRS: SrsServer::on_reload_listen, SrsRtmpConn::on_reload_vhost_*): `listen` rebinds
 * (new ports open, removed ones stop accepting, sessions go on); the vhost's connection settings (chunk_size,
 * tcp_nodelay, ack sizes) are read when a client connects, so they apply to new connections. min_latency reaches
 * the players already playing through their shared outputs (lib/reload/core.ts).
 */
import { globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, failed, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { RtmpServer } from "./server.ts";

const PER_CONNECTION = ["chunk_size", "tcp_nodelay", "in_ack_size", "out_ack_size"];

export function rtmpReload(server: () => RtmpServer | undefined): ReloadHandler {
  return {
    name: "rtmp",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      const rtmp = server();
      if (globalChange(e.diff, "listen") && rtmp) {
        try {
          const r = await rtmp.rebind(e.next.listen());
          const parts = [...r.added.map((a) => `+${a}`), ...r.removed.map((a) => `-${a}`)];
          out.push(applied("listen", `rtmp ${parts.join(" ")}; now ${rtmp.ports.join(",")}`));
        } catch (err) {
          out.push(failed("listen", `${(err as Error).message}; still listening on ${rtmp.ports.join(",")}`));
        }
      }
      // The global chunk_size is the default of every vhost's: read at connect too.
      if (globalChange(e.diff, "chunk_size")) out.push(applied("chunk_size", "new connections"));
      for (const section of PER_CONNECTION) {
        for (const { vhost } of vhostChanges(e.diff, section)) out.push(applied(`vhost ${vhost} ${section}`, "new connections"));
      }
      return out;
    },
  };
}
