// The speaker's consent for a dataset (docs/consent.md): a statement with a fresh code to read, the reading
// recorded here (MediaRecorder) or chosen as a file, sent for checking, and the server's verdict with its scores.
import { request, uploadFile } from "./api.js";
import { TakePicker } from "./recorder.js";
import { $, badge, clear, el, formatDate, formatDuration, guarded, meter, setProgress } from "./ui.js";

// The server checks the first 30 s; a statement takes about ten.
const MAX_RECORD_S = 30;
const POLICY_TEXT = {
  require: "This server trains only on speech whose speaker has consented: a fine-tune starts once the reading below verifies.",
  record: "This server records whether the speaker consented: voices made without a verified reading are marked Unverified.",
};

let datasetId = null;
let challenge = null;
let picker = null; // the reading to send: recorded here or chosen as a file
let expiryTimer = null;

export function initConsent() {
  document.addEventListener("dataset-selected", (event) => guarded("Consent", () => loadConsent(event.detail)));
  $("#consent-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("Consent statement", newChallenge);
  });
  picker = new TakePicker("consent", "consent-reading", MAX_RECORD_S);
  $("#consent-send").addEventListener("click", () => guarded("Checking the consent recording", sendTake));
}

async function loadConsent(id) {
  datasetId = id;
  picker.show(null);
  const state = await request("GET", `/datasets/${id}/consent`);
  if (id !== datasetId) return;
  render(state);
}

function render(state) {
  badge($("#consent-status"), state.consent);
  $("#consent-status").dataset.consent = state.consent;
  $("#consent-policy").textContent = POLICY_TEXT[state.policy] || "";
  const verified = state.consent === "verified";
  $("#consent-form").hidden = verified;
  showChallenge(verified ? null : state.challenge);
  const shown = verified ? state.attempts.find((a) => a.id === state.verified_attempt_id) : state.attempts[0];
  renderVerdict(shown || null);
}

async function newChallenge() {
  const name = $("#consent-name").value.trim();
  const id = datasetId;
  const fresh = await request("POST", `/datasets/${id}/consent-challenge`, { json: name ? { name } : {} });
  if (id !== datasetId) return;
  picker.show(null);
  showChallenge(fresh);
}

function showChallenge(next) {
  challenge = next;
  clearInterval(expiryTimer);
  $("#consent-challenge").hidden = !next;
  if (!next) return;
  $("#consent-statement").textContent = next.statement;
  const tick = () => {
    const left = (new Date(next.expires_at).getTime() - Date.now()) / 1000;
    const expired = left <= 0;
    $("#consent-expiry").textContent = expired
      ? "This statement has expired: get a new one."
      : `Valid for ${formatDuration(left)}.`;
    $("#consent-record").disabled = expired || picker.recording;
    if (expired) clearInterval(expiryTimer);
  };
  tick();
  expiryTimer = setInterval(tick, 1000);
}

async function sendTake() {
  if (!picker.file || !challenge) return;
  const id = datasetId;
  const bar = $("#consent-progress");
  const text = $("#consent-progress-text");
  $("#consent-sending").hidden = false;
  $("#consent-send").disabled = true;
  setProgress(bar, 0);
  try {
    const attempt = await uploadFile(`/datasets/${id}/consent`, picker.file, { challenge_id: challenge.id }, (loaded, total) => {
      const percent = setProgress(bar, total ? loaded / total : 0);
      // The upload is the short part; the words and the voice are checked once it has arrived.
      text.textContent = percent < 100 ? `sending ${percent}%` : "checking the words and the voice…";
    }, "clip");
    if (id !== datasetId) return;
    renderVerdict(attempt);
    if (attempt.verified) picker.show(null);
    const state = await request("GET", `/datasets/${id}/consent`);
    if (id === datasetId) render(state);
  } finally {
    $("#consent-sending").hidden = true;
    $("#consent-send").disabled = false;
  }
}

const percent = (value) => `${Math.round(value * 100)}%`;

// One attempt as the server scored it: the verdict in words, what Whisper heard, and the voice match
// against the threshold.
function renderVerdict(attempt) {
  const box = $("#consent-verdict");
  if (!attempt) {
    clear(box);
    delete box.dataset.attemptId;
    return;
  }
  const { text, speaker } = attempt;
  const similarity = Number.isFinite(speaker.similarity) ? speaker.similarity : null;
  const facts = [
    ["Words heard", text.transcript ? `“${text.transcript}”` : "—"],
    ["Code words", text.code_score === null ? "not checked" : `${percent(text.code_score)} heard${text.ok ? "" : " (all are needed)"}`],
    ["Voice match", similarity === null ? "not checked" : [
      meter(similarity, "Voice match with the dataset's speech", similarity.toFixed(2), `small ${speaker.ok ? "" : "low"}`),
      ` ${similarity.toFixed(2)} (needs ${speaker.threshold.toFixed(2)})`]],
    ["Recording", `${attempt.filename || "—"}${Number.isFinite(attempt.seconds) ? `, ${formatDuration(attempt.seconds)}` : ""}`],
    ["Checked", formatDate(attempt.created_at)],
  ];
  clear(box,
    el("p", { class: `verdict ${attempt.verified ? "ok" : "bad"}`, dataset: { verified: String(attempt.verified), reason: attempt.reason_code || "" } },
      attempt.verified ? "Consent verified" : "Not verified"),
    attempt.verified ? null : el("p", { class: "verdict-message", text: attempt.message }),
    el("dl", { class: "facts" }, facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)])),
  );
  box.dataset.attemptId = attempt.id;
}
