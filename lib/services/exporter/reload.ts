/**
 * The exporter's part of reload: enabled/listen move its listener; label and tag are read per scrape. (The API's
 * https listener moves with the HTTP listeners: lib/protocols/http/reload.ts.)
 */
import { globalChange } from "../../config/diff.ts";
import type { HttpListener } from "../../runtime/http-serve.ts";
import { applied, failed, type ReloadHandler, type ReloadOutcome, type Slot, splitKeys } from "../../reload/handler.ts";
import { type ExporterPorts, startExporter } from "./index.ts";

async function restart(
  slot: Slot<HttpListener>,
  start: () => Promise<HttpListener | undefined>,
  what: string,
): Promise<ReloadOutcome> {
  const old = slot.get();
  try {
    await old?.close();
    slot.set(undefined);
    const l = await start();
    slot.set(l);
    return applied(what, l ? `listening on ${l.hostname}:${l.port}` : "stopped");
  } catch (err) {
    return failed(what, (err as Error).message);
  }
}

export function exporterReload(ctx: ExporterPorts, slot: Slot<HttpListener>): ReloadHandler {
  return {
    name: "exporter",
    async reload(e): Promise<ReloadOutcome[]> {
      const c = globalChange(e.diff, "exporter");
      if (!c) return [];
      const k = splitKeys(c.keys, { live: ["label", "tag"], rebind: ["enabled", "listen"] });
      const out: ReloadOutcome[] = [];
      if (k.rebind.length) out.push(await restart(slot, () => startExporter(ctx), "exporter"));
      else out.push(applied("exporter", "label/tag: next scrape"));
      return out;
    },
  };
}
