/** The vhost's access blocks: `security` (allow/deny by IP) and `refer` (allowed page referers). */
import type { Scope } from "./env.ts";

export interface SecurityRule {
  action: "allow" | "deny";
  method: "play" | "publish";
  /** `all`, an IP or a CIDR. */
  target: string;
}

export interface SecurityConfig {
  enabled: boolean;
  rules: SecurityRule[];
}

export interface ReferConfig {
  enabled: boolean;
  all: string[];
  publish: string[];
  play: string[];
}

/** The vhost's `security` block `s` (no env overrides). */
export function securityOf(s: Scope): SecurityConfig {
  const rules: SecurityRule[] = [];
  for (const d of s.dir?.children ?? []) {
    if (d.name !== "allow" && d.name !== "deny") continue;
    const method = d.args[0];
    if (method !== "play" && method !== "publish") continue;
    rules.push({ action: d.name, method, target: d.args[1] ?? "all" });
  }
  return { enabled: s.boolOn("enabled"), rules };
}

/** The vhost's `refer` block `s` (no env overrides). */
export function referOf(s: Scope): ReferConfig {
  return { enabled: s.boolOn("enabled"), all: s.list("all"), publish: s.list("publish"), play: s.list("play") };
}
