// Entry point: the API key form, the sections (one shown at a time, by the URL's #hash), the connection badge,
// then every panel loads through the public API with that key.
import { getKey, request, setKey } from "./api.js";
import { initClone } from "./clone.js";
import { initConsent } from "./consent.js";
import { initDatasets, loadDatasets } from "./datasets.js";
import { initFineTunes, loadFineTunes } from "./fine_tunes.js";
import { initPlayground } from "./playground.js";
import { $, clearErrors, fillLanguagePickers, showError } from "./ui.js";
import { initVoices, loadVoices } from "./voices.js";

const SECTIONS = ["voices", "datasets", "fine-tunes", "playground"];
const HEALTH_MS = 10000;
let healthTimer = null;
let voiceCount = 0;

function setConnection(state, text) {
  const status = $("#conn-status");
  status.dataset.state = state;
  status.textContent = text;
  $("#key-hint").hidden = state === "ok" || state === "lost";
  for (const id of SECTIONS) $(`#${id}`).classList.toggle("locked", state !== "ok" && state !== "lost");
}

// The badge says what is true now: a cheap authenticated call every few seconds (and at once when the
// browser says it is offline or back online); a failure turns it red until the server answers again.
async function checkHealth() {
  clearTimeout(healthTimer);
  if (!getKey()) return;
  const state = $("#conn-status").dataset.state;
  if (state === "ok" || state === "lost") {
    try {
      await request("GET", "/voices", { query: { limit: 1 } });
      if (state === "lost") setConnection("ok", `Connected · ${voiceCount} voices`);
    } catch (err) {
      if (err.status === 401 || err.status === 403) setConnection("error", "Key rejected");
      else setConnection("lost", navigator.onLine ? "Server unreachable" : "Offline");
    }
  }
  healthTimer = setTimeout(checkHealth, HEALTH_MS);
}

async function connect() {
  if (!getKey()) {
    setConnection("idle", "Not connected");
    return;
  }
  setConnection("busy", "Connecting…");
  clearErrors();
  try {
    // Voices first: it proves the key works before the other panels fire their requests.
    const voices = await loadVoices();
    voiceCount = voices.length;
    setConnection("ok", `Connected · ${voices.length} voices`);
    await loadDatasets();
    await loadFineTunes();
  } catch (err) {
    const rejected = err.status === 401 || err.status === 403;
    setConnection("error", rejected ? "Key rejected" : "Not connected");
    showError(err, rejected ? "The API key was not accepted" : "Loading the studio");
  }
  healthTimer = setTimeout(checkHealth, HEALTH_MS);
}

// One section at a time; the hash (#datasets, …) picks it, so Back and bookmarks work.
function showSection() {
  const wanted = window.location.hash.slice(1);
  const current = SECTIONS.includes(wanted) ? wanted : "voices";
  for (const id of SECTIONS) {
    $(`#${id}`).hidden = id !== current;
    const tab = $(`#tab-${id}`);
    if (id === current) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
}

function init() {
  const onError = (err) => showError(err);
  fillLanguagePickers();
  initVoices(onError);
  initClone();
  initDatasets(onError);
  initConsent();
  initFineTunes(onError);
  initPlayground(onError);
  const input = $("#api-key");
  input.value = getKey();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey(input.value.trim());
    connect();
  });
  window.addEventListener("hashchange", showSection);
  showSection();
  window.addEventListener("offline", checkHealth);
  window.addEventListener("online", checkHealth);
  document.addEventListener("voices-changed", (event) => {
    voiceCount = event.detail.length;
    if ($("#conn-status").dataset.state === "ok") setConnection("ok", `Connected · ${voiceCount} voices`);
  });
  // A file dropped outside the drop zone must not navigate the tab away from the studio.
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (event) => event.preventDefault());
  window.addEventListener("unhandledrejection", (event) => showError(event.reason));
  connect();
}

init();
