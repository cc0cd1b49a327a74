// streamgate operator console. Plain DOM, no framework, no build step. Every
// value that came from a request (user ids, user agents) is set as text, never
// as HTML.
"use strict";

const REFRESH_MS = 2000;
const TOKEN_KEY = "streamgate.adminToken";
const SVG = "http://www.w3.org/2000/svg";

const state = {
  paused: false,
  topBy: "active", // or "shared": what the busiest-users panel ranks by
  user: "",
  userView: null,
  overview: null,
  skewMs: 0, // server clock minus this browser's, from the Date header
  timer: 0,
  inflight: null,
  again: false,
  tokenPrompt: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// ---- the API, with the admin token when there is one ----

class Problem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || "HTTP " + status);
    this.status = status;
  }
}

async function api(path, method = "GET") {
  for (;;) {
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    let res;
    try {
      res = await fetch(path, { method, headers, cache: "no-store" });
    } catch (err) {
      const e = new Error("cannot reach the admin listener (" + err.message + ")");
      e.network = true;
      throw e;
    }
    const date = Date.parse(res.headers.get("Date") || "");
    if (!Number.isNaN(date)) state.skewMs = date - Date.now();
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      await askToken(token ? "That token was refused. Try again." : "");
      continue;
    }
    const body = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new Problem(res.status, body);
    return { status: res.status, body };
  }
}

// askToken shows the token dialog once, however many calls are waiting.
function askToken(message) {
  if (state.tokenPrompt) return state.tokenPrompt;
  const dialog = $("token-dialog");
  $("token-error").textContent = message;
  $("token-input").value = "";
  state.tokenPrompt = new Promise((resolve) => {
    $("token-form").onsubmit = (ev) => {
      ev.preventDefault();
      const v = $("token-input").value.trim();
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      dialog.close();
      state.tokenPrompt = null;
      resolve();
    };
  });
  dialog.addEventListener("cancel", (ev) => ev.preventDefault(), { once: true });
  dialog.showModal();
  $("token-input").focus();
  return state.tokenPrompt;
}

// ---- formatting ----

const nf = new Intl.NumberFormat();
const fmtInt = (n) => nf.format(n);

function fmtRate(r) {
  if (r === 0) return "0";
  if (r < 10) return r.toFixed(1);
  return fmtInt(Math.round(r));
}

function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? m + " min " + String(s % 60).padStart(2, "0") + " s" : m + " min";
  const h = Math.floor(m / 60);
  if (h < 48) return h + " h " + String(m % 60).padStart(2, "0") + " min";
  return Math.floor(h / 24) + " d " + (h % 24) + " h";
}

const serverNow = () => Date.now() + state.skewMs;
const ago = (iso) => fmtDuration(serverNow() - Date.parse(iso)) + " ago";

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function fullTime(iso) {
  return new Date(iso).toLocaleString() + " (" + iso + ")";
}

// ---- the refresh loop ----

// refresh runs one update at a time; a call during one asks for another after it.
function refresh() {
  if (state.inflight) {
    state.again = true;
    return state.inflight;
  }
  state.inflight = update().finally(() => {
    state.inflight = null;
    if (state.again) {
      state.again = false;
      refresh();
    }
  });
  return state.inflight;
}

async function update() {
  try {
    const [ov, top] = await Promise.all([api("v1/overview"), api("v1/top?n=8" + (state.topBy === "shared" ? "&by=shared" : ""))]);
    state.overview = ov.body;
    renderOverview(ov.body);
    renderTop(top.body);
    if (state.user) await loadUser(state.user, true);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    showBanner(err.network
      ? "Cannot reach this streamgate's admin API: " + err.message + ". Showing the last data; retrying."
      : "The admin API answered: " + err.message, "bad");
    $("store-pill").className = "pill bad";
    $("store-pill").textContent = "unreachable";
  }
  clearTimeout(state.timer);
  if (!state.paused) state.timer = setTimeout(refresh, REFRESH_MS);
}

function showBanner(text, kind) {
  const b = $("banner");
  b.textContent = text;
  b.className = "banner" + (kind === "warn" ? " warn" : "");
}

