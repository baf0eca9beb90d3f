"""Deterministic train / held-out split of utterances.

Membership depends only on each utterance's (source file, start offset), hashed: the same data
always splits the same way (a resumed job sees the same held-out set), and the split does not
depend on upload order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def split_key(source: str, start_s: float) -> str:
    """Stable hash of an utterance's identity (file name + start offset in milliseconds)."""
    return hashlib.sha256(f"{source}|{int(round(start_s * 1000))}".encode()).hexdigest()


def heldout_count(n: int, fraction: float = 0.1, min_heldout: int = 5) -> int:
    """At least `fraction` of n and at least `min_heldout`, but never more than half of the data
    (with under 2 x min_heldout utterances the held-out set shrinks rather than starving training)."""
    if n < 2:
        return 0
    return min(max(math.ceil(fraction * n), min_heldout), n // 2)


def split(
    items: Sequence[T],
    key: Callable[[T], str],
    *,
    fraction: float = 0.1,
    min_heldout: int = 5,
    prefer: Callable[[T], bool] | None = None,
) -> tuple[list[T], list[T]]:
    """(train, held_out), both in the input order.

    Held-out items are the lowest hashes; items for which `prefer` is true (e.g. those with a
    transcript, usable for WER) are taken first, so evaluation gets what it needs when it exists.
    """
    n_held = heldout_count(len(items), fraction, min_heldout)
    ranked = sorted(range(len(items)), key=lambda i: (not prefer(items[i]) if prefer else False, key(items[i])))
    held = set(ranked[:n_held])
    train = [item for i, item in enumerate(items) if i not in held]
    heldout = [item for i, item in enumerate(items) if i in held]
    return train, heldout


def split_utterances(utterances: Sequence[T], *, fraction: float = 0.1, min_heldout: int = 5) -> tuple[list[T], list[T]]:
    """Split objects with `.source`, `.start`, `.text` and `.duration` (e.g. dataset_report.Utterance).
    Held-out preference: a transcript and 1.5–12 s long (a fair sentence to synthesise and compare)."""
    return split(
        utterances,
        key=lambda u: split_key(u.source, u.start),
        fraction=fraction,
        min_heldout=min_heldout,
        prefer=lambda u: bool(u.text) and 1.5 <= u.duration <= 12.0,
    )
