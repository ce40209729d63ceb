// run: the analysis form (ask in English, write code, or a template with
// its parameters), the live view of a run in progress (stages, the code
// as the model writes it, stdout line by line) and its cancellation.

import { analyzeStream, getJson, sessionId } from "./api.js";
import { el, clear, errorText, announce } from "./format.js";
import { bindEditor } from "./highlight.js";
import { renderResult } from "./result.js";

const $ = (id) => document.getElementById(id);

const STAGES = {
  budget_reserved: "Budget reserved",
  generating: "Writing the code",
  validating: "Checking the code",
  running: "Running in a sandbox",
  repairing: "Repairing the code after an error",
  generation_restarted: "The model was asked again",
};

const SAMPLE_CODE = {
  python: "import pandas as pd\n\ninvoices = pd.read_csv('/data/invoices.csv')\n" +
    "print(invoices.groupby('status')['amount'].sum())\n",
  sql: "SELECT status, COUNT(*) AS invoices, ROUND(SUM(amount), 2) AS total\n" +
    "FROM invoices\nGROUP BY status\nORDER BY total DESC;\n",
};

let templates = [];
let running = null; // the AbortController of the run in progress
let afterRun = () => {};
let paintCode = () => {};

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function showMode() {
  const m = mode();
  $("mode-query").hidden = m !== "query";
  $("mode-code").hidden = m !== "code";
  $("mode-template").hidden = m !== "template";
  if (m === "code" && !$("code").value.trim()) {
    $("code").value = SAMPLE_CODE[$("language").value];
    paintCode();
  }
}

function paramInput(p) {
  const id = `param-${p.name}`;
  const attrs = { id, name: p.name, "data-param": p.name, "data-type": p.type,
    "aria-describedby": `${id}-hint` };
  if (p.type === "date") Object.assign(attrs, { type: "date" });
  else if (p.type === "integer" || p.type === "year")
    Object.assign(attrs, { type: "number", step: "1", min: p.min, max: p.max });
  else Object.assign(attrs, { type: "text", maxlength: p.maxLength });
  if (p.required) attrs.required = true;
  // A parameter with a fixed set of values is a choice among them.
  const input = p.enum
    ? el("select", { id, name: p.name, "data-param": p.name, "data-type": p.type,
      "aria-describedby": `${id}-hint` }, p.enum.map((v) => el("option", { value: v }, v)))
    : el("input", attrs);
  if (p.default !== null && p.default !== undefined) input.value = String(p.default);
  return el("div", { class: "field" },
    el("label", { for: id }, p.name.replace(/_/g, " ") + (p.required ? " (required)" : "")),
    input, el("p", { id: `${id}-hint`, class: "hint" }, p.description || ""));
}

function showTemplate() {
  const t = templates.find((x) => x.id === $("template").value);
  $("template-description").textContent = t ? t.description : "";
  clear($("template-params")).append(...(t ? t.params.map(paramInput) : []));
}

function templateParams() {
  const params = {};
  for (const input of $("template-params").querySelectorAll("[data-param]")) {
    const v = input.value.trim();
    if (v === "") continue;
    const type = input.dataset.type;
    params[input.dataset.param] = type === "integer" || type === "year" ? Number(v) : v;
  }
  return params;
}

function buildRequest() {
  const body = { language: $("language").value, dataset: $("dataset").value, session: sessionId() };
  const m = mode();
  if (m === "query") {
    const q = $("request").value.trim();
    if (!q) throw new Error("describe the analysis you want first");
    body.query = q;
  } else if (m === "code") {
    if (!$("code").value.trim()) throw new Error("write some code first");
    body.code = $("code").value;
  } else {
    if (!$("template").value) throw new Error("pick a template first");
    body.template = $("template").value;
    body.params = templateParams();
  }
  return body;
}

function stage(text, state) {
  const items = $("stages").children;
  if (items.length) items[items.length - 1].dataset.state = "done";
  $("stages").append(el("li", { "data-state": state || "now" }, text));
}

