// console.js: the Quiver web console. Plain JavaScript, no build step, no CDN.
// Everything the server sends is rendered with textContent (never innerHTML), and
// every POST carries the session's CSRF token in X-Quiver-CSRF.
"use strict";

// ---- state and API ---------------------------------------------------------------

const state = {
  session: null,      // the answer of GET /api/session
  sql: "",            // the SQL editor's text, kept across page changes
  result: null,       // the last JSON query result
  timer: null,        // the status page's refresh timer
  after: null,        // the route to return to after logging in
  seq: 0,             // bumped on every route change; stale answers are dropped
};

// ApiError is a failed /api call: HTTP status plus the server's code and message.
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api calls the server and returns the parsed JSON (or the Response when raw is set).
async function api(path, { method = "GET", body, accept = "application/json", raw = false } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.session && state.session.csrf_token) {
    headers["X-Quiver-CSRF"] = state.session.csrf_token;
  }
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    let code = "HTTP " + resp.status, message = resp.statusText || "request failed";
    try {
      const e = (await resp.json()).error;
      if (e) { code = e.code || code; message = e.message || message; }
    } catch (_) { /* not a JSON error body */ }
    if (resp.status === 401 && path !== "/api/login" && state.session && state.session.auth_required) {
      // The session ended (expired, or the server restarted): log in again, then
      // come back here.
      state.session.user = null;
      state.session.csrf_token = null;
      state.after = location.hash;
      updateHeader();
      location.hash = "#/login";
    }
    throw new ApiError(resp.status, code, message);
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  return resp.json();
}

// ---- DOM helpers -------------------------------------------------------------------

// el builds an element. attrs may hold "class", "dataset" (an object), "on" (event
// name to handler) and plain attributes; children are nodes or strings (as text).
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) n.addEventListener(ev, fn);
    else if (k === "value") n.value = v;
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return n;
}

function showError(err) {
  const box = document.getElementById("error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err.message || err);
  box.hidden = false;
}

// view replaces the main area with a new page and returns the route's sequence
// number; async work compares it with state.seq before touching the page.
function view(name, ...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
  main.dataset.view = name;
  delete main.dataset.ready;
  return state.seq;
}

// facts renders label/value pairs as a row of tiles (a <dl> of <div>s).
function facts(id, pairs) {
  return el("dl", { id, class: "tiles" }, pairs.map(([k, v]) =>
    el("div", { class: "tile" }, el("dt", {}, k), el("dd", { dataset: { key: k } }, v))));
}

function ready() { document.getElementById("main").dataset.ready = "true"; }

function fmtBytes(n) {
  n = Number(n);
  if (!Number.isFinite(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}

function fmtCount(n) {
  const v = Number(n);
  return Number.isSafeInteger(v) ? v.toLocaleString("en-US") : String(n);
}

function fmtTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso || "");
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}

function fmtDuration(sec) {
  sec = Math.floor(Number(sec) || 0);
  const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + s + "s";
}

// cell renders one JSON value of a result as text; null is marked, nested values
// are shown as JSON. Numeric columns align right, also where a value comes as a string
// (integers past 2^53, decimals).
function cell(v, numeric) {
  if (v === null || v === undefined) return el("td", { class: "null" }, "NULL");
  if (typeof v === "object") return el("td", { class: "nested" }, JSON.stringify(v));
  return el("td", { class: numeric || typeof v === "number" ? "num" : undefined }, String(v));
}

// resultTable renders columns [{name, type}] and rows [[...]] as a table.
function resultTable(id, columns, rows) {
  const numeric = columns.map((c) => isNumericType(c.type));
  return el("div", { class: "scroll fit" },
    el("table", { id, class: "grid-table" },
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", { title: c.type }, c.name, el("span", { class: "type" }, c.type))))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((v, i) => cell(v, numeric[i])))))));
}

function isNumericType(t) {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL|NUMERIC|INT\d*|UINT\d*|FLOAT\d*)\b/i.test(String(t || ""));
}

// ---- routing ----------------------------------------------------------------------

// route reads location.hash: "#/datasets/NAME?x=1" -> {parts: ["datasets", "NAME"], query}.
function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const q = h.indexOf("?");
  const path = q < 0 ? h : h.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : h.slice(q + 1));
  const parts = path.split("/").filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
  return { parts, query };
}

