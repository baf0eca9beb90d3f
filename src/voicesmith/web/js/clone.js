// Instant clone (POST /voices/clone): a clip recorded here or chosen as a file becomes a voice in seconds.
import { uploadFile } from "./api.js";
import { MicRecorder, NO_MICROPHONE, microphoneAvailable } from "./recorder.js";
import { $, guarded, setProgress } from "./ui.js";
import { loadVoices } from "./voices.js";

// The server clones from 5-30 s; a longer take is cut here rather than refused there.
const MAX_CLIP_S = 30;

let take = null;
let recorder = null;

export function initClone() {
  $("#clone-record").addEventListener("click", () => guarded("Recording", record));
  $("#clone-stop").addEventListener("click", () => recorder && recorder.stop());
  $("#clone-file").addEventListener("change", (event) => {
    const [file] = event.target.files;
    event.target.value = "";
    if (file) showTake(file);
  });
  $("#clone-discard").addEventListener("click", () => showTake(null));
  $("#clone-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("Cloning the voice", cloneTake);
  });
}

async function record() {
  const note = $("#clone-mic-note");
  note.hidden = true;
  if (!microphoneAvailable()) {
    note.textContent = NO_MICROPHONE;
    note.hidden = false;
    return;
  }
  showTake(null);
  const clock = $("#clone-clock");
  recorder = new MicRecorder("clone-clip", MAX_CLIP_S, (seconds) => {
    clock.textContent = `● ${seconds.toFixed(0)} s of ${MAX_CLIP_S} s`;
  });
  let recorded;
  try {
    ({ take: recorded } = await recorder.open());
  } catch (err) {
    recorder = null;
    note.textContent = err.message;
    note.hidden = false;
    return;
  }
  setRecording(true);
  const file = await recorded;
  recorder = null;
  setRecording(false);
  showTake(file);
}

function setRecording(recording) {
  $("#clone-record").hidden = recording;
  $("#clone-stop").hidden = !recording;
  $("#clone-clock").hidden = !recording;
}

function showTake(file) {
  take = file;
  const audio = $("#clone-audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.removeAttribute("src");
  $("#clone-take").hidden = !file;
  $("#clone-take").dataset.filename = file ? file.name : "";
  if (file) audio.src = URL.createObjectURL(file);
}

async function cloneTake() {
  if (!take) return;
  const bar = $("#clone-progress");
  const text = $("#clone-progress-text");
  $("#clone-sending").hidden = false;
  $("#clone-submit").disabled = true;
  setProgress(bar, 0);
  try {
    const fields = { name: $("#clone-name").value.trim(), language: $("#clone-language").value };
    const voice = await uploadFile("/voices/clone", take, fields, (loaded, total) => {
      const percent = setProgress(bar, total ? loaded / total : 0);
      // The upload is quick; fitting the voice to the clip takes the seconds after it.
      text.textContent = percent < 100 ? `sending ${percent}%` : "making the voice…";
    }, "clip");
    showTake(null);
    $("#clone-name").value = "";
    $("#voice-filter").value = "all";
    await loadVoices();
    const row = document.querySelector(`#voice-rows tr[data-voice-id="${CSS.escape(voice.id)}"]`);
    if (row) {
      row.classList.add("just-made");
      row.scrollIntoView({ block: "center" });
    }
  } finally {
    $("#clone-sending").hidden = true;
    $("#clone-submit").disabled = false;
  }
}
