// The one <audio> player at the bottom: a voice speaking the sample text (POST /tts/bytes), or any stored clip
// (an uploaded recording, a held-out sentence, a voice's take on it) fetched with the key and played as a blob.
import { MODEL_ID, fetchAudio, request } from "./api.js";
import { $, guarded } from "./ui.js";

let currentUrl = null;

function sampleText() {
  return $("#sample-text").value.trim();
}

// Points the player at a blob and plays it; `who` says what is playing (caption and data-playing).
export function playBlob(blob, caption, who = "") {
  const player = $("#player");
  if (currentUrl) URL.revokeObjectURL(currentUrl); // free the previous clip's memory
  currentUrl = URL.createObjectURL(blob);
  player.src = currentUrl;
  player.dataset.playing = who;
  $("#player-caption").textContent = caption;
  // Browsers may refuse autoplay; the controls still let the user press play.
  player.play().catch(() => {});
}

// Plays a clip stored on the server (GET path with the key); the button is busy while it loads.
// Resolves to the clip (a Blob), or undefined when it could not be loaded.
export async function playStored(path, caption, who, button) {
  if (button) button.disabled = true;
  $("#player-caption").textContent = `Loading ${caption}…`;
  const blob = await guarded(`Playing ${caption}`, () => fetchAudio(path));
  if (button) button.disabled = false;
  if (blob) playBlob(blob, `Now playing: ${caption}`, who);
  else $("#player-caption").textContent = "Could not load the clip (see the error above).";
  return blob;
}

export async function speak(voice, button) {
  const caption = $("#player-caption");
  const transcript = sampleText();
  if (!transcript) {
    caption.textContent = "Type some sample text first.";
    return;
  }
  if (button) button.disabled = true;
  caption.textContent = `Synthesizing “${voice.name}”…`;
  const blob = await guarded(`Speaking with ${voice.name}`, () => request("POST", "/tts/bytes", {
    json: {
      model_id: MODEL_ID,
      transcript,
      voice: { mode: "id", id: voice.id },
      language: $("#sample-language").value,
      output_format: { container: "wav", encoding: "pcm_s16le", sample_rate: 24000 },
    },
    asBlob: true,
  }));
  if (button) button.disabled = false;
  if (!blob) {
    caption.textContent = "Synthesis failed (see the error above).";
    return;
  }
  $("#player").dataset.voiceId = voice.id;
  playBlob(blob, `Now playing: ${voice.name}`, voice.id);
}
