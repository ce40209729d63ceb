// meter: one budget as a bar: spent, held for runs in progress, the soft
// mark (a warning) and the hard mark (runs refused past it), with the
// same facts in words for screen readers and small screens.

import { el, money } from "./format.js";

const SCOPE_NAMES = { org: "Organisation", team: "Team", user: "You", session: "This session" };

export function scopeLabel(scope, me) {
  const [kind, ...rest] = scope.split(":");
  const name = rest.join(":");
  if (kind === "user" && me && name !== me.user) return `User ${name}`;
  if (kind === "team" || (kind === "user" && (!me || name !== me.user))) return `${SCOPE_NAMES[kind] || kind} ${name}`;
  return SCOPE_NAMES[kind] || scope;
}

export function renderMeter(b, currency, me) {
  const limit = Math.max(b.limitMicros || 0, 1);
  const spent = b.spentMicros || 0;
  const reserved = b.reservedMicros || 0;
  const pct = (x) => Math.min(100, (100 * x) / limit);
  const used = pct(spent + reserved);
  const level = spent + reserved >= limit ? "over" : used >= b.softPercent ? "soft" : "fine";
  const words = `${money(b.spent, currency)} spent and ${money(b.reserved, currency)} held of ` +
    `${money(b.limit, currency)}; ${money(b.remaining, currency)} left. Warns at ${b.softPercent}%` +
    (b.hard ? "; runs are refused past the limit." : "; the limit only warns.");
  const resets = b.period && b.period !== "none" && b.periodEnd ? `Resets ${new Date(b.periodEnd).toLocaleDateString(undefined, { timeZone: "UTC", dateStyle: "medium" })} (UTC).` : "";
  return el("div", { class: `meter meter-${level}`, "data-scope": b.scope },
    el("div", { class: "meter-head" },
      el("strong", {}, scopeLabel(b.scope, me)),
      el("span", {}, `${money(b.remaining, currency)} left`)),
    el("div", {
      class: "meter-bar", role: "meter", "aria-label": `${scopeLabel(b.scope, me)} budget used`,
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": used.toFixed(0),
      "aria-valuetext": words,
    },
    el("span", { class: "meter-spent", style: { width: `${pct(spent)}%` } }),
    el("span", { class: "meter-reserved", style: { left: `${pct(spent)}%`, width: `${pct(reserved)}%` } }),
    el("span", { class: "meter-soft", style: { left: `${b.softPercent}%` }, title: `warns at ${b.softPercent}%` }),
    el("span", { class: b.hard ? "meter-hard" : "meter-limit", title: b.hard ? "hard limit" : "soft limit" })),
    el("p", { class: "meter-words" }, words, resets ? " " + resets : ""));
}
