"""Pronunciation dictionaries (Cartesia's API): each organisation's own, created, listed, changed and deleted through
`/pronunciation-dicts`, and used by TTS requests through `pronunciation_dict_id`.

Items are `{text, alias, case_sensitive?}`; an alias is a sound-alike spelling or IPA between `<<` and `>>`
(engine/pronunciation.py says how they are matched and spoken). Every item is validated when it is stored, so a
dictionary that exists can always be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from voicesmith.engine.pronunciation import Lexicon, PronunciationError, make_entry
from voicesmith.service.errors import InvalidRequest, NotFound
from voicesmith.service.ids import new_uuid
from voicesmith.service.pagination import Page, PageRequest, paginate
from voicesmith.store.db import session_scope
from voicesmith.store.models import PronunciationDict

MAX_ITEMS = 1000


@dataclass(frozen=True)
class Item:
    text: str
    alias: str
    case_sensitive: bool | None = None


@dataclass(frozen=True)
class DictView:
    id: str
    org_id: str
    name: str
    items: list[dict]
    pinned: bool
    created_at: datetime


def _view(row: PronunciationDict) -> DictView:
    return DictView(row.id, row.org_id, row.name, list(row.items or []), row.pinned, row.created_at)


def _checked_items(items: list[Item]) -> list[dict]:
    if len(items) > MAX_ITEMS:
        raise InvalidRequest(f"A dictionary holds at most {MAX_ITEMS} items; got {len(items)}.",
                             error_code="invalid_pronunciation_dict")
    stored = []
    for i, item in enumerate(items):
        try:
            make_entry(item.text, item.alias, bool(item.case_sensitive), where=f"items[{i}]")
        except PronunciationError as exc:
            raise InvalidRequest(exc.message, error_code="invalid_pronunciation_dict",
                                 title="Invalid pronunciation item") from None
        entry = {"text": item.text, "alias": item.alias}
        if item.case_sensitive is not None:
            entry["case_sensitive"] = item.case_sensitive
        stored.append(entry)
    return stored


def _checked_name(name: str) -> str:
    if not name.strip():
        raise InvalidRequest("name must not be empty.", error_code="invalid_request")
    return name.strip()


def _find(session, org_id: str, dict_id: str) -> PronunciationDict:  # noqa: ANN001 (a Session)
    row = session.scalar(select(PronunciationDict).where(PronunciationDict.id == dict_id,
                                                         PronunciationDict.org_id == org_id))
    if row is None:
        raise NotFound(f"Pronunciation dictionary {dict_id!r} was not found.",
                       error_code="pronunciation_dict_not_found", title="Pronunciation dictionary not found")
    return row


def create(org_id: str, name: str, items: list[Item]) -> DictView:
    row = PronunciationDict(id=new_uuid(), org_id=org_id, name=_checked_name(name), items=_checked_items(items),
                            pinned=False)
    with session_scope() as session:
        session.add(row)
        session.flush()
        return _view(row)


def get(org_id: str, dict_id: str) -> DictView:
    with session_scope() as session:
        return _view(_find(session, org_id, dict_id))


def list_page(org_id: str, page: PageRequest) -> Page[DictView]:
    with session_scope() as session:
        stmt = select(PronunciationDict).where(PronunciationDict.org_id == org_id)
        result = paginate(session, stmt, PronunciationDict, page, newest_first=True)
        return Page([_view(r) for r in result.items], result.has_more, result.backwards)


def update(org_id: str, dict_id: str, *, name: str | None = None, items: list[Item] | None = None) -> DictView:
    with session_scope() as session:
        row = _find(session, org_id, dict_id)
        if name is not None:
            row.name = _checked_name(name)
        if items is not None:
            row.items = _checked_items(items)
        session.flush()
        return _view(row)


def delete(org_id: str, dict_id: str) -> None:
    with session_scope() as session:
        session.delete(_find(session, org_id, dict_id))


def lexicon(org_id: str, dict_id: str) -> Lexicon:
    """The dictionary as the engine uses it; NotFound (404 pronunciation_dict_not_found) if the organisation
    has no such dictionary."""
    view = get(org_id, dict_id)
    return Lexicon([make_entry(i["text"], i["alias"], bool(i.get("case_sensitive"))) for i in view.items])
