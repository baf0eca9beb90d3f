"""Fine-tunes (Cartesia's API), plus the voicesmith training report."""

from __future__ import annotations

from fastapi import Depends, Response

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.pagination import envelope, page_params
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import FineTuneCreate, fine_tune_json, voice_json
from voicesmith.api.versions import ApiVersion, api_version
from voicesmith.service import fine_tunes
from voicesmith.service.pagination import PageRequest

router = SlashRouter(prefix="/fine-tunes", tags=["fine-tunes"], dependencies=[Depends(api_version)])


@router.get("", summary="List fine-tunes")
def list_fine_tunes(page: PageRequest = Depends(page_params),
                    principal: Principal = Depends(api_key_principal)) -> dict:
    return envelope(fine_tunes.list_page(principal.org_id, page), fine_tune_json)


@router.post("", summary="Create a fine-tune (reserves its credits)")
def create_fine_tune(body: FineTuneCreate, principal: Principal = Depends(api_key_principal)) -> dict:
    ft = fine_tunes.create(principal.org_id, name=body.name, description=body.description, language=body.language,
                           model_id=body.model_id, dataset_id=body.dataset, accent=body.accent,
                           params={"budget": body.budget} if body.budget else None,
                           api_key_id=principal.api_key_id)
    return fine_tune_json(ft)


@router.get("/{fine_tune_id}", summary="Get a fine-tune")
def get_fine_tune(fine_tune_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    return fine_tune_json(fine_tunes.get(principal.org_id, fine_tune_id))


@router.delete("/{fine_tune_id}", status_code=204, response_class=Response,
               summary="Delete a fine-tune (cancels training, releases credits)")
def delete_fine_tune(fine_tune_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    fine_tunes.delete(principal.org_id, fine_tune_id)
    return Response(status_code=204)


@router.get("/{fine_tune_id}/voices", summary="List the voices a fine-tune produced")
def list_fine_tune_voices(fine_tune_id: str, page: PageRequest = Depends(page_params),
                          principal: Principal = Depends(api_key_principal),
                          version: ApiVersion = Depends(api_version)) -> dict:
    result = fine_tunes.list_voices(principal.org_id, fine_tune_id, page)
    return envelope(result, lambda v: voice_json(v, principal.org_id, version))


@router.get("/{fine_tune_id}/report", summary="The fine-tune's evaluation report (voicesmith extension)")
def fine_tune_report(fine_tune_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    answer = fine_tunes.report(principal.org_id, fine_tune_id)
    # Per held-out sentence: the speaker's real recording and each voice saying the same words.
    base = f"/fine-tunes/{fine_tune_id}/samples"
    answer["samples"] = [
        {"index": s["index"], "text": s["text"], "real_audio_url": f"{base}/{s['index']}/real",
         "voices": [{"voice_id": v, "audio_url": f"{base}/{s['index']}/voices/{v}"} for v in s["voice_ids"]]}
        for s in fine_tunes.samples(answer["report"])
    ]
    return answer


_WAV = {200: {"content": {"audio/wav": {}}}}


@router.get("/{fine_tune_id}/samples/{index}/real", response_class=Response, responses=_WAV,
            summary="The real recording of a held-out sentence (voicesmith extension)")
def real_sample(fine_tune_id: str, index: int, principal: Principal = Depends(api_key_principal)) -> Response:
    return _wav(fine_tunes.sample_audio(principal.org_id, fine_tune_id, index, "real"))


@router.get("/{fine_tune_id}/samples/{index}/voices/{voice_id}", response_class=Response, responses=_WAV,
            summary="A voice of the fine-tune saying a held-out sentence (voicesmith extension)")
def voice_sample(fine_tune_id: str, index: int, voice_id: str,
                 principal: Principal = Depends(api_key_principal)) -> Response:
    return _wav(fine_tunes.sample_audio(principal.org_id, fine_tune_id, index, voice_id))


def _wav(data: bytes) -> Response:
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"})
