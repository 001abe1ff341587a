/**
 * Node built-in modules loaded on first use, synchronously (`process.getBuiltinModule`, in Bun and Deno): a
 * module that needs node:crypto for a feature that is rarely configured (SRT encryption, HLS AES-128) does not
 * load it at start. Under Bun, node:crypto is ~2 MB of RSS (see hash.ts).
 */
type NodeCrypto = typeof import("node:crypto");

let crypto: NodeCrypto | undefined;

/** node:crypto, loaded on the first call. */
export function nodeCrypto(): NodeCrypto {
  crypto ??= (process as unknown as { getBuiltinModule(id: string): unknown }).getBuiltinModule("node:crypto") as NodeCrypto;
  return crypto;
}
