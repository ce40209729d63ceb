// The analysts' page in a real browser (Debian's chromium, headless)
// against a real `ledgerbox serve` on loopback. Each test drives the page
// as an analyst would and checks what it shows against the server's API
// or the sqlite3 program, never against the page itself.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Server, launchBrowser, newPage, screenshot, sqlite } from "./harness.mjs";
import { LlmStub } from "./llm_stub.mjs";

const server = new Server();
let browser;

before(async () => {
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await server.stop();
});

// Requests outside the server, and script errors (network refusals the
// tests cause on purpose show up as "Failed to load resource" and are not
// errors of the page).
function assertClean(page, base = server.url) {
  const foreign = page.requests.filter((u) => !u.startsWith(base) && !u.startsWith("blob:") &&
    !u.startsWith("data:"));
  assert.deepEqual(foreign, [], "every request stays on the ledgerbox server");
  const errors = page.errors.filter((e) => !e.startsWith("Failed to load resource"));
  assert.deepEqual(errors, [], "no script error");
}

// An amount as the page shows it: the API's exact decimal, to the
// micro-unit, with at least 2 decimals ("0.177000" is 0.177, "100" 100.00).
function exactMoney(text) {
  const [whole, frac = ""] = String(text).split(".");
  return `${whole}.${frac.replace(/0+$/, "").padEnd(2, "0")} USD`;
}

async function signIn(page, key) {
  await page.goto(server.url + "/");
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#view-analyze").waitFor({ state: "visible" });
}

async function runCode(page, language, code) {
  await page.getByLabel("Write code").check();
  await page.getByLabel("Language").selectOption(language);
  await page.locator("#code").fill(code);
  await page.getByRole("button", { name: "Run Analysis" }).click();
}

async function waitResult(page) {
  await page.locator("#result").waitFor({ state: "visible", timeout: 60000 });
  return page.locator("#result").getAttribute("data-run-id");
}

async function tableCells(page) {
  return page.locator("#result table.data tbody tr").evaluateAll((rows) =>
    rows.map((r) => Array.from(r.cells, (c) => c.textContent)));
}

