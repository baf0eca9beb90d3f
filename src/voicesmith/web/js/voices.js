// The voice library: stock voices and the organisation's own, each playable.
import { listAll } from "./api.js";
import { speak } from "./player.js";
import { tryVoice } from "./playground.js";
import { $, clear, el } from "./ui.js";

let voices = [];

export function playButton(voice) {
  const button = el("button", { type: "button", class: "play", dataset: { voiceId: voice.id },
    "aria-label": `Play ${voice.name} saying the sample text` }, "▶ Play");
  button.addEventListener("click", () => speak(voice, button));
  return button;
}

export function tryButton(voice) {
  return el("button", { type: "button", class: "try small", dataset: { voiceId: voice.id },
    "aria-label": `Open ${voice.name} in the playground`, on: { click: () => tryVoice(voice) } }, "Playground");
}

// The speaker's consent (docs/consent.md): verified by a spoken challenge, or not; stock voices need no badge.
const CONSENT = {
  verified: ["Consent verified", "The speaker read a consent challenge in this voice."],
  unverified: ["Unverified", "Made without a verified spoken consent of the speaker."],
};

export function consentBadge(voice) {
  const [label, title] = CONSENT[voice.consent] || [];
  if (!label) return "";
  return el("span", { class: "badge consent", title, dataset: { consent: voice.consent } }, label);
}

function render() {
  const filter = $("#voice-filter").value;
  const shown = voices.filter((v) => filter === "all" || (filter === "own") === Boolean(v.is_owner));
  const rows = shown.map((voice) => el("tr", { dataset: { voiceId: voice.id } },
    el("td", { class: "name", text: voice.name }),
    el("td", { class: "desc muted col-desc", text: voice.description || "" }),
    el("td", { class: "col-lang", text: voice.language || "" }),
    el("td", {}, el("span", { class: "tag", dataset: { kind: voice.is_owner ? "own" : "stock" } },
      voice.is_owner ? "Yours" : "Stock"), " ", consentBadge(voice)),
    el("td", { class: "actions" }, playButton(voice), tryButton(voice)),
  ));
  const empty = el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No voices match." }));
  clear($("#voice-rows"), ...(rows.length ? rows : [empty]));
}

export async function loadVoices() {
  voices = await listAll("/voices");
  // Own voices first (newest work is what a user came for), then stock, each by name.
  voices.sort((a, b) => Number(Boolean(b.is_owner)) - Number(Boolean(a.is_owner)) || a.name.localeCompare(b.name));
  render();
  document.dispatchEvent(new CustomEvent("voices-changed", { detail: voices }));
  return voices;
}

export function initVoices(onError) {
  $("#voice-filter").addEventListener("change", render);
  $("#voices-refresh").addEventListener("click", () => loadVoices().catch(onError));
}
