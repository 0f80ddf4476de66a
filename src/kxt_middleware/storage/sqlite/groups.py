"""SQL for contact groups: definitions, and memberships evaluated in the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...activities import format_time, parse_time
from ...groups import ActivityCondition, ContactGroup, UnknownContactGroupError
from ..memberships import conditions_json, group_from_row, members
from ..records import GroupMember

_GROUP_COLUMNS = "id, code_name, display_name, description, match, conditions"


def select_groups(
    connection: sqlite3.Connection, code_name: str | None = None
) -> list[tuple[int, ContactGroup]]:
    """(row, group) of every group, or of the one with ``code_name``, by code name."""
    sql = f"SELECT {_GROUP_COLUMNS} FROM contact_groups"
    params: tuple[str, ...] = ()
    if code_name is not None:
        sql += " WHERE code_name = ?"
        params = (code_name,)
    rows = connection.execute(sql + " ORDER BY code_name COLLATE NOCASE", params)
    return [(row[0], group_from_row(row)) for row in rows]


def readable_groups(
    connection: sqlite3.Connection,
) -> tuple[list[tuple[int, ContactGroup]], list[str]]:
    """Every group whose stored definition follows today's rules, and why the others do not
    (written by another version, say): one bad definition must not stop the others."""
    groups: list[tuple[int, ContactGroup]] = []
    problems: list[str] = []
    for row in connection.execute(f"SELECT {_GROUP_COLUMNS} FROM contact_groups ORDER BY id"):
        try:
            groups.append((row[0], group_from_row(row)))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"contact group {row[1]!r} cannot be read: {exc}")
    return groups, problems


def one_group(connection: sqlite3.Connection, code_name: str) -> tuple[int, ContactGroup]:
    """(row, group) with this code name; UnknownContactGroupError if there is none."""
    found = select_groups(connection, code_name)
    if not found:
        raise UnknownContactGroupError(
            f"there is no contact group {code_name!r}; list them with `kxt groups list`"
        )
    return found[0]


def canonical_types(connection: sqlite3.Connection, group: ContactGroup) -> ContactGroup:
    """The group with each condition's type spelled as the type is; ValueError if one is
    missing (activities store the type's own spelling of its code name)."""
    conditions = []
    for condition in group.conditions:
        row = connection.execute(
            "SELECT code_name FROM activity_types WHERE code_name = ?", (condition.activity_type,)
        ).fetchone()
        if row is None:
            raise ValueError(
                f"contact group {group.code_name!r} refers to activity type "
                f"{condition.activity_type!r}, which does not exist; create the activity type "
                "first (admin, `kxt types add` or activity_types=)"
            )
        conditions.append(
            ActivityCondition(
                row[0],
                condition.at_least,
                condition.in_last_days,
                condition.value,
                condition.value_match,
            )
        )
    return ContactGroup(
        group.code_name, group.display_name, group.description, conditions, group.match
    )


def insert_group(connection: sqlite3.Connection, group: ContactGroup, stamp: str) -> bool:
    """Create the group; False when its code name is taken."""
    cursor = connection.execute(
        "INSERT INTO contact_groups (code_name, display_name, description, match, conditions, "
        "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code_name) DO NOTHING",
        (
            group.code_name,
            group.display_name,
            group.description,
            group.match,
            conditions_json(group),
            stamp,
            stamp,
        ),
    )
    return cursor.rowcount > 0


def update_group(connection: sqlite3.Connection, group: ContactGroup, stamp: str) -> None:
    """Replace the stored definition of ``group.code_name``."""
    connection.execute(
        "UPDATE contact_groups SET display_name = ?, description = ?, match = ?, "
        "conditions = ?, updated = ? WHERE code_name = ?",
        (
            group.display_name,
            group.description,
            group.match,
            conditions_json(group),
            stamp,
            group.code_name,
        ),
    )


# -- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contacts:
    """Which contacts to evaluate: an SQL condition on ``contact_id`` and its parameters."""

    sql: str
    params: tuple[Any, ...]


EVERY_CONTACT = Contacts("1 = 1", ())


def by_guids(guids: Iterable[str]) -> Contacts:
    """The contacts with these GUIDs."""
    return Contacts(
        "contact_id IN (SELECT id FROM contacts WHERE guid IN (SELECT value FROM json_each(?)))",
        (json.dumps(sorted(guids)),),
    )


def by_rows(rows: Iterable[int]) -> Contacts:
    """The contacts with these row numbers."""
    return Contacts(
        "contact_id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(set(rows))),)
    )


def by_range(first: int, last: int) -> Contacts:
    """The contacts with row numbers from ``first`` to ``last``."""
    return Contacts("contact_id BETWEEN ? AND ?", (first, last))


def _qualifying(
    connection: sqlite3.Connection,
    condition: ActivityCondition,
    contacts: Contacts,
    now: datetime,
) -> dict[int, str | None]:
    """Contacts meeting ``condition`` at ``now``, each with when it stops meeting it."""
    where = ["type = ?", contacts.sql]
    params: list[Any] = [condition.activity_type, *contacts.params]
    window: timedelta | None = None
    if condition.in_last_days is not None:
        window = timedelta(days=condition.in_last_days)
        where.append("created > ?")
        params.append(format_time(now - window))
    if condition.value is not None:
        if condition.value_match == "equals":
            where.append("value = ?")
        else:
            where.append("instr(lower(value), lower(?)) > 0")
        params.append(condition.value)
    # The at_least-th newest matching activity: the contact qualifies while it is in the window.
    sql = (
        "SELECT contact_id, created FROM (SELECT contact_id, created, row_number() OVER "
        "(PARTITION BY contact_id ORDER BY created DESC, id DESC) AS n FROM activities WHERE "
        + " AND ".join(where)
        + ") WHERE n = ?"
    )
    params.append(condition.at_least)
    return {
        contact_id: None if window is None else format_time(parse_time(created) + window)
        for contact_id, created in connection.execute(sql, params)
    }


def _members(
    connection: sqlite3.Connection, group: ContactGroup, contacts: Contacts, now: datetime
) -> dict[int, str | None]:
    """Contacts in ``group`` at ``now``, each with the moment its membership ends (None: never)."""
    return members(group, [_qualifying(connection, c, contacts, now) for c in group.conditions])


def _store_members(
    connection: sqlite3.Connection,
    group_id: int,
    contacts: Contacts,
    members: dict[int, str | None],
    now: datetime,
) -> None:
    connection.execute(
        f"DELETE FROM contact_group_members WHERE group_id = ? AND {contacts.sql} "
        "AND contact_id NOT IN (SELECT value FROM json_each(?))",
        (group_id, *contacts.params, json.dumps(list(members))),
    )
    stamp = format_time(now)
    # `since` survives re-evaluation; it restarts only after the contact had left the group.
    connection.executemany(
        "INSERT INTO contact_group_members (group_id, contact_id, since, expires) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (group_id, contact_id) DO UPDATE SET "
        "since = CASE WHEN expires IS NOT NULL AND expires <= excluded.since "
        "THEN excluded.since ELSE since END, expires = excluded.expires",
        [(group_id, contact_id, stamp, ends) for contact_id, ends in members.items()],
    )


def evaluate(
    connection: sqlite3.Connection,
    groups: Iterable[tuple[int, ContactGroup]],
    contacts: Contacts,
    now: datetime,
) -> None:
    """Store the current memberships of ``contacts`` in ``groups``."""
    for group_id, group in groups:
        _store_members(
            connection, group_id, contacts, _members(connection, group, contacts, now), now
        )


def evaluate_rows(connection: sqlite3.Connection, rows: set[int], now: datetime) -> None:
    """Re-evaluate every group for the contacts with these row numbers."""
    if rows:
        groups = select_groups(connection)
        if groups:
            evaluate(connection, groups, by_rows(rows), now)


def recalculate_batch(
    connection: sqlite3.Connection, code_name: str, after: int, limit: int, now: datetime
) -> tuple[int, int]:
    """Recompute the group for the next ``limit`` contacts after row ``after``."""
    group = one_group(connection, code_name)
    count, last = connection.execute(
        "SELECT count(*), max(id) FROM (SELECT id FROM contacts WHERE id > ? ORDER BY id LIMIT ?)",
        (after, limit),
    ).fetchone()
    if count:
        evaluate(connection, [group], by_range(after + 1, last), now)
    return int(count), int(last or after)


# -- membership -------------------------------------------------------------------------------


def count_members(connection: sqlite3.Connection, code_name: str, now: str) -> int:
    """How many contacts are in the group at ``now``."""
    row = connection.execute(
        "SELECT count(*) FROM contact_group_members m JOIN contact_groups g ON g.id = m.group_id "
        "WHERE g.code_name = ? AND (m.expires IS NULL OR m.expires > ?)",
        (code_name, now),
    ).fetchone()
    return int(row[0])


def member_counts(connection: sqlite3.Connection, now: str) -> dict[str, int]:
    """How many contacts each group has at ``now``."""
    rows = connection.execute(
        "SELECT g.code_name, count(m.contact_id) FROM contact_groups g "
        "LEFT JOIN contact_group_members m ON m.group_id = g.id "
        "AND (m.expires IS NULL OR m.expires > ?) GROUP BY g.id",
        (now,),
    )
    return {code: int(count) for code, count in rows}


def groups_of_contact(connection: sqlite3.Connection, guid: str, now: str) -> frozenset[str]:
    """Code names of the groups the contact is in at ``now``."""
    rows = connection.execute(
        "SELECT g.code_name FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        "WHERE c.guid = ? AND (m.expires IS NULL OR m.expires > ?)",
        (guid, now),
    )
    return frozenset(row[0] for row in rows)


def group_members(
    connection: sqlite3.Connection, code_name: str, now: str, after: int, limit: int
) -> list[GroupMember]:
    """A page of the group's members at ``now``, by contact row."""
    rows = connection.execute(
        "SELECT c.id, c.guid, m.since FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        "WHERE g.code_name = ? AND (m.expires IS NULL OR m.expires > ?) AND c.id > ? "
        "ORDER BY c.id LIMIT ?",
        (code_name, now, after, limit),
    )
    return [GroupMember(row[0], uuid.UUID(row[1]), row[2]) for row in rows]
