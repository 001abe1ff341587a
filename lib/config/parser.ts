/**
 * SRS (nginx-style) config parser.
 *
 * Syntax, as SRS's `SrsConfDirective::parse_conf/read_token` (itself a port of nginx's `ngx_conf_read_token`):
 * - A directive is `name arg1 arg2 … ;` or a block `name args… { sub-directives }`; blocks may repeat.
 * - Whitespace is space, tab, CR and LF. `#` starts a comment up to the end of the line (only where a token may
 *   start: `a#b` is one word).
 * - Arguments may be `"double"` or `'single'` quoted: the quotes are stripped and there are no escapes. A closing
 *   quote must be followed by whitespace, `;` or `{`. An empty quoted word (`""`) adds no argument.
 * - A directive must end on the line where its arguments are: a line break after the first word of an unfinished
 *   directive is an error ("unexpected end of line"). (As in SRS, a quoted *first* word may span lines.)
 * - `include file1 [file2 …];` may appear anywhere (top level or inside a block). Each file is parsed on its own
 *   (its braces must balance) and its directives are added to the current block, in place of the `include`.
 *
 * Include paths. SRS opens include paths as given, i.e. relative to the process's working directory (SRS runs from
 * its trunk dir, so `include ./conf/include.vhost.conf;` in `conf/include.conf` works). We do the same first; if the
 * file does not exist there we additionally try, in order, relative to the including file's directory and to that
 * directory's parent. The last rule makes SRS's own `conf/include.conf` work when the server is started from another
 * directory with an absolute `-c /path/trunk/conf/include.conf`. Include cycles and unreadable files are errors naming
 * the `include` directive's file:line.
 *
 * Every error is a `ConfigError`; nothing here throws anything else.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "./errors.ts";

/** One node of the config tree. The root has name `""` and line 0. */
export interface Directive {
  name: string;
  args: string[];
  children: Directive[];
  /** The file the directive was read from (for the root: the main file). */
  file: string;
  /** 1-based line of the directive's first word (0 for the root and for nodes synthesised without a source). */
  line: number;
}

export function newDirective(name: string, args: string[] = [], file = "", line = 0, children: Directive[] = []): Directive {
  return { name, args, children, file, line };
}

/** The first child named `name` (and, if given, with `args[0] === arg0`), as SRS's `get()`. */
export function getChild(parent: Directive | undefined, name: string, arg0?: string): Directive | undefined {
  if (!parent) return undefined;
  for (const c of parent.children) {
    if (c.name === name && (arg0 === undefined || c.args[0] === arg0)) return c;
  }
  return undefined;
}

export function getChildren(parent: Directive | undefined, name: string): Directive[] {
  return parent ? parent.children.filter((c) => c.name === name) : [];
}

/** First child named `name`, created (appended, located at the parent) when missing — SRS's `get_or_create`. */
export function getOrCreate(parent: Directive, name: string, arg0?: string): Directive {
  let d = getChild(parent, name, arg0);
  if (!d) {
    d = newDirective(name, arg0 === undefined ? [] : [arg0], parent.file, parent.line);
    parent.children.push(d);
  }
  return d;
}

/** Deep copy. */
export function cloneDirective(d: Directive): Directive {
  return { name: d.name, args: [...d.args], file: d.file, line: d.line, children: d.children.map(cloneDirective) };
}

/** Parses the text of one file into `into`'s children (used for the formats other than `.conf`, e.g. YAML). */
export type FileParser = (text: string, file: string, into: Directive, ctx: IncludeContext) => void;

/** Shared state while reading a file and everything it includes. */
export interface IncludeContext {
  /** Directory relative paths (the main file and includes) are resolved against first. */
  cwd: string;
  /** Real paths of the files being parsed, outermost first (cycle detection). */
  stack: string[];
  /** Parsers for other formats by lowercase extension (".yaml", ".yml"); everything else is SRS conf syntax. */
  parsers: Record<string, FileParser>;
}

/** Nesting limit for blocks and includes, so hostile input cannot exhaust the stack. */
export const MAX_DEPTH = 64;

export function newIncludeContext(cwd: string = process.cwd(), parsers: Record<string, FileParser> = {}): IncludeContext {
  return { cwd, stack: [], parsers };
}

type TokenState = "entire" | "blockStart" | "blockEnd" | "eof";

/**
 * SRS's separators. A Set lookup rather than a function of our own: called for every character of the config, such
 * a function would be the first thing JavaScriptCore compiles at start (see lib/runtime/engine-tuning.ts).
 */
const SPACES: ReadonlySet<string> = new Set([" ", "\t", "\r", "\n"]);

/** Character-level reader, a faithful port of the state machine of SRS's `read_token` (not its code). */
class Lexer {
  private pos = 0;
  line = 1;

