// Datasets: create, pick, drag-and-drop upload with progress, files, and the quality report.
import { listAll, request, uploadFile } from "./api.js";
import { playStored } from "./player.js";
import { renderDatasetReport, renderSpeechGauge } from "./report.js";
import { $, badge, clear, confirmAction, el, formatBytes, formatDuration, guarded, meter, newestFirst, setProgress } from "./ui.js";

const REPORT_POLL_MS = 2000;
const SELECTED_STORAGE = "voicesmith.dataset";

let datasets = [];
let selectedId = null;
let reportTimer = null;
let shownFiles = [];
let shownAnalyses = new Map(); // file id -> that file's analysis (from the quality report)

export function currentDatasets() {
  return datasets;
}

export function selectedDatasetId() {
  return selectedId;
}

export async function loadDatasets(preferId) {
  datasets = newestFirst(await listAll("/datasets"));
  const select = $("#dataset-select");
  clear(select, ...datasets.map((d) => el("option", { value: d.id, text: d.name })));
  if (!datasets.length) select.append(el("option", { value: "", text: "No datasets yet" }));
  document.dispatchEvent(new CustomEvent("datasets-changed"));
  const wanted = preferId || selectedId || localStorage.getItem(SELECTED_STORAGE);
  const pick = datasets.find((d) => d.id === wanted) || datasets[0];
  await selectDataset(pick ? pick.id : null);
}

async function selectDataset(id) {
  selectedId = id;
  clearTimeout(reportTimer);
  $("#dataset-detail").hidden = !id;
  if (!id) return;
  localStorage.setItem(SELECTED_STORAGE, id);
  $("#dataset-select").value = id;
  document.dispatchEvent(new CustomEvent("dataset-selected", { detail: id }));
  clear($("#upload-rows"));
  $("#upload-panel").hidden = true;
  shownFiles = [];
  shownAnalyses = new Map();
  await Promise.all([loadFiles(), loadReport()]);
}

async function loadFiles() {
  const id = selectedId;
  const files = await listAll(`/datasets/${id}/files`);
  if (id !== selectedId) return;
  shownFiles = files;
  renderFiles();
}

const isNum = Number.isFinite;

// One table of the dataset's files: each playable, with its verdict, length, SNR and pitch once analysed.
function renderFiles() {
  const id = selectedId;
  const longest = Math.max(1, ...[...shownAnalyses.values()].map((a) => a.duration_seconds || 0));
  const rows = shownFiles.map((file) => {
    const a = shownAnalyses.get(file.id) || file.analysis || null;
    const transcript = /\.txt$|^metadata\.csv$/i.test(file.filename);
    const verdict = a ? a.verdict || "—" : transcript ? "transcript" : "analysing";
    const reasons = a && Array.isArray(a.reasons) ? a.reasons.map((r) => (r && r.message) || String(r)).join(" ") : "";
    return el("tr", { dataset: { fileId: file.id } },
      el("td", { class: "name" }, el("span", { text: file.filename }),
        el("span", { class: "file-meta muted", text: ` ${formatBytes(file.size)}` }),
        reasons ? el("div", { class: "file-notes", text: reasons }) : null),
      el("td", {}, el("span", { class: "tag", dataset: { verdict }, text: verdict })),
      el("td", { class: "bar-cell" }, a && isNum(a.duration_seconds) ? [
        meter(a.duration_seconds / longest, `Length of ${file.filename}`, formatDuration(a.duration_seconds), "small"),
        el("span", { class: "num", text: formatDuration(a.duration_seconds) })] : "—"),
      el("td", { class: "bar-cell col-snr" }, a && isNum(a.snr_db) ? [
        meter(a.snr_db / 40, `Signal to noise of ${file.filename}`, `${Math.round(a.snr_db)} dB`, `small snr ${a.snr_db < 15 ? "low" : ""}`),
        el("span", { class: "num", text: `${Math.round(a.snr_db)} dB` })] : "—"),
      el("td", { class: "num col-pitch", text: a && isNum(a.f0_median_hz) ? `${Math.round(a.f0_median_hz)} Hz` : "—" }),
      el("td", { class: "actions" },
        transcript ? null : el("button", {
          type: "button", class: "play small", "aria-label": `Play ${file.filename}`,
          on: { click: (event) => playStored(`/datasets/${id}/files/${file.id}/audio`, file.filename, file.id, event.currentTarget) },
        }, "▶ Play"),
        el("button", {
          type: "button", class: "small", "aria-label": `Remove ${file.filename}`, title: "Remove this file from the dataset",
          on: { click: () => guarded("Removing a file", () => removeFile(id, file)) },
        }, "Remove")),
    );
  });
  const empty = el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No files yet: drop some recordings above." }));
  clear($("#file-rows"), ...(rows.length ? rows : [empty]));
}

async function removeFile(datasetId, file) {
  const sure = await confirmAction({ title: `Remove “${file.filename}”?`, body: ["The recording is deleted from the server."],
    yes: "Remove the file", danger: true });
  if (!sure) return;
  await request("DELETE", `/datasets/${datasetId}/files/${file.id}`);
  await Promise.all([loadFiles(), loadReport()]);
}