function hideBanner() {
  $("banner").className = "banner hidden";
}

function setKpi(id, text, cls) {
  const e = $(id);
  e.textContent = text;
  if (cls !== undefined) e.className = "value " + cls;
}

function renderOverview(o) {
  $("version").textContent = o.version + " · " + o.goVersion + " · up " + fmtDuration(o.uptimeSeconds * 1000);
  const pill = $("store-pill");
  const policy = settingValue(o, "store-failure");
  if (o.store.healthy) {
    pill.className = "pill ok";
    pill.textContent = o.ready ? "store ok · ready" : "store ok · draining";
    if (o.ready) hideBanner();
    else showBanner("This replica is shutting down: /readyz answers 503 and players are being drained.", "warn");
  } else {
    pill.className = "pill bad";
    pill.textContent = "store down";
    showBanner("The session store (" + o.store.kind + ") is not answering: " + o.store.error +
      ". Looking up and ending sessions fail until it is back; meanwhile the gate applies -store-failure " +
      (policy || "") + ".", "bad");
  }

  // The rates shown are the mean of the last 10 s: steadier than one second.
  const recent = o.rates.slice(-10);
  const mean = (key) => recent.reduce((sum, p) => sum + p[key], 0) / recent.length;
  setKpi("kpi-active", fmtInt(o.activeSessions));
  $("kpi-active-sub").textContent = "limit " + o.limit + " per user · TTL " + o.sessionTtlSeconds + " s";
  setKpi("kpi-users", fmtInt(o.trackedUsers));
  $("kpi-users-sub").textContent = o.trackedUsers
    ? (o.activeSessions / o.trackedUsers).toFixed(2) + " sessions per user" : "in the in-memory table";
  setKpi("kpi-admitted", recent.length ? fmtRate(mean("admitted")) : "–");
  $("kpi-admitted-sub").textContent = "10 s mean · " + fmtInt(o.totals.started + o.totals.refreshed) + " since start";
  const refusedNow = recent.length ? mean("refused") : 0;
  setKpi("kpi-refused", recent.length ? fmtRate(refusedNow) : "–", "refused" + (refusedNow > 0 ? " nonzero" : ""));
  $("kpi-refused-sub").textContent = fmtInt(o.refusals.count) + " in the last " +
    fmtDuration(o.refusals.windowSeconds * 1000) + (o.totals.refusedStore ? " · " + fmtInt(o.totals.refusedStore) + " store 503s" : "");
  setKpi("kpi-evicted", fmtInt(o.evictedUsers), o.evictedUsers > 0 ? "bad" : "");
  setKpi("kpi-store", o.store.kind, "small " + (o.store.healthy ? "good" : "bad"));
  $("kpi-store-sub").textContent = o.store.healthy
    ? (o.storeCalls ? fmtInt(o.storeCalls) + " calls · " + fmtInt(o.storeErrors) + " errors" : "answering")
    : "not answering";
  $("refused-window").textContent = "last " + fmtDuration(o.refusals.windowSeconds * 1000);

  state.tombstoneTTL = settingValue(o, "tombstone-ttl");
  renderChart(o.rates);
  renderWhatIf(o.whatIf);
  renderSettings(o.settings);
}

// renderWhatIf shows, for limits 1 to 6, how many recent starts each would
// have refused.
function renderWhatIf(w) {
  const list = $("whatif-list");
  if (!w) {
    list.replaceChildren(el("li", { class: "none", text: "not available on this replica" }));
    return;
  }
  $("whatif-span").textContent = fmtInt(w.starts) + " session starts, last " + fmtDuration(w.windowSeconds * 1000) + ", this replica";
  if (!w.starts) {
    list.replaceChildren(el("li", { class: "none", text: "no session started yet" }));
    return;
  }
  list.replaceChildren(...w.limits.map((l) => {
    const fill = el("div", { class: "barfill refused" });
    fill.style.width = (l.refused / w.starts) * 100 + "%";
    const share = Math.round((l.refused / w.starts) * 100);
    return el("li", { "data-limit": String(l.limit) },
      el("span", { class: "who-static", text: "limit " + l.limit }),
      el("span", { class: "barwrap" }, fill),
      el("span", { class: "n", text: fmtInt(l.refused), title: l.refused + " of " + w.starts + " starts (" + share + " %) would have been refused" }));
  }));
}

