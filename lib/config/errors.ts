/**
 * The one error type of the config subsystem. Every problem found while reading, parsing, transforming or checking a
 * config is reported as a `ConfigError` naming where it happened, e.g.
 * `conf/x.conf:12: directive "foo": unexpected end of file`.
 */
export interface ConfigLocation {
  /** The file the problem is in (or a label such as `<text>` for configs given as a string). */
  file?: string;
  /** 1-based line number; 0 when the problem is not tied to one line (e.g. "conf is empty"). */
  line?: number;
  /** The directive name involved, if any. */
  directive?: string;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly directive: string;
  /** The message without the `file:line: directive "x":` prefix. */
  readonly reason: string;

  constructor(reason: string, loc: ConfigLocation = {}) {
    const file = loc.file ?? "<config>";
    const line = loc.line ?? 0;
    const directive = loc.directive ?? "";
    const where = line > 0 ? `${file}:${line}` : file;
    super(`${where}: ${directive ? `directive "${directive}": ` : ""}${reason}`);
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
    this.directive = directive;
    this.reason = reason;
  }
}
