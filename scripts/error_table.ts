// Writes the README's table of error codes from ERROR_CODES (lib/error_codes.ts),
// between "<summary>All error codes</summary>" and "</details>".
// tests/protocol/error_codes_test.ts checks that the two agree.
//   node_modules/.bin/deno run -A scripts/error_table.ts
import { readFileSync, writeFileSync } from "node:fs";
import { ERROR_CODES } from "../lib/error_codes.ts";

const rows = Object.entries(ERROR_CODES).map(([code, e]) =>
  `| \`${code}\` | ${e.errors.map((x) => `\`${x}\``).join(", ")} | ${
    e.closeCode === null ? "—" : e.closeCode
  } | ${e.description} |`
);
const table = ["| code | class | close code | meaning |", "| --- | --- | --- | --- |", ...rows]
  .join("\n");
const readme = readFileSync("README.md", "utf8");
const start = readme.indexOf("<summary>All error codes</summary>");
const end = readme.indexOf("</details>", start);
if (start === -1 || end === -1) throw new Error("README.md has no error-code table section");
const head = readme.slice(0, start) + "<summary>All error codes</summary>\n\n";
writeFileSync("README.md", head + table + "\n\n" + readme.slice(end));
console.log(`README.md: ${rows.length} error codes`);