function settingValue(o, name) {
  const s = o.settings.find((x) => x.name === name);
  return s ? s.value : "";
}

function renderSettings(settings) {
  const dl = $("settings");
  dl.replaceChildren(...settings.map((s) => {
    const dd = el("dd", { text: s.value === "" ? "(not set)" : s.value });
    if (s.value === "") dd.className = "unset";
    else if (!s.default) dd.className = "changed";
    return el("div", { title: s.help || "" }, el("dt", { text: "-" + s.name }), dd);
  }));
}

// ---- the chart: admitted, started and refused per second ----

function niceMax(v) {
  if (v <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function renderChart(rates) {
  const box = $("chart");
  const W = box.clientWidth || 800;
  const H = box.clientHeight || 200;
  const pad = { l: 44, r: 8, t: 8, b: 22 };
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "requests per second" });
  const span = 300;
  const end = rates.length ? rates[rates.length - 1].t : Math.floor(Date.now() / 1000);
  const start = end - span;
  const x = (t) => pad.l + ((t - start) / span) * (W - pad.l - pad.r);
  const peak = niceMax(Math.max(0, ...rates.map((p) => Math.max(p.admitted, p.refused))));
  const y = (v) => H - pad.b - (v / peak) * (H - pad.t - pad.b);

  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (let i = 0; i <= 4; i++) {
    const v = (peak * i) / 4;
    grid.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) }));
    const label = svg("text", { x: pad.l - 8, y: y(v) + 4, "text-anchor": "end" });
    label.textContent = Number.isInteger(v) ? fmtInt(v) : v.toFixed(1);
    axis.append(label);
  }
  for (let t = Math.ceil(start / 60) * 60; t <= end; t += 60) {
    const label = svg("text", { x: x(t), y: H - 5, "text-anchor": "middle" });
    label.textContent = new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    axis.append(label);
  }
  s.append(grid, axis);

  if (rates.length < 2) {
    const t = svg("text", { x: (W + pad.l) / 2, y: H / 2, "text-anchor": "middle", class: "empty" });
    t.textContent = "collecting samples…";
    s.append(t);
  } else {
    const path = (key) => rates.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p[key]).toFixed(1)).join("");
    const area = (key) => path(key) + `L${x(rates[rates.length - 1].t).toFixed(1)} ${y(0)}L${x(rates[0].t).toFixed(1)} ${y(0)}Z`;
    s.append(
      svg("path", { d: area("admitted"), class: "area admitted" }),
      svg("path", { d: area("refused"), class: "area refused" }),
      svg("path", { d: path("admitted"), class: "line admitted" }),
      svg("path", { d: path("started"), class: "line started" }),
      svg("path", { d: path("refused"), class: "line refused" }),
    );
    const cursor = svg("line", { class: "cursor hidden", y1: pad.t, y2: H - pad.b });
    s.append(cursor);
    const tip = el("div", { class: "tip hidden" });
    s.addEventListener("mousemove", (ev) => {
      const r = s.getBoundingClientRect();
      const t = start + ((ev.clientX - r.left) * (W / r.width) - pad.l) / (W - pad.l - pad.r) * span;
      let best = rates[0];
      for (const p of rates) if (Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
      const px = x(best.t);
      cursor.setAttribute("x1", px);
      cursor.setAttribute("x2", px);
      cursor.classList.remove("hidden");
      tip.textContent = clock(best.t * 1000) + " · admitted " + fmtRate(best.admitted) + "/s · started " +
        fmtRate(best.started) + "/s · refused " + fmtRate(best.refused) + "/s · " + fmtInt(best.active) + " active";
      tip.classList.remove("hidden");
      const left = (px / W) * r.width;
      tip.style.left = Math.min(Math.max(left - tip.offsetWidth / 2, 0), r.width - tip.offsetWidth) + "px";
    });
    s.addEventListener("mouseleave", () => {
      cursor.classList.add("hidden");
      tip.classList.add("hidden");
    });
    box.replaceChildren(s, tip);
    return;
  }
  box.replaceChildren(s);
}

