import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, parseConfFile, parseConfText, stringifyConf } from "../../../lib/config/index.ts";
import { newIncludeContext } from "../../../lib/config/parser.ts";
import { type Shape, shape, tempTree } from "./helpers.ts";

const ok: [string, string, Shape[]][] = [
  ["empty", "", []],
  ["only comments", "# a\n  # b\n", []],
  ["directive", "listen 1935;", ["listen 1935"]],
  ["several args", "listen 1935 1936  \t 1937;", ["listen 1935 1936 1937"]],
  ["no args", "re;", ["re"]],
  ["no space before ;", "a b;c d;", ["a b", "c d"]],
  ["block", "http_api { enabled on; listen 1985; }", [["http_api", ["enabled on", "listen 1985"]]]],
  ["block with args", "vhost a.com { }", ["vhost a.com"]],
  ["block no space", "play{gop_cache off;}", [["play", ["gop_cache off"]]]],
  ["nested", "a { b { c 1; } d; }", [["a", [["b", ["c 1"]], "d"]]]],
  ["repeated blocks", "vhost a {x 1;} vhost b {x 2;}", [["vhost a", ["x 1"]], ["vhost b", ["x 2"]]]],
  ["comment after directive", "listen 1935; # rtmp\nmax_connections 10;", ["listen 1935", "max_connections 10"]],
  ["comment inside block", "a {\n # c;\n b 1; # d }\n}", [["a", ["b 1"]]]],
  ["hash inside word", "url a#b;", ["url a#b"]],
  ["double quotes", `filter_complex "overlay=10:10";`, ["filter_complex overlay=10:10"]],
  ["single quotes with spaces", `vf 'split [main][tmp]; [tmp] crop';`, ["vf split [main][tmp]; [tmp] crop"]],
  ["quotes keep braces and hash", `a "{ # }" b;`, ["a { # } b"]],
  ["no escapes in quotes", `a "x\\";`, ["a x\\"]],
  ["quoted then block", `engine "x"{ enabled on; }`, [["engine x", ["enabled on"]]]],
  ["empty quoted arg dropped", `a "" b;`, ["a b"]],
  ["CRLF line endings", "listen 1935;\r\nvhost x {\r\n  a 1;\r\n}\r\n", ["listen 1935", ["vhost x", ["a 1"]]]],
  ["brace word", "a b}c;", ["a b}c"]],
  ["tabs", "\tlisten\t1935\t;", ["listen 1935"]],
  ["unicode", "device_id 设备;", ["device_id 设备"]],
];

describe("parser: valid syntax", () => {
  for (const [name, text, want] of ok) {
    test(name, () => {
      expect(shape(parseConfText(text, "t.conf"))).toEqual(want);
    });
  }

  test("line numbers", () => {
    const root = parseConfText("\n# c\nlisten 1935;\nvhost x {\n\n  hls {\n    enabled on;\n  }\n}\n", "t.conf");
    const [listen, vhost] = root.children;
    expect(listen?.line).toBe(3);
    expect(vhost?.line).toBe(4);
    expect(vhost?.children[0]?.line).toBe(6);
    expect(vhost?.children[0]?.children[0]?.line).toBe(7);
    expect(listen?.file).toBe("t.conf");
  });

  test("stringify round trip", () => {
    const text = `listen 1935; vhost x { hls { enabled on; } a "b c"; } e;`;
    const root = parseConfText(text);
    expect(shape(parseConfText(stringifyConf(root)))).toEqual(shape(root));
  });
});

const bad: [string, string, number, string, string][] = [
  // name, text, line, directive, message fragment
  ["newline inside directive", "listen\n1935;", 1, "listen", "unexpected end of line"],
  ["newline after args", "vhost x {\n  enabled on\n  min_latency on;\n}", 2, "enabled", "unexpected end of line"],
  ["comment then newline inside directive", "a b # c\n;", 1, "a", "unexpected end of line"],
  ["eof in directive", "listen 1935", 1, "listen", "unexpected end of file"],
  ["eof in word", "listen", 1, "listen", "unexpected end of file"],
  ["eof in block", "vhost x {\n a 1;\n", 1, "vhost", `unexpected end of file, expecting "}"`],
  ["eof in nested block", "a {\n b {\n c 1;\n}\n", 1, "a", `unexpected end of file, expecting "}"`],
  ["unbalanced close", "a 1;\n}\n", 2, "", `unexpected "}"`],
  ["lone semicolon", "a 1;\n;", 2, "", "unexpected ';'"],
  ["lone brace", "{ a 1; }", 1, "", "unexpected '{'"],
  ["brace after args", "a b }", 1, "a", "unexpected '}'"],
  ["text after quote", `a "b"c;`, 1, "a", "unexpected 'c'"],
  ["eof in quotes", `a "b;`, 1, "a", "unexpected end of file"],
  ["empty directive", `"";`, 1, "", "empty directive"],
  ["include needs args", "include;", 1, "include", "include is empty directive"],
  ["include as block", "include a { }", 1, "include", "not a block"],
  ["missing include", "\n\ninclude nope.conf;", 3, "include", "not found"],
];

