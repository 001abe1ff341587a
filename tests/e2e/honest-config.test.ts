/**
 * Honest config as a user meets it: an SRS config using directives srs-ts does not implement still passes `-t` and
 * starts, and both `-t` and the start log name each such directive with file:line; an edge (implemented) is not
 * among them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/media.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

const MAIN = join(REPO_ROOT, "main.ts");

const EDGE_CONF = `listen 1935;
daemon off;
srs_log_tank console;
vhost __defaultVhost__ {
    cluster {
        mode            remote;
        origin          127.0.0.1:19350;
    }
    hds {
        enabled         on;
    }
}
vhost other {
    hds {
        enabled         on;
    }
    hls {
        enabled         on;
        hls_storage     ram;
    }
}
`;

const running: RunningServer[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});

describe("honest config", () => {
  test("-t accepts the config and names every unimplemented directive with file:line", () => {
    const dir = tempDir("srs-ts-honest-");
    const file = join(dir, "edge.conf");
    writeFileSync(file, EDGE_CONF);
    const r = spawnSync(process.execPath, [MAIN, "-t", "-c", file], { cwd: dir, encoding: "utf8", timeout: 20000 });
    const out = (r.stdout ?? "") + (r.stderr ?? "");
    expect(r.status).toBe(0);
    expect(out).toContain("test is successful");
    const warnings = out.split("\n").filter((l) => l.includes("not implemented in srs-ts") || l.includes("NOT IMPLEMENTED"));
    expect(warnings).toHaveLength(2);
    expect(out).not.toContain("vhost.cluster");
    expect(out).toContain(`${file}:19: vhost.hls.hls_storage ram (vhost other)`);
    expect(out).toContain(`${file}:9: vhost.hds (vhosts __defaultVhost__, other)`);
    expect(out).toContain(`also at ${file}:14`);
  });

  test("the start log names them too, and the server runs", async () => {
    const s = await startServer({ config: EDGE_CONF });
    running.push(s);
    const file = join(s.dir, "srs.conf");
    const log = s.output();
    expect(log).not.toContain("vhost.cluster");
    expect(log).toContain(`${file}:19: vhost.hls.hls_storage ram (vhost other): not implemented in srs-ts`);
    expect(log).toContain(`${file}:9: vhost.hds (vhosts __defaultVhost__, other): not implemented in srs-ts`);
    expect(await s.stop()).toBe(0);
  });
});
