"""Reading the activity log for the admin: query parameters, filters and keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..activities import Activity, ActivityFilter, ContactSummary
from ..storage import Store

__all__ = ["ActivityFilter", "ActivityPage", "ContactSummary", "activity_page", "row_number"]

# The largest 64-bit integer: a bigger row number would overflow instead of matching nothing.
MAX_ROW = 2**63 - 1


def row_number(text: str, name: str, what: str) -> int | None:
    """The row number in a query parameter (None when empty); ValueError saying what it is."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ROW:
        raise ValueError(f"{name} must be {what}: a whole number like those in the page links")
    return int(text)


def row_number_param(request: Request, name: str, what: str) -> int | None:
    """``row_number`` of the query parameter ``name``; a 400 saying what it must be."""
    try:
        return row_number(request.query_params.get(name, ""), name, what)
    except ValueError as exc:
        raise HTTPException(400, f"{exc}.") from None


def days_before(day: date, days: int) -> date:
    """``day`` minus ``days`` days, or the first day of the calendar if that is earlier."""
    return date.fromordinal(max(1, day.toordinal() - days))


@dataclass(frozen=True)
class ActivityPage:
    """One page of activities, newest first, with the cursors of its neighbours."""

    activities: list[Activity]
    older: int | None
    newer: int | None


async def activity_page(
    store: Store,
    filters: ActivityFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    offset: int | None = None,
    limit: int = 50,
) -> ActivityPage:
    """A page of activities, newest first, after a keyset cursor (or an OFFSET, to compare)."""
    ascending = after is not None
    rows = await store.select_activities(
        filters,
        before=before,
        after=after,
        limit=limit + 1,
        offset=offset or 0,
        newest_first=not ascending,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if ascending:
        rows.reverse()
    if not rows:
        return ActivityPage([], None, None)
    older = rows[-1].row if (more or ascending) else None
    newer = rows[0].row if (before is not None or offset or (ascending and more)) else None
    return ActivityPage(rows, older, newer)
