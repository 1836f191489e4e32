// switchboard operator console: plain JavaScript, no build step, speaking only the public
// contract (REST under /api/v1 and the WebSocket). User text is only ever put in the page as
// text nodes (see `h`), never as HTML.
import { WORDS } from "./i18n.js";
import { renderAdmin } from "./admin.js";

const app = document.getElementById("app");
const banner = document.getElementById("banner");
let lang = localStorage.getItem("sb.lang") || "es";
const t = (key) => WORDS[lang][key] ?? key;
const STATES = ["waiting", "attending", "paused", "out_of_hours"];

// ---------------------------------------------------------------------------------------------
// DOM: h("button", {onclick, "aria-label": …}, "text", child…). Strings become text nodes.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** WhatsApp formatting (*bold*, _italic_, ~strike~, ```mono```) as DOM nodes; the text stays text. */
function formatted(text) {
  const out = document.createDocumentFragment();
  const pattern = /```([^`]+)```|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    out.append(document.createTextNode(text.slice(last, m.index)));
    const [tag, inner] = m[1] !== undefined ? ["code", m[1]] : m[2] !== undefined ? ["strong", m[2]]
      : m[3] !== undefined ? ["em", m[3]] : ["s", m[4]];
    out.append(h(tag, {}, inner));
    last = m.index + m[0].length;
  }
  out.append(document.createTextNode(text.slice(last)));
  return out;
}

function say(text, ok = false) {
  banner.textContent = text;
  banner.className = ok ? "ok" : "";
  banner.hidden = !text;
}

// ---------------------------------------------------------------------------------------------
// REST.

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

const api = {
  token: localStorage.getItem("sb.token"),
  async call(method, path, body) {
    const headers = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (res.status === 401 && path !== "/auth/login") { logout(); }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  },
  get(path) { return this.call("GET", path); },
  post(path, body) { return this.call("POST", path, body ?? {}); },
  put(path, body) { return this.call("PUT", path, body ?? {}); },
};

// ---------------------------------------------------------------------------------------------
// State, live over the WebSocket.

const state = {
  me: null, tickets: new Map(), tab: "waiting", current: null, messages: [], departments: [],
  operators: [], tags: [], interests: [], origins: [], canned: [], variables: [], minimized: false,
  contact: null, notes: [], view: "console", away: false,
};
let socket = null;
let retry = 0;
let seenTickets = new Set();

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // The token travels as a WebSocket subprotocol, never in a URL that gets logged.
  socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`, ["switchboard.v1", `bearer.${api.token}`]);
  socket.onmessage = (e) => onEvent(JSON.parse(e.data));
  socket.onclose = () => {
    socket = null;
    if (!api.token) return;
    say(t("offline"));
    document.body.dataset.connection = "offline";
    setTimeout(connect, Math.min(10000, 500 * 2 ** retry++));
  };
}

function onEvent(ev) {
  switch (ev.type) {
    case "snapshot": {
      const reconnected = document.body.dataset.connection === "offline";
      state.tickets = new Map(ev.tickets.map((tk) => [tk.id, tk]));
      if (seenTickets.size === 0) seenTickets = new Set(state.tickets.keys());
      retry = 0;
      document.body.dataset.connection = "online";
      if (reconnected) { say(t("online"), true); setTimeout(() => say(""), 2000); } else say("");
      if (state.current && !state.tickets.has(state.current)) state.current = null;
      renderLists();
      if (state.current) openTicket(state.current);
      break;
    }
    case "ticket": {
      const tk = ev.ticket;
      if (!seenTickets.has(tk.id) && tk.state === "waiting") notifyNew(tk);
      seenTickets.add(tk.id);
      state.tickets.set(tk.id, tk);
      renderLists();
      if (tk.id === state.current) renderHeader();
      break;
    }
    case "ticket_removed":
      state.tickets.delete(ev.ticket_id);
      if (state.current === ev.ticket_id) { state.current = null; renderChat(); renderPanel(); }
      renderLists();
      break;
    case "message":
      if (ev.message.ticket_id === state.current) {
        state.messages.push(ev.message);
        renderMessages();
      }
      break;
    case "message_status": {
      const m = state.messages.find((x) => x.id === ev.message_id);
      if (m) { m.status = ev.status; m.error = ev.error; renderMessages(); }
      break;
    }
    case "contact":
      if (state.contact && state.contact.id === ev.contact.id) { state.contact = ev.contact; renderPanel(); }
      for (const tk of state.tickets.values()) if (tk.contact.id === ev.contact.id) tk.contact.name = ev.contact.name;
      renderLists();
      break;
  }
}

