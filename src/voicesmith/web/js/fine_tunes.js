// Fine-tunes: start one, watch it live (status, stage, progress, ETA), cancel it, and hear its voices.
import { ApiError, MODEL_ID, listAll, request } from "./api.js";
import { currentDatasets, selectedDatasetId } from "./datasets.js";
import { playStored } from "./player.js";
import { renderAB, renderFineTuneSummary, renderLikeness, voiceFigures } from "./report.js";
import { $, badge, clear, confirmAction, el, formatDuration, guarded, newestFirst, setProgress, showError } from "./ui.js";
import { consentBadge, loadVoices, playButton, tryButton } from "./voices.js";

// What each budget is for; its expected time comes from the server, measured on its own fine-tunes
// (GET /datasets/{id}/fine-tune-estimate).
export const BUDGETS = {
  tiny: { label: "Tiny", what: "to try the workflow; the voices are rougher" },
  default: { label: "Default", what: "the closest voices for most recordings" },
  max: { label: "Max", what: "the longest search, for long recordings" },
};

const POLL_MS = 1000;
const RETRY_MS = 5000;
const STAGES = ["ingest", "segment", "transcribe", "adapt", "evaluate"];
const ACTIVE = new Set(["created", "training"]);
const SELECTED_STORAGE = "voicesmith.fineTune";

let fineTunes = [];
let selectedId = null;
let pollTimer = null;
let resultsShownFor = null;
let shownStatus = null;

function optionLabel(ft) {
  return `${ft.name} (${ft.status})`;
}

export async function loadFineTunes(preferId) {
  fineTunes = newestFirst(await listAll("/fine-tunes"));
  const select = $("#fine-tune-select");
  clear(select, ...fineTunes.map((ft) => el("option", { value: ft.id, text: optionLabel(ft) })));
  if (!fineTunes.length) select.append(el("option", { value: "", text: "No fine-tunes yet" }));
  const wanted = preferId || selectedId || localStorage.getItem(SELECTED_STORAGE);
  const pick = fineTunes.find((ft) => ft.id === wanted) || fineTunes[0];
  await selectFineTune(pick ? pick.id : null);
}

async function selectFineTune(id) {
  clearTimeout(pollTimer);
  selectedId = id;
  resultsShownFor = null;
  $("#ft-detail").hidden = !id;
  $("#ft-results").hidden = true;
  if (!id) return;
  localStorage.setItem(SELECTED_STORAGE, id);
  $("#fine-tune-select").value = id;
  await refresh();
}

