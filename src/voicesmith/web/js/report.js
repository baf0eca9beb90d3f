// Human-readable views of the two reports the engine writes: the dataset quality report
// (engine/dataset_report.py) and the fine-tune evaluation report (engine/evaluate.py).
// Fields may be missing or null (older reports, languages without speech recognition): shown as "—".
import { clear, el, formatDuration, meter } from "./ui.js";

const isNum = Number.isFinite;
const similarity = (value) => (isNum(value) ? value.toFixed(3) : "—");
const decibels = (value) => (isNum(value) ? `${value.toFixed(0)} dB` : "—");
const lufs = (value) => (isNum(value) ? `${value.toFixed(1)} LUFS` : "—");
const hertz = (value) => (isNum(value) ? `${Math.round(value)} Hz` : "—");
const percent = (value) => (isNum(value) ? `${Math.round(value * 100)}%` : "—");
const seconds = (value) => (isNum(value) ? formatDuration(value) : "—");
const fixed = (value) => (isNum(value) ? value.toFixed(1) : "—");

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

// withFiles: false when the page lists the per-file verdicts in its own files table (no file is listed twice).
export function renderDatasetReport(container, { status, report, files: listed }, { withFiles = true } = {}) {
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
    withFiles ? fileTable(report, listed || []) : null);
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
export function voiceEntry(report, voice, index) {
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
    ["Decoder", decoderText((entry.details || {}).bespoke)],
  ]);
}

// Whether the voice speaks through the decoder trained on the recordings, and why not when it does not: the first
// guard half that refused it (reports made before `refused_by` have only the figures).
function decoderText(verdict) {
  if (!verdict) return null;
  if (verdict.used) return "trained on your recordings";
  const refused = verdict.refused_by
    || [verdict.guard_error > verdict.allowed ? "intelligibility" : "similarity"];
  if (refused[0] === "spectrum") {
    return `Kokoro's (the trained one's spectrum was further from your recordings: MFCC distance `
      + `${fixed(verdict.mfcc_frechet)}, ${fixed(verdict.searched_mfcc_frechet)} without it)`;
  }
  if (refused[0] === "intelligibility") {
    return `Kokoro's (the trained one was harder to understand: ${percent(verdict.guard_error)} errors, `
      + `${percent(verdict.searched_guard_error)} without it)`;
  }
  return `Kokoro's (the trained one sounded less like you: similarity ${similarity(verdict.similarity)}, `
    + `${similarity(verdict.searched_similarity)} without it)`;
}

// Usable speech against the minimum to train and the recommended amount, as one gauge.
export function renderSpeechGauge(container, report) {
  const usable = report && report.usable_seconds;
  container.hidden = !isNum(usable);
  if (!isNum(usable)) return;
  const minimum = report.min_usable_seconds;
  const recommended = report.recommended_usable_seconds;
  const top = Math.max(usable, recommended || 0, minimum || 0) * 1.1 || 1;
  const state = isNum(minimum) && usable < minimum ? "short" : isNum(recommended) && usable < recommended ? "enough" : "plenty";
  const words = { short: "below the minimum", enough: "enough to train", plenty: "at or above the recommendation" };
  const bar = meter(usable / top, "Usable speech", `${seconds(usable)}, ${words[state]}`, `gauge-bar ${state}`);
  bar.dataset.state = state;
  const mark = (value, label, cls) => {
    if (!isNum(value)) return null;
    const node = el("span", { class: `gauge-mark ${cls}`, title: `${label}: ${seconds(value)}` }, el("span", { text: `${label} ${seconds(value)}` }));
    node.style.left = `${Math.min(100, (value / top) * 100).toFixed(1)}%`;
    return node;
  };
  clear(container,
    el("div", { class: "gauge-head" }, el("strong", { text: "Usable speech " }), el("span", { class: "num", text: seconds(usable) }),
      el("span", { class: "muted", text: ` · ${words[state]}` })),
    el("div", { class: "gauge-track" }, bar, mark(minimum, "min", "min"), mark(recommended, "recommended", "rec")));
}