async function route() {
  state.seq++;
  if (state.timer) { clearInterval(state.timer); state.timer = null; }
  showError(null);
  const s = state.session;
  const { parts, query } = parseHash();
  const needLogin = s && s.auth_required && !s.user;
  document.getElementById("nav").hidden = !!needLogin;
  if (needLogin && parts[0] !== "login") {
    state.after = location.hash;
    location.replace("#/login");
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.route === (parts[0] || "datasets"));
  }
  try {
    switch (parts[0] || "datasets") {
      case "login": return needLogin ? renderLogin() : location.replace("#/datasets");
      case "datasets": return parts.length > 1 ? await renderDataset(parts[1], Number(query.get("offset")) || 0) : await renderDatasets(query.get("filter") || "");
      case "sql": return renderSQL(query.get("q"));
      case "status": return await renderStatus();
      default: location.replace("#/datasets");
    }
  } catch (err) {
    showError(err);
    document.getElementById("main").replaceChildren(
      el("p", { class: "muted" }, "This page could not be loaded. ", el("a", { href: "#/datasets" }, "Back to the datasets")));
    ready();
  }
}

function updateHeader() {
  const s = state.session;
  document.getElementById("version").textContent = s && s.version ? s.version : "";
  const who = document.getElementById("whoami");
  who.textContent = s && s.user ? s.user : (s && !s.auth_required ? "no login required" : "");
  document.getElementById("logout").hidden = !(s && s.auth_required && s.user);
}

// ---- login ------------------------------------------------------------------------

