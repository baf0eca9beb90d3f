// Instant clone (POST /voices/clone): a clip recorded here or chosen as a file becomes a voice in seconds.
import { uploadFile } from "./api.js";
import { TakePicker } from "./recorder.js";
import { $, guarded, setProgress } from "./ui.js";
import { loadVoices } from "./voices.js";

// The server clones from 5-30 s; a longer take is cut here rather than refused there.
const MAX_CLIP_S = 30;

let picker = null;

export function initClone() {
  picker = new TakePicker("clone", "clone-clip", MAX_CLIP_S);
  $("#clone-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("Cloning the voice", cloneTake);
  });
}

async function cloneTake() {
  if (!picker.file) return;
  const bar = $("#clone-progress");
  const text = $("#clone-progress-text");
  $("#clone-sending").hidden = false;
  $("#clone-submit").disabled = true;
  setProgress(bar, 0);
  try {
    const fields = { name: $("#clone-name").value.trim(), language: $("#clone-language").value };
    const voice = await uploadFile("/voices/clone", picker.file, fields, (loaded, total) => {
      const percent = setProgress(bar, total ? loaded / total : 0);
      // The upload is quick; fitting the voice to the clip takes the seconds after it.
      text.textContent = percent < 100 ? `sending ${percent}%` : "making the voice…";
    }, "clip");
    picker.show(null);
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