function notifyNew(ticket) {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
  } catch (_) { /* no audio: the list still shows it */ }
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification(t("newTicket"), { body: `${ticket.contact.name} — ${ticket.department.name}` });
  }
}

// ---------------------------------------------------------------------------------------------
// Screens.

function boot() {
  const setup = new URLSearchParams(location.hash.slice(1)).get("setup");
  document.documentElement.lang = lang;
  if (setup) return renderSetup(setup);
  if (!api.token) return renderLogin();
  api.get("/me").then((me) => { state.me = me; start(); }).catch(() => renderLogin());
}

function languageButton() {
  return h("button", { type: "button", onclick: () => { lang = lang === "es" ? "en" : "es"; localStorage.setItem("sb.lang", lang); boot(); } }, t("language"));
}

function renderLogin(error = "") {
  app.setAttribute("aria-busy", "false");
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("p", { class: "error", role: "alert" }, error);
  const form = h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const res = await api.post("/auth/login", { email: email.value, password: password.value });
      api.token = res.token;
      localStorage.setItem("sb.token", res.token);
      state.me = res.operator;
      start();
    } catch (err) {
      message.textContent = err.status === 401 ? t("loginFailed") : err.message;
    }
  } },
  h("h1", {}, t("title")),
  h("label", { for: "email" }, t("email")), email,
  h("label", { for: "password" }, t("password")), password,
  message,
  h("button", { type: "submit" }, t("login")),
  h("p", {}, languageButton()));
  app.replaceChildren(form);
}

function renderSetup(token) {
  app.setAttribute("aria-busy", "false");
  const fields = { name: h("input", { id: "name", required: true }), email: h("input", { id: "email", type: "email", required: true }),
    password: h("input", { id: "password", type: "password", minlength: 12, required: true }) };
  const message = h("p", { class: "error", role: "alert" });
  app.replaceChildren(h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const res = await api.post("/setup", { token, name: fields.name.value, email: fields.email.value, password: fields.password.value });
      history.replaceState(null, "", "/");
      api.token = res.token;
      localStorage.setItem("sb.token", res.token);
      state.me = res.operator;
      start();
    } catch (err) { message.textContent = err.message; }
  } },
  h("h1", {}, t("setupTitle")),
  h("label", { for: "name" }, t("name")), fields.name,
  h("label", { for: "email" }, t("email")), fields.email,
  h("label", { for: "password" }, t("password")), fields.password,
  message, h("button", { type: "submit" }, t("create"))));
}

async function logout() {
  const token = api.token;
  api.token = null;
  localStorage.removeItem("sb.token");
  if (socket) socket.close();
  if (token) fetch("/api/v1/auth/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(() => {});
  state.tickets.clear();
  state.current = null;
  renderLogin();
}

async function toggleAway() {
  try {
    await api.put("/me/status", { status: state.away ? "online" : "away" });
    state.away = !state.away;
    renderShell();
  } catch (err) { say(err.message); }
}

async function start() {
  app.setAttribute("aria-busy", "false");
  const load = async (path, fallback = []) => { try { return await api.get(path); } catch (_) { return fallback; } };
  [state.departments, state.operators, state.tags, state.interests, state.origins, state.canned, state.variables, state.channels] =
    await Promise.all(["/departments", "/operators", "/tags", "/interests", "/origins", "/canned-responses", "/variables", "/channels"].map((p) => load(p)));
  renderShell();
  if (!socket) connect();
  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", () => Notification.requestPermission().catch(() => {}), { once: true });
  }
}