test("the page and its files come from the server alone, with a strict CSP", async () => {
  const resp = await fetch(server.url + "/");
  assert.equal(resp.status, 200);
  assert.match(resp.headers.get("content-type"), /^text\/html/);
  const csp = resp.headers.get("content-security-policy");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  const etag = resp.headers.get("etag");
  const again = await fetch(server.url + "/", { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304, "an unchanged page is not sent twice");
  assert.equal((await fetch(server.url + "/assets/../../etc/passwd")).status, 404);
  assert.equal((await fetch(server.url + "/assets/nothing.js")).status, 404);

  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await page.getByLabel("API key").waitFor();
  assert.ok(await page.locator("#view-analyze").isHidden(), "nothing but sign-in before a key");
  await screenshot(page, "01-sign-in");
  assert.ok(page.requests.some((u) => u.endsWith("/assets/main.js")));
  assertClean(page);
  await page.context().close();
});

test("a wrong key is refused with a plain message", async () => {
  const page = await newPage(browser);
  await page.goto(server.url + "/");
  await page.getByLabel("API key").fill("lbx_not-a-real-key-000000000000000000000");
  await page.getByRole("button", { name: "Sign in" }).click();
  const error = page.locator("#signin-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /not accepted/);
  assert.ok(await page.locator("#view-analyze").isHidden());
  assert.ok(await page.locator("#nav").isHidden());
  assert.equal(await page.evaluate(() => sessionStorage.getItem("ledgerbox.key")), null,
    "a refused key is not kept");
  await screenshot(page, "02-wrong-key");
  assertClean(page);
  await page.context().close();
});

test("signing in shows the user, the team and the budget left", async () => {
  const set = await server.api(server.keys.admin, "PUT", "/api/budgets/team/sales",
    { limit: "100.00", period: "monthly", softPercent: 80, hard: true });
  assert.equal(set.status, 200);
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  const who = await page.locator("#who-name").textContent();
  assert.match(who, /bob/);
  assert.match(who, /sales/);
  const budgets = (await server.api(server.keys.analyst, "GET", "/api/budgets")).body.budgets;
  const sales = budgets.find((b) => b.scope === "team:sales");
  assert.equal(await page.locator("#who-remaining").textContent(),
    `Budget left: ${exactMoney(sales.remaining)}`);
  const meter = page.locator('#budget-meters [data-scope="team:sales"] [role="meter"]');
  assert.equal(await meter.count(), 1);
  assert.match(await meter.getAttribute("aria-valuetext"), /100\.00 USD/);
  assert.ok(await page.locator("#nav-admin").isHidden(), "analysts get no admin section");
  assertClean(page);
  await page.context().close();
});

test("a SQL query shows its table, which sorts by a column", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  const query = "SELECT status, COUNT(*) AS n, ROUND(SUM(amount), 2) AS total FROM invoices " +
    "GROUP BY status ORDER BY status";
  await runCode(page, "sql", query);
  await waitResult(page);
  assert.equal(await page.locator("#result .banner").getAttribute("data-status"), "ok");
  const expected = sqlite(query).map((r) => [r.status, String(r.n), String(r.total)]);
  assert.deepEqual(await tableCells(page), expected);

  await page.locator('button[title="Sort by n"]').click();
  const byCount = expected.slice().sort((a, b) => Number(a[1]) - Number(b[1]));
  assert.deepEqual(await tableCells(page), byCount);
  assert.equal(await page.locator('th:has(button[title="Sort by n"])').getAttribute("aria-sort"), "ascending");
  await page.locator('button[title="Sort by n"]').click();
  assert.deepEqual(await tableCells(page), byCount.slice().reverse());
  assert.ok(await page.locator("#result .cost-box").isVisible(), "the cost is shown");
  await screenshot(page, "03-sql-table");
  assertClean(page);
  await page.context().close();
});

test("a cut table says so, and its CSV download holds every row", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await runCode(page, "sql", "SELECT invoice_id, amount FROM invoices ORDER BY invoice_id");
  await waitResult(page);
  const total = sqlite("SELECT COUNT(*) AS n FROM invoices")[0].n;
  assert.ok(total > 1000, "the demo has more invoices than a response shows");
  const notice = page.locator("#result .notice");
  await notice.waitFor();
  assert.match(await notice.textContent(), new RegExp(`first 1000 of ${total} rows`));
  assert.equal(await page.locator("#result table.data tbody tr").count(), 1000);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: /Download CSV/ }).click(),
  ]);
  const csv = readFileSync(await download.path(), "utf8").trim().split(/\r?\n/);
  assert.equal(csv[0], "invoice_id,amount");
  assert.equal(csv.length, total + 1, "header plus every row");
  const last = sqlite("SELECT invoice_id, amount FROM invoices ORDER BY invoice_id DESC LIMIT 1")[0];
  assert.equal(csv[csv.length - 1], `${last.invoice_id},${last.amount}`);
  assertClean(page);
  await page.context().close();
});

test("a Python analysis streams its output while it runs and shows its chart", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await runCode(page, "python", [
    "import time",
    "import pandas as pd",
    "import matplotlib.pyplot as plt",
    "print('step one', flush=True)",
    "time.sleep(2)",
    "inv = pd.read_csv('/data/invoices.csv')",
    "by_status = inv.groupby('status')['amount'].sum()",
    "by_status.plot(kind='bar', title='Invoiced by status')",
    "print('step two', flush=True)",
  ].join("\n"));
  const live = page.locator("#live-output");
  await page.waitForFunction(() => document.getElementById("live-output").textContent.includes("step one"));
  assert.ok(await page.locator("#result").isHidden(), "the output arrived before the result");
  assert.ok(await page.getByRole("button", { name: "Cancel" }).isVisible());
  assert.match(await page.locator("#stages").textContent(), /Running in a sandbox/);
  assert.doesNotMatch(await live.textContent(), /step two/);
  await screenshot(page, "04-python-running");

  await waitResult(page);
  assert.match(await page.locator("#result pre.output").first().textContent(), /step one\nstep two/);
  const img = page.locator("#result img.chart");
  await img.waitFor();
  await page.waitForFunction(() => {
    const i = document.querySelector("#result img.chart");
    return i && i.complete && i.naturalWidth > 0;
  });
  const size = await img.evaluate((i) => [i.naturalWidth, i.naturalHeight, i.src.slice(0, 5)]);
  assert.ok(size[0] >= 100 && size[1] >= 100, "the PNG decoded to a real picture");
  assert.equal(size[2], "blob:");
  assert.ok(page.requests.some((u) => /\/api\/runs\/[0-9a-f]{32}\/artifacts\/figure-1\.png$/.test(u)));
  await screenshot(page, "05-python-chart");
  assertClean(page);
  await page.context().close();
});

