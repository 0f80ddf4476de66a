"""Reading the activity log for the admin: filters, keyset pages, per-day counts, contacts."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiosqlite
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..activities import Activity, ActivitySource, parse_time
from ..store import ActivityStore

# SQLite's largest integer: a bigger row number would overflow instead of matching nothing.
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


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field} {text!r} is not a date; use YYYY-MM-DD") from None


def _start_of(day: date) -> str:
    # As format_time writes it, with the year always in 4 digits so the text sorts by time.
    return f"{day.isoformat()}T00:00:00.000000Z"


def days_before(day: date, days: int) -> date:
    """``day`` minus ``days`` days, or the first day of the calendar if that is earlier."""
    return date.fromordinal(max(1, day.toordinal() - days))


@dataclass(frozen=True)
class ActivityFilter:
    """Which activities to list: by type, contact, source, site and date range (UTC days)."""

    type: str | None = None
    contact: uuid.UUID | None = None
    source: ActivitySource | None = None
    site: str | None = None
    start: date | None = None
    end: date | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ActivityFilter:
        """Read the filter from query parameters; ValueError saying which one is wrong."""
        text = {key: params.get(key, "").strip() for key in ("type", "contact", "source", "site")}
        contact = None
        if text["contact"]:
            try:
                contact = uuid.UUID(text["contact"])
            except ValueError:
                raise ValueError(f"contact {text['contact']!r} is not a contact GUID") from None
        source = None
        if text["source"]:
            try:
                source = ActivitySource(text["source"])
            except ValueError:
                choices = ", ".join(s.value for s in ActivitySource)
                raise ValueError(f"source must be one of {choices}") from None
        start = _day(params["from"], "from") if params.get("from") else None
        end = _day(params["to"], "to") if params.get("to") else None
        if start and end and end < start:
            raise ValueError("the date range ends before it starts; swap from and to")
        return cls(text["type"] or None, contact, source, text["site"] or None, start, end)

    def query(self, **extra: int | str | None) -> str:
        """The filter as a query string (with ``extra`` parameters such as a page cursor)."""
        values: dict[str, Any] = {
            "type": self.type,
            "contact": self.contact,
            "source": self.source.value if self.source else None,
            "site": self.site,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            **extra,
        }
        return urlencode({key: value for key, value in values.items() if value is not None})

    def sql(self, *, in_row_order: bool = False) -> tuple[list[str], list[Any]]:
        """SQL conditions on ``activities a`` and their parameters.

        ``in_row_order``: for reading in row order (a page), a date range from and to (without
        a type or contact, whose indexes are in row order already) also bounds the row numbers,
        so SQLite walks the rows in order instead of reading and sorting the whole range.
        """
        where: list[str] = []
        params: list[Any] = []
        if self.type:
            where.append(
                "a.type = (SELECT coalesce(max(code_name), ?) FROM activity_types "
                "WHERE code_name = ?)"
            )
            params += [self.type, self.type]
        if self.contact:
            where.append("a.contact_id = (SELECT id FROM contacts WHERE guid = ?)")
            params.append(str(self.contact))
        if self.source:
            where.append("a.source = ?")
            params.append(self.source.value)
        if self.site:
            where.append("a.site = ?")
            params.append(self.site)
        dates: list[str] = []
        bounds: list[str] = []
        if self.start:
            dates.append("created >= ?")
            bounds.append(_start_of(self.start))
        if self.end and self.end < date.max:  # nothing is logged after the calendar ends
            dates.append("created < ?")
            bounds.append(_start_of(self.end + timedelta(days=1)))
        if len(dates) == 2 and in_row_order and not (self.type or self.contact):
            # The first and last row in the range (from the created index, exact even if a
            # clock went back); "+" keeps SQLite from using that index to read the range.
            in_range = " AND ".join(dates)
            where.append(
                f"a.id BETWEEN (SELECT min(id) FROM activities WHERE {in_range}) "
                f"AND (SELECT max(id) FROM activities WHERE {in_range})"
            )
            params += [*bounds, *bounds]
            where += [f"+a.{condition}" for condition in dates]
        else:
            where += [f"a.{condition}" for condition in dates]
        params += bounds
        return where, params


@dataclass(frozen=True)
class ActivityPage:
    """One page of activities, newest first, with the cursors of its neighbours."""

    activities: list[Activity]
    older: int | None
    newer: int | None


async def activity_page(
    store: ActivityStore,
    filters: ActivityFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    offset: int | None = None,
    limit: int = 50,
) -> ActivityPage:
    """A page of activities, newest first, after a keyset cursor (or an OFFSET, to compare)."""
    where, params = filters.sql(in_row_order=True)
    ascending = after is not None
    rows = await store.select_activities(
        where,
        params,
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


async def daily_counts(
    connection: aiosqlite.Connection, filters: ActivityFilter, start: date, end: date
) -> dict[str, dict[date, int]]:
    """Activities matching ``filters`` per type per UTC day from ``start`` to ``end``
    (inclusive; these replace the filter's own dates)."""
    where, params = dataclasses.replace(filters, start=start, end=end).sql()
    sql = (
        "SELECT substr(a.created, 1, 10), a.type, count(*) FROM activities a WHERE "
        + " AND ".join(where)
        + " GROUP BY 1, 2"
    )
    counts: dict[str, dict[date, int]] = {}
    async with connection.execute(sql, params) as cursor:
        async for day, activity_type, count in cursor:
            counts.setdefault(activity_type, {})[date.fromisoformat(day)] = count
    return counts


@dataclass(frozen=True)
class ContactSummary:
    """A contact with how many activities it has and when it was last active."""

    row: int
    guid: uuid.UUID
    created: datetime
    activities: int
    last_activity: datetime | None


async def contact_page(
    connection: aiosqlite.Connection, *, before: int | None = None, limit: int = 50
) -> tuple[list[ContactSummary], int | None]:
    """Contacts, newest first, after a keyset cursor; and the cursor of the next page."""
    sql = (
        "SELECT c.id, c.guid, c.created, "
        "(SELECT count(*) FROM activities a WHERE a.contact_id = c.id), "
        "(SELECT a.created FROM activities a WHERE a.contact_id = c.id ORDER BY a.id DESC LIMIT 1) "
        "FROM contacts c"
    )
    params: list[Any] = []
    if before is not None:
        sql += " WHERE c.id < ?"
        params.append(before)
    sql += " ORDER BY c.id DESC LIMIT ?"
    params.append(limit + 1)
    async with connection.execute(sql, params) as cursor:
        rows = [
            ContactSummary(
                row[0],
                uuid.UUID(row[1]),
                parse_time(row[2]),
                row[3],
                parse_time(row[4]) if row[4] else None,
            )
            async for row in cursor
        ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].row if more else None


async def contact_summary(
    connection: aiosqlite.Connection, guid: uuid.UUID
) -> ContactSummary | None:
    """One contact's summary, or None when it has no data."""
    async with connection.execute(
        "SELECT c.id, c.created, count(a.id), max(a.created) FROM contacts c "
        "LEFT JOIN activities a ON a.contact_id = c.id WHERE c.guid = ? GROUP BY c.id",
        (str(guid),),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    return ContactSummary(
        row[0], guid, parse_time(row[1]), row[2], parse_time(row[3]) if row[3] else None
    )
