import { expect, test } from "bun:test";
import { fileUrlPath, isBunfsPath, isCompiledBinary, runtimeDescription, runtimeName, runtimeVersion } from "../../../lib/runtime/platform.ts";

test("running from source under Bun", () => {
  expect(runtimeName()).toBe("bun");
  expect(runtimeVersion()).toBe(Bun.version);
  expect(isCompiledBinary()).toBe(false);
  expect(runtimeDescription()).toBe(`bun ${Bun.version} ${process.platform}-${process.arch}`);
});

test("Bun's embedded file system paths are recognised", () => {
  expect(isBunfsPath("file:///$bunfs/root/srs-ts-0.1.0-linux-x64")).toBe(true);
  expect(isBunfsPath("/$bunfs/root/www/index.html")).toBe(true);
  expect(isBunfsPath("B:/~BUN/root/srs.exe")).toBe(true);
  expect(isBunfsPath("file:///home/user/srs-ts/lib/runtime/platform.ts")).toBe(false);
});

test("file: URLs of our modules as paths, as node:url's fileURLToPath", () => {
  expect(fileUrlPath("file:///home/a%20b/srs-ts/main.ts")).toBe("/home/a b/srs-ts/main.ts");
  expect(fileUrlPath("file:///tmp/%C3%A9t%C3%A9/x.ts")).toBe("/tmp/été/x.ts");
  expect(fileUrlPath("file:///$bunfs/root/main.js")).toBe("/$bunfs/root/main.js");
  expect(fileUrlPath("file:///B:/~BUN/root/main.js")).toBe("B:/~BUN/root/main.js");
});
