// Block Kit, drawn as Slack's client draws it. Interactive elements call ctx.act(element, choice):
// the app turns that into the block_actions payload Slack would send. Inputs in modals register
// a reader in ctx.inputs, keyed "block_id.action_id", as state.values keys them.

import { el, mrkdwn, textObject } from "./mrkdwn.js";

export function renderBlocks(blocks, ctx) {
  return el("div", { class: "blocks" }, (blocks || []).map((block) => renderBlock(block, ctx)));
}

function renderBlock(block, ctx) {
  const draw = BLOCKS[block.type];
  if (!draw) return el("div", { class: "block unknown" }, `[${block.type} block]`);
  return draw(block, ctx);
}

const BLOCKS = {
  header: (block) => el("h3", { class: "block header" }, block.text?.text ?? ""),
  divider: () => el("hr", { class: "block divider" }),
  section(block, ctx) {
    const body = el("div", { class: "section-body" });
    if (block.text) body.append(textObject(block.text, "div"));
    if (block.fields?.length) {
      body.append(el("div", { class: "fields" }, block.fields.map((f) => el("div", { class: "field" }, textObject(f, "div")))));
    }
    const accessory = block.accessory ? el("div", { class: "accessory" }, element(block.accessory, block, ctx)) : null;
    return el("div", { class: "block section" }, body, accessory);
  },
  context: (block, ctx) =>
    el("div", { class: "block context" }, (block.elements || []).map((item) =>
      item.type === "image" ? image(item, ctx, "context-image") : textObject(item, "span"))),
  actions: (block, ctx) =>
    el("div", { class: "block actions" }, (block.elements || []).map((item) => element(item, block, ctx))),
  image(block, ctx) {
    const title = block.title ? el("div", { class: "image-title" }, block.title.text) : null;
    return el("figure", { class: "block image" }, title, image(block, ctx, "image-full"));
  },
  input(block, ctx) {
    const id = `in-${block.block_id}`;
    const label = el("label", { class: "input-label", for: id }, block.label?.text ?? "",
      block.optional ? el("span", { class: "optional" }, " (optional)") : null);
    const control = element(block.element, block, ctx, id);
    const hint = block.hint ? el("div", { class: "hint" }, block.hint.text) : null;
    const error = ctx.errors?.[block.block_id];
    const shown = error ? el("div", { class: "input-error", role: "alert" }, error) : null;
    return el("div", { class: "block input" + (error ? " has-error" : "") }, label, control, hint, shown);
  },
  rich_text: (block) => el("div", { class: "block rich-text" }, richText(block.elements)),
};

function richText(elements) {
  return (elements || []).map((part) => {
    if (part.type === "text") return part.text;
    if (part.type === "link") return el("a", { href: part.url, target: "_blank", rel: "noopener" }, part.text || part.url);
    return el("div", {}, richText(part.elements));
  });
}

function image(item, ctx, cls) {
  const src = item.image_url || item.slack_file?.url || ctx.fileUrl?.(item.slack_file?.id);
  return el("img", { class: cls, src, alt: item.alt_text || "", loading: "lazy" });
}

// --- elements --------------------------------------------------------------------------------

function element(item, block, ctx, id) {
  const draw = ELEMENTS[item.type];
  if (!draw) return el("span", { class: "unknown" }, `[${item.type}]`);
  return draw(item, block, ctx, id);
}

const inInput = (block) => block.type === "input";
const key = (block, item) => `${block.block_id}.${item.action_id}`;

// A choice made in an element: sent at once outside input blocks, or with dispatch_action.
function chose(item, block, ctx, value) {
  if (inInput(block) && !block.dispatch_action) return;
  ctx.act(item, block, value);
}

