/**
 * One view of the whole server over srs-ts's workers (`workers N;`): the HTTP API port is shared by every worker
 * (SO_REUSEPORT), so whichever worker takes a request of /api/v1/streams, /api/v1/clients or /api/v1/summaries
 * asks every worker's private loopback API (the same API, answering for that worker alone) and merges the answers;
 * /api/v1/vhosts and /api/v1/processes too; a client or stream by id, and a kick (DELETE /api/v1/clients/:id), go
 * to the worker that holds it.
 *
 * Merged: streams by URL (the owner's entry; players summed over the workers, less the owner's clients that are
 * other workers' pulls), clients listed once each with the `worker` that holds them (other workers' pulls left
 * out), summaries with the connections and bytes summed, `workers` listing each one's pid, memory and CPU.
 */
import type { Hono } from "hono";
import type { Log } from "../../log/logger.ts";
import { type ApiPorts, apiJson, page } from "../api/index.ts";

/** Where each worker's private API answers (the primary's registry, through the worker link). */
export interface WorkerApiPeers {
  /** Every running worker: id and "127.0.0.1:port" of its private API. */
  peers(): { id: number; api: string }[];
  readonly secret: string;
  readonly log: Log;
}

/** The header a worker's private API request carries (the secret): answer for this worker alone. */
export const LOCAL_HEADER = "x-srs-worker";
const PEER_TIMEOUT_MS = 3000;

type Json = Record<string, unknown>;

/** A request to a worker's private API, with the secret header and a timeout; undefined when it did not answer. */
async function peerFetch(peer: { api: string }, path: string, secret: string, init: { method?: string; headers?: HeadersInit } = {}): Promise<Response | undefined> {
  const headers = new Headers(init.headers);
  headers.set(LOCAL_HEADER, secret);
  try {
    return await fetch(`http://${peer.api}${path}`, { method: init.method ?? "GET", headers, signal: AbortSignal.timeout(PEER_TIMEOUT_MS) });
  } catch {
    return undefined;
  }
}