// ---- busiest users ----

function renderRanking(list, items, unit, emptyText) {
  if (items === null) {
    list.replaceChildren(el("li", { class: "none", text: "this store cannot list its users" }));
    return;
  }
  if (!items.length) {
    list.replaceChildren(el("li", { class: "none", text: emptyText }));
    return;
  }
  const top = items[0].count || 1;
  list.replaceChildren(...items.map((u) => {
    const fill = el("div", { class: "barfill" });
    fill.style.width = Math.max(4, (u.count / top) * 100) + "%";
    return el("li", {},
      el("button", { type: "button", class: "who", title: "look up " + u.userId, text: u.userId, onclick: () => pick(u.userId) }),
      el("span", { class: "barwrap" }, fill),
      el("span", { class: "n", text: fmtInt(u.count), title: u.count + " " + unit }));
  }));
}

function renderTop(t) {
  if (state.topBy === "shared") {
    // byShared is absent when no session is shared; byActive null when the
    // store cannot list its users at all.
    renderRanking($("top-active"), t.byActive === null ? null : (t.byShared || []),
      "sessions used from more than one network", "no session used from two networks");
  } else {
    renderRanking($("top-active"), t.byActive, "active sessions", "no active sessions");
  }
  renderRanking($("top-refused"), t.byRefusals, "refusals", "nobody refused");
}

function setTopBy(by) {
  state.topBy = by;
  for (const b of document.querySelectorAll("#top-by button")) {
    b.setAttribute("aria-pressed", String(b.dataset.by === by));
  }
  $("top-active-title").textContent = by === "shared" ? "Most shared sessions" : "Most active sessions";
  refresh();
}

// networksCell shows how many client networks used a session; more than one
// may be a shared account, and is highlighted.
function networksCell(n) {
  if (!n) return el("td", { class: "nets", title: "no client network known", text: "—" });
  const shared = n > 1;
  return el("td", {},
    el("span", {
      class: "nets" + (shared ? " shared" : ""),
      title: shared
        ? "Used from " + n + " client networks (/24 or /56) while active: it may be shared between people"
        : "Used from one client network (/24 or /56)",
      text: n + (n === 1 ? " network" : " networks"),
    }));
}

function pick(userId) {
  $("user-input").value = userId;
  lookup(userId);
}

// ---- one user ----

async function lookup(userId) {
  userId = userId.trim();
  state.user = userId;
  history.replaceState(null, "", userId ? "#user=" + encodeURIComponent(userId) : "#");
  if (!userId) {
    $("user-result").replaceChildren(el("p", { class: "muted empty", text: "Type a user id, or pick one from the busiest users." }));
    return;
  }
  await loadUser(userId, false);
}

async function loadUser(userId, quiet) {
  try {
    const { body } = await api("v1/users/" + encodeURIComponent(userId) + "/streams");
    if (state.user !== userId) return;
    state.userView = body;
    renderUser(body);
  } catch (err) {
    if (state.user !== userId) return;
    if (quiet && err.network) return; // the banner says it
    $("user-result").replaceChildren(el("p", { class: "problem", text: "Could not look up " + userId + ": " + err.message }));
  }
}

