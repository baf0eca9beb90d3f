"""Cursor pagination over a table ordered by its `seq` column.

The cursor is an object id (Cartesia's `starting_after` / `ending_before`); it is looked up to its
`seq`, so pages stay stable while objects are added. A cursor past the end gives an empty page,
which is what ends the official SDKs' auto-pagination.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from voicesmith.service.errors import InvalidRequest

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None


@dataclass
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    backwards: bool = False

    @property
    def next_page(self) -> str | None:
        """The id to continue from (what PY-v2 follows): the last item forward, the first backward."""
        if not self.has_more or not self.items:
            return None
        item = self.items[0] if self.backwards else self.items[-1]
        return getattr(item, "id", None)


def paginate(session: Session, stmt: Select, model: Any, page: PageRequest, *, newest_first: bool) -> Page:
    """Run `stmt` (a select of `model`, already filtered) one page at a time."""
    if page.starting_after and page.ending_before:
        raise InvalidRequest("Pass either starting_after or ending_before, not both.", error_code="invalid_cursor")
    seq = model.seq
    backwards = page.ending_before is not None
    cursor = page.ending_before if backwards else page.starting_after
    if cursor is not None:
        cursor_seq = session.scalar(select(seq).where(model.id == cursor))
        if cursor_seq is None:
            raise InvalidRequest(f"Unknown pagination cursor {cursor!r}.", error_code="invalid_cursor")
        # "after" follows the listing order; "before" goes against it.
        after = (seq < cursor_seq) if newest_first else (seq > cursor_seq)
        before = (seq > cursor_seq) if newest_first else (seq < cursor_seq)
        stmt = stmt.where(before if backwards else after)
    forward_order = seq.desc() if newest_first else seq.asc()
    reverse_order = seq.asc() if newest_first else seq.desc()
    stmt = stmt.order_by(reverse_order if backwards else forward_order).limit(page.limit + 1)
    rows = list(session.scalars(stmt).all())
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if backwards:
        rows.reverse()
    return Page(items=rows, has_more=has_more, backwards=backwards)


def paginate_list(items: list[T], page: PageRequest, key=lambda x: x.id) -> Page[T]:  # noqa: ANN001
    """The same contract over an in-memory list already in listing order (small collections)."""
    if page.starting_after and page.ending_before:
        raise InvalidRequest("Pass either starting_after or ending_before, not both.", error_code="invalid_cursor")
    ids = [key(x) for x in items]
    cursor = page.ending_before or page.starting_after
    if cursor is not None and cursor not in ids:
        raise InvalidRequest(f"Unknown pagination cursor {cursor!r}.", error_code="invalid_cursor")
    if page.ending_before is not None:
        end = ids.index(page.ending_before)
        start = max(0, end - page.limit)
        return Page(items=items[start:end], has_more=start > 0, backwards=True)
    start = ids.index(page.starting_after) + 1 if page.starting_after else 0
    chunk = items[start : start + page.limit]
    return Page(items=chunk, has_more=start + page.limit < len(items))
