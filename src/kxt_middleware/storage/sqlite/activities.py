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
_ACTIVITY_COLUMNS = 10  # the row tuples the writer prepares: uid, contact GUID, type, ...


@functools.lru_cache(maxsize=len(_CHUNKS) * 2)
def _insert_sql(table: str, rows: int) -> str:
    if table == "contacts":
        values = ", ".join(["(?, ?)"] * rows)
        return f"INSERT INTO contacts (guid, created) VALUES {values} ON CONFLICT (guid) DO NOTHING"
    values = ", ".join(["(" + ", ".join(["?"] * _ACTIVITY_COLUMNS) + ")"] * rows)
    return (
        "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, created, "
        f"source, site) VALUES {values} ON CONFLICT (uid) DO NOTHING"
    )


def _insert_many(
    connection: sqlite3.Connection,
    table: str,
    rows: Sequence[tuple[Any, ...]],
    contact_ids: dict[str, int] | None = None,
) -> None:
    """Insert ``rows``; with ``contact_ids``, each row's contact GUID (its second value) is
    replaced by the contact's row id, for the whole statement at once."""
    start = 0
    for size in _CHUNKS:
        whole = start + (len(rows) - start) // size * size
        if whole > start:
            statements = []
            for at in range(start, whole, size):
                values = list(itertools.chain.from_iterable(rows[at : at + size]))
                if contact_ids is not None:
                    values[1::_ACTIVITY_COLUMNS] = [
                        contact_ids[guid] for guid in values[1::_ACTIVITY_COLUMNS]
                    ]
                statements.append(values)
            connection.executemany(_insert_sql(table, size), statements)
            start = whole


def insert_rows(connection: sqlite3.Connection, callers: Sequence[Pending]) -> int:
    """Insert the callers' contacts and activities, one statement each; return new rows.

    The contacts' row ids are read once for the batch, not looked up once per activity. A
    retried request carries the same activity id: it is stored once and reported logged.
    """
    contacts: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    for caller in callers:
        contacts.setdefault(caller.job.contact, caller.rows[0][7])
        rows += caller.rows
    _insert_many(connection, "contacts", list(contacts.items()))
    contact_ids: dict[str, int] = dict(
        connection.execute(
            "SELECT guid, id FROM contacts WHERE guid IN (SELECT value FROM json_each(?))",
            (json.dumps(list(contacts)),),
        ).fetchall()
    )
    before = connection.total_changes
    _insert_many(connection, "activities", rows, contact_ids)
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
