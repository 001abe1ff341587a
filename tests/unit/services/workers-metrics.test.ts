import { expect, test } from "bun:test";
import { mergePrometheus, mergeStreams } from "../../../lib/services/workers/api.ts";
import { reusePort } from "../../../lib/runtime/worker-env.ts";

const worker = (build: string, clients: number, bytes: number) => `# HELP srs_build_info build
# TYPE srs_build_info gauge
srs_build_info{build_date="${build}",version="7.0.0"} 1
# HELP srs_clients clients
# TYPE srs_clients gauge
srs_clients ${clients}
srs_send_bytes_total ${bytes}
srs_cpu_percent 1.25
`;

test("workers' metrics: samples summed, *_info from one worker, HELP/TYPE once", () => {
  const m = mergePrometheus([worker("a", 3, 1000), worker("b", 4, 500)]);
  expect(m.match(/^# HELP srs_clients/gm)?.length).toBe(1);
  expect(m.match(/^srs_build_info/gm)).toEqual(["srs_build_info"]);
  expect(m).toContain(`srs_build_info{build_date="a",version="7.0.0"} 1\n`);
  expect(m).toContain("\nsrs_clients 7\n");
  expect(m).toContain("\nsrs_send_bytes_total 1500\n");
  expect(m).toContain("\nsrs_cpu_percent 2.5\n");
});

test("workers' streams: a worker's copy (edge.worker) counts on the owner; a real edge on a loopback origin stays", () => {
  const owner = { app: "live", url: "/live/a", clients: 3, publish: { active: true } };
  const copy = { app: "live", url: "/live/a", clients: 2, publish: { active: true }, edge: { mode: "play", origin: "127.0.0.1:40001", worker: true } };
  const merged = mergeStreams([{ id: 1, j: { streams: [owner] } }, { id: 2, j: { streams: [copy] } }]);
  // 3 on the owner (one of them worker 2's pull) + 2 on worker 2.
  expect(merged).toEqual([{ ...owner, worker: 1, clients: 4 }]);
  const edge = { app: "live", url: "/live/b", clients: 2, publish: { active: true }, edge: { mode: "play", origin: "127.0.0.1:19350" } };
  expect(mergeStreams([{ id: 1, j: { streams: [edge] } }])).toEqual([{ ...edge, worker: 1, clients: 2 }]);
});

test("reusePort(port): in a worker only, never for port 0", () => {
  const saved = process.env.SRS_WORKER_ID;
  try {
    process.env.SRS_WORKER_ID = "2";
    expect(reusePort(1935)).toBe(true);
    expect(reusePort(0)).toBe(false);
    delete process.env.SRS_WORKER_ID;
    expect(reusePort(1935)).toBe(false);
  } finally {
    if (saved === undefined) delete process.env.SRS_WORKER_ID;
    else process.env.SRS_WORKER_ID = saved;
  }
});
