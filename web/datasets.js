// datasets: what each dataset holds (files, tables, columns and their
// types, row counts), whose it is and its version, the upload of a CSV
// file as a new dataset, with what the server decided for each column
// shown before the data is used, and for the datasets the analyst may
// change (their team's; an admin's: all) replace, append and delete.

import { getJson, sendJson, uploadCsv, changeDataset, remove } from "./api.js";
import { el, clear, bytes, errorText } from "./format.js";

const $ = (id) => document.getElementById(id);
let afterUpload = () => {};

function tableBlock(t) {
  return el("details", { class: "schema-table", "data-table": t.name },
    el("summary", {}, el("strong", {}, t.name), ` · ${t.rows} rows · ${t.columns.length} columns`),
    el("table", { class: "data compact" },
      el("caption", { class: "visually-hidden" }, `Columns of ${t.name}`),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Column"), el("th", { scope: "col" }, "Type"))),
      el("tbody", {}, t.columns.map((c) => el("tr", {}, el("td", {}, c.name), el("td", {}, c.type || ""))))));
}

// What the server allows too: a team's dataset by its team, anything by
// an admin (the server checks again).
function mayChange(d, me) {
  const team = d.owner ? d.owner.team : null;
  return me.role === "admin" || (team !== null && team === me.team);
}

// Sends a new version (replace or append) and shows the outcome.
async function newVersion(d, how, input, status) {
  const file = input.files[0];
  if (!file) return;
  status.classList.replace("error", "hint");
  status.textContent = `${how === "append" ? "Appending" : "Replacing"} from ${file.name}…`;
  try {
    const s = await changeDataset(d.name, how, file);
    await showDatasets();
    const now = $("dataset-list").querySelector(`[data-dataset="${d.name}"] .dataset-status`);
    if (now) now.textContent = how === "append"
      ? `Appended ${s.appended_rows} rows: version ${s.version}, ${s.rows} rows.`
      : `Replaced: version ${s.version}, ${s.rows} rows.`;
    afterUpload();
  } catch (err) {
    status.classList.replace("hint", "error");
    status.textContent = errorText(err);
    input.value = "";
  }
}

async function deleteDataset(d, status) {
  if (!confirm(`Delete dataset ${d.name}? Runs on record keep their results.`)) return;
  try {
    await remove(`/api/datasets/${encodeURIComponent(d.name)}`);
    await showDatasets();
    afterUpload();
  } catch (err) {
    status.classList.replace("hint", "error");
    status.textContent = errorText(err);
  }
}

// Admins: a team's dataset becomes the organisation's, readable by all.
async function publishDataset(d, status) {
  try {
    await sendJson("POST", `/api/datasets/${encodeURIComponent(d.name)}/publish`, {});
    await showDatasets();
    afterUpload();
  } catch (err) {
    status.classList.replace("hint", "error");
    status.textContent = errorText(err);
  }
}

function changeBar(d, me) {
  const status = el("p", { class: "hint dataset-status", role: "status" });
  const picker = (how, text) => {
    const input = el("input", { type: "file", accept: ".csv,text/csv", class: "visually-hidden",
      tabindex: "-1", "data-action": how, "aria-label": `${text} of ${d.name}: choose the file` });
    input.addEventListener("change", () => newVersion(d, how, input, status));
    const button = el("button", { type: "button", "data-action": how }, text);
    button.addEventListener("click", () => input.click());
    return [button, input];
  };
  const del = el("button", { type: "button", "data-action": "delete" }, "Delete");
  del.addEventListener("click", () => deleteDataset(d, status));
  let publish = null;
  if (me.role === "admin" && d.owner && d.owner.team) {
    publish = el("button", { type: "button", "data-action": "publish" }, "Publish to the organisation");
    publish.addEventListener("click", () => publishDataset(d, status));
  }
  return [el("div", { class: "row-actions", role: "group", "aria-label": `Change ${d.name}` },
    ...picker("replace", "Replace"), ...picker("append", "Append rows"), del, publish), status];
}

