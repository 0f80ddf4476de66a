"""SQL for activity types, activities and contacts (plain functions run in a connection thread)."""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...activities import (
    Activity,
    ActivityFilter,
    ActivitySource,
    ContactSummary,
    format_time,
    parse_time,
)
from ...activity_types import ActivityType

if TYPE_CHECKING:
    from .writer import _Pending

ACTIVITY_COLUMNS = (
    "a.id, a.uid, c.guid, a.type, a.title, a.value, a.url, a.referrer, a.created, a.source, a.site"
)
_TYPE_COLUMNS = "code_name, display_name, description, enabled, built_in"


# -- activity types ---------------------------------------------------------------------------


def _type(row: Sequence[Any]) -> ActivityType:
    return ActivityType(row[0], row[1], row[2], bool(row[3]), bool(row[4]))


def select_types(connection: sqlite3.Connection) -> list[ActivityType]:
    """Every activity type, built-in first, then by code name."""
    return [
        _type(row)
        for row in connection.execute(
            f"SELECT {_TYPE_COLUMNS} FROM activity_types "
            "ORDER BY built_in DESC, code_name COLLATE NOCASE"
        )
    ]


def select_type(connection: sqlite3.Connection, code_name: str) -> ActivityType | None:
    """The type with this code name (ignoring case), or None."""
    row = connection.execute(
        f"SELECT {_TYPE_COLUMNS} FROM activity_types WHERE code_name = ?", (code_name,)
    ).fetchone()
    return None if row is None else _type(row)


def insert_types(connection: sqlite3.Connection, types: Iterable[ActivityType], stamp: str) -> int:
    """Create the types that do not exist yet; return how many were new."""
    # ON CONFLICT DO NOTHING: a type created at start never overwrites a marketer's later edit.
    before = connection.total_changes
    connection.executemany(
        "INSERT INTO activity_types (code_name, display_name, description, enabled, built_in, "
        "created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code_name) DO NOTHING",
        [
            (t.code_name, t.display_name, t.description, int(t.enabled), int(t.built_in), stamp)
            for t in types
        ],
    )
    return connection.total_changes - before


def update_type(connection: sqlite3.Connection, updated: ActivityType) -> None:
    """Store a type's display name, description and enabled flag."""
    connection.execute(
        "UPDATE activity_types SET display_name = ?, description = ?, enabled = ? "
        "WHERE code_name = ?",
        (updated.display_name, updated.description, int(updated.enabled), updated.code_name),
    )


# -- writing activities -----------------------------------------------------------------------


def erased_among(connection: sqlite3.Connection, guids: set[str]) -> set[str]:
    """The GUIDs among ``guids`` that were erased."""
    return {
        row[0]
        for row in connection.execute(
            "SELECT guid FROM erased_contacts WHERE guid IN (SELECT value FROM json_each(?))",
            (json.dumps(list(guids)),),
        )
    }


def agreed_among(connection: sqlite3.Connection, guids: set[str]) -> set[tuple[str, str]]:
    """(GUID, lower-case consent) of every agreement of the contacts with these GUIDs."""
    rows = connection.execute(
        "SELECT c.guid, lower(a.consent) FROM consent_agreements a "
        "JOIN contacts c ON c.id = a.contact_id "
        "WHERE a.agreed AND c.guid IN (SELECT value FROM json_each(?))",
        (json.dumps(list(guids)),),
    )
    return {(guid, consent) for guid, consent in rows}


# Rows go in statements of 64, 16, 4 and 1 rows: few distinct statements (each compiled once
# and cached), and the writer thread takes the GIL back once per statement, not once per row.
_CHUNKS = (64, 16, 4, 1)
_ACTIVITY_ROW = "(?, (SELECT id FROM contacts WHERE guid = ?), ?, ?, ?, ?, ?, ?, ?, ?)"


@functools.lru_cache(maxsize=len(_CHUNKS) * 2)
def _insert_sql(table: str, rows: int) -> str:
    if table == "contacts":
        values = ", ".join(["(?, ?)"] * rows)
        return f"INSERT INTO contacts (guid, created) VALUES {values} ON CONFLICT (guid) DO NOTHING"
    values = ", ".join([_ACTIVITY_ROW] * rows)
    return (
        "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, created, "
        f"source, site) VALUES {values} ON CONFLICT (uid) DO NOTHING"
    )


def _insert_many(
    connection: sqlite3.Connection, table: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    start = 0
    for size in _CHUNKS:
        whole = start + (len(rows) - start) // size * size
        if whole > start:
            connection.executemany(
                _insert_sql(table, size),
                [
                    list(itertools.chain.from_iterable(rows[at : at + size]))
                    for at in range(start, whole, size)
                ],
            )
            start = whole


def insert_rows(connection: sqlite3.Connection, callers: Sequence[_Pending]) -> int:
    """Insert the callers' contacts and activities, one statement each; return new rows.

    A retried request carries the same activity id: it is stored once and reported logged.
    """
    contacts: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    for caller in callers:
        contacts.setdefault(caller.job.contact, caller.rows[0][7])
        rows += caller.rows
    _insert_many(connection, "contacts", list(contacts.items()))
    before = connection.total_changes
    _insert_many(connection, "activities", rows)
    return connection.total_changes - before


def delete_contact(connection: sqlite3.Connection, guid: str, stamp: str) -> bool:
    """Remember the GUID as erased and delete the contact with everything about it."""
    connection.execute(
        "INSERT INTO erased_contacts (guid, erased) VALUES (?, ?) ON CONFLICT (guid) DO NOTHING",
        (guid, stamp),
    )
    return connection.execute("DELETE FROM contacts WHERE guid = ?", (guid,)).rowcount > 0


def purge_batch(connection: sqlite3.Connection, cutoff: str, limit: int) -> tuple[int, set[int]]:
    """Delete up to ``limit`` activities older than ``cutoff``; (count, their contacts' rows)."""
    rows = connection.execute(
        "SELECT id, contact_id FROM activities WHERE created < ? LIMIT ?", (cutoff, limit)
    ).fetchall()
    if rows:
        connection.execute(
            "DELETE FROM activities WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([activity for activity, _ in rows]),),
        )
    return len(rows), {contact for _, contact in rows}


# -- reading activities -----------------------------------------------------------------------


def _start_of(day: date) -> str:
    # As format_time writes it, with the year always in 4 digits so the text sorts by time.
    return f"{day.isoformat()}T00:00:00.000000Z"


def filter_sql(filters: ActivityFilter, *, in_row_order: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions on ``activities a`` for ``filters`` (joined by AND), and their parameters.

    ``in_row_order``: for reading in row order (a page), a date range from and to (without a
    type or contact, whose indexes are in row order already) also bounds the row numbers, so
    SQLite walks the rows in order instead of reading and sorting the whole range.
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
    if len(dates) == 2 and in_row_order and not (filters.type or filters.contact):
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


def one(connection: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row, or None."""
    row = connection.execute(sql, params).fetchone()
    return None if row is None else row[0]


def stamp_of(moment: datetime) -> str:
    """The stored text of a moment."""
    return format_time(moment)
