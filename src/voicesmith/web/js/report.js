// Human-readable views of the two reports the engine writes: the dataset quality report
// (engine/dataset_report.py) and the fine-tune evaluation report (engine/evaluate.py).
// Fields may be missing or null (older reports, languages without speech recognition): shown as "—".
import { clear, el, formatDuration } from "./ui.js";

const isNum = Number.isFinite;
const similarity = (value) => (isNum(value) ? value.toFixed(3) : "—");
const decibels = (value) => (isNum(value) ? `${value.toFixed(0)} dB` : "—");
const lufs = (value) => (isNum(value) ? `${value.toFixed(1)} LUFS` : "—");
const hertz = (value) => (isNum(value) ? `${Math.round(value)} Hz` : "—");
const percent = (value) => (isNum(value) ? `${Math.round(value * 100)}%` : "—");
const seconds = (value) => (isNum(value) ? formatDuration(value) : "—");

// A reason is {code, severity, message} (or, from older workers, a plain string).
function reasonItem(reason) {
  if (reason && typeof reason === "object") {
    return el("li", { title: reason.code || "", dataset: { severity: reason.severity || "" },
      text: reason.message || reason.code });
  }
  return el("li", { text: String(reason) });
}

function reasonList(reasons) {
  return reasons && reasons.length ? el("ul", { class: "reasons" }, reasons.map(reasonItem)) : null;
}

// <dl> of [label, text] pairs; pairs whose text is null are left out.
function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, text]) => text !== null)
    .flatMap(([label, text]) => [el("dt", { text: label }), el("dd", { text })]));
}

// The text when the value is there, else null (so facts() skips the row).
function when(value, text) {
  return value === undefined || value === null ? null : text;
}

export function renderDatasetReport(container, { status, report, files: listed }) {
  if (!report) {
    const text = status === "failed"
      ? "The analysis failed; re-upload the files or check the server log."
      : "Analysing the recordings… the report appears here when it is ready.";
    clear(container, el("p", { class: "muted", text }));
    return;
  }
  const ok = Boolean(report.ok_to_train);
  const summary = report.summary || {};
  const pitchRange = isNum(summary.f0_p5_hz) && isNum(summary.f0_p95_hz)
    ? ` (${Math.round(summary.f0_p5_hz)}–${Math.round(summary.f0_p95_hz)} Hz)` : "";
  const rates = [summary.min_sample_rate, summary.max_sample_rate].filter(isNum);
  clear(container,
    el("p", { class: ok ? "verdict ok" : "verdict bad", dataset: { ok: String(ok) } },
      ok ? "Ready to train" : "Not ready to train"),
    // When training is refused, the message is the first reason: the reason list says it.
    ok && report.message ? el("p", { class: "verdict-message", text: report.message }) : null,
    facts([
      ["Usable speech", when(report.usable_seconds, seconds(report.usable_seconds))],
      ["Speech / total", when(report.total_seconds, `${seconds(report.speech_seconds)} of ${seconds(report.total_seconds)}`)],
      ["Minimum to train", when(report.min_usable_seconds, seconds(report.min_usable_seconds))],
      ["Files", when(report.file_count, `${report.file_count} (${report.rejected_file_count || 0} rejected)`)],
      ["Median SNR", when(summary.snr_db_median, decibels(summary.snr_db_median))],
      ["Median loudness", when(summary.loudness_lufs_median, lufs(summary.loudness_lufs_median))],
      ["Pitch", when(summary.f0_median_hz, hertz(summary.f0_median_hz) + pitchRange)],
      ["Sample rate", rates.length ? [...new Set(rates)].map((r) => `${r / 1000} kHz`).join("–") : null],
    ]),
    report.recommendation ? el("p", { class: "muted", text: report.recommendation }) : null,
    ok ? null : reasonList(report.reasons),
    fileTable(report, listed || []));
}

// Per-file verdicts: in the report once built, else each listed file's own analysis so far.
function fileTable(report, listed) {
  const names = new Map(listed.map((f) => [f.id, f.filename]));
  const files = Array.isArray(report.files) ? report.files
    : listed.filter((f) => f.analysis).map((f) => ({ file_id: f.id, ...f.analysis }));
  if (!files.length) return null;
  const rows = files.map((f) => {
    const verdict = f.verdict || "—";
    return el("tr", {},
      el("td", { class: "name", text: names.get(f.file_id) || f.filename || "" }),
      el("td", {}, el("span", { class: "tag", dataset: { verdict }, text: verdict })),
      el("td", { class: "num", text: seconds(f.duration_seconds) }),
      el("td", { class: "num", text: seconds(f.usable_seconds) }),
      el("td", { class: "num", text: decibels(f.snr_db) }),
      el("td", { class: "num", text: lufs(f.loudness_lufs) }),
      el("td", { class: "num", text: hertz(f.f0_median_hz) }),
      el("td", { class: "notes" }, reasonList(f.reasons)),
    );
  });
  return el("table", { class: "list compact" },
    el("thead", {}, el("tr", {}, ["File", "Verdict", "Length", "Usable", "SNR", "Loudness", "Pitch", "Notes"]
      .map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
}

// The fine-tune report as a whole: the scale (floor, ceiling) and the speaker's own figures.
export function renderFineTuneSummary(container, report) {
  const floor = report.floor || {};
  const ceiling = report.ceiling || {};
  const start = report.start_point || {};
  const speaker = report.speaker || {};
  clear(container,
    el("p", { class: "muted" }, "Measured on ", String(report.held_out_utterances ?? "—"),
      " held-out utterances the voices never trained on",
      isNum(report.comparison_rate_hz) ? `, compared at ${report.comparison_rate_hz / 1000} kHz.` : "."),
    facts([
      [`Floor: best stock voice${floor.voice ? ` (${floor.voice})` : ""}`, when(floor.similarity, similarity(floor.similarity))],
      ["Ceiling: the speaker vs themself", when(ceiling.similarity, similarity(ceiling.similarity))],
      [`Start point${start.what ? ` (${start.what})` : ""}`,
        when(start.similarity, `${similarity(start.similarity)}, gap closed ${percent(start.gap_closed)}`)],
      ["Speaker's median pitch", when(speaker.f0_median_hz, hertz(speaker.f0_median_hz))],
      ["WER of the real recordings", when(speaker.real_wer, percent(speaker.real_wer))],
    ]),
    report.wer_note ? el("p", { class: "muted", text: report.wer_note }) : null);
}

// The report's entry for one voice: by voice id if the server recorded it, else by name, else by position.
function voiceEntry(report, voice, index) {
  const entries = Array.isArray(report.voices) ? report.voices : [];
  return entries.find((e) => e.voice_id === voice.id) || entries.find((e) => e.name === voice.name)
    || entries[index] || {};
}

// Figures for one voice card, each beside the speaker's own where the report has it.
export function voiceFigures(report, voice, index) {
  const entry = voiceEntry(report, voice, index);
  const speaker = report.speaker || {};
  return facts([
    ["Similarity", similarity(entry.similarity)],
    ["Gap closed", percent(entry.gap_closed)],
    ["WER", isNum(speaker.real_wer) ? `${percent(entry.wer)} (real ${percent(speaker.real_wer)})` : percent(entry.wer)],
    ["Pitch", isNum(speaker.f0_median_hz) ? `${hertz(entry.f0_median_hz)} (real ${Math.round(speaker.f0_median_hz)})` : hertz(entry.f0_median_hz)],
  ]);
}