// One bar per voice on the floor-to-ceiling scale: 0% at the best stock voice, 100% at the speaker themself.
export function renderLikeness(container, report, voices) {
  const floor = (report.floor || {}).similarity;
  const ceiling = (report.ceiling || {}).similarity;
  if (!isNum(floor) || !isNum(ceiling) || ceiling <= floor) {
    clear(container, el("p", { class: "muted", text: "No likeness scale in this report." }));
    return;
  }
  // The scale shows a little below the floor, so a voice under it is still drawn.
  const low = floor - 0.25 * (ceiling - floor);
  const where = (value) => Math.max(0, Math.min(1, (value - low) / (ceiling - low)));
  const rows = voices.map((voice, index) => {
    const entry = voiceEntry(report, voice, index);
    const sim = entry.similarity;
    const gap = isNum(entry.gap_closed) ? entry.gap_closed : isNum(sim) ? (sim - floor) / (ceiling - floor) : null;
    return el("div", { class: "likeness-row", dataset: { voiceId: voice.id } },
      el("span", { class: "likeness-name", text: voice.name }),
      el("div", { class: "likeness-track" },
        meter(isNum(sim) ? where(sim) : 0, `Likeness of ${voice.name}`,
          isNum(gap) ? `${percent(gap)} of the way from the stock floor to the real speaker` : "not measured"),
        scaleMark(where(floor), "floor"), scaleMark(1, "ceiling")),
      el("span", { class: "likeness-value num", text: isNum(gap) ? percent(gap) : "—" }));
  });
  // The closest match the user did not get (the searched one the bespoke decoder replaced, or the bespoke one
  // the guard refused), on the same scale: what the decoder changed.
  const other = referenceVoice(report);
  if (other && isNum(other.entry.similarity)) {
    const { key, name, entry } = other;
    const gap = isNum(entry.gap_closed) ? entry.gap_closed : (entry.similarity - floor) / (ceiling - floor);
    rows.push(el("div", { class: "likeness-row reference", dataset: { reference: key } },
      el("span", { class: "likeness-name muted", text: name }),
      el("div", { class: "likeness-track" },
        meter(where(entry.similarity), `Likeness of ${name}`, `${percent(gap)} of the way from the stock floor to the real speaker`),
        scaleMark(where(floor), "floor"), scaleMark(1, "ceiling")),
      el("span", { class: "likeness-value num muted", text: percent(gap) })));
  }
  const floorVoice = (report.floor || {}).voice;
  clear(container,
    el("div", { class: "likeness-legend muted" },
      el("span", { class: "legend floor", text: `Floor: best stock voice${floorVoice ? ` (${floorVoice})` : ""}` }),
      el("span", { class: "legend ceiling", text: "Ceiling: the speaker vs themself" })),
    ...rows, ...otherMeasures(report, voices));
}

const REFERENCE_NAMES = {
  style_search_match: "Closest match, style search only",
  bespoke_match: "Closest match, trained decoder (not used)",
};

// {key, name, entry} of the closest match measured beside the voices, if the report has one.
function referenceVoice(report) {
  const key = Object.keys(REFERENCE_NAMES).find((k) => report[k]);
  return key ? { key, name: REFERENCE_NAMES[key], entry: report[key] } : null;
}

// The bars above are the measure the search optimised (Resemblyzer); these are checks it did not train on.
const OTHER_MEASURES = [
  ["mfcc_frechet", "Sound (MFCC)"], ["ltas_db", "Spectrum"], ["f0_semitones", "Pitch range"], ["quality_dnsmos", "Quality"],
];

function otherMeasures(report, voices) {
  const measures = OTHER_MEASURES.filter(([key]) => (report.likeness || {})[key]);
  if (!measures.length) return [];
  const header = el("tr", {}, el("th", { scope: "col", text: "Voice" }),
    ...measures.map(([key, label]) => el("th", { scope: "col", title: `${report.likeness[key].what}. Search: ${report.likeness[key].in_search}.`, text: label })));
  const cells = (found) => measures.map(([key]) => {
    const m = found[key] || {};
    const text = key === "quality_dnsmos" ? (isNum(m.value) ? m.value.toFixed(2) : "—") : (isNum(m.gap_closed) ? percent(m.gap_closed) : "—");
    return el("td", { class: "num", dataset: { measure: key }, text });
  });
  const rows = voices.map((voice, index) => el("tr", { dataset: { voiceId: voice.id } },
    el("th", { scope: "row", text: voice.name }), ...cells(voiceEntry(report, voice, index).likeness || {})));
  const other = referenceVoice(report);
  if (other) {
    rows.push(el("tr", { class: "reference", dataset: { reference: other.key } },
      el("th", { scope: "row", class: "muted", text: other.name }), ...cells(other.entry.likeness || {})));
  }
  const quality = report.likeness.quality_dnsmos;
  const note = "Measures the search did not optimise, on the same held-out sentences: the share of the gap closed "
    + "between the closest stock voice and the speaker on each"
    + (quality && isNum(quality.stock_mean) ? `; predicted quality out of 5 (stock voices ${quality.stock_mean.toFixed(2)}`
      + (isNum(quality.real_held_out) ? `, the real recordings ${quality.real_held_out.toFixed(2)})` : ")") : "") + ".";
  return [el("table", { id: "ft-other-measures", class: "list compact other-measures" },
    el("caption", { class: "muted", text: note }), el("thead", {}, header), el("tbody", {}, ...rows))];
}

