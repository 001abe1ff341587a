/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with the flags WebRTC needs on
 * loopback (below), a fake camera/microphone and a fresh profile.
 */
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { installPageWebrtc } from "./page-webrtc.ts";
import { tempDir } from "./temp.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * `netns`: run Chromium inside that network namespace (tests/helpers/netns.ts) through a wrapper script doing
 * `ip netns exec`; playwright talks to it over pipes, so it need not reach the test's own network. `args`: flags
 * added to the ones below.
 */
export async function launchBrowser(opts: { netns?: string; args?: string[] } = {}): Promise<TestBrowser> {
  const dir = tempDir("srs-ts-chromium-");
  let executablePath = CHROMIUM;
  if (opts.netns) {
    executablePath = join(dir, "chromium-in-netns.sh");
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec '${opts.netns}' '${CHROMIUM}' "$@"\n`);
    chmodSync(executablePath, 0o755);
  }
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
      "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
      ...(opts.args ?? []),
    ],
  });
  // the tests' page-side WebRTC code (page-webrtc.ts), in every page before its scripts
  await context.addInitScript(installPageWebrtc);
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new page of `b` at `url` (WebRTC and getUserMedia need a real http:// page, not about:blank). */
export async function openPage(b: TestBrowser, url: string): Promise<Page> {
  const p = await b.context.newPage();
  await p.goto(url);
  return p;
}

/** A new page of `b` at `url` with the uncaught errors of its scripts collected (a test expects none). */
export async function openWatchedPage(b: TestBrowser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await b.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}
