// bankrec dashboard: plain DOM, no framework. Text goes in with textContent only, never as
// HTML, so nothing a statement line says can run in the page.
"use strict";

const SESSION = "bankrec.session"; // sessionStorage: gone when the tab closes
let session = null;
let flowAbort = null;
let lastFlow = null;

// ---------------------------------------------------------------- small DOM helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function notice(text) { $("problem").textContent = ""; $("notice").textContent = text; }
function problem(text) { $("notice").textContent = ""; $("problem").textContent = text; }
function clearMessages() { $("notice").textContent = ""; $("problem").textContent = ""; }

function money(value, currency) {
  if (value === null || value === undefined) return "—";
  return currency ? `${value} ${currency}` : String(value);
}

function differenceCell(value, currency) {
  const zero = value !== null && Number(value) === 0; // display only; the services decide
  return el("td", { class: `num ${value === null ? "" : zero ? "zero" : "nonzero"}` },
    money(value, currency));
}

function statusBadge(status) {
  return el("span", { class: `status status-${status}` }, (status || "—").replace("_", " "));
}

// ---------------------------------------------------------------- the backend

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const response = await fetch(`/api/tenants/${encodeURIComponent(session.tenant)}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${session.key}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error || {};
    const detail = Array.isArray(answer.detail) ? answer.detail.map((d) => d.msg).join("; ") : "";
    throw new ApiError(response.status, error.code || "error",
      error.message || detail || `the dashboard answered ${response.status}`);
  }
  return answer;
}

async function act(what, action) {
  clearMessages();
  try {
    const result = await action();
    notice(what);
    return result;
  } catch (error) {
    if (error.status === 401) return logOut("The key was refused; log in again.");
    problem(`${error.message} (${error.code || "error"})`);
    return null;
  }
}

// ---------------------------------------------------------------- log-in

function logOut(message) {
  sessionStorage.removeItem(SESSION);
  session = null;
  if (flowAbort) flowAbort.abort();
  location.hash = "#/login";
  if (message) problem(message);
}

async function logIn(event) {
  event.preventDefault();
  const form = event.target;
  session = {
    tenant: form.tenant.value.trim(), key: form.key.value.trim(), actor: form.actor.value.trim(),
  };
  try {
    await api("GET", "/session");
  } catch (error) {
    session = null;
    problem(`Log-in refused: ${error.message}`);
    return;
  }
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  form.key.value = "";
  clearMessages();
  location.hash = "#/accounts";
}

// ---------------------------------------------------------------- views

async function showAccounts() {
  const answer = await api("GET", "/accounts");
  const body = $("accounts-table").tBodies[0];
  body.replaceChildren(...answer.accounts.map((a) => el("tr", { "data-account": a.account_id },
    el("th", { scope: "row" },
      el("a", { href: `#/period/${encodeURIComponent(a.account_id)}/current` },
        a.account_number_masked || a.account_id),
      el("br"), el("small", {}, a.account_id)),
    el("td", {}, a.period_no ?? "—"),
    el("td", {}, statusBadge(a.status)),
    el("td", { class: "num" }, money(a.statement_balance, a.currency)),
    el("td", { class: "num" }, money(a.reconciled_balance, a.currency)),
    differenceCell(a.difference, a.currency),
    el("td", {}, a.diagnosis.length
      ? el("ul", {}, a.diagnosis.map((f) => el("li", {}, f.message)))
      : "—"),
  )));
  if (!answer.accounts.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7 }, "No accounts yet: upload a statement.")));
  }
}