function renderShell() {
  const isAdmin = state.me?.role === "admin";
  app.replaceChildren(
    h("header", { class: "topbar" },
      h("strong", {}, "switchboard"),
      h("span", {}, state.me?.name || ""),
      h("span", { class: "spacer" }),
      isAdmin ? h("button", { type: "button", onclick: () => { state.view = state.view === "admin" ? "console" : "admin"; renderShell(); } },
        state.view === "admin" ? t("console") : t("admin")) : null,
      // Away: still connected and seeing the lists, but handed no tickets by automatic routing.
      h("button", { type: "button", "aria-pressed": String(state.away), onclick: toggleAway }, t("away")),
      languageButton(),
      h("button", { type: "button", onclick: logout }, t("logout"))),
    state.view === "admin" ? renderAdmin({ h, t, api, state, say, reload: start }) : h("div", { class: "layout", id: "layout" },
      h("nav", { class: "lists", "aria-label": t("title") },
        h("div", { class: "tabs", role: "tablist", id: "tabs" }),
        h("ul", { class: "tickets", id: "tickets", role: "tabpanel" })),
      h("section", { class: "chat", id: "chat", "aria-live": "polite" }),
      h("aside", { class: "panel", id: "panel", "aria-label": t("contact") })));
  if (state.view !== "admin") { renderLists(); renderChat(); renderPanel(); }
}

function renderLists() {
  const tabs = document.getElementById("tabs");
  const list = document.getElementById("tickets");
  if (!tabs || !list) return;
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const tk of state.tickets.values()) if (tk.state in counts) counts[tk.state] += 1;
  tabs.replaceChildren(...STATES.map((s) => h("button", {
    type: "button", role: "tab", "data-state": s, "aria-selected": String(state.tab === s),
    "aria-label": `${t(s)} (${counts[s]})`, onclick: () => { state.tab = s; renderLists(); },
  }, `${t(s)} (${counts[s]})`)));
  const shown = [...state.tickets.values()].filter((tk) => tk.state === state.tab).sort((a, b) => a.number - b.number);
  list.replaceChildren(...(shown.length ? shown.map((tk) => h("li", {},
    h("button", { type: "button", class: tk.state, "aria-current": String(tk.id === state.current), "data-ticket": tk.id,
      onclick: () => openTicket(tk.id) },
      tk.contact.name,
      h("span", { class: "meta" }, `#${tk.number} · ${tk.channel.name} · ${tk.department.name}`))))
    : [h("li", { class: "empty" }, t("noTickets"))]));
}

async function openTicket(id) {
  state.current = id;
  state.messages = [];
  renderLists();
  renderChat();
  const ticket = state.tickets.get(id);
  try {
    const [messages, contact, notes] = await Promise.all([
      api.get(`/tickets/${id}/messages?limit=1000`),
      api.get(`/contacts/${ticket.contact.id}`),
      api.get(`/contacts/${ticket.contact.id}/notes`),
    ]);
    if (state.current !== id) return;
    state.messages = messages;
    state.contact = contact;
    state.notes = notes;
    renderMessages();
    renderPanel();
  } catch (err) { say(err.message); }
}

function current() { return state.current ? state.tickets.get(state.current) : null; }

function renderChat() {
  const chat = document.getElementById("chat");
  if (!chat) return;
  const ticket = current();
  if (!ticket) { chat.replaceChildren(h("p", { class: "empty" }, t("chooseTicket"))); return; }
  const text = h("textarea", { id: "composer", "aria-label": t("message"), placeholder: t("message") });
  const insert = (value) => { const at = text.selectionStart ?? text.value.length; text.value = text.value.slice(0, at) + value + text.value.slice(at); text.focus(); };
  const variables = h("select", { "aria-label": t("variables"), onchange: (e) => { if (e.target.value) insert(`{{${e.target.value}}}`); e.target.value = ""; } },
    h("option", { value: "" }, t("variables")), state.variables.map((v) => h("option", { value: v.name }, `${v.name} — ${v.description}`)));
  const canned = h("select", { "aria-label": t("canned"), onchange: (e) => { if (e.target.value) insert(e.target.value); e.target.value = ""; } },
    h("option", { value: "" }, t("canned")), state.canned.map((c) => h("option", { value: c.text }, `/${c.shortcut}`)));
  chat.replaceChildren(
    h("div", { class: "chat-header", id: "chat-header" }),
    h("div", { class: "chat-body" },
      h("div", { class: "messages", id: "messages", role: "log", "aria-label": t("message") }),
      h("form", { class: "composer", onsubmit: async (e) => {
        e.preventDefault();
        if (!text.value.trim()) return;
        if (await send({ text: text.value })) text.value = "";
      } },
      text,
      h("div", { class: "tools" },
        h("button", { type: "submit" }, t("send")), variables, canned,
        h("button", { type: "button", onclick: shareContact }, t("shareContact")),
        h("button", { type: "button", onclick: shareLocation }, t("shareLocation")),
        h("button", { type: "button", onclick: showTimeline }, t("timeline")),
        h("button", { type: "button", onclick: showHistory }, t("history"))))));
  renderHeader();
  renderMessages();
}