function datasetBlock(d, me) {
  const files = (d.files || []).map((f) => `${f.name} (${bytes(f.bytes)})`).join(", ");
  const owner = d.owner && d.owner.team ? `team ${d.owner.team}'s` : "the organisation's";
  return el("section", { class: "dataset", "data-dataset": d.name, "aria-label": `Dataset ${d.name}` },
    el("h2", {}, d.name),
    el("p", { class: "hint dataset-owner" }, `Version ${d.version || 1}, ${owner}`),
    el("p", { class: "hint" }, d.sqlite ? `SQL and Python · files: ${files}` : `Python only · files: ${files}`),
    d.error ? el("p", { class: "error" }, d.error) : null,
    mayChange(d, me) ? changeBar(d, me) : null,
    (d.tables || []).map(tableBlock));
}

export async function showDatasets() {
  const box = clear($("dataset-list"));
  try {
    const [{ datasets }, me] = await Promise.all([getJson("/api/datasets"), getJson("/api/me")]);
    if (!datasets.length) box.append(el("p", { class: "hint" }, "No datasets yet: upload a CSV below."));
    box.append(...datasets.map((d) => datasetBlock(d, me)));
  } catch (err) {
    box.append(el("p", { class: "error", role: "alert" }, errorText(err)));
  }
}

// One row per column: how it was read, what was set to NULL and where, and
// why a column that held numbers or dates stayed text.
function decisionsBlock(s) {
  const delimiter = { ",": "comma", ";": "semicolon", tab: "tab", "|": "pipe" }[s.delimiter] || s.delimiter;
  const mark = s.decimal ? `, decimal mark '${s.decimal}'` : "";
  return [
    el("h3", {}, `What each column of ${s.table} became`),
    el("p", { class: "hint" }, `Read as ${delimiter}-separated${mark}. Check these before relying on the data.`),
    el("table", { class: "data compact decisions" },
      el("caption", { class: "visually-hidden" }, `Column decisions for ${s.table}`),
      el("thead", {}, el("tr", {}, ["Column", "Type", "Read as", "Set to NULL", "Lines", "Note"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, (s.columns || []).map((c) => el("tr", { "data-column": c.name },
        el("td", {}, c.name),
        el("td", {}, c.type),
        el("td", {}, c.format || ""),
        el("td", { class: "num" }, String(c.nulled ?? 0)),
        el("td", {}, (c.nulled_lines || []).join(", ") + ((c.nulled || 0) > (c.nulled_lines || []).length ? ", …" : "")),
        el("td", { class: c.note ? "warn" : null }, c.note || ""))))),
  ];
}

async function upload(e) {
  e.preventDefault();
  const file = $("upload-file").files[0];
  const name = $("upload-name").value.trim();
  const table = $("upload-table").value.trim() || name;
  const error = $("upload-error");
  const decisions = $("upload-decisions");
  error.hidden = true;
  decisions.hidden = true;
  clear(decisions);
  $("upload-status").textContent = "";
  const rule = /^[A-Za-z0-9_-]{1,64}$/;
  let problem = null;
  if (!file) problem = "choose a CSV file first";
  else if (!rule.test(name)) problem = "the dataset name must be 1 to 64 letters, digits, '_' or '-'";
  else if (!rule.test(table)) problem = "the table name must be 1 to 64 letters, digits, '_' or '-'";
  if (problem) {
    error.textContent = errorText(new Error(problem));
    error.hidden = false;
    return;
  }
  $("upload-status").textContent = `Uploading ${file.name}…`;
  try {
    const res = await uploadCsv(name, table, file, {
      delimiter: $("upload-delimiter").value,
      decimal: $("upload-decimal").value,
      dayfirst: $("upload-dayfirst").value,
    });
    const s = res.summary || res;
    $("upload-status").textContent =
      `Dataset ${s.name || name} created: table ${s.table || table}, ${s.rows ?? "?"} rows.`;
    decisions.append(...decisionsBlock({ ...s, table: s.table || table }));
    decisions.hidden = false;
    $("upload-form").reset();
    await showDatasets();
    afterUpload();
  } catch (err) {
    $("upload-status").textContent = "";
    error.textContent = errorText(err);
    error.hidden = false;
  }
}

export function initDatasets(onUploaded) {
  afterUpload = onUploaded;
  $("upload-form").addEventListener("submit", upload);
  $("upload-file").addEventListener("change", () => {
    const f = $("upload-file").files[0];
    if (f && !$("upload-name").value) {
      const base = f.name.replace(/\.csv$/i, "").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
      $("upload-name").value = base;
      if (!$("upload-table").value) $("upload-table").value = base;
    }
  });
}
