/**
 * A network namespace for a test: `ip netns add`, a veth pair with one end moved into the namespace, a random
 * 10.a.b.0/24 on the pair only (host end .1, namespace end .2; a /24 no route of this machine overlaps),
 * loopback up inside. Clients that refuse loopback (pion gathers no 127.0.0.1 candidate) or that must cross
 * an impaired link run inside it with `ip netns exec`; the server under test listens on the host end.
 *
 * Optional `tc netem` loss/delay on both ends of the veth. Kernels without sch_netem ("Specified qdisc kind is
 * unknown", e.g. minimal VM kernels) are reported as `netem: "missing"` and the caller decides (fail, or impair
 * another way: tests/e2e/srt-netem.test.ts forwards through a userspace impairer then).
 *
 * Needs root (CAP_NET_ADMIN). `createNetns` throws with the reason when the namespace cannot be made (never a
 * silent skip). `close()` removes the namespace and the veth; it also runs at process exit for any namespace
 * still open, so a failed test leaves nothing behind.
 */
import { execFileSync } from "node:child_process";
import { type Proc, run } from "./server.ts";

export interface NetnsOptions {
  /** Name prefix of the namespace (default "srsts"); a random tag follows. */
  prefix?: string;
  /** `tc qdisc add … root netem loss L% delay Dms` on both veth ends. */
  netem?: { lossPct?: number; delayMs?: number };
}

export interface Netns {
  /** Namespace name (for `ip netns exec`). */
  ns: string;
  /** Host end of the veth (in the test process's namespace) and its address. */
  hostIf: string;
  hostIp: string;
  /** Namespace end of the veth and its address. */
  nsIf: string;
  nsIp: string;
  /** "tc": netem applied on both ends; "missing": the kernel has no sch_netem; "none": not asked for. */
  netem: "tc" | "missing" | "none";
  /** Why netem is missing (tc's message), when it is. */
  netemError?: string;
  /** Runs a command inside the namespace, returns its stdout (throws on a non-zero exit, with its stderr). */
  exec(cmd: string, args: string[]): string;
  /** Starts a command inside the namespace (tests/helpers/server.ts `run`); killed by close(). */
  spawn(cmd: string, args: string[], opts?: { timeoutMs?: number }): Proc;
  /** Packets received so far by the namespace end of the veth (its rx counter). */
  rxPackets(): number;
  /** Kills what spawn() started, removes the namespace and the veth. Safe to call twice. */
  close(): Promise<void>;
}

const open = new Set<Netns>();
let exitHooked = false;

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** A random 10.a.b.0/24 (as "10.a.b") that overlaps no route or address of this machine (the veths other
 * tests made show up here too). */