// One poll: GET the fine-tune, draw it, and poll again while it is still queued or training.
async function refresh() {
  const id = selectedId;
  clearTimeout(pollTimer);
  let ft;
  try {
    ft = await request("GET", `/fine-tunes/${id}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      // Deleted elsewhere (CLI, another tab): drop it from the page.
      await loadFineTunes();
      return;
    }
    throw err;
  }
  if (id !== selectedId) return;
  render(ft);
  if (ACTIVE.has(ft.status)) {
    pollTimer = setTimeout(() => poll(id), POLL_MS);
  } else if (ft.status === "completed" && resultsShownFor !== id) {
    await showResults(ft);
    resultsShownFor = id;
  }
}

// A failed poll (server restarting, network blip) is shown, then retried more slowly.
async function poll(id) {
  try {
    await refresh();
  } catch (err) {
    showError(err, "Watching the fine-tune");
    if (id === selectedId) pollTimer = setTimeout(() => poll(id), RETRY_MS);
  }
}

// eta_seconds was the estimate when the worker last reported (updated_at): count down from there,
// so a long stretch without reports does not leave a frozen "1 min left" on screen.
function etaText(ft) {
  if (!Number.isFinite(ft.eta_seconds)) return "";
  const reported = Date.parse(ft.updated_at);
  const elapsed = Number.isNaN(reported) ? 0 : Math.max(0, (Date.now() - reported) / 1000);
  const left = ft.eta_seconds - elapsed;
  return left > 0 ? `about ${formatDuration(left)} left` : "taking longer than estimated…";
}

function render(ft) {
  shownStatus = ft.status;
  $("#ft-title").textContent = ft.name;
  badge($("#ft-status"), ft.status);
  const progress = ft.status === "completed" ? 1 : ft.progress || 0;
  $("#ft-percent").textContent = `${setProgress($("#ft-progress"), progress)}%`;
  $("#ft-progress").dataset.status = ft.status;
  const waiting = { created: "queued", training: "starting" };
  $("#ft-stage").textContent = ft.stage || waiting[ft.status] || "—";
  $("#ft-stage").dataset.stage = ft.stage || "";
  $("#ft-eta").textContent = ACTIVE.has(ft.status) ? etaText(ft) : "";
  const current = STAGES.indexOf(ft.stage);
  const here = ft.status === "failed" ? "failed" : "current";
  for (const item of $("#ft-stages").children) {
    const index = STAGES.indexOf(item.dataset.stage);
    item.dataset.state = ft.status === "completed" || index < current ? "done" : index === current ? here : "";
  }
  const errorBox = $("#ft-error");
  errorBox.hidden = !(ft.status === "failed" && (ft.error || ft.error_code));
  clear(errorBox, el("strong", { text: "Training failed" }),
    el("span", { text: ft.error || "" }),
    ft.error_code ? el("code", { text: ft.error_code }) : null);
  $("#ft-cancel").textContent = ACTIVE.has(ft.status) ? "Cancel…" : "Delete…";
  const option = $(`#fine-tune-select option[value="${CSS.escape(ft.id)}"]`);
  if (option) option.textContent = optionLabel(ft);
}

async function showResults(ft) {
  const [voices, answer] = await Promise.all([
    listAll(`/fine-tunes/${ft.id}/voices`),
    request("GET", `/fine-tunes/${ft.id}/report`),
  ]);
  renderResults(voices, answer.report || {}, answer.samples || []);
  // The new voices belong in the library list too.
  await loadVoices();
}

// The finished fine-tune: its report's scale, then one card per voice with its figures and Play.
export function renderResults(voices, report, samples = []) {
  renderLikeness($("#ft-likeness"), report, voices);
  renderAB($("#ft-ab"), samples, voices, playStored);
  renderFineTuneSummary($("#ft-summary"), report);
  clear($("#ft-voices"), ...voices.map((voice, index) => el("div", { class: "voice-card", dataset: { voiceId: voice.id } },
    el("div", { class: "voice-card-head" }, el("strong", { text: voice.name }),
      el("span", { class: "voice-card-actions" }, consentBadge(voice), " ", playButton(voice), tryButton(voice))),
    el("p", { class: "muted", text: voice.description || "" }),
    voiceFigures(report, voice, index),
  )));
  $("#ft-report-json").textContent = JSON.stringify(report, null, 2);
  $("#ft-results").hidden = false;
}

// DELETE cancels a running fine-tune (and releases its credits) or deletes a finished one: asked first.
async function cancelSelected() {
  const id = selectedId;
  const ft = fineTunes.find((f) => f.id === id);
  const running = ACTIVE.has(shownStatus);
  const name = $("#ft-title").textContent || (ft && ft.name) || id;
  const sure = await confirmAction({
    title: running ? `Cancel “${name}”?` : `Delete “${name}”?`,
    body: running
      ? ["Training stops within seconds and its reserved credits are given back. This cannot be undone."]
      : ["The fine-tune and its report are removed. The voices it made stay in your library."],
    yes: running ? "Cancel the fine-tune" : "Delete the fine-tune",
    danger: true,
  });
  if (!sure || id !== selectedId) return;
  clearTimeout(pollTimer);
  try {
    await request("DELETE", `/fine-tunes/${id}`);
  } catch (err) {
    if (ACTIVE.has(shownStatus)) pollTimer = setTimeout(() => poll(id), POLL_MS); // keep watching it
    throw err;
  }
  selectedId = null;
  localStorage.removeItem(SELECTED_STORAGE);
  await loadFineTunes();
}

// Before anything is reserved: the price, the balance, the budget and its expected time, then a confirmation.
function aboutMinutes(seconds) {
  const minutes = Math.max(1, Math.round(seconds / 60));
  return `about ${minutes} minute${minutes === 1 ? "" : "s"}`;
}

function expectedTime(estimate, budget) {
  const seconds = estimate.budgets[budget]?.expected_seconds;
  if (!Number.isFinite(seconds)) return `not known yet: ${estimate.message}`;
  return `${aboutMinutes(seconds)} of training on this server (${estimate.message})`;
}

const fetchEstimate = (datasetId) => request("GET", `/datasets/${encodeURIComponent(datasetId)}/fine-tune-estimate`);

// The budget choices say how long each takes on this dataset here; plain names until that is known.
async function labelBudgets() {
  const datasetId = $("#ft-dataset").value;
  let estimate = null;
  if (datasetId) {
    try { estimate = await fetchEstimate(datasetId); } catch { estimate = null; }
  }
  if ($("#ft-dataset").value !== datasetId) return; // another dataset was chosen meanwhile
  for (const option of $("#ft-budget").options) {
    const seconds = estimate?.budgets[option.value]?.expected_seconds;
    const label = BUDGETS[option.value].label;
    option.textContent = Number.isFinite(seconds) ? `${label} · ${aboutMinutes(seconds)}` : label;
  }
}

async function confirmStart(body) {
  const [balance, estimate] = await Promise.all([request("GET", "/usage/balance"), fetchEstimate(body.dataset)]);
  const budget = BUDGETS[body.budget] || BUDGETS.default;
  const dataset = currentDatasets().find((d) => d.id === body.dataset);
  const enough = balance.available >= balance.fine_tune_cost;
  const credits = (n) => `${Number(n).toLocaleString("en")} credits`;
  const facts = el("dl", { class: "facts confirm-facts" },
    el("dt", { text: "Voice name" }), el("dd", { text: body.name }),
    el("dt", { text: "Dataset" }), el("dd", { text: dataset ? dataset.name : body.dataset }),
    el("dt", { text: "Budget" }), el("dd", { id: "confirm-budget", dataset: { budget: body.budget }, text: `${budget.label}: ${budget.what}` }),
    el("dt", { text: "Expected time" }), el("dd", { id: "confirm-time", dataset: { seconds: String(estimate.budgets[body.budget]?.expected_seconds ?? "") }, text: expectedTime(estimate, body.budget) }),
    el("dt", { text: "Price" }), el("dd", { id: "confirm-price", text: `${credits(balance.fine_tune_cost)}, reserved now, charged only if it completes` }),
    el("dt", { text: "Your balance" }), el("dd", { id: "confirm-balance", text: `${credits(balance.available)} available` + (balance.reserved ? ` (${credits(balance.reserved)} reserved by running fine-tunes)` : "") }));
  if (!enough) {
    await confirmAction({ title: "Not enough credits", body: [facts, "Ask the server's operator to add credits (voicesmith credits add)."], yes: "OK" });
    return false;
  }
  return confirmAction({ title: "Start this fine-tune?", body: [facts, "You can cancel it while it trains; cancelling gives the credits back."], yes: `Start (${credits(balance.fine_tune_cost)})` });
}

function fillDatasetChoices() {
  const select = $("#ft-dataset");
  const previous = select.value || selectedDatasetId();
  clear(select, ...currentDatasets().map((d) => el("option", { value: d.id, text: d.name })));
  if (previous) select.value = previous;
  labelBudgets();
}

export function initFineTunes(onError) {
  $("#fine-tune-select").addEventListener("change", (e) => selectFineTune(e.target.value).catch(onError));
  $("#ft-cancel").addEventListener("click", () => guarded("Cancelling", cancelSelected));
  document.addEventListener("datasets-changed", fillDatasetChoices);
  document.addEventListener("dataset-selected", (e) => { $("#ft-dataset").value = e.detail; labelBudgets(); });
  $("#ft-dataset").addEventListener("change", labelBudgets);
  // The dataset may have been analysed (or a fine-tune finished, changing the pace) since the labels were made.
  window.addEventListener("hashchange", () => { if (window.location.hash === "#fine-tunes") labelBudgets(); });
  $("#fine-tune-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("Starting the fine-tune", async () => {
      const body = {
        name: $("#ft-name").value.trim(),
        description: $("#ft-description").value.trim(),
        language: $("#ft-language").value,
        model_id: MODEL_ID,
        dataset: $("#ft-dataset").value,
        budget: $("#ft-budget").value,
      };
      if (!(await confirmStart(body))) return;
      const created = await request("POST", "/fine-tunes", { json: body });
      $("#ft-name").value = "";
      $("#ft-description").value = "";
      await loadFineTunes(created.id);
      $("#ft-detail").scrollIntoView({ behavior: "smooth", block: "nearest" });
    });
  });
}
