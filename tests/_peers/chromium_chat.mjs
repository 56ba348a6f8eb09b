// Three people in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core, on Node) using examples/chat.ts's page as a person would:
//   node tests/_peers/chromium_chat.mjs BASE_URL [timeoutMs] [screenshot.png]
// ada and bob open ?room=lobby, cy opens ?room=kitchen; each types into the
// form and presses Enter. Prints one JSON line: every page's log (the text of
// its <li> lines) once the last message has been seen where it should be,
// or { error } on failure.
import { launchChromium } from "./chromium_launch.mjs";

const [base, timeoutArg, screenshot] = process.argv.slice(2);
const timeout = Number(timeoutArg ?? 20000);
const browser = await launchChromium();

/** Opens the chat as `name` in `room` and waits until its socket is open. */
async function join(room, name) {
  const page = await browser.newPage();
  await page.goto(new URL(`/?room=${room}&name=${name}`, base).href, { timeout });
  await page.waitForSelector("body[data-state=open]", { timeout });
  return page;
}

/** Types `text` into the page's form and presses Enter. */
async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/** Waits until the page shows the line `text`. */
function sees(page, text) {
  return page.waitForFunction(
    (line) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === line),
    text,
    { timeout },
  );
}

const lines = (page) => page.$$eval("#log li", (items) => items.map((li) => li.textContent));

try {
  const ada = await join("lobby", "ada");
  const bob = await join("lobby", "bob");
  const cy = await join("kitchen", "cy");
  await sees(ada, "bob joined");

  await say(ada, "hello from ada");
  await sees(bob, "ada: hello from ada");
  await sees(ada, "ada: hello from ada");
  await say(bob, "hi ada");
  await sees(ada, "bob: hi ada");
  await say(cy, "anyone in the kitchen?");
  await sees(cy, "cy: anyone in the kitchen?");
  // A last round in each room: anything misrouted earlier would have arrived by now.
  await say(ada, "bye");
  await sees(bob, "ada: bye");
  await say(cy, "guess not");
  await sees(cy, "cy: guess not");

  const bobLines = await lines(bob);
  await bob.close(); // bob leaves: the lobby is told, the kitchen is not
  await sees(ada, "bob left");
  await say(cy, "still nobody");
  await sees(cy, "cy: still nobody");

  if (screenshot) await ada.screenshot({ path: screenshot });
  const result = { ada: await lines(ada), bob: bobLines, cy: await lines(cy) };
  process.stdout.write(JSON.stringify({ result }) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error) }) + "\n");
  process.exitCode = 1;
} finally {
  await browser.close();
}
