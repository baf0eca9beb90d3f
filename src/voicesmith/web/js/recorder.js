// One take from the microphone (MediaRecorder), for the consent reading and the instant clone.

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
