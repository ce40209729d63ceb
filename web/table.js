// table: a result table that sorts by any column (click or Enter on its
// header), says when it shows only part of the rows, and downloads the
// whole table as CSV from the server.

import { getBlob } from "./api.js";
import { el, download, errorText } from "./format.js";

const NUMERIC = new Set(["integer", "real", "number", "float", "int"]);

function compare(a, b, numeric) {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (numeric && typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function cell(value, numeric) {
  const text = value === null || value === undefined ? "" : String(value);
  return el("td", { class: numeric ? "num" : null, title: value === null ? "NULL" : null }, text);
}

export function renderTable(table, runId) {
  const columns = table.columns || [];
  const rows = (table.rows || []).slice();
  const numeric = columns.map((c) => NUMERIC.has(String(c.type).toLowerCase()));
  const shown = table.shownRows ?? table.row_count ?? rows.length;
  const total = table.exportRows ?? table.total_rows ?? rows.length;
  const sort = { column: -1, ascending: true };
  const tbody = el("tbody");
  const heads = [];

  const paintBody = () => {
    const frag = document.createDocumentFragment();
    for (const row of rows)
      frag.append(el("tr", {}, row.map((v, i) => cell(v, numeric[i]))));
    tbody.replaceChildren(frag);
  };

  const sortBy = (index) => {
    sort.ascending = sort.column === index ? !sort.ascending : true;
    sort.column = index;
    const dir = sort.ascending ? 1 : -1;
    rows.sort((a, b) => dir * compare(a[index], b[index], numeric[index]));
    heads.forEach((th, i) => {
      th.setAttribute("aria-sort", i === index ? (sort.ascending ? "ascending" : "descending") : "none");
    });
    paintBody();
  };

  columns.forEach((c, i) => {
    const th = el("th", { scope: "col", "aria-sort": "none", class: numeric[i] ? "num" : null },
      el("button", { type: "button", class: "sort", onclick: () => sortBy(i),
        title: `Sort by ${c.name}` }, c.name));
    heads.push(th);
  });
  paintBody();

  const caption = el("caption", {}, `${shown} row${shown === 1 ? "" : "s"} shown`);
  const tableNode = el("table", { class: "data" }, caption, el("thead", {}, el("tr", {}, heads)), tbody);
  const parts = [];
  // A notice is shown whenever there is one: a cut table, or an empty one
  // whose filter matched nothing (it lists the values that exist).
  if (table.notice || table.truncated || total > shown) {
    parts.push(el("p", { class: "notice", role: "note" },
      table.notice || `Showing the first ${shown} of ${total} rows. The CSV download holds all of them.`));
  }
  const csvUrl = table.csvUrl || (runId ? `/api/runs/${runId}/table.csv` : null);
  const status = el("span", { class: "error", role: "alert" });
  if (csvUrl) {
    parts.push(el("div", { class: "actions" },
      el("button", {
        type: "button", class: "download-csv",
        onclick: async () => {
          status.textContent = "";
          try {
            download(await getBlob(csvUrl), `ledgerbox-${runId || "table"}.csv`);
          } catch (err) {
            status.textContent = errorText(err);
          }
        },
      }, `Download CSV (${total} rows)`), status));
  }
  parts.push(el("div", { class: "table-scroll", tabindex: "0", role: "region",
    "aria-label": "Result table" }, tableNode));
  return parts;
}
