/**
 * The running config for the console (GET /api/v1/config, an srs-ts extension under the API's auth): the parsed
 * directives printed back in SRS's syntax, with secrets masked, and the SRS_* environment variables that override
 * them (masked the same way). What is masked:
 *  - the arguments of directives whose name says secret (password, passwd, passphrase, secret, token, credential;
 *    `key`/`cert` directives name files and are shown);
 *  - in any argument that is a URL: the password of its userinfo (rtmp://user:****@host) and the values of query
 *    parameters named like a secret (?token=****, ?secret=, ?key=, ?password=, ?auth=, ?sign=).
 */
import type { Directive } from "../../config/parser.ts";

export const MASK = "****";

const SECRET_NAME = /pass(word|wd|phrase)?$|secret|token|credential|^auth_key$|^sign$/i;
const SECRET_ENV = /PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL/;
const SECRET_PARAM = /^(token|secret|key|password|passwd|pass|passphrase|auth|sign|signature|access_token|api_key)$/i;

/** `v` with any URL password and secret-like query values masked. */
export function maskValue(v: string): string {
  // userinfo: scheme://user:pass@
  let out = v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):([^@/\s]*)@/i, (_m, a: string) => `${a}:${MASK}@`);
  // query parameters
  out = out.replace(/([?&])([^=&#\s]+)=([^&#\s]*)/g, (m, sep: string, k: string) => (SECRET_PARAM.test(k) ? `${sep}${k}=${MASK}` : m));
  return out;
}

function quote(a: string): string {
  return /^[^\s;{}"'#]+$/.test(a) ? a : `"${a.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The directives under `root` in SRS's config syntax, secrets masked. */
export function configText(root: Directive): string {
  const lines: string[] = [];
  const walk = (d: Directive, depth: number) => {
    const pad = "    ".repeat(depth);
    const args = SECRET_NAME.test(d.name) && d.args.length ? d.args.map(() => MASK) : d.args.map(maskValue);
    const head = [d.name, ...args.map(quote)].join(" ");
    if (d.children.length) {
      lines.push(`${pad}${head} {`);
      for (const c of d.children) walk(c, depth + 1);
      lines.push(`${pad}}`);
    } else {
      lines.push(`${pad}${head};`);
    }
  };
  for (const c of root.children) walk(c, 0);
  return lines.join("\n") + "\n";
}

/** The SRS_* environment overrides, masked: secret-like names entirely, URLs as above. */
export function envOverrides(env: Record<string, string | undefined>): { name: string; value: string }[] {
  return Object.entries(env)
    .filter(([k, v]) => k.startsWith("SRS_") && v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, v]) => ({ name, value: SECRET_ENV.test(name) ? MASK : maskValue(v!) }));
}
