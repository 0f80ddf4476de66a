"""The writes that check before they change, each one plain function of the write connection
(the writer runs it in its transaction, in a savepoint). They live at module level so that a
writer in another process can be handed them by name."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ...activities import format_time
from ...activity_types import ActivityType
from ...groups import ContactGroup
from ..catalog import edited_type
from . import activities as sql
from . import groups as group_sql


def add_type(connection: sqlite3.Connection, activity_type: ActivityType, stamp: str) -> None:
    if not sql.insert_types(connection, [activity_type], stamp):
        raise ValueError(
            f"an activity type with code name {activity_type.code_name!r} already "
            "exists; choose another code name or edit the existing type"
        )


def update_type(
    connection: sqlite3.Connection,
    code_name: str,
    display_name: str | None,
    description: str | None,
    enabled: bool | None,
) -> ActivityType:
    current = sql.select_type(connection, code_name)
    updated = edited_type(
        current, code_name, display_name=display_name, description=description, enabled=enabled
    )
    sql.update_type(connection, updated)
    return updated


def add_group(connection: sqlite3.Connection, group: ContactGroup, stamp: str) -> ContactGroup:
    checked = group_sql.canonical_types(connection, group)
    if not group_sql.insert_group(connection, checked, stamp):
        raise ValueError(
            f"a contact group with code name {group.code_name!r} already exists; "
            "choose another code name or edit the existing group"
        )
    return checked


def update_group(connection: sqlite3.Connection, group: ContactGroup, stamp: str) -> ContactGroup:
    group_sql.one_group(connection, group.code_name)
    checked = group_sql.canonical_types(connection, group)
    group_sql.update_group(connection, checked, stamp)
    return checked


def delete_group(connection: sqlite3.Connection, code_name: str) -> None:
    group_sql.one_group(connection, code_name)
    connection.execute("DELETE FROM contact_groups WHERE code_name = ?", (code_name,))


def purge(connection: sqlite3.Connection, cutoff: datetime, limit: int, now: datetime) -> int:
    count, contacts = sql.purge_batch(connection, format_time(cutoff), limit)
    group_sql.evaluate_rows(connection, contacts, now)
    return count