function allocationForm(line) {
  const formId = `alloc-${line.suspense_id}`;
  const listId = `${formId}-candidates`;
  const form = el("form", { class: "inline", "aria-label": `Allocate ${line.statement_line_id || line.suspense_id}` },
    el("label", { for: `${formId}-target` }, "Allocate to"),
    el("select", { id: `${formId}-target`, name: "target" },
      el("option", { value: "open_item" }, "an invoice or bill"),
      el("option", { value: "customer" }, "a customer (on account)"),
      el("option", { value: "supplier" }, "a supplier (on account)"),
      el("option", { value: "gl_account" }, "a GL account")),
    el("label", { for: `${formId}-id` }, "Invoice, customer, supplier or account"),
    el("input", { id: `${formId}-id`, name: "target_id", required: true, list: listId }),
    el("datalist", { id: listId }, line.candidates.map((c) => el("option", { value: c.item_id }))),
    el("label", { for: `${formId}-amount` }, `Amount (all ${line.remaining.amount} if empty)`),
    el("input", { id: `${formId}-amount`, name: "amount", inputmode: "decimal" }),
    el("label", { for: `${formId}-reason` }, "Reason"),
    el("input", { id: `${formId}-reason`, name: "reason", required: true }),
    el("button", { type: "submit" }, "Allocate"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      target: form.target.value, target_id: form.target_id.value.trim(),
      actor: session.actor, reason: form.reason.value.trim(),
    };
    if (form.amount.value.trim()) {
      body.amount = form.amount.value.trim();
      body.currency = line.remaining.currency;
    }
    const done = await act(`Allocated ${line.remaining.amount} ${line.remaining.currency} to ${body.target_id}.`,
      () => api("POST", `/suspense/${encodeURIComponent(line.suspense_id)}/allocations`, body));
    if (done) showSuspense().catch(showError);
  });
  return form;
}

function decisionBlock(decision) {
  if (!decision) return el("p", { class: "explanation" }, "The matcher no longer keeps this line's decision.");
  const proposals = decision.proposals || [];
  return el("div", {},
    el("p", { class: "explanation" },
      el("strong", {}, `${decision.kind} by ${decision.rule} (confidence ${decision.confidence}): `),
      decision.explanation),
    proposals.length ? el("details", {},
      el("summary", {}, `${proposals.length} proposal(s) from the matcher`),
      el("ul", {}, proposals.map((p) => el("li", {},
        `${p.item_id} — ${p.rule}, confidence ${p.confidence}`,
        p.evidence.length ? el("ul", {}, p.evidence.map((e) => el("li", {},
          `${e.field}: ${e.line_value ?? "—"} vs ${e.item_value ?? "—"}${e.note ? ` (${e.note})` : ""}`))) : null)))) : null,
    (decision.evidence || []).length ? el("details", {},
      el("summary", {}, "Evidence"),
      el("ul", {}, decision.evidence.map((e) => el("li", {},
        `${e.rule} · ${e.field}: ${e.line_value ?? "—"}${e.note ? ` (${e.note})` : ""}`)))) : null);
}

async function showSuspense() {
  const answer = await api("GET", "/suspense");
  const age = answer.age;
  $("suspense-summary").textContent = answer.lines.length
    ? `${age.lines} line(s) waiting; oldest ${age.oldest_days} day(s), mean ${age.mean_days} day(s).`
    : "Nothing waits: every line is matched or allocated.";
  $("suspense-list").replaceChildren(...answer.lines.map((line) => el("li", {
    class: "card", "data-suspense": line.suspense_id, "data-line": line.statement_line_id || "",
  },
    el("h3", {}, `${line.remaining.amount} ${line.remaining.currency} left of ${line.amount.amount}`),
    el("p", { class: "meta" },
      `Line ${line.statement_line_id || "—"} · posted ${line.posting_date} · waiting ${line.age_days} day(s) · ${line.status.replace("_", " ")}`),
    decisionBlock(line.decision),
    line.candidates.length ? el("div", {},
      el("p", {}, "Candidates (open items, nearest amount first):"),
      el("ul", {}, line.candidates.map((c) => el("li", {},
        `${c.item_id} ${c.counterparty_name || ""} — ${c.remaining.amount} ${c.remaining.currency}${c.exact_amount ? " (same amount)" : ""} `,
        el("button", {
          type: "button", class: "secondary",
          onclick: () => {
            const card = document.querySelector(`[data-suspense="${CSS.escape(line.suspense_id)}"]`);
            card.querySelector("select").value = "open_item";
            card.querySelector("input[name=target_id]").value = c.item_id;
            card.querySelector("input[name=reason]").focus();
          },
        }, `Choose ${c.item_id}`))))) : el("p", {}, "No open item in this currency and direction."),
    allocationForm(line))));
}

