// main: signing in and out, the sections of the page, and the budget
// meters and remaining budget shown beside every analysis.

import { ApiError, getJson, getKey, setKey, sessionId } from "./api.js";
import { el, clear, money, errorText } from "./format.js";
import { renderMeter } from "./meter.js";
import { initRun, loadChoices, fillForm, runAnalysis } from "./run.js";
import { renderResult } from "./result.js";
import { initHistory, showHistory, requestOf } from "./history.js";
import { initDatasets, showDatasets } from "./datasets.js";
import { initAdmin, showAdmin } from "./admin.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["signin", "analyze", "history", "datasets", "admin"];
let me = null;

function show(view) {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const b of $("nav").querySelectorAll("button"))
    if (b.dataset.view === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  if (view === "history") showHistory();
  if (view === "datasets") showDatasets();
  if (view === "admin") showAdmin(me);
  if (view !== "signin") history.replaceState(null, "", `#${view}`);
}

export async function refreshBudgets() {
  const box = $("budget-meters");
  let list;
  try {
    list = await getJson("/api/budgets?session=" + encodeURIComponent(sessionId()));
  } catch (err) {
    clear(box).append(el("p", { class: "error" }, errorText(err)));
    return;
  }
  const mine = list.budgets.filter((b) => b.scope === "org" || b.scope === `team:${me.team}` ||
    b.scope === `user:${me.user}` || b.scope === `session:${sessionId()}`);
  clear(box);
  if (!mine.length) box.append(el("p", { class: "hint" }, "No budget applies to you."));
  for (const b of mine) box.append(renderMeter(b, list.currency, me));
  const least = mine.reduce((a, b) => (!a || b.remainingMicros < a.remainingMicros ? b : a), null);
  $("who-remaining").textContent = least
    ? `Budget left: ${money(least.remaining, list.currency)}` : "No budget limit";
}

async function signIn(key) {
  setKey(key);
  try {
    me = await getJson("/api/me");
  } catch (err) {
    setKey("");
    throw err;
  }
  $("who-name").textContent = `${me.user} · team ${me.team}${me.role === "admin" ? " · admin" : ""}`;
  $("who").hidden = false;
  $("nav").hidden = false;
  $("nav-admin").hidden = me.role !== "admin";
  await Promise.all([loadChoices(), refreshBudgets()]);
  const wanted = location.hash.slice(1);
  show(VIEWS.includes(wanted) && wanted !== "signin" && (wanted !== "admin" || me.role === "admin")
    ? wanted : "analyze");
}

function signOut() {
  setKey("");
  me = null;
  $("who").hidden = true;
  $("nav").hidden = true;
  $("result").hidden = true;
  $("key").value = "";
  show("signin");
  history.replaceState(null, "", "#");
  $("key").focus();
}

function init() {
  initRun(() => refreshBudgets());
  initHistory({
    open: (r) => {
      show("analyze");
      fillForm(r);
      renderResult($("result"), r, runAnalysis);
      $("result-title").focus();
    },
    rerun: (r) => {
      show("analyze");
      fillForm(r);
      runAnalysis(requestOf(r));
    },
  });
  initDatasets(() => loadChoices());
  initAdmin();
  for (const b of $("nav").querySelectorAll("button")) b.addEventListener("click", () => show(b.dataset.view));
  $("sign-out").addEventListener("click", signOut);
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = $("key").value.trim();
    $("signin-error").hidden = true;
    if (!key) {
      $("signin-error").textContent = "Enter your API key.";
      $("signin-error").hidden = false;
      return;
    }
    try {
      await signIn(key);
    } catch (err) {
      $("signin-error").textContent = err instanceof ApiError && err.status === 401
        ? "This key was not accepted. Check it, or ask your administrator for a new one."
        : errorText(err);
      $("signin-error").hidden = false;
      $("key").select();
    }
  });
  if (getKey()) signIn(getKey()).catch(() => signOut());
  else show("signin");
}

init();