function scaleMark(fraction, kind) {
  const node = el("span", { class: `scale-mark ${kind}`, "aria-hidden": "true" });
  node.style.left = `${(fraction * 100).toFixed(1)}%`;
  return node;
}

// Per held-out sentence: its words, the real recording, and each voice saying the same words, with the
// waveform of the real clip above the waveform of the last voice played, on one time scale.
// play(path, caption, who, button) is the page's player; it resolves to the clip it played (a Blob) or nothing.
export function renderAB(container, samples, voices, play) {
  if (!samples || !samples.length) {
    clear(container, el("p", { class: "muted", text: "This fine-tune stored no held-out samples (made by an older server)." }));
    return;
  }
  const names = new Map(voices.map((v) => [v.id, v.name]));
  clear(container, ...samples.map((sample) => {
    const waves = new WavePair(sample.text);
    const listen = (label, who, path) => abButton(label, who, path, `${label}: “${sample.text}”`, async (...args) => {
      const blob = await play(...args);
      if (blob) await waves.show(who === "real" ? "real" : "voice", label, blob);
    });
    return el("div", { class: "ab-sample", dataset: { index: String(sample.index) } },
      el("p", { class: "ab-text", text: `“${sample.text}”` }),
      el("div", { class: "ab-buttons", role: "group", "aria-label": `Listen to: ${sample.text}` },
        listen("Real speaker", "real", sample.real_audio_url),
        ...sample.voices.map((v) => listen(names.get(v.voice_id) || "voice", v.voice_id, v.audio_url))),
      waves.node);
  }));
}

function abButton(label, who, path, caption, play) {
  const button = el("button", { type: "button", class: who === "real" ? "ab real" : "ab", dataset: { who } }, `▶ ${label}`);
  button.addEventListener("click", () => play(path, caption, who, button));
  return button;
}

// Two waveform lanes (the real clip, a voice) drawn when each is played; both share the longer clip's time
// scale, so a voice that speaks faster or pauses elsewhere than the speaker shows it.
class WavePair {
  constructor(text) {
    this.clips = {};
    this.lanes = {};
    this.node = el("div", { class: "ab-waves" });
    for (const lane of ["real", "voice"]) {
      const canvas = el("canvas", { class: "wave", dataset: { lane }, role: "img", "aria-label": `Waveform: ${text}` });
      const label = el("span", { class: "wave-label muted" });
      const row = el("div", { class: "wave-lane", hidden: "" }, label, canvas);
      this.lanes[lane] = { canvas, label, row };
      this.node.append(row);
    }
  }

  async show(lane, label, blob) {
    const samples = await decodeMono(blob);
    if (!samples) return;
    this.clips[lane] = samples;
    this.lanes[lane].label.textContent = label;
    this.lanes[lane].row.hidden = false;
    const longest = Math.max(...Object.values(this.clips).map((c) => c.seconds));
    for (const [name, clip] of Object.entries(this.clips)) drawWave(this.lanes[name].canvas, clip, longest);
  }
}

async function decodeMono(blob) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null; // no Web Audio: the clip still plays, without its picture
  const context = new Context();
  try {
    const audio = await context.decodeAudioData(await blob.arrayBuffer());
    return { data: audio.getChannelData(0), seconds: audio.duration };
  } catch {
    return null;
  } finally {
    context.close();
  }
}

// The clip's min..max per pixel column, its length drawn to scale on `seconds` of width.
function drawWave(canvas, clip, seconds) {
  const scale = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * scale));
  const height = Math.max(1, Math.round(canvas.clientHeight * scale));
  canvas.width = width;
  canvas.height = height;
  canvas.dataset.seconds = clip.seconds.toFixed(3);
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  g.fillStyle = getComputedStyle(canvas).color;
  const used = Math.max(1, Math.round(width * (clip.seconds / seconds)));
  const perColumn = clip.data.length / used;
  const middle = height / 2;
  for (let x = 0; x < used; x += 1) {
    let low = 0;
    let high = 0;
    const end = Math.min(clip.data.length, Math.floor((x + 1) * perColumn));
    for (let i = Math.floor(x * perColumn); i < end; i += 1) {
      const v = clip.data[i];
      if (v < low) low = v;
      else if (v > high) high = v;
    }
    g.fillRect(x, middle - high * middle, 1, Math.max(1, (high - low) * middle));
  }
}
