/**
 * The HTTP servers' part of reload: `http_server` and `http_api` listeners move when their enabled/listen
 * change (unchanged listeners untouched; requests in flight on a moved one go on); crossdomain, auth, raw_api
 * and the document root are read per request. The vhost's http_remux mounts and http_static are looked up per
 * request too (a player already connected keeps its stream). (SRS 6 needs a restart for the HTTP listeners.)
 * HTTPS (`http_server.https`, `http_api.https`): while either is on, every reload re-reads the key/cert files, so a
 * renewed certificate is taken on SIGHUP without a config change (servers.ts); a bad pair is a failed outcome
 * and the running certificate stays.
 */
import { type SectionChange, globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, failed, type ReloadHandler, type ReloadOutcome, splitKeys } from "../../reload/handler.ts";
import type { SrsConfig } from "../../config/index.ts";
import type { HttpServers } from "./servers.ts";

const REBIND = ["enabled", "listen", "listens", "https"];

/** Whether the config has an HTTPS listener (whose key/cert files a reload re-reads). */
function httpsOn(c: SrsConfig): boolean {
  const http = c.httpServer();
  const api = c.httpApi();
  return (http.enabled && http.https.enabled) || (api.enabled && api.https.enabled);
}

export function httpReload(servers: () => HttpServers | undefined): ReloadHandler {
  return {
    name: "http",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      const api = globalChange(e.diff, "http_api");
      const http = globalChange(e.diff, "http_server");
      const parts = (c: SectionChange | undefined, live: string[]) => splitKeys(c?.keys ?? [], { live, rebind: REBIND });
      const a = parts(api, ["crossdomain", "rawApi", "auth"]);
      const h = parts(http, ["crossdomain", "dir"]);
      const s = servers();
      if ((a.rebind.length > 0 || h.rebind.length > 0 || httpsOn(e.old) || httpsOn(e.next)) && s) {
        const names = [...(a.rebind.length ? ["http_api"] : []), ...(h.rebind.length ? ["http_server"] : [])];
        try {
          const r = await s.rebind();
          const note = [...r.opened.map((x) => `+${x}`), ...r.closed.map((x) => `-${x}`), ...r.renewed.map((x) => `renewed ${x}`)]
            .join(" ") || "same listeners";
          for (const n of names) out.push(applied(`${n} listen`, note));
          // A key/cert that cannot be loaded: failed (reported even without a config change), the old pair stays.
          for (const err of r.errors) out.push(failed(err.startsWith("http_api") ? "http_api https" : "http_server https", err));
        } catch (err) {
          for (const n of names) out.push(failed(`${n} listen`, `${(err as Error).message}; old listeners kept`));
          if (!names.length) out.push(failed("http_server https", `${(err as Error).message}; old listeners kept`));
        }
      }
      if (a.live.length) out.push(applied(`http_api ${a.live.join(",")}`));
      if (h.live.length) out.push(applied(`http_server ${h.live.join(",")}`));
      if (h.other.length) out.push(applied(`http_server ${h.other.join(",")}`, "no effect in srs-ts"));
      for (const section of ["http_remux", "http_static"]) {
        for (const { vhost } of vhostChanges(e.diff, section)) out.push(applied(`vhost ${vhost} ${section}`, "new requests"));
      }
      return out;
    },
  };
}