test("a run in progress can be cancelled, and is recorded as killed", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await runCode(page, "python", "import time\nprint('waiting', flush=True)\ntime.sleep(60)\n");
  await page.waitForFunction(() => document.getElementById("live-output").textContent.includes("waiting"));
  const started = Date.now();
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.locator("#form-error").waitFor({ state: "visible" });
  assert.equal(await page.locator("#form-error").textContent(), "Cancelled.");
  assert.ok(await page.getByRole("button", { name: "Run Analysis" }).isEnabled());
  let killed = null;
  while (!killed && Date.now() - started < 20000) {
    const runs = (await server.api(server.keys.analyst, "GET", "/api/runs?limit=5")).body.runs;
    killed = runs.find((r) => r.status === "killed");
    if (!killed) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(killed, "the server stopped the sandbox and recorded the run as killed");
  assert.ok(killed.duration_ms < 30000, "it did not sleep its 60 s");
  await screenshot(page, "06-cancelled");
  assertClean(page);
  await page.context().close();
});

// A signed-in page with template `id` picked, in SQL.
async function templatePage(id) {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await page.getByLabel("Use a template").check();
  await page.getByLabel("Language").selectOption("sql");
  await page.getByLabel("Template", { exact: true }).selectOption(id);
  return page;
}

test("a template runs with its parameters", async () => {
  const page = await templatePage("top_customers");
  await page.getByLabel("year", { exact: true }).fill("2024");
  await page.getByLabel("limit", { exact: true }).fill("5");
  await page.getByRole("button", { name: "Run Analysis" }).click();
  const id = await waitResult(page);
  assert.equal(await page.locator("#result .banner").getAttribute("data-status"), "ok");
  assert.equal(await page.locator("#result table.data tbody tr").count(), 5);
  const run = (await server.api(server.keys.analyst, "GET", `/api/runs/${id}`)).body;
  assert.equal(run.mode, "template");
  assert.deepEqual(run.template, { id: "top_customers", params: { year: 2024, limit: 5, revenue: "net" } });
  assert.deepEqual(await tableCells(page), run.table.rows.map((r) => r.map((v) => v === null ? "" : String(v))));
  await screenshot(page, "07-template");
  assertClean(page);
  await page.context().close();
});

test("a template filter that matches nothing shows the values that exist", async () => {
  const page = await templatePage("top_customers");
  await page.getByLabel("segment", { exact: true }).fill("Retail");
  await page.getByLabel("revenue", { exact: true }).selectOption("gross");
  await page.getByRole("button", { name: "Run Analysis" }).click();
  await waitResult(page);
  assert.equal(await page.locator("#result table.data tbody tr").count(), 0);
  const notice = page.locator("#result .notice");
  await notice.waitFor();
  assert.match(await notice.textContent(), /no rows for segment 'Retail'; segments in the data .*: education, healthcare, hospitality, office, retail/);
  assertClean(page);
  await page.context().close();
});

test("asking in English with no model running gives a plain message", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await page.getByLabel("Ask in English").check();
  await page.getByLabel("Describe the analysis you want to run…").fill("total revenue by month in 2025");
  await page.getByRole("button", { name: "Run Analysis" }).click();
  const error = page.locator("#form-error");
  await error.waitFor({ state: "visible", timeout: 30000 });
  assert.equal(await error.getAttribute("data-code"), "llm_unavailable");
  const text = await error.textContent();
  assert.match(text, /^No LLM answered/);
  assert.match(text, /Code and template requests work without it/);
  assert.doesNotMatch(text, /\n\s+at /, "no stack trace");
  assertClean(page);
  await page.context().close();
});

