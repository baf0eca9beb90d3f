// Datasets: create, pick, drag-and-drop upload with progress, files, and the quality report.
import { listAll, request, uploadFile } from "./api.js";
import { renderDatasetReport } from "./report.js";
import { $, badge, clear, el, formatBytes, formatDate, guarded, newestFirst, setProgress } from "./ui.js";

const REPORT_POLL_MS = 2000;
const SELECTED_STORAGE = "voicesmith.dataset";

let datasets = [];
let selectedId = null;
let reportTimer = null;

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
  await Promise.all([loadFiles(), loadReport()]);
}

async function loadFiles() {
  const id = selectedId;
  const files = await listAll(`/datasets/${id}/files`);
  if (id !== selectedId) return;
  const rows = files.map((file) => el("tr", { dataset: { fileId: file.id } },
    el("td", { class: "name", text: file.filename }),
    el("td", { class: "num", text: formatBytes(file.size) }),
    el("td", { class: "muted", text: formatDate(file.created_at) }),
    el("td", { class: "actions" }, el("button", {
      type: "button", class: "small", title: "Remove this file from the dataset",
      on: { click: () => guarded("Removing a file", () => removeFile(id, file.id)) },
    }, "Remove")),
  ));
  const empty = el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No files yet: drop some recordings above." }));
  clear($("#file-rows"), ...(rows.length ? rows : [empty]));
}

async function removeFile(datasetId, fileId) {
  await request("DELETE", `/datasets/${datasetId}/files/${fileId}`);
  await Promise.all([loadFiles(), loadReport()]);
}

// The report is computed in the background after uploads; poll while it says "pending".
async function loadReport() {
  const id = selectedId;
  clearTimeout(reportTimer);
  const answer = await request("GET", `/datasets/${id}/report`);
  if (id !== selectedId) return;
  badge($("#report-status"), answer.status);
  renderDatasetReport($("#report-body"), answer);
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
    }
    doneBytes += file.size;
    showOverall(doneBytes / totalBytes);
  }
  overall.dataset.state = failures ? "partial" : "done";
  overallText.textContent = failures ? `${failures} of ${files.length} failed` : "100%";
}

export function initDatasets(onError) {
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