function renderHeader() {
  const header = document.getElementById("chat-header");
  const ticket = current();
  if (!header || !ticket) return;
  header.replaceChildren(
    h("h2", {}, ticket.contact.name),
    h("span", { class: "facts" }, `${t("channel")}: ${ticket.channel.name} · ${t("department")}: ${ticket.department.name} · ${t("ticket")} #${ticket.number} · ${t(ticket.state)}`),
    h("button", { type: "button", "aria-label": t("home"), onclick: () => { state.current = null; renderLists(); renderChat(); renderPanel(); } }, "⌂"),
    h("button", { type: "button", onclick: transfer }, t("transfer")),
    h("button", { type: "button", onclick: () => act("pause") }, t("pause")),
    h("button", { type: "button", onclick: finalize }, t("finalize")),
    h("button", { type: "button", "aria-pressed": String(state.minimized), onclick: () => {
      state.minimized = !state.minimized; document.getElementById("layout")?.classList.toggle("minimized", state.minimized); renderHeader();
    } }, state.minimized ? t("expand") : t("minimize")));
}

function describe(m) {
  if (m.location) return [m.location.name, m.location.address, `${m.location.latitude}, ${m.location.longitude}`].filter(Boolean).join(" · ");
  if (m.contact) return `${m.contact.name} · ${m.contact.phone}`;
  if (m.template) return `[${m.template.name}]`;
  if (m.media) return null;
  if (m.kind === "unsupported") return "[?]";
  return null;
}

function renderMessages() {
  const box = document.getElementById("messages");
  if (!box) return;
  box.replaceChildren(...state.messages.map((m) => {
    const body = h("div", { class: `msg ${m.direction}`, "data-message": m.id },
      h("span", { class: "who" }, `${m.author.name} · ${new Date(m.created_at).toLocaleTimeString(lang)}`));
    const described = describe(m);
    if (described) body.append(described);
    if (m.media) {
      const link = h("button", { type: "button", onclick: () => download(`/messages/${m.id}/media`) }, `[${m.media.type}] ${m.media.filename || ""}`);
      body.append(link);
    }
    if (m.text && !m.location) { if (described || m.media) body.append(h("br")); body.append(formatted(m.text)); }
    if (m.direction === "out" && m.status) body.append(h("span", { class: `status ${m.status}` }, t(m.status)));
    return body;
  }));
  box.scrollTop = box.scrollHeight;
}

async function send(content) {
  const ticket = current();
  if (!ticket) return false;
  try {
    await api.post(`/tickets/${ticket.id}/messages`, content);
    return true;
  } catch (err) { explain(err); return false; }
}

function explain(err) {
  const code = err.body?.error;
  if (code === "ticket_taken") say(t("taken"));
  else if (code === "outside_customer_window") say(t("outsideWindow"));
  else if (code === "missing_fields") say(`${t("missingFields")} ${(err.body.fields || []).map(t).join(", ")}`);
  else say(err.message);
}

async function act(action, body) {
  const ticket = current();
  try { await api.post(`/tickets/${ticket.id}/${action}`, body); say(""); return true; } catch (err) { explain(err); return false; }
}

