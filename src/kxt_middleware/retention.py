"""Data retention: delete old activities in short batches through the store's writer."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .storage import Store

PURGE_BATCH = 5_000
T = TypeVar("T")
_AGE = re.compile(r"(\d+)([dw])")


def parse_age(text: str) -> timedelta:
    """Parse an age such as "365d" or "52w"; ValueError saying the format otherwise."""
    found = _AGE.fullmatch(text.strip())
    if found is None or int(found.group(1)) < 1:
        raise ValueError(
            f"{text!r} is not an age: write a number of days or weeks, e.g. 365d or 52w"
        )
    amount = int(found.group(1))
    return timedelta(days=amount) if found.group(2) == "d" else timedelta(weeks=amount)


async def purge_activities(
    store: Store,
    older_than: timedelta,
    *,
    batch_size: int = PURGE_BATCH,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Delete activities older than ``older_than``; return how many were deleted.

    Each batch is its own short write transaction, so activities go on being logged between
    batches; in it, the contacts whose activities were deleted are re-evaluated for every
    contact group, so no one stays a member on activities that no longer exist.
    ``progress(n)`` is called after each batch. Cancelled (Ctrl+C), it waits for the batch in
    flight — committed whole or not at all — reports it, and goes on cancelling.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if older_than <= timedelta(0):
        raise ValueError("older_than must be a positive age, e.g. timedelta(days=365)")
    cutoff = store.clock() - older_than
    deleted = 0
    while True:
        count = await whole_batch(store.purge_activities_before(cutoff, batch_size), progress)
        deleted += count
        if count < batch_size:
            return deleted


async def whole_batch(work: Awaitable[T], report: Callable[[T], object] | None = None) -> T:
    """Await one batch's transaction and pass its result to ``report``.

    When the caller is cancelled meanwhile (Ctrl+C), the transaction still ends on its own (the
    writer commits a batch whole); this waits for it and reports it before the cancellation
    goes on, so "how far it got" is exact.
    """
    batch = asyncio.ensure_future(work)
    try:
        result = await asyncio.shield(batch)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            result = await batch
            if report is not None:
                report(result)
        raise
    if report is not None:
        report(result)
    return result
