/**
 * YAML form of the SRS config (files ending `.yaml`/`.yml`), converted to the same Directive tree as the conf
 * syntax, then transformed and checked exactly the same way. Parsed with the `yaml` package (YAML 1.2 core schema).
 *
 * Mapping (conf → YAML):
 * - `name arg;`                 → `name: arg`            (numbers are kept as written: `hls_td_ratio: 1.0` → "1.0")
 * - `name a b c;`               → `name: [a, b, c]`      (a list of plain values is ONE directive with many args)
 * - `name;` (no args)           → `name:` or `name: null`
 * - `name { … }`                → `name: { … }`          (a mapping is always a block; `name: {}` is an empty block)
 * - `name a b { … }`            → `name: { _args: [a, b], … }`   (`_args` may also be a single value)
 * - repeated directives/blocks  → `name: [ …, … ]`       a list holding at least one list/mapping/null is one
 *                                 directive per item: a list item gives the args (`allow: [[play, all], [publish,
 *                                 all]]`), a mapping item a block, a plain item one arg, null no args
 * - `vhost` and `ingest` (blocks always named by their first arg) may be written keyed by name:
 *   `vhost: { __defaultVhost__: { hls: { enabled: on } }, other.com: {} }` (each value a mapping or empty). When
 *   the mapping has `_args`, it is a single block as above; a list of blocks with `_args` also works.
 * - `true`/`false` become `on`/`off` (`on`/`off` themselves are plain strings in YAML 1.2 and pass through).
 * - `include: file` / `include: [a, b]` includes conf or YAML files (same path rules as the conf `include`).
 * - Anchors/aliases and non-scalar keys are rejected; duplicate keys are YAML errors (use a list to repeat).
 * Errors are `ConfigError`s with the YAML line.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type Scalar } from "yaml";
import { ConfigError } from "./errors.ts";
import { type Directive, includeFile, type IncludeContext, MAX_DEPTH, newDirective, newIncludeContext } from "./parser.ts";

/** Blocks written keyed by their first argument. */
const NAMED_BLOCKS = new Set(["vhost", "ingest"]);

type AnyNode = Node | Pair | null | undefined;

class YamlConverter {
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
    private readonly ctx: IncludeContext,
  ) {}

  line(n: AnyNode): number {
    const r = n && "range" in n ? n.range : undefined;
    return r ? this.lc.linePos(r[0]).line : 0;
  }

  fail(reason: string, n: AnyNode, directive?: string): never {
    throw new ConfigError(reason, { file: this.file, line: this.line(n), directive });
  }

  /** A plain value as a conf word, or null for YAML null. */
  scalarWord(n: Scalar, name: string): string | null {
    const v: unknown = n.value;
    if (v === null || v === undefined) return null;
    if (typeof v === "boolean") return v ? "on" : "off";
    if (typeof v === "number" || typeof v === "bigint") return n.source ?? String(v);
    if (typeof v === "string") return v;
    return this.fail(`unsupported YAML value`, n, name);
  }

  checkNode(n: AnyNode, name: string): void {
    if (isAlias(n)) this.fail("YAML aliases are not supported", n, name);
  }

  /** Converts the body mapping `map` into `into`'s children. */
  body(map: Node | null | undefined, into: Directive, depth: number): void {
    if (map === null || map === undefined) return;
    if (isScalar(map) && map.value === null) return;
    this.checkNode(map, into.name);
    if (!isMap(map)) this.fail("expected a mapping of directives", map, into.name || undefined);
    if (depth > MAX_DEPTH) this.fail(`blocks nested deeper than ${MAX_DEPTH} levels`, map, into.name);
    for (const pair of map.items) {
      const key = pair.key as AnyNode;
      if (!isScalar(key) || typeof key.value !== "string" && typeof key.value !== "number") {
        this.fail("directive names must be plain strings", (key ?? pair) as AnyNode);
      }
      const name = String(key.value);
      if (name === "_args") continue;
      if (name === "") this.fail("empty directive name", key);
      const value = pair.value as AnyNode;
      this.emit(name, value as Node | null, into, this.line(key), depth);
    }
  }

  /** Args from an `_args` value: a plain value or a list of plain values. */
  argsOf(n: AnyNode, name: string): string[] {
    if (n === null || n === undefined) return [];
    this.checkNode(n, name);
    if (isScalar(n)) {
      const w = this.scalarWord(n, name);
      return w === null ? [] : [w];
    }
    if (isSeq(n)) {
      return n.items.map((it) => {
        const item = it as AnyNode;
        this.checkNode(item, name);
        if (!isScalar(item)) this.fail("arguments must be plain values", item, name);
        const w = this.scalarWord(item, name);
        return w ?? "";
      });
    }
    return this.fail("arguments must be a plain value or a list of plain values", n, name);
  }

  emit(name: string, value: Node | null, into: Directive, line: number, depth: number): void {
    this.checkNode(value, name);
    if (name === "include") {
      const files = this.argsOf(value, name);
      const loc = { file: this.file, line, directive: "include" };
      if (files.length === 0) throw new ConfigError("include is empty directive", loc);
      for (const f of files) includeFile(f, loc, into, this.ctx, depth);
      return;
    }
    if (value === null || value === undefined || isScalar(value)) {
      const w = value ? this.scalarWord(value, name) : null;
      into.children.push(newDirective(name, w === null ? [] : [w], this.file, line));
      return;
    }
    if (isSeq(value)) {
      const items = value.items as AnyNode[];
      const allPlain = items.every((it) => isScalar(it) && it.value !== null);
      if (allPlain) {
        into.children.push(newDirective(name, this.argsOf(value, name), this.file, line));
        return;
      }
      for (const it of items) {
        this.checkNode(it, name);
        const itLine = this.line(it) || line;
        if (isSeq(it)) into.children.push(newDirective(name, this.argsOf(it, name), this.file, itLine));
        else this.emit(name, (it ?? null) as Node | null, into, itLine, depth);
      }
      return;
    }
    if (isMap(value)) {
      const argsPair = value.items.find((p) => isScalar(p.key) && p.key.value === "_args");
      if (NAMED_BLOCKS.has(name) && !argsPair) {
        for (const pair of value.items) {
          const key = pair.key as AnyNode;
          if (!isScalar(key) || (typeof key.value !== "string" && typeof key.value !== "number")) {
            this.fail(`${name} names must be plain strings`, (key ?? value) as AnyNode, name);
          }
          const d = newDirective(name, [String(key.value)], this.file, this.line(key));
          into.children.push(d);
          this.body(pair.value as Node | null, d, depth + 1);
        }
        return;
      }
      const d = newDirective(name, argsPair ? this.argsOf(argsPair.value as AnyNode, name) : [], this.file, line);
      into.children.push(d);
      this.body(value, d, depth + 1);
      return;
    }
    this.fail("unsupported YAML node", value, name);
  }
}

