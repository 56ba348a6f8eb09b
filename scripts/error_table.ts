// Writes the table of error codes in docs/errors.md from ERROR_CODES (lib/error_codes.ts),
// between "<summary>All error codes</summary>" and "</details>".
// tests/error_codes_test.ts checks that the two agree.
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
const PAGE = "docs/errors.md";
const readme = readFileSync(PAGE, "utf8");
const start = readme.indexOf("<summary>All error codes</summary>");
const end = readme.indexOf("</details>", start);
if (start === -1 || end === -1) throw new Error(`${PAGE} has no error-code table section`);
const head = readme.slice(0, start) + "<summary>All error codes</summary>\n\n";
writeFileSync(PAGE, head + table + "\n\n" + readme.slice(end));
console.log(`${PAGE}: ${rows.length} error codes`);