describe("parser: errors name file:line", () => {
  for (const [name, text, line, directive, msg] of bad) {
    test(name, () => {
      let err: unknown;
      try {
        parseConfText(text, "conf/x.conf", newIncludeContext("/nonexistent-dir"));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.file).toBe("conf/x.conf");
      expect(e.line).toBe(line);
      expect(e.directive).toBe(directive);
      expect(e.message).toContain(msg);
      expect(e.message.startsWith(`conf/x.conf:${line}: `)).toBe(true);
      if (directive) expect(e.message).toContain(`directive "${directive}": `);
    });
  }

  test("deep nesting is an error, not a stack overflow", () => {
    const text = "a {".repeat(5000) + "}".repeat(5000);
    expect(() => parseConfText(text)).toThrow(ConfigError);
  });
});

describe("parser: include", () => {
  test("include at top level and inside a block, relative to cwd", () => {
    const dir = tempTree({
      "conf/main.conf": "listen 1935;\ninclude conf/a.conf conf/b.conf;\nvhost x {\n  include conf/hls.conf;\n  c 3;\n}\n",
      "conf/a.conf": "a 1;",
      "conf/b.conf": "b 2;\n",
      "conf/hls.conf": "hls {\n  enabled on;\n}\n",
    });
    const root = parseConfFile("conf/main.conf", newIncludeContext(dir));
    expect(shape(root)).toEqual(["listen 1935", "a 1", "b 2", ["vhost x", [["hls", ["enabled on"]], "c 3"]]]);
    const hls = root.children[3]?.children[0];
    expect(hls?.file).toBe(join(dir, "conf/hls.conf"));
    expect(hls?.line).toBe(1);
  });

  test("falls back to the including file's directory, then its parent", () => {
    const dir = tempTree({
      "trunk/conf/main.conf": "include sibling.conf;\ninclude ./conf/other.conf;\n",
      "trunk/conf/sibling.conf": "s 1;",
      "trunk/conf/other.conf": "o 2;",
    });
    // cwd elsewhere: SRS itself would fail; we find both.
    const root = parseConfFile(join(dir, "trunk/conf/main.conf"), newIncludeContext("/"));
    expect(shape(root)).toEqual(["s 1", "o 2"]);
  });

  test("cwd wins over the including file's directory", () => {
    const dir = tempTree({ "x.conf": "from_cwd 1;", "sub/main.conf": "include x.conf;", "sub/x.conf": "from_dir 1;" });
    expect(shape(parseConfFile("sub/main.conf", newIncludeContext(dir)))).toEqual(["from_cwd 1"]);
  });

  test("include cycle is an error naming file:line", () => {
    const dir = tempTree({ "a.conf": "x 1;\ninclude b.conf;", "b.conf": "\n\ninclude a.conf;" });
    try {
      parseConfFile("a.conf", newIncludeContext(dir));
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const ce = e as ConfigError;
      expect(ce.message).toContain("include cycle");
      expect(ce.line).toBe(3);
      expect(ce.file).toBe(join(dir, "b.conf"));
    }
  });

  test("self include is a cycle", () => {
    const dir = tempTree({ "a.conf": "include a.conf;" });
    expect(() => parseConfFile("a.conf", newIncludeContext(dir))).toThrow(/include cycle/);
  });

  test("unreadable include (a directory) is an error", () => {
    const dir = tempTree({ "a.conf": "include sub;", "sub/x": "" });
    expect(() => parseConfFile("a.conf", newIncludeContext(dir))).toThrow(ConfigError);
  });

  test("syntax error inside an included file names that file", () => {
    const dir = tempTree({ "a.conf": "include b.conf;", "b.conf": "ok 1;\nbad\n;" });
    try {
      parseConfFile("a.conf", newIncludeContext(dir));
      throw new Error("no error");
    } catch (e) {
      expect((e as ConfigError).file).toBe(join(dir, "b.conf"));
      expect((e as ConfigError).line).toBe(2);
    }
  });

  test("included file must balance its own braces", () => {
    const dir = tempTree({ "a.conf": "vhost x {\n include b.conf;\n}", "b.conf": "}\n" });
    expect(() => parseConfFile("a.conf", newIncludeContext(dir))).toThrow(/unexpected "}"/);
  });

  test("missing main file", () => {
    const dir = tempTree({});
    writeFileSync(join(dir, "x"), "");
    expect(() => parseConfFile("nope.conf", newIncludeContext(dir))).toThrow(ConfigError);
  });
});