test("an admin sets a budget in the page, and a run past it is refused with its message", async () => {
  const admin = await newPage(browser);
  await signIn(admin, server.keys.admin);
  await admin.getByRole("button", { name: "Budgets & spend" }).click();
  await admin.getByLabel("Scope", { exact: true }).selectOption("user");
  await admin.getByLabel("Name", { exact: true }).fill("carol");
  await admin.getByLabel("Limit", { exact: true }).fill("0.000001");
  await admin.getByRole("button", { name: "Save budget" }).click();
  await admin.locator('#admin-budgets [data-scope="user:carol"]').waitFor();
  assert.match(await admin.locator("#budget-status").textContent(), /user:carol saved/);
  const stored = (await server.api(server.keys.admin, "GET", "/api/budgets")).body.budgets
    .find((b) => b.scope === "user:carol");
  assert.equal(stored.limitMicros, 1);
  assert.equal(stored.hard, true);
  await screenshot(admin, "08-admin-budgets");
  assertClean(admin);
  await admin.context().close();

  const page = await newPage(browser);
  await signIn(page, server.keys.frugal);
  await runCode(page, "sql", "SELECT COUNT(*) FROM invoices");
  const error = page.locator("#form-error");
  await error.waitFor({ state: "visible" });
  assert.equal(await error.getAttribute("data-code"), "budget_exceeded");
  assert.match(await error.textContent(), /^The user:carol budget does not cover this run/);
  assert.ok(await page.locator("#result").isHidden());
  assert.equal((await server.api(server.keys.frugal, "GET", "/api/runs")).body.total, 0,
    "the refused run never started");
  assert.ok(await page.locator('#budget-meters [data-scope="user:carol"]').isVisible());
  await screenshot(page, "09-budget-refused");
  assertClean(page);
  await page.context().close();
});

test("admins see spend by scope and download it as CSV", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.admin);
  await page.getByRole("button", { name: "Budgets & spend" }).click();
  const row = page.locator('#spend-totals tr[data-scope="team:sales"]');
  await row.waitFor();
  const totals = (await server.api(server.keys.admin, "GET", "/api/spend")).body.totals;
  const sales = totals.find((t) => t.scope === "team:sales");
  assert.ok(sales.amountMicros > 0, "the analyst's runs cost something");
  const cells = await row.locator("td").allTextContents();
  assert.deepEqual(cells, ["team:sales", String(sales.entries), exactMoney(sales.amount)]);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download totals (CSV)" }).click(),
  ]);
  const csv = readFileSync(await download.path(), "utf8").trim().split(/\r?\n/);
  assert.equal(csv[0], "scope,entries,amount,currency");
  assert.ok(csv.includes(`team:sales,${sales.entries},${sales.amount},USD`));

  const [entries] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download every entry (CSV)" }).click(),
  ]);
  const lines = readFileSync(await entries.path(), "utf8").trim().split(/\r?\n/);
  assert.equal(lines[0], "run_id,scope,amount,at");
  const all = (await server.api(server.keys.admin, "GET", "/api/spend")).body.entries;
  assert.equal(lines.length, all.length + 1);
  await screenshot(page, "10-admin-spend");
  assertClean(page);
  await page.context().close();
});

test("history lists the analyst's runs and opens and reruns them", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await page.getByRole("button", { name: "History" }).click();
  const list = (await server.api(server.keys.analyst, "GET", "/api/runs?limit=25")).body;
  const rows = page.locator("#history-list tbody tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), Math.min(25, list.total));
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.runId));
  assert.deepEqual(ids, list.runs.map((r) => r.id), "newest first, the server's order");
  await screenshot(page, "11-history");

  const sqlRun = list.runs.find((r) => r.language === "sql" && r.status === "ok");
  await page.locator(`tr[data-run-id="${sqlRun.id}"] .open-run`).click();
  await page.locator("#result").waitFor({ state: "visible" });
  assert.equal(await page.locator("#result").getAttribute("data-run-id"), sqlRun.id);
  const full = (await server.api(server.keys.analyst, "GET", `/api/runs/${sqlRun.id}`)).body;
  assert.equal(await page.locator("#result-code").inputValue(), full.code);

  await page.getByRole("button", { name: "History" }).click();
  await page.locator(`tr[data-run-id="${sqlRun.id}"] .rerun-run`).click();
  await page.waitForFunction((old) => {
    const r = document.getElementById("result");
    return !r.hidden && r.dataset.runId && r.dataset.runId !== old;
  }, sqlRun.id, { timeout: 60000 });
  const after = (await server.api(server.keys.analyst, "GET", "/api/runs?limit=1")).body;
  assert.equal(after.total, list.total + 1, "run again made one new run");
  assert.equal((await server.api(server.keys.analyst, "GET", `/api/runs/${after.runs[0].id}`)).body.code, full.code);
  assertClean(page);
  await page.context().close();
});

