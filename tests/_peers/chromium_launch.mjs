// Launches headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH)
// through playwright-core with the flags every browser peer of the tests
// uses: no sandbox, no GPU, no QUIC, no background traffic.
import { chromium } from "playwright-core";

/** The browser; `extraArgs` are added to the common flags. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}
