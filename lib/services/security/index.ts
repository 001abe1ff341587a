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

export type SecurityMethod = "publish" | "play";

export type CheckResult = { ok: true } | { ok: false; reason: string };

const OK: CheckResult = { ok: true };

/** Parses a dotted IPv4 address into an unsigned 32-bit number, or undefined. */
export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.replace(/^::ffff:/i, ""));
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return undefined;
    n = n * 256 + b;
  }
  return n;
}

/** Parses an IPv6 address into 8 16-bit groups, or undefined. */
export function parseIpv6(s: string): number[] | undefined {
  if (!s.includes(":")) return undefined;
  const v4tail = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  let text = s;
  const extra: number[] = [];
  if (v4tail) {
    const v4 = parseIpv4(v4tail[1]!);
    if (v4 === undefined) return undefined;
    extra.push(Math.floor(v4 / 65536), v4 % 65536);
    text = s.slice(0, s.length - v4tail[1]!.length);
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const parts = text.split("::");
  if (parts.length > 2) return undefined;
  const groups = (p: string): number[] | undefined => {
    if (p === "") return [];
    const out: number[] = [];
    for (const g of p.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(parts[0]!);
  const tail = parts.length === 2 ? groups(parts[1]!) : [];
  if (!head || !tail) return undefined;
  const total = head.length + tail.length + extra.length;
  if (parts.length === 1 && total !== 8) return undefined;
  if (total > 8 || (parts.length === 2 && total === 8)) return undefined;
  return [...head, ...new Array<number>(8 - total).fill(0), ...tail, ...extra];
}

/** True when `ip` equals the target IP or lies in the target CIDR (IPv4 or IPv6). `all` matches everything. */
export function ipMatches(target: string, ip: string): boolean {
  if (target === "all") return true;
  const bare = ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
  const slash = target.indexOf("/");
  if (slash < 0) {
    if (target === bare || target === ip) return true;
    const a = parseIpv6(target);
    const b = parseIpv6(bare);
    return !!a && !!b && a.every((x, i) => x === b[i]);
  }
  const net = target.slice(0, slash);
  const bits = Number(target.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0) return false;
  const n4 = parseIpv4(net);
  if (n4 !== undefined) {
    const i4 = parseIpv4(bare);
    if (i4 === undefined || bits > 32) return false;
    if (bits === 0) return true;
    const shift = 32 - bits;
    return Math.floor(n4 / 2 ** shift) === Math.floor(i4 / 2 ** shift);
  }
  const n6 = parseIpv6(net);
  const i6 = parseIpv6(bare);
  if (!n6 || !i6 || bits > 128) return false;
  let left = bits;
  for (let g = 0; g < 8 && left > 0; g++) {
    const take = Math.min(16, left);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((n6[g]! & mask) !== (i6[g]! & mask)) return false;
    left -= take;
  }
  return true;
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
