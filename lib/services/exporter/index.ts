/**
 * The Prometheus exporter (`exporter { enabled on; listen 9972; label …; tag …; }`): `GET /metrics` on its own
 * listener and on the API's (where it answers {"code":1090} while disabled).
 *
 * Exactly SRS's ten `srs_*` metrics (names, types and labels as SRS 7): srs_node_uname_info, srs_build_info,
 * srs_cpu_percent, srs_memory, srs_send_bytes_total, srs_receive_bytes_total, srs_streams, srs_clients,
 * srs_clients_total, srs_clients_errs_total.
 *
 * Plus srs-ts's own per-stream series, under another prefix so the srs_* set stays SRS's, labelled
 * vhost/app/stream: srsts_stream_receive_bytes_total, srsts_stream_send_bytes_total (counters),
 * srsts_stream_clients, srsts_stream_recv_kbps, srsts_stream_send_kbps (gauges). A series exists only while its
 * stream does, and at most MAX_STREAM_SERIES streams are exported (the busiest by bytes received).
 */
import { hostname, machine, release, type, version } from "node:os";
import { formatEndpoint, parseEndpoint } from "../../net/endpoint.ts";
import { type HttpListener, serveHttp } from "../../runtime/http-serve.ts";
import { acceptPart } from "../../lifecycle.ts";
import type { ServerView } from "../server-view.ts";
import type { ClientInfo } from "../../clients.ts";
import { isWorkerCopy } from "../../hub/stream-hub.ts";
import type { ForwardService } from "../forward/service.ts";
import type { EdgeUpstreamStat } from "../cluster/edge.ts";
import type { Stats } from "../stats.ts";
import { SERVER_SIGNATURE, SRS_COMPAT_VERSION } from "../../version.ts";
import { formatLocalTime } from "../../time/local-time.ts";
import { rssKbytes } from "../api/system.ts";
import { serverClients } from "../api/shapes.ts";

export const MAX_STREAM_SERIES = 1000;

/** Escapes a label value (backslash, double quote, newline). */
export function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(obj: Record<string, string>): string {
  return `{${Object.entries(obj).map(([k, v]) => `${k}="${labelValue(v)}"`).join(",")}}`;
}