// The report is computed in the background after uploads; poll while it says "pending".
async function loadReport() {
  const id = selectedId;
  clearTimeout(reportTimer);
  const answer = await request("GET", `/datasets/${id}/report`);
  if (id !== selectedId) return;
  badge($("#report-status"), answer.status);
  renderDatasetReport($("#report-body"), answer, { withFiles: false });
  renderSpeechGauge($("#speech-gauge"), answer.report);
  const perFile = answer.report && Array.isArray(answer.report.files) ? answer.report.files
    : (answer.files || []).filter((f) => f.analysis).map((f) => ({ file_id: f.id, ...f.analysis }));
  shownAnalyses = new Map(perFile.filter((a) => a.file_id).map((a) => [a.file_id, a]));
  renderFiles();
  if (answer.status === "pending") {
    reportTimer = setTimeout(() => guarded("Quality report", loadReport), REPORT_POLL_MS);
  }
}

function uploadRow(file) {
  const bar = el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" },
    el("div", { class: "fill" }));
  const status = el("span", { class: "upload-state num", text: "waiting" });
  const row = el("li", { dataset: { state: "waiting" } },
    el("span", { class: "name", text: file.name }), el("span", { class: "muted num", text: formatBytes(file.size) }), bar, status);
  return { row, bar, status };
}

// Uploads one file at a time: per-file bars plus an overall bar weighted by bytes.
async function uploadAll(fileList) {
  const id = selectedId;
  const files = Array.from(fileList);
  if (!id || !files.length) return;
  const rows = files.map(uploadRow);
  clear($("#upload-rows"), ...rows.map((r) => r.row));
  $("#upload-panel").hidden = false;
  // The bars belong to this dataset: no switching to another one until its uploads are done.
  $("#dataset-select").disabled = true;
  try {
    await uploadEach(id, files, rows);
  } finally {
    $("#dataset-select").disabled = false;
  }
  if (id === selectedId) await Promise.all([loadFiles(), loadReport()]);
}

async function uploadEach(id, files, rows) {
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0) || 1;
  const overall = $("#upload-overall");
  const overallText = $("#upload-overall-text");
  let doneBytes = 0;
  let failures = 0;
  const showOverall = (fraction) => { overallText.textContent = `${setProgress(overall, fraction)}%`; };
  overall.dataset.state = "";
  showOverall(0);
  for (const [index, file] of files.entries()) {
    const { row, bar, status } = rows[index];
    row.dataset.state = "uploading";
    const upload = uploadFile(`/datasets/${id}/files`, file, { purpose: "fine_tune" }, (loaded, total) => {
      // 100% means stored by the server, so bytes sent (but not yet acknowledged) stop at 99%.
      const fraction = Math.min(total ? loaded / total : 0, 0.99);
      const percent = setProgress(bar, fraction);
      status.textContent = loaded >= total ? "saving…" : `${percent}%`;
      showOverall((doneBytes + fraction * file.size) / totalBytes);
    });
    try {
      await upload;
      setProgress(bar, 1);
      bar.dataset.state = "done";
      row.dataset.state = "done";
      status.textContent = "uploaded";
    } catch (err) {
      failures += 1;
      row.dataset.state = "failed";
      status.textContent = err.message;
      status.title = [err.code, err.title].filter(Boolean).join(": ");
      row.dataset.code = err.code || "";
    }
    doneBytes += file.size;
    showOverall(doneBytes / totalBytes);
  }
  overall.dataset.state = failures ? "partial" : "done";
  overallText.textContent = failures ? `${failures} of ${files.length} failed` : "100%";
}

async function deleteSelected() {
  const ds = datasets.find((d) => d.id === selectedId);
  if (!ds) return;
  const sure = await confirmAction({ title: `Delete “${ds.name}”?`,
    body: ["The dataset and every recording in it are deleted from the server. Voices already made from it stay."],
    yes: "Delete the dataset", danger: true });
  if (!sure) return;
  await request("DELETE", `/datasets/${ds.id}`);
  selectedId = null;
  localStorage.removeItem(SELECTED_STORAGE);
  await loadDatasets();
}

export function initDatasets(onError) {
  $("#dataset-delete").addEventListener("click", () => guarded("Deleting the dataset", deleteSelected));
  $("#dataset-select").addEventListener("change", (e) => selectDataset(e.target.value).catch(onError));
  $("#dataset-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("Creating a dataset", async () => {
      const name = $("#dataset-name").value.trim();
      const created = await request("POST", "/datasets", {
        json: { name, description: $("#dataset-description").value.trim() },
      });
      $("#dataset-form").reset();
      await loadDatasets(created.id);
    });
  });
  const input = $("#file-input");
  input.addEventListener("change", () => {
    const files = Array.from(input.files);
    input.value = ""; // so choosing the same file again fires "change" again
    guarded("Uploading", () => uploadAll(files));
  });
  const zone = $("#drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    guarded("Uploading", () => uploadAll(event.dataTransfer.files));
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") input.click();
  });
}
