// Plays any voice: POST /tts/bytes for a WAV, handed to the one <audio> player as a blob URL.
import { MODEL_ID, request } from "./api.js";
import { $, guarded } from "./ui.js";

let currentUrl = null;

function sampleText() {
  return $("#sample-text").value.trim();
}

export async function speak(voice, button) {
  const player = $("#player");
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
  // Free the previous clip's memory before pointing the player at the new one.
  if (currentUrl) URL.revokeObjectURL(currentUrl);
  currentUrl = URL.createObjectURL(blob);
  player.src = currentUrl;
  player.dataset.voiceId = voice.id;
  caption.textContent = `Now playing: ${voice.name}`;
  // Browsers may refuse autoplay; the controls still let the user press play.
  player.play().catch(() => {});
}
