"""SQL that reads the activity log: filters, keyset pages, per-day counts, contact summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ...activities import (
    Activity,
    ActivityFilter,
    ActivityRecord,
    ActivitySource,
    ContactSummary,
)
from ..records import PageCount

ACTIVITY_COLUMNS = (
    "a.id, a.uid, c.guid, a.type, a.title, a.value, a.url, a.referrer, a.created, a.source, a.site"
)


class Params:
    """Positional parameters of one statement: ``add(value)`` gives its ``$n``."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.utc)


def filter_sql(filters: ActivityFilter, params: Params, *, in_row_order: bool = False) -> str:
    """SQL conditions on ``activities a`` for ``filters`` (joined by AND).

    ``in_row_order``: for reading in row order (a page), a date range from and to (without a
    type or contact, whose indexes are in row order already) also bounds the row numbers, so
    the page walks the rows in the range instead of every newer row (the bounds come from the
    created index, exact even if a clock went back).
    """
    where: list[str] = []
    if filters.type:
        # activities store the type's own spelling of its code name
        name = params.add(filters.type)
        where.append(
            f"a.type = (SELECT coalesce(max(code_name), {name}) FROM activity_types "
            f"WHERE lower(code_name) = lower({name}))"
        )
    if filters.contact:
        where.append(
            f"a.contact_id = (SELECT id FROM contacts WHERE guid = {params.add(filters.contact)})"
        )
    if filters.source:
        where.append(f"a.source = {params.add(filters.source.value)}")
    if filters.site:
        where.append(f"a.site = {params.add(filters.site)}")
    dates: list[str] = []
    if filters.start:
        dates.append(f"created >= {params.add(_start_of(filters.start))}")
    if filters.end and filters.end < date.max:  # nothing is logged after the calendar ends
        dates.append(f"created < {params.add(_start_of(filters.end + timedelta(days=1)))}")
    if len(dates) == 2 and in_row_order and not (filters.type or filters.contact):
        in_range = " AND ".join(dates)
        where.append(
            f"a.id BETWEEN (SELECT min(id) FROM activities WHERE {in_range}) "
            f"AND (SELECT max(id) FROM activities WHERE {in_range})"
        )
    where += [f"a.{condition}" for condition in dates]
    return " AND ".join(where) or "true"


def activity_from_row(row: Sequence[Any]) -> Activity:
    """An Activity from a row selected as ``ACTIVITY_COLUMNS``."""
    return Activity(
        row=row[0],
        id=str(row[1]),
        contact=row[2],
        type=row[3],
        title=row[4],
        value=row[5],
        url=row[6],
        referrer=row[7],
        created=row[8],
        source=ActivitySource(row[9]),
        site=row[10],
    )


async def select_activities(
    connection: Any,
    filters: ActivityFilter,
    *,
    before: int | None,
    after: int | None,
    limit: int,
    offset: int,
    newest_first: bool,
) -> list[Activity]:
    """Activities matching ``filters`` in row order after a keyset cursor or an OFFSET."""
    params = Params()
    where = filter_sql(filters, params, in_row_order=True)
    if before is not None:
        where += f" AND a.id < {params.add(before)}"
    if after is not None:
        where += f" AND a.id > {params.add(after)}"
    sql = (
        f"SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN contacts c ON c.id = a.contact_id "
        f"WHERE {where} ORDER BY a.id {'DESC' if newest_first else 'ASC'} "
        f"LIMIT {params.add(limit)} OFFSET {params.add(offset)}"
    )
    return [activity_from_row(row) for row in await connection.fetch(sql, *params.values)]


async def count_activities(
    connection: Any, filters: ActivityFilter, created_before: datetime | None
) -> int:
    """How many activities match ``filters`` (and were created before ``created_before``)."""
    params = Params()
    where = filter_sql(filters, params)
    if created_before is not None:
        where += f" AND a.created < {params.add(created_before)}"
    sql = f"SELECT count(*) FROM activities a WHERE {where}"
    return int(await connection.fetchval(sql, *params.values))


