/**
 * The casters' part of reload: `stream_caster` blocks added, removed or changed take effect now (SRS needs a
 * restart). A changed block is stopped (its sessions unpublish) and started again with its new settings; the
 * unchanged blocks and their sessions are left alone.
 */
import { globalChange } from "../../config/diff.ts";
import { applied, failed, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { CasterService } from "./index.ts";

export function casterReload(get: () => CasterService | undefined): ReloadHandler {
  return {
    name: "stream_caster",
    async reload(e): Promise<ReloadOutcome[]> {
      if (!globalChange(e.diff, "stream_caster")) return [];
      const svc = get();
      if (!svc) return [applied("stream_caster", "no caster service (server starting or quitting)")];
      const changes = await svc.apply();
      const bad = changes.filter((c) => !c.ok);
      const note = changes.map((c) => `${c.what}: ${c.note}`).join("; ") || "no running caster changed";
      return [bad.length ? failed("stream_caster", note) : applied("stream_caster", note)];
    },
  };
}
