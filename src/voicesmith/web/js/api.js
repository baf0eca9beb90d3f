// The studio uses the same public API as every other client: a Bearer key and a pinned
// Cartesia-Version (2026-03-01 is the first version whose errors are always structured JSON).

const API_VERSION = "2026-03-01";
export const MODEL_ID = "kokoro-82m-v1.0";
const KEY_STORAGE = "voicesmith.apiKey";

export class ApiError extends Error {
  // status 0 means the request never got an HTTP answer (server down, connection dropped).
  constructor(status, body, fallbackText) {
    const json = body && typeof body === "object" ? body : {};
    const message = json.message || fallbackText || `The server answered HTTP ${status}.`;
    super(message);
    this.status = status;
    this.code = json.error_code || null;
    this.title = json.title || (status ? `HTTP ${status}` : "Network error");
    this.requestId = json.request_id || null;
  }
}

export function getKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

function authHeaders() {
  return { Authorization: `Bearer ${getKey()}`, "Cartesia-Version": API_VERSION };
}

function parseError(status, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy page, say): show the text itself, trimmed.
  }
  return new ApiError(status, body, body ? null : (text || "").slice(0, 300));
}

function urlFor(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

// One JSON (or binary) call. Resolves to the parsed body, null for 204, a Blob when asBlob.
export async function request(method, path, { json, query, asBlob = false } = {}) {
  const headers = authHeaders();
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(urlFor(path, query), init);
  } catch (err) {
    throw new ApiError(0, null, `The server could not be reached (${err.message}).`);
  }
  if (!response.ok) throw parseError(response.status, await response.text());
  if (response.status === 204) return null;
  return asBlob ? response.blob() : response.json();
}

// Every item of a paginated collection ({data, has_more}), following starting_after cursors.
export async function listAll(path, query = {}) {
  const items = [];
  let after;
  for (;;) {
    const page = await request("GET", path, { query: { ...query, limit: 100, starting_after: after } });
    items.push(...page.data);
    if (!page.has_more || page.data.length === 0) return items;
    after = page.data[page.data.length - 1].id;
  }
}

// A multipart upload through XMLHttpRequest, because fetch() reports no upload progress.
// onProgress(loadedBytes, totalBytes) fires as the body leaves the browser. Resolves to the JSON answer
// (null for 204). fileField: the form field that carries the file ("file" for dataset uploads).
export function uploadFile(path, file, fields, onProgress, fileField = "file") {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append(fileField, file, file.name);
    xhr.open("POST", urlFor(path));
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.status === 204 || !xhr.responseText ? null : JSON.parse(xhr.responseText));
      else reject(parseError(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, null, "The upload was interrupted (connection lost)."));
    xhr.send(form);
  });
}

// Audio behind the API key (an <audio src> cannot send headers): fetched here, played from a blob: URL.
export function fetchAudio(path) {
  return request("GET", path, { asBlob: true });
}

// A short-lived token for the TTS WebSocket, so the API key itself never appears in a URL (or a server log).
export async function ttsToken() {
  const answer = await request("POST", "/access-token", { json: { grants: { tts: true }, expires_in: 300 } });
  return answer.token;
}

export function webSocketUrl(path, query) {
  const url = urlFor(path, { ...query, cartesia_version: API_VERSION });
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export { API_VERSION };
