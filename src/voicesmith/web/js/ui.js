// Small DOM helpers. Server text only ever enters the page through textContent, never innerHTML.

export function $(selector) {
  return document.querySelector(selector);
}

// el("td", {class: "num", text: "3"}), el("button", {on: {click: fn}}, "Play")
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.filter(Boolean));
}

// Drives a .progress bar element: width of its .fill and aria-valuenow (0..100, whole percent,
// rounded down so that 100% is shown only when the work is really complete).
export function setProgress(bar, fraction) {
  const clamped = Math.max(0, Math.min(1, Number(fraction) || 0));
  const percent = Math.floor(clamped * 100 + 1e-9);
  bar.querySelector(".fill").style.width = `${clamped * 100}%`;
  bar.setAttribute("aria-valuenow", String(percent));
  return percent;
}

export function badge(node, status) {
  node.textContent = status || "";
  node.dataset.status = status || "";
}

// Newest first, whatever order the server lists in (ISO-8601 strings sort as dates).
export function newestFirst(items) {
  return [...items].sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso || "" : date.toLocaleString();
}

// Error cards at the top of the page: title, the server's message, and its code and request id.
export function showError(err, context) {
  const box = $("#errors");
  const meta = [
    err.code,
    err.status ? `HTTP ${err.status}` : null,
    err.requestId ? `request ${err.requestId}` : null,
  ].filter(Boolean).join(" · ");
  const card = el("div", { class: "error-card", dataset: { code: err.code || "" } },
    el("div", { class: "error-title", text: context ? `${context}: ${err.title || "Error"}` : err.title || "Error" }),
    el("div", { class: "error-message", text: err.message }),
    meta ? el("div", { class: "error-meta", text: meta }) : null,
    el("button", { type: "button", class: "error-close", "aria-label": "Dismiss", on: { click: () => card.remove() } }, "×"),
  );
  box.prepend(card);
  // Keep the stack short: the newest few errors are the useful ones.
  while (box.children.length > 4) box.lastChild.remove();
  // A failure with no HTTP status is a bug in the page itself: keep its stack for the console.
  if (err.status === undefined) console.error(err);
}

export function clearErrors() {
  clear($("#errors"));
}

// Runs an async action, showing any failure as an error card instead of an unhandled rejection.
export async function guarded(context, action) {
  try {
    return await action();
  } catch (err) {
    showError(err, context);
    return undefined;
  }
}

// Asks before doing something costly or irreversible. Resolves true only when the user confirms.
// body: nodes or text shown in the dialog; yes: the confirm button's words (say what will happen).
export function confirmAction({ title, body, yes, danger = false }) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  clear($("#confirm-body"), ...[].concat(body).map((part) => (part instanceof Node ? part : el("p", { text: String(part) }))));
  const yesButton = $("#confirm-yes");
  yesButton.textContent = yes;
  yesButton.className = danger ? "danger-solid" : "primary";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "no";
    dialog.showModal();
    $("#confirm-no").focus();
  });
}

// A bar on a 0..1 scale with an accessible name and value text.
export function meter(fraction, label, valueText, extraClass = "") {
  const clamped = Math.max(0, Math.min(1, Number(fraction) || 0));
  const fill = el("div", { class: "meter-fill" });
  fill.style.width = `${(clamped * 100).toFixed(1)}%`; // CSSOM, not a style attribute: the CSP forbids inline styles
  return el("div", { class: `meter ${extraClass}`.trim(), role: "img", "aria-label": `${label}: ${valueText}` }, fill);
}

// The languages the engine speaks, for every language picker on the page (select[data-languages]).
const LANGUAGES = [["en", "English"], ["es", "Spanish"], ["fr", "French"], ["it", "Italian"], ["pt", "Portuguese"],
  ["hi", "Hindi"]];

export function fillLanguagePickers() {
  for (const select of document.querySelectorAll("select[data-languages]")) {
    clear(select, ...LANGUAGES.map(([value, text]) => el("option", { value, text })));
  }
}