/** Parses YAML `text` into the children of `into` (signature of a parser.ts `FileParser`). */
export function parseYamlInto(text: string, file: string, into: Directive, ctx: IncludeContext): void {
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError(`invalid YAML: ${e instanceof Error ? e.message : String(e)}`, { file });
  }
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line ?? lc.linePos(err.pos[0]).line;
    throw new ConfigError(`invalid YAML: ${err.message.split("\n")[0]}`, { file, line });
  }
  new YamlConverter(file, lc, ctx).body(doc.contents as Node | null, into, 0);
}

/** Parses a YAML text into a new root. */
export function parseYamlText(text: string, file = "<yaml>", ctx: IncludeContext = newIncludeContext()): Directive {
  const root = newDirective("", [], file, 0);
  parseYamlInto(text, file, root, ctx);
  return root;
}

/** Renders a tree as YAML in the mapping above (for `srs -t` style dumps and tests). */
export function stringifyYaml(root: Directive): string {
  const lines: string[] = [];
  const word = (a: string) => (/^[A-Za-z_][\w.\-/]*$/.test(a) && !/^(true|false|null)$/i.test(a) ? a : JSON.stringify(a));
  const value = (d: Directive) => (d.args.length === 0 ? "" : d.args.length === 1 ? ` ${word(d.args[0] as string)}` : ` [${d.args.map(word).join(", ")}]`);
  const walk = (children: Directive[], indent: string) => {
    const groups = new Map<string, Directive[]>();
    for (const c of children) groups.set(c.name, [...(groups.get(c.name) ?? []), c]);
    for (const [name, ds] of groups) {
      const first = ds[0] as Directive;
      const isBlock = (d: Directive) => d.children.length > 0 || d.name === "vhost";
      if (NAMED_BLOCKS.has(name) && ds.every((d) => d.args.length === 1)) {
        lines.push(`${indent}${name}:`);
        for (const d of ds) {
          lines.push(`${indent}  ${word(d.args[0] as string)}:${d.children.length === 0 ? " {}" : ""}`);
          walk(d.children, indent + "    ");
        }
      } else if (ds.length === 1 && !isBlock(first)) {
        lines.push(`${indent}${name}:${value(first)}`);
      } else if (ds.length === 1) {
        lines.push(`${indent}${name}:${first.children.length === 0 && first.args.length === 0 && !NAMED_BLOCKS.has(name) ? " {}" : ""}`);
        if (first.args.length > 0 || NAMED_BLOCKS.has(name)) lines.push(`${indent}  _args: [${first.args.map(word).join(", ")}]`);
        walk(first.children, indent + "  ");
      } else {
        lines.push(`${indent}${name}:`);
        for (const d of ds) {
          if (!isBlock(d)) {
            lines.push(`${indent}  - [${d.args.map(word).join(", ")}]`);
            continue;
          }
          lines.push(`${indent}  - _args: [${d.args.map(word).join(", ")}]`);
          walk(d.children, indent + "    ");
        }
      }
    }
  };
  walk(root.children, "");
  return lines.join("\n") + "\n";
}
