/**
 * The key and certificate of an HTTPS listener (`http_server.https`, `http_api.https`): read from the configured
 * PEM files and checked before a listener takes them, so a bad pair is refused with a clear error while the
 * running listener keeps its old one (reload). The shipped self-signed pair (conf/server.key, conf/server.crt,
 * embedded in the program) stands in for the default paths when the working directory has no conf/.
 *
 * `id` changes whenever either file's content changes: the listeners compare it on every reload (SIGHUP) to
 * take a renewed certificate without a config change.
 */
import type { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { getAssetText } from "../../runtime/assets.ts";
import { nodeCrypto } from "../../runtime/builtin.ts";

export interface TlsPair {
  key: string;
  cert: string;
  /** sha256 of key + cert (changes when either file does). */
  id: string;
  /** The certificate's SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` prints it) and subject, for logs. */
  fingerprint: string;
  subject: string;
  validTo: string;
}

export const DEFAULT_TLS_KEY = "./conf/server.key";
export const DEFAULT_TLS_CERT = "./conf/server.crt";

/** What `loadTlsPair` says when the shipped pair stood in for a missing default file. */
export interface TlsLoadNotes {
  shipped: string[];
}

function readPem(path: string, def: string, asset: string, what: string, notes: TlsLoadNotes): string {
  if (existsSync(path)) {
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      throw new Error(`cannot read ${what} ${path}: ${(e as Error).message}`);
    }
  }
  if (path === def) {
    const shipped = getAssetText(asset);
    if (shipped !== undefined) {
      notes.shipped.push(`${path} not found, using the shipped ${asset}`);
      return shipped;
    }
  }
  throw new Error(`${what} ${path} not found`);
}

/**
 * Reads and checks a key/cert pair: both parse, and the key is the certificate's. Throws an Error naming the
 * file and the reason. (The certificate file may hold a chain: the first certificate is the server's.)
 */
export function loadTlsPair(keyPath: string, certPath: string, notes: TlsLoadNotes = { shipped: [] }): TlsPair {
  const key = readPem(keyPath, DEFAULT_TLS_KEY, "conf/server.key", "key", notes);
  const cert = readPem(certPath, DEFAULT_TLS_CERT, "conf/server.crt", "cert", notes);
  // node:crypto on the first HTTPS listener only (~2 MB of RSS under Bun: lib/runtime/builtin.ts).
  const { createHash, createPrivateKey, X509Certificate } = nodeCrypto();
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`cert ${certPath} is not a PEM certificate: ${(e as Error).message}`);
  }
  let pkey;
  try {
    pkey = createPrivateKey(key);
  } catch (e) {
    throw new Error(`key ${keyPath} is not a PEM private key: ${(e as Error).message}`);
  }
  if (!x509.checkPrivateKey(pkey)) throw new Error(`key ${keyPath} does not match cert ${certPath}`);
  return {
    key,
    cert,
    id: createHash("sha256").update(key).update("\0").update(cert).digest("hex"),
    fingerprint: x509.fingerprint256,
    subject: x509.subject.replace(/\n/g, ", "),
    validTo: x509.validTo,
  };
}