function onEvent(name, data) {
  if (name === "status") {
    const label = STAGES[data.stage] || data.stage;
    stage(data.attempt > 1 ? `${label} (attempt ${data.attempt})` : label);
    if (data.stage === "generating" || data.stage === "generation_restarted") $("live-code").textContent = "";
    if (data.stage === "running") $("live-output").textContent = "";
  } else if (name === "token") {
    $("live-code-box").hidden = false;
    $("live-code").textContent += data.text;
  } else if (name === "stdout") {
    $("live-output").textContent += data.text.endsWith("\n") ? data.text : data.text + "\n";
  } else if (name === "warning") {
    stage(data.message, "warn");
  }
}

function setRunning(on) {
  $("run").disabled = on;
  $("run").textContent = on ? "Running…" : "Run Analysis";
  $("cancel").hidden = !on;
  $("analysis-form").setAttribute("aria-busy", on ? "true" : "false");
}

function showError(err) {
  const box = $("form-error");
  box.textContent = errorText(err);
  box.dataset.code = err.code || "";
  box.hidden = false;
}

// Runs a request (from the form, or edited code of a result).
export async function runAnalysis(body) {
  if (running) return;
  $("form-error").hidden = true;
  clear($("stages"));
  $("live-output").textContent = "";
  $("live-code").textContent = "";
  $("live-code-box").hidden = true;
  $("progress").hidden = false;
  $("result").hidden = true;
  stage("Sent");
  running = new AbortController();
  setRunning(true);
  try {
    const result = await analyzeStream(body, onEvent, running.signal);
    stage("Done", "done");
    $("progress").hidden = true;
    renderResult($("result"), result, runAnalysis);
    announce(`Run finished: ${result.status}`);
    $("result-title").focus();
  } catch (err) {
    $("progress").hidden = true;
    showError(err);
    announce(errorText(err));
  } finally {
    running = null;
    setRunning(false);
    afterRun();
  }
}

export function fillForm(r) {
  const m = r.mode === "query" && r.query ? "query" : r.mode === "template" && r.template ? "template" : "code";
  document.querySelector(`input[name="mode"][value="${m}"]`).checked = true;
  $("language").value = r.language;
  if ([...$("dataset").options].some((o) => o.value === r.dataset)) $("dataset").value = r.dataset;
  if (m === "query") $("request").value = r.query;
  if (m === "code") $("code").value = r.code || "";
  if (m === "template") {
    $("template").value = r.template.id;
    showTemplate();
    for (const [k, v] of Object.entries(r.template.params || {})) {
      const input = $("template-params").querySelector(`[data-param="${k}"]`);
      if (input) input.value = String(v);
    }
  }
  paintCode();
  showMode();
}

export async function loadChoices() {
  const [ds, ts] = await Promise.all([getJson("/api/datasets"), getJson("/api/templates")]);
  const current = $("dataset").value;
  clear($("dataset")).append(...ds.datasets.map((d) => el("option", { value: d.name }, d.name)));
  if (current) $("dataset").value = current;
  templates = ts.templates;
  clear($("template")).append(...templates.map((t) => el("option", { value: t.id }, t.title)));
  showTemplate();
  return ds.datasets;
}

export function initRun(onFinished) {
  afterRun = onFinished;
  paintCode = bindEditor($("code"), $("code-view"), () => $("language").value);
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", showMode);
  $("language").addEventListener("change", () => {
    const other = $("language").value === "sql" ? "python" : "sql";
    if ($("code").value === SAMPLE_CODE[other]) $("code").value = SAMPLE_CODE[$("language").value];
    paintCode();
  });
  $("template").addEventListener("change", showTemplate);
  $("analysis-form").addEventListener("submit", (e) => {
    e.preventDefault();
    let body;
    try {
      body = buildRequest();
    } catch (err) {
      showError(err);
      return;
    }
    runAnalysis(body);
  });
  $("cancel").addEventListener("click", () => {
    if (running) running.abort();
  });
  // Ctrl+Enter runs from any field of the form.
  $("analysis-form").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      $("analysis-form").requestSubmit();
    }
  });
  showMode();
}
