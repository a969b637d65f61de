// The local workspace's client: a Slack client over the fake workspace. It reads what the
// chosen person sees from /client/state and acts through /client/<act>; the server turns every
// act into the signed request Slack would send to the app.

import { renderBlocks } from "./blocks.js";
import { el, mrkdwn, names } from "./mrkdwn.js";

const $ = (selector) => document.querySelector(selector);
const view = { user: null, channel: null, thread: null };
let workspace = null;
let state = null;
let version = 0;
const drawn = { messages: new Map(), thread: new Map(), modal: null, home: null };

// --- talking to the workspace ------------------------------------------------------------------

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function act(kind, request) {
  try {
    const response = await fetch(`/client/${kind}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: view.user, ...request }),
    });
    const body = await response.json();
    if (!response.ok || body.ok === false) toast(body.error || `HTTP ${response.status}`);
    return body;
  } catch (error) {
    toast(`The workspace did not answer: ${error.message}`);
    return { ok: false };
  } finally {
    refresh();
  }
}

let refreshing = null;
let again = false;
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      const query = new URLSearchParams({ user: view.user, channel: view.channel || "", thread: view.thread || "" });
      try {
        const fetched = await getJSON(`/client/state?${query}`);
        const now = new URLSearchParams({ user: view.user, channel: view.channel || "", thread: view.thread || "" });
        if (String(now) !== String(query)) { again = true; continue; }  // the person moved on meanwhile
        state = fetched;
        render();
      } catch (error) {
        toast(error.message);
      }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

async function follow() {
  for (;;) {
    try {
      const answer = await getJSON(`/client/wait?since=${version}`);
      if (answer.version !== version) { version = answer.version; await refresh(); }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

// --- navigation --------------------------------------------------------------------------------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const people = workspace.people.map((p) => p.id);
  view.user = people.includes(params.get("user")) ? params.get("user") : people[0];
  view.channel = params.get("channel") || null;
  view.thread = params.get("thread") || null;
}

function go(changes) {
  Object.assign(view, changes);
  const params = new URLSearchParams({ user: view.user });
  if (view.channel) params.set("channel", view.channel);
  if (view.thread) params.set("thread", view.thread);
  history.replaceState(null, "", `#${params}`);
  if (changes.user) { drawn.messages.clear(); drawn.thread.clear(); drawn.modal = null; }
  if ("channel" in changes) drawn.messages.clear();
  if (view.channel === "home") act("home", {});
  else refresh();
}

// replaceChildren with el()'s rules: null and false children are left out.
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

// --- drawing -----------------------------------------------------------------------------------

function render() {
  if (!["home", "app"].includes(view.channel) && state.channel !== view.channel) {
    // A channel asked for by name, or one this person cannot see: the id, else the default.
    const fallback = state.channels.find((c) => c.name === workspace.default_channel) || state.channels[0];
    const target = state.channel || fallback?.id;
    if (target && target !== view.channel) { go({ channel: target, thread: state.channel ? view.thread : null }); return; }
  }
  names.channel = (id) => state.names?.[id] ?? id;
  renderSidebar();
  if (view.channel === "home") renderApp(); else renderChannel();
  renderThread();
  renderModal();
}

function person(id) {
  if (id === workspace.app.bot_user_id) return { name: workspace.app.name, app: true };
  const found = workspace.people.find((p) => p.id === id);
  return { name: found ? found.real_name : id, app: false };
}

function seenKey() { return `seen:${view.user}`; }
function seen() { return JSON.parse(localStorage.getItem(seenKey()) || "{}"); }
function markSeen(channel) {
  const marks = seen();
  marks[channel.id] = channel.latest;
  localStorage.setItem(seenKey(), JSON.stringify(marks));
}

function renderSidebar() {
  const marks = seen();
  const entry = (channel, label) => {
    if (marks[channel.id] === undefined) { marks[channel.id] = channel.latest; localStorage.setItem(seenKey(), JSON.stringify(marks)); }
    const unread = channel.latest > marks[channel.id] && channel.id !== view.channel;
    const current = channel.id === view.channel;
    return el("li", {}, el("button", {
      type: "button", class: `nav${current ? " current" : ""}${unread ? " unread" : ""}${channel.is_archived ? " archived" : ""}`,
      "aria-current": current ? "page" : null, "data-channel": channel.name,
      onclick: () => go({ channel: channel.id, thread: null }),
    }, label));
  };
  const rooms = state.channels.filter((c) => !c.is_im).sort((a, b) => a.name.localeCompare(b.name));
  const direct = state.channels.filter((c) => c.is_im && c.with !== workspace.app.bot_user_id);
  const appCurrent = view.channel === "home" ? " current" : "";
  fill($("#sidebar"),
    el("h2", {}, "Channels"),
    el("ul", {}, rooms.map((c) => entry(c, `${c.is_private ? "🔒" : "#"} ${c.name}${c.is_archived ? " (archived)" : ""}`))),
    direct.length ? el("h2", {}, "Direct messages") : null,
    el("ul", {}, direct.map((c) => entry(c, person(c.with).name))),
    el("h2", {}, "Apps"),
    el("ul", {}, el("li", {}, el("button", { type: "button", class: `nav${appCurrent}`, "data-channel": "app",
      onclick: () => go({ channel: "home", thread: null }) }, workspace.app.name))),
  );
}

function renderChannel() {
  const channel = view.channel === "app"  // the app's Messages tab before it has written
    ? { id: "app", is_im: true, with: workspace.app.bot_user_id, latest: "0" }
    : state.channels.find((c) => c.id === view.channel);
  if (!channel) return;
  markSeen(channel);
  const title = channel.is_im ? person(channel.with).name : `${channel.is_private ? "🔒" : "#"} ${channel.name}`;
  fill($("#channel-title"), el("h1", {}, title), channel.topic ? el("p", { class: "topic" }, channel.topic) : null);
  drawn.home = null;
  drawMessages($("#messages"), state.messages || [], drawn.messages, channel);
  $("#composer").hidden = false;
  $("#app-tabs").hidden = channel.with !== workspace.app.bot_user_id;
  composerFor(channel);
}

function renderApp() {
  fill($("#channel-title"), el("h1", {}, workspace.app.name), el("p", { class: "topic" }, "App"));
  $("#app-tabs").hidden = false;
  $("#composer").hidden = true;
  const home = state.home;
  const key = home ? `${home.id}:${home.hash}` : "none";
  if (drawn.home === key) return;
  drawn.home = key;
  drawn.messages.clear();
  const box = $("#messages");
  if (!home) { box.replaceChildren(el("p", { class: "empty" }, "This app has not published a Home tab for you yet.")); return; }
  box.replaceChildren(el("div", { class: "home" }, renderBlocks(home.blocks, blockContext({ view: home }))));
}

function renderThread() {
  const pane = $("#thread");
  if (!view.thread || !state.thread) { pane.hidden = true; drawn.thread.clear(); return; }
  pane.hidden = false;
  const channel = state.channels.find((c) => c.id === view.channel);
  drawMessages($("#thread-messages"), state.thread.messages, drawn.thread, channel, true);
}

function drawMessages(box, messages, cache, channel, inThread = false) {
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const keep = new Set();
  const nodes = messages.map((message) => {
    const key = `${message.ephemeral ? "e" : "m"}${message.ts}`;
    const signature = JSON.stringify(message);
    keep.add(key);
    const known = cache.get(key);
    if (known && known.signature === signature) return known.node;
    const node = drawMessage(message, channel, inThread);
    cache.set(key, { signature, node });
    return node;
  });
  for (const key of cache.keys()) if (!keep.has(key)) cache.delete(key);
  if (!messages.length) nodes.push(el("p", { class: "empty" }, "No messages yet."));
  box.replaceChildren(...nodes);
  if (nearBottom) box.scrollTop = box.scrollHeight;
}

function drawMessage(message, channel, inThread) {
  const who = person(message.user);
  const time = new Date(Number(message.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const header = el("header", {},
    el("strong", {}, who.name), who.app ? el("span", { class: "badge" }, "APP") : null,
    el("time", { datetime: new Date(Number(message.ts) * 1000).toISOString() }, time),
    message.edited ? el("span", { class: "edited" }, "(edited)") : null,
    message.pinned_to?.length ? el("span", { class: "pinned" }, "📌 Pinned") : null);
  const where = { channel: channel.id, ts: message.ts };
  const content = message.blocks?.length
    ? renderBlocks(message.blocks, blockContext({ message: where }))
    : mrkdwn(message.text);
  const files = (message.files || []).map(drawFile);
  const reactions = message.reactions?.length
    ? el("div", { class: "reactions" }, message.reactions.map((r) => el("span", { class: "reaction" }, `:${r.name}: ${r.count ?? r.users?.length ?? 1}`)))
    : null;
  const replies = !inThread && message.reply_count
    ? el("button", { type: "button", class: "replies", onclick: () => go({ thread: message.ts }) },
      `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`)
    : null;
  const ephemeral = message.ephemeral
    ? el("div", { class: "ephemeral-note" }, "👁 Only visible to you · ",
      el("button", { type: "button", class: "link", onclick: () => act("dismiss", { ts: message.ts }) }, "Dismiss message"))
    : null;
  const tools = message.ephemeral ? null : messageTools(message, channel, inThread);
  return el("article", { class: `message${message.ephemeral ? " ephemeral" : ""}`, "data-ts": message.ts },
    el("div", { class: "avatar", "aria-hidden": "true" }, initials(who.name)),
    el("div", { class: "message-body" }, header, content, files, reactions, replies, ephemeral),
    tools);
}

function messageTools(message, channel, inThread) {
  const shortcuts = (workspace.app.shortcuts || []).filter((s) => s.type === "message");
  return el("div", { class: "message-tools" },
    inThread ? null : el("button", { type: "button", class: "tool", onclick: () => go({ thread: message.ts }) }, "Reply in thread"),
    shortcuts.map((s) => el("button", { type: "button", class: "tool", title: s.description,
      onclick: () => act("shortcut", { channel: channel.id, ts: message.ts, callback_id: s.callback_id }) }, s.name)));
}

function drawFile(file) {
  if (file.mimetype?.startsWith("image/")) {
    return el("figure", { class: "file" }, el("img", { src: file.url_private, alt: file.title || file.name }),
      el("figcaption", {}, file.title || file.name));
  }
  return el("a", { class: "file", href: file.url_private, download: file.name }, `📄 ${file.title || file.name}`);
}

function initials(name) {
  return name.split(/\s+/).map((part) => part[0] || "").join("").slice(0, 2).toUpperCase();
}

// What Block Kit elements need: the people and channels to choose from, and where a choice goes.
function blockContext({ message, view: shownView, inputs, errors }) {
  return {
    people: workspace.people.map((p) => ({ id: p.id, label: p.real_name })),
    channels: Object.entries(state.names || {}).map(([id, name]) => ({ id, label: `#${name}` })),
    inputs,
    errors,
    act(element, _block, option) {
      if (message) act("click", { ...message, action_id: element.action_id, option });
      else act("view-action", { view_id: shownView.id, action_id: element.action_id, option, values: readInputs(inputs) });
    },
  };
}

function readInputs(inputs) {
  const values = {};
  for (const [key, read] of inputs || []) values[key] = read();
  return values;
}

// --- modals ------------------------------------------------------------------------------------

function renderModal() {
  const dialog = $("#modal");
  const stack = state.modals || [];
  const top = stack[stack.length - 1];
  if (!top) {
    drawn.modal = null;
    if (dialog.open) dialog.close();
    return;
  }
  const key = `${top.id}:${top.hash}`;
  if (drawn.modal?.key === key) return;
  const carried = drawn.modal?.id === top.id ? readInputs(drawn.modal.inputs) : {};
  drawModal(dialog, top, {}, carried);
  if (!dialog.open) dialog.showModal();
}

function drawModal(dialog, modal, errors, carried = {}) {
  const inputs = new Map();
  const body = renderBlocks(modal.blocks, blockContext({ view: modal, inputs, errors }));
  for (const [key, value] of Object.entries(carried)) restore(body, key, value);
  drawn.modal = { key: `${modal.id}:${modal.hash}`, id: modal.id, inputs };
  const submit = modal.submit
    ? el("button", { type: "submit", class: "btn primary" }, modal.submit.text)
    : null;
  const form = el("form", { class: "modal-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); submitModal(modal, inputs); } },
    el("header", {}, el("h2", { id: "modal-title" }, modal.title?.text ?? ""),
      el("button", { type: "button", class: "close", "aria-label": "Close", onclick: () => closeModal(modal) }, "×")),
    el("div", { class: "modal-body" }, body),
    el("footer", {}, el("button", { type: "button", class: "btn", onclick: () => closeModal(modal) }, modal.close?.text ?? "Cancel"), submit));
  dialog.replaceChildren(form);
  dialog.setAttribute("aria-labelledby", "modal-title");
  (dialog.querySelector("[autofocus]") || dialog.querySelector("input, textarea, select, button.btn"))?.focus();
}

function restore(body, key, value) {
  const [, action] = key.split(".");
  const node = body.querySelector(`[data-action="${CSS.escape(action)}"]`);
  if (node && (node.tagName === "INPUT" || node.tagName === "TEXTAREA") && typeof value === "string") node.value = value;
}

async function submitModal(modal, inputs) {
  const values = readInputs(inputs);
  const missing = {};
  for (const block of modal.blocks) {
    if (block.type !== "input" || block.optional) continue;
    const value = values[`${block.block_id}.${block.element?.action_id}`];
    if (value === null || value === "" || (Array.isArray(value) && !value.length)) missing[block.block_id] = "Please complete this required field.";
  }
  if (Object.keys(missing).length) { drawModal($("#modal"), modal, missing, values); return; }
  const answer = await act("submit", { view_id: modal.id, values });
  if (answer.errors) drawModal($("#modal"), modal, answer.errors, values);
}

function closeModal(modal) {
  act("close", { view_id: modal.id });
}

// --- composer ----------------------------------------------------------------------------------

function composerFor(channel) {
  const box = $("#composer-text");
  box.placeholder = channel.is_archived ? "This channel is archived." : `Message ${channel.is_im ? person(channel.with).name : "#" + channel.name}`;
  box.disabled = channel.is_archived;
}

async function send(box, threadTs) {
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  showHints("");
  if (text.startsWith("/")) await act("command", { channel: view.channel, text });
  else await act("message", { channel: view.channel, text, thread_ts: threadTs || undefined });
}

function showHints(text) {
  const hints = $("#command-hints");
  const typed = text.split(" ")[0];
  const matches = text.startsWith("/") && !text.includes(" ")
    ? workspace.app.commands.filter((c) => c.command.startsWith(typed))
    : [];
  hints.hidden = !matches.length;
  hints.replaceChildren(...matches.map((c) => el("li", {}, el("strong", {}, c.command), " ", c.usage_hint || "", el("div", { class: "hint" }, c.description || ""))));
}

function wireComposer(box, threadTs) {
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(box, threadTs()); }
  });
}

// --- toasts ------------------------------------------------------------------------------------

function toast(message) {
  const note = el("div", { class: "toast", role: "alert" }, message);
  $("#toasts").append(note);
  setTimeout(() => note.remove(), 6000);
}

// --- start -------------------------------------------------------------------------------------

async function start() {
  workspace = await getJSON("/client/workspace");
  document.title = `${workspace.team.name} · local Slack workspace`;
  $("#team").textContent = workspace.team.name;
  names.user = (id) => person(id).name;
  names.openChannel = (id) => go({ channel: id, thread: null });
  readHash();
  const persona = $("#persona");
  persona.replaceChildren(...workspace.people.map((p) =>
    el("option", { value: p.id, selected: p.id === view.user }, `${p.real_name}${p.profile.title ? " — " + p.profile.title : ""}`)));
  persona.addEventListener("change", () => go({ user: persona.value, thread: null }));
  const composer = $("#composer-text");
  wireComposer(composer, () => null);
  composer.addEventListener("input", () => showHints(composer.value));
  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); send(composer, null); });
  const reply = $("#thread-text");
  wireComposer(reply, () => view.thread);
  $("#thread-form").addEventListener("submit", (e) => { e.preventDefault(); send(reply, view.thread); });
  $("#thread-close").addEventListener("click", () => go({ thread: null }));
  $("#tab-home").addEventListener("click", () => go({ channel: "home" }));
  $("#tab-messages").addEventListener("click", () => go({ channel: "app", thread: null }));
  $("#modal").addEventListener("cancel", (e) => {
    e.preventDefault();
    const stack = state?.modals || [];
    if (stack.length) closeModal(stack[stack.length - 1]);
  });
  if (view.channel === "home") act("home", {}); else await refresh();
  follow();
}

start();
