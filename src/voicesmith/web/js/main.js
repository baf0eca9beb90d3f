// Entry point: the API key form, then every panel loads through the public API with that key.
import { getKey, setKey } from "./api.js";
import { initDatasets, loadDatasets } from "./datasets.js";
import { initFineTunes, loadFineTunes } from "./fine_tunes.js";
import { $, clearErrors, showError } from "./ui.js";
import { initVoices, loadVoices } from "./voices.js";

function setConnection(state, text) {
  const status = $("#conn-status");
  status.dataset.state = state;
  status.textContent = text;
  $("#key-hint").hidden = state === "ok";
  for (const id of ["#voices", "#datasets", "#fine-tunes"]) $(id).classList.toggle("locked", state !== "ok");
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
    setConnection("ok", `Connected · ${voices.length} voices`);
    await loadDatasets();
    await loadFineTunes();
  } catch (err) {
    const rejected = err.status === 401 || err.status === 403;
    setConnection("error", rejected ? "Key rejected" : "Not connected");
    showError(err, rejected ? "The API key was not accepted" : "Loading the studio");
  }
}

function init() {
  const onError = (err) => showError(err);
  initVoices(onError);
  initDatasets(onError);
  initFineTunes(onError);
  const input = $("#api-key");
  input.value = getKey();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey(input.value.trim());
    connect();
  });
  // A file dropped outside the drop zone must not navigate the tab away from the studio.
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (event) => event.preventDefault());
  window.addEventListener("unhandledrejection", (event) => showError(event.reason));
  connect();
}

init();
