import { expect, test } from "bun:test";
import { mergePrometheus } from "../../../lib/services/workers/api.ts";

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