# As format_time writes it: the stored values come out as the export's text, unconverted.
_RECORD_COLUMNS = (
    "a.uid::text, c.guid::text, a.type, a.title, a.value, a.url, a.referrer, a.source, a.site, "
    """to_char(a.created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), a.id"""
)


async def activity_records(
    connection: Any, filters: ActivityFilter, after: int, limit: int
) -> tuple[list[ActivityRecord], int]:
    """A page of export records after row ``after``, oldest first; and its last row number."""
    params = Params()
    where = filter_sql(filters, params, in_row_order=True)
    rows = await connection.fetch(
        f"SELECT {_RECORD_COLUMNS} FROM activities a JOIN contacts c ON c.id = a.contact_id "
        f"WHERE {where} AND a.id > {params.add(after)} ORDER BY a.id LIMIT {params.add(limit)}",
        *params.values,
    )
    return [tuple(row[:10]) for row in rows], rows[-1][10] if rows else after


async def daily_counts(connection: Any, filters: ActivityFilter) -> dict[str, dict[date, int]]:
    """Activities matching ``filters`` per type per UTC day."""
    params = Params()
    where = filter_sql(filters, params)
    counts: dict[str, dict[date, int]] = {}
    rows = await connection.fetch(
        "SELECT (a.created AT TIME ZONE 'UTC')::date, a.type, count(*) FROM activities a "
        f"WHERE {where} GROUP BY 1, 2",
        *params.values,
    )
    for day, activity_type, count in rows:
        counts.setdefault(activity_type, {})[day] = count
    return counts


# A page: the URL up to its first "#", then up to its first "?".
_PAGE = "split_part(split_part(a.url, '#', 1), '?', 1)"


async def top_pages(connection: Any, filters: ActivityFilter, limit: int) -> list[PageCount]:
    """The pages with the most activities matching ``filters``, most first, then by URL."""
    params = Params()
    where = filter_sql(filters, params)
    rows = await connection.fetch(
        f"SELECT page, count(*), count(DISTINCT contact_id) FROM "
        f"(SELECT {_PAGE} AS page, a.contact_id FROM activities a WHERE {where} AND a.url <> '') "
        f'AS p GROUP BY page ORDER BY 2 DESC, page COLLATE "C" LIMIT {params.add(limit)}',
        *params.values,
    )
    return [PageCount(url, activities, contacts) for url, activities, contacts in rows]


# -- contacts ---------------------------------------------------------------------------------


async def contact_page(
    connection: Any, before: int | None, limit: int
) -> tuple[list[ContactSummary], int | None]:
    """Contacts, newest first, after a keyset cursor; and the cursor of the next page."""
    params = Params()
    sql = (
        "SELECT c.id, c.guid, c.created, "
        "(SELECT count(*) FROM activities a WHERE a.contact_id = c.id), "
        "(SELECT a.created FROM activities a WHERE a.contact_id = c.id ORDER BY a.id DESC LIMIT 1) "
        "FROM contacts c"
    )
    if before is not None:
        sql += f" WHERE c.id < {params.add(before)}"
    sql += f" ORDER BY c.id DESC LIMIT {params.add(limit + 1)}"
    rows = [
        ContactSummary(row[0], row[1], row[2], row[3], row[4])
        for row in await connection.fetch(sql, *params.values)
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].row if more else None


async def contact_summary(connection: Any, guid: Any) -> ContactSummary | None:
    """One contact's summary, or None when it has no data."""
    row = await connection.fetchrow(
        "SELECT c.id, c.created, count(a.id), max(a.created) FROM contacts c "
        "LEFT JOIN activities a ON a.contact_id = c.id WHERE c.guid = $1 GROUP BY c.id",
        guid,
    )
    if row is None:
        return None
    return ContactSummary(row[0], guid, row[1], row[2], row[3])