async function ask(peer: { id: number; api: string }, path: string, req: Request, secret: string, method = "GET"): Promise<Json | undefined> {
  const auth = req.headers.get("authorization");
  const r = await peerFetch(peer, path, secret, { method, headers: auth ? { authorization: auth } : undefined });
  try {
    return r ? ((await r.json()) as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** Streams by URL (see the header). Exported for its unit test. */
export function mergeStreams(answers: { id: number; j: Json }[]): Json[] {
  const byUrl = new Map<string, { base?: Json; copies: number; clients: number; first: Json }>();
  for (const { id, j } of answers) {
    for (const s of (j.streams as Json[] | undefined) ?? []) {
      const k = `${String(s.app)}|${String(s.url)}`;
      const g = byUrl.get(k) ?? { copies: 0, clients: 0, first: s };
      // A worker's copy of another worker's stream (the hub's publisher is the pull between workers).
      const copy = (s.edge as { worker?: boolean } | undefined)?.worker === true;
      if (copy) g.copies++;
      else if (!g.base || (s.publish as { active?: boolean })?.active) g.base = { ...s, worker: id };
      g.clients += Number(s.clients) || 0;
      byUrl.set(k, g);
    }
  }
  return [...byUrl.values()].map((g) => ({ ...(g.base ?? g.first), clients: Math.max(0, g.clients - g.copies) }));
}

/** Vhosts by name: clients, streams, bytes and rates summed over the workers. */
function mergeVhosts(answers: { id: number; j: Json }[]): Json[] {
  const byName = new Map<string, Json>();
  for (const { j } of answers) {
    for (const v of (j.vhosts as Json[] | undefined) ?? []) {
      const name = String(v.name);
      const m = byName.get(name);
      if (!m) {
        byName.set(name, { ...v, kbps: { ...(v.kbps as Json) } });
        continue;
      }
      for (const k of ["clients", "streams", "send_bytes", "recv_bytes"]) m[k] = sum([m[k], v[k]]);
      const mk = m.kbps as Json;
      const vk = (v.kbps as Json | undefined) ?? {};
      for (const k of ["recv_30s", "send_30s"]) mk[k] = sum([mk[k], vk[k]]);
    }
  }
  return [...byName.values()];
}

function sum(values: unknown[]): number {
  return values.reduce<number>((a, v) => a + (Number(v) || 0), 0);
}

function mergeSummaries(answers: { id: number; j: Json }[]): Json | undefined {
  const first = answers[0]?.j;
  if (!first) return undefined;
  const datas = answers.map((a) => a.j.data as Json);
  const selfs = datas.map((d) => d.self as Json);
  const systems = datas.map((d) => d.system as Json);
  const data = first.data as Json;
  return {
    ...first,
    data: {
      ...data,
      self: { ...(data.self as Json), mem_kbyte: sum(selfs.map((s) => s.mem_kbyte)), cpu_percent: sum(selfs.map((s) => s.cpu_percent)) },
      system: {
        ...(data.system as Json),
        srs_recv_bytes: sum(systems.map((s) => s.srs_recv_bytes)),
        srs_send_bytes: sum(systems.map((s) => s.srs_send_bytes)),
        conn_srs: sum(systems.map((s) => s.conn_srs)),
      },
      workers: answers.map(({ id }, i) => ({
        id,
        pid: selfs[i]!.pid,
        mem_kbyte: selfs[i]!.mem_kbyte,
        cpu_percent: selfs[i]!.cpu_percent,
        conn_srs: systems[i]!.conn_srs,
      })),
    },
  };
}

/**
 * Mounts the merging routes on the public API app, before the API itself (requests with the secret header, from
 * another worker, fall through to this worker's own answer).
 */
export function mountWorkersApi(app: Hono, peers: WorkerApiPeers, ctx: Pick<ApiPorts, "config">): void {
  app.use("/api/v1/*", async (c, next) => {
    const req = c.req.raw;
    if (req.headers.get(LOCAL_HEADER) === peers.secret || req.method === "OPTIONS") return await next();
    const url = new URL(req.url);
    const m = /^\/api\/v1\/(streams|clients|summaries|vhosts|processes)\/?([^/]*)\/?$/.exec(url.pathname);
    if (!m) return await next();
    const [, what, id] = m;
    const all = peers.peers();
    if (id) {
      // By id: the worker that knows it answers (ids are random per worker); JSONP wrapping is done here.
      const search = new URLSearchParams(url.search);
      search.delete("callback");
      const path = search.size ? `${url.pathname}?${search}` : url.pathname;
      for (const p of all) {
        const j = await ask(p, path, req, peers.secret, req.method);
        if (j && j.code === 0) return apiJson(ctx, req, { ...j, worker: p.id });
      }
      return await next();
    }
    if (req.method !== "GET") return await next();
    const path = what === "summaries" || what === "vhosts" || what === "processes" ? url.pathname : `${url.pathname}?count=100000`;
    const answers = (await Promise.all(all.map(async (p) => ({ id: p.id, j: await ask(p, path, req, peers.secret) }))))
      .filter((a): a is { id: number; j: Json } => a.j !== undefined && a.j.code === 0);
    if (answers.length === 0) return await next();
    if (what === "summaries") return apiJson(ctx, req, mergeSummaries(answers));
    if (what === "vhosts") return apiJson(ctx, req, { ...answers[0]!.j, vhosts: mergeVhosts(answers) });
    if (what === "processes") {
      // srs-ts's ingest/transcode/exec processes: every worker's, each with the worker running it.
      const processes = answers.flatMap(({ id, j }) => ((j.processes as Json[] | undefined) ?? []).map((x) => ({ ...x, worker: id })));
      return apiJson(ctx, req, { ...answers[0]!.j, processes });
    }
    const [start, count] = page(url);
    const base = { ...answers[0]!.j };
    delete base.streams;
    delete base.clients;
    if (what === "streams") return apiJson(ctx, req, { ...base, streams: mergeStreams(answers).slice(start, start + count) });
    const clients = answers.flatMap(({ id, j }) => ((j.clients as Json[] | undefined) ?? []).map((x) => ({ ...x, worker: id })));
    return apiJson(ctx, req, { ...base, clients: clients.slice(start, start + count) });
  });
}

/**
 * Prometheus text of every worker (each worker's private API answers /metrics for itself) as one: samples with the
 * same name and labels are summed, except `*_info` ones (one worker's, the first that answered); HELP and
 * TYPE lines once each. Undefined when no worker answered.
 */
export async function mergedMetrics(peers: WorkerApiPeers): Promise<string | undefined> {
  const texts = await Promise.all(peers.peers().map(async (p) => {
    const r = await peerFetch(p, "/metrics", peers.secret);
    try {
      return r?.ok ? await r.text() : undefined;
    } catch {
      return undefined;
    }
  }));
  const got = texts.filter((t): t is string => t !== undefined);
  if (got.length === 0) return undefined;
  return mergePrometheus(got);
}

/** Sums Prometheus text expositions line by line (see mergedMetrics). Exported for its unit test. */
export function mergePrometheus(texts: string[]): string {
  const order: string[] = [];
  const values = new Map<string, number>();
  const seen = new Set<string>();
  /** `*_info` metrics (labels differ by worker, e.g. its start time): the first worker's samples only. */
  const infoFrom = new Map<string, number>();
  for (const [n, t] of texts.entries()) {
    for (const line of t.split("\n")) {
      if (!line.trim()) continue;
      if (line.startsWith("#")) {
        if (!seen.has(line)) {
          seen.add(line);
          order.push(line);
        }
        continue;
      }
      const cut = line.lastIndexOf(" ");
      const key = line.slice(0, cut);
      const v = Number(line.slice(cut + 1));
      const name = key.replace(/\{.*$/, "");
      if (name.endsWith("_info")) {
        if ((infoFrom.get(name) ?? n) !== n) continue;
        infoFrom.set(name, n);
      }
      if (!values.has(key)) {
        order.push(key);
        values.set(key, v);
      } else if (!name.endsWith("_info")) values.set(key, values.get(key)! + v);
    }
  }
  return order.map((k) => (k.startsWith("#") ? k : `${k} ${formatSample(values.get(k)!)}`)).join("\n") + "\n";
}

function formatSample(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1e6) / 1e6);
}