function freeNet(): string {
  const text = sh("ip", ["-4", "route", "show", "table", "all"]) + sh("ip", ["-4", "addr"]);
  const toInt = (ip: string) => ip.split(".").reduce((x, o) => x * 256 + Number(o), 0);
  const taken = [...text.matchAll(/\b(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map((m) => {
    const len = m[2] === undefined ? 32 : Number(m[2]);
    const size = 2 ** (32 - len);
    const base = Math.floor(toInt(m[1]!) / size) * size;
    return [base, base + size] as const;
  }).filter(([lo, hi]) => hi - lo < 2 ** 32); // the default route (0.0.0.0/0) is no address in use
  for (let i = 0; i < 100; i++) {
    const net = `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;
    const lo = toInt(`${net}.0`);
    const hi = lo + 256;
    if (!taken.some(([a, b]) => a < hi && lo < b)) return net;
  }
  throw new Error("no free 10.x.y.0/24 for the test veth");
}

/** Makes the namespace and the veth (see the file comment). Throws with the reason if it cannot. */
export function createNetns(opts: NetnsOptions = {}): Netns {
  const tag = Math.random().toString(36).slice(2, 8);
  const ns = `${opts.prefix ?? "srsts"}-${tag}`;
  const hostIf = `vh${tag}`;
  const nsIf = `vn${tag}`;
  const net = freeNet();
  const hostIp = `${net}.1`;
  const nsIp = `${net}.2`;
  try {
    sh("ip", ["netns", "add", ns]);
  } catch (e) {
    throw new Error(`cannot create a network namespace: ${(e as Error).message}. This needs root with CAP_NET_ADMIN.`);
  }
  const procs: Proc[] = [];
  let closed = false;
  const self: Netns = {
    ns, hostIf, hostIp, nsIf, nsIp, netem: "none",
    exec: (cmd, args) => sh("ip", ["netns", "exec", ns, cmd, ...args]),
    spawn: (cmd, args, o = {}) => {
      const p = run("ip", ["netns", "exec", ns, cmd, ...args], o);
      procs.push(p);
      return p;
    },
    rxPackets: () => Number(sh("ip", ["netns", "exec", ns, "cat", `/sys/class/net/${nsIf}/statistics/rx_packets`]).trim()),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const p of procs) p.kill();
      await Promise.all(procs.map((p) => p.done));
      removeNetns(ns, hostIf);
      open.delete(self); // only now: if the process exits meanwhile, the exit hook still removes it
    },
  };
  open.add(self);
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", () => {
      for (const n of open) removeNetns(n.ns, n.hostIf);
    });
  }
  try {
    sh("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf]);
    sh("ip", ["link", "set", nsIf, "netns", ns]);
    sh("ip", ["addr", "add", `${hostIp}/24`, "dev", hostIf]);
    sh("ip", ["link", "set", hostIf, "up"]);
    self.exec("ip", ["addr", "add", `${nsIp}/24`, "dev", nsIf]);
    self.exec("ip", ["link", "set", nsIf, "up"]);
    self.exec("ip", ["link", "set", "lo", "up"]);
  } catch (e) {
    open.delete(self);
    closed = true;
    removeNetns(ns, hostIf);
    throw new Error(`network namespace setup failed: ${(e as Error).message}`);
  }
  if (opts.netem) {
    const args = ["root", "netem"];
    if (opts.netem.lossPct) args.push("loss", `${opts.netem.lossPct}%`);
    if (opts.netem.delayMs) args.push("delay", `${opts.netem.delayMs}ms`);
    try {
      sh("tc", ["qdisc", "add", "dev", hostIf, ...args]);
      self.exec("tc", ["qdisc", "add", "dev", nsIf, ...args]);
      self.netem = "tc";
    } catch (e) {
      const why = (e as Error).message;
      if (!/qdisc kind is unknown/i.test(why)) {
        void self.close();
        throw new Error(`tc netem failed: ${why}`);
      }
      self.netem = "missing";
      self.netemError = why;
    }
  }
  return self;
}

function removeNetns(ns: string, hostIf: string): void {
  // Deleting the namespace removes the veth pair with it; the link delete is for a half-made setup.
  for (const args of [["netns", "del", ns], ["link", "del", hostIf]]) {
    try {
      execFileSync("ip", args, { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}

/**
 * Random loss without sch_netem: an nftables table inside the namespace drops `pct`% of the UDP datagrams it
 * receives and `pct`% of those it sends (`numgen random mod 100 < pct`), so both directions of every UDP flow
 * through the veth are impaired. No delay (nftables cannot delay). Removed with the namespace.
 */
export function nftLoss(n: Netns, pct: number): void {
  const p = Math.max(0, Math.min(100, Math.round(pct)));
  n.exec("nft", ["add", "table", "inet", "srsts_loss"]);
  for (const [chain, hook] of [["in", "input"], ["out", "output"]] as const) {
    n.exec("nft", ["add", "chain", "inet", "srsts_loss", chain, `{ type filter hook ${hook} priority 0; }`]);
    n.exec("nft", ["add", "rule", "inet", "srsts_loss", chain, "meta", "l4proto", "udp", "numgen", "random", "mod", "100", "<", String(p), "drop"]);
  }
}
