"""Cursor pagination: stable pages, an empty page at the end, both directions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from voicesmith.service.errors import InvalidRequest
from voicesmith.service.pagination import PageRequest, paginate, paginate_list


def _walk(fetch, limit):
    seen, cursor = [], None
    for _ in range(50):
        page = fetch(PageRequest(limit=limit, starting_after=cursor))
        if not page.items:
            assert page.has_more is False and page.next_page is None
            return seen
        seen += [x.id for x in page.items]
        cursor = page.items[-1].id
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_sql_pages_cover_everything_once(org, newest_first, limit):
    from sqlalchemy import select

    from voicesmith.service import datasets
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Dataset

    ids = [datasets.create(org, f"d{i}", "").id for i in range(7)]

    def fetch(req):
        with session_scope() as s:
            return paginate(s, select(Dataset).where(Dataset.org_id == org), Dataset, req, newest_first=newest_first)

    assert _walk(fetch, limit) == (ids[::-1] if newest_first else ids)
    # backwards from the end gives the page before it
    last = (ids[::-1] if newest_first else ids)[-1]
    back = fetch(PageRequest(limit=2, ending_before=last))
    expected = (ids[::-1] if newest_first else ids)[-3:-1]
    assert [d.id for d in back.items] == expected and back.has_more


def test_unknown_cursor_and_both_cursors(org):
    from sqlalchemy import select

    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Dataset

    with session_scope() as s:
        for req in (PageRequest(starting_after="nope"), PageRequest(starting_after="a", ending_before="b")):
            with pytest.raises(InvalidRequest):
                paginate(s, select(Dataset), Dataset, req, newest_first=True)


def test_list_pagination():
    items = [SimpleNamespace(id=f"k{i}") for i in range(5)]
    assert _walk(lambda req: paginate_list(items, req), 2) == [f"k{i}" for i in range(5)]
    back = paginate_list(items, PageRequest(limit=2, ending_before="k3"))
    assert [x.id for x in back.items] == ["k1", "k2"] and back.has_more and back.next_page == "k1"
    with pytest.raises(InvalidRequest):
        paginate_list(items, PageRequest(starting_after="zz"))
