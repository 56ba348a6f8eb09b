// Resolve hook for scripts/use_dist.mjs: <repo>/mod.ts and <repo>/lib/**/*.ts
// become <repo>/dist/mod.js and <repo>/dist/lib/**/*.js.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url).href;
const dist = new URL("../dist/", import.meta.url).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const url = resolved.url;
  if (
    url.startsWith(root) && url.endsWith(".ts") &&
    (url === root + "mod.ts" || url.startsWith(root + "lib/"))
  ) {
    const built = dist + url.slice(root.length, -3) + ".js";
    if (!existsSync(fileURLToPath(built))) {
      throw new Error(`${built} is missing: run \`npm run build\` first`);
    }
    return { ...resolved, url: built, format: "module" };
  }
  return resolved;
}
