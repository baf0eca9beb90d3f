// The playground: any voice, any text, heard as it is made. The text goes over the TTS WebSocket (the same
// protocol the SDKs speak); each raw float32 chunk is scheduled on Web Audio the moment it arrives, so the first
// words play while the rest is still being synthesized. The finished audio can be downloaded as a WAV, and the
// same request is shown as code for the Python `cartesia` SDK and for curl.
import { MODEL_ID, API_VERSION, ttsToken, webSocketUrl } from "./api.js";
import { $, clear, el, guarded, showError } from "./ui.js";

const RATE = 24000;
const START_AHEAD_S = 0.05; // schedule a little ahead, so the first chunk never starts in the past

let voices = [];
let audioContext = null;
let gain = null;
let run = null; // the streaming in progress: {socket, chunks, sources, ...}
let codeLang = "python";
let lastWav = null;

function options() {
  const voice = voices.find((v) => v.id === $("#pg-voice").value);
  return {
    voice,
    transcript: $("#pg-text").value.trim(),
    language: $("#pg-language").value,
    speed: Number($("#pg-speed").value),
    volume: Number($("#pg-volume").value),
  };
}

function setStatus(state, text) {
  const status = $("#pg-status");
  status.dataset.state = state;
  status.textContent = text;
}

function contextId() {
  return `studio-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function decodeChunk(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4));
}

function schedule(samples) {
  const buffer = audioContext.createBuffer(1, samples.length, RATE);
  buffer.copyToChannel(samples, 0);
  const source = audioContext.createBufferSource();
  source.buffer = buffer;
  source.connect(gain);
  const at = Math.max(run.nextTime, audioContext.currentTime + START_AHEAD_S);
  source.start(at);
  run.nextTime = at + buffer.duration;
  run.sources.push(source);
  source.onended = () => {
    if (run && source === run.sources[run.sources.length - 1] && run.done) setStatus("done", run.summary);
  };
}

async function speakStreamed() {
  const { voice, transcript, language, speed, volume } = options();
  if (!voice) throw new Error("Pick a voice first.");
  if (!transcript) {
    setStatus("idle", "Type some text first.");
    return;
  }
  stop();
  if (!audioContext) {
    audioContext = new AudioContext({ sampleRate: RATE });
    gain = audioContext.createGain();
    gain.connect(audioContext.destination);
  }
  await audioContext.resume();
  setStatus("connecting", "Connecting…");
  const token = await ttsToken();
  const socket = new WebSocket(webSocketUrl("/tts/websocket", { access_token: token }));
  const started = performance.now();
  const mine = { socket, chunks: [], sources: [], nextTime: 0, done: false, started, firstMs: null, summary: "" };
  run = mine;
  lastWav = null;
  $("#pg-download").disabled = true;
  $("#pg-stop").disabled = false;
  const status = $("#pg-status");
  for (const key of ["firstAudioMs", "doneMs", "chunks", "samples"]) delete status.dataset[key];
  socket.onopen = () => {
    setStatus("streaming", "Synthesizing…");
    socket.send(JSON.stringify({
      model_id: MODEL_ID, transcript, voice: { mode: "id", id: voice.id }, language,
      output_format: { container: "raw", encoding: "pcm_f32le", sample_rate: RATE },
      generation_config: { speed, volume }, context_id: contextId(), continue: false,
    }));
  };
  socket.onmessage = (event) => {
    if (run !== mine) return;
    const message = JSON.parse(event.data);
    if (message.type === "chunk" && message.data) {
      const samples = decodeChunk(message.data);
      mine.chunks.push(samples);
      if (mine.firstMs === null) {
        mine.firstMs = Math.round(performance.now() - started);
        status.dataset.firstAudioMs = String(mine.firstMs);
        setStatus("streaming", `Playing · first audio after ${(mine.firstMs / 1000).toFixed(1)} s, more arriving…`);
      }
      status.dataset.chunks = String(mine.chunks.length);
      schedule(samples);
    } else if (message.type === "done") {
      finish(mine);
    } else if (message.type === "error") {
      mine.done = true;
      setStatus("error", "The server refused the request (see the error above).");
      showError({ status: message.status_code, code: message.error_code, title: message.title || "Streaming failed",
        message: message.message || message.error || "The server sent an error.", requestId: message.request_id });
      socket.close();
    }
  };
  socket.onclose = () => {
    if (run === mine && !mine.done) {
      mine.done = true;
      setStatus("error", "The connection closed before the audio was complete.");
    }
    if (run === mine) $("#pg-stop").disabled = true;
  };
}

function finish(mine) {
  mine.done = true;
  const doneMs = Math.round(performance.now() - mine.started);
  const total = mine.chunks.reduce((n, c) => n + c.length, 0);
  const status = $("#pg-status");
  status.dataset.doneMs = String(doneMs);
  status.dataset.samples = String(total);
  mine.summary = `Done · ${(total / RATE).toFixed(1)} s of audio in ${mine.chunks.length} chunks; `
    + `first audio after ${(mine.firstMs / 1000).toFixed(1)} s, all made after ${(doneMs / 1000).toFixed(1)} s`;
  setStatus("done", mine.summary);
  lastWav = wavBlob(mine.chunks, total);
  $("#pg-download").disabled = false;
  mine.socket.close();
}

function stop() {
  if (!run) return;
  const old = run;
  run = null;
  for (const source of old.sources) {
    try { source.stop(); } catch { /* never started */ }
  }
  if (old.socket.readyState <= WebSocket.OPEN) old.socket.close();
  $("#pg-stop").disabled = true;
  setStatus("idle", old.done ? "Stopped." : "Stopped before the end.");
}

// 16-bit PCM WAV of the float chunks (the browser needs no encoder for this).
function wavBlob(chunks, total) {
  const buffer = new ArrayBuffer(44 + total * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => { for (let i = 0; i < s.length; i += 1) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + total * 2, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, RATE, true); view.setUint32(28, RATE * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, total * 2, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const value of chunk) {
      view.setInt16(offset, Math.max(-1, Math.min(1, value)) * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([buffer], { type: "audio/wav" });
}

function download() {
  if (!lastWav) return;
  const url = URL.createObjectURL(lastWav);
  const link = el("a", { href: url, download: "voicesmith-speech.wav" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// The same request as code. The key is never written into the snippet: it reads an environment variable.
export function codeFor(lang, { voiceId, transcript, language, speed, volume }, baseUrl) {
  const body = {
    model_id: MODEL_ID, transcript, voice: { mode: "id", id: voiceId }, language,
    output_format: { container: "wav", encoding: "pcm_s16le", sample_rate: RATE },
    generation_config: { speed, volume },
  };
  if (lang === "curl") {
    const json = JSON.stringify(body, null, 2).replace(/'/g, "'\\''");
    return [
      `curl -X POST '${baseUrl}/tts/bytes' \\`,
      `  -H "Authorization: Bearer $VOICESMITH_API_KEY" \\`,
      `  -H 'Cartesia-Version: ${API_VERSION}' \\`,
      "  -H 'Content-Type: application/json' \\",
      `  -d '${json}' \\`,
      "  -o speech.wav",
    ].join("\n");
  }
  const py = (value) => JSON.stringify(value);
  return [
    "# pip install cartesia",
    "import os",
    "",
    "from cartesia import Cartesia",
    "",
    `client = Cartesia(api_key=os.environ["VOICESMITH_API_KEY"], base_url=${py(baseUrl)})`,
    "audio = client.tts.generate(",
    `    model_id=${py(MODEL_ID)},`,
    `    transcript=${py(transcript)},`,
    `    voice={"mode": "id", "id": ${py(voiceId)}},`,
    `    language=${py(language)},`,
    '    output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 24000},',
    `    generation_config={"speed": ${speed}, "volume": ${volume}},`,
    ")",
    'with open("speech.wav", "wb") as f:',
    "    f.write(audio.read())",
  ].join("\n");
}

function renderCode() {
  const { voice, transcript, language, speed, volume } = options();
  $("#pg-code").textContent = codeFor(codeLang, { voiceId: voice ? voice.id : "VOICE_ID", transcript, language, speed, volume },
    window.location.origin);
  for (const tab of document.querySelectorAll(".code-tab")) tab.setAttribute("aria-pressed", String(tab.dataset.lang === codeLang));
  $("#pg-speed-value").textContent = `${speed.toFixed(2)}×`;
  $("#pg-volume-value").textContent = `${volume.toFixed(2)}×`;
}

async function copyCode() {
  const text = $("#pg-code").textContent;
  try {
    await navigator.clipboard.writeText(text);
    setStatus($("#pg-status").dataset.state || "idle", "Code copied to the clipboard.");
  } catch {
    // No clipboard permission (plain http on another host): select the text so Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents($("#pg-code"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setStatus($("#pg-status").dataset.state || "idle", "Selected: press Ctrl+C (or ⌘C) to copy.");
  }
}

function fillVoices(list) {
  voices = list;
  const select = $("#pg-voice");
  const previous = select.value;
  const own = list.filter((v) => v.is_owner);
  const stock = list.filter((v) => !v.is_owner);
  const group = (label, items) => (items.length
    ? el("optgroup", { label }, items.map((v) => el("option", { value: v.id, text: v.name }))) : null);
  clear(select, group("Your voices", own), group("Stock voices", stock));
  if (previous && list.some((v) => v.id === previous)) select.value = previous;
  renderCode();
}

// Opens the playground with this voice picked (from a voice card or the library).
export function tryVoice(voice) {
  $("#pg-voice").value = voice.id;
  renderCode();
  window.location.hash = "#playground";
}

export function initPlayground() {
  document.addEventListener("voices-changed", (event) => fillVoices(event.detail));
  $("#pg-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("Streaming speech", async () => { await speakStreamed(); return true; }).then((ok) => {
      if (!ok) setStatus("error", "Could not start (see the error above).");
    });
  });
  $("#pg-form").addEventListener("input", renderCode);
  $("#pg-form").addEventListener("change", renderCode);
  $("#pg-stop").addEventListener("click", stop);
  $("#pg-download").addEventListener("click", download);
  $("#pg-copy").addEventListener("click", () => guarded("Copying", copyCode));
  for (const tab of document.querySelectorAll(".code-tab")) {
    tab.addEventListener("click", () => { codeLang = tab.dataset.lang; renderCode(); });
  }
  renderCode();
}
