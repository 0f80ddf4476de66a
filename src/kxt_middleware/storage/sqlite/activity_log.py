"""SQL that reads the activity log: filters, keyset pages, per-day counts, contact summaries."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ...activities import (
    Activity,
    ActivityFilter,
    ActivityRecord,
    ActivitySource,
    ContactSummary,
    parse_time,
)
from ..records import PageCount

ACTIVITY_COLUMNS = (
    "a.id, a.uid, c.guid, a.type, a.title, a.value, a.url, a.referrer, a.created, a.source, a.site"
)


def _start_of(day: date) -> str:
    # As format_time writes it, with the year always in 4 digits so the text sorts by time.
    return f"{day.isoformat()}T00:00:00.000000Z"


def filter_sql(
    filters: ActivityFilter, *, in_row_order: bool = False, in_id_range: bool = False
) -> tuple[str, list[Any]]:
    """SQL conditions on ``activities a`` for ``filters`` (joined by AND), and their parameters.

    ``in_row_order``: for reading in row order (a page), a date range from and to (without a
    type or contact, whose indexes are in row order already) also bounds the row numbers, so
    SQLite walks the rows in order instead of reading and sorting the whole range.
    ``in_id_range``: the caller bounds the row numbers itself (a chunk of an export), so the
    dates are only checked on the rows of that range, never looked up in their index.
    """
    where: list[str] = []
    params: list[Any] = []
    if filters.type:
        where.append(
            "a.type = (SELECT coalesce(max(code_name), ?) FROM activity_types WHERE code_name = ?)"
        )
        params += [filters.type, filters.type]
    if filters.contact:
        where.append("a.contact_id = (SELECT id FROM contacts WHERE guid = ?)")
        params.append(str(filters.contact))
    if filters.source:
        where.append("a.source = ?")
        params.append(filters.source.value)
    if filters.site:
        where.append("a.site = ?")
        params.append(filters.site)
    dates: list[str] = []
    bounds: list[str] = []
    if filters.start:
        dates.append("created >= ?")
        bounds.append(_start_of(filters.start))
    if filters.end and filters.end < date.max:  # nothing is logged after the calendar ends
        dates.append("created < ?")
        bounds.append(_start_of(filters.end + timedelta(days=1)))
    if in_id_range:  # "+" keeps SQLite from reading the whole date range for every chunk
        where += [f"+a.{condition}" for condition in dates]
    elif len(dates) == 2 and in_row_order and not (filters.type or filters.contact):
        # The first and last row in the range (from the created index, exact even if a clock
        # went back); "+" keeps SQLite from using that index to read the range.
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
    return " AND ".join(where) or "1", params


def activity_from_row(row: Sequence[Any]) -> Activity:
    """An Activity from a row selected as ``ACTIVITY_COLUMNS``."""
    return Activity(
        row=row[0],
        id=row[1],
        contact=uuid.UUID(row[2]),
        type=row[3],
        title=row[4],
        value=row[5],
        url=row[6],
        referrer=row[7],
        created=parse_time(row[8]),
        source=ActivitySource(row[9]),
        site=row[10],
    )


def select_activities(
    connection: sqlite3.Connection,
    filters: ActivityFilter,
    *,
    before: int | None,
    after: int | None,
    limit: int,
    offset: int,
    newest_first: bool,
) -> list[Activity]:
    """Activities matching ``filters`` in row order after a keyset cursor or an OFFSET."""
    where, params = filter_sql(filters, in_row_order=True)
    if before is not None:
        where += " AND a.id < ?"
        params.append(before)
    if after is not None:
        where += " AND a.id > ?"
        params.append(after)
    sql = (
        f"SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN contacts c ON c.id = a.contact_id "
        f"WHERE {where} ORDER BY a.id {'DESC' if newest_first else 'ASC'} LIMIT ? OFFSET ?"
    )
    return [activity_from_row(row) for row in connection.execute(sql, [*params, limit, offset])]


def count_activities(
    connection: sqlite3.Connection, filters: ActivityFilter, created_before: str | None
) -> int:
    """How many activities match ``filters`` (and were created before ``created_before``)."""
    where, params = filter_sql(filters)
    if created_before is not None:
        where += " AND a.created < ?"
        params.append(created_before)
    return int(
        connection.execute(f"SELECT count(*) FROM activities a WHERE {where}", params).fetchone()[0]
    )


_EXPORT_COLUMNS = "a.uid, c.guid, a.type, a.title, a.value, a.url, a.referrer, a.source, a.site"
_RECORD_COLUMNS = f"{_EXPORT_COLUMNS}, a.created, a.id"


def activity_records(
    connection: sqlite3.Connection, filters: ActivityFilter, after: int, limit: int
) -> tuple[list[ActivityRecord], int]:
    """A page of export records after row ``after``, oldest first; and its last row number.

    The stored text is what Activity.to_json() gives (the GUID as text, the time as written
    by format_time), so no value needs converting.
    """
    where, params = filter_sql(filters, in_row_order=True)
    rows = connection.execute(
        f"SELECT {_RECORD_COLUMNS} FROM activities a JOIN contacts c ON c.id = a.contact_id "
        f"WHERE {where} AND a.id > ? ORDER BY a.id LIMIT ?",
        [*params, after, limit],
    ).fetchall()
    return [row[:10] for row in rows], rows[-1][10] if rows else after


def export_plan(connection: sqlite3.Connection, filters: ActivityFilter) -> tuple[int, int, int]:
    """How many activities match ``filters``, and the first and last of their row numbers."""
    where, params = filter_sql(filters)

    def one(what: str) -> int:  # alone in its query, min and max of a row number use an index
        value = connection.execute(f"SELECT {what} FROM activities a WHERE {where}", params)
        return int(value.fetchone()[0] or 0)

    return one("count(*)"), one("min(a.id)"), one("max(a.id)")


def _in_range(filters: ActivityFilter, after: int, upto: int) -> tuple[str, list[Any]]:
    """FROM and WHERE of the matching activities with row numbers after ``after`` up to
    ``upto``, in row order; and their parameters."""
    where, params = filter_sql(filters, in_id_range=True)
    return (
        "FROM activities a JOIN contacts c ON c.id = a.contact_id "
        f"WHERE {where} AND a.id > ? AND a.id <= ? ORDER BY a.id",
        [*params, after, upto],
    )


def records_in_range(
    connection: sqlite3.Connection,
    filters: ActivityFilter,
    after: int,
    upto: int,
    limit: int,
    *,
    site_or_empty: bool = False,
) -> tuple[list[ActivityRecord], int | None]:
    """Up to ``limit`` export records with row numbers after ``after`` up to ``upto``, oldest
    first (with ``site_or_empty``, "" for a missing site, as CSV writes it); and, when that
    range may hold more of them, the row number of the last one read."""
    rows_of, params = _in_range(filters, after, upto)
    columns = _EXPORT_COLUMNS.replace("a.site", "ifnull(a.site, '')" if site_or_empty else "a.site")
    records = connection.execute(
        f"SELECT {columns}, a.created {rows_of} LIMIT ?", [*params, limit]
    ).fetchall()
    if len(records) < limit:
        return records, None
    (last,) = connection.execute(
        f"SELECT a.id {rows_of} LIMIT 1 OFFSET ?", [*params, limit - 1]
    ).fetchone()
    return records, int(last)


def daily_counts(
    connection: sqlite3.Connection, filters: ActivityFilter
) -> dict[str, dict[date, int]]:
    """Activities matching ``filters`` per type per UTC day."""
    where, params = filter_sql(filters)
    counts: dict[str, dict[date, int]] = {}
    for day, activity_type, count in connection.execute(
        f"SELECT substr(a.created, 1, 10), a.type, count(*) FROM activities a WHERE {where} "
        "GROUP BY 1, 2",
        params,
    ):
        counts.setdefault(activity_type, {})[date.fromisoformat(day)] = count
    return counts


def _up_to(text: str, mark: str) -> str:
    """SQL for ``text`` up to its first ``mark`` (all of it when there is none)."""
    found = f"instr({text}, '{mark}')"
    return f"CASE WHEN {found} THEN substr({text}, 1, {found} - 1) ELSE {text} END"


# A page: the URL up to its first "#", then up to its first "?".
_PAGE = _up_to(_up_to("a.url", "#"), "?")


def top_pages(
    connection: sqlite3.Connection, filters: ActivityFilter, limit: int
) -> list[PageCount]:
    """The pages with the most activities matching ``filters``, most first, then by URL."""
    where, params = filter_sql(filters)
    rows = connection.execute(
        f"SELECT page, count(*), count(DISTINCT contact_id) FROM "
        f"(SELECT {_PAGE} AS page, a.contact_id FROM activities a WHERE {where} AND a.url <> '') "
        "GROUP BY page ORDER BY 2 DESC, page LIMIT ?",
        [*params, limit],
    )
    return [PageCount(url, activities, contacts) for url, activities, contacts in rows]


# -- contacts ---------------------------------------------------------------------------------


def _when(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


def contact_page(
    connection: sqlite3.Connection, before: int | None, limit: int
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
    params.append(limit + 1)
    rows = [
        ContactSummary(row[0], uuid.UUID(row[1]), parse_time(row[2]), row[3], _when(row[4]))
        for row in connection.execute(sql + " ORDER BY c.id DESC LIMIT ?", params)
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].row if more else None


def contact_summary(connection: sqlite3.Connection, guid: uuid.UUID) -> ContactSummary | None:
    """One contact's summary, or None when it has no data."""
    row = connection.execute(
        "SELECT c.id, c.created, count(a.id), max(a.created) FROM contacts c "
        "LEFT JOIN activities a ON a.contact_id = c.id WHERE c.guid = ? GROUP BY c.id",
        (str(guid),),
    ).fetchone()
    if row is None:
        return None
    return ContactSummary(row[0], guid, parse_time(row[1]), row[2], _when(row[3]))
