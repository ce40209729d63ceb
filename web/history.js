// history: the analyst's own runs, newest first, each of which can be
// opened (its full result) or run again as it was asked.

import { getJson, sessionId } from "./api.js";
import { el, clear, when, duration, statusText, errorText } from "./format.js";

const PAGE = 25;
let shown = 0;
let handlers = null;

// The request that makes the run again: the same question, template or code.
export function requestOf(r) {
  const body = { language: r.language, dataset: r.dataset, session: sessionId() };
  if (r.mode === "query" && r.query) body.query = r.query;
  else if (r.mode === "template" && r.template) {
    body.template = r.template.id;
    body.params = r.template.params || {};
  } else body.code = r.code;
  return body;
}

function row(run) {
  const open = async (again) => {
    try {
      const full = await getJson(`/api/runs/${encodeURIComponent(run.id)}`);
      if (again) handlers.rerun(full);
      else handlers.open(full);
    } catch (err) {
      const box = document.getElementById("history-list");
      box.prepend(el("p", { class: "error", role: "alert" }, errorText(err)));
    }
  };
  return el("tr", { "data-run-id": run.id },
    el("td", {}, el("time", { datetime: run.created_at }, when(run.created_at))),
    el("td", {}, run.language === "sql" ? "SQL" : "Python"),
    el("td", {}, run.dataset || ""),
    el("td", { class: `run-status status-${run.status}`, title: statusText(run.status) }, run.status),
    el("td", { class: "num" }, duration(run.duration_ms)),
    el("td", {}, el("div", { class: "row-actions" },
      el("button", { type: "button", class: "open-run", onclick: () => open(false),
        "aria-label": `Open the run of ${when(run.created_at)}` }, "Open"),
      el("button", { type: "button", class: "rerun-run", onclick: () => open(true),
        "aria-label": `Run again the run of ${when(run.created_at)}` }, "Run again"))));
}

async function loadPage(reset) {
  const box = document.getElementById("history-list");
  const more = document.getElementById("history-more");
  if (reset) {
    shown = 0;
    clear(box);
  }
  let page;
  try {
    page = await getJson(`/api/runs?limit=${PAGE}&offset=${shown}`);
  } catch (err) {
    box.append(el("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  let tbody = box.querySelector("tbody");
  if (!tbody) {
    if (page.runs.length === 0) {
      box.append(el("p", { class: "hint" }, "No runs yet. Your runs appear here."));
      more.hidden = true;
      return;
    }
    tbody = el("tbody");
    box.append(el("div", { class: "table-scroll" }, el("table", { class: "data history" },
      el("caption", { class: "visually-hidden" }, "Your runs, newest first"),
      el("thead", {}, el("tr", {}, ["When", "Language", "Dataset", "Status", "Took", "Actions"]
        .map((h) => el("th", { scope: "col", class: h === "Took" ? "num" : null }, h)))), tbody)));
  }
  for (const run of page.runs) tbody.append(row(run));
  shown += page.runs.length;
  more.hidden = shown >= page.total;
}

export function initHistory(h) {
  handlers = h;
  document.getElementById("history-more").addEventListener("click", () => loadPage(false));
}

export function showHistory() {
  return loadPage(true);
}
