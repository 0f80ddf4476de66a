"""SQL for contact groups: definitions, and memberships evaluated in the caller's transaction.

Evaluating any number of groups for any number of contacts costs two statements: one reads
what every condition of every group finds, one deletes the memberships that ended and stores
the current ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from ...activities import format_time
from ...groups import ActivityCondition, ContactGroup, UnknownContactGroupError
from ..memberships import conditions_json, group_from_row, members
from ..records import GroupMember
from .activities import BY_CODE_NAME
from .activity_log import Params

_GROUP_COLUMNS = "id, code_name, display_name, description, match, conditions"


async def select_groups(
    connection: Any, code_name: str | None = None
) -> list[tuple[int, ContactGroup]]:
    """(row, group) of every group, or of the one with ``code_name``, by code name."""
    sql = f"SELECT {_GROUP_COLUMNS} FROM contact_groups"
    params: tuple[str, ...] = ()
    if code_name is not None:
        sql += " WHERE lower(code_name) = lower($1)"
        params = (code_name,)
    rows = await connection.fetch(sql + f" ORDER BY {BY_CODE_NAME}", *params)
    return [(row[0], group_from_row(row)) for row in rows]


async def readable_groups(connection: Any) -> tuple[list[tuple[int, ContactGroup]], list[str]]:
    """Every group whose stored definition follows today's rules, and why the others do not
    (written by another version, say): one bad definition must not stop the others."""
    groups: list[tuple[int, ContactGroup]] = []
    problems: list[str] = []
    for row in await connection.fetch(f"SELECT {_GROUP_COLUMNS} FROM contact_groups ORDER BY id"):
        try:
            groups.append((row[0], group_from_row(row)))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"contact group {row[1]!r} cannot be read: {exc}")
    return groups, problems


async def one_group(connection: Any, code_name: str) -> tuple[int, ContactGroup]:
    """(row, group) with this code name; UnknownContactGroupError if there is none."""
    found = await select_groups(connection, code_name)
    if not found:
        raise UnknownContactGroupError(
            f"there is no contact group {code_name!r}; list them with `kxt groups list`"
        )
    return found[0]


async def canonical_types(connection: Any, group: ContactGroup) -> ContactGroup:
    """The group with each condition's type spelled as the type is; ValueError if one is
    missing (activities store the type's own spelling of its code name)."""
    wanted = [condition.activity_type for condition in group.conditions]
    rows = await connection.fetch(
        "SELECT w, t.code_name FROM unnest($1::text[]) AS w "
        "LEFT JOIN activity_types t ON lower(t.code_name) = lower(w)",
        wanted,
    )
    spelled = {row[0]: row[1] for row in rows}
    conditions = []
    for condition in group.conditions:
        found = spelled.get(condition.activity_type)
        if found is None:
            raise ValueError(
                f"contact group {group.code_name!r} refers to activity type "
                f"{condition.activity_type!r}, which does not exist; create the activity type "
                "first (admin, `kxt types add` or activity_types=)"
            )
        conditions.append(
            ActivityCondition(
                found,
                condition.at_least,
                condition.in_last_days,
                condition.value,
                condition.value_match,
            )
        )
    return ContactGroup(
        group.code_name, group.display_name, group.description, conditions, group.match
    )


async def insert_group(connection: Any, group: ContactGroup, now: datetime) -> int | None:
    """Create the group; its row, or None when its code name is taken."""
    row: int | None = await connection.fetchval(
        "INSERT INTO contact_groups (code_name, display_name, description, match, conditions, "
        "created, updated) VALUES ($1, $2, $3, $4, $5, $6, $6) "
        "ON CONFLICT ((lower(code_name))) DO NOTHING RETURNING id",
        group.code_name,
        group.display_name,
        group.description,
        group.match,
        conditions_json(group),
        now,
    )
    return row


async def update_group(connection: Any, group: ContactGroup, now: datetime) -> None:
    """Replace the stored definition of ``group.code_name``."""
    await connection.execute(
        "UPDATE contact_groups SET display_name = $1, description = $2, match = $3, "
        "conditions = $4, updated = $5 WHERE lower(code_name) = lower($6)",
        group.display_name,
        group.description,
        group.match,
        conditions_json(group),
        now,
        group.code_name,
    )


async def delete_group(connection: Any, code_name: str) -> None:
    """Delete a group and its memberships; UnknownContactGroupError if none."""
    await one_group(connection, code_name)
    await connection.execute(
        "DELETE FROM contact_groups WHERE lower(code_name) = lower($1)", code_name
    )


# -- evaluation -------------------------------------------------------------------------------


def _condition_sql(
    index: int, condition: ActivityCondition, contacts: list[int] | None, now: datetime,
    params: Params,
) -> str:  # fmt: skip
    """The contacts meeting ``condition`` at ``now``, with the time of the activity that makes
    them meet it (the at_least-th newest matching one)."""
    where = [f"type = {params.add(condition.activity_type)}"]
    if contacts is not None:
        where.append(f"contact_id = ANY({params.add(contacts)}::bigint[])")
    if condition.in_last_days is not None:
        where.append(f"created > {params.add(now - timedelta(days=condition.in_last_days))}")
    if condition.value is not None:
        value = params.add(condition.value)
        if condition.value_match == "equals":
            where.append(f"value = {value}")
        else:
            where.append(f"strpos(lower(value), lower({value})) > 0")
    return (
        f"SELECT {index} AS k, contact_id, created FROM (SELECT contact_id, created, "
        "row_number() OVER (PARTITION BY contact_id ORDER BY created DESC, id DESC) AS n "
        f"FROM activities WHERE {' AND '.join(where)}) AS q "
        f"WHERE n = {params.add(condition.at_least)}"
    )


async def _qualifying(
    connection: Any, groups: Sequence[ContactGroup], contacts: list[int] | None, now: datetime
) -> list[list[dict[int, datetime | None]]]:
    """For each group, for each condition: the contacts meeting it and when they stop to."""
    params = Params()
    parts: list[str] = []
    windows: list[timedelta | None] = []
    for group in groups:
        for condition in group.conditions:
            parts.append(_condition_sql(len(parts), condition, contacts, now, params))
            days = condition.in_last_days
            windows.append(None if days is None else timedelta(days=days))
    found: list[dict[int, datetime | None]] = [{} for _ in parts]
    for k, contact, created in await connection.fetch(" UNION ALL ".join(parts), *params.values):
        window = windows[k]
        found[k][contact] = None if window is None else created + window
    result: list[list[dict[int, datetime | None]]] = []
    at = 0
    for group in groups:
        result.append(found[at : at + len(group.conditions)])
        at += len(group.conditions)
    return result


async def evaluate(
    connection: Any,
    groups: Iterable[tuple[int, ContactGroup]],
    contacts: list[int] | None,
    now: datetime,
) -> None:
    """Store the current memberships of ``contacts`` (None: every contact) in ``groups``."""
    chosen = [(row, group) for row, group in groups if group.conditions]
    if not chosen or contacts == []:
        return
    qualifying = await _qualifying(connection, [g for _, g in chosen], contacts, now)
    keep_groups: list[int] = []
    keep_contacts: list[int] = []
    ends: list[datetime | None] = []
    for (row, group), results in zip(chosen, qualifying, strict=True):
        for contact, end in members(group, results).items():
            keep_groups.append(row)
            keep_contacts.append(contact)
            ends.append(end)
    params = Params()
    in_groups = f"m.group_id = ANY({params.add([row for row, _ in chosen])}::integer[])"
    if contacts is not None:
        in_groups += f" AND m.contact_id = ANY({params.add(contacts)}::bigint[])"
    keep = (
        f"unnest({params.add(keep_groups)}::integer[], {params.add(keep_contacts)}::bigint[], "
        f"{params.add(ends)}::timestamptz[]) AS k(g, c, e)"
    )
    # One statement: the memberships that ended go, the current ones are stored; `since`
    # survives re-evaluation and restarts only after the contact had left the group.
    await connection.execute(
        f"WITH gone AS (DELETE FROM contact_group_members m WHERE {in_groups} AND NOT EXISTS "
        f"(SELECT 1 FROM {keep} WHERE k.g = m.group_id AND k.c = m.contact_id)) "
        "INSERT INTO contact_group_members AS m (group_id, contact_id, since, expires) "
        f"SELECT g, c, {params.add(now)}, e FROM {keep} "
        "ON CONFLICT (group_id, contact_id) DO UPDATE SET "
        "since = CASE WHEN m.expires IS NOT NULL AND m.expires <= excluded.since "
        "THEN excluded.since ELSE m.since END, expires = excluded.expires",
        *params.values,
    )


async def evaluate_rows(connection: Any, rows: set[int], now: datetime) -> None:
    """Re-evaluate every group for the contacts with these row numbers."""
    if rows:
        groups = await select_groups(connection)
        if groups:
            await evaluate(connection, groups, sorted(rows), now)


async def recalculate_batch(
    connection: Any, code_name: str, after: int, limit: int, now: datetime
) -> tuple[int, int]:
    """Recompute the group for the next ``limit`` contacts after row ``after``."""
    group = await one_group(connection, code_name)
    rows = [
        row[0]
        for row in await connection.fetch(
            "SELECT id FROM contacts WHERE id > $1 ORDER BY id LIMIT $2", after, limit
        )
    ]
    if rows:
        await evaluate(connection, [group], rows, now)
    return len(rows), rows[-1] if rows else after


# -- membership -------------------------------------------------------------------------------

_CURRENT = "(m.expires IS NULL OR m.expires > $2)"


async def count_members(connection: Any, code_name: str, now: datetime) -> int:
    """How many contacts are in the group at ``now``."""
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM contact_group_members m JOIN contact_groups g "
            f"ON g.id = m.group_id WHERE lower(g.code_name) = lower($1) AND {_CURRENT}",
            code_name,
            now,
        )
    )