function renderUser(v) {
  const slots = el("span", { class: "slots", title: v.active + " of " + v.limit + " slots in use" });
  for (let i = 0; i < Math.max(v.limit, v.active); i++) {
    slots.append(el("span", { class: "slot" + (i < v.active ? (v.active >= v.limit ? " used full" : " used") : "") }));
  }
  const facts = el("span", { class: "user-facts" },
    el("b", { id: "user-active", text: String(v.active) }), " of ", el("b", { text: String(v.limit) }), " slots in use");
  if (v.refusals) {
    facts.append(" · ", el("b", { id: "user-refusals", class: v.refusals.count ? "refused" : "", text: String(v.refusals.count) }),
      " refused in the last " + fmtDuration(v.refusals.windowSeconds * 1000));
  }
  const endAll = el("button", { type: "button", class: "danger small", id: "end-all", text: "End all sessions", disabled: v.active === 0 });
  armed(endAll, "Confirm: end all " + v.active, () => endSessions(v.userId, null));
  const head = el("div", { class: "user-head" }, el("span", { class: "user-name", text: v.userId }), slots, facts, el("span", { class: "spacer" }), endAll);

  if (!v.sessions.length) {
    $("user-result").replaceChildren(head, el("p", { class: "muted empty", text: "No active session." }));
    return;
  }
  const rows = v.sessions.map((s) => {
    const left = Date.parse(s.expiresAt) - serverNow();
    const end = el("button", { type: "button", class: "danger small", "data-end": s.sessionId, text: "End",
      title: "End this session now: its player gets 410 (session ended) for -tombstone-ttl and must start a new session" });
    end.addEventListener("click", () => endSessions(v.userId, s.sessionId, end));
    const dev = s.device || {};
    return el("tr", { "data-session": s.sessionId },
      el("td", {}, el("span", { class: "sid", text: s.sessionId })),
      el("td", { title: fullTime(s.startedAt), text: ago(s.startedAt) }),
      el("td", { title: fullTime(s.lastSeen), text: ago(s.lastSeen) }),
      el("td", { title: fullTime(s.expiresAt), class: left < 15000 ? "soon" : "", text: "in " + fmtDuration(left) }),
      el("td", {},
        el("div", { class: "ua", title: dev.userAgent || "", text: dev.name || dev.userAgent || "—" }),
        el("div", { class: "addr mono", text: dev.address || "" })),
      networksCell(s.networks),
      el("td", { class: "actions" }, end));
  });
  const table = el("table", {},
    el("thead", {}, el("tr", {}, ...["Session", "Started", "Last seen", "Expires", "Device", "Networks"].map((h) => el("th", { text: h })), el("th", { class: "actions" }))),
    el("tbody", {}, ...rows));
  const note = el("p", { class: "muted end-note", id: "end-note",
    text: "Ending a session is final: its player gets 410 (session ended) on every request for " +
      (state.tombstoneTTL || "-tombstone-ttl") + " and must start a new session, which counts against the limit again." });
  $("user-result").replaceChildren(head, table, note);
}

// armed makes a button ask for a second click before it acts.
function armed(button, confirmText, action) {
  const idle = button.textContent;
  let timer = 0;
  button.addEventListener("click", () => {
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = confirmText;
      timer = setTimeout(() => { button.classList.remove("armed"); button.textContent = idle; }, 4000);
      return;
    }
    clearTimeout(timer);
    action();
  });
}

async function endSessions(userId, sessionId, button) {
  if (button) button.disabled = true;
  const path = "v1/users/" + encodeURIComponent(userId) + "/streams" + (sessionId ? "/" + encodeURIComponent(sessionId) : "");
  try {
    await api(path, "DELETE");
  } catch (err) {
    if (!(err instanceof Problem && err.status === 404)) { // 404: it had already ended
      $("user-result").prepend(el("p", { class: "problem", text: "Could not end the session: " + err.message }));
    }
  }
  await loadUser(userId, false);
  refresh();
}

// ---- start ----

window.addEventListener("DOMContentLoaded", () => {
  $("lookup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    lookup($("user-input").value);
  });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").setAttribute("aria-pressed", String(state.paused));
    $("pause").textContent = state.paused ? "Resume" : "Pause";
    if (state.paused) clearTimeout(state.timer);
    else refresh();
  });
  for (const b of document.querySelectorAll("#top-by button")) {
    b.addEventListener("click", () => setTopBy(b.dataset.by));
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !state.paused) refresh();
  });
  window.addEventListener("resize", () => state.overview && renderChart(state.overview.rates));
  const m = /^#user=(.+)$/.exec(location.hash);
  if (m) {
    state.user = decodeURIComponent(m[1]);
    $("user-input").value = state.user;
  }
  refresh();
});