function family(out: string[], name: string, kind: "gauge" | "counter", help: string, lines: string[]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`, ...lines);
}

function buildDate(ms: number): string {
  return formatLocalTime(ms);
}

function safe(f: () => string, dflt: string): string {
  try {
    return f();
  } catch {
    return dflt;
  }
}

/** What the exporter reads of the server: the view, the stats and the forwards (when forward runs). */
export type ExporterPorts = ServerView & {
  readonly stats: Stats;
  readonly forward?: ForwardService;
  /** The edge's upstreams (lib/services/cluster/edge.ts), when the server has edge vhosts. */
  readonly edge?: { upstreams(): EdgeUpstreamStat[] };
  /** srs-ts's workers: another worker's pull is no client of the server. */
  readonly workers?: { isInternal(c: ClientInfo): boolean };
  /** srs-ts's workers: every worker's /metrics merged (the exporter port is shared; whichever worker answers). */
  readonly workerLink?: { mergedMetrics(): Promise<string | undefined> };
};

/** The /metrics text. */
export function renderMetrics(ctx: ExporterPorts): string {
  const stats = ctx.stats;
  stats.collect();
  const exp = ctx.config.exporter();
  const out: string[] = [];
  family(out, "srs_node_uname_info", "gauge", "Labeled system information as provided by the uname system call.", [
    `srs_node_uname_info${labels({
      sysname: safe(type, "Linux"), nodename: safe(hostname, ""), release: safe(release, ""), version: safe(version, ""),
      machine: safe(machine, ""),
    })} 1`,
  ]);
  const build: Record<string, string> = {
    server: ctx.serverId, service: ctx.serviceId, pid: String(process.pid), build_date: buildDate(ctx.startedAt),
    major: SRS_COMPAT_VERSION.split(".")[0] ?? "7", version: SRS_COMPAT_VERSION, code: SERVER_SIGNATURE.replace(/^.*\(|\)$/g, ""),
  };
  if (exp.label) build.label = exp.label;
  if (exp.tag) build.tag = exp.tag;
  family(out, "srs_build_info", "gauge", "A metric with a constant '1' value labeled by build_date, version from which SRS was built.", [
    `srs_build_info${labels(build)} 1`,
  ]);
  family(out, "srs_cpu_percent", "gauge", "SRS cpu used percent.", [`srs_cpu_percent ${num(stats.cpuRatio * 100)}`]);
  family(out, "srs_memory", "gauge", "SRS memory used.", [`srs_memory ${rssKbytes()}`]);
  family(out, "srs_send_bytes_total", "counter", "SRS total sent bytes.", [`srs_send_bytes_total ${stats.server.send}`]);
  family(out, "srs_receive_bytes_total", "counter", "SRS total received bytes.", [`srs_receive_bytes_total ${stats.server.recv}`]);
  const hubs = ctx.hubs.all();
  // A worker's copy of another worker's stream, and the pull feeding it, are counted on the owner.
  const streams = hubs.filter((h) => h.active && !isWorkerCopy(h)).length;
  family(out, "srs_streams", "gauge", "The number of SRS concurrent streams.", [`srs_streams ${streams}`]);
  family(out, "srs_clients", "gauge", "The number of SRS concurrent clients.", [`srs_clients ${serverClients(ctx).length}`]);
  family(out, "srs_clients_total", "counter", "The total counts of SRS clients.", [`srs_clients_total ${stats.clientsTotal}`]);
  family(out, "srs_clients_errs_total", "counter", "The total errors of SRS clients.", [`srs_clients_errs_total ${stats.clientsErrs}`]);

  // Per-stream series (srs-ts only), bounded.
  const rows = hubs.map((h) => ({ h, s: stats.stream(h), clients: stats.clientsOf(h.key).length }))
    .sort((a, b) => b.s.recv - a.s.recv)
    .slice(0, MAX_STREAM_SERIES);
  const per = (fn: (r: (typeof rows)[number]) => number, name: string) =>
    rows.map((r) => `${name}${labels({ vhost: r.h.key.vhost, app: r.h.key.app, stream: r.h.key.stream })} ${num(fn(r))}`);
  family(out, "srsts_stream_receive_bytes_total", "counter", "srs-ts: bytes received by the clients of a stream.", per((r) => r.s.recv, "srsts_stream_receive_bytes_total"));
  family(out, "srsts_stream_send_bytes_total", "counter", "srs-ts: bytes sent to the clients of a stream.", per((r) => r.s.send, "srsts_stream_send_bytes_total"));
  family(out, "srsts_stream_clients", "gauge", "srs-ts: clients (publisher and players) of a stream.", per((r) => r.clients, "srsts_stream_clients"));
  family(out, "srsts_stream_recv_kbps", "gauge", "srs-ts: receive bit rate of a stream, kbps averaged over 30s.", per((r) => r.s.kbps[0], "srsts_stream_recv_kbps"));
  family(out, "srsts_stream_send_kbps", "gauge", "srs-ts: send bit rate of a stream, kbps averaged over 30s.", per((r) => r.s.kbps[1], "srsts_stream_send_kbps"));
  // Forward destinations (srs-ts only): bounded by the configured forwards of the live streams.
  const fwd = (ctx.forward?.all() ?? []).slice(0, MAX_STREAM_SERIES);
  const fl = (fn: (f: (typeof fwd)[number]["forwarder"]) => number, name: string) =>
    fwd.map(({ hub, forwarder }) =>
      `${name}${labels({ vhost: hub.key.vhost, app: hub.key.app, stream: hub.key.stream, destination: forwarder.url })} ${num(fn(forwarder))}`
    );
  family(out, "srsts_forward_connected", "gauge", "srs-ts: 1 while a forward destination is connected.", fl((f) => (f.isConnected ? 1 : 0), "srsts_forward_connected"));
  family(out, "srsts_forward_send_bytes_total", "counter", "srs-ts: bytes forwarded to a destination.", fl((f) => f.sentBytes, "srsts_forward_send_bytes_total"));
  family(out, "srsts_forward_failures_total", "counter", "srs-ts: failed connections to a forward destination.", fl((f) => f.failures, "srsts_forward_failures_total"));
  // Edge upstreams (srs-ts only): one per pulled or relayed stream.
  const ups = (ctx.edge?.upstreams() ?? []).slice(0, MAX_STREAM_SERIES);
  const el = (fn: (u: EdgeUpstreamStat) => number, name: string) =>
    ups.map((u) => `${name}${labels({ vhost: u.key.vhost, app: u.key.app, stream: u.key.stream, mode: u.mode, origin: u.origin })} ${num(fn(u))}`);
  family(out, "srsts_edge_upstream_connected", "gauge", "srs-ts: 1 while an edge upstream (pull or publish relay) is connected.", el((u) => (u.connected ? 1 : 0), "srsts_edge_upstream_connected"));
  family(out, "srsts_edge_upstream_connects_total", "counter", "srs-ts: upstream connections an edge made for a stream.", el((u) => u.connects, "srsts_edge_upstream_connects_total"));
  family(out, "srsts_edge_upstream_failures_total", "counter", "srs-ts: failed upstream connections of an edge stream.", el((u) => u.failures, "srsts_edge_upstream_failures_total"));
  return out.join("\n") + "\n";
}

function num(n: number): string {
  if (!Number.isFinite(n)) return "0";
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1e6) / 1e6);
}

/** The exporter's own listener (only when `exporter.enabled`): GET /metrics, 404 elsewhere. */
export async function startExporter(ctx: ExporterPorts): Promise<HttpListener | undefined> {
  const exp = ctx.config.exporter();
  if (!exp.enabled) return undefined;
  const ep = parseEndpoint(exp.listen);
  const headers = { Server: SERVER_SIGNATURE };
  try {
    const l = await serveHttp({
      hostname: ep.host,
      port: ep.port,
      fetch: async (req) => {
        let path = "/";
        try {
          path = new URL(req.url).pathname;
        } catch {
          // keep "/"
        }
        if (path !== "/metrics") return new Response("Not Found", { status: 404, headers });
        try {
          const merged = await ctx.workerLink?.mergedMetrics();
          if (merged !== undefined) return new Response(merged, { headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } });
          return new Response(renderMetrics(ctx), { headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } });
        } catch (e) {
          ctx.log.error(`exporter: render failed`, e);
          return new Response("Internal Server Error", { status: 500, headers });
        }
      },
    });
    ctx.log.trace(`exporter listen at tcp://${formatEndpoint({ host: ep.host, port: l.port })}`);
    return acceptPart(ctx.lifecycle, "exporter listener", l);
  } catch (e) {
    throw new Error(`listen exporter tcp://${formatEndpoint(ep)}: ${(e as Error).message}`);
  }
}