const ELEMENTS = {
  button(item, block, ctx) {
    const style = item.style ? ` ${item.style}` : "";
    return el("button", {
      class: `btn${style}`, type: "button", "data-action": item.action_id,
      onclick: async () => {
        if (item.confirm && !(await confirmDialog(item.confirm))) return;
        if (item.url) window.open(item.url, "_blank", "noopener");
        ctx.act(item, block, null);
      },
    }, item.text?.text ?? "");
  },
  overflow(item, block, ctx) {
    const menu = el("div", { class: "menu", role: "menu", hidden: true });
    const toggle = el("button", { class: "btn overflow", type: "button", "aria-haspopup": "menu", "aria-label": "More options", "data-action": item.action_id,
      onclick: () => { menu.hidden = !menu.hidden; if (!menu.hidden) menu.querySelector("button")?.focus(); } }, "⋯");
    for (const option of item.options || []) {
      menu.append(el("button", { type: "button", role: "menuitem", class: "menu-item",
        onclick: async () => {
          menu.hidden = true;
          if (item.confirm && !(await confirmDialog(item.confirm))) return;
          if (option.url) window.open(option.url, "_blank", "noopener");
          ctx.act(item, block, option.value);
        },
        onkeydown: (e) => { if (e.key === "Escape") { menu.hidden = true; toggle.focus(); } } }, option.text?.text ?? ""));
    }
    return el("span", { class: "overflow-wrap" }, toggle, menu);
  },
  static_select: (item, block, ctx, id) => select(item, block, ctx, id, optionsOf(item), item.initial_option?.value),
  external_select: (item, block, ctx, id) => select(item, block, ctx, id, item.initial_option ? [item.initial_option] : [], item.initial_option?.value),
  multi_static_select: (item, block, ctx, id) => multiSelect(item, block, ctx, id, optionsOf(item), (item.initial_options || []).map((o) => o.value)),
  users_select: (item, block, ctx, id) => select(item, block, ctx, id, ctx.people.map(asOption), item.initial_user),
  multi_users_select: (item, block, ctx, id) => multiSelect(item, block, ctx, id, ctx.people.map(asOption), item.initial_users || []),
  conversations_select: (item, block, ctx, id) => select(item, block, ctx, id, ctx.channels.map(asOption), item.initial_conversation),
  channels_select: (item, block, ctx, id) => select(item, block, ctx, id, ctx.channels.map(asOption), item.initial_channel),
  multi_conversations_select: (item, block, ctx, id) => multiSelect(item, block, ctx, id, ctx.channels.map(asOption), item.initial_conversations || []),
  multi_channels_select: (item, block, ctx, id) => multiSelect(item, block, ctx, id, ctx.channels.map(asOption), item.initial_channels || []),
  radio_buttons: (item, block, ctx) => choices(item, block, ctx, "radio"),
  checkboxes: (item, block, ctx) => choices(item, block, ctx, "checkbox"),
  plain_text_input: (item, block, ctx, id) => textInput(item, block, ctx, id, "text"),
  url_text_input: (item, block, ctx, id) => textInput(item, block, ctx, id, "url"),
  email_text_input: (item, block, ctx, id) => textInput(item, block, ctx, id, "email"),
  number_input: (item, block, ctx, id) => textInput(item, block, ctx, id, "number"),
  datepicker: (item, block, ctx, id) => pickerInput(item, block, ctx, id, "date", item.initial_date),
  timepicker: (item, block, ctx, id) => pickerInput(item, block, ctx, id, "time", item.initial_time),
  image: (item, block, ctx) => image(item, ctx, "accessory-image"),
};

function optionsOf(item) {
  if (item.option_groups) return item.option_groups.map((g) => ({ group: g.label?.text ?? "", options: g.options }));
  return item.options || [];
}

function asOption(entry) {
  return { value: entry.id, text: { type: "plain_text", text: entry.label } };
}

function optionNodes(options, selected) {
  const chosen = new Set([].concat(selected ?? []));
  return options.map((option) => option.group !== undefined
    ? el("optgroup", { label: option.group }, optionNodes(option.options, selected))
    : el("option", { value: option.value, selected: chosen.has(option.value) }, option.text?.text ?? option.value));
}

