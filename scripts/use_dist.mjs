// `node --import ./scripts/use_dist.mjs`: the library's sources (mod.ts and
// lib/**/*.ts) resolve to the built package in dist/ (`npm run build`), so the
// test suite, still TypeScript run by tsx, exercises the JavaScript that npm
// users get rather than the sources. scripts/test.mjs runs Node's pass so.
import { register } from "node:module";

register("./use_dist_hooks.mjs", import.meta.url);
