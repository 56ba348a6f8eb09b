// A browser as a WebSocket client, for interop tests: headless Chromium
// (Debian's /usr/bin/chromium) driven by playwright-core, on Node.
//   node tests/_peers/chromium_client.mjs URL [timeoutMs] [--insecure]
// --insecure accepts the test certificate (tests/_fixtures), for https: pages.
// Opens URL, waits until the page sets `globalThis.__result` (or the timeout),
// prints it as one JSON line and exits. The page does the WebSocket work.
import { launchChromium } from "./chromium_launch.mjs";

const [url, timeoutArg] = process.argv.slice(2);
const insecure = process.argv.includes("--insecure");
const timeout = Number(timeoutArg ?? 20000);
const browser = await launchChromium(insecure ? ["--ignore-certificate-errors"] : []);
try {
  const page = await browser.newPage(insecure ? { ignoreHTTPSErrors: true } : {});
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  await page.goto(url, { timeout });
  const handle = await page.waitForFunction(() => globalThis.__result, undefined, { timeout });
  process.stdout.write(JSON.stringify({ result: await handle.jsonValue(), logs }) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error) }) + "\n");
  process.exitCode = 1;
} finally {
  await browser.close();
}