async def member_counts(connection: Any, now: datetime) -> dict[str, int]:
    """How many contacts each group has at ``now``."""
    rows = await connection.fetch(
        "SELECT g.code_name, count(m.contact_id) FROM contact_groups g "
        "LEFT JOIN contact_group_members m ON m.group_id = g.id "
        "AND (m.expires IS NULL OR m.expires > $1) GROUP BY g.id",
        now,
    )
    return {code: int(count) for code, count in rows}


async def groups_of_contact(connection: Any, guid: str, now: datetime) -> frozenset[str]:
    """Code names of the groups the contact is in at ``now``."""
    rows = await connection.fetch(
        "SELECT g.code_name FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        f"WHERE c.guid = $1 AND {_CURRENT}",
        guid,
        now,
    )
    return frozenset(row[0] for row in rows)


async def group_members(
    connection: Any, code_name: str, now: datetime, after: int, limit: int
) -> list[GroupMember]:
    """A page of the group's members at ``now``, by contact row."""
    rows = await connection.fetch(
        "SELECT c.id, c.guid, m.since FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        f"WHERE lower(g.code_name) = lower($1) AND {_CURRENT} AND c.id > $3 "
        "ORDER BY c.id LIMIT $4",
        code_name,
        now,
        after,
        limit,
    )
    return [GroupMember(row[0], row[1], format_time(row[2])) for row in rows]
