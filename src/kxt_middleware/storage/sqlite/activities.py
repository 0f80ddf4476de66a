"""SQL for activity types, activities and contacts (plain functions run in a connection thread)."""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ...activity_types import ActivityType

if TYPE_CHECKING:
    from ..writing import Pending

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


def erased_and_agreed(
    connection: sqlite3.Connection, guids: set[str], asking: set[str]
) -> tuple[set[str], set[tuple[str, str]]]:
    """The GUIDs among ``guids`` that were erased, and (GUID, lower-case consent) of every
    agreement of the contacts among ``asking``: one statement, one row (each row a statement
    returns is a step that lets go of the GIL, and taking it back can wait for the event loop)."""
    erased, agreed = connection.execute(
        "SELECT (SELECT json_group_array(guid) FROM erased_contacts "
        "        WHERE guid IN (SELECT value FROM json_each(?1))), "
        "       (SELECT json_group_array(json_array(c.guid, lower(a.consent))) "
        "        FROM consent_agreements a JOIN contacts c ON c.id = a.contact_id "
        "        WHERE a.agreed AND c.guid IN (SELECT value FROM json_each(?2)))",
        (json.dumps(list(guids)), json.dumps(list(asking))),
    ).fetchone()
    return set(json.loads(erased)), {(guid, consent) for guid, consent in json.loads(agreed)}


# The rows of a commit go in as few statements as possible: each runs in SQLite with the GIL
# released, and the writer thread may then wait for the event loop to give the GIL back, so one
# statement of 700 rows costs far less than eleven of 64. Row counts are rounded up to a power
# of two (the padding rows are NULL and skipped), so only a few statements are ever compiled.
_ACTIVITY_COLUMNS = 10  # the row tuples the writer prepares: uid, contact GUID, type, ...
_SMALLEST = 16
_LARGEST = 2048  # 20,480 parameters: under SQLite's limit of 32,766


@functools.lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    values = ", ".join(["(" + ", ".join(["?"] * _ACTIVITY_COLUMNS) + ")"] * rows)
    # The contact's row id is looked up by its GUID in SQLite, not in Python.
    return (
        "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, created, "
        "source, site) SELECT column1, (SELECT id FROM contacts WHERE guid = column2), column3, "
        "column4, column5, column6, column7, column8, column9, column10 "
        f"FROM (VALUES {values}) WHERE column1 IS NOT NULL ON CONFLICT (uid) DO NOTHING"
    )


def _statement_rows(count: int) -> int:
    size = _SMALLEST
    while size < count and size < _LARGEST:
        size *= 2
    return size


def insert_rows(connection: sqlite3.Connection, callers: Sequence[Pending]) -> int:
    """Insert the callers' contacts and activities; return how many activities were new.

    A retried request carries the same activity id: it is stored once and reported logged.
    """
    contacts: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    for caller in callers:
        contacts.setdefault(caller.job.contact, caller.rows[0][7])
        rows += caller.rows
    connection.execute(
        "INSERT INTO contacts (guid, created) SELECT json_extract(value, '$[0]'), "
        "json_extract(value, '$[1]') "
        "FROM json_each(?) WHERE true ON CONFLICT (guid) DO NOTHING",
        (json.dumps(list(contacts.items())),),
    )
    before = connection.total_changes
    for start in range(0, len(rows), _LARGEST):
        chunk = rows[start : start + _LARGEST]
        size = _statement_rows(len(chunk))
        values = list(itertools.chain.from_iterable(chunk))
        values += itertools.repeat(None, (size - len(chunk)) * _ACTIVITY_COLUMNS)
        connection.execute(_insert_sql(size), values)
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


def one(connection: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row, or None."""
    row = connection.execute(sql, params).fetchone()
    return None if row is None else row[0]
