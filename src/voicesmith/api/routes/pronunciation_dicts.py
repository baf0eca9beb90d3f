"""Pronunciation dictionaries (Cartesia's API): create, list, get, update, delete; per organisation.

An item is `{text, alias, case_sensitive?}`; `alias` is a sound-alike spelling (`"win"` for "Nguyen") or IPA
between `<<` and `>>` (`"<<təˈmɑːtoʊ>>"`). TTS requests use a dictionary through `pronunciation_dict_id`.
"""

from __future__ import annotations

from typing import Optional

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.pagination import envelope, make_page_request
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import iso
from voicesmith.api.versions import api_version
from voicesmith.service import pronunciation
from voicesmith.service.pronunciation import DictView, Item

router = SlashRouter(prefix="/pronunciation-dicts", tags=["pronunciation dictionaries"],
                     dependencies=[Depends(api_version)])


class ItemBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = Field(min_length=1)
    alias: str = Field(min_length=1)
    case_sensitive: Optional[bool] = None


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=500)
    items: Optional[list[ItemBody]] = None


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Optional[str] = Field(default=None, min_length=1, max_length=500)
    items: Optional[list[ItemBody]] = None


def _items(items: list[ItemBody] | None) -> list[Item] | None:
    return None if items is None else [Item(i.text, i.alias, i.case_sensitive) for i in items]


def dict_json(d: DictView) -> dict:
    return {"id": d.id, "name": d.name, "owner_id": d.org_id, "pinned": d.pinned, "items": d.items,
            "created_at": iso(d.created_at)}


@router.post("", summary="Create a pronunciation dictionary")
def create_dict(body: CreateBody, principal: Principal = Depends(api_key_principal)) -> dict:
    return dict_json(pronunciation.create(principal.org_id, body.name, _items(body.items) or []))


@router.get("", summary="List pronunciation dictionaries", response_model=None)
def list_dicts(limit: Optional[int] = Query(None), starting_after: Optional[str] = Query(None),
               ending_before: Optional[str] = Query(None),
               principal: Principal = Depends(api_key_principal)) -> dict:
    page = make_page_request(limit, starting_after, ending_before)
    return envelope(pronunciation.list_page(principal.org_id, page), dict_json)


@router.get("/{dict_id}", summary="Get a pronunciation dictionary")
def get_dict(dict_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    return dict_json(pronunciation.get(principal.org_id, dict_id))


@router.patch("/{dict_id}", summary="Update a pronunciation dictionary")
def update_dict(dict_id: str, body: UpdateBody, principal: Principal = Depends(api_key_principal)) -> dict:
    return dict_json(pronunciation.update(principal.org_id, dict_id, name=body.name, items=_items(body.items)))


@router.delete("/{dict_id}", status_code=204, response_class=Response, summary="Delete a pronunciation dictionary")
def delete_dict(dict_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    pronunciation.delete(principal.org_id, dict_id)
    return Response(status_code=204)
