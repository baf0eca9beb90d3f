"""Datasets and dataset files (Cartesia's API), plus the voicesmith quality report."""

from __future__ import annotations

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.errors import ApiError
from voicesmith.api.pagination import envelope, page_params
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import DatasetCreate, DatasetUpdate, dataset_file_json, dataset_json, iso
from voicesmith.api.uploads import UploadDisconnected, parse_streaming
from voicesmith.api.versions import api_version
from voicesmith.config import get_settings
from voicesmith.service import datasets
from voicesmith.service.pagination import PageRequest
from voicesmith.store.blobs import BlobTooLarge

router = SlashRouter(prefix="/datasets", tags=["datasets"], dependencies=[Depends(api_version)])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           "purpose": {"type": "string", "enum": ["fine_tune"], "default": "fine_tune"}},
        }}},
    }
}


@router.get("", summary="List datasets")
def list_datasets(page: PageRequest = Depends(page_params), principal: Principal = Depends(api_key_principal)) -> dict:
    return envelope(datasets.list_page(principal.org_id, page), dataset_json)


@router.post("", summary="Create a dataset")
def create_dataset(body: DatasetCreate, principal: Principal = Depends(api_key_principal)) -> dict:
    return dataset_json(datasets.create(principal.org_id, body.name, body.description))


@router.get("/{dataset_id}", summary="Get a dataset")
def get_dataset(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    return dataset_json(datasets.get(principal.org_id, dataset_id))


@router.patch("/{dataset_id}", status_code=204, response_class=Response, summary="Update a dataset")
def update_dataset(dataset_id: str, body: DatasetUpdate, principal: Principal = Depends(api_key_principal)) -> Response:
    datasets.update_dataset(principal.org_id, dataset_id, body.name, body.description)
    return Response(status_code=204)


@router.delete("/{dataset_id}", status_code=204, response_class=Response, summary="Delete a dataset")
def delete_dataset(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    datasets.delete(principal.org_id, dataset_id)
    return Response(status_code=204)


@router.get("/{dataset_id}/files", summary="List a dataset's files")
def list_files(dataset_id: str, page: PageRequest = Depends(page_params),
               principal: Principal = Depends(api_key_principal)) -> dict:
    return envelope(datasets.list_files(principal.org_id, dataset_id, page), dataset_file_json)


@router.post("/{dataset_id}/files", status_code=204, response_class=Response, openapi_extra=_UPLOAD_BODY,
             summary="Upload a file to a dataset (multipart: file, purpose)")
async def upload_file(dataset_id: str, request: Request, principal: Principal = Depends(api_key_principal)) -> Response:
    max_bytes = get_settings().max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise ApiError(413, "file_too_large", "Payload too large", f"Uploads are limited to {max_bytes:,} bytes.")
    upload = await run_in_threadpool(datasets.begin_upload, principal.org_id, dataset_id)
    try:
        form = await parse_streaming(request, "file", upload.writer)
        if not form.file_found:
            raise ApiError(422, "invalid_request", "Invalid request", "Invalid request: file: field required.")
        await run_in_threadpool(datasets.finish_upload, upload, form.filename or "upload", form.fields.get("purpose"),
                                form.file_content_type)
    except UploadDisconnected:
        upload.abort()
        return Response(status_code=400)  # nobody is listening any more; what matters is leaving nothing behind
    except BlobTooLarge:
        upload.abort()
        raise ApiError(413, "file_too_large", "Payload too large", f"Uploads are limited to {max_bytes:,} bytes.") from None
    except BaseException:
        upload.abort()  # idempotent; finish_upload may already have cleaned up
        raise
    return Response(status_code=204)


@router.delete("/{dataset_id}/files/{file_id}", status_code=204, response_class=Response,
               summary="Delete a file from a dataset")
def delete_file(dataset_id: str, file_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    datasets.delete_file(principal.org_id, dataset_id, file_id)
    return Response(status_code=204)


@router.get("/{dataset_id}/files/{file_id}/audio", response_class=Response,
            summary="An uploaded file's bytes, to play it back (voicesmith extension)",
            responses={200: {"content": {"audio/*": {}}}})
def file_audio(dataset_id: str, file_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    audio = datasets.file_audio(principal.org_id, dataset_id, file_id)
    # inline: a browser plays it; the name is only a hint for "save as". private: it is the user's own recording.
    return Response(audio.data, media_type=audio.media_type,
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/{dataset_id}/report", summary="The dataset's quality report (voicesmith extension)")
def dataset_report(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    report = datasets.report(principal.org_id, dataset_id)
    report["updated_at"] = iso(report["updated_at"])
    return report
