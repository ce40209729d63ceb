// result: shows one run: its status in words, cost by component, cache
// badge, the code (highlighted, editable, runnable again), output, table,
// charts (fetched with the key, shown from blob: URLs) and the model's
// attempts when it had to repair its code.

import { getBlob } from "./api.js";
import { el, clear, money, duration, bytes, statusText, download, errorText } from "./format.js";
import { highlight, bindEditor } from "./highlight.js";
import { renderTable } from "./table.js";

const chartUrls = [];

function releaseCharts() {
  while (chartUrls.length) URL.revokeObjectURL(chartUrls.pop());
}

function statusBanner(r) {
  const ok = r.status === "ok";
  const hit = r.usage && r.usage.limitsHit && r.usage.limitsHit.length
    ? ` (limit reached: ${r.usage.limitsHit.join(", ")})` : "";
  const lines = [el("strong", { class: "status-text" }, statusText(r.status) + hit)];
  if (r.error && r.error.message) {
    const where = r.error.line ? ` (line ${r.error.line})` : "";
    lines.push(el("span", {}, ` ${r.error.type ? r.error.type + ": " : ""}${r.error.message}${where}`));
  }
  if (r.runner_error && r.runner_error.message) lines.push(el("span", {}, " " + r.runner_error.message));
  return el("div", { class: `banner ${ok ? "banner-ok" : "banner-bad"}`, role: ok ? "status" : "alert",
    "data-status": r.status }, lines);
}

function badges(r) {
  const list = [el("span", { class: "badge" }, r.language === "sql" ? "SQL" : "Python"),
    el("span", { class: "badge" }, r.mode === "query" ? "asked in English" : r.mode === "template" ? "template" : "code")];
  if (r.cacheHit) {
    const sim = r.similarity ? ` ${(100 * r.similarity).toFixed(0)}% similar` : "";
    list.push(el("span", { class: "badge badge-cache", title: r.cachedFrom ? `answer reused from run ${r.cachedFrom}` : "answer reused from a teammate's run" },
      r.cacheType === "semantic" ? `Cached code, run again (${sim.trim()})` : "Cached answer, free"));
  }
  list.push(el("span", { class: "badge" }, duration(r.durationMs)));
  return el("div", { class: "badges" }, list);
}

// Every charge that makes up the total: each LLM call and each run, with
// what it used (a code that did not compile still paid its sandbox).
function componentsList(c) {
  const list = c.components || [];
  if (!list.length) return null;
  const ol = el("ol", { class: "cost-components" });
  for (const k of list) {
    const what = k.kind === "llm"
      ? `model ${k.model || ""}: ${k.promptTokens || 0} + ${k.completionTokens || 0} tokens`
      : `${k.stage === "compile" ? "compile check (did not compile)" : "run"}` +
        `${k.sandbox ? ", " + k.sandbox : ""}: CPU ${duration(k.cpuMs)}, wall ${duration(k.wallMs)}` +
        `${k.billedMemoryBytes ? ", memory " + bytes(k.billedMemoryBytes) : ""}`;
    ol.append(el("li", { "data-kind": k.kind, "data-micros": String(k.micros) },
      `Attempt ${k.attempt} · ${what} · ${money(k.cost && k.cost.total, c.currency)}`));
  }
  return el("details", { class: "cost-by-component" },
    el("summary", {}, `Cost by component (${list.length})`), ol);
}

function costBlock(r) {
  const c = r.cost;
  if (!c || typeof c !== "object") return null;
  const cur = c.currency;
  const llm = c.llm || {};
  const rows = [
    ["Model input", llm.in], ["Model output", llm.out], ["Model time", llm.time],
    ["CPU", c.cpu], ["Memory", c.memory], ["Per run", c.run],
  ];
  const dl = el("dl", { class: "cost" });
  const usedModel = r.mode === "query" || Number(llm.in) + Number(llm.out) + Number(llm.time) > 0;
  for (const [name, value] of rows) {
    if (value === undefined || (!usedModel && name.startsWith("Model"))) continue;
    dl.append(el("dt", {}, name), el("dd", {}, money(value, cur)));
  }
  dl.append(el("dt", { class: "total" }, "Total"), el("dd", { class: "total", "data-cost-total": c.total },
    money(c.total, cur)));
  const charges = componentsList(c);
  const u = r.usage || {};
  const use = [`wall ${duration(u.wallMs)}`, `CPU ${duration(u.cpuMs)}`,
    u.peakMemoryBytes ? `peak memory ${bytes(u.peakMemoryBytes)}` : null,
    r.tokensUsed ? `${r.tokensUsed} tokens` : null].filter(Boolean).join(" · ");
  return el("section", { class: "cost-box", "aria-label": "Cost of this run" },
    el("h3", {}, "Cost"), dl, el("p", { class: "hint" }, use), charges,
    r.budgetWarning ? el("p", { class: "warning", role: "note" }, r.budgetWarning) : null);
}