function itemsTable(table, items, period) {
  table.tHead.replaceChildren(el("tr", {},
    ["Kind", "Id", "Date", "Amount", "Text", ""].map((h, i) => el("th", { scope: "col", class: i === 3 ? "num" : null }, h))));
  table.tBodies[0].replaceChildren(...items.map((item) => el("tr", { "data-item": item.item_id },
    el("td", {}, item.kind.replace("_", " ")),
    el("td", {}, item.item_id),
    el("td", {}, item.date || "—"),
    el("td", { class: "num" }, money(item.amount, item.currency)),
    el("td", {}, [item.counterparty, item.text].filter(Boolean).join(" · ") || "—"),
    el("td", {}, item.kind === "statement_line" && item.reconciled && !period.sequence_no
      ? el("button", {
        type: "button", class: "secondary",
        onclick: async () => {
          const reason = prompt(`Why remove the match of line ${item.item_id}?`);
          if (!reason) return;
          const done = await act(`Removed the match of ${item.item_id}; its amount waits in suspense.`,
            () => api("POST", "/unmatch", { line_id: item.item_id, actor: session.actor, reason }));
          if (done) route();
        },
      }, "Remove match") : ""),
  )));
  if (!items.length) table.tBodies[0].replaceChildren(el("tr", {}, el("td", { colspan: 6 }, "None.")));
}

let currentPeriod = null;

async function showPeriod(accountId, period) {
  const answer = await api("GET", `/accounts/${encodeURIComponent(accountId)}/periods/${encodeURIComponent(period)}`);
  const p = answer.period;
  currentPeriod = { accountId, period: String(p.period_no), view: p };
  $("period-title").textContent = `Period ${p.period_no} of ${accountId}`;
  const figures = [
    ["Status", statusBadge(p.status)],
    ["Sequence no.", p.sequence_no ?? "—"],
    ["Opening balance", money(p.opening_balance, p.currency)],
    ["Statement balance", money(p.statement_balance, p.currency)],
    ["Reconciled balance", money(p.reconciled_balance, p.currency)],
    ["Difference", money(p.difference, p.currency)],
    ["Lines reconciled", `${p.reconciled} of ${p.lines}`],
    ["Outstanding", String(p.outstanding + p.entries_outstanding)],
  ];
  $("period-figures").replaceChildren(...figures.map(([name, value]) => el("div", {},
    el("dt", {}, name), el("dd", { "data-figure": name }, value))));
  $("period-blockers").replaceChildren(p.release_blockers.length
    ? el("div", {}, el("p", {}, "Release is blocked:"),
      el("ul", { id: "release-blockers" }, p.release_blockers.map((b) => el("li", {}, b.message))))
    : el("p", {}, p.status === "released" ? "Released." : "Nothing blocks the release."));
  $("period-diagnosis").replaceChildren(...(p.diagnosis.length
    ? p.diagnosis.map((f) => el("li", {}, el("strong", {}, f.message), f.suggestion ? ` — ${f.suggestion}` : ""))
    : [el("li", {}, "Nothing is off.")]));
  itemsTable($("reconciled-items"), answer.reconciled_items, p);
  itemsTable($("outstanding-items"), answer.outstanding_items, p);
  $("adjustments").tBodies[0].replaceChildren(...(p.adjustments.length ? p.adjustments.map((a) => el("tr", { "data-adjustment": a.adjustment_id },
    el("td", {}, a.adjustment_id), el("td", {}, a.kind.replace("_", " ")),
    el("td", { class: "num" }, money(a.amount, a.currency)), el("td", {}, a.state), el("td", {}, a.reason)))
    : [el("tr", {}, el("td", { colspan: 5 }, "None."))]));
  const released = p.status === "released";
  $("release-button").disabled = !p.can_release;
  $("adjustment-form").hidden = released;
  $("void-form").hidden = !released;
  $("history").tBodies[0].replaceChildren(...answer.history.map((h) => el("tr", {},
    el("td", {}, h.period_no), el("td", {}, statusBadge(h.status)), el("td", {}, h.sequence_no ?? "—"),
    el("td", { class: "num" }, money(h.closing_balance, p.currency)),
    el("td", {}, h.released_by || "—"), el("td", {}, h.void_reason || "—"))));
}