function select(item, block, ctx, id, options, initial) {
  const placeholder = el("option", { value: "", disabled: inInput(block) ? false : true, selected: initial === undefined || initial === null },
    item.placeholder?.text ?? "Select an item");
  const node = el("select", { id, class: "select", "data-action": item.action_id, "aria-label": id ? null : item.placeholder?.text ?? "Select",
    onchange: () => {
      if (!node.value) return;
      if (item.confirm) {
        confirmDialog(item.confirm).then((ok) => { if (ok) chose(item, block, ctx, node.value); else node.value = initial ?? ""; });
      } else chose(item, block, ctx, node.value);
    } }, placeholder, optionNodes(options, initial));
  ctx.inputs?.set(key(block, item), () => node.value || null);
  return node;
}

function multiSelect(item, block, ctx, id, options, initial) {
  const node = el("select", { id, class: "select", multiple: true, size: Math.min(6, Math.max(3, options.length)), "data-action": item.action_id,
    onchange: () => chose(item, block, ctx, picked()) }, optionNodes(options, initial));
  const picked = () => [...node.selectedOptions].map((o) => o.value);
  ctx.inputs?.set(key(block, item), picked);
  return node;
}

function choices(item, block, ctx, kind) {
  const name = `${block.block_id}-${item.action_id}`;
  const initial = new Set(kind === "radio" ? [item.initial_option?.value] : (item.initial_options || []).map((o) => o.value));
  const boxes = (item.options || []).map((option) => {
    const input = el("input", { type: kind, name, value: option.value, checked: initial.has(option.value),
      onchange: () => chose(item, block, ctx, read()) });
    const description = option.description ? el("div", { class: "hint" }, textObject(option.description)) : null;
    return el("label", { class: "choice" }, input, " ", textObject(option.text), description);
  });
  const group = el("div", { class: "choices", role: kind === "radio" ? "radiogroup" : "group", "data-action": item.action_id }, boxes);
  const read = () => {
    const checked = [...group.querySelectorAll("input:checked")].map((i) => i.value);
    return kind === "radio" ? (checked[0] ?? null) : checked;
  };
  ctx.inputs?.set(key(block, item), read);
  return group;
}

function textInput(item, block, ctx, id, type) {
  const attrs = { id, class: "text-input", "data-action": item.action_id, placeholder: item.placeholder?.text,
    maxlength: item.max_length, minlength: item.min_length };
  const node = item.multiline ? el("textarea", { ...attrs, rows: 4 }) : el("input", { ...attrs, type });
  node.value = item.initial_value ?? "";
  if (item.focus_on_load) node.setAttribute("autofocus", "");
  if (block.dispatch_action) {
    node.addEventListener("keydown", (e) => { if (e.key === "Enter" && !item.multiline) { e.preventDefault(); chose(item, block, ctx, node.value); } });
  }
  ctx.inputs?.set(key(block, item), () => node.value);
  return node;
}

function pickerInput(item, block, ctx, id, type, initial) {
  const node = el("input", { id, type, class: "text-input", "data-action": item.action_id, onchange: () => chose(item, block, ctx, node.value) });
  node.value = initial ?? "";
  ctx.inputs?.set(key(block, item), () => node.value || null);
  return node;
}

// --- confirm dialogs -------------------------------------------------------------------------

export function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "confirm", "aria-label": confirm.title?.text ?? "Are you sure?" });
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    const yes = confirm.style === "danger" ? "btn danger" : "btn primary";
    dialog.append(
      el("h2", {}, confirm.title?.text ?? "Are you sure?"),
      el("div", { class: "confirm-text" }, textObject(confirm.text, "div")),
      el("div", { class: "dialog-buttons" },
        el("button", { type: "button", class: "btn", onclick: () => done(false) }, confirm.deny?.text ?? "Cancel"),
        el("button", { type: "button", class: yes, onclick: () => done(true) }, confirm.confirm?.text ?? "Yes")),
    );
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export { mrkdwn };