test("datasets show their schema, and an uploaded CSV can be queried at once", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await page.getByRole("button", { name: "Datasets" }).click();
  const invoices = page.locator('[data-dataset="demo"] [data-table="invoices"]');
  await invoices.waitFor();
  const count = sqlite("SELECT COUNT(*) AS n FROM invoices")[0].n;
  assert.match(await invoices.locator("summary").textContent(), new RegExp(`${count} rows`));
  await invoices.locator("summary").click();
  const columns = await invoices.locator("tbody td:first-child").allTextContents();
  assert.deepEqual(columns, sqlite("PRAGMA table_info(invoices)").map((c) => c.name));

  const csv = "month,region,amount\n2025-01,north,100.5\n2025-01,south,20\n2025-02,north,7.25\n";
  await page.getByLabel("CSV file").setInputFiles({ name: "sales.csv", mimeType: "text/csv",
    buffer: Buffer.from(csv) });
  assert.equal(await page.getByLabel("Dataset name").inputValue(), "sales");
  await page.getByLabel("Table name").fill("regional");
  await page.getByRole("button", { name: "Upload" }).click();
  await page.waitForFunction(() => /created/.test(document.getElementById("upload-status").textContent));
  assert.match(await page.locator("#upload-status").textContent(), /table regional, 3 rows/);
  await page.locator('[data-dataset="sales"] [data-table="regional"]').waitFor();
  await screenshot(page, "12-datasets");

  await page.getByRole("button", { name: "Analyze" }).click();
  await page.getByLabel("Dataset", { exact: true }).selectOption("sales");
  await runCode(page, "sql", "SELECT region, SUM(amount) AS total FROM regional GROUP BY region ORDER BY region");
  await waitResult(page);
  assert.deepEqual(await tableCells(page), [["north", "107.75"], ["south", "20"]]);

  await page.getByRole("button", { name: "Datasets" }).click();
  await page.getByLabel("CSV file").setInputFiles({ name: "sales.csv", mimeType: "text/csv",
    buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Upload" }).click();
  const error = page.locator("#upload-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /sales/, "a name in use is refused, naming it");
  assertClean(page);
  await page.context().close();
});

test("a team's dataset is replaced, appended to and deleted from the page; the organisation's is not offered", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await page.getByRole("button", { name: "Datasets" }).click();
  await page.getByLabel("CSV file").setInputFiles({ name: "stock.csv", mimeType: "text/csv",
    buffer: Buffer.from("item,qty\nbolt,3\nnut,4\n") });
  await page.getByRole("button", { name: "Upload" }).click();
  const block = page.locator('[data-dataset="stock"]');
  await block.waitFor();
  assert.match(await block.locator(".dataset-owner").textContent(), /Version 1, team sales's/);
  assert.equal(await page.locator('[data-dataset="demo"] button[data-action]').count(), 0,
    "an analyst may not change the organisation's demo");
  const total = async () => (await server.api(server.keys.analyst, "POST", "/api/analyze", {
    language: "sql", dataset: "stock", code: "SELECT SUM(qty) AS n FROM stock" })).body.table.rows[0][0];

  await block.locator('input[data-action="replace"]').setInputFiles({ name: "v2.csv", mimeType: "text/csv",
    buffer: Buffer.from("item,qty\nbolt,30\nnut,40\n") });
  await page.waitForFunction(() => /Replaced: version 2/.test(
    document.querySelector('[data-dataset="stock"] .dataset-status')?.textContent || ""));
  assert.equal(await total(), 70);

  await block.locator('input[data-action="append"]').setInputFiles({ name: "more.csv", mimeType: "text/csv",
    buffer: Buffer.from("item,qty\nrod,5\n") });
  await page.waitForFunction(() => /Appended 1 rows: version 3, 3 rows/.test(
    document.querySelector('[data-dataset="stock"] .dataset-status')?.textContent || ""));
  assert.equal(await total(), 75);
  await block.locator('input[data-action="append"]').setInputFiles({ name: "bad.csv", mimeType: "text/csv",
    buffer: Buffer.from("item,qty\npin,many\n") });
  await page.waitForFunction(() => /line 2: many/i.test(
    document.querySelector('[data-dataset="stock"] .dataset-status')?.textContent || ""));
  assert.equal(await total(), 75, "a refused append changes nothing");
  await screenshot(page, "12c-dataset-versions");

  assert.equal(await block.locator('button[data-action="publish"]').count(), 0, "publishing is for admins");
  page.once("dialog", (d) => d.accept());
  await block.getByRole("button", { name: "Delete" }).click();
  await block.waitFor({ state: "detached" });
  const list = (await server.api(server.keys.analyst, "GET", "/api/datasets")).body.datasets;
  assert.equal(list.some((d) => d.name === "stock"), false);

  // An admin publishes a team's dataset; then every team reads it and its
  // former team no longer changes it.
  await page.getByLabel("CSV file").setInputFiles({ name: "rates.csv", mimeType: "text/csv",
    buffer: Buffer.from("currency,rate\nEUR,1.1\n") });
  await page.getByRole("button", { name: "Upload" }).click();
  const rates = page.locator('[data-dataset="rates"]');
  await rates.waitFor();
  const admin = await newPage(browser);
  await signIn(admin, server.keys.admin);
  await admin.getByRole("button", { name: "Datasets" }).click();
  await admin.locator('[data-dataset="rates"]').getByRole("button", { name: "Publish to the organisation" }).click();
  await admin.waitForFunction(() => /the organisation's/.test(
    document.querySelector('[data-dataset="rates"] .dataset-owner')?.textContent || ""));
  await admin.context().close();
  const listed = (await server.api(server.keys.frugal, "GET", "/api/datasets")).body.datasets;
  assert.equal(listed.find((d) => d.name === "rates").owner.team, null, "another team now reads it");
  await page.getByRole("button", { name: "Analyze" }).click();
  await page.getByRole("button", { name: "Datasets" }).click();
  await page.waitForFunction(() => /the organisation's/.test(
    document.querySelector('[data-dataset="rates"] .dataset-owner')?.textContent || ""));
  assert.equal(await rates.locator("button[data-action]").count(), 0);
  assertClean(page);
  await page.context().close();
});

