"""Data retention: delete old activities in short batches through the store's writer."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .storage import Store

PURGE_BATCH = 5_000
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
    store: Store, older_than: timedelta, *, batch_size: int = PURGE_BATCH
) -> int:
    """Delete activities older than ``older_than``; return how many were deleted.

    Each batch is its own short write transaction, so activities go on being logged between
    batches; in it, the contacts whose activities were deleted are re-evaluated for every
    contact group, so no one stays a member on activities that no longer exist.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if older_than <= timedelta(0):
        raise ValueError("older_than must be a positive age, e.g. timedelta(days=365)")
    cutoff = store.clock() - older_than
    deleted = 0
    while True:
        count = await store.purge_activities_before(cutoff, batch_size)
        deleted += count
        if count < batch_size:
            return deleted