  constructor(
    private readonly text: string,
    readonly file: string,
  ) {}

  empty(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(reason: string, line: number, directive?: string): never {
    throw new ConfigError(reason, { file: this.file, line, directive });
  }

  /** Reads the words of one directive, up to and including its terminator (`;`, `{`, `}`) or the end of input. */
  readToken(): { args: string[]; state: TokenState; line: number } {
    const { text } = this;
    const args: string[] = [];
    let startLine = 0;
    let wordLine = 0;
    let wordStart = this.pos;
    let comment = false;
    let dquoted = false;
    let squoted = false;
    let needSpace = false;
    let lastSpace = true;
    const done = (state: TokenState) => ({ args, state, line: startLine || this.line });

    for (;;) {
      if (this.pos >= text.length) {
        if (args.length > 0 || !lastSpace) {
          this.fail(`unexpected end of file, expecting ";" or "}"`, this.line, args[0] ?? text.slice(wordStart, text.length));
        }
        return done("eof");
      }
      const ch = text[this.pos++] as string;

      if (ch === "\n" || ch === "\r") {
        const line = this.line;
        if (ch === "\n") this.line++;
        comment = false;
        if (args.length > 0) this.fail("unexpected end of line to parse token", line, args[0]);
      }
      if (comment) continue;

      if (needSpace) {
        // Just after a closing quote.
        if (SPACES.has(ch)) {
          lastSpace = true;
          needSpace = false;
          continue;
        }
        if (ch === ";") return done("entire");
        if (ch === "{") return done("blockStart");
        this.fail(`unexpected '${ch}'`, this.line, args[0]);
      }

      if (lastSpace) {
        if (SPACES.has(ch)) continue;
        wordStart = this.pos - 1;
        wordLine = this.line;
        switch (ch) {
          case ";":
            if (args.length === 0) this.fail(`unexpected ';'`, this.line);
            return done("entire");
          case "{":
            if (args.length === 0) this.fail(`unexpected '{'`, this.line);
            return done("blockStart");
          case "}":
            if (args.length !== 0) this.fail(`unexpected '}'`, this.line, args[0]);
            return done("blockEnd");
          case "#":
            comment = true;
            continue;
          case '"':
            wordStart++;
            dquoted = true;
            lastSpace = false;
            continue;
          case "'":
            wordStart++;
            squoted = true;
            lastSpace = false;
            continue;
          default:
            lastSpace = false;
            continue;
        }
      }

      // Inside a word.
      let found = false;
      if (dquoted) {
        if (ch === '"') {
          dquoted = false;
          needSpace = true;
          found = true;
        }
      } else if (squoted) {
        if (ch === "'") {
          squoted = false;
          needSpace = true;
          found = true;
        }
      } else if (SPACES.has(ch) || ch === ";" || ch === "{") {
        lastSpace = true;
        found = true;
      }
      if (!found) continue;

      const word = text.slice(wordStart, this.pos - 1);
      if (word.length > 0) {
        if (args.length === 0) startLine = wordLine;
        args.push(word);
      }
      if (ch === ";") return done("entire");
      if (ch === "{") return done("blockStart");
      if ((ch === "\n" || ch === "\r") && args.length > 0) {
        this.fail("unexpected end of line to parse token", ch === "\n" ? this.line - 1 : this.line, args[0]);
      }
    }
  }
}

/**
 * Parses SRS conf `text` into the children of `into` (a new root when omitted) and returns `into`.
 * `file` names the text in errors and is the base for the "relative to the including file" include rule.
 */
export function parseConfText(text: string, file = "<text>", ctx: IncludeContext = newIncludeContext(), into?: Directive): Directive {
  const root = into ?? newDirective("", [], file, 0);
  const lexer = new Lexer(text, file);
  parseBlock(lexer, root, false, ctx, 0);
  return root;
}

function parseBlock(lexer: Lexer, into: Directive, inBlock: boolean, ctx: IncludeContext, depth: number): void {
  // An empty file is fine (SRS ignores it; "conf is empty" is a check, not a syntax error).
  if (!inBlock && lexer.empty()) return;
  if (depth > MAX_DEPTH) {
    throw new ConfigError(`blocks nested deeper than ${MAX_DEPTH} levels`, { file: lexer.file, line: into.line, directive: into.name });
  }

  for (;;) {
    const tok = lexer.readToken();
    if (tok.state === "blockEnd") {
      if (inBlock) return;
      throw new ConfigError(`unexpected "}"`, { file: lexer.file, line: lexer.line });
    }
    if (tok.state === "eof") {
      if (!inBlock) return;
      throw new ConfigError(`unexpected end of file, expecting "}"`, { file: lexer.file, line: into.line, directive: into.name });
    }
    if (tok.args.length === 0) {
      throw new ConfigError("empty directive", { file: lexer.file, line: tok.line });
    }

    const [name, ...args] = tok.args as [string, ...string[]];
    if (name !== "include") {
      const d = newDirective(name, args, lexer.file, tok.line);
      into.children.push(d);
      if (tok.state === "blockStart") parseBlock(lexer, d, true, ctx, depth + 1);
      continue;
    }

    const loc = { file: lexer.file, line: tok.line, directive: "include" };
    if (tok.state === "blockStart") throw new ConfigError(`include must end with ";", not a block`, loc);
    if (args.length === 0) throw new ConfigError("include is empty directive", loc);
    for (const name of args) includeFile(name, loc, into, ctx, depth);
  }
}

/** Where `include name;` in `includingFile` points to, or undefined when no candidate exists. See the file comment. */
export function resolveInclude(name: string, includingFile: string | undefined, cwd: string): string | undefined {
  if (isAbsolute(name)) return isFile(name) ? name : undefined;
  const candidates = [resolve(cwd, name)];
  if (includingFile && !includingFile.startsWith("<")) {
    const dir = dirname(resolve(cwd, includingFile));
    candidates.push(resolve(dir, name), resolve(dirname(dir), name));
  }
  return candidates.find(isFile);
}

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}