/** A modal dialog built from `content`; `onok` returns true to close. */
function dialog(title, content, onok, okLabel = t("save")) {
  const d = h("dialog", { "aria-label": title },
    h("form", { method: "dialog", onsubmit: async (e) => { e.preventDefault(); if (await onok()) d.close(); } },
      h("h3", {}, title), content,
      h("menu", {}, h("button", { type: "button", onclick: () => d.close() }, t("cancel")), okLabel ? h("button", { type: "submit" }, okLabel) : null)));
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

function transfer() {
  const department = h("select", { id: "transfer-department", "aria-label": t("department") },
    state.departments.map((d) => h("option", { value: d.id }, d.name)));
  const operator = h("select", { id: "transfer-operator", "aria-label": t("optionalOperator") });
  const fill = () => operator.replaceChildren(h("option", { value: "" }, t("anyOperator")),
    state.operators.filter((o) => o.department_ids.includes(department.value)).map((o) => h("option", { value: o.id }, o.name)));
  department.addEventListener("change", fill);
  fill();
  dialog(t("transfer"), [h("label", {}, t("department")), department, h("label", {}, t("optionalOperator")), operator],
    () => act("transfer", operator.value ? { department_id: department.value, operator_id: operator.value } : { department_id: department.value }),
    t("transfer"));
}

function classificationFields(saved = {}) {
  const outcome = h("select", { name: "outcome", "aria-label": t("outcome") }, h("option", { value: "" }, t("none")),
    h("option", { value: "won" }, t("won")), h("option", { value: "lost" }, t("lost")));
  outcome.value = saved.outcome || "";
  const interests = h("select", { name: "interests", multiple: true, "aria-label": t("interests") },
    state.interests.map((i) => h("option", { value: i.name, selected: (saved.interests || []).includes(i.name) }, i.name)));
  const rating = h("select", { name: "rating", "aria-label": t("rating") }, h("option", { value: "" }, t("none")), [1, 2, 3, 4, 5].map((n) => h("option", { value: n }, "★".repeat(n))));
  rating.value = saved.rating || "";
  const origin = h("select", { name: "origin", "aria-label": t("origin") }, h("option", { value: "" }, t("none")), state.origins.map((o) => h("option", { value: o.name }, o.name)));
  origin.value = saved.origin || "";
  const value = () => {
    const c = {};
    if (outcome.value) c.outcome = outcome.value;
    const chosen = [...interests.selectedOptions].map((o) => o.value);
    if (chosen.length) c.interests = chosen;
    if (rating.value) c.rating = Number(rating.value);
    if (origin.value) c.origin = origin.value;
    return c;
  };
  return { nodes: [h("label", {}, t("outcome")), outcome, h("label", {}, t("interests")), interests,
    h("label", {}, t("rating")), rating, h("label", {}, t("origin")), origin], value };
}

function finalize() {
  const ticket = current();
  const department = state.departments.find((d) => d.id === ticket.department.id);
  const fields = classificationFields(ticket.classification || {});
  const required = department?.required_fields || [];
  dialog(t("finalize"), [required.length ? h("p", {}, `${t("requiredFields")} ${required.map(t).join(", ")}`) : null, ...fields.nodes],
    () => act("finalize", fields.value()), t("finalize"));
}

function shareContact() {
  const name = h("input", { "aria-label": t("name"), required: true });
  const phone = h("input", { "aria-label": t("phone"), required: true });
  dialog(t("shareContact"), [h("label", {}, t("name")), name, h("label", {}, t("phone")), phone],
    () => send({ contact: { name: name.value, phone: phone.value } }), t("send"));
}

function shareLocation() {
  const address = h("input", { "aria-label": t("address") });
  const results = h("ul", { class: "history" });
  let chosen = null;
  const search = h("button", { type: "button", onclick: async () => {
    try {
      const places = await api.get(`/geocode?q=${encodeURIComponent(address.value)}`);
      results.replaceChildren(...places.map((p, i) => h("li", {}, h("label", {},
        h("input", { type: "radio", name: "place", checked: i === 0, onchange: () => { chosen = p; } }), ` ${p.address}`))));
      chosen = places[0];
    } catch (err) { results.replaceChildren(h("li", { class: "error" }, err.message)); }
  } }, t("searchOnMap"));
  dialog(t("shareLocation"), [h("label", {}, t("address")), address, search, results],
    () => chosen ? send({ location: { latitude: chosen.latitude, longitude: chosen.longitude, address: chosen.address } }) : false, t("send"));
}

async function showTimeline() {
  const ticket = current();
  const entries = await api.get(`/tickets/${ticket.id}/timeline`);
  const name = (id) => state.operators.find((o) => o.id === id)?.name || "";
  dialog(t("timeline"), h("ol", { class: "timeline" }, entries.map((e) =>
    h("li", {}, `${new Date(e.at).toLocaleString(lang)} · ${t(e.state)} · ${e.reason} ${name(e.operator_id)}`))), () => true, null);
}

async function showHistory() {
  const ticket = current();
  const tickets = await api.get(`/contacts/${ticket.contact.id}/tickets`);
  const detail = h("div");
  dialog(t("history"), [h("ul", { class: "history" }, tickets.map((tk) => h("li", {},
    h("button", { type: "button", onclick: async () => {
      const messages = await api.get(`/tickets/${tk.id}/messages?limit=1000`);
      detail.replaceChildren(
        h("button", { type: "button", onclick: () => download(`/tickets/${tk.id}/transcript.pdf`) }, t("download")),
        ...messages.map((m) => h("p", {}, `${m.author.name}: `, formatted(m.text || describe(m) || ""))));
    } }, `#${tk.number} · ${new Date(tk.created_at).toLocaleDateString(lang)} · ${t(tk.state)} · ${tk.department.name}`)))), detail], () => true, null);
}

/** Downloads an authenticated file (the token is a header, so a plain link cannot). */
async function download(path) {
  const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${api.token}` } });
  if (!res.ok) { say(`HTTP ${res.status}`); return; }
  const url = URL.createObjectURL(await res.blob());
  window.open(url, "_blank", "noopener");
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// ---------------------------------------------------------------------------------------------
// The side panel.

function renderPanel() {
  const panel = document.getElementById("panel");
  if (!panel) return;
  const ticket = current();
  const c = state.contact;
  if (!ticket || !c || c.id !== ticket.contact.id) { panel.replaceChildren(); return; }
  const field = (key, value) => h("div", {}, h("label", { for: `contact-${key}` }, t(key)), h("input", { id: `contact-${key}`, name: key, value: value || "" }));
  const address = c.address || {};
  const profile = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    const body = {};
    for (const key of ["name", "email", "sex", "company", "position", "document"]) body[key] = data.get(key) || null;
    body.address = {};
    for (const key of ["street", "number", "neighbourhood", "city", "state", "country"]) body.address[key] = data.get(key) || null;
    try { state.contact = await api.call("PATCH", `/contacts/${c.id}`, body); say(t("saved"), true); setTimeout(() => say(""), 1500); renderPanel(); }
    catch (err) { say(err.message); }
  } },
  h("h3", {}, t("contact")),
  h("p", {}, `${t("phone")}: ${c.phone}`, h("br"), `${t("firstContact")}: ${new Date(c.first_contact_at).toLocaleDateString(lang)}`),
  field("name", c.name), field("email", c.email), field("sex", c.sex), field("company", c.company),
  field("position", c.position), field("document", c.document),
  h("h3", {}, t("address")),
  ["street", "number", "neighbourhood", "city", "state", "country"].map((k) => field(k, address[k])),
  h("button", { type: "submit" }, t("save")));
  const tags = h("fieldset", {}, h("legend", {}, t("tags")), state.tags.map((tag) => h("label", {},
    h("input", { type: "checkbox", checked: c.tags.some((x) => x.id === tag.id), onchange: async (e) => {
      try { state.contact = await api.call(e.target.checked ? "PUT" : "DELETE", `/contacts/${c.id}/tags/${tag.id}`); renderPanel(); } catch (err) { say(err.message); }
    } }), ` ${tag.name}`)));
  const note = h("textarea", { "aria-label": t("addNote") });
  const notes = h("section", {}, h("h3", {}, t("notes")),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      try { await api.post(`/contacts/${c.id}/notes`, { text: note.value }); state.notes = await api.get(`/contacts/${c.id}/notes`); renderPanel(); } catch (err) { say(err.message); }
    } }, note, h("button", { type: "submit" }, t("addNote"))),
    state.notes.map((n) => h("div", { class: "note" }, h("span", { class: "who" }, `${n.author.name} · ${new Date(n.created_at).toLocaleString(lang)}`), n.text)));
  const fields = classificationFields(ticket.classification || {});
  const classification = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    try { await api.call("PUT", `/tickets/${ticket.id}/classification`, fields.value()); say(t("saved"), true); setTimeout(() => say(""), 1500); } catch (err) { explain(err); }
  } }, h("h3", {}, t("classification")), ...fields.nodes, h("button", { type: "submit" }, t("save")));
  panel.replaceChildren(profile, tags, notes, classification);
}

boot();
