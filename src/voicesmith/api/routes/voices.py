"""The voice library (Cartesia's API): list, get, update, delete; clone and localize."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import Depends, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.errors import ApiError
from voicesmith.api.pagination import envelope, make_page_request
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import (ConsentChallengeCreate, VoiceLocalize, VoiceUpdate, consent_challenge_json,
                                    voice_json, voice_metadata_json)
from voicesmith.api.versions import V2024_11_13, ApiVersion, api_version
from voicesmith.service import cloning, consent, localization, voice_files, voices
from voicesmith.service.cloning import CloneRequest
from voicesmith.service.localization import LocalizeRequest
from voicesmith.service.voices import VoiceFilter

router = SlashRouter(prefix="/voices", tags=["voices"], dependencies=[Depends(api_version)])

MAX_CLIP_BYTES = 50 * 1024 * 1024
CLONE_MODES = ("similarity", "stability")
EXPANDABLE = frozenset({"embedding", "is_starred", "preview_file_url"})


@router.get("", summary="List voices", response_model=None)
def list_voices(
    limit: Optional[int] = Query(None), starting_after: Optional[str] = Query(None),
    ending_before: Optional[str] = Query(None), is_owner: Optional[bool] = Query(None),
    is_starred: Optional[bool] = Query(None), gender: Optional[str] = Query(None),
    language: Optional[str] = Query(None), q: Optional[str] = Query(None),
    expand_brackets: Optional[list[str]] = Query(None, alias="expand[]"),
    expand_plain: Optional[list[str]] = Query(None, alias="expand"),
    principal: Principal = Depends(api_key_principal), version: ApiVersion = Depends(api_version),
) -> list | dict:
    expand = frozenset((expand_brackets or []) + (expand_plain or [])) & EXPANDABLE
    filt = VoiceFilter(is_owner=is_owner, gender=gender, language=language, q=q)

    def render(v: object) -> dict:
        return voice_json(v, principal.org_id, version, expand)

    if version < V2024_11_13:
        return [render(v) for v in voices.list_all(principal.org_id, filt)]
    page = make_page_request(limit, starting_after, ending_before)
    if is_starred:  # voicesmith has no stars: nothing is starred
        return {"data": [], "has_more": False, "next_page": None}
    return envelope(voices.list_page(principal.org_id, filt, page), render)


@router.post("/clone", summary="Clone a voice from a clip (multipart)")
async def clone_voice(
    clip: UploadFile = File(..., description="5-30 s of one speaker."),
    name: str = Form(..., min_length=1, max_length=500),
    language: str = Form(...),
    description: Optional[str] = Form(None),
    base_voice_id: Optional[str] = Form(None),
    enhance: Optional[bool] = Form(None),
    mode: Optional[str] = Form(None),
    accent: Optional[str] = Form(None),
    consent_clip: Optional[UploadFile] = File(None, alias="consent",
                                              description="voicesmith: the speaker reading POST /voices/consent-challenge."),
    consent_challenge_id: Optional[str] = Form(None),
    principal: Principal = Depends(api_key_principal), version: ApiVersion = Depends(api_version),
) -> dict:
    if mode is not None and mode not in CLONE_MODES:
        raise ApiError(422, "invalid_request", "Invalid request",
                       f"Invalid request: mode: must be one of {', '.join(CLONE_MODES)}.")
    data = await clip.read(MAX_CLIP_BYTES + 1)
    if len(data) > MAX_CLIP_BYTES:
        raise ApiError(413, "file_too_large", "Payload too large",
                       f"The clip is larger than {MAX_CLIP_BYTES // (1024 * 1024)} MB; 5-30 s of audio is enough.")
    if not data:
        raise ApiError(400, "empty_file", "Invalid request", "The clip is empty.")
    consent_data = await consent_clip.read(MAX_CLIP_BYTES + 1) if consent_clip is not None else None
    if consent_data is not None and len(consent_data) > MAX_CLIP_BYTES:
        raise ApiError(413, "file_too_large", "Payload too large", "The consent clip is too large; 5-30 s is enough.")
    request = CloneRequest(clip=data, filename=clip.filename or "clip", name=name, language=language,
                           description=description or "", base_voice_id=base_voice_id or None,
                           enhance=bool(enhance), mode=mode, accent=accent, consent_clip=consent_data or None,
                           consent_filename=(consent_clip.filename if consent_clip is not None else None) or "consent",
                           consent_challenge_id=consent_challenge_id or None, api_key_id=principal.api_key_id)
    voice = await run_in_threadpool(cloning.clone_voice, principal.org_id, request)
    return voice_metadata_json(voice, version)


@router.post("/consent-challenge", summary="A statement for the speaker to read before an instant clone")
def create_clone_consent_challenge(body: Optional[ConsentChallengeCreate] = None,
                                   principal: Principal = Depends(api_key_principal)) -> dict:
    challenge = consent.create_challenge(principal.org_id, None, speaker_name=body.name if body else None,
                                         api_key_id=principal.api_key_id)
    return consent_challenge_json(challenge)


@router.post("/import", summary="Import a voice file exported by GET /voices/{id}/export (voicesmith; multipart)")
async def import_voice(
    file: UploadFile = File(..., description="A voicesmith voice file (.voice.zip)."),
    name: Optional[str] = Form(None, max_length=500, description="A new name (default: the exported voice's)."),
    principal: Principal = Depends(api_key_principal), version: ApiVersion = Depends(api_version),
) -> dict:
    data = await file.read(voice_files.MAX_FILE_BYTES + 1)
    voice = await run_in_threadpool(voice_files.import_voice, principal.org_id, data, file.filename or "voice",
                                    name=name, api_key_id=principal.api_key_id)
    return voice_metadata_json(voice, version)


@router.post("/localize", summary="Localize a voice into another language or accent")
def localize_voice(body: VoiceLocalize, principal: Principal = Depends(api_key_principal),
                   version: ApiVersion = Depends(api_version)) -> dict:
    request = LocalizeRequest(voice_id=body.voice_id, name=body.name, description=body.description,
                              language=body.language, accent=body.accent, dialect=body.dialect,
                              original_speaker_gender=body.original_speaker_gender, tagline=body.tagline,
                              api_key_id=principal.api_key_id)
    return voice_metadata_json(localization.localize_voice(principal.org_id, request), version)


def _embedding_sunset() -> None:
    raise ApiError(410, "endpoint_sunset", "Gone",
                   "Embedding-based voice endpoints were retired by Cartesia on 2026-06-01 and voicesmith does not "
                   "offer them: create voices with POST /voices/clone or a fine-tune.")


@router.post("/mix", summary="Retired: mix embeddings", include_in_schema=False)
def mix_voices() -> None:
    _embedding_sunset()


@router.post("/clone/clip", summary="Retired: embedding from a clip", include_in_schema=False)
def clone_clip() -> None:
    _embedding_sunset()


@router.get("/{voice_id}", summary="Get a voice")
def get_voice(voice_id: str, principal: Principal = Depends(api_key_principal),
              version: ApiVersion = Depends(api_version),
              expand: Optional[list[str]] = Query(None, alias="expand[]")) -> dict:
    return voice_json(voices.get(principal.org_id, voice_id), principal.org_id, version,
                      frozenset(expand or []) & EXPANDABLE)


@router.get("/{voice_id}/preview", response_class=Response, responses={200: {"content": {"audio/wav": {}}}},
            summary="The voice's stored preview clip (voicesmith; its preview_file_url)")
def voice_preview(voice_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    return Response(voices.preview_audio(principal.org_id, voice_id), media_type="audio/wav",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/{voice_id}/export", response_class=Response,
            responses={200: {"content": {"application/zip": {}, "application/octet-stream": {}}}},
            summary="Download the voice as a portable file (voicesmith; format=kokoro: a Kokoro .npy voice pack)")
def export_voice(voice_id: str, file_format: Literal["voicesmith", "kokoro"] = Query("voicesmith", alias="format"),
                 principal: Principal = Depends(api_key_principal)) -> Response:
    export = voice_files.export_kokoro if file_format == "kokoro" else voice_files.export_voice
    exported = export(principal.org_id, voice_id)
    return Response(exported.data, media_type=exported.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'})


@router.patch("/{voice_id}", summary="Update a voice")
def update_voice(voice_id: str, body: VoiceUpdate, principal: Principal = Depends(api_key_principal),
                 version: ApiVersion = Depends(api_version)) -> dict:
    changes = {k: getattr(body, k) for k in ("gender", "accent") if k in body.model_fields_set}
    voice = voices.update_voice(principal.org_id, voice_id, name=body.name, description=body.description, **changes)
    return voice_json(voice, principal.org_id, version)


@router.delete("/{voice_id}", status_code=204, response_class=Response, summary="Delete a voice")
def delete_voice(voice_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    voices.delete(principal.org_id, voice_id)
    return Response(status_code=204)
