// Resolve hook for scripts/use_dist.mjs: the built entry files at the root
// (<repo>/mod.ts, any other listed in tsconfig.build.json) and everything in
// <repo>/lib/ resolve to their JavaScript in <repo>/dist/.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url).href;
const dist = new URL("../dist/", import.meta.url).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const url = resolved.url;
  if (!url.startsWith(root) || !url.endsWith(".ts") || url.endsWith(".d.ts")) return resolved;
  const path = url.slice(root.length);
  const inLib = path.startsWith("lib/");
  if (!inLib && path.includes("/")) return resolved; // tests, examples, scripts: not built
  const built = dist + path.slice(0, -3) + ".js";
  if (!existsSync(fileURLToPath(built))) {
    if (!inLib && path !== "mod.ts") return resolved; // a root-level file the build does not list
    throw new Error(`${built} is missing: run \`npm run build\` first`);
  }
  return { ...resolved, url: built, format: "module" };
}
