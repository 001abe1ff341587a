/**
 * Security rules (`vhost { security { enabled on; allow|deny publish|play all|<ip>|<cidr>; } }`) and refer checks
 * (`vhost { refer { enabled on; all a.com; publish b.com; play c.com; } }`), with SRS's semantics:
 *
 *  - Security, when enabled: a matching `deny` rule for the method refuses first. Then, if the block has any
 *    `allow` rule (of either method), one `allow` rule of this method must match; a block with only `deny`
 *    rules lets everything else in; an empty block refuses everyone ("default deny").
 *  - Refer: the domain of the client's pageUrl (scheme, path and port stripped) must END with one of the
 *    configured names (its first occurrence must be at the end); an empty list means no check. `all` is
 *    checked at connect, `publish`/`play` when the client publishes/plays. An empty pageUrl fails a check.
 */
import type { ReferConfig, SecurityConfig } from "../../config/config.ts";
import { inPrefix, parseIp } from "../../net/ip.ts";

export type SecurityMethod = "publish" | "play";

export type CheckResult = { ok: true } | { ok: false; reason: string };

const OK: CheckResult = { ok: true };

/**
 * True when `ip` equals the target IP or lies in the target CIDR (IPv4 or IPv6; an IPv4-mapped client address is
 * its IPv4 address, lib/net/ip.ts). `all` matches everything.
 */
export function ipMatches(target: string, ip: string): boolean {
  if (target === "all" || target === ip) return true;
  const addr = parseIp(ip);
  if (!addr) return false;
  const slash = target.indexOf("/");
  const net = parseIp(slash < 0 ? target : target.slice(0, slash));
  if (!net || net.family !== addr.family) return false;
  const max = net.family === 4 ? 32 : 128;
  const bitsText = slash < 0 ? String(max) : target.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) return false;
  return inPrefix(addr, net, Number(bitsText));
}

/** SRS's security check for a client of `ip` that wants to publish or play. */
export function checkSecurity(cfg: SecurityConfig | undefined, method: SecurityMethod, ip: string): CheckResult {
  if (!cfg || !cfg.enabled) return OK;
  for (const r of cfg.rules) {
    if (r.action === "deny" && r.method === method && ipMatches(r.target, ip)) {
      return { ok: false, reason: `security: ${method} denied by rule <deny ${r.method} ${r.target}> for ${ip}` };
    }
  }
  let allowRules = 0;
  for (const r of cfg.rules) {
    if (r.action !== "allow") continue;
    allowRules++;
    if (r.method === method && ipMatches(r.target, ip)) return OK;
  }
  const denyRules = cfg.rules.length - allowRules;
  if (allowRules > 0 || cfg.rules.length === 0) {
    return { ok: false, reason: `security: ${method} not allowed by any of ${allowRules}/${denyRules} rules for ${ip}` };
  }
  return OK;
}

/** The domain of a page URL as SRS extracts it: after "://", before the first "/" and the first ":". */
export function referDomain(pageUrl: string): string {
  let d = pageUrl;
  let i = d.indexOf("://");
  if (i >= 0) d = d.slice(i + 3);
  i = d.indexOf("/");
  if (i >= 0) d = d.slice(0, i);
  i = d.indexOf(":");
  if (i >= 0) d = d.slice(0, i);
  return d;
}

/** One refer list: passes when empty, or when the pageUrl's domain ends with one of the names. */
export function checkReferList(pageUrl: string, names: readonly string[]): boolean {
  if (names.length === 0) return true;
  const domain = referDomain(pageUrl);
  for (const name of names) {
    const pos = domain.indexOf(name);
    if (pos >= 0 && pos === domain.length - name.length) return true;
  }
  return false;
}

/** The refer check of a stage: "connect" uses `all`, publish/play their own list. */
export function checkRefer(cfg: ReferConfig | undefined, stage: "connect" | SecurityMethod, pageUrl: string): CheckResult {
  if (!cfg || !cfg.enabled) return OK;
  const names = stage === "connect" ? cfg.all : stage === "publish" ? cfg.publish : cfg.play;
  if (checkReferList(pageUrl, names)) return OK;
  return { ok: false, reason: `refer: ${stage} denied, pageUrl "${pageUrl}" not in [${names.join(" ")}]` };
}
