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
    return fine_tunes.report(principal.org_id, fine_tune_id)