function codeBlock(r, onRerun) {
  if (!r.code) return null;
  const area = el("textarea", { id: "result-code", rows: String(Math.min(20, r.code.split("\n").length + 1)),
    spellcheck: "false", autocapitalize: "off", "aria-label": "Code of this run (editable)" });
  area.value = r.code;
  const view = el("code");
  const box = el("div", { class: "editor" }, el("pre", { class: "editor-view", "aria-hidden": "true" }, view), area);
  bindEditor(area, view, () => r.language);
  return el("section", { "aria-label": "Code" },
    el("h3", {}, "Code"), box,
    el("div", { class: "actions" },
      el("button", { type: "button", id: "rerun", onclick: () => onRerun({
        mode: "code", language: r.language, dataset: r.dataset, code: area.value }) },
      "Run this code again")));
}

function textBlock(title, text, truncated, cls) {
  if (!text) return null;
  return el("section", { "aria-label": title },
    el("h3", {}, title), el("pre", { class: cls }, text),
    truncated ? el("p", { class: "notice" }, "Cut at the output limit.") : null);
}

function chartsBlock(r) {
  const images = (r.artifacts || []).filter((a) => /^image\//.test(a.mime || ""));
  const others = (r.artifacts || []).filter((a) => !/^image\//.test(a.mime || "") && a.name !== "table.csv");
  if (!images.length && !others.length) return null;
  const box = el("section", { class: "charts", "aria-label": "Charts and files" }, el("h3", {}, "Charts"));
  for (const a of images) {
    const img = el("img", { alt: `Chart ${a.name} drawn by the run`, class: "chart", "data-name": a.name });
    const fig = el("figure", {}, img, el("figcaption", {}, a.name));
    box.append(fig);
    getBlob(a.url).then((blob) => {
      const url = URL.createObjectURL(blob);
      chartUrls.push(url);
      img.src = url;
    }).catch((err) => fig.append(el("p", { class: "error" }, errorText(err))));
  }
  for (const a of others) {
    box.append(el("p", {}, el("button", { type: "button", class: "link",
      onclick: async () => download(await getBlob(a.url), a.name) }, `Download ${a.name} (${bytes(a.bytes || 0)})`)));
  }
  return box;
}

function attemptsBlock(r) {
  if (!r.attempts || r.attempts.length === 0) return null;
  const list = el("ol", { class: "attempts" });
  for (const a of r.attempts) {
    const cost = a.cost && a.cost.total ? money(a.cost.total, a.cost.currency) : "";
    const head = `Attempt ${a.attempt}: ${a.error ? "failed at " + a.stage : a.status || "ok"}` +
      ` · ${a.tokensUsed || 0} tokens${cost ? " · " + cost : ""}`;
    const code = el("code");
    if (a.code) code.append(highlight(a.code, r.language));
    list.append(el("li", {}, el("details", {}, el("summary", {}, head),
      a.error ? el("p", { class: "error" }, a.error) : null,
      a.code ? el("pre", { class: "code" }, code) : null)));
  }
  return el("section", { "aria-label": "Attempts" }, el("h3", {}, `Attempts (${r.attempts.length})`), list);
}

// Fills container with the run r; onRerun(request) runs edited code.
export function renderResult(container, r, onRerun) {
  releaseCharts();
  clear(container);
  container.dataset.runId = r.id || "";
  container.append(
    el("h2", { id: "result-title", tabindex: "-1" }, "Result"),
    statusBanner(r), badges(r));
  if (r.query) container.append(el("p", { class: "question" }, `“${r.query}”`));
  const parts = [
    costBlock(r),
    textBlock("Output", r.output, r.outputTruncated, "output"),
    r.table ? el("section", { class: "table-box", "aria-label": "Table" }, el("h3", {}, "Table"),
      renderTable(r.table, r.id)) : null,
    chartsBlock(r),
    codeBlock(r, onRerun),
    attemptsBlock(r),
    r.stderr ? el("details", { class: "stderr" }, el("summary", {}, "Messages (stderr)"),
      el("pre", { class: "output" }, r.stderr)) : null,
  ];
  for (const p of parts) if (p) container.append(p);
  container.hidden = false;
}
