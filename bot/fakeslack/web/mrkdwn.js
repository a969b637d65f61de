// Slack's mrkdwn, drawn as DOM nodes (never as HTML: the text comes from strangers on the
// internet). Handles &lt; &gt; &amp;, <@U1>, <#C1|name>, <!here>, <!date^...|fallback>,
// <url|label>, *bold*, _italic_, ~strike~, `code`, ```preformatted``` and "> " quotes.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&" };
export const unescape = (text) => text.replace(/&(lt|gt|amp);/g, (m) => ENTITIES[m]);

// Who and what <@U1> and <#C1> name: set by the app once it knows the workspace.
export const names = { user: (id) => id, channel: (id) => id, openChannel: () => {} };

const DATE_TOKENS = {
  date_num: { year: "numeric", month: "2-digit", day: "2-digit" },
  date: { year: "numeric", month: "long", day: "numeric" },
  date_short: { year: "numeric", month: "short", day: "numeric" },
  date_long: { weekday: "long", year: "numeric", month: "long", day: "numeric" },
  time: { hour: "2-digit", minute: "2-digit" },
  time_secs: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
};

function formatDate(seconds, format) {
  const when = new Date(Number(seconds) * 1000);
  if (Number.isNaN(when.getTime())) return null;
  return format.replace(/\{(\w+)\}/g, (whole, token) => {
    const pretty = token.match(/^(date(?:_short|_long)?)_pretty$/);
    if (pretty) return prettyDay(when) ?? when.toLocaleDateString([], DATE_TOKENS[pretty[1]]);
    if (token === "ago") return ago(when);
    const options = DATE_TOKENS[token];
    if (!options) return whole;
    return token.startsWith("time")
      ? when.toLocaleTimeString([], options)
      : when.toLocaleDateString([], options);
  });
}

function prettyDay(when) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const diff = Math.round((day(when) - day(new Date())) / 86400000);
  return { 0: "today", 1: "tomorrow", [-1]: "yesterday" }[diff] ?? null;
}

function ago(when) {
  const seconds = Math.round((Date.now() - when.getTime()) / 1000);
  const future = seconds < 0;
  const size = Math.abs(seconds);
  const [count, unit] =
    size < 60 ? [size, "second"] : size < 3600 ? [Math.round(size / 60), "minute"]
      : size < 86400 ? [Math.round(size / 3600), "hour"] : [Math.round(size / 86400), "day"];
  const words = `${count} ${unit}${count === 1 ? "" : "s"}`;
  return future ? `in ${words}` : `${words} ago`;
}

// <...>: a mention, a channel, a special command, a date or a link.
function angle(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    return el("span", { class: "mention" }, "@" + (label || names.user(target.slice(1))));
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return el("a", { class: "mention", href: "#", onclick: (e) => { e.preventDefault(); names.openChannel(id); } },
      "#" + (label || names.channel(id)));
  }
  if (target.startsWith("!")) {
    const [command, ...rest] = target.slice(1).split("^");
    if (command === "date") {
      const formatted = formatDate(rest[0], rest[1] || "{date}");
      const shown = formatted ?? unescape(label || "");
      return rest[2] ? el("a", { href: rest[2], target: "_blank", rel: "noopener" }, shown) : el("span", { class: "date" }, shown);
    }
    if (command === "subteam") return el("span", { class: "mention" }, label || "@group");
    return el("span", { class: "mention broadcast" }, "@" + (label || command));
  }
  const url = unescape(target);
  const safe = /^(https?:|mailto:)/i.test(url) ? url : null;
  if (!safe) return document.createTextNode("<" + unescape(inner) + ">");
  return el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, unescape(label || target));
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

// Bold, italic and strike open after a boundary and close before one, as Slack's parser does.
const STYLES = { "*": "b", _: "i", "~": "s" };
const BOUNDARY_BEFORE = /[\s([{"'.,;:!?\-]|^$/;
const BOUNDARY_AFTER = /[\s)\]}"'.,;:!?\-]|^$/;

export function inline(text) {
  const out = [];
  let plain = "";
  const flush = () => { if (plain) out.push(document.createTextNode(unescape(plain))); plain = ""; };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "<") {
      const end = text.indexOf(">", i + 1);
      if (end > i + 1) { flush(); out.push(angle(text.slice(i + 1, end))); i = end + 1; continue; }
    }
    if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) { flush(); out.push(el("code", {}, unescape(text.slice(i + 1, end)))); i = end + 1; continue; }
    }
    if (STYLES[c] && BOUNDARY_BEFORE.test(text[i - 1] ?? "") && text[i + 1] && !/\s/.test(text[i + 1])) {
      const end = closing(text, i, c);
      if (end > 0) {
        flush();
        out.push(el(STYLES[c], {}, inline(text.slice(i + 1, end))));
        i = end + 1;
        continue;
      }
    }
    plain += c;
    i += 1;
  }
  flush();
  return out;
}

function closing(text, start, mark) {
  for (let j = start + 2; j < text.length; j += 1) {
    if (text[j] === "\n") return -1;
    if (text[j] === mark && !/\s/.test(text[j - 1]) && BOUNDARY_AFTER.test(text[j + 1] ?? "")) return j;
  }
  return -1;
}

// A whole mrkdwn text: ``` blocks first, then lines, with "> " lines gathered as quotes.
export function mrkdwn(text) {
  const root = el("div", { class: "mrkdwn" });
  const parts = String(text ?? "").split("```");
  parts.forEach((part, n) => {
    if (n % 2 === 1 && n < parts.length - 1) {
      root.append(el("pre", {}, unescape(part.replace(/^\n/, ""))));
      return;
    }
    const chunk = n % 2 === 1 ? "```" + part : part;
    let quote = null;
    chunk.split("\n").forEach((line, index, lines) => {
      const quoted = line.match(/^(&gt;|>) ?(.*)$/);
      if (quoted) {
        if (!quote) { quote = el("blockquote"); root.append(quote); } else quote.append(el("br"));
        quote.append(...inline(quoted[2]));
        return;
      }
      quote = null;
      root.append(...inline(line));
      if (index < lines.length - 1) root.append(el("br"));
    });
  });
  return root;
}

// A text object: plain_text shows as written, mrkdwn is parsed.
export function textObject(object, tag = "span") {
  if (!object) return el(tag);
  if (object.type === "mrkdwn") return mrkdwn(object.text);
  return el(tag, { class: "plain" }, object.text ?? "");
}
