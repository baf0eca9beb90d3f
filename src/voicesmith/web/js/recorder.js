// One take from the microphone (MediaRecorder) or a file, for the consent reading and the instant clone.

const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"];

export const NO_MICROPHONE =
  "This page cannot use a microphone here (it needs https or localhost): record elsewhere and choose the file.";

// Browsers offer the microphone only to secure pages (https, or this machine as localhost).
export function microphoneAvailable() {
  return Boolean(navigator.mediaDevices && window.MediaRecorder);
}

// open() asks for the microphone and starts recording; it resolves to {take}: a promise of the recording (a
// File named `${baseName}.webm`) that settles when stop() is called or maxSeconds have passed. onTick(seconds) runs
// four times a second while recording.
export class MicRecorder {
  constructor(baseName, maxSeconds, onTick) {
    this.baseName = baseName;
    this.maxSeconds = maxSeconds;
    this.onTick = onTick;
    this.recorder = null;
  }

  async open() {
    let stream;
    try {
      // No noise suppression, echo cancellation or gain control: they reshape the voice that cloning and
      // the consent check listen to.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      throw new Error(`The microphone could not be opened (${err.message || err.name}): allow it for this page, or choose a file.`);
    }
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    const chunks = [];
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    this.recorder = recorder;
    recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
    const take = new Promise((resolve) => {
      recorder.addEventListener("stop", () => {
        clearInterval(timer);
        for (const track of stream.getTracks()) track.stop();
        const mime = recorder.mimeType || type || "audio/webm";
        resolve(new File(chunks, `${this.baseName}.${mime.includes("ogg") ? "ogg" : "webm"}`, { type: mime }));
      }, { once: true });
    });
    const started = Date.now();
    const timer = setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      this.onTick(seconds);
      if (seconds >= this.maxSeconds) this.stop();
    }, 250);
    recorder.start(250);
    this.onTick(0);
    return { take };
  }

  stop() {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
  }
}

// The record-or-choose controls of one panel, found by id prefix P: #P-record, #P-stop, #P-clock, #P-file,
// #P-mic-note, and the take shown in #P-take (its player #P-audio, its #P-discard button). `file` is the take.
export class TakePicker {
  constructor(prefix, baseName, maxSeconds) {
    this.node = (name) => document.getElementById(`${prefix}-${name}`);
    this.baseName = baseName;
    this.maxSeconds = maxSeconds;
    this.file = null;
    this.recorder = null;
    this.node("record").addEventListener("click", () => this.record().catch((err) => this.say(err.message)));
    this.node("stop").addEventListener("click", () => this.recorder && this.recorder.stop());
    this.node("file").addEventListener("change", (event) => {
      const [file] = event.target.files;
      event.target.value = "";
      if (file) this.show(file);
    });
    this.node("discard").addEventListener("click", () => this.show(null));
  }

  get recording() {
    return this.recorder !== null;
  }

  say(text) {
    const note = this.node("mic-note");
    note.textContent = text || "";
    note.hidden = !text;
  }

  async record() {
    this.say("");
    if (!microphoneAvailable()) {
      this.say(NO_MICROPHONE);
      return;
    }
    this.show(null);
    const clock = this.node("clock");
    const recorder = new MicRecorder(this.baseName, this.maxSeconds, (seconds) => {
      clock.textContent = `● ${seconds.toFixed(0)} s of ${this.maxSeconds} s`;
    });
    const { take } = await recorder.open();
    this.recorder = recorder;
    this.setRecording(true);
    const file = await take;
    this.recorder = null;
    this.setRecording(false);
    this.show(file);
  }

  setRecording(recording) {
    this.node("record").hidden = recording;
    this.node("stop").hidden = !recording;
    this.node("clock").hidden = !recording;
  }

  show(file) {
    this.file = file;
    const audio = this.node("audio");
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.removeAttribute("src");
    const box = this.node("take");
    box.hidden = !file;
    box.dataset.filename = file ? file.name : "";
    if (file) audio.src = URL.createObjectURL(file);
  }
}
