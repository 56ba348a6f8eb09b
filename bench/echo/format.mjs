// Tables from an echo-benchmark results object (see run.mjs): the human
// table printed at the end of a run, and the Markdown one for the README
// (report.mjs). Both come from the same rows.

/** A rate: 1.22 M, 131 k, 83.1 k, 950. */
export function fmtRate(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e5) return `${Math.round(v / 1e3)} k`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return `${Math.round(v)}`;
}

function fmtNum(v, digits = 1) {
  if (v == null || !Number.isFinite(v)) return "–";
  return v.toFixed(digits);
}

function fmtMB(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function fmtPct(v) {
  return v == null || !Number.isFinite(v) ? "–" : `${Math.round(v)}%`;
}

function fmtRatio(v) {
  return v == null || !Number.isFinite(v) ? "–" : `${v.toFixed(2)}×`;
}

/** The text of the ratio cell of `entry` in `group`: "0.64× Deno.serve; 0.83× ws". */
function ratioCell(group, entry) {
  const parts = [];
  for (const r of group.ratios ?? []) {
    if (r.num !== entry.role || r.value == null) continue;
    const den = group.entries.find((e) => e.role === r.den);
    parts.push(`${fmtRatio(r.value)} ${den?.short ?? r.den}`);
  }
  if (parts.length === 0 && (group.ratios ?? []).some((r) => r.den === entry.role)) {
    return "(reference)";
  }
  return parts.join("; ");
}

function notesCell(entry) {
  const notes = [];
  if (entry.na) notes.push(`n/a: ${entry.na}`);
  else if (entry.runs.length === 0) notes.push("not run (interrupted)");
  const s = entry.summary ?? {};
  if (s.failed_runs) {
    const reasons = [...new Set(entry.runs.filter((r) => !r.ok).map((r) => r.error))];
    notes.push(`${s.failed_runs}/${entry.runs.length} runs FAILED (${reasons.join("; ")})`);
  }
  for (const f of s.flags ?? []) notes.push(f);
  return notes.join("; ");
}

const SECTION_TITLES = {
  server: "Server echo (wsload → the server; msg/s and MB/s of payload echoed)",
  client: "Client echo (the client → wsecho, on the shared client driver)",
  memory: "Idle memory per connection (server RSS after − before, ÷ connections)",
  handshake: "Handshakes per second (wsload --handshake)",
};

/**
 * The tables of a results object: [{ section, title, headers, rows }], one
 * per section present, rows already formatted as strings.
 */
export function buildTables(results) {
  const tables = [];
  for (const section of ["server", "client", "memory", "handshake"]) {
    const groups = results.groups.filter((g) => g.section === section);
    if (groups.length === 0) continue;
    let headers;
    const rows = [];
    for (const g of groups) {
      for (const e of g.entries) {
        const s = e.summary ?? {};
        const shape = g.shape ? g.shape.label : "";
        const runs = `${s.ok_runs ?? 0}/${e.runs.length}`;
        if (section === "server" || section === "client") {
          headers = [
            "runtime",
            "shape",
            "deflate",
            section === "server" ? "server" : "client",
            "msg/s",
            "MB/s",
            "p50 µs",
            "ratio",
            section === "server" ? "server CPU" : "client CPU",
            section === "server" ? "wsload CPU" : "wsecho CPU",
            "runs",
            "notes",
          ];
          rows.push([
            g.runtime,
            shape,
            g.deflate ? "on" : "off",
            e.name,
            e.na ? "n/a" : fmtRate(s.value),
            e.na ? "" : fmtMB(s.mb_per_s),
            e.na ? "" : fmtNum(s.lat_p50_us, 0),
            ratioCell(g, e),
            e.na ? "" : fmtPct(s.subject_cpu_pct),
            e.na ? "" : fmtPct(s.load_cpu_pct_max),
            e.na ? "" : runs,
            notesCell(e),
          ]);
        } else if (section === "memory") {
          headers = [
            "runtime",
            "server",
            "connections",
            "KiB/conn",
            "RSS before → after (MiB)",
            "ratio (lower is better)",
            "runs",
            "notes",
          ];
          rows.push([
            g.runtime,
            e.name,
            String(g.conns ?? ""),
            e.na ? "n/a" : fmtNum(s.value, 1),
            e.na || s.rss_before_kib == null
              ? ""
              : `${fmtNum(s.rss_before_kib / 1024, 0)} → ${fmtNum(s.rss_after_kib / 1024, 0)}`,
            ratioCell(g, e),
            e.na ? "" : runs,
            notesCell(e),
          ]);
        } else {
          headers = [
            "runtime",
            "server",
            "loops",
            "handshakes/s",
            "p50 µs",
            "ratio",
            "server CPU",
            "wsload CPU",
            "runs",
            "notes",
          ];
          rows.push([
            g.runtime,
            e.name,
            String(g.conns ?? ""),
            e.na ? "n/a" : fmtRate(s.value),
            e.na ? "" : fmtNum(s.lat_p50_us, 0),
            ratioCell(g, e),
            e.na ? "" : fmtPct(s.subject_cpu_pct),
            e.na ? "" : fmtPct(s.load_cpu_pct_max),
            e.na ? "" : runs,
            notesCell(e),
          ]);
        }
      }
    }
    tables.push({ section, title: SECTION_TITLES[section], headers, rows });
  }
  return tables;
}

/** One line on what, where and how: for the top of both renderings. */
export function describeRun(results) {
  const m = results.machine ?? {};
  const st = results.settings ?? {};
  const date = (results.started ?? "").slice(0, 10);
  const rt = m.runtimes ?? {};
  const versions = [
    rt.deno && `Deno ${rt.deno}`,
    rt.bun && `Bun ${rt.bun}`,
    rt.node && `Node ${rt.node}`,
    rt.ws && `ws ${rt.ws}`,
  ].filter(Boolean).join(", ");
  const pin = st.pinning?.enabled
    ? `server/client under test on CPU ${st.pinning.subject_cpu}, load on CPU ${st.pinning.load_cpu}`
    : "not pinned";
  return [
    `${date} on ${m.cpu_model ?? "?"} (${m.cores ?? "?"} cores), ${m.os ?? ""}; ${versions}.`,
    `Medians of ${st.runs} run(s), warm-up ${st.warmup_s} s, measured ${st.duration_s} s, ` +
    `fresh server per run, alternating, ${pin}` +
    `${st.quick ? " (--quick smoke run: not a measurement)" : ""}` +
    `${results.interrupted ? " (INTERRUPTED: partial)" : ""}.`,
  ];
}

function pad(s, w) {
  const len = [...s].length;
  return s + " ".repeat(Math.max(0, w - len));
}

/** The tables as aligned plain text. */
export function renderText(results) {
  const out = [...describeRun(results), ""];
  for (const t of buildTables(results)) {
    const widths = t.headers.map((h, i) =>
      Math.max([...h].length, ...t.rows.map((r) => [...r[i]].length))
    );
    out.push(t.title);
    out.push(t.headers.map((h, i) => pad(h, widths[i])).join("  ").trimEnd());
    out.push(widths.map((w) => "-".repeat(w)).join("  "));
    let last = "";
    for (const r of t.rows) {
      // a blank line between groups (runtime + shape + deflate change)
      const key = `${r[0]}|${r[1]}|${r[2]}`;
      if (last && key !== last && t.section !== "memory" && t.section !== "handshake") out.push("");
      last = key;
      out.push(r.map((c, i) => pad(c, widths[i])).join("  ").trimEnd());
    }
    out.push("");
  }
  return out.join("\n");
}

function mdEscape(s) {
  return s.replaceAll("|", "\\|");
}

/** The tables as Markdown (for the README). */
export function renderMarkdown(results, { source } = {}) {
  const out = [];
  const [what, how] = describeRun(results);
  out.push(`Measured ${what}`);
  out.push(how + (source ? ` Source: \`${source}\`.` : ""));
  out.push("");
  for (const t of buildTables(results)) {
    out.push(`**${t.title}**`);
    out.push("");
    out.push(`| ${t.headers.map(mdEscape).join(" | ")} |`);
    out.push(`|${t.headers.map(() => "---").join("|")}|`);
    for (const r of t.rows) out.push(`| ${r.map(mdEscape).join(" | ")} |`);
    out.push("");
  }
  return out.join("\n");
}