export function includeFile(
  name: string,
  loc: { file: string; line: number; directive: string },
  into: Directive,
  ctx: IncludeContext,
  depth: number,
): void {
  const path = resolveInclude(name, loc.file, ctx.cwd);
  if (!path) throw new ConfigError(`include file "${name}" not found (relative to ${ctx.cwd})`, loc);
  if (ctx.stack.length > MAX_DEPTH) throw new ConfigError(`includes nested deeper than ${MAX_DEPTH} levels`, loc);
  parseFileInto(path, into, ctx, loc, depth);
}

/**
 * Reads `path` (conf or a registered other format, by extension) and parses it into `into`. Used for the main file
 * (no `from`) and for includes (`from` = the include directive, named in errors).
 */
export function parseFileInto(
  path: string,
  into: Directive,
  ctx: IncludeContext,
  from?: { file: string; line: number; directive: string },
  depth = 0,
): void {
  const errLoc = from ?? { file: path, line: 0 };
  let real: string;
  let text: string;
  try {
    real = realpathSync(resolve(ctx.cwd, path));
    text = readFileSync(real, "utf8");
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError(`cannot read config file "${path}": ${why}`, errLoc);
  }
  if (ctx.stack.includes(real)) {
    const chain = [...ctx.stack.slice(ctx.stack.indexOf(real)), real].join(" -> ");
    throw new ConfigError(`include cycle: ${chain}`, errLoc);
  }
  ctx.stack.push(real);
  try {
    const ext = extensionOf(path);
    const other = ctx.parsers[ext];
    if (other) other(text, path, into, ctx);
    else {
      const lexer = new Lexer(text, path);
      parseBlock(lexer, into, false, ctx, depth);
    }
  } finally {
    ctx.stack.pop();
  }
}

export function extensionOf(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dot = path.lastIndexOf(".");
  return dot > slash ? path.slice(dot).toLowerCase() : "";
}

/** Parses a whole conf file (and its includes) into a new root. */
export function parseConfFile(path: string, ctx: IncludeContext = newIncludeContext()): Directive {
  const root = newDirective("", [], path, 0);
  parseFileInto(path, root, ctx);
  return root;
}

/** Serialises a tree back to SRS conf syntax (4-space indent). Arguments needing quotes get quoted. */
export function stringifyConf(root: Directive): string {
  const out: string[] = [];
  const quote = (a: string) => (a === "" || /[\s;{}#"']/.test(a) ? (a.includes("'") ? `"${a}"` : `'${a}'`) : a);
  const walk = (d: Directive, indent: string) => {
    const head = [d.name, ...d.args.map(quote)].join(" ");
    if (d.children.length === 0 && !isBlockLike(d)) {
      out.push(`${indent}${head};`);
      return;
    }
    out.push(`${indent}${head} {`);
    for (const c of d.children) walk(c, indent + "    ");
    out.push(`${indent}}`);
  };
  for (const c of root.children) walk(c, "");
  return out.join("\n") + "\n";
}

/** Blocks we print as `{}` even when empty (an empty `vhost x {}` is not the same as `vhost x;` to readers). */
const EMPTY_BLOCKS = new Set(["vhost", "play", "publish", "hls", "rtc", "srt", "http_remux", "http_static", "dvr", "dash"]);
function isBlockLike(d: Directive): boolean {
  return EMPTY_BLOCKS.has(d.name);
}