function renderLogin() {
  const user = el("input", { id: "login-user", name: "user", autocomplete: "username", required: true, autofocus: true });
  const pass = el("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const msg = el("p", { id: "login-error", class: "form-error", role: "alert", hidden: true });
  const button = el("button", { id: "login-submit", type: "submit" }, "Log in");
  const form = el("form", { id: "login-form", class: "card login", on: { submit: async (e) => {
    e.preventDefault();
    msg.hidden = true;
    button.disabled = true;
    try {
      const r = await api("/api/login", { method: "POST", body: { user: user.value, password: pass.value } });
      state.session.user = r.user;
      state.session.csrf_token = r.csrf_token;
      updateHeader();
      const after = state.after && !state.after.startsWith("#/login") ? state.after : "#/datasets";
      state.after = null;
      location.hash = after;
    } catch (err) {
      msg.textContent = err.status === 401 ? "Wrong user name or password." : `${err.code || "Error"}: ${err.message}`;
      msg.hidden = false;
      pass.value = "";
      pass.focus();
    } finally {
      button.disabled = false;
    }
  } } },
  el("h1", {}, "Log in to Quiver"),
  el("label", { for: "login-user" }, "User"), user,
  el("label", { for: "login-password" }, "Password"), pass,
  msg, button);
  view("login", form);
  user.focus();
  ready();
}

async function logout() {
  try { await api("/api/logout", { method: "POST" }); } catch (err) { showError(err); }
  await loadSession();
  location.hash = "#/login"; // hashchange routes to the login form
}

// ---- datasets list ----------------------------------------------------------------

// The datasets table's columns: header, the field it sorts by, how a cell shows.
const DATASET_COLUMNS = [
  { label: "Name", key: "name", show: (d) => el("a", { href: "#/datasets/" + encodeURIComponent(d.name) }, d.name) },
  { label: "Rows", key: "rows", num: true, show: (d) => fmtCount(d.rows) },
  { label: "Size", key: "bytes", num: true, show: (d) => fmtBytes(d.bytes) },
  { label: "Columns", key: "columns", num: true, show: (d) => fmtCount(d.columns) },
  { label: "Parts", key: "parts", num: true, show: (d) => fmtCount(d.parts) },
  { label: "Modified", key: "modified", show: (d) => fmtTime(d.modified) },
];

async function renderDatasets(filterText) {
  const filter = el("input", { id: "filter", type: "search", placeholder: "Filter by name", value: filterText, "aria-label": "Filter datasets" });
  const count = el("span", { id: "dataset-count", class: "muted" });
  const tbody = el("tbody");
  const sort = { key: "name", dir: 1 };
  const heads = DATASET_COLUMNS.map((c) => el("th", { class: c.num ? "num" : undefined },
    el("button", { type: "button", class: "sort", dataset: { key: c.key }, on: { click: () => {
      sort.dir = sort.key === c.key ? -sort.dir : (c.num || c.key === "modified" ? -1 : 1);
      sort.key = c.key;
      apply();
    } } }, c.label)));
  const seq = view("datasets",
    el("div", { class: "toolbar" }, el("h1", {}, "Datasets"), filter, count),
    el("div", { class: "scroll" }, el("table", { id: "datasets-table", class: "grid-table" },
      el("thead", {}, el("tr", {}, heads)), tbody)));
  const { datasets } = await api("/api/datasets");
  if (seq !== state.seq) return;
  const value = (d) => (sort.key === "name" || sort.key === "modified" ? String(d[sort.key] || "") : Number(d[sort.key]) || 0);
  function apply() {
    const f = filter.value.trim().toLowerCase();
    const shown = datasets.filter((d) => d.name.toLowerCase().includes(f) || String(d.table || "").toLowerCase().includes(f));
    shown.sort((a, b) => {
      const x = value(a), y = value(b);
      return sort.dir * (typeof x === "number" ? x - y : x.localeCompare(y)) || a.name.localeCompare(b.name);
    });
    heads.forEach((th, i) => th.setAttribute("aria-sort", DATASET_COLUMNS[i].key !== sort.key ? "none" : sort.dir > 0 ? "ascending" : "descending"));
    tbody.replaceChildren(...shown.map((d) => el("tr", { dataset: { name: d.name } },
      DATASET_COLUMNS.map((c) => el("td", { class: c.num ? "num" : undefined }, c.show(d))))));
    if (datasets.length === 0) tbody.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No datasets yet.")));
    else if (shown.length === 0) tbody.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No dataset matches the filter.")));
    count.textContent = `${shown.length} of ${datasets.length}`;
    history.replaceState(null, "", "#/datasets" + (filter.value ? "?filter=" + encodeURIComponent(filter.value) : ""));
  }
  filter.addEventListener("input", apply);
  apply();
  ready();
}

// ---- one dataset ------------------------------------------------------------------

const PAGE = 50;

function quoteIdent(name) { return '"' + String(name).replace(/"/g, '""') + '"'; }

async function renderDataset(name, offset) {
  const seq = view("dataset", el("p", { class: "muted" }, "Loading " + name + "…"));
  const [d, page] = await Promise.all([
    api("/api/datasets/" + encodeURIComponent(name)),
    api(`/api/datasets/${encodeURIComponent(name)}/rows?offset=${offset}&limit=${PAGE}`),
  ]);
  if (seq !== state.seq) return;
  const stats = new Map((d.stats || []).map((s) => [s.column, s]));
  const show = (v) => (v === null || v === undefined ? el("span", { class: "null" }, "—") : String(v));
  // Nulls, min and max come from the Parquet footers; "—" where they do not record them.
  const footer = (v) => (v === null || v === undefined ? el("span", { class: "null", title: "not recorded in the Parquet footers" }, "—") : String(v));
  // The distinct estimate reads a bounded sample of the first rows.
  const sampleNote = (s) => (s.distinct_sample_rows != null && Number(s.distinct_sample_rows) < Number(d.rows)
    ? `estimated over the first ${fmtCount(s.distinct_sample_rows)} rows` : undefined);
  const querySQL = `SELECT * FROM ${quoteIdent(d.table || d.name)} LIMIT 100`;
  const total = Number(page.total);
  const last = Math.min(offset + page.rows.length, total);
  const pageLink = (o, label, id) => el("a", { id, class: "button ghost" + (o === null ? " disabled" : ""),
    href: o === null ? undefined : `#/datasets/${encodeURIComponent(name)}?offset=${o}`, "aria-disabled": o === null ? "true" : undefined }, label);
  view("dataset",
    el("p", { class: "crumbs" }, el("a", { href: "#/datasets" }, "Datasets"), " / "),
    el("div", { class: "toolbar" }, el("h1", { id: "dataset-name" }, d.name),
      el("a", { class: "button", id: "query-dataset", href: "#/sql?q=" + encodeURIComponent(querySQL) }, "Query in SQL")),
    facts("dataset-facts", [["Rows", fmtCount(d.rows)], ["Size", fmtBytes(d.bytes)], ["Columns", fmtCount((d.schema || []).length)],
      ["Parts", fmtCount(d.parts)], ["Modified", fmtTime(d.modified)], ["SQL table", el("code", {}, d.table || d.name)]]),
    el("h2", {}, "Schema and statistics"),
    el("div", { class: "scroll fit" }, el("table", { id: "schema-table", class: "grid-table" },
      el("thead", {}, el("tr", {}, ["Column", "Type", "Nullable", "Nulls", "Min", "Max", "Distinct (est.)"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (d.schema || []).map((c) => {
        const s = stats.get(c.name) || {};
        return el("tr", { dataset: { column: c.name } },
          el("td", {}, c.name), el("td", {}, el("code", {}, c.type)), el("td", {}, c.nullable ? "yes" : "no"),
          el("td", { class: "num" }, footer(s.nulls)), el("td", {}, footer(s.min)), el("td", {}, footer(s.max)),
          el("td", { class: "num", title: sampleNote(s) }, show(s.distinct_estimate)));
      })))),
    el("div", { class: "toolbar" }, el("h2", {}, "Rows"),
      el("span", { id: "rows-range", class: "muted" }, total === 0 ? "no rows" : page.rows.length === 0 ? `no rows from ${fmtCount(offset + 1)} (of ${fmtCount(total)})` : `${fmtCount(offset + 1)}–${fmtCount(last)} of ${fmtCount(total)}`),
      pageLink(offset > 0 ? Math.max(0, offset - PAGE) : null, "‹ Previous", "rows-prev"),
      pageLink(last < total ? offset + PAGE : null, "Next ›", "rows-next")),
    resultTable("rows-table", page.columns, page.rows));
  ready();
}

// ---- SQL ----------------------------------------------------------------------------

const DOWNLOADS = [
  { label: "CSV", accept: "text/csv", ext: "csv" },
  { label: "Parquet", accept: "application/vnd.apache.parquet", ext: "parquet" },
  { label: "Arrow", accept: "application/vnd.apache.arrow.stream", ext: "arrows" },
];

function renderSQL(fromLink) {
  if (fromLink) {
    // A link's query fills the editor once; the address then drops it, so that a
    // reload keeps the user's edits rather than the link's text.
    state.sql = fromLink;
    history.replaceState(null, "", "#/sql");
  }
  const editor = el("textarea", { id: "sql-editor", spellcheck: "false", rows: 8, "aria-label": "SQL",
    placeholder: "SELECT * FROM my_dataset LIMIT 10" });
  editor.value = state.sql;
  const limit = el("select", { id: "sql-limit", "aria-label": "Row limit" },
    [100, 1000, 10000].map((n) => el("option", { value: n, selected: n === 1000 }, `${n.toLocaleString("en-US")} rows`)));
  const run = el("button", { id: "run", type: "button", title: "Ctrl+Enter" }, "Run");
  const out = el("div", { id: "result" });
  const go = () => runQuery(editor.value, Number(limit.value), out, run);
  run.addEventListener("click", go);
  editor.addEventListener("input", () => { state.sql = editor.value; });
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); go(); }
  });
  const tables = el("p", { id: "sql-tables", class: "chips" });
  const seq = view("sql",
    el("div", { class: "toolbar" }, el("h1", {}, "SQL"), tables),
    editor,
    el("div", { class: "toolbar" }, run, limit,
      el("span", { class: "muted" }, el("kbd", {}, "Ctrl"), "+", el("kbd", {}, "Enter"), " runs the query. Reads only, with the same sandbox and grants as Flight SQL.")),
    out);
  // The tables the user may read, as shortcuts that fill the editor.
  api("/api/datasets").then(({ datasets }) => {
    if (seq !== state.seq || datasets.length === 0) return;
    tables.append("Tables:", ...datasets.map((d) => d.table || d.name).sort().map((t) =>
      el("button", { type: "button", class: "chip", title: "SELECT * FROM " + t, on: { click: () => {
        editor.value = state.sql = `SELECT * FROM ${quoteIdent(t)} LIMIT 100`;
        editor.focus();
      } } }, t)));
  }, () => { /* the list is a convenience; the editor works without it */ });
  if (state.result && state.result.sql === editor.value) showResult(state.result, out);
  editor.focus();
  ready();
}

async function runQuery(sql, limit, out, button) {
  if (!sql.trim()) return;
  state.sql = sql;
  showError(null);
  button.disabled = true;
  button.textContent = "Running…";
  document.getElementById("main").dataset.ready = "running";
  const seq = state.seq;
  try {
    const r = await api("/api/query", { method: "POST", body: { sql, limit } });
    r.sql = sql;
    state.result = r;
    if (seq === state.seq) showResult(r, out);
  } catch (err) {
    if (seq === state.seq) {
      out.replaceChildren(el("p", { id: "query-error", class: "form-error" }, `${err.code || "Error"}: ${err.message}`));
    }
  } finally {
    button.disabled = false;
    button.textContent = "Run";
    if (seq === state.seq) ready();
  }
}

function showResult(r, out) {
  const meta = el("p", { id: "result-meta", class: "meta" },
    el("strong", { id: "row-count" }, fmtCount(r.row_count)), r.row_count === 1 ? " row" : " rows",
    ` in ${Number(r.elapsed_ms).toLocaleString("en-US", { maximumFractionDigits: 1 })} ms`,
    r.truncated ? el("span", { id: "truncated", class: "warn" }, " — more rows not shown; the downloads hold the whole result") : null);
  const downloads = el("span", { class: "downloads" }, "Download:",
    DOWNLOADS.map((f) => el("button", { type: "button", class: "ghost", id: "download-" + f.ext,
      on: { click: (e) => download(r.sql, f, e.currentTarget) } }, f.label)));
  out.replaceChildren(
    el("div", { class: "toolbar" }, meta, downloads),
    resultTable("result-table", r.columns, r.rows),
    chartPanel(r));
}

// download fetches the whole result in another format and saves it as a file.
async function download(sql, f, button) {
  button.disabled = true;
  try {
    const resp = await api("/api/query", { method: "POST", body: { sql }, accept: f.accept, raw: true });
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: "result." + f.ext, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
}

// ---- chart of a result -------------------------------------------------------------

function chartPanel(r) {
  const cols = r.columns.map((c, i) => ({ ...c, i }));
  const numeric = cols.filter((c) => isNumericType(c.type) || (r.rows.length > 0 && r.rows.every((row) => row[c.i] === null || Number.isFinite(Number(row[c.i])))));
  const panel = el("section", { id: "chart-panel", class: "card" }, el("h2", {}, "Chart"));
  if (r.rows.length === 0 || numeric.length === 0) {
    panel.appendChild(el("p", { class: "muted" }, "A chart needs at least one numeric column and one row."));
    return panel;
  }
  const pick = (id, list, sel) => el("select", { id, "aria-label": id }, list.map((c) => el("option", { value: c.i, selected: c.i === sel }, c.name)));
  const kind = el("select", { id: "chart-kind", "aria-label": "Chart type" },
    el("option", { value: "bar" }, "Bar"), el("option", { value: "line" }, "Line"), el("option", { value: "histogram" }, "Histogram"));
  const firstOther = cols.find((c) => c.i !== numeric[0].i) || cols[0];
  const xSel = pick("chart-x", cols, firstOther.i);
  const ySel = pick("chart-y", numeric, numeric[numeric.length - 1].i);
  const bins = el("input", { id: "chart-bins", type: "number", min: 1, max: 200, value: 20, "aria-label": "Bins" });
  const xLabel = el("label", {}, "X ", xSel);
  const yLabel = el("label", {}, "Y ", ySel);
  const binsLabel = el("label", {}, "Bins ", bins);
  const area = el("div", { id: "chart", class: "chart-area" });
  const note = el("p", { id: "chart-note", class: "muted" });
  const MAX_BARS = 500;
  const num = (v) => (v === null || v === undefined || v === "" ? NaN : Number(v));
  const draw = () => {
    const k = kind.value;
    xLabel.hidden = k === "histogram";
    binsLabel.hidden = k !== "histogram";
    yLabel.firstChild.textContent = k === "histogram" ? "Column " : "Y ";
    const xi = Number(xSel.value), yi = Number(ySel.value);
    const ys = r.rows.map((row) => num(row[yi]));
    let svg;
    note.textContent = "";
    if (k === "histogram") {
      const n = Math.max(1, Math.min(200, Math.floor(Number(bins.value)) || 20));
      svg = QuiverChart.histogram(`Histogram of ${r.columns[yi].name}`, ys, n);
    } else {
      const rows = k === "bar" ? r.rows.slice(0, MAX_BARS) : r.rows;
      if (rows.length < r.rows.length) note.textContent = `Showing the first ${MAX_BARS} of ${r.rows.length} rows.`;
      const xs = rows.map((row) => row[xi]);
      const title = `${r.columns[yi].name} by ${r.columns[xi].name}`;
      svg = k === "bar"
        ? QuiverChart.bars(title, xs.map((v) => (v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v))), ys.slice(0, rows.length))
        : QuiverChart.line(title, isNumericType(r.columns[xi].type) ? xs.map(num) : xs.map(String), ys);
    }
    svg.dataset.kind = k;
    area.replaceChildren(svg);
  };
  for (const c of [kind, xSel, ySel, bins]) c.addEventListener("change", draw);
  panel.append(el("div", { class: "toolbar" }, el("label", {}, "Type ", kind), xLabel, yLabel, binsLabel), area, note);
  draw();
  return panel;
}

// ---- status --------------------------------------------------------------------------

async function renderStatus() {
  const body = el("div", { id: "status-body" });
  const stamp = el("span", { id: "status-time", class: "muted" });
  const seq = view("status",
    el("div", { class: "toolbar" }, el("h1", {}, "Server status"), stamp,
      el("button", { type: "button", class: "ghost", id: "status-refresh", on: { click: () => load() } }, "Refresh")),
    body);
  const load = async () => {
    try {
      const s = await api("/api/status");
      if (seq !== state.seq) return;
      const rows = [
        ["Version", s.version], ["Commit", s.commit ? s.commit.slice(0, 12) : "—"], ["Uptime", fmtDuration(s.uptime_seconds)],
        ["Open streams", fmtCount(s.open_streams)], ["Queries running", fmtCount(s.queries_running)],
        ["Datasets", fmtCount(s.datasets)], ["Requests served", fmtCount(s.requests_total)],
      ];
      body.replaceChildren(facts("status", rows.map(([k, v]) => [k, String(v ?? "—")])));
      stamp.textContent = "as of " + new Date().toLocaleTimeString("en-GB");
      showError(null);
    } catch (err) {
      if (seq === state.seq) showError(err);
    }
    if (seq === state.seq) ready();
  };
  await load();
  if (seq === state.seq) state.timer = setInterval(load, 5000);
}

// ---- start ----------------------------------------------------------------------------

async function loadSession() {
  state.session = await api("/api/session");
  updateHeader();
}

async function start() {
  document.getElementById("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  try {
    await loadSession();
  } catch (err) {
    showError(err);
    return;
  }
  if (!location.hash || location.hash === "#" || location.hash === "#/") history.replaceState(null, "", "#/datasets");
  route();
}

start();