test("an upload shows what each column became, and the choices settle what the file cannot", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await page.getByRole("button", { name: "Datasets" }).click();
  // A semicolon export with decimal commas, currencies, an accounting
  // negative and placeholders: its true total is 11239.56.
  const csv = "item;amount;paid;zip\n" +
    "a;1.234,56;31.12.2025;00123\n" +
    "b;$1234,56;N/A;04567\n" +
    "c;€12,00;01.02.2025;10001\n" +
    "d;12 USD;-;10002\n" +
    "e;(25,50);01.03.2025;10003\n" +
    "f;N/A;01.04.2025;10004\n" +
    "g;8.771,94 €;01.05.2025;10005\n";
  await page.getByLabel("CSV file").setInputFiles({ name: "exports.csv", mimeType: "text/csv",
    buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Upload" }).click();
  const decisions = page.locator("#upload-decisions");
  await decisions.waitFor({ state: "visible" });
  assert.match(await decisions.textContent(), /semicolon-separated, decimal mark ','/);
  const row = async (name) => decisions.locator(`tr[data-column="${name}"] td`).allTextContents();
  assert.deepEqual(await row("amount"), ["amount", "real",
    "number, thousands '.', decimal ',', currency $ € USD (mixed, not converted), negatives in parentheses",
    "1", "7",
    "warning: the values are in $ € USD, stored as written and not converted: a sum or average adds different currencies"]);
  assert.equal(await decisions.locator('tr[data-column="amount"] td.warn').count(), 1, "mixed currencies stand out");
  assert.deepEqual((await row("paid")).slice(0, 5), ["paid", "date",
    "date DD.MM.YYYY, stored as YYYY-MM-DD", "2", "3, 5"]);
  const zip = await row("zip");
  assert.equal(zip[1], "text");
  assert.match(zip[5], /"00123" \(line 2\) has a leading zero/);
  assert.equal(await decisions.locator('tr[data-column="zip"] td.warn').count(), 1, "a note stands out");
  const stored = (await server.api(server.keys.analyst, "POST", "/api/analyze", {
    language: "sql", dataset: "exports", code: "SELECT printf('%.2f', SUM(amount)) AS total FROM exports" })).body;
  assert.equal(stored.table.rows[0][0], "11239.56");
  await screenshot(page, "12b-upload-decisions");

  // A column that reads either way is refused by name; the decimal choice settles it.
  const either = "n,amount\n1,\"1,500\"\n2,\"2,250\"\n";
  await page.getByLabel("CSV file").setInputFiles({ name: "either.csv", mimeType: "text/csv",
    buffer: Buffer.from(either) });
  await page.getByRole("button", { name: "Upload" }).click();
  const error = page.locator("#upload-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /column "amount".*decimal=/i);
  assert.equal(await decisions.isHidden(), true, "no decisions for a refused upload");
  await page.getByLabel("Decimal mark").selectOption(".");
  await page.getByRole("button", { name: "Upload" }).click();
  await decisions.waitFor({ state: "visible" });
  assert.deepEqual((await row("amount")).slice(0, 3), ["amount", "integer", "number, thousands ','"]);
  assertClean(page);
  await page.context().close();
});

test("the page works by keyboard, labels every control, and fits a phone", async () => {
  const page = await newPage(browser, { width: 390, height: 844 });
  await page.goto(server.url + "/");
  await page.getByLabel("API key").waitFor();
  let reached = false;
  for (let i = 0; i < 5 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement && document.activeElement.id === "key");
  }
  assert.ok(reached, "Tab reaches the key field");
  await page.keyboard.type(server.keys.analyst);
  await page.keyboard.press("Enter");
  await page.locator("#view-analyze").waitFor({ state: "visible" });

  const unlabelled = await page.evaluate(() => Array.from(
    document.querySelectorAll("input, select, textarea, button"))
    .filter((e) => e.offsetParent !== null)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") &&
      !(e.tagName === "BUTTON" && e.textContent.trim()))
    .map((e) => e.id || e.outerHTML.slice(0, 60)));
  assert.deepEqual(unlabelled, [], "every visible control has a name");

  await page.getByLabel("Write code").check();
  await page.getByLabel("Language").selectOption("sql");
  await page.locator("#code").fill("SELECT COUNT(*) AS invoices FROM invoices");
  await page.locator("#code").focus();
  await page.keyboard.press("Control+Enter");
  await waitResult(page);
  assert.deepEqual(await tableCells(page), [[String(sqlite("SELECT COUNT(*) AS n FROM invoices")[0].n)]]);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width}px wide)`);
  await screenshot(page, "13-phone");
  assertClean(page);
  await page.context().close();
});

test("asking in English shows the code as the model writes it, its repair, and then a free cached answer", async () => {
  const question = "Invoiced total by status";
  const good = "SELECT status, ROUND(SUM(amount), 2) AS total FROM invoices GROUP BY status ORDER BY status;";
  const stub = await new LlmStub([
    "Here is the query:\n```sql\nSELECT status, SUM(amount_total) AS total FROM invoices GROUP BY status;\n```",
    "Fixed:\n```sql\n" + good + "\n```",
  ]).start();
  const llmServer = new Server();
  try {
    // A run fee past a cent beside LLM calls of a fraction of one: the
    // amounts shown must still add up to the total shown.
    await llmServer.start({ LEDGERBOX_LLM_URL: stub.url, LEDGERBOX_LLM_MODEL: "llama3.1",
      LEDGERBOX_PRICE_RUN: "0.015" });
    const page = await newPage(browser);
    await page.goto(llmServer.url + "/");
    await page.getByLabel("API key").fill(llmServer.keys.analyst);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#view-analyze").waitFor({ state: "visible" });
    await page.getByLabel("Ask in English").check();
    await page.getByLabel("Language").selectOption("sql");
    await page.getByLabel("Describe the analysis you want to run…").fill(question);
    await page.getByRole("button", { name: "Run Analysis" }).click();

    await page.waitForFunction(() => document.getElementById("live-code").textContent.includes("SELECT"));
    assert.ok(await page.locator("#result").isHidden(), "the code shows while the model writes it");
    await screenshot(page, "14-ask-writing");
    await waitResult(page);
    assert.match(await page.locator("#stages").textContent(), /Repairing the code after an error/);
    assert.equal(stub.calls.length, 2, "one call, then one repair");
    assert.match(JSON.stringify(stub.calls[1].messages), /amount_total/, "the repair saw the failed code");

    assert.equal(await page.locator("#result .banner").getAttribute("data-status"), "ok");
    assert.equal(await page.locator("#result-code").inputValue(), good);
    const expected = sqlite(good).map((r) => [r.status, String(r.total)]);
    assert.deepEqual(await tableCells(page), expected);
    const attempts = page.locator("#result .attempts > li");
    assert.equal(await attempts.count(), 2);
    assert.match(await attempts.nth(0).locator("summary").textContent(), /^Attempt 1: failed at validate/);
    assert.match(await page.locator("#result .cost-box").textContent(), /Model input/);
    // Every charge is listed: both LLM calls and the one run (SQL is
    // checked without a sandbox), adding up to the total shown.
    const charges = page.locator("#result .cost-by-component li");
    assert.deepEqual(await charges.evaluateAll((li) => li.map((x) => x.dataset.kind)), ["llm", "llm", "run"]);
    const micros = await charges.evaluateAll((li) => li.reduce((n, x) => n + Number(x.dataset.micros), 0));
    const total = await page.locator("#result dd[data-cost-total]").getAttribute("data-cost-total");
    assert.equal(micros, Math.round(Number(total) * 1e6));
    // What the analyst reads adds up too: each amount shown to the
    // micro-unit, as the API wrote it, never rounded to a cent.
    const shown = await charges.evaluateAll((li) => li.map((x) => x.textContent.match(/· ([0-9.]+) USD$/)[1]));
    const shownTotal = (await page.locator("#result dd[data-cost-total]").textContent()).replace(" USD", "");
    const toMicros = (t) => Number(t.split(".")[0]) * 1e6 + Number((t.split(".")[1] || "").padEnd(6, "0"));
    assert.equal(shown.reduce((n, t) => n + toMicros(t), 0), toMicros(shownTotal));
    assert.equal(toMicros(shownTotal), micros);
    await screenshot(page, "15-ask-repaired");

    await page.getByRole("button", { name: "Run Analysis" }).click();
    await page.waitForFunction(() => !document.getElementById("result").hidden &&
      document.querySelector("#result .badge-cache"));
    assert.equal(await page.locator("#result .badge-cache").textContent(), "Cached answer, free");
    assert.equal(stub.calls.length, 2, "the cached answer asked no model");
    assert.match(await page.locator('#result dd[data-cost-total]').getAttribute("data-cost-total"), /^0(\.0+)?$/);
    assert.deepEqual(await tableCells(page), expected);
    await screenshot(page, "16-ask-cached");
    assertClean(page, llmServer.url);
    await page.context().close();
  } finally {
    await llmServer.stop();
    await stub.stop();
  }
});

test("a full queue refuses a run with a plain message and when to try again", async () => {
  const busy = new Server();
  const blocker = new AbortController();
  try {
    await busy.start({ LEDGERBOX_MAX_RUNS: "1", LEDGERBOX_QUEUE_MAX: "0" });
    const long = fetch(busy.url + "/api/analyze", {
      method: "POST", signal: blocker.signal,
      headers: { Authorization: `Bearer ${busy.keys.admin}`, Accept: "text/event-stream" },
      body: JSON.stringify({ language: "python", code: "import time\nprint('busy', flush=True)\ntime.sleep(60)" }),
    });
    const resp = await long;
    const reader = resp.body.getReader();
    let seen = "";
    while (!seen.includes("busy")) seen += new TextDecoder().decode((await reader.read()).value);

    const page = await newPage(browser);
    await page.goto(busy.url + "/");
    await page.getByLabel("API key").fill(busy.keys.analyst);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#view-analyze").waitFor({ state: "visible" });
    await runCode(page, "sql", "SELECT 1");
    const error = page.locator("#form-error");
    await error.waitFor({ state: "visible" });
    assert.equal(await error.getAttribute("data-code"), "queue_full");
    assert.match(await error.textContent(), /Try again in \d+ s\.$/);
    await screenshot(page, "17-queue-full");
    assertClean(page, busy.url);
    await page.context().close();
  } finally {
    blocker.abort();
    await busy.stop();
  }
});

test("a run that hits a limit says which, in words, and cut output says so", async () => {
  const page = await newPage(browser);
  await signIn(page, server.keys.analyst);
  await runCode(page, "python", "block = bytearray(900 * 1024 * 1024)\nprint(len(block))\n");
  const id = await waitResult(page);
  const run = (await server.api(server.keys.analyst, "GET", `/api/runs/${id}`)).body;
  assert.equal(run.status, "memory_limit");
  const banner = page.locator("#result .banner");
  assert.equal(await banner.getAttribute("data-status"), "memory_limit");
  assert.equal(await banner.getAttribute("role"), "alert");
  assert.match(await banner.textContent(), /^Stopped: it needed more memory than its limit/);
  assert.ok(run.usage.limitsHit.length > 0);
  for (const limit of run.usage.limitsHit) assert.match(await banner.textContent(), new RegExp(limit));
  await screenshot(page, "18-limit-hit");

  await runCode(page, "python", "print('x' * (3 * 1024 * 1024))\n");
  const cut = await waitResult(page);
  assert.notEqual(cut, id, "the page shows the new run");
  const cutRun = (await server.api(server.keys.analyst, "GET", `/api/runs/${cut}`)).body;
  assert.equal(cutRun.status, "ok");
  assert.equal(cutRun.outputTruncated, true);
  assert.match(await page.locator("#result").textContent(), /Cut at the output limit\./);
  assertClean(page);
  await page.context().close();
});
