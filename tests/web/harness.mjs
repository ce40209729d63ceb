// harness: what the page's tests stand on: a real `ledgerbox serve` on a
// free loopback port with its own state and a copy of the demo dataset,
// API keys made with `ledgerbox keys create`, and Debian's chromium
// driven by playwright-core with the flags that keep it off the network.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, cpSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { chromium } from "playwright-core";

const env = process.env;
export const BIN = env.LEDGERBOX_BIN || "build/ledgerbox";
export const DEMO = env.LEDGERBOX_DEMO || "build/demo";
export const OUT = env.LEDGERBOX_WEB_OUT || "build/tests/web/output";
export const CHROMIUM = env.LEDGERBOX_CHROMIUM || "/usr/bin/chromium";

// Flags that stop chromium's own traffic (updates, sync, safe browsing,
// metrics), so the only requests are the page's. --no-sandbox because the
// tests run as root, where chromium's sandbox refuses to start.
const QUIET_FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
  "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
  "--disable-default-apps", "--disable-sync", "--disable-extensions", "--metrics-recording-only",
  "--disable-domain-reliability", "--disable-client-side-phishing-detection",
  "--disable-breakpad", "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  async start(extraEnv = {}) {
    this.dir = mkdtempSync(join(env.LEDGERBOX_TEST_TMP || tmpdir(), "page-"));
    this.state = join(this.dir, "state");
    this.data = join(this.dir, "data");
    mkdirSync(this.data, { recursive: true });
    cpSync(DEMO, join(this.data, "demo"), { recursive: true });
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.env = Object.assign({}, env, {
      LEDGERBOX_STATE_DIR: this.state,
      LEDGERBOX_DATA_DIR: this.data,
      LEDGERBOX_LISTEN: `127.0.0.1:${this.port}`,
      // Nothing listens there: asking in English gets the plain "no model" answer.
      LEDGERBOX_LLM_URL: "http://127.0.0.1:9",
      LEDGERBOX_LLM_RETRIES: "0",
    }, extraEnv);
    this.keys = {
      admin: this.key("ana", "finance", "admin"),
      analyst: this.key("bob", "sales", "analyst"),
      frugal: this.key("carol", "audit", "analyst"),
    };
    this.log = join(this.dir, "serve.log");
    writeFileSync(this.log, "");
    const { openSync } = await import("node:fs");
    const fd = openSync(this.log, "a");
    this.proc = spawn(BIN, ["serve"], { env: this.env, stdio: ["ignore", fd, fd] });
    for (let i = 0; i < 200; i++) {
      try {
        const r = await fetch(this.url + "/healthz");
        if (r.ok) return this;
      } catch (_) { /* not up yet */ }
      if (this.proc.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`ledgerbox serve did not start; see ${this.log}`);
  }

  key(user, team, role) {
    return execFileSync(BIN, ["keys", "create", "--user", user, "--team", team, "--role", role],
      { env: this.env, encoding: "utf8" }).trim();
  }

  async api(key, method, path, body) {
    const r = await fetch(this.url + path, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      await Promise.race([done, sleep(20000)]);
      if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: QUIET_FLAGS, headless: true });
}

// A fresh tab (own sessionStorage) that records every request leaving
// the page and every script error, so tests can assert there were none.
export async function newPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.requests = [];
  page.errors = [];
  page.on("request", (req) => page.requests.push(req.url()));
  page.on("pageerror", (err) => page.errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") page.errors.push(msg.text());
  });
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(join(OUT, "screenshots"), { recursive: true });
  await page.screenshot({ path: join(OUT, "screenshots", `${name}.png`), fullPage: true });
}

// The same question asked of the demo database with the sqlite3 program:
// the page's table is checked against it, not against itself.
export function sqlite(query) {
  const out = execFileSync("sqlite3", ["-readonly", "-json", join(DEMO, "ledger.sqlite"), query],
    { encoding: "utf8" });
  return out.trim() ? JSON.parse(out) : [];
}
