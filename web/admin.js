// admin: every budget with its meter, setting and removing budgets, and
// spend by scope over a date range with CSV downloads (admins only: the
// server refuses these calls to analysts anyway).

import { getJson, sendJson, getBlob, remove } from "./api.js";
import { el, clear, money, errorText, download, csvField } from "./format.js";
import { renderMeter } from "./meter.js";

const $ = (id) => document.getElementById(id);
let me = null;
let lastTotals = [];
let currency = "";

function scopePath(scope) {
  if (scope === "org") return "org/global";
  const [kind, ...rest] = scope.split(":");
  return `${kind}/${encodeURIComponent(rest.join(":"))}`;
}

function fail(id, err) {
  $(id).textContent = errorText(err);
  $(id).hidden = false;
}

async function showBudgets() {
  const box = clear($("admin-budgets"));
  let list;
  try {
    list = await getJson("/api/budgets");
  } catch (err) {
    box.append(el("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  if (!list.budgets.length) {
    box.append(el("p", { class: "hint" }, "No budgets yet: runs are not limited by cost."));
    return;
  }
  for (const b of list.budgets) {
    box.append(el("div", { class: "admin-budget" }, renderMeter(b, list.currency, me),
      el("p", { class: "hint" }, `${b.scope} · ${b.period} · ${b.hard ? "hard" : "soft only"}`),
      el("button", {
        type: "button", class: "link remove-budget", "aria-label": `Remove the budget of ${b.scope}`,
        onclick: async () => {
          try {
            await remove(`/api/budgets/${scopePath(b.scope)}`);
            await showBudgets();
          } catch (err) {
            fail("budget-error", err);
          }
        },
      }, "Remove")));
  }
}

async function saveBudget(e) {
  e.preventDefault();
  $("budget-error").hidden = true;
  $("budget-status").textContent = "";
  const kind = $("budget-kind").value;
  const key = $("budget-key").value.trim();
  if (kind !== "org" && !key) {
    fail("budget-error", new Error(`name the ${kind} this budget is for`));
    return;
  }
  const scope = kind === "org" ? "org" : `${kind}:${key}`;
  try {
    await sendJson("PUT", `/api/budgets/${scopePath(scope)}`, {
      limit: $("budget-limit").value.trim(),
      period: $("budget-period").value,
      softPercent: Number($("budget-soft").value),
      hard: $("budget-hard").checked,
    });
    $("budget-status").textContent = `Budget of ${scope} saved.`;
    await showBudgets();
  } catch (err) {
    fail("budget-error", err);
  }
}

function spendQuery() {
  const q = new URLSearchParams();
  if ($("spend-from").value) q.set("from", $("spend-from").value);
  if ($("spend-to").value) q.set("to", $("spend-to").value);
  return q;
}

async function showSpend(e) {
  if (e) e.preventDefault();
  $("spend-error").hidden = true;
  const box = clear($("spend-totals"));
  try {
    const res = await getJson("/api/spend?" + spendQuery());
    currency = res.currency;
    lastTotals = res.totals.slice().sort((a, b) => b.amountMicros - a.amountMicros);
    if (!lastTotals.length) {
      box.append(el("p", { class: "hint" }, "Nothing was spent in this range."));
      return;
    }
    box.append(el("div", { class: "table-scroll" }, el("table", { class: "data spend" },
      el("caption", { class: "visually-hidden" }, "Spend by scope"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Scope"),
        el("th", { scope: "col", class: "num" }, "Entries"), el("th", { scope: "col", class: "num" }, "Spent"))),
      el("tbody", {}, lastTotals.map((t) => el("tr", { "data-scope": t.scope },
        el("td", {}, t.scope), el("td", { class: "num" }, String(t.entries)),
        el("td", { class: "num" }, money(t.amount, currency))))))));
  } catch (err) {
    fail("spend-error", err);
  }
}

function totalsCsv() {
  const lines = ["scope,entries,amount,currency"];
  for (const t of lastTotals)
    lines.push([t.scope, t.entries, t.amount, currency].map(csvField).join(","));
  download(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" }), "spend-by-scope.csv");
}

async function entriesCsv() {
  try {
    const q = spendQuery();
    q.set("format", "csv");
    download(await getBlob("/api/spend?" + q), "spend.csv");
  } catch (err) {
    fail("spend-error", err);
  }
}

export function initAdmin() {
  $("budget-form").addEventListener("submit", saveBudget);
  $("budget-kind").addEventListener("change", () => {
    $("budget-key").disabled = $("budget-kind").value === "org";
  });
  $("budget-key").disabled = $("budget-kind").value === "org";
  $("spend-form").addEventListener("submit", showSpend);
  $("spend-totals-csv").addEventListener("click", async () => {
    if (!lastTotals.length) await showSpend();
    totalsCsv();
  });
  $("spend-csv").addEventListener("click", entriesCsv);
}

export async function showAdmin(who) {
  me = who;
  await Promise.all([showBudgets(), showSpend()]);
}