// ---------------------------------------------------------------- live flow (SSE over fetch:
// EventSource cannot send the key header, and the key must not go into a URL)

async function followFlow() {
  if (flowAbort) flowAbort.abort();
  flowAbort = new AbortController();
  const response = await fetch(`/api/tenants/${encodeURIComponent(session.tenant)}/flow/stream`, {
    headers: { authorization: `Bearer ${session.key}`, accept: "text/event-stream" },
    signal: flowAbort.signal,
  });
  if (!response.ok) throw new ApiError(response.status, "flow", "the live flow was refused");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
      if (data) renderFlow(JSON.parse(data));
    }
  }
}

function percent(rate) { return rate === null ? "—" : `${(Number(rate) * 100).toFixed(1)} %`; }

function renderFlow(flow) {
  lastFlow = flow;
  $("flow-updated").textContent = `updated ${new Date(flow.at).toLocaleTimeString()}${flow.following ? "" : " (not reading the topics)"}`;
  const figures = [
    ["Lines per minute", flow.lines_per_minute, "lines-per-minute"],
    ["Lines this minute", flow.lines_last_minute, "lines-this-minute"],
    ["Auto-match rate", percent(flow.auto_match_rate), "auto-match-rate"],
    ["Dead letters (yours)", flow.dead_letters, "dead-letters"],
    ["Dead letters (all tenants)", flow.dead_letters_all_tenants, "dead-letters-all"],
  ];
  $("flow-figures").replaceChildren(...figures.map(([name, value, key]) => el("div", {},
    el("dt", {}, `${name} (${flow.window_minutes} min)`), el("dd", { "data-flow": key }, String(value)))));
  $("flow-decisions").tBodies[0].replaceChildren(...Object.entries(flow.decisions_by_kind).map(([kind, count]) =>
    el("tr", { "data-kind": kind }, el("th", { scope: "row" }, kind.replace("_", " ")), el("td", { class: "num" }, count))));
  $("flow-lag").tBodies[0].replaceChildren(...(flow.consumer_lag.length ? flow.consumer_lag.map((s) =>
    el("tr", { "data-service": s.service }, el("th", { scope: "row" }, s.service), el("td", { class: "num" }, s.lag)))
    : [el("tr", {}, el("td", { colspan: 2 }, "Not read yet."))]));
  drawChart($("rate-chart"), "rate-chart-title",
    [flow.minutes.filter((m) => m.auto_match_rate !== null).map((m) => [Date.parse(m.minute), Number(m.auto_match_rate) * 100])],
    { yMax: 100, unit: "%" });
  drawChart($("age-chart"), "age-chart-title", [
    flow.suspense_age.filter((s) => s.oldest_days !== null).map((s) => [Date.parse(s.at), s.oldest_days]),
    flow.suspense_age.filter((s) => s.mean_days !== null).map((s) => [Date.parse(s.at), Number(s.mean_days)]),
  ], { unit: "d" });
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// A line chart in inline SVG: time on x, value on y; one path per series.
function drawChart(container, labelId, series, { yMax, unit }) {
  const width = 640, height = 180, left = 40, right = 10, top = 10, bottom = 22;
  const points = series.flat();
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": labelId, preserveAspectRatio: "none" });
  chart.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  chart.append(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
  if (!points.length) {
    chart.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "No data yet"));
    container.replaceChildren(chart);
    return;
  }
  const xs = points.map((p) => p[0]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 60_000);
  const top_ = yMax ?? Math.max(1, ...points.map((p) => p[1]));
  const x = (t) => left + ((t - x0) / (x1 - x0)) * (width - left - right);
  const y = (v) => height - bottom - (v / top_) * (height - top - bottom);
  chart.append(svg("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, `${top_}${unit}`));
  chart.append(svg("text", { x: left - 4, y: height - bottom, "text-anchor": "end" }, `0${unit}`));
  chart.append(svg("text", { x: left, y: height - 6 }, new Date(x0).toLocaleTimeString()));
  chart.append(svg("text", { x: width - right, y: height - 6, "text-anchor": "end" }, new Date(x1).toLocaleTimeString()));
  series.forEach((values, index) => {
    if (!values.length) return;
    const d = values.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    chart.append(svg("path", { class: index ? "series-b" : "series-a", d }));
    if (values.length === 1) chart.append(svg("circle", { cx: x(values[0][0]), cy: y(values[0][1]), r: 3 }));
  });
  container.replaceChildren(chart);
}

// ---------------------------------------------------------------- routing

function showError(error) {
  if (error.name === "AbortError") return;
  if (error.status === 401) { logOut("The key was refused; log in again."); return; }
  problem(`${error.message}${error.code ? ` (${error.code})` : ""}`);
}

function showView(id) {
  for (const view of document.querySelectorAll("main > section")) view.hidden = view.id !== id;
  for (const link of document.querySelectorAll("nav a")) {
    if (location.hash.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (!session) {
    $("nav").hidden = true;
    showView("login-view");
    return;
  }
  $("nav").hidden = false;
  $("who").textContent = `${session.actor} · tenant ${session.tenant}`;
  const view = parts[0] || "accounts";
  if (view !== "flow" && flowAbort) { flowAbort.abort(); flowAbort = null; }
  document.body.dataset.loading = "true";
  try {
    if (view === "suspense") { showView("suspense-view"); await showSuspense(); }
    else if (view === "period") { showView("period-view"); await showPeriod(parts[1], parts[2] || "current"); }
    else if (view === "flow") {
      showView("flow-view");
      if (lastFlow) renderFlow(lastFlow);
      followFlow().catch(showError);
    } else { showView("accounts-view"); await showAccounts(); }
  } catch (error) {
    showError(error);
  } finally {
    delete document.body.dataset.loading;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", () => logOut());
  $("adjustment-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const { accountId, period, view } = currentPeriod;
    const body = {
      kind: form.kind.value, amount: form.amount.value.trim(), currency: view.currency,
      actor: session.actor, reason: form.reason.value.trim(),
    };
    if (form.description.value.trim()) body.description = form.description.value.trim();
    const done = await act(`Adjustment of ${body.amount} ${view.currency} requested; the ledger posts it.`,
      () => api("POST", `/accounts/${encodeURIComponent(accountId)}/periods/${period}/adjustments`, body));
    if (done) { form.reset(); await showPeriod(accountId, period).catch(showError); }
  });
  $("release-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { accountId, period } = currentPeriod;
    const done = await act(`Period ${period} released.`,
      () => api("POST", `/accounts/${encodeURIComponent(accountId)}/periods/${period}/release`, { actor: session.actor }));
    if (done) await showPeriod(accountId, period).catch(showError);
  });
  $("void-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { accountId, period } = currentPeriod;
    const reason = event.target.reason.value.trim();
    const done = await act(`Period ${period} voided.`,
      () => api("POST", `/accounts/${encodeURIComponent(accountId)}/periods/${period}/void`, { actor: session.actor, reason }));
    if (done) { event.target.reset(); await showPeriod(accountId, period).catch(showError); }
  });
  window.addEventListener("hashchange", () => { clearMessages(); route(); $("main").focus(); });
  route();
});
